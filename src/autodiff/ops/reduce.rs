//! Sums and means over axes.

use crate::autodiff::op::Op;
use crate::autodiff::tape::{BackwardNode, Tape, Var};
use crate::autodiff::tensor::Tensor;
use ndarray::Axis;

impl Tape {
    /// Sum over `axes`, keeping them as size-1 axes if `keep`.
    pub fn sum(&mut self, a: Var, axes: &[usize], keep: bool) -> Var {
        let mut axes = axes.to_vec();
        axes.sort_unstable();
        axes.dedup();
        let value = sum_axes(self.value(a), &axes, keep);
        self.push(value, Op::Sum { axes, keep }, vec![a])
    }

    /// Mean over `axes`, keeping them as size-1 axes if `keep`.
    pub fn mean(&mut self, a: Var, axes: &[usize], keep: bool) -> Var {
        let count: usize = axes.iter().map(|&ax| self.value(a).shape()[ax]).product();
        let total = self.sum(a, axes, keep);
        self.scale(total, 1.0 / count.max(1) as f32)
    }
}

/// Sums `a` over the sorted `axes`, from the last so the others keep their
/// positions.
fn sum_axes(a: &Tensor, axes: &[usize], keep: bool) -> Tensor {
    let mut out = a.clone();
    for &axis in axes.iter().rev() {
        out = out.sum_axis(Axis(axis));
        if keep {
            out = out.insert_axis(Axis(axis));
        }
    }
    out
}

pub(super) fn sum_backward(
    axes: &[usize],
    keep: bool,
    node: &BackwardNode<'_>,
) -> Vec<Option<Tensor>> {
    let mut g = node.grad().clone();
    if !keep {
        for &axis in axes {
            g = g.insert_axis(Axis(axis));
        }
    }
    vec![Some(
        g.broadcast(node.input(0).raw_dim())
            .expect("sum: grad broadcasts back")
            .to_owned(),
    )]
}
