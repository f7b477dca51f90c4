//! The wording of items and data declarations: names taken by built-ins,
//! unknown or misplaced sources and transforms, splits, `csv` columns.

use super::{CheckError, suggest};
use crate::diagnostic::{Code, Diagnostic};

/// Renders the variants of items and data.
pub(super) fn render(error: CheckError) -> Diagnostic {
    match error {
        CheckError::ShadowsBuiltin { builtin, span } => Diagnostic::error(
            Code::E0103,
            format!("`{builtin}` is the name of a built-in"),
            span,
            "shadows a built-in",
        )
        .with_help("choose another name"),
        CheckError::UnknownDataStage {
            name,
            span,
            source,
            candidates,
        } => {
            let kind = if source { "data source" } else { "transform" };
            let d = Diagnostic::error(
                Code::E0501,
                format!("unknown {kind} `{name}`"),
                span,
                format!("not a {kind}"),
            );
            match suggest(&name, candidates.iter().map(String::as_str)) {
                Some(best) => d.with_help(format!("did you mean `{best}`?")),
                None => d.with_help(format!("{kind}s: {}", candidates.join(", "))),
            }
        }
        CheckError::StartsWithTransform { name, span } => Diagnostic::error(Code::E0502, format!("data must start with a source, not the transform `{name}`"), span, "a transform")
            .with_help("start with a source: csv(..), mnist(..), series(..), text(..), synthetic.linear(..) or synthetic.blobs(..)"),
        CheckError::SecondSource { name, span } => Diagnostic::error(
            Code::E0502,
            format!("`{name}` is a source; only transforms can follow `|`"),
            span,
            "a second source",
        )
        .with_help("a data set has exactly one source"),
        CheckError::SplitOverOne { total, span } => Diagnostic::error(Code::E0503, "split fractions add up to more than 1", span, format!("train + val + test = {}", (total * 1e6).round() / 1e6))
            .with_help("the fractions are parts of the whole data set; leave `train` out to give it the rest"),
        CheckError::MnistHasTest { span } => Diagnostic::error(Code::E0503, "`mnist` already has its test part", span, "only `val` can be split off here")
            .with_help("write `split(val = 0.1)` to carve a validation part out of the 60,000 training images"),
        CheckError::CsvColumn { span } => Diagnostic::error(Code::E0504, "`csv` needs exactly one of `label` or `target`", span, "which column is predicted?")
            .with_help("write `label = \"col\"` for class ids (classification) or `target = \"col\"` for real values (regression)"),
        CheckError::ClassesWithoutLabel { span } => Diagnostic::error(
            Code::E0504,
            "`classes` only applies to `label` columns",
            span,
            "regression targets have no classes",
        ),
        other => unreachable!("not a diagnostic of items or data: {other:?}"),
    }
}
