//! The model on a whole data part, in evaluation mode: its mean loss, and
//! its loss and metrics.

use super::loss;
use super::metrics::{self, Confusion, Outcome, Reported};
use crate::autodiff::{Tape, Tensor};
use crate::data::{self as batch, Baseline, Loaded, Part, Targets};
use crate::interp::{Mode, ParamStore, RunError, Stepper};
use crate::ir::{Graph, Metric, TrainRun};

/// Rows per evaluation batch.
const EVAL_BATCH: usize = 1000;

/// Loss and metrics on a data part.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// Mean loss.
    pub loss: f64,
    /// Each requested metric.
    pub metrics: Vec<(Metric, Reported)>,
    /// For classification, the confusion matrix.
    pub confusion: Option<Confusion>,
    /// A trivial predictor's score on the same part (persistence for a
    /// series, character frequencies for text), to compare against.
    pub baseline: Option<Baseline>,
}

/// The mean loss of the model on a whole part, in evaluation mode.
pub fn mean_loss(
    graph: &Graph,
    store: &ParamStore,
    part: &Part,
    data: &Loaded,
    run: &TrainRun,
) -> Result<f64, RunError> {
    mean_loss_with(graph, store, part, data, run, |_, _| {})
}

/// [`mean_loss`], handing each chunk's targets and output to `outputs`.
fn mean_loss_with(
    graph: &Graph,
    store: &ParamStore,
    part: &Part,
    data: &Loaded,
    run: &TrainRun,
    mut outputs: impl FnMut(&Targets, &Tensor),
) -> Result<f64, RunError> {
    let mut total = 0.0f64;
    for rows in batch::Batches::in_order(part, Some(EVAL_BATCH)) {
        let chunk = part.select(&rows);
        let mut tape = Tape::inference();
        let mut stepper = Stepper::new(graph, store, data.input(&chunk), &mut tape, Mode::Eval, 0);
        let output = stepper.run(&mut tape)?;
        let loss_var = loss::record(&mut tape, graph, &stepper, output, run.loss, &chunk.y);
        total += tape.scalar(loss_var) as f64 * chunk.rows() as f64;
        outputs(&chunk.y, tape.value(output));
    }
    Ok(total / part.rows().max(1) as f64)
}

/// Loss and metrics of the model on a whole part, in evaluation mode.
pub fn evaluate(
    graph: &Graph,
    store: &ParamStore,
    part: &Part,
    data: &Loaded,
    run: &TrainRun,
) -> Result<Evaluation, RunError> {
    let mut predicted_classes = Vec::with_capacity(part.rows());
    let mut predicted_values = Vec::with_capacity(part.rows());
    let loss = mean_loss_with(graph, store, part, data, run, |y, output| match y {
        Targets::Classes(_) | Targets::Sequences(_) => {
            predicted_classes.extend(loss::predicted_classes(graph, output))
        }
        Targets::Values(_) => predicted_values.extend(output.iter().copied()),
    })?;
    let (metrics, confusion) = match &part.y {
        Targets::Classes(_) | Targets::Sequences(_) => {
            let actual = part.y.class_ids().unwrap_or_default();
            let classes = data.classes.unwrap_or(2).max(2);
            let outcome = Outcome::Classes {
                predicted: &predicted_classes,
                actual: &actual,
                classes,
            };
            // Per-position targets (text) would give a vocabulary-sized
            // matrix nobody reads; one class per sample gets one.
            let confusion = matches!(part.y, Targets::Classes(_))
                .then(|| Confusion::new(classes, &actual, &predicted_classes));
            (metrics::evaluate(&run.metrics, &outcome), confusion)
        }
        Targets::Values(actual) => {
            let actual: Vec<f32> = actual.iter().copied().collect();
            let outcome = Outcome::Values {
                predicted: &predicted_values,
                actual: &actual,
            };
            (metrics::evaluate(&run.metrics, &outcome), None)
        }
    };
    Ok(Evaluation {
        loss,
        metrics,
        confusion,
        baseline: data.baseline(part),
    })
}
