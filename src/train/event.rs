//! What training reports as it goes, and why it stops early: shared by the
//! loop, the learner that takes its steps and the grid search.

use super::eval::Evaluation;
use super::least_squares::RankDeficient;
use crate::interp::RunError;
use crate::span::Span;

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
    /// A stop was asked for ([`super::interrupt`]); the weights are those
    /// after this step.
    Interrupted {
        /// 1-based epoch.
        epoch: i64,
        /// 1-based step within the epoch, the last one completed.
        step: usize,
    },
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
            TrainError::Interrupted { epoch, step } => {
                write!(f, "interrupted after epoch {epoch}, step {step}")
            }
        }
    }
}
