//! The wording of call arguments: too many, unknown or repeated keywords,
//! missing arguments, values of the wrong type, options without a default.

use super::{CheckError, suggest};
use crate::diagnostic::{Code, Diagnostic};
use crate::nn::Value;

/// Renders the variants of arguments and options.
pub(super) fn render(error: CheckError) -> Diagnostic {
    match error {
        CheckError::TooManyArguments {
            callee,
            max,
            span,
            signature,
        } => Diagnostic::error(
            Code::E0203,
            format!("too many arguments for `{}`", callee.name),
            span,
            match max {
                0 => format!("`{}` takes no arguments", callee.name),
                1 => format!("`{}` takes at most 1 positional argument", callee.name),
                _ => format!("`{}` takes at most {max} positional arguments", callee.name),
            },
        )
        .with_note(format!("the signature is `{signature}`")),
        CheckError::UnknownKeyword {
            callee,
            keyword,
            names,
            signature,
        } => {
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
            match suggest(&keyword.name, names.iter().map(String::as_str)) {
                Some(best) => d.with_help(format!("did you mean `{best}`? valid keywords: {valid}")),
                None => d.with_help(format!("valid keywords: {valid}")),
            }
        }
        CheckError::DuplicateArgument {
            callee,
            keyword,
            first,
        } => Diagnostic::error(
            Code::E0205,
            format!(
                "argument `{}` of `{}` is given twice",
                keyword.name, callee.name
            ),
            keyword.span,
            "given again here",
        )
        .with_label(first, "first given here"),
        CheckError::MissingArgument {
            callee,
            param,
            signature,
        } => Diagnostic::error(
            Code::E0202,
            format!("`{}` needs the argument `{param}`", callee.name),
            callee.span,
            format!("`{param}` missing"),
        )
        .with_note(format!("the signature is `{signature}`"))
        .with_help(format!("pass it, e.g. `{}({param} = ...)`", callee.name)),
        CheckError::WrongArgumentType {
            callee,
            param,
            kind,
            value,
            span,
            signature,
        } => Diagnostic::error(
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
        .with_help_if(callee.name == "dense" && param == "bias" && matches!(value, Value::Int(_)), "`dense` takes only the output size; its input size is inferred from the input (PyTorch's `Linear(784, 128)` is `dense(128)` here)"),
        CheckError::OptionType {
            name,
            kind,
            value,
            span,
        } => Diagnostic::error(
            Code::E0204,
            format!("option `{}` must be {}", name.name, kind.describe()),
            span,
            format!("found {}", value.describe()),
        ),
        CheckError::TrainNeedsOption {
            model,
            option,
            site,
        } => Diagnostic::error(
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
        )),
        other => unreachable!("not a diagnostic of arguments: {other:?}"),
    }
}
