//! The interpreter: runs a checked graph on the autodiff tape, one node at a
//! time through a [`Stepper`], so training and the REPL execute the same code.

mod params;

pub use params::{ParamStore, initial_tensor, standard_normal};

use crate::autodiff::{RecurrentKind, Tape, Tensor, Unary, Var};
use crate::ir::{Activation, BinOp, CellGraph, Graph, Node, NodeId, Op, Pool, Recurrent, Reduce};
use crate::span::Span;
use ndarray::IxDyn;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// Training (dropout active, batch statistics) or evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Dropout on, batchnorm uses and updates batch statistics.
    Train,
    /// Deterministic inference.
    Eval,
}

/// Why running a graph stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum RunError {
    /// A value became NaN or infinite.
    NonFinite {
        /// The node's path.
        path: String,
        /// Where the node is written.
        span: Span,
        /// What went non-finite ("output" or "gradient").
        what: &'static str,
    },
    /// A runtime shape differs from the checked one: a bug in `dl`.
    Internal(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::NonFinite { path, what, .. } => {
                write!(f, "the {what} of `{path}` is not finite (NaN or infinite)")
            }
            RunError::Internal(message) => write!(f, "internal error: {message}"),
        }
    }
}

/// What one step computed.
#[derive(Clone, Debug)]
pub struct StepReport {
    /// The node that ran.
    pub node: NodeId,
    /// Its output on the tape.
    pub var: Var,
}

/// What a graph's [`Op::Input`] node reads.
enum Feed {
    /// A model's input batch, put on the tape when the input node runs.
    Tensor(Tensor),
    /// One time step of a sequence already on the tape (a cell's step).
    Var(Var),
}

/// Runs a graph node by node on a tape.
pub struct Stepper<'g> {
    graph: &'g Graph,
    mode: Mode,
    next: usize,
    values: Vec<Option<Var>>,
    input: Feed,
    /// A cell step's state as of the previous step, by slot.
    states: Vec<Var>,
    params: HashMap<String, Var>,
    rng: ChaCha8Rng,
    check_finite: bool,
    /// New running statistics computed in training mode, by tensor name.
    pub state_updates: Vec<(String, Tensor)>,
}

