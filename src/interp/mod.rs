//! The interpreter: runs a checked graph on the autodiff tape, one node at a
//! time through a [`Stepper`], so training and the REPL execute the same code.

mod params;

pub use params::{ParamStore, initial_tensor, standard_normal};

pub use crate::nn::Mode;

use crate::autodiff::{Tape, Tensor, Var};
use crate::ir::{Arith, CellGraph, Graph, Node, NodeId, Op};
use crate::span::Span;
use ndarray::IxDyn;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

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
        Stepper::with_params(graph, params, input, mode, seed)
    }

    /// [`Stepper::new`] that moves the parameters out of `store` onto the
    /// tape instead of copying them (a training step, where copying every
    /// weight every step would cost as much as a layer). Put them back with
    /// [`Stepper::return_params`] once the tape is done with, whatever
    /// happened.
    pub fn moving_params(
        graph: &'g Graph,
        store: &mut ParamStore,
        input: Tensor,
        tape: &mut Tape,
        mode: Mode,
        seed: u64,
    ) -> Stepper<'g> {
        let mut params = HashMap::new();
        for (name, trainable) in &store.order {
            let value = store
                .values
                .remove(name)
                .unwrap_or_else(|| panic!("internal error: no tensor `{name}` in the store"));
            params.insert(
                name.clone(),
                tape.leaf(value, *trainable && tape.is_recording()),
            );
        }
        Stepper::with_params(graph, params, input, mode, seed)
    }

    /// Moves the parameters that [`Stepper::moving_params`] put on `tape`
    /// back into `store`.
    pub fn return_params(&self, store: &mut ParamStore, tape: &mut Tape) {
        for (name, &var) in &self.params {
            store.values.insert(name.clone(), tape.take_value(var));
        }
    }

    fn with_params(
        graph: &'g Graph,
        params: HashMap<String, Var>,
        input: Tensor,
        mode: Mode,
        seed: u64,
    ) -> Stepper<'g> {
        Stepper {
            graph,
            mode,
            next: 0,
            values: vec![None; graph.nodes.len()],
            input: Feed::Tensor(input),
            states: Vec::new(),
            params,
            rng: crate::seed::dropout(seed),
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
            && !crate::autodiff::all_finite(tape.value(var))
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
        self.value_of_input(node.inputs[i])
    }

    fn value_of_input(&self, id: NodeId) -> Var {
        self.values[id].expect("inputs run before their users")
    }

    fn execute(&mut self, node: &'g Node, tape: &mut Tape) -> Result<Var, RunError> {
        Ok(match &node.op {
            Op::Input => match &self.input {
                Feed::Tensor(t) => tape.leaf(t.clone(), false),
                Feed::Var(v) => *v,
            },
            Op::Constant(c) => tape.leaf(Tensor::from_elem(IxDyn(&[]), *c as f32), false),
            Op::StateIn(slot) => *self.states.get(*slot).ok_or_else(|| {
                RunError::Internal(format!("`{}`: state read outside a cell", node.path))
            })?,
            Op::Cell(cell) => self.run_cell(node, cell, tape)?,
            Op::Param => self.params[&node.params[0].name],
            Op::Layer(layer) => {
                let batched = self.graph.nodes[node.inputs[0]].shape.batched;
                let mut cx = crate::nn::Forward {
                    tape,
                    node,
                    inputs: node
                        .inputs
                        .iter()
                        .map(|&i| self.value_of_input(i))
                        .collect(),
                    batched,
                    params: &self.params,
                    mode: self.mode,
                    rng: &mut self.rng,
                    state_updates: &mut self.state_updates,
                };
                crate::nn::forward(layer, &mut cx).map_err(RunError::Internal)?
            }
            Op::Arith(op) => {
                let (a, b) = (self.input_var(node, 0), self.input_var(node, 1));
                match op {
                    Arith::Add => tape.add(a, b),
                    Arith::Sub => tape.sub(a, b),
                    Arith::Mul => tape.mul(a, b),
                    Arith::Div => tape.div(a, b),
                }
            }
            Op::MatMul => tape.matmul(self.input_var(node, 0), self.input_var(node, 1)),
            Op::Neg => tape.neg(self.input_var(node, 0)),
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
            rng: crate::seed::dropout(self.rng.random()),
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
