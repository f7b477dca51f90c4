//! The REPL's state: the program (the loaded file plus the items typed since),
//! the data sets read so far, and the model being stepped. [`Session::handle`]
//! takes one input and returns the text to print, so a session runs the same
//! with or without a terminal, and in tests.

use super::backward;
use super::command::{self, Breakpoint, Command, InputSource};
use super::cursor::{Cursor, Input, Label};
use crate::autodiff::Tensor;
use crate::check::Checked;
use crate::data::npy;
use crate::data::{Loaded, Targets};
use crate::diagnostic::{Diagnostic, render};
use crate::interp::{ParamStore, standard_normal};
use crate::ir::dim::Dim;

use crate::ir::Graph;
use crate::report::{format_count, render_graph};
use crate::source::ReadError;
use crate::syntax::ast::Item;
use ndarray::IxDyn;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What handling one input produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// Text to print (may be empty).
    pub text: String,
    /// Whether the user asked to leave.
    pub quit: bool,
}

/// The names tab completion offers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    /// Models and cells.
    pub models: Vec<String>,
    /// Data parts, as `DATA.PART`.
    pub parts: Vec<String>,
    /// The layer paths of the model in use.
    pub layers: Vec<String>,
    /// Its parameter names.
    pub params: Vec<String>,
}

/// A REPL session.
pub struct Session {
    color: bool,
    /// The file the program came from, if any.
    file: Option<PathBuf>,
    /// The program's text: the file's, then every item typed and accepted.
    source: String,
    /// The checked program.
    checked: Checked,
    /// Data sets read so far, by name.
    data: HashMap<String, Loaded>,
    /// The model being stepped.
    cursor: Option<Cursor>,
}

/// The keywords that start an item; other input is a statement.
const ITEMS: [&str; 4] = ["data", "model", "cell", "train"];

/// The name under which typed input appears in diagnostics.
const TYPED: &str = "<repl>";

impl Session {
    /// An empty session; `color` colours diagnostics.
    pub fn new(color: bool) -> Session {
        Session {
            color,
            file: None,
            source: String::new(),
            checked: crate::checked_source("")
                .0
                .expect("the empty program parses"),
            data: HashMap::new(),
            cursor: None,
        }
    }

    /// Reads and checks `path`, replacing the program. The error (the file
    /// cannot be read) leaves the session as it was, and so does a file that
    /// is not UTF-8 or does not parse.
    pub fn load(&mut self, path: &Path) -> Result<String, String> {
        let text = match crate::source::read(path) {
            Ok(text) => text,
            Err(ReadError::NotUtf8 { text, diagnostic }) => {
                let mut out = render(
                    &path.display().to_string(),
                    &text,
                    &[*diagnostic],
                    self.color,
                );
                out.push_str(
                    "nothing loaded (the session is as it was): save the file as UTF-8 and `:load` again\n",
                );
                return Ok(out);
            }
            Err(ReadError::Io(e)) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let (checked, diagnostics) = crate::checked_source(&text);
        let mut out = render(&path.display().to_string(), &text, &diagnostics, self.color);
        let Some(checked) = checked else {
            out.push_str(
                "nothing loaded (the session is as it was): fix the syntax and `:load` again\n",
            );
            return Ok(out);
        };
        *self = Session::new(self.color);
        self.file = Some(path.to_path_buf());
        self.source = text;
        self.checked = checked;
        out.push_str(&format!("loaded {}: {}\n", path.display(), self.contents()));
        let first = self
            .checked
            .program
            .trains
            .first()
            .map(|t| t.model.clone())
            .or_else(|| match self.runnable_models().as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            });
        if let Some(model) = first {
            out.push_str(
                &self
                    .use_model(&model)
                    .unwrap_or_else(|e| format!("error: {e}\n")),
            );
        }
        Ok(out)
    }

