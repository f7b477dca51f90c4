//! Elementwise functions of one tensor; each [`Unary`] keeps its `f` and
//! `df` side by side.

use crate::autodiff::op::{Op, Unary};
use crate::autodiff::tape::{BackwardNode, Tape, Var};
use crate::autodiff::tensor::Tensor;

impl Tape {
    /// An elementwise function.
    pub fn unary(&mut self, f: Unary, a: Var) -> Var {
        let value = self.value(a).mapv(|x| f.f(x));
        self.push(value, Op::Unary(f), vec![a])
    }
}

pub(super) fn unary_backward(f: Unary, node: &BackwardNode<'_>) -> Vec<Option<Tensor>> {
    let mut out = node.grad().clone();
    ndarray::Zip::from(&mut out)
        .and(node.input(0))
        .and(node.output())
        .for_each(|g, &x, &y| *g *= f.df(x, y));
    vec![Some(out)]
}
