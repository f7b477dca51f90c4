//! `flatten` (every per-sample axis into one) and `reshape([d, ...])` (a
//! new per-sample shape with the same element count, one size may be `-1`).
//!
//! # Shapes
//! `[d1, ..., dk] -> [d1*...*dk]`; `[...] -> [d, ...]`. No parameters.

use super::args::{Args, Value};
use super::error::{self, LayerProblem};
use super::layer::{Forward, LayerOut, Rule, Site, need_min_rank};
use super::signature::{ArgKind, req};
use super::{Linearity, Spec};
use crate::autodiff::Var;
use crate::ir::{Dim, Layer, Shape};

/// `flatten`.
pub const FLATTEN: Spec = Spec {
    name: "flatten",
    params: &[],
    function: false,
    leading: None,
    shapes: "`[d1, ..., dk] -> [d1*...*dk]`",
    learnable: "0",
    linearity: Linearity::Linear,
};

/// `reshape`.
pub const RESHAPE: Spec = Spec {
    name: "reshape",
    params: &[req("shape", ArgKind::IntList)],
    function: false,
    leading: None,
    shapes: "`[...] -> [d, ...]` for `shape = [d, ...]`, same element count",
    learnable: "0",
    linearity: Linearity::Linear,
};

/// The shape rule of `flatten`.
pub fn flatten_shape(input: &Shape, site: Site) -> Rule {
    need_min_rank(FLATTEN.name, input, 1, "[d1, ...]", site)?;
    Ok(LayerOut::plain(
        Layer::Flatten,
        Shape {
            batched: input.batched,
            dims: vec![input.elements()],
        },
    ))
}

/// The shape rule of `reshape`.
pub fn reshape_shape(input: &Shape, args: &Args, site: Site) -> Rule {
    let Some((Value::List(items), list_span)) = args.get("shape") else {
        return Ok(LayerOut::plain(
            Layer::Reshape,
            Shape {
                batched: input.batched,
                dims: vec![Dim::error()],
            },
        ));
    };
    let mut dims: Vec<Dim> = items
        .iter()
        .map(|(v, _)| match v {
            Value::Int(d) => d.clone(),
            _ => Dim::error(),
        })
        .collect();
    let inferred: Vec<usize> = dims
        .iter()
        .enumerate()
        .filter(|(_, d)| d.as_known() == Some(-1))
        .map(|(i, _)| i)
        .collect();
    if inferred.len() > 1 {
        return Err(LayerProblem::ReshapeTwoInferred { span: *list_span }.into());
    }
    let total = input.elements();
    if let Some(&i) = inferred.first() {
        let rest = dims
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .fold(Dim::known(1), |acc, (_, d)| acc.mul(d));
        match (total.as_known(), rest.as_known()) {
            (Some(t), Some(r)) if r > 0 && t % r == 0 => dims[i] = Dim::known(t / r),
            (Some(_), Some(_)) => {
                return Err(error::reshape_count(
                    input,
                    &dims,
                    *list_span,
                    site.input_span,
                ));
            }
            _ => dims[i] = Dim::error(),
        }
    } else if let Some(bad) = dims.iter().find(|d| d.as_known().is_some_and(|v| v < 1)) {
        return Err(error::invalid_value(
            RESHAPE.name,
            "shape",
            &bad.to_string(),
            "positive sizes (or one -1)",
            *list_span,
        ));
    }
    let target = Shape {
        batched: input.batched,
        dims,
    };
    // With dimension variables on either side, the counts are compared only
    // once the variables are bound at a use.
    if !total.is_symbolic()
        && !target.elements().is_symbolic()
        && !total.agrees_with(&target.elements())
    {
        return Err(error::reshape_count(
            input,
            &target.dims,
            *list_span,
            site.input_span,
        ));
    }
    Ok(LayerOut::plain(Layer::Reshape, target))
}

/// The forward pass of both: a reshape to the checked shape.
pub fn forward(cx: &mut Forward) -> Result<Var, String> {
    let x = cx.input(0);
    let shape = cx.batched_shape(x)?;
    Ok(cx.tape.reshape(x, &shape))
}
