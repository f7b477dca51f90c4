//! What every built-in's file works with: where a call is written, what its
//! shape rule produces, the arguments' common checks, and the context its
//! forward pass runs in.

use super::args::Args;
use super::error::{self, LayerProblem};
use crate::autodiff::{Tape, Tensor, Var};
use crate::diagnostic::Diagnostic;
use crate::ir::{Dim, Init, Layer, Node, Shape};
use crate::span::Span;

pub use super::site::Site;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;

/// A parameter a layer creates, named by its role: the layer's path plus
/// `.weight`, `.bias`, `.running_mean`...
#[derive(Clone, Debug)]
pub struct ParamTemplate {
    /// `weight`, `bias`, `running_mean`...
    pub role: &'static str,
    /// Its shape.
    pub shape: Shape,
    /// How it starts.
    pub init: Init,
    /// Learnable or state.
    pub trainable: bool,
}

impl ParamTemplate {
    /// A learnable parameter of `dims`.
    pub fn learnable(role: &'static str, dims: Vec<Dim>, init: Init) -> ParamTemplate {
        ParamTemplate {
            role,
            shape: Shape::unbatched(dims),
            init,
            trainable: true,
        }
    }

    /// State that is saved but not learnt (running statistics).
    pub fn state(role: &'static str, dims: Vec<Dim>, init: Init) -> ParamTemplate {
        ParamTemplate {
            trainable: false,
            ..ParamTemplate::learnable(role, dims, init)
        }
    }
}

/// What applying a built-in to its input produces.
#[derive(Clone, Debug)]
pub struct LayerOut {
    /// The checked layer.
    pub layer: Layer,
    /// The output shape.
    pub shape: Shape,
    /// Parameters created.
    pub params: Vec<ParamTemplate>,
    /// Warnings (the layer is still accepted).
    pub warnings: Vec<Diagnostic>,
}

