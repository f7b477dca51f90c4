//! The wording of names and calls: duplicate or recursive items, names bound
//! nowhere, and layers used where a value is expected or the other way round.

use super::{CheckError, suggest, with_suggestion};
use crate::diagnostic::{Code, Diagnostic};

/// Renders the variants of names and calls.
pub(super) fn render(error: CheckError) -> Diagnostic {
    match error {
        CheckError::DuplicateItem { name, first } => Diagnostic::error(
            Code::E0103,
            format!("`{}` is defined twice", name.name),
            name.span,
            "defined again here",
        )
        .with_label(first, "first defined here")
        .with_help("rename one of them"),
        CheckError::RecursiveModel {
            callee,
            chain,
            definition,
        } => Diagnostic::error(
            Code::E0104,
            format!("model `{}` uses itself", callee.name),
            callee.span,
            "recursive use",
        )
        .with_label(definition, "defined here")
        .with_note(format!("the chain of uses is {}", chain.join(" -> ")))
        .with_help("a model cannot contain itself; use `repeat` to stack copies of a block"),
        CheckError::UnknownName {
            name,
            span,
            candidates,
        } => {
            let d = Diagnostic::error(
                Code::E0101,
                format!("unknown name `{name}`"),
                span,
                "not defined",
            );
            with_suggestion(d, &name, &candidates)
        }
        CheckError::UnknownLayer { callee, candidates } => {
            let d = Diagnostic::error(
                Code::E0102,
                format!("unknown layer or function `{}`", callee.name),
                callee.span,
                "not a built-in, model or cell",
            );
            match suggest(&callee.name, candidates.iter().map(String::as_str)) {
                Some(best) => d.with_help(format!("did you mean `{best}`?")),
                None => d.with_help("see docs/language.md for the built-in layers and functions"),
            }
        }
        CheckError::UnboundDimension { name, span } => Diagnostic::error(
            Code::E0308,
            format!("unbound dimension variable `{name}`"),
            span,
            "not bound by the input shape",
        )
        .with_note("dimension variables are bound by the input's shape, where the model is used")
        .with_help(format!(
            "mention `{name}` in the input shape, or declare it as an option: `{}: int`",
            name.to_lowercase()
        )),
        CheckError::LayerAsValue { name, span } => Diagnostic::error(
            Code::E0107,
            format!("`{name}` is a layer, not a value"),
            span,
            "used as a value here",
        )
        .with_help(format!("write it as a stage of its own, `... -> {name}` or `dense(128) {name}`, or call it on a tensor: `{name}(x)`")),
        CheckError::LayerNeedsPipe { name, span } => Diagnostic::error(
            Code::E0108,
            format!("`{name}` takes its input from a pipeline"),
            span,
            "cannot be called inside an expression",
        )
        .with_help(format!("pipe a value into it: `let y = x -> {name}(...)`")),
        CheckError::CalledResult { call, args } => Diagnostic::error(Code::E0110, "a layer's result cannot be called", args, "these arguments apply to the result of the call before")
            .with_label(call, "this is a layer applied to the current value")
            .with_help("layers take their input from a pipeline: write `let h = x -> dense(16)` instead of `dense(16)(x)`"),
        CheckError::NotALayer { span, name } => {
            let message = match name {
                Some(n) => format!("`{n}` is a value, not a layer"),
                None => "only a layer can follow `->`".to_string(),
            };
            Diagnostic::error(
                Code::E0109,
                message,
                span,
                "expected a layer, function, model or cell here",
            )
            .with_help("start a new statement with the value instead, or use `let`")
        }
        other => unreachable!("not a diagnostic of names: {other:?}"),
    }
}
