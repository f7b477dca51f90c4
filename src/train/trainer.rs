//! The training loop.

use super::learner::Learner;
use super::least_squares::{self, RankDeficient};
use super::loss;
use super::metrics::{self, Confusion, Outcome, Reported};
use super::{design, grid};
use crate::autodiff::{Tape, Tensor};
use crate::data::{self as batch, Baseline, Loaded, Part, Targets};
use crate::interp::{Mode, ParamStore, RunError, Stepper};
use crate::ir::{Graph, Metric, Optimizer, TrainRun};
use crate::span::Span;
use std::time::Instant;

/// Rows per evaluation batch.
const EVAL_BATCH: usize = 1000;

/// What the loop reports as it goes.
#[derive(Clone, Debug)]
pub enum Event {
    /// An epoch begins.
    EpochStart {
        /// 1-based epoch number.
        epoch: i64,
        /// Batches in the epoch.
        batches: usize,
    },
    /// A training batch finished.
    Batch {
        /// Mean training loss so far in this epoch.
        running_loss: f64,
        /// Samples processed so far in this epoch.
        samples: usize,
        /// Seconds since the epoch started.
        seconds: f64,
    },
    /// An epoch ended.
    EpochEnd(EpochSummary),
    /// `least_squares` solved the system.
    Solved {
        /// Training samples.
        rows: usize,
        /// Learnable scalars.
        params: usize,
        /// Condition number of the column-scaled design.
        condition: f64,
    },
    /// `exhaustive` starts on this many grid points.
    GridStart {
        /// Points to evaluate.
        points: u64,
    },
    /// `exhaustive` has evaluated this many points.
    GridProgress {
        /// Points evaluated so far.
        done: u64,
    },
    /// `exhaustive` finished.
    GridDone {
        /// Points evaluated.
        points: u64,
        /// The smallest training loss found.
        best_loss: f64,
    },
    /// A closed-form or grid fit ended: the fitted model on the training
    /// and validation parts.
    Fitted {
        /// Loss and metrics on the training part.
        train: Evaluation,
        /// Loss and metrics on the validation part, if there is one.
        val: Option<Evaluation>,
    },
}

/// The numbers of one epoch.
#[derive(Clone, Debug)]
pub struct EpochSummary {
    /// 1-based epoch number.
    pub epoch: i64,
    /// Mean training loss over the epoch's batches, weighted by batch size.
    pub train_loss: f64,
    /// Loss and metrics on the validation part, if there is one.
    pub val: Option<Evaluation>,
}

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

/// Why training stopped early.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainError {
    /// A value became NaN or infinite.
    NonFinite {
        /// Path of the first layer concerned.
        path: String,
        /// Where it is written.
        span: Span,
        /// "output" or "gradient".
        what: &'static str,
        /// 1-based epoch.
        epoch: i64,
        /// 1-based step within the epoch.
        step: usize,
    },
    /// Something else went wrong while running the graph.
    Run(RunError),
    /// `least_squares` found no unique solution.
    RankDeficient(RankDeficient),
    /// The run cannot be carried out on this data (an empty training part,
    /// a grid too large).
    Refused(String),
}

impl std::fmt::Display for TrainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrainError::NonFinite {
                path,
                what,
                epoch,
                step,
                ..
            } => {
                write!(
                    f,
                    "the {what} of `{path}` became NaN or infinite at epoch {epoch}, step {step}"
                )
            }
            TrainError::Run(e) => write!(f, "{e}"),
            TrainError::RankDeficient(e) => write!(f, "{e}"),
            TrainError::Refused(why) => write!(f, "{why}"),
        }
    }
}

/// Trains `store` for `epochs` epochs of `run` on `data`, reporting through
/// `events`; returns the evaluation on the test part, if there is one.
pub fn train(
    run: &TrainRun,
    graph: &Graph,
    data: &Loaded,
    epochs: i64,
    store: &mut ParamStore,
    events: &mut dyn FnMut(Event),
) -> Result<Option<Evaluation>, TrainError> {
    if data.train.rows() == 0 {
        return Err(TrainError::Refused(format!(
            "the training part of `{}` has no samples",
            run.data
        )));
    }
    match run.optimizer {
        Optimizer::LeastSquares { l2 } => {
            let reduced =
                design::reduce(graph, store, &data.train, data).map_err(TrainError::Run)?;
            let solution = least_squares::solve(&reduced, l2).map_err(TrainError::RankDeficient)?;
            design::set_params(store, &solution.theta);
            events(Event::Solved {
                rows: reduced.rows,
                params: reduced.params(),
                condition: solution.condition,
            });
            report_fit(graph, store, data, run, events)?;
        }
        Optimizer::Exhaustive { from, to, step } => {
            let linear = crate::check::check_affine(graph).is_ok();
            let best = grid::search(graph, run, data, store, (from, to, step), linear, events)?;
            design::set_params(store, &best.theta);
            events(Event::GridDone {
                points: best.points,
                best_loss: best.loss,
            });
            report_fit(graph, store, data, run, events)?;
        }
        _ => {
            let batch_size = batch::batch_size(&run.batch);
            let mut learner = Learner::new(graph, run, std::mem::take(store));
            let result = train_epochs(&mut learner, data, epochs, batch_size, events);
            *store = learner.store;
            result?;
        }
    }
    match &data.test {
        Some(part) => Ok(Some(
            evaluate(graph, store, part, data, run).map_err(TrainError::Run)?,
        )),
        None => Ok(None),
    }
}

/// Reports a closed-form or grid fit on the training and validation parts.
fn report_fit(
    graph: &Graph,
    store: &ParamStore,
    data: &Loaded,
    run: &TrainRun,
    events: &mut dyn FnMut(Event),
) -> Result<(), TrainError> {
    let train = evaluate(graph, store, &data.train, data, run).map_err(TrainError::Run)?;
    let val = match &data.val {
        Some(part) => Some(evaluate(graph, store, part, data, run).map_err(TrainError::Run)?),
        None => None,
    };
    events(Event::Fitted { train, val });
    Ok(())
}

fn train_epochs(
    learner: &mut Learner,
    data: &Loaded,
    epochs: i64,
    batch_size: Option<usize>,
    events: &mut dyn FnMut(Event),
) -> Result<(), TrainError> {
    let (graph, run) = (learner.graph(), learner.run());
    for epoch in 1..=epochs {
        let batches = batch::epoch(&data.train, batch_size, run.seed, epoch as u64);
        events(Event::EpochStart {
            epoch,
            batches: batches.len(),
        });
        let started = Instant::now();
        let (mut total, mut samples) = (0.0f64, 0usize);
        for (step, rows) in batches.enumerate() {
            let part = data.train.select(&rows);
            let loss_value = learner.step_at(data.input(&part), &part.y, epoch, step + 1)?;
            total += loss_value as f64 * part.rows() as f64;
            samples += part.rows();
            events(Event::Batch {
                running_loss: total / samples.max(1) as f64,
                samples,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        let val = match &data.val {
            Some(part) => {
                Some(evaluate(graph, &learner.store, part, data, run).map_err(TrainError::Run)?)
            }
            None => None,
        };
        events(Event::EpochEnd(EpochSummary {
            epoch,
            train_loss: total / samples.max(1) as f64,
            val,
        }));
    }
    Ok(())
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
