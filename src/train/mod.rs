//! Training: the loop that drives batches through the [`crate::interp::Stepper`],
//! the losses, optimizers and metrics. It reports through [`Event`]s and never prints.

pub mod checkpoint;
pub mod design;
mod eval;
mod event;
pub mod grid;
pub mod interrupt;
mod learner;
pub mod least_squares;
pub mod loss;
pub mod memory;
pub mod metrics;
pub mod optim;
pub mod output;
pub mod predict;
mod trainer;

pub use eval::{Evaluation, evaluate};
pub use event::{EpochSummary, Event, TrainError};
pub use learner::Learner;
pub use trainer::{EpochHook, train};
