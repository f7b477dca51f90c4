//! The model being stepped: its graph, parameters and input, how far the
//! forward pass has gone, and the commands that move through it or look at
//! its values. Every method returns the text to print.

use super::render::{self, Stats};
use crate::autodiff::{Tape, Tensor};
use crate::interp::{Mode, ParamStore, RunError, Stepper};
use crate::ir::{Activation, Graph, Layer, Loss, NodeId, Op};

/// What the input's target is, when it comes from a data set.
#[derive(Clone, Debug, PartialEq)]
pub enum Label {
    /// A class id.
    Class(u32),
    /// Regression targets.
    Values(Vec<f32>),
    /// A class id per position (the next characters of a `text` sample).
    Sequence(Vec<u32>),
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Label::Class(c) => write!(f, "class {c}"),
            Label::Sequence(ids) => {
                let shown: Vec<String> = ids.iter().take(8).map(u32::to_string).collect();
                let more = if ids.len() > 8 { ", ..." } else { "" };
                write!(
                    f,
                    "classes [{}{more}] at {} positions",
                    shown.join(", "),
                    ids.len()
                )
            }
            Label::Values(v) => {
                let parts: Vec<String> = v.iter().map(|&x| render::number(x as f64)).collect();
                write!(f, "{}", parts.join(", "))
            }
        }
    }
}

/// The model's input: one sample, batch first.
#[derive(Clone, Debug)]
pub struct Input {
    /// `[1] + sample shape`.
    pub tensor: Tensor,
    /// Its target, if known.
    pub label: Option<Label>,
    /// Where it came from, for messages.
    pub origin: String,
}

/// A model instance being stepped through.
pub struct Cursor {
    /// The model's name.
    pub name: String,
    /// The graph, with every shape known.
    pub graph: Graph,
    /// Parameters and state.
    pub store: ParamStore,
    /// The loss of the train block that uses the model, if one does.
    pub loss: Option<Loss>,
    /// The input, once set.
    pub input: Option<Input>,
    /// The output of every node run so far, in order: its length is the position.
    outputs: Vec<Tensor>,
    /// Layers after which `:run` stops.
    breaks: Vec<NodeId>,
    /// Whether `:run` stops at the first non-finite output.
    break_nan: bool,
}

/// The message for commands that need an input.
pub const NO_INPUT: &str =
    "there is no input yet: use `:input random`, `:input DATA.PART K` or `:input FILE.npy`";

impl Cursor {
    /// Starts at the beginning of `graph`, without input.
    pub fn new(name: String, graph: Graph, store: ParamStore, loss: Option<Loss>) -> Cursor {
        Cursor {
            name,
            graph,
            store,
            loss,
            input: None,
            outputs: Vec::new(),
            breaks: Vec::new(),
            break_nan: false,
        }
    }

    /// The per-sample input shape.
    pub fn input_dims(&self) -> Vec<usize> {
        self.graph
            .nodes
            .iter()
            .find(|n| matches!(n.op, Op::Input))
            .and_then(|n| n.shape.known_dims())
            .unwrap_or_default()
    }

    /// Sets the input and goes back to the start.
    pub fn set_input(&mut self, input: Input) -> String {
        let text = format!(
            "input {}: {}{}\n",
            input.origin,
            render::shape(input.tensor.shape()),
            input
                .label
                .as_ref()
                .map(|l| format!(", label {l}"))
                .unwrap_or_default()
        );
        self.input = Some(input);
        self.outputs.clear();
        text
    }

    /// Replaces the parameters and goes back to the start.
    pub fn set_store(&mut self, store: ParamStore) {
        self.store = store;
        self.outputs.clear();
    }

    /// Takes over what the user set on `old`, a cursor on an earlier version
    /// of the same model: the values of the tensors that kept their name and
    /// shape (loaded weights survive an added layer), and the breakpoints on
    /// layers that still exist. Goes back to the start.
    pub fn keep_from(&mut self, old: &Cursor) {
        for (name, value) in &old.store.values {
            if let Some(slot) = self.store.values.get_mut(name)
                && slot.shape() == value.shape()
            {
                slot.assign(value);
            }
        }
        self.breaks = old
            .breaks
            .iter()
            .copied()
            .filter(|&id| id < self.graph.nodes.len())
            .collect();
        self.break_nan = old.break_nan;
        self.outputs.clear();
    }

    /// The output of every node run so far, in order.
    pub fn outputs(&self) -> &[Tensor] {
        &self.outputs
    }

    /// Whether node `id` is a layer (every node but the constants, which run
    /// silently).
    pub fn is_layer(&self, id: NodeId) -> bool {
        !matches!(self.graph.nodes[id].op, Op::Constant(_))
    }

