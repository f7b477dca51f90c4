//! The tape: an arena of values in record order, and the reverse pass.
//!
//! The ops themselves, forward and backward, are in `ops/`; the tape calls
//! their backward rules through [`BackwardRule`], so it needs no import of
//! them (they import the tape to record on it).

use super::op::{Op, OpKind};
use super::tensor::Tensor;

/// A value recorded on a tape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Var(usize);

struct Node {
    value: Tensor,
    op: Op,
    inputs: Vec<Var>,
    /// Whether a gradient flows to this node (some leaf below it wants one).
    needs_grad: bool,
}

/// Records operations in execution order. A tape made with
/// [`Tape::inference`] keeps values but no backward information.
pub struct Tape {
    nodes: Vec<Node>,
    recording: bool,
}

/// Gradients of a scalar with respect to every recorded value that needs one.
pub struct Grads {
    grads: Vec<Option<Tensor>>,
}

impl Grads {
    /// The gradient of `var`, if it needs one and the loss depends on it.
    pub fn get(&self, var: Var) -> Option<&Tensor> {
        self.grads.get(var.0).and_then(Option::as_ref)
    }

    /// Moves the gradient of `var` out, leaving none.
    pub fn take(&mut self, var: Var) -> Option<Tensor> {
        self.grads.get_mut(var.0).and_then(Option::take)
    }
}

impl Default for Tape {
    fn default() -> Tape {
        Tape::new()
    }
}

impl Tape {
    /// A tape that records for backward.
    pub fn new() -> Tape {
        Tape {
            nodes: Vec::new(),
            recording: true,
        }
    }

    /// A tape for evaluation: no gradients, no saved backward state.
    pub fn inference() -> Tape {
        Tape {
            nodes: Vec::new(),
            recording: false,
        }
    }

    /// Whether this tape records for backward.
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// Number of recorded values.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The value of `var`.
    pub fn value(&self, var: Var) -> &Tensor {
        &self.nodes[var.0].value
    }

    /// Moves the value of `var` out, leaving an empty tensor: for handing a
    /// parameter back to its store once the tape is done with.
    pub fn take_value(&mut self, var: Var) -> Tensor {
        std::mem::replace(
            &mut self.nodes[var.0].value,
            Tensor::zeros(ndarray::IxDyn(&[0])),
        )
    }

    /// The value of a scalar `var` such as a loss (NaN if it is empty).
    pub fn scalar(&self, var: Var) -> f32 {
        self.value(var).iter().next().copied().unwrap_or(f32::NAN)
    }

    /// Records an input (`needs_grad = false`) or parameter (`true`).
    pub fn leaf(&mut self, value: Tensor, needs_grad: bool) -> Var {
        self.nodes.push(Node {
            value,
            op: Op::Leaf,
            inputs: Vec::new(),
            needs_grad: needs_grad && self.recording,
        });
        Var(self.nodes.len() - 1)
    }

    /// Records `value`, computed by `op` from `inputs`. The op (and what it
    /// saved for backward) is kept only if a gradient will flow through it.
    pub(super) fn push(&mut self, value: Tensor, op: Op, inputs: Vec<Var>) -> Var {
        let needs_grad = self.recording && inputs.iter().any(|v| self.nodes[v.0].needs_grad);
        let op = if needs_grad { op } else { Op::Leaf };
        self.nodes.push(Node {
            value,
            op,
            inputs,
            needs_grad,
        });
        Var(self.nodes.len() - 1)
    }

    /// Gradients of the scalar `loss` with respect to every value that needs one.
    pub fn backward(&self, loss: Var) -> Grads {
        let mut grads: Vec<Option<Tensor>> = vec![None; self.nodes.len()];
        grads[loss.0] = Some(Tensor::ones(self.value(loss).raw_dim()));
        for index in (0..=loss.0).rev() {
            let node = &self.nodes[index];
            if !node.needs_grad || matches!(node.op, Op::Leaf) {
                continue;
            }
            let Some(grad) = grads[index].take() else {
                continue;
            };
            let contributions = node.op.input_grads(&BackwardNode {
                tape: self,
                node,
                grad: &grad,
            });
            grads[index] = Some(grad);
            for (input, contribution) in node.inputs.iter().zip(contributions) {
                if !self.nodes[input.0].needs_grad {
                    continue;
                }
                let Some(contribution) = contribution else {
                    continue;
                };
                match &mut grads[input.0] {
                    Some(existing) => *existing += &contribution,
                    slot @ None => *slot = Some(contribution),
                }
            }
        }
        Grads { grads }
    }
}

/// The kind of op behind each value on `tape`, in record order (a value no
/// gradient flows through is a leaf), so that the gradient-check test can
/// prove its cases exercise every kind.
#[doc(hidden)]
pub fn recorded_kinds(tape: &Tape) -> Vec<OpKind> {
    tape.nodes.iter().map(|node| node.op.kind()).collect()
}

/// The backward rules of the ops, implemented for [`Op`] next to each op's
/// forward computation in `ops/`.
pub(super) trait BackwardRule {
    /// The gradient flowing to each input of `node`, in input order (`None`
    /// for an input that gets none).
    fn input_grads(&self, node: &BackwardNode<'_>) -> Vec<Option<Tensor>>;
}

/// A node of the reverse pass as its backward rule sees it: the values of
/// its inputs, its output and the gradient of that output.
pub(super) struct BackwardNode<'t> {
    tape: &'t Tape,
    node: &'t Node,
    grad: &'t Tensor,
}

impl<'t> BackwardNode<'t> {
    /// The gradient of the node's output.
    pub(super) fn grad(&self) -> &'t Tensor {
        self.grad
    }

    /// The node's output.
    pub(super) fn output(&self) -> &'t Tensor {
        &self.node.value
    }

    /// The value of input `i`.
    pub(super) fn input(&self, i: usize) -> &'t Tensor {
        self.tape.value(self.node.inputs[i])
    }

    /// The number of inputs.
    pub(super) fn arity(&self) -> usize {
        self.node.inputs.len()
    }

    /// Whether input `i` exists and needs a gradient, so that a rule can
    /// skip the work for one nobody needs.
    pub(super) fn wants(&self, i: usize) -> bool {
        self.node
            .inputs
            .get(i)
            .is_some_and(|v| self.tape.nodes[v.0].needs_grad)
    }
}
