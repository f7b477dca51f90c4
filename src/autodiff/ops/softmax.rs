//! Softmax along an axis, and the stable softmax and log-softmax the fused
//! losses share.

use crate::autodiff::op::Op;
use crate::autodiff::tape::{BackwardNode, Tape, Var};
use crate::autodiff::tensor::Tensor;
use ndarray::Axis;

impl Tape {
    /// Softmax along `axis`.
    pub fn softmax(&mut self, a: Var, axis: usize) -> Var {
        let value = softmax(self.value(a), axis);
        self.push(value, Op::Softmax(axis), vec![a])
    }
}

pub(super) fn softmax_backward(axis: usize, node: &BackwardNode<'_>) -> Vec<Option<Tensor>> {
    // dx = y * (g - sum(g * y))
    let (grad, y) = (node.grad(), node.output());
    let gy = grad * y;
    let s = gy.sum_axis(Axis(axis)).insert_axis(Axis(axis));
    vec![Some(y * &(grad - &s))]
}

/// Softmax along `axis`, shifted by the maximum for stability.
pub(super) fn softmax(a: &Tensor, axis: usize) -> Tensor {
    let max = a
        .map_axis(Axis(axis), |lane| {
            lane.fold(f32::NEG_INFINITY, |m, &x| m.max(x))
        })
        .insert_axis(Axis(axis));
    let mut e = a - &max;
    e.mapv_inplace(f32::exp);
    let s = e.sum_axis(Axis(axis)).insert_axis(Axis(axis));
    e / &s
}

/// Log-softmax along `axis`, shifted by the maximum for stability.
pub(super) fn log_softmax(a: &Tensor, axis: usize) -> Tensor {
    let max = a
        .map_axis(Axis(axis), |lane| {
            lane.fold(f32::NEG_INFINITY, |m, &x| m.max(x))
        })
        .insert_axis(Axis(axis));
    let shifted = a - &max;
    let lse = shifted
        .mapv(f32::exp)
        .sum_axis(Axis(axis))
        .mapv(f32::ln)
        .insert_axis(Axis(axis));
    shifted - &lse
}