    /// The next layer to run, if any.
    fn next_layer(&self) -> Option<NodeId> {
        (self.outputs.len()..self.graph.nodes.len()).find(|&id| self.is_layer(id))
    }

    /// The latest layer that ran, if any.
    fn last_layer(&self) -> Option<NodeId> {
        (0..self.outputs.len()).rev().find(|&id| self.is_layer(id))
    }

    /// Runs the nodes from the current position on, one at a time, until
    /// `stop_after` holds for a layer just run or the graph ends. The nodes
    /// already run are replayed first on a fresh inference tape: evaluation
    /// mode is deterministic, so they give the same values again.
    fn advance(
        &mut self,
        mut stop_after: impl FnMut(&Cursor, NodeId, &Tensor) -> bool,
    ) -> Result<(Vec<NodeId>, Option<RunError>), String> {
        let input = self.input.as_ref().ok_or(NO_INPUT)?.tensor.clone();
        let mut tape = Tape::inference();
        let mut stepper = Stepper::new(&self.graph, &self.store, input, &mut tape, Mode::Eval, 0);
        stepper.allow_non_finite();
        for _ in 0..self.outputs.len() {
            if let Err(e) = stepper.step(&mut tape) {
                return Ok((Vec::new(), Some(e)));
            }
        }
        let mut ran = Vec::new();
        while !stepper.done() {
            let report = match stepper.step(&mut tape) {
                Ok(report) => report,
                Err(e) => return Ok((ran, Some(e))),
            };
            let value = tape.value(report.var).clone();
            if self.is_layer(report.node) {
                ran.push(report.node);
                if stop_after(self, report.node, &value) {
                    self.outputs.push(value);
                    break;
                }
            }
            self.outputs.push(value);
        }
        Ok((ran, None))
    }

    /// Runs, printing nothing, until `position` nodes have run (or the
    /// graph ends); without an input, stays at the start.
    pub fn run_to(&mut self, position: usize) {
        if position > self.outputs.len() && self.input.is_some() {
            // Only a missing input makes `advance` fail, and there is one.
            let _ = self.advance(|_, id, _| id + 1 >= position);
        }
    }

    /// One line per layer: index, path, op, input and output shapes, statistics.
    pub fn step_line(&self, id: NodeId) -> String {
        let node = &self.graph.nodes[id];
        let inputs: Vec<String> = node
            .inputs
            .iter()
            .filter(|&&i| self.is_layer(i))
            .map(|&i| render::shape(self.outputs[i].shape()))
            .collect();
        let value = &self.outputs[id];
        let arrow = if inputs.is_empty() {
            String::new()
        } else {
            format!("{} -> ", inputs.join(" "))
        };
        format!(
            "#{id} {}  {}  {arrow}{}\n    {}\n",
            node.path,
            node.label,
            render::shape(value.shape()),
            Stats::of(value)
        )
    }

    /// `:step n`
    pub fn step(&mut self, n: usize) -> Result<String, String> {
        if self.next_layer().is_none() {
            return Err(self.at_end());
        }
        let mut count = 0;
        let (ran, error) = self.advance(|_, _, _| {
            count += 1;
            count >= n
        })?;
        let mut out: String = ran.iter().map(|&id| self.step_line(id)).collect();
        if let Some(e) = error {
            out.push_str(&run_error(&e));
        } else if self.next_layer().is_none() {
            out.push_str("(end of the forward pass)\n");
        }
        Ok(out)
    }

    fn at_end(&self) -> String {
        "the forward pass is complete: `:back` or `:reset` to go back, `:run` to see the output"
            .to_string()
    }

    /// `:run`: on to the end or to a breakpoint.
    pub fn run(&mut self) -> Result<String, String> {
        let (ran, error) = self.advance(|cursor, id, value| {
            cursor.breaks.contains(&id) || (cursor.break_nan && Stats::of(value).non_finite())
        })?;
        if let Some(e) = error {
            return Ok(run_error(&e));
        }
        let Some(&last) = ran.last() else {
            return Ok(self.result());
        };
        let non_finite = self
            .outputs
            .get(last)
            .is_some_and(|v| Stats::of(v).non_finite());
        let why = if self.breaks.contains(&last) {
            "breakpoint"
        } else if self.break_nan && non_finite {
            "breakpoint nan: a value is NaN or infinite"
        } else {
            return Ok(self.result());
        };
        let stopped = format!(
            "stopped after #{last} {} ({why})\n{}",
            self.graph.nodes[last].path,
            self.step_line(last)
        );
        if self.next_layer().is_some() {
            Ok(stopped)
        } else {
            // The breakpoint is on the last layer: say so, then show the output.
            Ok(format!("{stopped}{}", self.result()))
        }
    }

