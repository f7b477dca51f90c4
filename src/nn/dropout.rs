//! `dropout(p)`: in training, each value is zeroed with probability `p` and
//! the others scaled by `1 / (1 - p)` (inverted dropout, as PyTorch); the
//! identity in evaluation.
//!
//! # Shapes
//! `[...] -> [...]`. No parameters.

use super::args::Args;
use super::layer::{Forward, LayerOut, Mode, Rule, Site};
use super::signature::{ArgKind, req};
use super::{Linearity, Spec, error};
use crate::autodiff::Var;
use crate::ir::{Layer, Shape};
use rand::RngExt;

/// `dropout`.
pub const DROPOUT: Spec = Spec {
    name: "dropout",
    params: &[req("p", ArgKind::Float)],
    function: false,
    leading: None,
    shapes: "`[...] -> [...]`",
    learnable: "0",
    linearity: Linearity::Never("drops values at random while training"),
};

/// The shape rule.
pub fn shape(input: &Shape, args: &Args, site: Site) -> Rule {
    let p = args.float("p");
    if let Some(p) = p
        && !(0.0..1.0).contains(&p)
    {
        return Err(error::invalid_value(
            DROPOUT.name,
            "p",
            &format!("{p}"),
            "a probability in [0, 1)",
            args.span("p", site.span),
        ));
    }
    Ok(LayerOut::plain(
        Layer::Dropout {
            p: p.unwrap_or(0.5),
        },
        input.clone(),
    ))
}

/// The forward pass: a mask drawn from the step's random stream.
pub fn forward(p: f64, cx: &mut Forward) -> Var {
    let x = cx.input(0);
    if cx.mode == Mode::Eval || p == 0.0 {
        return x;
    }
    let keep = 1.0 - p as f32;
    let rng = &mut *cx.rng;
    let mask = cx.tape.value(x).mapv(|_| {
        if rng.random::<f32>() < keep {
            1.0 / keep
        } else {
            0.0
        }
    });
    cx.tape.mul_const(x, mask)
}
