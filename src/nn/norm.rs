//! Normalisation: `batchnorm` (statistics over the batch, per channel, with
//! running statistics for evaluation, as `nn.BatchNorm1d/2d`) and
//! `layernorm` (statistics over the last axis of each sample, as
//! `nn.LayerNorm(last_dim)`). `batchnorm` is one fused tape op (two passes
//! over the activations each way); `layernorm` is composed from tape ops.
//!
//! # Shapes
//! Both keep the shape. `batchnorm` on `[C, ...]`: weight and bias `[C]`,
//! state `running_mean`, `running_var` `[C]`. `layernorm` on `[..., D]`:
//! weight and bias `[D]`.

use super::args::Args;
use super::layer::{Forward, LayerOut, Mode, ParamTemplate, Rule, Site, need_min_rank};
use super::signature::{ArgKind, Default, opt};
use super::{Linearity, Spec};
use crate::autodiff::{NormStats, Tensor, Unary, Var};
use crate::ir::{Init, Layer, Shape};
use ndarray::IxDyn;

/// `batchnorm`.
pub const BATCHNORM: Spec = Spec {
    name: "batchnorm",
    params: &[
        opt("momentum", ArgKind::Float, Default::Float(0.1)),
        opt("eps", ArgKind::Float, Default::Float(1e-5)),
    ],
    function: false,
    leading: None,
    shapes: "`[C, H, W] -> [C, H, W]` or `[F] -> [F]`",
    learnable: "`2*C` (or `2*F`)",
    linearity: Linearity::Never("divides by statistics of the batch and scales by its own weights"),
};

/// `layernorm`.
pub const LAYERNORM: Spec = Spec {
    name: "layernorm",
    params: &[opt("eps", ArgKind::Float, Default::Float(1e-5))],
    function: false,
    leading: None,
    shapes: "`[..., D] -> [..., D]`",
    learnable: "`2*D` (weight and bias `[D]`)",
    linearity: Linearity::Never(
        "divides by statistics of each sample and scales by its own weights",
    ),
};

/// The shape rule of `batchnorm`.
pub fn batchnorm_shape(input: &Shape, args: &Args, site: Site) -> Rule {
    need_min_rank(BATCHNORM.name, input, 1, "[C, ...]", site)?;
    let momentum = args.float("momentum").unwrap_or(0.1);
    let eps = args.float("eps").unwrap_or(1e-5);
    let channels = vec![input.dims[0].clone()];
    Ok(LayerOut {
        layer: Layer::BatchNorm { momentum, eps },
        shape: input.clone(),
        params: vec![
            ParamTemplate::learnable("weight", channels.clone(), Init::Ones),
            ParamTemplate::learnable("bias", channels.clone(), Init::Zeros),
            ParamTemplate::state("running_mean", channels.clone(), Init::Zeros),
            ParamTemplate::state("running_var", channels, Init::Ones),
        ],
        warnings: Vec::new(),
    })
}

/// The shape rule of `layernorm`.
pub fn layernorm_shape(input: &Shape, args: &Args, site: Site) -> Rule {
    need_min_rank(LAYERNORM.name, input, 1, "[..., D]", site)?;
    let eps = args.float("eps").unwrap_or(1e-5);
    let features = vec![input.dims[input.rank() - 1].clone()];
    Ok(LayerOut {
        layer: Layer::LayerNorm { eps },
        shape: input.clone(),
        params: vec![
            ParamTemplate::learnable("weight", features.clone(), Init::Ones),
            ParamTemplate::learnable("bias", features, Init::Zeros),
        ],
        warnings: Vec::new(),
    })
}

/// `(x - mean) / sqrt(var + eps) * gamma + beta`.
fn normalise(
    cx: &mut Forward,
    x: Var,
    mean: Var,
    var: Var,
    eps: f32,
    gamma: Var,
    beta: Var,
) -> Var {
    let tape = &mut *cx.tape;
    let centered = tape.sub(x, mean);
    let eps_var = tape.leaf(Tensor::from_elem(IxDyn(&[]), eps), false);
    let shifted = tape.add(var, eps_var);
    let std = tape.unary(Unary::Sqrt, shifted);
    let normalized = tape.div(centered, std);
    let scaled = tape.mul(normalized, gamma);
    tape.add(scaled, beta)
}

/// The forward pass of `batchnorm`: batch statistics in training (and the
/// running statistics updated, PyTorch's convention), running statistics in
/// evaluation.
pub fn batchnorm_forward(momentum: f64, eps: f64, cx: &mut Forward) -> Var {
    let (momentum, eps) = (momentum as f32, eps as f32);
    let x = cx.input(0);
    let (weight, bias) = (cx.param("weight"), cx.param("bias"));
    if cx.mode != Mode::Train {
        let mean = cx.tape.value(cx.param("running_mean")).clone();
        let var = cx.tape.value(cx.param("running_var")).clone();
        let stats = NormStats::Given {
            mean: mean.as_slice().expect("a vector"),
            var: var.as_slice().expect("a vector"),
        };
        return cx.tape.batch_norm(x, weight, bias, eps, stats).0;
    }
    let (y, batch_mean, batch_var) = cx.tape.batch_norm(x, weight, bias, eps, NormStats::Batch);
    // Running variance is unbiased, as in PyTorch.
    let shape = cx.tape.value(x).shape();
    let count: usize = shape[0] * shape.iter().skip(2).product::<usize>();
    let unbiased = count as f32 / (count.max(2) - 1) as f32;
    let blend = |role: &str, batch: &[f32], scale: f32| {
        let old = cx.tape.value(cx.param(role));
        let values = old
            .iter()
            .zip(batch)
            .map(|(o, b)| (1.0 - momentum) * o + momentum * b * scale)
            .collect();
        Tensor::from_shape_vec(old.raw_dim(), values).expect("same size")
    };
    let new_mean = blend("running_mean", &batch_mean, 1.0);
    let new_var = blend("running_var", &batch_var, unbiased);
    for (role, value) in [("running_mean", new_mean), ("running_var", new_var)] {
        let name = cx.param_name(role).to_string();
        cx.state_updates.push((name, value));
    }
    y
}

pub fn layernorm_forward(eps: f64, cx: &mut Forward) -> Var {
    let x = cx.input(0);
    let last = cx.tape.value(x).ndim() - 1;
    let tape = &mut *cx.tape;
    let mean = tape.mean(x, &[last], true);
    let centered = tape.sub(x, mean);
    let squared = tape.mul(centered, centered);
    let var = tape.mean(squared, &[last], true);
    let (gamma, beta) = (cx.param("weight"), cx.param("bias"));
    normalise(cx, x, mean, var, eps as f32, gamma, beta)
}
