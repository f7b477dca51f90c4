//! The recurrent layers `rnn(hidden)`, `lstm(hidden)` and `gru(hidden)`: one
//! fused tape op each over the whole sequence (kernel in
//! `kernels::recurrent`, with hand-written backpropagation through time).
//!
//! # Shapes
//! `[T, I] -> [T, hidden]` (every step's state); weight `[I + H, g*H]`
//! (Xavier) and bias `[g*H]`, `g` = 1, 4, 3 gates. `gru(hidden,
//! reset_after = true)` also has `recurrent_bias` `[3H]` (zeros): the form
//! of PyTorch's `nn.GRU` (`bias_hh`), cuDNN and Keras' `reset_after`.

use super::args::Args;
use super::layer::{Forward, LayerOut, ParamTemplate, Rule, Site, need_rank, positive_int};
use super::signature::{ArgKind, Default, Param, opt, req};
use super::{Linearity, Spec};
use crate::autodiff::{RecurrentKind, Var};
use crate::ir::{Dim, Init, Layer, Recurrent, Shape};

const RECURRENT_PARAMS: &[Param] = &[req("hidden", ArgKind::Int)];
const FEEDBACK: Linearity =
    Linearity::Never("feeds its state back through its weights at every step");

/// `rnn`.
pub const RNN: Spec = Spec {
    name: "rnn",
    params: RECURRENT_PARAMS,
    function: false,
    leading: None,
    shapes: "`[T, I] -> [T, hidden]`",
    learnable: "`(I + H)*H + H`",
    linearity: FEEDBACK,
};

/// `lstm`.
pub const LSTM: Spec = Spec {
    name: "lstm",
    params: RECURRENT_PARAMS,
    function: false,
    leading: None,
    shapes: "`[T, I] -> [T, hidden]`",
    learnable: "`4*((I + H)*H + H)`",
    linearity: FEEDBACK,
};

/// `gru`.
pub const GRU: Spec = Spec {
    name: "gru",
    params: &[
        req("hidden", ArgKind::Int),
        opt("reset_after", ArgKind::Bool, Default::Bool(false)),
    ],
    function: false,
    leading: None,
    shapes: "`[T, I] -> [T, hidden]`",
    learnable: "`3*((I + H)*H + H)`, `+ 3*H` with `reset_after`",
    linearity: FEEDBACK,
};

/// The number of gates, whose weights sit side by side.
fn gates(kind: Recurrent) -> i64 {
    match kind {
        Recurrent::Rnn => 1,
        Recurrent::Lstm => 4,
        Recurrent::Gru | Recurrent::GruResetAfter => 3,
    }
}

/// The shape rule.
pub fn shape(kind: Recurrent, input: &Shape, args: &Args, site: Site) -> Rule {
    let name = match kind {
        Recurrent::Rnn => RNN.name,
        Recurrent::Lstm => LSTM.name,
        Recurrent::Gru | Recurrent::GruResetAfter => GRU.name,
    };
    let kind = if kind == Recurrent::Gru && args.bool("reset_after") {
        Recurrent::GruResetAfter
    } else {
        kind
    };
    need_rank(name, input, 2, "[T, I]", site)?;
    let hidden = positive_int(args, "hidden", name, site.span)?;
    let rows = input.dims[1].add(&hidden);
    let cols = hidden.mul(&Dim::known(gates(kind)));
    Ok(LayerOut {
        layer: Layer::Recurrent {
            kind,
            hidden: hidden.clone(),
        },
        shape: Shape {
            batched: input.batched,
            dims: vec![input.dims[0].clone(), hidden],
        },
        params: {
            let mut params = vec![
                ParamTemplate::learnable("weight", vec![rows, cols.clone()], Init::Xavier),
                ParamTemplate::learnable("bias", vec![cols.clone()], Init::Zeros),
            ];
            if kind == Recurrent::GruResetAfter {
                params.push(ParamTemplate::learnable(
                    "recurrent_bias",
                    vec![cols],
                    Init::Zeros,
                ));
            }
            params
        },
        warnings: Vec::new(),
    })
}

/// The forward pass: the fused op over every step.
pub fn forward(kind: Recurrent, cx: &mut Forward) -> Var {
    let kind = match kind {
        Recurrent::Rnn => RecurrentKind::Rnn,
        Recurrent::Lstm => RecurrentKind::Lstm,
        Recurrent::Gru => RecurrentKind::Gru,
        Recurrent::GruResetAfter => RecurrentKind::GruResetAfter,
    };
    let (x, w, b) = (cx.input(0), cx.param("weight"), cx.param("bias"));
    let recurrent_bias = (kind == RecurrentKind::GruResetAfter).then(|| cx.param("recurrent_bias"));
    cx.tape.recurrent(kind, x, w, b, recurrent_bias)
}
