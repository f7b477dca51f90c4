//! Diagnostics of call arguments: too many, unknown or repeated keywords, missing
//! arguments, values of the wrong type, options without a default.

use super::suggest;
use crate::diagnostic::{Code, Diagnostic};
use crate::nn::{ArgKind, Value};
use crate::span::Span;
use crate::syntax::ast::Ident;

/// Too many positional arguments.
pub fn too_many_arguments(callee: &Ident, max: usize, span: Span, signature: &str) -> Diagnostic {
    Diagnostic::error(
        Code::E0203,
        format!("too many arguments for `{}`", callee.name),
        span,
        match max {
            0 => format!("`{}` takes no arguments", callee.name),
            1 => format!("`{}` takes at most 1 positional argument", callee.name),
            _ => format!("`{}` takes at most {max} positional arguments", callee.name),
        },
    )
    .with_note(format!("the signature is `{signature}`"))
}

/// A keyword the signature does not have.
pub fn unknown_keyword(
    callee: &Ident,
    keyword: &Ident,
    names: &[&str],
    signature: &str,
) -> Diagnostic {
    let d = Diagnostic::error(
        Code::E0201,
        format!("`{}` has no argument `{}`", callee.name, keyword.name),
        keyword.span,
        "unknown keyword",
    );
    let valid = if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    };
    let d = d.with_note(format!("the signature is `{signature}`"));
    match suggest(&keyword.name, names.iter().copied()) {
        Some(best) => d.with_help(format!("did you mean `{best}`? valid keywords: {valid}")),
        None => d.with_help(format!("valid keywords: {valid}")),
    }
}

/// The same argument given twice.
pub fn duplicate_argument(callee: &Ident, keyword: &Ident, first: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0205,
        format!(
            "argument `{}` of `{}` is given twice",
            keyword.name, callee.name
        ),
        keyword.span,
        "given again here",
    )
    .with_label(first, "first given here")
}

/// A required argument left out.
pub fn missing_argument(callee: &Ident, param: &str, signature: &str) -> Diagnostic {
    Diagnostic::error(
        Code::E0202,
        format!("`{}` needs the argument `{param}`", callee.name),
        callee.span,
        format!("`{param}` missing"),
    )
    .with_note(format!("the signature is `{signature}`"))
    .with_help(format!("pass it, e.g. `{}({param} = ...)`", callee.name))
}

/// An argument of the wrong type.
pub fn wrong_argument_type(
    callee: &Ident,
    param: &str,
    kind: ArgKind,
    value: &Value,
    span: Span,
    signature: &str,
) -> Diagnostic {
    Diagnostic::error(
        Code::E0204,
        format!(
            "argument `{param}` of `{}` must be {}",
            callee.name,
            kind.describe()
        ),
        span,
        format!("found {}", value.describe()),
    )
    .with_note(format!("the signature is `{signature}`"))
    .with_help_if(callee.name == "dense" && param == "bias" && matches!(value, Value::Int(_)), "`dense` takes only the output size; its input size is inferred from the input (PyTorch's `Linear(784, 128)` is `dense(128)` here)")
}

/// An option default or value of the wrong type.
pub fn option_type(name: &Ident, kind: ArgKind, value: &Value, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0204,
        format!("option `{}` must be {}", name.name, kind.describe()),
        span,
        format!("found {}", value.describe()),
    )
}

/// A model trained directly whose option has no default.
pub fn train_needs_option(model: &Ident, option: &Ident, site: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0408,
        format!(
            "`{}` cannot be trained directly: option `{}` has no default",
            model.name, option.name
        ),
        site,
        "trained here",
    )
    .with_label(option.span, "declared without a default")
    .with_help(format!(
        "give `{}` a default value, or wrap the model in another one that sets it",
        option.name
    ))
}
