//! The training loop.

use super::eval::{Evaluation, evaluate};
use super::event::{EpochSummary, Event, TrainError};
use super::learner::Learner;
use super::least_squares;
use super::{design, grid};
use crate::data::{self as batch, Loaded};
use crate::interp::ParamStore;
use crate::ir::{Graph, Optimizer, TrainRun};
use std::time::Instant;

/// What the caller does with the weights at the end of an epoch (saving a
/// checkpoint every so many epochs); an error stops the training.
pub type EpochHook<'a> = &'a mut dyn FnMut(i64, &ParamStore) -> Result<(), String>;

/// Trains `store` for `epochs` epochs of `run` on `data`, reporting through
/// `events` and handing the weights to `after_epoch` at the end of each
/// epoch; returns the evaluation on the test part, if there is one.
pub fn train(
    run: &TrainRun,
    graph: &Graph,
    data: &Loaded,
    epochs: i64,
    store: &mut ParamStore,
    events: &mut dyn FnMut(Event),
    after_epoch: EpochHook,
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
            let result = train_epochs(&mut learner, data, epochs, batch_size, events, after_epoch);
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
    after_epoch: EpochHook,
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
            if super::interrupt::requested() {
                return Err(TrainError::Interrupted {
                    epoch,
                    step: step + 1,
                });
            }
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
        after_epoch(epoch, &learner.store).map_err(TrainError::Refused)?;
    }
    Ok(())
}
