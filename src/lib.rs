//! `dl`: a language and toolchain for deep-learning models.
//!
//! The pipeline: [`syntax::parse`] turns source text into an AST,
//! [`check::check`] resolves names and infers every shape, producing the
//! checked [`ir::Program`]. Every stage returns its result together with a
//! list of [`diagnostic::Diagnostic`]s; [`diagnostic::render`] prints them.
//! [`interp::Stepper`] runs a checked graph one node at a time, for training
//! and for [`repl`], which steps through a model interactively (`dl repl`).

pub mod autodiff;
pub mod check;
pub mod data;
pub mod diagnostic;
pub mod interp;
pub mod ir;
pub mod kernels;
pub mod nn;
pub mod repl;
pub mod report;
pub mod source;
pub mod span;
pub mod syntax;
pub mod train;

/// Parses and checks a whole source file. The program is `None` when it could
/// not be parsed.
///
/// ```
/// let source = "model Net(x: [1, 28, 28]) { conv2d(6, kernel = 5) relu flatten dense(10) }";
/// let (program, diagnostics) = dl::check_source(source);
/// assert!(diagnostics.is_empty());
/// let graph = &program.unwrap().models[0].graph;
/// assert_eq!(graph.nodes[graph.output].shape.to_string(), "[N, 10]");
/// assert_eq!(graph.param_count().as_known(), Some(6 * 25 + 6 + 6 * 24 * 24 * 10 + 10));
/// ```
pub fn check_source(source: &str) -> (Option<ir::Program>, Vec<diagnostic::Diagnostic>) {
    let (ast, mut diagnostics) = syntax::parse(source);
    let Some(ast) = ast else {
        return (None, diagnostics);
    };
    let (program, more) = check::check(&ast, source);
    diagnostics.extend(more);
    (Some(program), diagnostics)
}

/// Like [`check_source`], for the text of a `.dl` file given to a command:
/// a program that declares nothing (an empty file, or only comments) is an
/// error too (E0004, [`syntax::empty_program`]). [`check_source`] accepts
/// it: the REPL starts from an empty program.
pub fn check_file(source: &str) -> (Option<ir::Program>, Vec<diagnostic::Diagnostic>) {
    let (program, mut diagnostics) = check_source(source);
    diagnostics.extend(syntax::empty_program(source));
    (program, diagnostics)
}

/// Like [`check_file`], with the shapes of data sets that have been read.
pub fn check_file_with_data(
    source: &str,
    loaded: &std::collections::HashMap<String, check::LoadedShape>,
) -> (Option<ir::Program>, Vec<diagnostic::Diagnostic>) {
    let (program, mut diagnostics) = check_source_with_data(source, loaded);
    diagnostics.extend(syntax::empty_program(source));
    (program, diagnostics)
}

/// Like [`check_source`], with the shapes of data sets that have been read
/// (see [`check::check_with_data`]).
pub fn check_source_with_data(
    source: &str,
    loaded: &std::collections::HashMap<String, check::LoadedShape>,
) -> (Option<ir::Program>, Vec<diagnostic::Diagnostic>) {
    let (ast, mut diagnostics) = syntax::parse(source);
    let Some(ast) = ast else {
        return (None, diagnostics);
    };
    let (program, more) = check::check_with_data(&ast, source, loaded);
    diagnostics.extend(more);
    (Some(program), diagnostics)
}