impl<'g> Stepper<'g> {
    /// Prepares to run `graph` on `input` (batch first) with the parameters in
    /// `store`, recorded on `tape`. `seed` drives dropout.
    pub fn new(
        graph: &'g Graph,
        store: &ParamStore,
        input: Tensor,
        tape: &mut Tape,
        mode: Mode,
        seed: u64,
    ) -> Stepper<'g> {
        let mut params = HashMap::new();
        for (name, trainable) in &store.order {
            params.insert(
                name.clone(),
                tape.leaf(store.get(name).clone(), *trainable && tape.is_recording()),
            );
        }
        Stepper {
            graph,
            mode,
            next: 0,
            values: vec![None; graph.nodes.len()],
            input: Feed::Tensor(input),
            states: Vec::new(),
            params,
            rng: ChaCha8Rng::seed_from_u64(seed),
            check_finite: true,
            state_updates: Vec::new(),
        }
    }

    /// Lets NaN and infinite outputs through instead of stopping with
    /// [`RunError::NonFinite`], so the REPL can show them.
    pub fn allow_non_finite(&mut self) {
        self.check_finite = false;
    }

    /// The tape variable of each parameter, by name.
    pub fn param_vars(&self) -> &HashMap<String, Var> {
        &self.params
    }

    /// Whether every node has run.
    pub fn done(&self) -> bool {
        self.next >= self.graph.nodes.len()
    }

    /// The output of node `id`, if it has run.
    pub fn value_of(&self, id: NodeId) -> Option<Var> {
        self.values.get(id).copied().flatten()
    }

    /// Runs the next node.
    pub fn step(&mut self, tape: &mut Tape) -> Result<StepReport, RunError> {
        let id = self.next;
        let graph = self.graph;
        let node = &graph.nodes[id];
        let var = self.execute(node, tape)?;
        check_shape(node, tape.value(var))?;
        if self.check_finite
            && !matches!(
                node.op,
                Op::Input | Op::Param | Op::Constant(_) | Op::StateIn(_)
            )
            && tape.value(var).iter().any(|x| !x.is_finite())
        {
            return Err(RunError::NonFinite {
                path: node.path.clone(),
                span: node.span,
                what: "output",
            });
        }
        self.values[id] = Some(var);
        self.next += 1;
        Ok(StepReport { node: id, var })
    }

    /// Runs the remaining nodes and returns the graph's output.
    pub fn run(&mut self, tape: &mut Tape) -> Result<Var, RunError> {
        while !self.done() {
            self.step(tape)?;
        }
        Ok(self.values[self.graph.output].expect("the output node ran"))
    }

    fn input_var(&self, node: &Node, i: usize) -> Var {
        self.values[node.inputs[i]].expect("inputs run before their users")
    }

    fn param(&self, node: &Node, i: usize) -> Var {
        self.params[&node.params[i].name]
    }

    /// The runtime axis of a per-sample axis of `node`'s input.
    fn runtime_axis(&self, node: &Node, axis: usize) -> usize {
        axis + usize::from(self.graph.nodes[node.inputs[0]].shape.batched)
    }

    fn execute(&mut self, node: &'g Node, tape: &mut Tape) -> Result<Var, RunError> {
        Ok(match &node.op {
            Op::Input => match &self.input {
                Feed::Tensor(t) => tape.leaf(t.clone(), false),
                Feed::Var(v) => *v,
            },
            Op::Param => self.param(node, 0),
            Op::Constant(c) => tape.leaf(Tensor::from_elem(IxDyn(&[]), *c as f32), false),
            Op::StateIn(slot) => *self.states.get(*slot).ok_or_else(|| {
                RunError::Internal(format!("`{}`: state read outside a cell", node.path))
            })?,
            Op::Recurrent { kind, .. } => {
                let kind = match kind {
                    Recurrent::Rnn => RecurrentKind::Rnn,
                    Recurrent::Lstm => RecurrentKind::Lstm,
                    Recurrent::Gru => RecurrentKind::Gru,
                };
                let x = self.input_var(node, 0);
                tape.recurrent(kind, x, self.param(node, 0), self.param(node, 1))
            }
            Op::Cell(cell) => self.run_cell(node, cell, tape)?,
            Op::Conv2d { window, bias, .. } => {
                let b = bias.then(|| self.param(node, 1));
                tape.conv2d(
                    self.input_var(node, 0),
                    self.param(node, 0),
                    b,
                    as_usize(window.stride),
                    as_usize(window.padding),
                )
            }
            Op::Pool { kind, window } => tape.pool2d(
                self.input_var(node, 0),
                *kind == Pool::Max,
                as_usize(window.kernel),
                as_usize(window.stride),
                as_usize(window.padding),
                window.ceil,
            ),
            Op::Dense { bias, .. } => {
                let x = self.input_var(node, 0);
                let y = tape.matmul(x, self.param(node, 0));
                if *bias {
                    tape.add(y, self.param(node, 1))
                } else {
                    y
                }
            }
            Op::GlobalAvgPool => {
                let x = self.input_var(node, 0);
                tape.mean(x, &[2, 3], false)
            }
            Op::Flatten | Op::Reshape => {
                let x = self.input_var(node, 0);
                let batch = tape.value(x).shape()[0];
                let mut shape = vec![batch];
                shape.extend(node.shape.known_dims().ok_or_else(|| {
                    RunError::Internal(format!("`{}` has a symbolic shape at run time", node.path))
                })?);
                tape.reshape(x, &shape)
            }
            Op::Dropout { p } => {
                let x = self.input_var(node, 0);
                if self.mode == Mode::Eval || *p == 0.0 {
                    x
                } else {
                    let keep = 1.0 - *p as f32;
                    let rng = &mut self.rng;
                    let mask = tape.value(x).mapv(|_| {
                        if rng.random::<f32>() < keep {
                            1.0 / keep
                        } else {
                            0.0
                        }
                    });
                    tape.mul_const(x, mask)
                }
            }
            Op::BatchNorm { momentum, eps } => {
                self.batchnorm(node, tape, *momentum as f32, *eps as f32)
            }
            Op::Embedding { .. } => {
                let x = self.input_var(node, 0);
                let ids: Vec<usize> = tape.value(x).iter().map(|&v| v.max(0.0) as usize).collect();
                let vocab = tape.value(self.param(node, 0)).shape()[0];
                if let Some(bad) = ids.iter().find(|&&i| i >= vocab) {
                    return Err(RunError::Internal(format!(
                        "`{}`: id {bad} is outside the vocabulary of {vocab}",
                        node.path
                    )));
                }
                let shape = tape.value(x).shape().to_vec();
                tape.gather(self.param(node, 0), ids, &shape)
            }
            Op::Activation(a) => {
                let f = match a {
                    Activation::Sigmoid => Unary::Sigmoid,
                    Activation::Tanh => Unary::Tanh,
                    Activation::Relu => Unary::Relu,
                    Activation::Exp => Unary::Exp,
                    Activation::Log => Unary::Log,
                };
                tape.unary(f, self.input_var(node, 0))
            }
            Op::LeakyRelu { slope } => {
                tape.unary(Unary::LeakyRelu(*slope as f32), self.input_var(node, 0))
            }
            Op::Softmax { axis } => {
                let axis = self.runtime_axis(node, *axis);
                tape.softmax(self.input_var(node, 0), axis)
            }
            Op::Binary(op) => {
                let (a, b) = (self.input_var(node, 0), self.input_var(node, 1));
                match op {
                    BinOp::Add => tape.add(a, b),
                    BinOp::Sub => tape.sub(a, b),
                    BinOp::Mul => tape.mul(a, b),
                    BinOp::Div => tape.div(a, b),
                    BinOp::MatMul => tape.matmul(a, b),
                }
            }
            Op::MatMul => tape.matmul(self.input_var(node, 0), self.input_var(node, 1)),
            Op::Neg => tape.neg(self.input_var(node, 0)),
            Op::Concat { axis } => {
                let axis = self.runtime_axis(node, *axis);
                let parts: Vec<Var> = (0..node.inputs.len())
                    .map(|i| self.input_var(node, i))
                    .collect();
                tape.concat(&parts, axis)
            }
            Op::Reduce { kind, axis } => {
                let x = self.input_var(node, 0);
                let offset = usize::from(self.graph.nodes[node.inputs[0]].shape.batched);
                let axes: Vec<usize> = match axis {
                    Some(a) => vec![a + offset],
                    None => (offset..tape.value(x).ndim()).collect(),
                };
                match kind {
                    Reduce::Sum => tape.sum(x, &axes, false),
                    Reduce::Mean => tape.mean(x, &axes, false),
                }
            }
            Op::Last => {
                let x = self.input_var(node, 0);
                let axis = self.runtime_axis(node, 0);
                let steps = tape.value(x).shape()[axis];
                tape.select(x, axis, steps.saturating_sub(1))
            }
        })
    }

    /// Runs a cell's step graph along the time axis (axis 1) of its input,
    /// each step on the previous step's state, and stacks the step outputs
    /// along time. Every step's ops are recorded on the tape, so backward is
    /// backpropagation through time; the parameters are the same tape leaves
    /// at every step, so their gradients sum over the steps.
    fn run_cell(
        &mut self,
        node: &'g Node,
        cell: &'g CellGraph,
        tape: &mut Tape,
    ) -> Result<Var, RunError> {
        let x = self.input_var(node, 0);
        let shape = tape.value(x).shape().to_vec();
        let (batch, steps) = (shape[0], shape[1]);
        let mut child = Stepper {
            graph: &cell.step,
            mode: self.mode,
            next: 0,
            values: vec![None; cell.step.nodes.len()],
            input: Feed::Var(x),
            states: Vec::new(),
            params: self.params.clone(),
            rng: ChaCha8Rng::seed_from_u64(self.rng.random()),
            state_updates: Vec::new(),
            check_finite: self.check_finite,
        };
        for slot in &cell.state {
            let mut dims = vec![batch];
            dims.extend(slot.shape.known_dims().ok_or_else(|| {
                RunError::Internal(format!(
                    "`{}`: state `{}` has a symbolic shape at run time",
                    node.path, slot.name
                ))
            })?);
            let value = initial_tensor(&dims, &slot.init, &mut child.rng);
            child.states.push(tape.leaf(value, false));
        }
        let mut outputs = Vec::with_capacity(steps);
        for t in 0..steps {
            child.input = Feed::Var(tape.select(x, 1, t));
            child.next = 0;
            child.values.iter_mut().for_each(|v| *v = None);
            let out = child.run(tape)?;
            child.states = cell
                .state
                .iter()
                .map(|slot| child.values[slot.next].expect("the step graph ran"))
                .collect();
            let mut step_shape = tape.value(out).shape().to_vec();
            step_shape.insert(1, 1);
            outputs.push(tape.reshape(out, &step_shape));
        }
        self.state_updates.append(&mut child.state_updates);
        Ok(tape.concat(&outputs, 1))
    }

    fn batchnorm(&mut self, node: &Node, tape: &mut Tape, momentum: f32, eps: f32) -> Var {
        let x = self.input_var(node, 0);
        let rank = tape.value(x).ndim();
        // Channel axis 1; statistics over the batch and every axis after the channel.
        let axes: Vec<usize> = std::iter::once(0).chain(2..rank).collect();
        let mut stat_shape = vec![1; rank];
        stat_shape[1] = tape.value(x).shape()[1];
        let gamma = tape.reshape(self.param(node, 0), &stat_shape);
        let beta = tape.reshape(self.param(node, 1), &stat_shape);
        let (mean, var) = if self.mode == Mode::Train {
            let mean = tape.mean(x, &axes, true);
            let centered = tape.sub(x, mean);
            let squared = tape.mul(centered, centered);
            let var = tape.mean(squared, &axes, true);
            let count: usize = axes.iter().map(|&a| tape.value(x).shape()[a]).product();
            // Running variance is unbiased, as in PyTorch.
            let unbiased = count as f32 / (count.max(2) - 1) as f32;
            let names = [&node.params[2].name, &node.params[3].name];
            let old_mean = tape.value(self.params[names[0]]).clone();
            let old_var = tape.value(self.params[names[1]]).clone();
            let batch_mean = tape.value(mean).iter().copied().collect::<Vec<f32>>();
            let batch_var = tape.value(var).iter().copied().collect::<Vec<f32>>();
            let new_mean = Tensor::from_shape_vec(
                old_mean.raw_dim(),
                old_mean
                    .iter()
                    .zip(&batch_mean)
                    .map(|(o, b)| (1.0 - momentum) * o + momentum * b)
                    .collect(),
            )
            .expect("same size");
            let new_var = Tensor::from_shape_vec(
                old_var.raw_dim(),
                old_var
                    .iter()
                    .zip(&batch_var)
                    .map(|(o, b)| (1.0 - momentum) * o + momentum * b * unbiased)
                    .collect(),
            )
            .expect("same size");
            self.state_updates.push((names[0].clone(), new_mean));
            self.state_updates.push((names[1].clone(), new_var));
            (mean, var)
        } else {
            let mean = tape.reshape(self.param(node, 2), &stat_shape);
            let var = tape.reshape(self.param(node, 3), &stat_shape);
            (mean, var)
        };
        let centered = tape.sub(x, mean);
        let eps_var = tape.leaf(Tensor::from_elem(IxDyn(&[]), eps), false);
        let shifted = tape.add(var, eps_var);
        let std = tape.unary(Unary::Sqrt, shifted);
        let normalized = tape.div(centered, std);
        let scaled = tape.mul(normalized, gamma);
        tape.add(scaled, beta)
    }
}

fn as_usize(pair: [i64; 2]) -> [usize; 2] {
    [pair[0] as usize, pair[1] as usize]
}

/// Checks a runtime value against the checked shape of its node.
fn check_shape(node: &Node, value: &Tensor) -> Result<(), RunError> {
    let runtime = value.shape();
    let dims = if node.shape.batched {
        runtime.get(1..).unwrap_or(&[])
    } else {
        runtime
    };
    let agrees = dims.len() == node.shape.rank()
        && dims
            .iter()
            .zip(&node.shape.dims)
            .all(|(&r, d)| d.as_known().is_none_or(|k| k as usize == r));
    if agrees {
        Ok(())
    } else {
        Err(RunError::Internal(format!(
            "`{}` produced shape {:?}, but the checker inferred {}",
            node.path, runtime, node.shape
        )))
    }
}

/// Runs a whole graph in evaluation mode on `input` and returns the output values.
pub fn predict(graph: &Graph, store: &ParamStore, input: Tensor) -> Result<Tensor, RunError> {
    let mut tape = Tape::inference();
    let mut stepper = Stepper::new(graph, store, input, &mut tape, Mode::Eval, 0);
    let out = stepper.run(&mut tape)?;
    Ok(tape.value(out).clone())
}
