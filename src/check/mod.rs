//! The checker: names, arguments and shapes, from the AST to the checked IR.

pub mod args;
pub mod builtins;
pub mod data;
pub mod dim;
pub mod error;
pub mod layers;
pub mod model;
pub mod shape;
pub mod train;
pub mod value;

use crate::diagnostic::Diagnostic;
use crate::ir::{self, ModelSummary};
use crate::syntax::ast::{Item, Program};
use model::{BodyChecker, Definition};
use std::collections::HashMap;

/// Checks a parsed program: the checked IR, and every problem found, sorted by
/// position (errors and warnings together).
pub fn check(program: &Program, source: &str) -> (ir::Program, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let mut seen: HashMap<&str, crate::span::Span> = HashMap::new();
    let mut definitions = HashMap::new();
    for item in &program.items {
        let name = match item {
            Item::Data(d) => &d.name,
            Item::Model(m) => &m.name,
            Item::Cell(c) => &c.name,
            Item::Train(_) => continue,
        };
        if let Some(first) = seen.get(name.name.as_str()) {
            diagnostics.push(error::duplicate_item(name, *first));
            continue;
        }
        if let Some(builtin) = builtins::Builtin::from_name(&name.name)
            && !matches!(item, Item::Data(_))
        {
            diagnostics.push(
                Diagnostic::error(
                    "E0103",
                    format!("`{}` is the name of a built-in", builtin.name()),
                    name.span,
                    "shadows a built-in",
                )
                .with_help("choose another name"),
            );
            continue;
        }
        seen.insert(&name.name, name.span);
        match item {
            Item::Model(m) => {
                definitions.insert(m.name.name.clone(), Definition::Model(m));
            }
            Item::Cell(c) => {
                definitions.insert(c.name.name.clone(), Definition::Cell(c));
            }
            _ => {}
        }
    }
    let mut checker = BodyChecker::new(definitions, source);
    let mut out = ir::Program::default();
    let mut data = HashMap::new();
    let mut data_names = Vec::new();
    for item in &program.items {
        match item {
            Item::Model(m)
                if checker.definitions.contains_key(&m.name.name)
                    && std::ptr::eq(
                        defined(&checker, &m.name.name),
                        m as *const _ as *const u8,
                    ) =>
            {
                let graph = checker.check_standalone(Definition::Model(m));
                out.models.push(ModelSummary {
                    name: m.name.name.clone(),
                    is_cell: false,
                    graph,
                });
            }
            Item::Cell(c)
                if checker.definitions.contains_key(&c.name.name)
                    && std::ptr::eq(
                        defined(&checker, &c.name.name),
                        c as *const _ as *const u8,
                    ) =>
            {
                let graph = checker.check_standalone(Definition::Cell(c));
                out.models.push(ModelSummary {
                    name: c.name.name.clone(),
                    is_cell: true,
                    graph,
                });
            }
            Item::Data(d) => {
                if data.contains_key(&d.name.name) {
                    continue;
                }
                let set = data::check_data(&mut checker, d);
                if let Some(set) = &set {
                    out.data.push(set.clone());
                }
                data_names.push(d.name.name.clone());
                data.insert(d.name.name.clone(), set);
            }
            _ => {}
        }
    }
    for item in &program.items {
        if let Item::Train(t) = item
            && let Some(run) = train::check_train(&mut checker, t, &data, &data_names)
        {
            out.trains.push(run);
        }
    }
    diagnostics.extend(checker.diagnostics);
    let mut unique = Vec::new();
    for d in diagnostics {
        if !unique.contains(&d) {
            unique.push(d);
        }
    }
    unique.sort_by_key(|d| d.span().start);
    (out, unique)
}

/// The address of the definition registered under `name`, to tell a first
/// definition from a duplicate.
fn defined(checker: &BodyChecker, name: &str) -> *const u8 {
    match checker.definitions[name] {
        Definition::Model(m) => m as *const _ as *const u8,
        Definition::Cell(c) => c as *const _ as *const u8,
    }
}
