//! The checker: names, arguments and shapes, from the AST to the checked IR.

mod args;

mod data;
mod error;

mod linear;
mod model;
mod train;

use error::CheckError;
pub use error::suggest;
pub use linear::{NotLinear, check_affine};
pub use train::{MAX_LEAST_SQUARES_PARAMS, grid_points, grid_values, loss_name, metric_label};

use crate::diagnostic::{Code, Diagnostic};
use crate::ir::{self, ModelSummary};
use crate::syntax::ast::{Item, Program};
use model::{BodyChecker, Definition};
use std::collections::HashMap;

/// Checks a parsed program: the checked IR, and every problem found, sorted by
/// position (errors and warnings together).
pub fn check(program: &Program, source: &str) -> (ir::Program, Vec<Diagnostic>) {
    check_with_data(program, source, &HashMap::new())
}

/// A parsed and checked program, kept so that a model can be bound to the
/// shapes of its data once they are read, without parsing the source again.
#[derive(Clone, Debug)]
pub struct Checked {
    ast: Program,
    source: String,
    /// The program checked on its own: models with symbolic inputs.
    pub program: ir::Program,
}

impl Checked {
    /// Checks `ast`, parsed from `source`: the checked program and every
    /// problem found.
    pub fn new(ast: Program, source: &str) -> (Checked, Vec<Diagnostic>) {
        let (program, diagnostics) = check(&ast, source);
        let checked = Checked {
            ast,
            source: source.to_string(),
            program,
        };
        (checked, diagnostics)
    }

    /// Train block `index` with its data's shapes known: the block checked
    /// again for them and its model instantiated for the real input. The
    /// errors are those the data's shapes reveal (the program's own were
    /// reported by [`Checked::new`]); the warnings repeat those.
    pub fn bind_run(
        &self,
        index: usize,
        shape: LoadedShape,
    ) -> (Option<ir::TrainRun>, Vec<Diagnostic>) {
        let Some(data) = self.program.trains.get(index).map(|t| t.data.clone()) else {
            return (None, Vec::new());
        };
        let loaded = HashMap::from([(data, shape)]);
        let (mut bound, diagnostics) = check_with_data(&self.ast, &self.source, &loaded);
        let run = (index < bound.trains.len()).then(|| bound.trains.swap_remove(index));
        (run, diagnostics)
    }
}

/// What reading a data set revealed: its per-sample input shape and task.
#[derive(Clone, Debug)]
pub struct LoadedShape {
    /// Per-sample input shape, with the batch.
    pub input: crate::ir::Shape,
    /// Classification (with the class count) or regression.
    pub task: ir::Task,
}

/// Like [`check`], with the shapes of data sets that have been read: every
/// `train` block on them is then checked, and its model instantiated, for
/// the real input shape.
fn check_with_data(
    program: &Program,
    source: &str,
    loaded: &HashMap<String, LoadedShape>,
) -> (ir::Program, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let mut seen: HashMap<&str, crate::span::Span> = HashMap::new();
    let mut definitions = HashMap::new();
    // The model and cell items that define their name (the first of duplicates).
    let mut defining = Vec::new();
    for item in &program.items {
        let name = match item {
            Item::Data(d) => &d.name,
            Item::Model(m) => &m.name,
            Item::Cell(c) => &c.name,
            Item::Train(_) => continue,
        };
        if let Some(first) = seen.get(name.name.as_str()) {
            diagnostics.push(
                CheckError::DuplicateItem {
                    name: name.clone(),
                    first: *first,
                }
                .into(),
            );
            continue;
        }
        if let Some(builtin) = crate::nn::Builtin::from_name(&name.name)
            && !matches!(item, Item::Data(_))
        {
            diagnostics.push(
                CheckError::ShadowsBuiltin {
                    builtin: builtin.name().to_string(),
                    span: name.span,
                }
                .into(),
            );
            continue;
        }
        seen.insert(&name.name, name.span);
        match item {
            Item::Model(m) => {
                definitions.insert(m.name.name.clone(), Definition::Model(m));
                defining.push(m.name.name.as_str());
            }
            Item::Cell(c) => {
                definitions.insert(c.name.name.clone(), Definition::Cell(c));
                defining.push(c.name.name.as_str());
            }
            _ => {}
        }
    }
    let mut checker = BodyChecker::new(definitions, source);
    let mut out = ir::Program::default();
    for name in defining {
        let definition = checker.definitions[name];
        checker.check_definition(definition);
        let graph = checker.take_standalone(name).expect("checked just now");
        out.models.push(ModelSummary {
            name: name.to_string(),
            is_cell: matches!(definition, Definition::Cell(_)),
            graph,
        });
    }
    let mut data = HashMap::new();
    let mut data_names = Vec::new();
    for item in &program.items {
        if let Item::Data(d) = item
            && !data.contains_key(&d.name.name)
        {
            let mut set = data::check_data(&mut checker, d);
            if let (Some(set), Some(known)) = (&mut set, loaded.get(&d.name.name)) {
                set.input = Some(known.input.clone());
                set.task = known.task.clone();
            }
            if let Some(set) = &set {
                out.data.push(set.clone());
            }
            data_names.push(d.name.name.clone());
            data.insert(d.name.name.clone(), set);
        }
    }
    let standalone: HashMap<String, ir::Graph> = out
        .models
        .iter()
        .filter(|m| !m.is_cell)
        .map(|m| (m.name.clone(), m.graph.clone()))
        .collect();
    for item in &program.items {
        if let Item::Train(t) = item
            && let Some(run) = train::check_train(&mut checker, t, &data, &data_names, &standalone)
        {
            out.trains.push(run);
        }
    }
    diagnostics.extend(checker.diagnostics);
    let mut unique: Vec<Diagnostic> = Vec::new();
    for d in diagnostics {
        // One report per unbound dimension variable name, however often it is used.
        let repeated_unbound = d.code == Code::E0308
            && unique
                .iter()
                .any(|u| u.code == d.code && u.message == d.message);
        if !repeated_unbound && !unique.contains(&d) {
            unique.push(d);
        }
    }
    unique.sort_by_key(|d| d.span().start);
    (out, unique)
}