    /// `name` itself, or a definition its text names, when that definition's
    /// source has an error: such a model would run only in part.
    fn broken_definition(&self, name: &str) -> Option<String> {
        let (_, diagnostics) = crate::check_source(&self.source);
        let errors: Vec<usize> = diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.span().start as usize)
            .collect();
        if errors.is_empty() {
            return None;
        }
        let (parsed, _) = crate::syntax::parse(&self.source);
        let definitions: Vec<(String, crate::span::Span)> = parsed?
            .items
            .iter()
            .filter_map(|item| match item {
                Item::Model(m) => Some((m.name.name.clone(), m.span)),
                Item::Cell(c) => Some((c.name.name.clone(), c.span)),
                _ => None,
            })
            .collect();
        let broken = |span: crate::span::Span| {
            errors
                .iter()
                .any(|&e| (span.start as usize..span.end as usize).contains(&e))
        };
        let (_, own) = definitions.iter().find(|(n, _)| n == name)?;
        if broken(*own) {
            return Some(name.to_string());
        }
        let text = self.source.get(own.range()).unwrap_or("");
        definitions
            .iter()
            .filter(|(n, span)| n != name && broken(*span))
            .find(|(n, _)| {
                text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .any(|word| word == n)
            })
            .map(|(n, _)| n.clone())
    }

    fn runnable_models(&self) -> Vec<String> {
        self.checked
            .program
            .models
            .iter()
            .filter(|m| !m.is_cell)
            .map(|m| m.name.clone())
            .collect()
    }

    fn contents(&self) -> String {
        let list = |names: Vec<String>| {
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        };
        format!(
            "models {}; data {}",
            list(
                self.checked
                    .program
                    .models
                    .iter()
                    .map(|m| m.name.clone())
                    .collect()
            ),
            list(
                self.checked
                    .program
                    .data
                    .iter()
                    .map(|d| d.name.clone())
                    .collect()
            )
        )
    }

    /// Handles one input: a `:` command, or `.dl` source to add to the program.
    pub fn handle(&mut self, input: &str) -> Reply {
        let trimmed = input.trim();
        let reply = |text: String| Reply { text, quit: false };
        if trimmed.is_empty() {
            return reply(String::new());
        }
        if !trimmed.starts_with(':') {
            return reply(self.define(input));
        }
        let text = match command::parse(trimmed) {
            Ok(Command::Quit) => {
                return Reply {
                    text: String::new(),
                    quit: true,
                };
            }
            Ok(c) => self.execute(c),
            Err(e) => Err(e),
        };
        reply(match text {
            Ok(text) => text,
            // A rendered diagnostic names its own severity and code.
            Err(e) if e.starts_with("error[") => e,
            Err(e) => format!("error: {}\n", e.trim_end()),
        })
    }

    fn execute(&mut self, command: Command) -> Result<String, String> {
        match command {
            Command::Help(topic) => command::help(topic.as_deref()),
            Command::Load(file) => self.load(Path::new(&file)),
            Command::Models => Ok(self.models()),
            Command::Use(name) => self.use_model(&name),
            Command::Summary => {
                let c = self.cursor()?;
                Ok(render_graph("model", &c.name, &c.graph, false))
            }
            Command::Input(source) => self.input(source),
            Command::Weights(file) => self.weights(&file),
            Command::Step(n) => self.cursor_mut()?.step(n),
            Command::Run => self.cursor_mut()?.run(),
            Command::Back => self.cursor_mut()?.back(),
            Command::Reset => Ok(self.cursor_mut()?.reset()),
            Command::Where => Ok(self.cursor()?.where_()),
            Command::Show(name) => self.cursor()?.show(name.as_deref()),
            Command::Params(layer) => self.cursor()?.params(layer.as_deref()),
            Command::Break(None) => Ok(self.cursor()?.breakpoints()),
            Command::Break(Some(Breakpoint::Layer(name))) => self.cursor_mut()?.break_at(&name),
            Command::Break(Some(Breakpoint::Nan)) => Ok(self.cursor_mut()?.break_nan()),
            Command::Break(Some(Breakpoint::Off)) => Ok(self.cursor_mut()?.break_off()),
            Command::Backward => backward::backward(self.cursor()?),
            Command::Quit => Ok(String::new()),
        }
    }

    fn cursor(&self) -> Result<&Cursor, String> {
        self.cursor.as_ref().ok_or_else(|| self.no_model())
    }

    fn cursor_mut(&mut self) -> Result<&mut Cursor, String> {
        let message = self.no_model();
        self.cursor.as_mut().ok_or(message)
    }

    fn no_model(&self) -> String {
        if self.runnable_models().is_empty() {
            "no model yet: `:load FILE`, or type a model definition".to_string()
        } else {
            format!(
                "no model in use: `:use MODEL` with one of {}",
                self.runnable_models().join(", ")
            )
        }
    }

    /// The model in use, if any.
    pub fn current(&self) -> Option<&Cursor> {
        self.cursor.as_ref()
    }

    /// Checks typed source as the continuation of the program. Accepted when
    /// it has no errors; an item named like an earlier one replaces it.
    fn define(&mut self, typed: &str) -> String {
        let first = typed.split_whitespace().next().unwrap_or("");
        if !ITEMS.contains(&first)
            && let Some(out) = self.extend_model(typed)
        {
            return out;
        }
        let kept = self.without_redefined(typed);
        let offset = kept.len() + 1;
        let candidate = format!("{kept}\n{}", typed.trim_end());
        let (checked, diagnostics) = crate::checked_source(&candidate);
        // Problems in earlier text were reported when it was entered.
        let new: Vec<Diagnostic> = diagnostics
            .into_iter()
            .filter(|d| d.span().start as usize >= offset)
            .collect();
        let shown: Vec<Diagnostic> = new.iter().map(|d| relative_to(d, offset)).collect();
        let mut out = render(TYPED, &candidate[offset..], &shown, self.color);
        let Some(checked) = checked.filter(|_| !new.iter().any(Diagnostic::is_error)) else {
            out.push_str("not added to the program\n");
            if !ITEMS.contains(&first) {
                out.push_str(
                    "(a statement such as `dense(10) relu` goes at the end of the model in use: \
                     define a model, or `:use` one, first)\n",
                );
            }
            return out;
        };
        self.source = candidate;
        self.checked = checked;
        let (ast, _) = crate::syntax::parse(typed);
        for item in ast.map(|a| a.items).unwrap_or_default() {
            match item {
                Item::Model(m) => {
                    out.push_str(&format!("defined model {}\n", m.name.name));
                    let in_use = self.cursor.as_ref().map(|c| c.name.clone());
                    if in_use.is_none() || in_use.as_deref() == Some(m.name.name.as_str()) {
                        out.push_str(
                            &self
                                .use_model(&m.name.name)
                                .unwrap_or_else(|e| format!("{e}\n")),
                        );
                    }
                }
                Item::Cell(c) => out.push_str(&format!("defined cell {}\n", c.name.name)),
                Item::Data(d) => {
                    self.data.remove(&d.name.name);
                    out.push_str(&format!("defined data {}\n", d.name.name));
                }
                Item::Train(t) => out.push_str(&format!(
                    "added train {} on {}\n",
                    t.model.name, t.data.name
                )),
            }
        }
        out
    }

    /// Adds body statements to the end of the model in use, when its
    /// definition is in the program: `None` when there is no such model.
    /// The model is instantiated again, keeping its input and position: its
    /// earlier layers get the same initial values (they are drawn first), so
    /// they compute what they did.
    fn extend_model(&mut self, typed: &str) -> Option<String> {
        let cursor = self.cursor.as_ref()?;
        let (ast, _) = crate::syntax::parse(&self.source);
        let span = ast?.items.iter().find_map(|item| match item {
            Item::Model(m) if m.name.name == cursor.name => Some(m.span),
            _ => None,
        })?;
        let brace = span.end as usize - 1;
        if self.source.as_bytes().get(brace) != Some(&b'}') {
            return None;
        }
        let name = cursor.name.clone();
        let input = cursor.input.clone();
        let position = cursor.outputs().len();
        let previous = self.cursor.take();
        let candidate = format!(
            "{}\n    {}\n{}",
            &self.source[..brace],
            typed.trim(),
            &self.source[brace..]
        );
        let (_, before) = crate::check_source(&self.source);
        let (checked, diagnostics) = crate::checked_source(&candidate);
        // Errors the program had already are not the statement's doing.
        let known = |d: &Diagnostic| {
            before
                .iter()
                .any(|b| b.code == d.code && b.message == d.message)
        };
        let new: Vec<Diagnostic> = diagnostics.into_iter().filter(|d| !known(d)).collect();
        let mut out = render("<program>", &candidate, &new, self.color);
        let Some(checked) = checked.filter(|_| !new.iter().any(Diagnostic::is_error)) else {
            self.cursor = previous;
            out.push_str(&format!("not added to model {name}\n"));
            return Some(out);
        };
        self.source = candidate;
        self.checked = checked;
        if let Err(e) = self.use_model(&name) {
            out.push_str(&format!("error: {e}\n"));
            return Some(out);
        }
        let cursor = self.cursor.as_mut()?;
        if let Some(previous) = &previous {
            cursor.keep_from(previous);
        }
        if let Some(input) = input
            && input.tensor.shape()[1..] == cursor.input_dims()[..]
        {
            cursor.set_input(input);
            cursor.run_to(position);
        }
        out.push_str(&format!(
            "added to model {name}: {} ({} parameters)\n",
            typed.trim(),
            format_count(&Dim::known(cursor.store.count() as i64))
        ));
        Some(out)
    }

    /// The program's text without the items that `typed` defines again.
    fn without_redefined(&self, typed: &str) -> String {
        let (Some(new), Some(old)) = (
            crate::syntax::parse(typed).0,
            crate::syntax::parse(&self.source).0,
        ) else {
            return self.source.clone();
        };
        let names: Vec<String> = new
            .items
            .iter()
            .filter_map(item_name)
            .map(|n| n.0)
            .collect();
        let mut kept = self.source.clone();
        let mut spans: Vec<_> = old
            .items
            .iter()
            .filter_map(item_name)
            .filter(|(n, _)| names.contains(n))
            .map(|(_, s)| s)
            .collect();
        spans.sort_by_key(|s| std::cmp::Reverse(s.start));
        for span in spans {
            kept.replace_range(span.start as usize..span.end as usize, "");
        }
        kept
    }

    fn models(&self) -> String {
        if self.checked.program.models.is_empty() {
            return "no models\n".to_string();
        }
        let in_use = self.cursor.as_ref().map(|c| c.name.as_str());
        let mut out = String::new();
        for m in &self.checked.program.models {
            let mark = if Some(m.name.as_str()) == in_use {
                "*"
            } else {
                " "
            };
            let kind = if m.is_cell { "cell" } else { "model" };
            let input = m
                .graph
                .nodes
                .first()
                .map(|n| n.shape.to_string())
                .unwrap_or_default();
            out.push_str(&format!(
                "{mark} {kind} {} (input {input}, {} parameters)\n",
                m.name,
                format_count(&m.graph.param_count())
            ));
        }
        out
    }

    /// `:use MODEL`: a fresh instance with parameters from the seed of the
    /// first train block that uses it (0 without one). A model whose input
    /// has dimension variables is instantiated for that block's data.
    fn use_model(&mut self, name: &str) -> Result<String, String> {
        let summary = self
            .checked
            .program
            .models
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| {
                let names = self.checked.program.models.iter().map(|m| m.name.as_str());
                let close = crate::check::suggest(name, names)
                    .map(|n| format!("; did you mean `{n}`?"))
                    .unwrap_or_default();
                format!("no model `{name}`{close}")
            })?;
        if summary.is_cell {
            return Err(format!(
                "`{name}` is a cell: it runs inside a model, so `:use` a model that uses it"
            ));
        }
        if let Some(broken) = self.broken_definition(name) {
            return Err(if broken == name {
                format!(
                    "model `{name}` has errors (shown when it was read): type the corrected \
                     definition, or fix the file and `:load` it again"
                )
            } else {
                format!(
                    "model `{name}` uses `{broken}`, which has errors (shown when it was read): \
                     type the corrected definition, or fix the file and `:load` it again"
                )
            });
        }
        let train = self
            .checked
            .program
            .trains
            .iter()
            .position(|t| t.model == name);
        let input = summary.graph.nodes.first().map(|n| n.shape.to_string());
        let input_known = summary
            .graph
            .nodes
            .first()
            .is_some_and(|n| n.shape.known_dims().is_some());
        let graph = if runnable(&summary.graph) {
            summary.graph.clone()
        } else if let Some(index) = train {
            self.bound_graph(index)?
        } else if !input_known {
            return Err(format!(
                "`{name}` has input {} and no train block binds its sizes; add a train block, \
                 or give the sizes in the model's input",
                input.unwrap_or_default()
            ));
        } else {
            return Err(format!(
                "`{name}` cannot run: some of its shapes are unknown (an error in it, or an \
                 option without a default)"
            ));
        };
        if !runnable(&graph) {
            return Err(format!(
                "`{name}` cannot run on its train block's data: some of its shapes are unknown"
            ));
        }
        let seed = train.map_or(0, |i| self.checked.program.trains[i].seed);
        let loss = train.map(|i| self.checked.program.trains[i].loss);
        // One sample through the model, and `:backward`'s gradients (every
        // size is known: `runnable` above).
        let inspection = crate::train::memory::Workload::Inspection { rows: 1 };
        if let Some(needs) = crate::train::memory::estimate(&graph, inspection)
            && let Some(available) = crate::train::memory::exceeds(&needs)
        {
            use crate::train::memory::bytes;
            return Err(format!(
                "`{name}` needs about {} of memory ({} for its parameters and as much for \
                 their gradients), more than the {} this machine has available; use fewer units",
                bytes(needs.total()),
                bytes(needs.parameters),
                bytes(available)
            ));
        }
        let store = ParamStore::init(&graph, seed);
        let text = format!(
            "using model {name}: input {}, {} parameters (seed {seed})\n",
            graph
                .nodes
                .first()
                .map(|n| n.shape.to_string())
                .unwrap_or_default(),
            format_count(&Dim::known(store.count() as i64)),
        );
        self.cursor = Some(Cursor::new(name.to_string(), graph, store, loss));
        Ok(text)
    }

    /// The model of train block `index` instantiated for its data's shapes.
    fn bound_graph(&mut self, index: usize) -> Result<Graph, String> {
        let data = self.checked.program.trains[index].data.clone();
        let loaded = self.load_data(&data)?;
        let shape = crate::run::shape_of(loaded);
        self.checked
            .bind_run(index, shape)
            .0
            .and_then(|run| run.graph)
            .ok_or_else(|| "the model could not be instantiated for its data".to_string())
    }

    /// The data set `name`, read (relative to the program's folder) the first
    /// time it is needed.
    fn load_data(&mut self, name: &str) -> Result<&Loaded, String> {
        if !self.data.contains_key(name) {
            let set = self
                .checked
                .program
                .data
                .iter()
                .find(|d| d.name == name)
                .ok_or_else(|| {
                    let names: Vec<&str> = self
                        .checked
                        .program
                        .data
                        .iter()
                        .map(|d| d.name.as_str())
                        .collect();
                    if names.is_empty() {
                        format!("no data set `{name}`: the program declares none")
                    } else {
                        format!("no data set `{name}` (data: {})", names.join(", "))
                    }
                })?;
            let base = self
                .file
                .as_ref()
                .and_then(|f| f.parent())
                .map(Path::to_path_buf)
                .unwrap_or_default();
            // The same diagnostic, in the same words, as `dl train` gives.
            let loaded = crate::data::load(set, &base).map_err(|e| {
                let file = self
                    .file
                    .as_ref()
                    .map_or_else(|| "<program>".to_string(), |f| f.display().to_string());
                render(
                    &file,
                    &self.source,
                    &[crate::run::data_error(set, &e)],
                    self.color,
                )
            })?;
            self.data.insert(name.to_string(), loaded);
        }
        Ok(&self.data[name])
    }

    fn input(&mut self, source: InputSource) -> Result<String, String> {
        let dims = self.cursor()?.input_dims();
        let mut shape = vec![1];
        shape.extend(&dims);
        let input = match source {
            InputSource::Random(seed) => {
                let mut rng = crate::seed::generator(seed);
                let count: usize = dims.iter().product();
                let values = (0..count).map(|_| standard_normal(&mut rng)).collect();
                Input {
                    tensor: Tensor::from_shape_vec(IxDyn(&shape), values).expect("sized"),
                    label: None,
                    origin: format!("random (seed {seed})"),
                }
            }
            InputSource::Npy(file) => {
                let bytes = std::fs::read(&file).map_err(|e| format!("cannot read {file}: {e}"))?;
                let t = npy::parse(&bytes).map_err(|e| format!("{file}: {e}"))?;
                if t.shape() != dims.as_slice() && t.shape() != shape.as_slice() {
                    return Err(format!(
                        "{file} holds shape {:?}; the model takes {:?} (or {:?})",
                        t.shape(),
                        dims,
                        shape
                    ));
                }
                Input {
                    tensor: t.into_shape_with_order(IxDyn(&shape)).expect("sized"),
                    label: None,
                    origin: file,
                }
            }
            InputSource::Data { data, part, index } => {
                let loaded = self.load_data(&data)?;
                let rows = loaded
                    .part(&part)
                    .ok_or_else(|| format!("data set `{data}` has no `{part}` part"))?;
                if index >= rows.rows() {
                    return Err(format!(
                        "{data}.{part} has {} samples (0 to {})",
                        rows.rows(),
                        rows.rows().saturating_sub(1)
                    ));
                }
                if loaded.sample_shape != dims {
                    return Err(format!(
                        "{data} has samples of shape {:?}; the model takes {:?}",
                        loaded.sample_shape, dims
                    ));
                }
                let sample = rows.select(&[index]);
                let label = match &sample.y {
                    Targets::Classes(ids) => Label::Class(ids[0]),
                    Targets::Values(v) => Label::Values(v.row(0).to_vec()),
                    Targets::Sequences(ids) => Label::Sequence(ids.row(0).to_vec()),
                };
                Input {
                    tensor: loaded.input(&sample),
                    label: Some(label),
                    origin: format!("{data}.{part} sample {index}"),
                }
            }
        };
        Ok(self.cursor_mut()?.set_input(input))
    }

    fn weights(&mut self, file: &str) -> Result<String, String> {
        let cursor = self.cursor_mut()?;
        let mut store = cursor.store.clone();
        crate::train::checkpoint::load(&mut store, Path::new(file))
            .map_err(|e| format!("cannot use the weights: {e}"))?;
        let count = store.order.len();
        cursor.set_store(store);
        Ok(format!(
            "loaded {count} tensors from {file}; back at the start\n"
        ))
    }

    /// The names tab completion offers now.
    pub fn names(&self) -> Names {
        let mut names = Names {
            models: self
                .checked
                .program
                .models
                .iter()
                .map(|m| m.name.clone())
                .collect(),
            ..Names::default()
        };
        for d in &self.checked.program.data {
            for part in ["train", "val", "test"] {
                names.parts.push(format!("{}.{part}", d.name));
            }
        }
        if let Some(c) = &self.cursor {
            names.layers = c.graph.nodes.iter().map(|n| n.path.clone()).collect();
            names.params = c.store.order.iter().map(|(n, _)| n.clone()).collect();
        }
        names
    }
}

/// `diagnostic` with its spans counted from `offset`, where the typed text
/// starts; labels on earlier text are left out.
fn relative_to(diagnostic: &Diagnostic, offset: usize) -> Diagnostic {
    let mut d = diagnostic.clone();
    d.labels.retain(|l| l.span.start as usize >= offset);
    for label in &mut d.labels {
        label.span = crate::span::Span::new(
            label.span.start as usize - offset,
            label.span.end as usize - offset,
        );
    }
    d
}

/// The name an item defines, with the item's span.
fn item_name(item: &Item) -> Option<(String, crate::span::Span)> {
    match item {
        Item::Model(m) => Some((m.name.name.clone(), m.span)),
        Item::Cell(c) => Some((c.name.name.clone(), c.span)),
        Item::Data(d) => Some((d.name.name.clone(), d.span)),
        Item::Train(_) => None,
    }
}

/// Whether every shape in `graph` is known, so it can run.
fn runnable(graph: &Graph) -> bool {
    graph.nodes.iter().all(|n| n.shape.known_dims().is_some())
        && graph
            .params()
            .iter()
            .all(|p| p.shape.known_dims().is_some())
}
