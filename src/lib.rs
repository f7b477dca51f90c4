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
pub mod export;
pub mod fuzz;
pub mod interp;
pub mod ir;
pub mod kernels;
pub mod nn;
pub mod repl;
pub mod report;
pub mod run;
pub mod seed;
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
    let (checked, diagnostics) = checked_source(source);
    (checked.map(|c| c.program), diagnostics)
}

/// Parses and checks a source text, keeping what binding its models to
/// their data needs ([`check::Checked::bind_run`]). `None` when it could not
/// be parsed.
pub fn checked_source(source: &str) -> (Option<check::Checked>, Vec<diagnostic::Diagnostic>) {
    let (ast, mut diagnostics) = syntax::parse(source);
    let Some(ast) = ast else {
        return (None, diagnostics);
    };
    let (checked, more) = check::Checked::new(ast, source);
    diagnostics.extend(more);
    (Some(checked), diagnostics)
}

/// Like [`check_source`], for the text of a `.dl` file given to a command:
/// a program that declares nothing (an empty file, or only comments) is an
/// error too (E0004, [`syntax::empty_program`]). [`check_source`] accepts
/// it: the REPL starts from an empty program.
pub fn check_file(source: &str) -> (Option<ir::Program>, Vec<diagnostic::Diagnostic>) {
    let (checked, diagnostics) = checked_file(source);
    (checked.map(|c| c.program), diagnostics)
}

/// Like [`checked_source`], with [`check_file`]'s rule for empty programs.
pub fn checked_file(source: &str) -> (Option<check::Checked>, Vec<diagnostic::Diagnostic>) {
    let (checked, mut diagnostics) = checked_source(source);
    diagnostics.extend(syntax::empty_program(source));
    (checked, diagnostics)
}
