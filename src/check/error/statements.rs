//! Diagnostics of statements and constants: bodies (size, `return`, cell state
//! and `next`), operands, and shape entries and initialisers.

use super::{suggest, with_suggestion};
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::shape::Shape;
use crate::nn::Value;
use crate::span::Span;
use crate::syntax::ast::Ident;

/// A model that unrolls to too many operations.
pub fn model_too_large(max: usize, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0610,
        format!("the model unrolls to more than {max} operations"),
        span,
        "unrolled here",
    )
    .with_help("nested `repeat`s and sub-models multiply: reduce the counts")
}

/// A statement after `return`.
pub fn after_return(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0601,
        "statement after `return`",
        span,
        "never reached",
    )
    .with_help("`return` must be the last statement of a body")
}

/// `next` of a name that is not a state.
pub fn next_not_state(name: &Ident, states: &[String], in_cell: bool) -> Diagnostic {
    if !in_cell {
        return Diagnostic::error(
            Code::E0602,
            "`next` outside a cell",
            name.span,
            "only a cell has state",
        )
        .with_help("declare a `cell` with `state (...)` to write recurrent updates");
    }
    let d = Diagnostic::error(
        Code::E0602,
        format!("`{}` is not a state of this cell", name.name),
        name.span,
        "not declared in `state (...)`",
    )
    .with_note(format!("the states are: {}", states.join(", ")));
    with_suggestion(d, &name.name, states)
}

/// `next S = v` where `v` has the wrong shape.
pub fn next_shape(
    name: &Ident,
    found: &Shape,
    expected: &Shape,
    value: Span,
    declared: Span,
) -> Diagnostic {
    Diagnostic::error(
        Code::E0310,
        format!("the next value of `{}` has the wrong shape", name.name),
        value,
        format!("this is {found}"),
    )
    .with_label(
        declared,
        format!("`{}` is declared as {expected}", name.name),
    )
    .with_note("a state keeps its shape from step to step")
}

/// A state that no `next` updates.
pub fn state_never_updated(name: &Ident, body: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0311,
        format!("state `{}` is never updated", name.name),
        name.span,
        "declared here",
    )
    .with_label(body, "no `next` in this body")
    .with_help(format!("add `next {} = ...` to the body", name.name))
}

/// A non-tensor where a tensor is needed.
pub fn expected_tensor(value: &Value, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0603,
        "expected a tensor",
        span,
        format!("this is {}", value.describe()),
    )
}

/// `repeat` with a count that is not an integer.
pub fn repeat_count(value: &Value, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0604,
        "`repeat` needs an integer count",
        span,
        format!("this is {}", value.describe()),
    )
}

/// An operand of the wrong kind.
pub fn bad_operand(op: &str, value: &Value, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0605,
        format!("`{op}` cannot be applied to this operand"),
        span,
        format!("this is {}", value.describe()),
    )
}

/// Division by zero in a constant expression.
pub fn division_by_zero(span: Span) -> Diagnostic {
    Diagnostic::error(Code::E0606, "division by zero", span, "this is 0")
}

/// Division of a symbolic integer.
pub fn symbolic_division(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0607,
        "cannot divide a dimension variable",
        span,
        "the result might not be an integer",
    )
    .with_help("dimension arithmetic supports `+`, `-` and `*`")
}

/// A shape entry that is not an integer expression.
pub fn dimension_syntax(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0608,
        "a dimension must be an integer expression",
        span,
        "not an integer",
    )
    .with_help("write a number, a dimension variable, an `int` option, or `+ - *` of them")
}

/// A shape entry that evaluates to zero or less.
pub fn dimension_below_one(text: &str, value: i64, span: Span) -> Diagnostic {
    Diagnostic::error(
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
    )
}

/// A shape entry naming a non-integer.
pub fn dimension_not_int(value: &Value, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0608,
        "a dimension must be an integer",
        span,
        format!("this is {}", value.describe()),
    )
}

/// `normal`/`uniform` without their two numbers.
pub fn init_needs_args(name: &str, span: Span) -> Diagnostic {
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

/// An unknown initialiser.
pub fn unknown_init(name: &str, span: Span, names: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(
        Code::E0609,
        "unknown initialiser",
        span,
        "not an initialiser",
    )
    .with_note(format!("initialisers: {}", names.join(", ")));
    match suggest(name, names.iter().copied()) {
        Some(best) => d.with_help(format!("did you mean `{best}`?")),
        None => d,
    }
}
