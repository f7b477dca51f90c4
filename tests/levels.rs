//! The layering of `src/`, read off the `use` paths of the source: no import
//! cycles between top-level modules, nor between the files of one folder;
//! `ir` imports nothing but `span`; nothing outside `check` reaches into its
//! submodules. (`cargo test --test levels` checks it; the rules are in
//! ARCHITECTURE.md.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable source folder") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// A source file's module path: `src/check/model.rs` is `["check", "model"]`,
/// `src/nn/mod.rs` is `["nn"]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// The paths a file names: `crate::a::b` and `super::c` (resolved against
/// the file's module), as module paths. Comments and strings are not
/// special-cased: the source does not write such paths in prose.
fn references(module: &[String], is_mod_file: bool, text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let parent: Vec<String> = if is_mod_file {
        module.to_vec()
    } else {
        module[..module.len().saturating_sub(1)].to_vec()
    };
    for (prefix, base) in [("crate::", Vec::new()), ("super::", parent)] {
        let mut rest = text;
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().last();
            rest = &rest[at + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let mut path = base.clone();
            let mut tail = rest;
            // Follow `name::` segments, and the first name of a `{...}` group.
            loop {
                let tail_trimmed = tail.trim_start_matches('{').trim_start();
                let name: String = tail_trimmed
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if name.is_empty() || name == "self" {
                    break;
                }
                path.push(name.clone());
                tail = &tail_trimmed[name.len()..];
                if let Some(next) = tail.strip_prefix("::") {
                    tail = next;
                } else {
                    break;
                }
            }
            if !path.is_empty() {
                out.push(path);
            }
        }
    }
    out
}

struct Source {
    modules: BTreeSet<Vec<String>>,
    /// File module -> the module paths it names.
    uses: BTreeMap<Vec<String>, Vec<Vec<String>>>,
}

fn read_source() -> Source {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeSet::new();
    let mut uses = BTreeMap::new();
    for file in rust_files(&src) {
        let module = module_of(&src, &file);
        if module.first().is_some_and(|m| m == "main" || m == "lib") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable file");
        let is_mod = file.file_name().is_some_and(|n| n == "mod.rs");
        uses.insert(module.clone(), references(&module, is_mod, &text));
        modules.insert(module);
    }
    Source { modules, uses }
}

/// The longest known module that `path` starts with.
fn resolve(modules: &BTreeSet<Vec<String>>, path: &[String]) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
}

/// A cycle in `edges`, if there is one, as the list of nodes around it.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next.as_str()) {
                Some(1) => {
                    let start = stack.iter().position(|n| n == next).expect("on the stack");
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(cycle) = visit(next, edges, state, stack) {
                        return Some(cycle);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in edges.keys() {
        if !state.contains_key(node.as_str()) {
            let mut stack = Vec::new();
            if let Some(cycle) = visit(node, edges, &mut state, &mut stack) {
                return Some(cycle);
            }
        }
    }
    None
}

#[test]
fn no_import_cycles_between_modules_or_between_files_of_a_folder() {
    let source = read_source();
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut siblings: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, paths) in &source.uses {
        for path in paths {
            let Some(target) = resolve(&source.modules, path) else {
                continue;
            };
            if target[0] != module[0] {
                top.entry(module[0].clone())
                    .or_default()
                    .insert(target[0].clone());
            } else if module.len() >= 2
                && target.len() >= module.len()
                && target[..module.len() - 1] == module[..module.len() - 1]
                && target[module.len() - 1] != module[module.len() - 1]
            {
                // Two files of the same folder.
                let name = |m: &[String]| m.join("::");
                siblings
                    .entry(name(module))
                    .or_default()
                    .insert(name(&target[..module.len()]));
            }
        }
    }
    assert_eq!(
        find_cycle(&top),
        None,
        "import cycle between modules: {top:#?}"
    );
    assert_eq!(find_cycle(&siblings), None, "import cycle between files");
}

#[test]
fn ir_imports_only_span() {
    let source = read_source();
    for (module, paths) in &source.uses {
        if module[0] != "ir" {
            continue;
        }
        for path in paths {
            let target = resolve(&source.modules, path).unwrap_or_else(|| path.clone());
            assert!(
                target[0] == "ir" || target[0] == "span",
                "`{}` imports `{}`",
                module.join("::"),
                path.join("::")
            );
        }
    }
}

#[test]
fn nothing_outside_check_reaches_into_its_submodules() {
    let source = read_source();
    for (module, paths) in &source.uses {
        if module[0] == "check" {
            continue;
        }
        for path in paths {
            let target = resolve(&source.modules, path).unwrap_or_default();
            assert!(
                !(target.len() > 1 && target[0] == "check"),
                "`{}` names `{}`; use what `check` exports",
                module.join("::"),
                path.join("::")
            );
        }
    }
}

#[test]
fn the_reader_sees_paths_and_cycles() {
    // The checks above are only as good as the path reader: it must see a
    // nested `use` group and a `super::` path, and the cycle finder a cycle.
    let module = vec!["check".to_string(), "model".to_string()];
    let text = "use crate::nn::{self, Builtin};\nuse super::error;\nlet x = crate::ir::Op::Input;";
    let paths = references(&module, false, text);
    let names: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(names, ["nn", "ir::Op::Input", "check::error"]);
    let edges: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_string(), BTreeSet::from(["b".to_string()])),
        ("b".to_string(), BTreeSet::from(["a".to_string()])),
    ]
    .into();
    assert!(find_cycle(&edges).is_some());
}
