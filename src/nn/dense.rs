//! `dense(units, bias = true)`: `x @ W + b` on the last axis, like
//! `nn.Linear` and Keras `Dense`.
//!
//! # Shapes
//! `[..., F] -> [..., units]`; weight `[F, units]` (Xavier), bias `[units]` (zeros).

use super::args::Args;
use super::error::LayerProblem;
use super::layer::{Forward, LayerOut, ParamTemplate, Rule, Site, need_min_rank, positive_int};
use super::signature::{ArgKind, Default, opt, req};
use super::{Linearity, Spec};
use crate::autodiff::Var;
use crate::ir::{Init, Layer, Shape};

/// `dense`.
pub const DENSE: Spec = Spec {
    name: "dense",
    params: &[
        req("units", ArgKind::Int),
        opt("bias", ArgKind::Bool, Default::Bool(true)),
    ],
    function: false,
    leading: None,
    shapes: "`[..., F] -> [..., units]`",
    learnable: "`F*units + units` (weight `[F, units]`; no `+ units` when `bias = false`)",
    linearity: Linearity::Weighted,
};

/// The shape rule.
pub fn shape(input: &Shape, args: &Args, site: Site) -> Rule {
    let name = DENSE.name;
    need_min_rank(name, input, 1, "[..., F]", site)?;
    let units = positive_int(args, "units", name, site.span)?;
    let bias = args.bool("bias");
    let features = input.dims[input.rank() - 1].clone();
    let mut dims = input.dims.clone();
    *dims.last_mut().expect("rank checked above") = units.clone();
    let mut params = vec![ParamTemplate::learnable(
        "weight",
        vec![features, units.clone()],
        Init::Xavier,
    )];
    if bias {
        params.push(ParamTemplate::learnable(
            "bias",
            vec![units.clone()],
            Init::Zeros,
        ));
    }
    let warnings = if input.rank() >= 3 {
        vec![
            LayerProblem::DenseOnLastAxis {
                input: input.clone(),
                site,
            }
            .into(),
        ]
    } else {
        Vec::new()
    };
    Ok(LayerOut {
        layer: Layer::Dense { units, bias },
        shape: Shape {
            batched: input.batched,
            dims,
        },
        params,
        warnings,
    })
}

/// The forward pass: one matrix product and a broadcast bias.
pub fn forward(bias: bool, cx: &mut Forward) -> Var {
    let y = cx.tape.matmul(cx.input(0), cx.param("weight"));
    if bias {
        let b = cx.param("bias");
        cx.tape.add(y, b)
    } else {
        y
    }
}
