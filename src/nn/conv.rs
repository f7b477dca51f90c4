//! Convolutions: `conv2d(out, kernel, ...)` on `[C, H, W]` (im2col and GEMM,
//! one fused tape op) and `conv1d(out, kernel, ...)` on `[C, L]` (the same op
//! on a height-1 image: the textbook's use of CNNs on text and audio).
//!
//! # Shapes
//! `[C, H, W] -> [out, H', W']` with weight `[out, C, kh, kw]` (Kaiming) and
//! bias `[out]`; `[C, L] -> [out, L']` with weight `[out, C, k]`. Output
//! sizes follow [`super::window`].

use super::args::Args;
use super::error::LayerProblem;
use super::layer::{
    Forward, LayerOut, ParamTemplate, Rule, Site, known_per_axis, need_rank, positive_int,
};
use super::signature::{ArgKind, Default, opt, req};
use super::{Linearity, Spec, window};
use crate::autodiff::Var;
use crate::diagnostic::Diagnostic;
use crate::ir::{Dim, Init, Layer, Shape, Window};

/// `conv2d`.
pub const CONV2D: Spec = Spec {
    name: "conv2d",
    params: &[
        req("out", ArgKind::Int),
        req("kernel", ArgKind::IntPair),
        opt("stride", ArgKind::IntPair, Default::Int(1)),
        opt("padding", ArgKind::Padding, Default::Int(0)),
        opt("bias", ArgKind::Bool, Default::Bool(true)),
        opt("round", ArgKind::Round, Default::Str("floor")),
    ],
    function: false,
    leading: None,
    shapes: "`[C, H, W] -> [out, H', W']`",
    learnable: "`out*C*kh*kw + out` (weight `[out, C, kh, kw]`)",
    linearity: Linearity::Weighted,
};

/// `conv1d`.
pub const CONV1D: Spec = Spec {
    name: "conv1d",
    params: &[
        req("out", ArgKind::Int),
        req("kernel", ArgKind::Int),
        opt("stride", ArgKind::Int, Default::Int(1)),
        opt("padding", ArgKind::IntOrSame, Default::Int(0)),
        opt("bias", ArgKind::Bool, Default::Bool(true)),
        opt("round", ArgKind::Round, Default::Str("floor")),
    ],
    function: false,
    leading: None,
    shapes: "`[C, L] -> [out, L']`",
    learnable: "`out*C*k + out` (weight `[out, C, k]`)",
    linearity: Linearity::Weighted,
};

/// The shape rule of `conv2d` (`axes = 2`) and `conv1d` (`axes = 1`).
pub fn shape(spec: &Spec, axes: usize, input: &Shape, args: &Args, site: Site) -> Rule {
    let name = spec.name;
    let pattern = if axes == 1 { "[C, L]" } else { "[C, H, W]" };
    need_rank(name, input, 1 + axes, pattern, site)?;
    let out = positive_int(args, "out", name, site.span)?;
    let kernel = known_per_axis(args, "kernel", axes, name, site.span, 1)?;
    let stride = match args.get("stride") {
        Some(_) => known_per_axis(args, "stride", axes, name, site.span, 1)?,
        None => vec![Dim::known(1); axes],
    };
    let same = args.get("padding").is_some() && args.str("padding").is_some();
    let padding = match args.get("padding") {
        Some(_) if same => same_padding(&kernel, &stride, args.span("padding", site.span))?,
        Some(_) => known_per_axis(args, "padding", axes, name, site.span, 0)?,
        None => vec![Dim::known(0); axes],
    };
    let request = window::Request {
        layer: name,
        kernel: kernel.clone(),
        stride,
        padding,
        same,
        round: args.str("round").unwrap_or("floor"),
        round_explicit: args.has("round"),
    };
    let (window, warnings) = window::apply(&request, input, site)?;
    let mut weight = vec![out.clone(), input.dims[0].clone()];
    weight.extend(kernel);
    let bias = args.bool("bias");
    let mut params = vec![ParamTemplate::learnable("weight", weight, Init::Kaiming)];
    if bias {
        params.push(ParamTemplate::learnable(
            "bias",
            vec![out.clone()],
            Init::Zeros,
        ));
    }
    let mut dims = vec![out.clone()];
    dims.extend(window.output.iter().cloned());
    Ok(LayerOut {
        layer: Layer::Conv { out, window, bias },
        shape: Shape {
            batched: input.batched,
            dims,
        },
        params,
        warnings,
    })
}

/// `padding = "same"`: `(k - 1) / 2` per axis, for stride 1 and odd kernels.
/// An axis whose kernel or stride is not known yet (an option without a
/// default) gets an unknown padding, checked at each use.
pub fn same_padding(
    kernel: &[Dim],
    stride: &[Dim],
    span: crate::span::Span,
) -> Result<Vec<Dim>, Diagnostic> {
    let known = |dims: &[Dim]| dims.iter().map(Dim::as_known).collect::<Option<Vec<i64>>>();
    let (Some(kernel), Some(stride)) = (known(kernel), known(stride)) else {
        return Ok(kernel
            .iter()
            .zip(stride)
            .map(|(k, s)| match (k.as_known(), s.as_known()) {
                (Some(k), Some(1)) if k % 2 == 1 => Dim::known((k - 1) / 2),
                _ => Dim::error(),
            })
            .collect());
    };
    if stride.iter().any(|&s| s != 1) || kernel.iter().any(|k| k % 2 == 0) {
        return Err(LayerProblem::SamePaddingUnsupported {
            kernel: kernel.to_vec(),
            stride: stride.to_vec(),
            span,
        }
        .into());
    }
    Ok(kernel.iter().map(|k| Dim::known((k - 1) / 2)).collect())
}

/// Known sizes of a checked window, as the kernels take them.
pub fn known_sizes(dims: &[Dim], path: &str) -> Result<Vec<usize>, String> {
    dims.iter()
        .map(|d| d.as_known().and_then(|v| usize::try_from(v).ok()))
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| format!("`{path}` has a symbolic window size at run time"))
}

/// The checked output sizes of `window`, known once the model is bound to
/// its data.
pub fn output_sizes(window: &Window, path: &str) -> Result<Vec<usize>, String> {
    known_sizes(&window.output, path)
}

/// The forward pass: the fused convolution op; a 1-D convolution runs as a
/// 2-D one on a height-1 image, reshaped on the way in and out.
pub fn forward(window: &Window, bias: bool, cx: &mut Forward) -> Result<Var, String> {
    let output = output_sizes(window, &cx.node.path)?;
    let stride = known_sizes(&window.stride, &cx.node.path)?;
    let padding = known_sizes(&window.padding, &cx.node.path)?;
    let b = bias.then(|| cx.param("bias"));
    let (x, w) = (cx.input(0), cx.param("weight"));
    if window.kernel.len() == 2 {
        return Ok(cx.tape.conv2d(
            x,
            w,
            b,
            [stride[0], stride[1]],
            [padding[0], padding[1]],
            [output[0], output[1]],
        ));
    }
    let (xs, ws) = (
        cx.tape.value(x).shape().to_vec(),
        cx.tape.value(w).shape().to_vec(),
    );
    let image = cx.tape.reshape(x, &[xs[0], xs[1], 1, xs[2]]);
    let kernel = cx.tape.reshape(w, &[ws[0], ws[1], 1, ws[2]]);
    let y = cx.tape.conv2d(
        image,
        kernel,
        b,
        [1, stride[0]],
        [0, padding[0]],
        [1, output[0]],
    );
    Ok(cx.tape.reshape(y, &[xs[0], ws[0], output[0]]))
}
