//! Broadcasting arithmetic (`+ - * /`), negation, and products with
//! constants.

use crate::autodiff::op::Op;
use crate::autodiff::tape::{BackwardNode, Tape, Var};
use crate::autodiff::tensor::Tensor;
use ndarray::Axis;

impl Tape {
    /// `a + b` with broadcasting.
    pub fn add(&mut self, a: Var, b: Var) -> Var {
        let value = self.value(a) + self.value(b);
        self.push(value, Op::Add, vec![a, b])
    }
}

pub(super) fn add_backward(node: &BackwardNode<'_>) -> Vec<Option<Tensor>> {
    let grad = node.grad();
    vec![
        Some(sum_to(grad, node.input(0).shape())),
        Some(sum_to(grad, node.input(1).shape())),
    ]
}

impl Tape {
    /// `a - b` with broadcasting.
    pub fn sub(&mut self, a: Var, b: Var) -> Var {
        let value = self.value(a) - self.value(b);
        self.push(value, Op::Sub, vec![a, b])
    }
}

pub(super) fn sub_backward(node: &BackwardNode<'_>) -> Vec<Option<Tensor>> {
    let grad = node.grad();
    vec![
        Some(sum_to(grad, node.input(0).shape())),
        Some(sum_to(&grad.mapv(|g| -g), node.input(1).shape())),
    ]
}

impl Tape {
    /// `a * b` with broadcasting.
    pub fn mul(&mut self, a: Var, b: Var) -> Var {
        let value = self.value(a) * self.value(b);
        self.push(value, Op::Mul, vec![a, b])
    }
}

pub(super) fn mul_backward(node: &BackwardNode<'_>) -> Vec<Option<Tensor>> {
    let (grad, a, b) = (node.grad(), node.input(0), node.input(1));
    vec![
        Some(sum_to(&(grad * b), a.shape())),
        Some(sum_to(&(grad * a), b.shape())),
    ]
}

impl Tape {
    /// `a / b` with broadcasting.
    pub fn div(&mut self, a: Var, b: Var) -> Var {
        let value = self.value(a) / self.value(b);
        self.push(value, Op::Div, vec![a, b])
    }
}

pub(super) fn div_backward(node: &BackwardNode<'_>) -> Vec<Option<Tensor>> {
    let (grad, a, b) = (node.grad(), node.input(0), node.input(1));
    let da = grad / b;
    let db = -(grad * a) / (b * b);
    vec![Some(sum_to(&da, a.shape())), Some(sum_to(&db, b.shape()))]
}

impl Tape {
    /// `-a`
    pub fn neg(&mut self, a: Var) -> Var {
        let value = self.value(a).mapv(|x| -x);
        self.push(value, Op::Neg, vec![a])
    }
}

pub(super) fn neg_backward(node: &BackwardNode<'_>) -> Vec<Option<Tensor>> {
    vec![Some(node.grad().mapv(|g| -g))]
}

impl Tape {
    /// `a * k` for a constant `k` of the same shape (a dropout mask).
    pub fn mul_const(&mut self, a: Var, k: Tensor) -> Var {
        let value = self.value(a) * &k;
        self.push(value, Op::MulConst(k), vec![a])
    }

    /// `a * k` for a scalar `k`.
    pub fn scale(&mut self, a: Var, k: f32) -> Var {
        let shape = self.value(a).raw_dim();
        self.mul_const(a, Tensor::from_elem(shape, k))
    }
}

pub(super) fn mul_const_backward(k: &Tensor, node: &BackwardNode<'_>) -> Vec<Option<Tensor>> {
    vec![Some(node.grad() * k)]
}

/// Sums `grad` down to `shape`, undoing broadcasting.
fn sum_to(grad: &Tensor, shape: &[usize]) -> Tensor {
    if grad.shape() == shape {
        return grad.clone();
    }
    let mut g = grad.clone();
    while g.ndim() > shape.len() {
        g = g.sum_axis(Axis(0));
    }
    for (axis, &size) in shape.iter().enumerate() {
        if size == 1 && g.shape()[axis] != 1 {
            g = g.sum_axis(Axis(axis)).insert_axis(Axis(axis));
        }
    }
    g
}
