//! Ops that move elements without computing: reshape, concatenation,
//! selection of one index.

use crate::autodiff::op::Op;
use crate::autodiff::tape::{BackwardNode, Tape, Var};
use crate::autodiff::tensor::Tensor;
use ndarray::{Axis, IxDyn};

impl Tape {
    /// A new shape with the same elements in the same order.
    pub fn reshape(&mut self, a: Var, shape: &[usize]) -> Var {
        let value = self
            .value(a)
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order(IxDyn(shape))
            .expect("reshape: caller checked the element count");
        self.push(value, Op::Reshape, vec![a])
    }
}

pub(super) fn reshape_backward(node: &BackwardNode<'_>) -> Vec<Option<Tensor>> {
    vec![Some(
        node.grad()
            .as_standard_layout()
            .into_owned()
            .into_shape_with_order(node.input(0).raw_dim())
            .expect("reshape: same count"),
    )]
}

impl Tape {
    /// Concatenation along `axis`.
    pub fn concat(&mut self, parts: &[Var], axis: usize) -> Var {
        let views: Vec<_> = parts.iter().map(|v| self.value(*v).view()).collect();
        let value =
            ndarray::concatenate(Axis(axis), &views).expect("concat: caller checked the shapes");
        self.push(value, Op::Concat(axis), parts.to_vec())
    }
}

pub(super) fn concat_backward(axis: usize, node: &BackwardNode<'_>) -> Vec<Option<Tensor>> {
    let mut offset = 0;
    (0..node.arity())
        .map(|i| {
            let size = node.input(i).shape()[axis];
            let part = node
                .grad()
                .slice_axis(Axis(axis), ndarray::Slice::from(offset..offset + size))
                .to_owned();
            offset += size;
            Some(part)
        })
        .collect()
}

impl Tape {
    /// Index `index` along `axis`, removing the axis (`last` is the final index of axis 1).
    pub fn select(&mut self, a: Var, axis: usize, index: usize) -> Var {
        let value = self.value(a).index_axis(Axis(axis), index).to_owned();
        self.push(value, Op::Select { axis, index }, vec![a])
    }
}

pub(super) fn select_backward(
    axis: usize,
    index: usize,
    node: &BackwardNode<'_>,
) -> Vec<Option<Tensor>> {
    let mut g = Tensor::zeros(node.input(0).raw_dim());
    g.index_axis_mut(Axis(axis), index).assign(node.grad());
    vec![Some(g)]
}