    /// The graph's output, as a prediction when the model classifies.
    fn result(&self) -> String {
        let id = self.graph.output;
        let node = &self.graph.nodes[id];
        let Some(value) = self.outputs.get(id) else {
            return format!("the output #{id} {} has not run\n", node.path);
        };
        let label = self.input.as_ref().and_then(|i| i.label.as_ref());
        let mut out = format!(
            "output #{id} {}: {}\n",
            node.path,
            render::shape(value.shape())
        );
        let width = value.len();
        let softmax_out = matches!(node.op, Op::Layer(Layer::Softmax { .. }));
        let classifier = width > 1
            && value.ndim() == 2
            && (softmax_out
                || self.loss == Some(Loss::CrossEntropy)
                || matches!(label, Some(Label::Class(_))));
        if classifier {
            let values: Vec<f32> = value.iter().copied().collect();
            let probabilities = if softmax_out {
                values
            } else {
                out.push_str("  (probabilities are the softmax of the output)\n");
                softmax(&values)
            };
            let mut ranked: Vec<(usize, f32)> = probabilities.into_iter().enumerate().collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            for (class, p) in ranked.iter().take(3) {
                out.push_str(&format!("  class {class}: {p:.4}\n"));
            }
            if let Some(Label::Class(c)) = label {
                let verdict = if ranked[0].0 == *c as usize {
                    "correct"
                } else {
                    "wrong"
                };
                out.push_str(&format!(
                    "label: class {c} (predicted class {}, {verdict})\n",
                    ranked[0].0
                ));
            }
        } else {
            if width == 1 && matches!(node.op, Op::Layer(Layer::Activation(Activation::Sigmoid))) {
                out.push_str("  (the probability of class 1)\n");
            }
            out.push_str(&render::values(value));
            if let Some(label) = label {
                out.push_str(&format!("label: {label}\n"));
            }
        }
        out
    }

    /// `:back`
    pub fn back(&mut self) -> Result<String, String> {
        let last = self.last_layer().ok_or("already at the start")?;
        self.outputs.truncate(last);
        Ok(match self.last_layer() {
            Some(previous) => format!(
                "back before #{last} {}; the latest output is #{previous} {}\n",
                self.graph.nodes[last].path, self.graph.nodes[previous].path
            ),
            None => format!(
                "back at the start; the next layer is #{last} {}\n",
                self.graph.nodes[last].path
            ),
        })
    }

    /// `:reset`
    pub fn reset(&mut self) -> String {
        self.outputs.clear();
        "back at the start\n".to_string()
    }

