//! Pooling: `maxpool` and `avgpool` over windows of `[C, H, W]` (one fused
//! tape op each, max keeping its argmax), and `global_avgpool`, the mean of
//! each channel.
//!
//! # Shapes
//! `[C, H, W] -> [C, H', W']` (sizes from [`super::window`]); `global_avgpool`
//! `[C, H, W] -> [C]`. No parameters.

use super::args::Args;
use super::conv::{known_sizes, output_sizes};
use super::error::LayerProblem;
use super::layer::{Forward, LayerOut, Rule, Site, known_per_axis, need_rank};
use super::signature::{ArgKind, Default, Param, opt, req};
use super::{Linearity, Spec, window};
use crate::autodiff::Var;
use crate::ir::{Dim, Layer, Pool, Shape, Window};

const POOL_PARAMS: &[Param] = &[
    req("kernel", ArgKind::IntPair),
    opt("stride", ArgKind::IntPair, Default::SameAs("kernel")),
    opt("padding", ArgKind::IntPair, Default::Int(0)),
    opt("round", ArgKind::Round, Default::Str("floor")),
];

/// `maxpool`.
pub const MAXPOOL: Spec = Spec {
    name: "maxpool",
    params: POOL_PARAMS,
    function: false,
    leading: None,
    shapes: "`[C, H, W] -> [C, H', W']`",
    learnable: "0",
    linearity: Linearity::NonLinear,
};

/// `avgpool`.
pub const AVGPOOL: Spec = Spec {
    name: "avgpool",
    params: POOL_PARAMS,
    function: false,
    leading: None,
    shapes: "`[C, H, W] -> [C, H', W']`",
    learnable: "0",
    linearity: Linearity::Linear,
};

/// `global_avgpool`.
pub const GLOBAL_AVGPOOL: Spec = Spec {
    name: "global_avgpool",
    params: &[],
    function: false,
    leading: None,
    shapes: "`[C, H, W] -> [C]`",
    learnable: "0",
    linearity: Linearity::Linear,
};

/// The shape rule of `maxpool` and `avgpool`.
pub fn shape(kind: Pool, input: &Shape, args: &Args, site: Site) -> Rule {
    let name = match kind {
        Pool::Max => MAXPOOL.name,
        Pool::Avg => AVGPOOL.name,
    };
    need_rank(name, input, 3, "[C, H, W]", site)?;
    let kernel = known_per_axis(args, "kernel", 2, name, site.span, 1)?;
    let stride = match args.get("stride") {
        Some(_) => known_per_axis(args, "stride", 2, name, site.span, 1)?,
        None => kernel.clone(),
    };
    let padding = match args.get("padding") {
        Some(_) => known_per_axis(args, "padding", 2, name, site.span, 0)?,
        None => vec![Dim::known(0); 2],
    };
    for axis in 0..2 {
        if let (Some(p), Some(k)) = (padding[axis].as_known(), kernel[axis].as_known())
            && p * 2 > k
        {
            return Err(LayerProblem::PoolPaddingTooLarge {
                layer: name.to_string(),
                padding: p,
                kernel: k,
                span: args.span("padding", site.span),
            }
            .into());
        }
    }
    let request = window::Request {
        layer: name,
        kernel,
        stride,
        padding,
        same: false,
        round: args.str("round").unwrap_or("floor"),
        round_explicit: args.has("round"),
    };
    let (window, warnings) = window::apply(&request, input, site)?;
    let mut dims = vec![input.dims[0].clone()];
    dims.extend(window.output.iter().cloned());
    Ok(LayerOut {
        layer: Layer::Pool { kind, window },
        shape: Shape {
            batched: input.batched,
            dims,
        },
        params: Vec::new(),
        warnings,
    })
}

/// The shape rule of `global_avgpool`.
pub fn global_shape(input: &Shape, site: Site) -> Rule {
    need_rank(GLOBAL_AVGPOOL.name, input, 3, "[C, H, W]", site)?;
    Ok(LayerOut::plain(
        Layer::GlobalAvgPool,
        Shape {
            batched: input.batched,
            dims: vec![input.dims[0].clone()],
        },
    ))
}

/// The forward pass of `maxpool` and `avgpool`.
pub fn forward(kind: Pool, window: &Window, cx: &mut Forward) -> Result<Var, String> {
    let output = output_sizes(window, &cx.node.path)?;
    let sizes = |dims: &[Dim]| known_sizes(dims, &cx.node.path).map(|v| [v[0], v[1]]);
    let (kernel, stride, padding) = (
        sizes(&window.kernel)?,
        sizes(&window.stride)?,
        sizes(&window.padding)?,
    );
    Ok(cx.tape.pool2d(
        cx.input(0),
        kind == Pool::Max,
        kernel,
        stride,
        padding,
        [output[0], output[1]],
    ))
}

/// The forward pass of `global_avgpool`: the mean over height and width.
pub fn global_forward(cx: &mut Forward) -> Var {
    cx.tape.mean(cx.input(0), &[2, 3], false)
}
