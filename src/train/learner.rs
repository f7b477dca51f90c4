//! One optimisation step on one batch, shared by the training loop and
//! `dl bench`.

use super::event::TrainError;
use super::loss;
use super::optim::{Optim, clip_global_norm};
use crate::autodiff::{Grads, Tape, Tensor, all_finite};
use crate::data::Targets;
use crate::interp::{Mode, ParamStore, RunError, Stepper};
use crate::ir::{Graph, TrainRun};
use std::collections::HashMap;

/// A model being trained: its parameters and its optimizer's state.
pub struct Learner<'a> {
    graph: &'a Graph,
    run: &'a TrainRun,
    /// The parameters and state (batchnorm running statistics).
    pub store: ParamStore,
    optim: Optim,
    /// Trainable parameter names, in graph order.
    order: Vec<String>,
}

impl<'a> Learner<'a> {
    /// Starts training `store` as `run` says (its optimizer, loss and clip).
    pub fn new(graph: &'a Graph, run: &'a TrainRun, store: ParamStore) -> Learner<'a> {
        let order = store.trainable().map(str::to_string).collect();
        Learner {
            graph,
            run,
            store,
            optim: Optim::new(&run.optimizer),
            order,
        }
    }

    /// The graph being trained.
    pub fn graph(&self) -> &'a Graph {
        self.graph
    }

    /// The `train` block being followed.
    pub fn run(&self) -> &'a TrainRun {
        self.run
    }

    /// Step `step` (1-based) of epoch `epoch` on one batch: [`Learner::step`]
    /// with that step's dropout seed, its errors located in the epoch.
    pub fn step_at(
        &mut self,
        input: Tensor,
        targets: &Targets,
        epoch: i64,
        step: usize,
    ) -> Result<f32, TrainError> {
        let dropout_seed = crate::seed::dropout_seed(self.run.seed, epoch as u64, step as u64);
        self.step(input, targets, dropout_seed)
            .map_err(|e| match e {
                RunError::NonFinite { path, span, what } => TrainError::NonFinite {
                    path,
                    span,
                    what,
                    epoch,
                    step,
                },
                other => TrainError::Run(other),
            })
    }

    /// The forward and backward passes of a step: the loss and the gradients,
    /// or the first value that is not finite.
    fn forward_backward(
        &self,
        stepper: &mut Stepper<'_>,
        tape: &mut Tape,
        targets: &Targets,
    ) -> Result<(f32, Grads), RunError> {
        let graph = self.graph;
        let output = stepper.run(tape)?;
        let loss_var = loss::record(tape, graph, stepper, output, self.run.loss, targets);
        let loss_value = tape.scalar(loss_var);
        if !loss_value.is_finite() {
            let node = &graph.nodes[graph.output];
            return Err(RunError::NonFinite {
                path: node.path.clone(),
                span: node.span,
                what: "loss",
            });
        }
        let grads = tape.backward(loss_var);
        let param_grads = || {
            self.order
                .iter()
                .filter_map(|name| grads.get(stepper.param_vars()[name]))
        };
        // A non-finite gradient anywhere reaches the parameters below it, so
        // checking them is enough to notice; only then is every layer's
        // gradient scanned, in execution order, to name the first culprit.
        if !param_grads().all(all_finite) {
            for (id, node) in graph.nodes.iter().enumerate() {
                if let Some(g) = stepper.value_of(id).and_then(|v| grads.get(v))
                    && !all_finite(g)
                {
                    return Err(RunError::NonFinite {
                        path: node.path.clone(),
                        span: node.span,
                        what: "gradient",
                    });
                }
            }
        }
        Ok((loss_value, grads))
    }

    /// One step on one batch (`input` is `[rows] + sample shape`); returns the
    /// batch's mean loss. A NaN or infinite output, loss or gradient stops it
    /// before the parameters change, naming the first layer concerned.
    pub fn step(
        &mut self,
        input: Tensor,
        targets: &Targets,
        dropout_seed: u64,
    ) -> Result<f32, RunError> {
        let graph = self.graph;
        let mut tape = Tape::new();
        let mut stepper = Stepper::moving_params(
            graph,
            &mut self.store,
            input,
            &mut tape,
            Mode::Train,
            dropout_seed,
        );
        let result = self.forward_backward(&mut stepper, &mut tape, targets);
        // The parameters go back to the store whatever happened.
        stepper.return_params(&mut self.store, &mut tape);
        let (loss_value, mut grads) = result?;
        let mut by_name: HashMap<String, Tensor> = HashMap::new();
        for name in &self.order {
            if let Some(g) = grads.take(stepper.param_vars()[name]) {
                by_name.insert(name.clone(), g);
            }
        }
        if let Some(max_norm) = self.run.clip {
            clip_global_norm(&mut by_name, &self.order, max_norm);
        }
        self.optim.step(&mut self.store, &by_name);
        for (name, value) in std::mem::take(&mut stepper.state_updates) {
            self.store.values.insert(name, value);
        }
        Ok(loss_value)
    }
}
