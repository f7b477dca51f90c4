//! The conditions of the optimizers that do not descend a gradient:
//! `least_squares` (a squared-error loss, a model linear in its parameters, few
//! enough of them) and `exhaustive` (a grid small enough to search).

use super::settings::loss_name;
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::{Loss, Optimizer, TrainRun};

/// The most learnable scalars `least_squares` fits (it runs the model once
/// per parameter to build the design matrix).
pub const MAX_LEAST_SQUARES_PARAMS: i64 = 1000;

/// The most grid points `exhaustive` evaluates.
pub const MAX_GRID_POINTS: f64 = 1e8;

/// The number of values `exhaustive(from, to, step)` tries per parameter
/// (as a float: it can exceed any integer type for absurd arguments).
pub fn grid_values(from: f64, to: f64, step: f64) -> f64 {
    // A small tolerance so that `to` itself is on the grid despite rounding.
    ((to - from) / step + 1e-9).floor() + 1.0
}

/// The number of points of the grid over `params` scalars, if it is within
/// [`MAX_GRID_POINTS`].
pub fn grid_points(values: f64, params: usize) -> Option<u64> {
    let points = values.powi(params.min(i32::MAX as usize) as i32);
    (points.is_finite() && points <= MAX_GRID_POINTS).then_some(points as u64)
}

/// Checks that the closed-form and grid-search optimizers can fit `graph`:
/// `least_squares` needs a squared-error loss and a model linear in its
/// parameters; `exhaustive` needs a grid of at most [`MAX_GRID_POINTS`].
pub(super) fn check_fit_method(
    run: &TrainRun,
    graph: &crate::ir::Graph,
    optimizer_span: crate::span::Span,
    loss_span: Option<crate::span::Span>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    match run.optimizer {
        Optimizer::LeastSquares { .. } => {
            if let Some(span) = loss_span
                && !matches!(run.loss, Loss::Mse | Loss::HalfMse)
            {
                out.push(
                    Diagnostic::error(
                        Code::E0407,
                        format!(
                            "`least_squares` minimises squared error, not `{}`",
                            loss_name(run.loss)
                        ),
                        span,
                        "this loss",
                    )
                    .with_label(optimizer_span, "fitted by least squares here")
                    .with_help(
                        "use `loss = mse` or `loss = half_mse`, or a gradient optimizer such as \
                         `sgd(lr = 0.1)`",
                    ),
                );
            }
            if let Some(params) = graph.param_count().as_known()
                && params > MAX_LEAST_SQUARES_PARAMS
            {
                out.push(
                    Diagnostic::error(
                        Code::E0407,
                        format!(
                            "`least_squares` fits at most {MAX_LEAST_SQUARES_PARAMS} parameters; `{}` has {params}",
                            run.model
                        ),
                        optimizer_span,
                        "fitted by least squares here",
                    )
                    .with_note("the design matrix is built by running the model once per parameter")
                    .with_help("train this model with a gradient optimizer such as `sgd(lr = 0.1)`"),
                );
            } else if let Err(why) = super::linear::check_affine(graph) {
                let node = &graph.nodes[why.node];
                let headline = if graph.param_count().as_known() == Some(0) {
                    format!(
                        "`{}` has no parameters for `least_squares` to fit",
                        run.model
                    )
                } else {
                    format!(
                        "`least_squares` needs a model that is linear in its parameters, and `{}` is not",
                        run.model
                    )
                };
                out.push(
                    Diagnostic::error(Code::E0407, headline, node.span, why.reason)
                        .with_label(optimizer_span, "fitted by least squares here")
                        .with_note(
                            "least squares solves for θ in X θ ≈ y, so the output must be X θ \
                         (plus terms without parameters) for a matrix X computed from the input",
                        )
                        .with_help(
                            "fit a linear model (`dense(1)` or `x @ w + b`), or train this one \
                         with a gradient optimizer such as `sgd(lr = 0.1)`",
                        ),
                );
            }
        }
        Optimizer::Exhaustive { from, to, step } => {
            if let Some(params) = graph.param_count().as_known() {
                let values = grid_values(from, to, step);
                let points = values.powi(params.min(i32::MAX as i64) as i32);
                if grid_points(values, params as usize).is_none() {
                    out.push(
                        Diagnostic::error(
                            Code::E0407,
                            "the grid of `exhaustive` is too large",
                            optimizer_span,
                            format!(
                                "{} values for each of {params} parameters: \
                                 {}^{params} = {} evaluations",
                                format_points(values),
                                format_points(values),
                                format_points(points)
                            ),
                        )
                        .with_note("exhaustive search evaluates the loss at every grid point; the limit is 10^8 points")
                        .with_help(if params > 3 {
                            "grid search suits models with a handful of parameters: use \
                             `least_squares` or a gradient optimizer"
                        } else {
                            "use a larger `step` or a narrower range from `from` to `to`"
                        }),
                    );
                }
            }
        }
        _ => {}
    }
    out
}

/// `1.2e15`-style text for a large count, exact below a million.
fn format_points(points: f64) -> String {
    if !points.is_finite() {
        "more than 10^308".to_string()
    } else if points < 1e6 {
        format!("{points:.0}")
    } else {
        format!("{points:.1e}")
    }
}