    /// `:where`: the layer table with the layers that have run marked `*`
    /// and the next one marked `->`.
    pub fn where_(&self) -> String {
        let next = self.next_layer();
        let rows = crate::report::rows(&self.graph, true);
        let id_of = |path: &str| self.graph.nodes.iter().position(|n| n.path == path);
        let cells: Vec<[String; 5]> = rows
            .iter()
            .map(|row| {
                let id = id_of(&row.path);
                let mark = match id {
                    Some(i) if Some(i) == next => "->",
                    Some(i) if i < self.outputs.len() => " *",
                    _ => "",
                };
                [
                    mark.to_string(),
                    id.map(|i| format!("#{i}")).unwrap_or_default(),
                    format!("{}{}", "  ".repeat(row.depth), row.path),
                    row.op.clone(),
                    row.shape.clone(),
                ]
            })
            .collect();
        let width = |k: usize| {
            cells
                .iter()
                .map(|c| c[k].chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths = [2, width(1), width(2), width(3)];
        let done = (0..self.outputs.len())
            .filter(|&i| self.is_layer(i))
            .count();
        let total = (0..self.graph.nodes.len())
            .filter(|&i| self.is_layer(i))
            .count();
        let mut out = format!("model {}: {done} of {total} layers run\n", self.name);
        for c in &cells {
            let line = format!(
                "{:<w0$} {:<w1$}  {:<w2$}  {:<w3$}  {}",
                c[0],
                c[1],
                c[2],
                c[3],
                c[4],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3]
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    /// The node called `name`: its full path, or a unique suffix after a dot.
    pub fn find_node(&self, name: &str) -> Result<NodeId, String> {
        let paths: Vec<&str> = self.graph.nodes.iter().map(|n| n.path.as_str()).collect();
        find(&paths, name, "layer")
    }

    /// `:show [NAME]`
    pub fn show(&self, name: Option<&str>) -> Result<String, String> {
        let Some(name) = name else {
            let id = self
                .last_layer()
                .ok_or("nothing has run yet: `:step` runs the next layer")?;
            return Ok(self.show_node(id));
        };
        let paths: Vec<&str> = self.graph.nodes.iter().map(|n| n.path.as_str()).collect();
        let mut candidates = paths.clone();
        candidates.extend(self.store.order.iter().map(|(n, _)| n.as_str()));
        let found = find(&candidates, name, "layer or parameter")?;
        if found >= paths.len() {
            let value = self.store.get(candidates[found]);
            return Ok(format!(
                "{}: {}  {}\n{}",
                candidates[found],
                render::shape(value.shape()),
                Stats::of(value),
                render::values(value)
            ));
        }
        if found >= self.outputs.len() {
            return Err(format!(
                "#{found} {} has not run yet (the next layer is #{})",
                paths[found],
                self.next_layer().unwrap_or(found)
            ));
        }
        Ok(self.show_node(found))
    }

    fn show_node(&self, id: NodeId) -> String {
        let value = &self.outputs[id];
        format!(
            "#{id} {}: {}  {}\n{}",
            self.graph.nodes[id].path,
            render::shape(value.shape()),
            Stats::of(value),
            render::values(value)
        )
    }

    /// `:params [LAYER]`
    pub fn params(&self, layer: Option<&str>) -> Result<String, String> {
        let prefix = match layer {
            Some(name) => Some(format!("{}.", self.graph.nodes[self.find_node(name)?].path)),
            None => None,
        };
        let mut out = String::new();
        let mut total = 0;
        for (name, trainable) in &self.store.order {
            if prefix.as_ref().is_some_and(|p| !name.starts_with(p)) {
                continue;
            }
            let value = self.store.get(name);
            if *trainable {
                total += value.len();
            }
            let kind = if *trainable { "" } else { " (state)" };
            out.push_str(&format!(
                "{name}{kind}: {}, {} values\n    {}\n",
                render::shape(value.shape()),
                value.len(),
                Stats::of(value)
            ));
        }
        if out.is_empty() {
            return Ok("no parameters\n".to_string());
        }
        out.push_str(&format!("{total} learnable values\n"));
        Ok(out)
    }

    /// `:break ...`: add a layer breakpoint.
    pub fn break_at(&mut self, name: &str) -> Result<String, String> {
        let id = self.find_node(name)?;
        if !self.breaks.contains(&id) {
            self.breaks.push(id);
        }
        Ok(format!(
            "`:run` stops after #{id} {}\n",
            self.graph.nodes[id].path
        ))
    }

    /// `:break nan`
    pub fn break_nan(&mut self) -> String {
        self.break_nan = true;
        "`:run` stops after the first layer whose output has a NaN or infinite value\n".to_string()
    }

    /// `:break off`
    pub fn break_off(&mut self) -> String {
        self.breaks.clear();
        self.break_nan = false;
        "no breakpoints\n".to_string()
    }

    /// `:break`: the breakpoints.
    pub fn breakpoints(&self) -> String {
        let mut out = String::new();
        for &id in &self.breaks {
            out.push_str(&format!("after #{id} {}\n", self.graph.nodes[id].path));
        }
        if self.break_nan {
            out.push_str("at the first NaN or infinite output\n");
        }
        if out.is_empty() {
            out.push_str("no breakpoints\n");
        }
        out
    }
}

/// The last dot-separated part of a path: `conv2d_0` of `LeNet5.conv2d_0`.
fn last_part(path: &str) -> &str {
    path.rsplit_once('.').map_or(path, |(_, last)| last)
}

/// Looks `name` up among `paths`: an exact match, or a unique one ending in
/// `.name`; the error suggests a close name.
fn find(paths: &[&str], name: &str, what: &str) -> Result<usize, String> {
    if let Some(i) = paths.iter().position(|p| *p == name) {
        return Ok(i);
    }
    let suffix = format!(".{name}");
    let matches: Vec<usize> = (0..paths.len())
        .filter(|&i| paths[i].ends_with(&suffix))
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => {
            let close = crate::check::suggest(name, paths.iter().map(|p| last_part(p)))
                .and_then(|best| paths.iter().find(|p| last_part(p) == best))
                .map(|p| format!("; did you mean `{p}`?"))
                .unwrap_or_default();
            Err(format!("no {what} `{name}`{close}"))
        }
        many => {
            let names: Vec<&str> = many.iter().map(|&i| paths[i]).collect();
            Err(format!(
                "`{name}` could be any of {}; write the full path",
                names.join(", ")
            ))
        }
    }
}

/// A run error as a message.
pub fn run_error(error: &RunError) -> String {
    format!("stopped: {error}\n")
}

fn softmax(values: &[f32]) -> Vec<f32> {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = values.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|e| e / sum).collect()
}
