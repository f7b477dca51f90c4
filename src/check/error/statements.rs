//! The wording of statements and constants: bodies (size, `return`, cell
//! state and `next`), operands, and shape entries and initialisers.

use super::{CheckError, suggest, with_suggestion};
use crate::diagnostic::{Code, Diagnostic};

/// Renders the variants of statements and constants.
pub(super) fn render(error: CheckError) -> Diagnostic {
    match error {
        CheckError::ModelTooLarge { max, span } => Diagnostic::error(
            Code::E0610,
            format!("the model unrolls to more than {max} operations"),
            span,
            "unrolled here",
        )
        .with_help("nested `repeat`s and sub-models multiply: reduce the counts"),
        CheckError::AfterReturn { span } => Diagnostic::error(
            Code::E0601,
            "statement after `return`",
            span,
            "never reached",
        )
        .with_help("`return` must be the last statement of a body"),
        CheckError::NextNotState {
            name,
            states: _,
            in_cell: false,
        } => Diagnostic::error(
            Code::E0602,
            "`next` outside a cell",
            name.span,
            "only a cell has state",
        )
        .with_help("declare a `cell` with `state (...)` to write recurrent updates"),
        CheckError::NextNotState {
            name,
            states,
            in_cell: true,
        } => {
            let d = Diagnostic::error(
                Code::E0602,
                format!("`{}` is not a state of this cell", name.name),
                name.span,
                "not declared in `state (...)`",
            )
            .with_note(format!("the states are: {}", states.join(", ")));
            with_suggestion(d, &name.name, &states)
        }
        CheckError::NextShape {
            name,
            found,
            expected,
            value,
            declared,
        } => Diagnostic::error(
            Code::E0310,
            format!("the next value of `{}` has the wrong shape", name.name),
            value,
            format!("this is {found}"),
        )
        .with_label(
            declared,
            format!("`{}` is declared as {expected}", name.name),
        )
        .with_note("a state keeps its shape from step to step"),
        CheckError::StateNeverUpdated { name, body } => Diagnostic::error(
            Code::E0311,
            format!("state `{}` is never updated", name.name),
            name.span,
            "declared here",
        )
        .with_label(body, "no `next` in this body")
        .with_help(format!("add `next {} = ...` to the body", name.name)),
        CheckError::ExpectedTensor { value, span } => Diagnostic::error(
            Code::E0603,
            "expected a tensor",
            span,
            format!("this is {}", value.describe()),
        ),
        CheckError::RepeatCount { value, span } => Diagnostic::error(
            Code::E0604,
            "`repeat` needs an integer count",
            span,
            format!("this is {}", value.describe()),
        ),
        CheckError::BadOperand { op, value, span } => Diagnostic::error(
            Code::E0605,
            format!("`{op}` cannot be applied to this operand"),
            span,
            format!("this is {}", value.describe()),
        ),
        CheckError::DivisionByZero { span } => {
            Diagnostic::error(Code::E0606, "division by zero", span, "this is 0")
        }
        CheckError::SymbolicDivision { span } => Diagnostic::error(
            Code::E0607,
            "cannot divide a dimension variable",
            span,
            "the result might not be an integer",
        )
        .with_help("dimension arithmetic supports `+`, `-` and `*`"),
        CheckError::DimensionSyntax { span } => Diagnostic::error(
            Code::E0608,
            "a dimension must be an integer expression",
            span,
            "not an integer",
        )
        .with_help("write a number, a dimension variable, an `int` option, or `+ - *` of them"),
        CheckError::DimensionBelowOne { text, value, span } => Diagnostic::error(
            Code::E0611,
            if text.parse::<i64>().is_ok() {
                format!("a dimension must be at least 1, not {value}")
            } else {
                format!("the dimension `{text}` is {value}; every dimension must be at least 1")
            },
            span,
            format!("this is {value}"),
        )
        .with_help(
            "every axis of a tensor needs at least one element; check where the value comes from \
             (an option given where the model or cell is used, or the input's shape)",
        ),
        CheckError::DimensionNotInt { value, span } => Diagnostic::error(
            Code::E0608,
            "a dimension must be an integer",
            span,
            format!("this is {}", value.describe()),
        ),
        CheckError::InitNeedsArgs { name, span } => {
            let example = if name == "normal" {
                "normal(0, 0.01)"
            } else {
                "uniform(-0.1, 0.1)"
            };
            Diagnostic::error(
                Code::E0609,
                format!("`{name}` needs two numbers"),
                span,
                "incomplete initialiser",
            )
            .with_help(format!("for example `{example}`"))
        }
        CheckError::UnknownInit { name, span, names } => {
            let d = Diagnostic::error(
                Code::E0609,
                "unknown initialiser",
                span,
                "not an initialiser",
            )
            .with_note(format!("initialisers: {}", names.join(", ")));
            match suggest(&name, names.iter().map(String::as_str)) {
                Some(best) => d.with_help(format!("did you mean `{best}`?")),
                None => d,
            }
        }
        other => unreachable!("not a diagnostic of statements: {other:?}"),
    }
}
