//! Reductions over per-sample axes: `sum(axis = all)`, `mean(axis = all)`,
//! and `last`, the final step of a sequence.
//!
//! # Shapes
//! With `axis`, that axis removed; without, every per-sample axis (one
//! number per sample). `last`: `[T, ...] -> [...]`. No parameters.

use super::args::Args;
use super::layer::{Forward, LayerOut, Rule, Site, need_min_rank, resolve_axis};
use super::signature::{ArgKind, Default, opt};
use super::{Linearity, Spec};
use crate::autodiff::Var;
use crate::ir::{Layer, Reduce, Shape};

/// `sum`.
pub const SUM: Spec = Spec {
    name: "sum",
    params: &[opt("axis", ArgKind::Axis, Default::AllAxes)],
    function: true,
    leading: None,
    shapes: "with `axis`: that axis removed; without (`all`, the default): every per-sample axis reduced, `[...] -> []`, so one number per sample, `[N]`",
    learnable: "0",
    linearity: Linearity::Linear,
};

/// `mean`.
pub const MEAN: Spec = Spec {
    name: "mean",
    shapes: "as `sum`",
    ..SUM
};

/// `last`.
pub const LAST: Spec = Spec {
    name: "last",
    params: &[],
    function: true,
    leading: None,
    shapes: "`[T, ...] -> [...]`",
    learnable: "0",
    linearity: Linearity::Linear,
};

/// The shape rule of `sum` and `mean`.
pub fn shape(kind: Reduce, input: &Shape, args: &Args, site: Site) -> Rule {
    let name = match kind {
        Reduce::Sum => SUM.name,
        Reduce::Mean => MEAN.name,
    };
    let axis = match args.get("axis") {
        Some(_) => Some(resolve_axis(input, args, 0, name, site)?),
        None => None,
    };
    let dims = match axis {
        Some(a) => input
            .dims
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != a)
            .map(|(_, d)| d.clone())
            .collect(),
        None => Vec::new(),
    };
    Ok(LayerOut::plain(
        Layer::Reduce { kind, axis },
        Shape {
            batched: input.batched,
            dims,
        },
    ))
}

/// The shape rule of `last`.
pub fn last_shape(input: &Shape, site: Site) -> Rule {
    need_min_rank(LAST.name, input, 1, "[T, ...]", site)?;
    Ok(LayerOut::plain(
        Layer::Last,
        Shape {
            batched: input.batched,
            dims: input.dims[1..].to_vec(),
        },
    ))
}

/// The forward pass of `sum` and `mean`.
pub fn forward(kind: Reduce, axis: Option<usize>, cx: &mut Forward) -> Var {
    let x = cx.input(0);
    let offset = usize::from(cx.batched);
    let axes: Vec<usize> = match axis {
        Some(a) => vec![a + offset],
        None => (offset..cx.tape.value(x).ndim()).collect(),
    };
    match kind {
        Reduce::Sum => cx.tape.sum(x, &axes, false),
        Reduce::Mean => cx.tape.mean(x, &axes, false),
    }
}

/// The forward pass of `last`.
pub fn last_forward(cx: &mut Forward) -> Var {
    let x = cx.input(0);
    let axis = cx.runtime_axis(0);
    let steps = cx.tape.value(x).shape()[axis];
    cx.tape.select(x, axis, steps.saturating_sub(1))
}
