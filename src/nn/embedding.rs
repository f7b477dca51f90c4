//! `embedding(vocab, dim)`: a learnt vector per integer id, `table[ids]`.
//!
//! # Shapes
//! `[T] -> [T, dim]` (any shape of ids gains a last axis); weight
//! `[vocab, dim]`, standard normal as in `nn.Embedding`.

use super::args::Args;
use super::layer::{Forward, LayerOut, ParamTemplate, Rule, Site, positive_int};
use super::signature::{ArgKind, req};
use super::{Linearity, Spec};
use crate::autodiff::Var;
use crate::ir::{Init, Layer, Shape};

/// `embedding`.
pub const EMBEDDING: Spec = Spec {
    name: "embedding",
    params: &[req("vocab", ArgKind::Int), req("dim", ArgKind::Int)],
    function: false,
    leading: None,
    shapes: "`[T] -> [T, dim]`",
    learnable: "`vocab*dim`",
    linearity: Linearity::Weighted,
};

/// The shape rule.
pub fn shape(input: &Shape, args: &Args, site: Site) -> Rule {
    let name = EMBEDDING.name;
    let vocab = positive_int(args, "vocab", name, site.span)?;
    let dim = positive_int(args, "dim", name, site.span)?;
    let mut dims = input.dims.clone();
    dims.push(dim.clone());
    Ok(LayerOut {
        layer: Layer::Embedding {
            vocab: vocab.clone(),
            dim: dim.clone(),
        },
        shape: Shape {
            batched: input.batched,
            dims,
        },
        params: vec![ParamTemplate::learnable(
            "weight",
            vec![vocab, dim],
            Init::Normal(0.0, 1.0),
        )],
        warnings: Vec::new(),
    })
}

/// The forward pass: a gather of the table's rows.
pub fn forward(cx: &mut Forward) -> Result<Var, String> {
    let (x, table) = (cx.input(0), cx.param("weight"));
    let ids: Vec<usize> = cx
        .tape
        .value(x)
        .iter()
        .map(|&v| v.max(0.0) as usize)
        .collect();
    let vocab = cx.tape.value(table).shape()[0];
    if let Some(bad) = ids.iter().find(|&&i| i >= vocab) {
        return Err(format!(
            "`{}`: id {bad} is outside the vocabulary of {vocab}",
            cx.node.path
        ));
    }
    let shape = cx.tape.value(x).shape().to_vec();
    Ok(cx.tape.gather(table, ids, &shape))
}
