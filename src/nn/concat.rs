//! `concat(a, b, ..., axis = 0)`: tensors joined along a per-sample axis.
//!
//! # Shapes
//! Inputs of equal rank and sizes except along `axis`, whose sizes add up.
//! No parameters.

use super::args::Args;
use super::error::LayerProblem;
use super::layer::{Forward, LayerOut, Rule, Site, resolve_axis};
use super::signature::{ArgKind, Default, opt};
use super::{Linearity, Spec};
use crate::autodiff::Var;
use crate::ir::{Layer, Shape};
use crate::span::Span;

/// `concat`.
pub const CONCAT: Spec = Spec {
    name: "concat",
    params: &[opt("axis", ArgKind::Axis, Default::Int(0))],
    function: true,
    leading: Some("a, b, ..."),
    shapes: "all inputs of equal rank and equal sizes except along `axis`; output size along `axis` is the sum",
    learnable: "0",
    linearity: Linearity::Linear,
};

/// The shape rule over the inputs' shapes, each with where it is written.
pub fn shape(inputs: &[(Shape, Span)], args: &Args, span: Span) -> Rule {
    if inputs.len() < 2 {
        return Err(LayerProblem::ConcatTooFew { span }.into());
    }
    let (first, first_span) = &inputs[0];
    let site = Site {
        span,
        input_span: *first_span,
    };
    let axis = resolve_axis(first, args, 0, CONCAT.name, site)?;
    let mut dims = first.dims.clone();
    for (shape, arg_span) in &inputs[1..] {
        let compatible = shape.batched == first.batched
            && shape.rank() == first.rank()
            && shape
                .dims
                .iter()
                .zip(&first.dims)
                .enumerate()
                .all(|(i, (a, b))| i == axis || a.agrees_with(b));
        if !compatible {
            return Err(LayerProblem::ConcatMismatch {
                first: first.clone(),
                first_span: *first_span,
                other: shape.clone(),
                other_span: *arg_span,
                axis,
            }
            .into());
        }
        dims[axis] = dims[axis].add(&shape.dims[axis]);
    }
    Ok(LayerOut::plain(
        Layer::Concat { axis },
        Shape {
            batched: first.batched,
            dims,
        },
    ))
}

/// The forward pass: one concatenation op.
pub fn forward(axis: usize, cx: &mut Forward) -> Var {
    let axis = cx.runtime_axis(axis);
    let parts = cx.inputs.clone();
    cx.tape.concat(&parts, axis)
}
