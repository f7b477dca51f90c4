//! Elementwise activations (`sigmoid`, `tanh`, `relu`, `leaky_relu`, `exp`,
//! `log`: one tape op each, `f` and `df` side by side in `autodiff::Unary`)
//! and `softmax` along an axis.
//!
//! # Shapes
//! `[...] -> [...]`. No parameters.

use super::args::Args;
use super::layer::{Forward, LayerOut, Rule, Site, resolve_axis};
use super::signature::{ArgKind, Default, opt};
use super::{Linearity, Spec};
use crate::autodiff::{Unary, Var};
use crate::ir::{Activation, Layer, Shape};

const fn elementwise(name: &'static str) -> Spec {
    Spec {
        name,
        params: &[],
        function: true,
        leading: None,
        shapes: "`[...] -> [...]`",
        learnable: "0",
        linearity: Linearity::NonLinear,
    }
}

/// `sigmoid`.
pub const SIGMOID: Spec = elementwise("sigmoid");
/// `tanh`.
pub const TANH: Spec = elementwise("tanh");
/// `relu`.
pub const RELU: Spec = elementwise("relu");
/// `exp`.
pub const EXP: Spec = elementwise("exp");
/// `log`.
pub const LOG: Spec = elementwise("log");

/// `leaky_relu`.
pub const LEAKY_RELU: Spec = Spec {
    params: &[opt("a", ArgKind::Float, Default::Float(0.01))],
    ..elementwise("leaky_relu")
};

/// `softmax`.
pub const SOFTMAX: Spec = Spec {
    params: &[opt("axis", ArgKind::Axis, Default::Int(-1))],
    ..elementwise("softmax")
};

/// The shape rule of the elementwise functions.
pub fn shape(activation: Activation, input: &Shape) -> Rule {
    Ok(LayerOut::plain(
        Layer::Activation(activation),
        input.clone(),
    ))
}

/// The shape rule of `leaky_relu`.
pub fn leaky_relu_shape(input: &Shape, args: &Args) -> Rule {
    Ok(LayerOut::plain(
        Layer::LeakyRelu {
            slope: args.float("a").unwrap_or(0.01),
        },
        input.clone(),
    ))
}

/// The shape rule of `softmax`.
pub fn softmax_shape(input: &Shape, args: &Args, site: Site) -> Rule {
    let axis = resolve_axis(input, args, -1, SOFTMAX.name, site)?;
    Ok(LayerOut::plain(Layer::Softmax { axis }, input.clone()))
}

/// The tape's elementwise function for `activation`.
pub fn unary(activation: Activation) -> Unary {
    match activation {
        Activation::Sigmoid => Unary::Sigmoid,
        Activation::Tanh => Unary::Tanh,
        Activation::Relu => Unary::Relu,
        Activation::Exp => Unary::Exp,
        Activation::Log => Unary::Log,
    }
}

/// The forward pass of the elementwise functions.
pub fn forward(activation: Activation, cx: &mut Forward) -> Var {
    cx.tape.unary(unary(activation), cx.input(0))
}

/// The forward pass of `leaky_relu`.
pub fn leaky_relu_forward(slope: f64, cx: &mut Forward) -> Var {
    cx.tape.unary(Unary::LeakyRelu(slope as f32), cx.input(0))
}

/// The forward pass of `softmax`.
pub fn softmax_forward(axis: usize, cx: &mut Forward) -> Var {
    let axis = cx.runtime_axis(axis);
    cx.tape.softmax(cx.input(0), axis)
}
