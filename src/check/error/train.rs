//! The wording of `train` blocks: unknown or repeated settings, a model or
//! data set that is not there, a loss or metric that does not fit the data.

use super::suggest;
use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;
use crate::syntax::ast::Ident;

/// A problem of a `train` block itself (its settings and what it names).
#[derive(Clone, Debug, PartialEq)]
pub enum TrainProblem {
    /// E0106: a cell named as the model to train.
    CellTrained {
        /// The name written.
        model: Ident,
    },
    /// E0106: no model of this name.
    UnknownModel {
        /// The name written.
        model: Ident,
        /// The models there are, for a suggestion.
        candidates: Vec<String>,
    },
    /// E0105: no data set of this name.
    UnknownData {
        /// The name written.
        data: Ident,
        /// The data sets there are, for a suggestion.
        candidates: Vec<String>,
    },
    /// E0401: a setting `train` does not have.
    UnknownSetting {
        /// The name written.
        name: Ident,
        /// The settings there are.
        settings: Vec<String>,
    },
    /// E0402: a setting given twice.
    DuplicateSetting {
        /// Its name.
        name: String,
        /// The second setting.
        span: Span,
        /// The first one.
        first: Span,
    },
    /// E0402: `loss` or `optimizer` missing.
    MissingSetting {
        /// `loss` or `optimizer`.
        required: String,
        /// The block's first line.
        span: Span,
    },
    /// E0405: a loss for classes on real-valued targets, or the reverse.
    LossDoesNotFit {
        /// The loss's name.
        loss: String,
        /// Where it is set.
        span: Span,
        /// The data set's name.
        data: String,
        /// Where the data set is declared.
        data_span: Span,
        /// Whether the data has class labels.
        classification: bool,
    },
    /// E0405: a metric for classes on real-valued targets, or the reverse.
    MetricDoesNotFit {
        /// The metric's name.
        metric: String,
        /// Where it is listed.
        span: Span,
        /// The data set's name.
        data: String,
        /// Where the data set is declared.
        data_span: Span,
        /// Whether the data has class labels.
        classification: bool,
    },
}

impl From<TrainProblem> for Diagnostic {
    fn from(problem: TrainProblem) -> Diagnostic {
        match problem {
            TrainProblem::CellTrained { model } => Diagnostic::error(
                Code::E0106,
                format!("`{}` is a cell; only a model can be trained", model.name),
                model.span,
                "a cell",
            )
            .with_help(format!(
                "wrap it in a model: `model M(x: [T, I]) {{ {}(..) last dense(1) }}`",
                model.name
            )),
            TrainProblem::UnknownModel { model, candidates } => {
                let d = Diagnostic::error(
                    Code::E0106,
                    format!("unknown model `{}`", model.name),
                    model.span,
                    "no model of this name",
                );
                match suggest(&model.name, candidates.iter().map(String::as_str)) {
                    Some(best) => d.with_help(format!("did you mean `{best}`?")),
                    None => d,
                }
            }
            TrainProblem::UnknownData { data, candidates } => {
                let d = Diagnostic::error(
                    Code::E0105,
                    format!("unknown data set `{}`", data.name),
                    data.span,
                    "no data of this name",
                );
                match suggest(&data.name, candidates.iter().map(String::as_str)) {
                    Some(best) => d.with_help(format!("did you mean `{best}`?")),
                    None => {
                        d.with_help("declare it with `data NAME = csv(...)`, `mnist(...)`, ...")
                    }
                }
            }
            TrainProblem::UnknownSetting { name, settings } => {
                let d = Diagnostic::error(
                    Code::E0401,
                    format!("unknown setting `{}`", name.name),
                    name.span,
                    "not a train setting",
                );
                let list = settings.join(", ");
                match suggest(&name.name, settings.iter().map(String::as_str)) {
                    Some(best) => d.with_help(format!("did you mean `{best}`? settings: {list}")),
                    None => d.with_help(format!("settings: {list}")),
                }
            }
            TrainProblem::DuplicateSetting { name, span, first } => Diagnostic::error(
                Code::E0402,
                format!("setting `{name}` is given twice"),
                span,
                "given again here",
            )
            .with_label(first, "first given here"),
            TrainProblem::MissingSetting { required, span } => {
                let example = if required == "loss" {
                    "loss = cross_entropy"
                } else {
                    "optimizer = sgd(lr = 0.01)"
                };
                Diagnostic::error(
                    Code::E0402,
                    format!("`train` needs a `{required}`"),
                    span,
                    format!("no `{required}` setting"),
                )
                .with_help(format!("add `{example}`"))
            }
            TrainProblem::LossDoesNotFit {
                loss,
                span,
                data,
                data_span,
                classification,
            } => {
                let (what, fix) = if classification {
                    (
                        "class labels",
                        "use `cross_entropy` (several classes) or `bce` (two classes)",
                    )
                } else {
                    ("real-valued targets", "use `mse`, `half_mse` or `mae`")
                };
                Diagnostic::error(
                    Code::E0405,
                    format!("loss `{loss}` does not fit the data"),
                    span,
                    "this loss",
                )
                .with_label(data_span, format!("`{data}` has {what}"))
                .with_help(fix)
            }
            TrainProblem::MetricDoesNotFit {
                metric,
                span,
                data,
                data_span,
                classification,
            } => {
                let kind = if classification {
                    "classification"
                } else {
                    "regression"
                };
                let valid = if classification {
                    "accuracy, precision, recall, f1"
                } else {
                    "mae, mse, rmse, mape"
                };
                Diagnostic::error(
                    Code::E0405,
                    format!("metric `{metric}` does not fit {kind} data"),
                    span,
                    "this metric",
                )
                .with_label(data_span, format!("`{data}` is {kind} data"))
                .with_help(format!("metrics for {kind}: {valid}"))
            }
        }
    }
}