impl LayerOut {
    /// A layer without parameters or warnings.
    pub fn plain(layer: Layer, shape: Shape) -> LayerOut {
        LayerOut {
            layer,
            shape,
            params: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// The result of a shape rule.
pub type Rule = Result<LayerOut, Diagnostic>;

/// Requires `input` to have exactly `rank` axes after the batch.
pub fn need_rank(
    name: &str,
    input: &Shape,
    rank: usize,
    pattern: &str,
    site: Site,
) -> Result<(), Diagnostic> {
    check_rank(input.rank() == rank, name, input, rank, pattern, site)
}

/// Requires `input` to have at least `rank` axes after the batch.
pub fn need_min_rank(
    name: &str,
    input: &Shape,
    rank: usize,
    pattern: &str,
    site: Site,
) -> Result<(), Diagnostic> {
    check_rank(input.rank() >= rank, name, input, rank, pattern, site)
}

/// `Ok` when `fits`, else the wrong-rank problem of `name` on `input`.
fn check_rank(
    fits: bool,
    name: &str,
    input: &Shape,
    rank: usize,
    pattern: &str,
    site: Site,
) -> Result<(), Diagnostic> {
    if fits {
        return Ok(());
    }
    Err(LayerProblem::WrongRank {
        layer: name.to_string(),
        pattern: pattern.to_string(),
        rank,
        input: input.clone(),
        site,
    }
    .into())
}

/// A positive integer argument (a symbolic one is accepted as it is).
pub fn positive_int(args: &Args, param: &str, name: &str, span: Span) -> Result<Dim, Diagnostic> {
    let value = args.int(param).unwrap_or_else(Dim::error);
    match value.as_known() {
        Some(v) if v < 1 => Err(error::invalid_value(
            name,
            param,
            &v.to_string(),
            "a positive integer",
            args.span(param, span),
        )),
        _ => Ok(value),
    }
}

/// The largest kernel, stride or padding accepted: far beyond any real
/// layer, and small enough that size arithmetic cannot overflow.
const MAX_WINDOW: i64 = 1 << 20;

/// A kernel, stride or padding argument, one size per spatial axis: a known
/// integer of at least `min`, or, in a model checked on its own, a size that
/// depends only on options without a default ([`Dim::depends_only_on_options`]),
/// which every use gives and which is checked there. Poisoned where the value
/// had an error (already reported).
pub fn known_per_axis(
    args: &Args,
    param: &str,
    axes: usize,
    name: &str,
    span: Span,
    min: i64,
) -> Result<Vec<Dim>, Diagnostic> {
    let values = args
        .per_axis(param, axes)
        .unwrap_or_else(|| vec![Dim::error(); axes]);
    for d in &values {
        match d.as_known() {
            Some(v) if v < min || v > MAX_WINDOW => {
                let what = match min {
                    0 => format!("an integer from 0 to {MAX_WINDOW}"),
                    _ => format!("an integer from 1 to {MAX_WINDOW}"),
                };
                return Err(error::invalid_value(
                    name,
                    param,
                    &v.to_string(),
                    &what,
                    args.span(param, span),
                ));
            }
            Some(_) => {}
            None if d.is_error() || d.depends_only_on_options() => {}
            None => {
                return Err(LayerProblem::NotKnown {
                    layer: name.to_string(),
                    param: param.to_string(),
                    span: args.span(param, span),
                }
                .into());
            }
        }
    }
    Ok(values)
}

/// Resolves the `axis` argument (or `default`) against the input's rank.
pub fn resolve_axis(
    input: &Shape,
    args: &Args,
    default: i64,
    name: &str,
    site: Site,
) -> Result<usize, Diagnostic> {
    let axis = match args.int("axis") {
        Some(d) => match d.as_known() {
            Some(a) => a,
            None if d.is_error() => return Ok(0),
            None => {
                return Err(LayerProblem::NotKnown {
                    layer: name.to_string(),
                    param: "axis".to_string(),
                    span: args.span("axis", site.span),
                }
                .into());
            }
        },
        None => default,
    };
    input.axis(axis).ok_or_else(|| {
        LayerProblem::AxisOutOfRange {
            layer: name.to_string(),
            axis,
            input: input.clone(),
            span: args.span("axis", site.span),
        }
        .into()
    })
}

/// Training (dropout active, batch statistics) or evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Dropout on, batchnorm uses and updates batch statistics.
    Train,
    /// Deterministic inference.
    Eval,
}

/// What a built-in's forward pass runs with: the tape, its inputs and
/// parameters (by role), the mode and the step's random stream.
pub struct Forward<'a> {
    /// The tape the ops are recorded on.
    pub tape: &'a mut Tape,
    /// The node being run.
    pub node: &'a Node,
    /// The tape variables of its inputs, in order.
    pub inputs: Vec<Var>,
    /// Whether its first input has a batch axis (per-sample axes are then
    /// one further on at run time).
    pub batched: bool,
    /// Every parameter's tape variable, by full name.
    pub params: &'a HashMap<String, Var>,
    /// Training or evaluation.
    pub mode: Mode,
    /// The random stream of this forward pass (dropout masks).
    pub rng: &'a mut ChaCha8Rng,
    /// New values of state tensors (running statistics), by full name.
    pub state_updates: &'a mut Vec<(String, Tensor)>,
}

impl Forward<'_> {
    /// The `i`-th input.
    pub fn input(&self, i: usize) -> Var {
        self.inputs[i]
    }

    /// The full name of the node's parameter with `role`.
    pub fn param_name(&self, role: &str) -> &str {
        self.node
            .params
            .iter()
            .find(|p| p.role() == role)
            .map(|p| p.name.as_str())
            .unwrap_or_else(|| {
                panic!(
                    "internal error: `{}` has no parameter `{role}`",
                    self.node.path
                )
            })
    }

    /// The tape variable of the node's parameter with `role`.
    pub fn param(&self, role: &str) -> Var {
        self.params[self.param_name(role)]
    }

    /// The runtime axis of per-sample `axis`.
    pub fn runtime_axis(&self, axis: usize) -> usize {
        axis + usize::from(self.batched)
    }

    /// The node's checked per-sample shape with the runtime batch in front,
    /// for reshapes.
    pub fn batched_shape(&self, x: Var) -> Result<Vec<usize>, String> {
        let batch = self.tape.value(x).shape()[0];
        let mut shape = vec![batch];
        shape.extend(
            self.node
                .shape
                .known_dims()
                .ok_or_else(|| format!("`{}` has a symbolic shape at run time", self.node.path))?,
        );
        Ok(shape)
    }
}
