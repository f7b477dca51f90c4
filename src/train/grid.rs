//! `optimizer = exhaustive(from, to, step)`: the loss at every point of a
//! grid over all learnable scalars; the best point wins (the first in grid
//! order on ties, the last parameter varying fastest).
//!
//! For a model linear in its parameters under `mse` or `half_mse`, the loss
//! at a point is computed from the reduced system of [`super::design`] in
//! O(P²) instead of a pass over the data; it is the same number, up to
//! rounding. Any other model is run on the whole training part at every point.

use super::design::{self, Reduced};
use super::eval::mean_loss;
use super::event::{Event, TrainError};
use crate::check::{MAX_LEAST_SQUARES_PARAMS, grid_points, grid_values};
use crate::data::Loaded;
use crate::interp::{ParamStore, RunError};
use crate::ir::{Graph, Loss, TrainRun};

/// The best grid point.
#[derive(Clone, Debug)]
pub struct GridResult {
    /// Its parameters, in store order.
    pub theta: Vec<f64>,
    /// Its training loss.
    pub loss: f64,
    /// Points evaluated.
    pub points: u64,
}

/// How the loss of one grid point is computed.
enum Evaluator<'a> {
    /// From the reduced system; `factor` turns a sum of squares into the loss.
    Quadratic { reduced: Reduced, factor: f64 },
    /// By running the model.
    Model {
        graph: &'a Graph,
        run: &'a TrainRun,
        data: &'a Loaded,
        store: ParamStore,
    },
}

impl Evaluator<'_> {
    fn loss(&mut self, theta: &[f64]) -> Result<f64, RunError> {
        match self {
            Evaluator::Quadratic { reduced, factor } => Ok(reduced.squared_error(theta) * *factor),
            Evaluator::Model {
                graph,
                run,
                data,
                store,
            } => {
                design::set_params(store, theta);
                // A point where the model overflows is not a candidate.
                match mean_loss(graph, store, &data.train, data, run) {
                    Err(RunError::NonFinite { .. }) => Ok(f64::INFINITY),
                    other => other,
                }
            }
        }
    }
}

/// Searches the grid of `exhaustive(from, to, step)` over every learnable
/// scalar of `store`, reporting progress through `events`.
pub fn search(
    graph: &Graph,
    run: &TrainRun,
    data: &Loaded,
    store: &ParamStore,
    (from, to, step): (f64, f64, f64),
    linear: bool,
    events: &mut dyn FnMut(Event),
) -> Result<GridResult, TrainError> {
    let params = store.count();
    let values = grid_values(from, to, step);
    let points = grid_points(values, params).ok_or_else(|| {
        TrainError::Refused(format!(
            "the grid has {values}^{params} points, more than the limit of 10^8"
        ))
    })?;
    // The shortcut costs one model run per parameter up front.
    let shortcut = linear && params as i64 <= MAX_LEAST_SQUARES_PARAMS && points > params as u64;
    let values = values as u64;
    let mut evaluator = match run.loss {
        Loss::Mse | Loss::HalfMse if shortcut => {
            let rows = data.train.rows().max(1) as f64;
            Evaluator::Quadratic {
                reduced: design::reduce(graph, store, &data.train, data)
                    .map_err(TrainError::Run)?,
                factor: if run.loss == Loss::HalfMse {
                    0.5 / rows
                } else {
                    1.0 / rows
                },
            }
        }
        _ => Evaluator::Model {
            graph,
            run,
            data,
            store: store.clone(),
        },
    };
    events(Event::GridStart { points });
    let report_every = (points / 200).max(1);
    let mut index = vec![0u64; params];
    let mut theta = vec![from; params];
    let mut best = (f64::INFINITY, theta.clone());
    for done in 1..=points {
        let loss = evaluator.loss(&theta).map_err(TrainError::Run)?;
        if loss < best.0 {
            best = (loss, theta.clone());
        }
        if done % report_every == 0 || done == points {
            events(Event::GridProgress { done });
        }
        // The next point: an odometer with the last parameter fastest.
        for axis in (0..params).rev() {
            index[axis] += 1;
            if index[axis] < values {
                theta[axis] = from + index[axis] as f64 * step;
                break;
            }
            index[axis] = 0;
            theta[axis] = from;
        }
    }
    Ok(GridResult {
        theta: best.1,
        loss: best.0,
        points,
    })
}
