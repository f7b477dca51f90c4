//! Shape rules of the built-in layers and functions that take one tensor:
//! given the input shape and the bound arguments, the op, the output shape,
//! the parameters created, and any warnings.

use super::args::Bound;
use super::builtins::Builtin;
use super::dim::Dim;
use super::error;
use super::shape::Shape;
use crate::diagnostic::Diagnostic;
use crate::ir::{Activation, Init, Op, Pool, Recurrent, Reduce, Window};
use crate::span::Span;

/// A parameter a layer creates, named relative to the layer's path.
#[derive(Clone, Debug)]
pub struct ParamTemplate {
    /// `weight`, `bias`, `running_mean`...
    pub suffix: &'static str,
    /// Its shape.
    pub shape: Shape,
    /// How it starts.
    pub init: Init,
    /// Learnable or state.
    pub trainable: bool,
}

/// What applying a layer produces.
#[derive(Clone, Debug)]
pub struct LayerOut {
    /// The op.
    pub op: Op,
    /// The output shape.
    pub shape: Shape,
    /// Parameters created.
    pub params: Vec<ParamTemplate>,
    /// Warnings (the layer is still accepted).
    pub warnings: Vec<Diagnostic>,
}

impl LayerOut {
    fn plain(op: Op, shape: Shape) -> LayerOut {
        LayerOut {
            op,
            shape,
            params: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

fn learnable(suffix: &'static str, dims: Vec<Dim>, init: Init) -> ParamTemplate {
    ParamTemplate {
        suffix,
        shape: Shape::unbatched(dims),
        init,
        trainable: true,
    }
}

/// Where a layer is written, for diagnostics.
#[derive(Clone, Copy, Debug)]
pub struct Site {
    /// The whole call.
    pub span: Span,
    /// Where the input came from.
    pub input_span: Span,
}

/// Applies a one-input built-in (everything but `concat`) to `input`.
pub fn apply(
    builtin: Builtin,
    input: &Shape,
    args: &Bound,
    site: Site,
) -> Result<LayerOut, Diagnostic> {
    let name = builtin.name();
    let need_rank = |rank: usize, what: &str| -> Result<(), Diagnostic> {
        if input.rank() == rank {
            Ok(())
        } else {
            Err(error::wrong_rank(name, what, rank, input, site))
        }
    };
    let need_min_rank = |rank: usize, what: &str| -> Result<(), Diagnostic> {
        if input.rank() >= rank {
            Ok(())
        } else {
            Err(error::wrong_rank(name, what, rank, input, site))
        }
    };
    let same = |op: Op| Ok(LayerOut::plain(op, input.clone()));
    match builtin {
        Builtin::Dense => {
            need_min_rank(1, "[..., F]")?;
            let units = positive_int(args, "units", name, site.span)?;
            let bias = args.bool("bias").unwrap_or(true);
            let features = input.dims[input.rank() - 1].clone();
            let mut dims = input.dims.clone();
            *dims.last_mut().expect("rank checked above") = units.clone();
            let mut params = vec![learnable(
                "weight",
                vec![features, units.clone()],
                Init::Xavier,
            )];
            if bias {
                params.push(learnable("bias", vec![units.clone()], Init::Zeros));
            }
            Ok(LayerOut {
                op: Op::Dense { units, bias },
                shape: Shape {
                    batched: input.batched,
                    dims,
                },
                params,
                warnings: Vec::new(),
            })
        }
        Builtin::Conv2d => {
            need_rank(3, "[C, H, W]")?;
            let out = positive_int(args, "out", name, site.span)?;
            let kernel = known_pair(args, "kernel", name, site.span, 1)?;
            let stride = match args.get("stride") {
                Some(_) => known_pair(args, "stride", name, site.span, 1)?,
                None => [1, 1],
            };
            let padding = match args.str("padding") {
                Some(_) => same_padding(kernel, stride, args.span("padding", site.span))?,
                None if args.has("padding") => known_pair(args, "padding", name, site.span, 0)?,
                None => [0, 0],
            };
            let bias = args.bool("bias").unwrap_or(true);
            let (window, dims, warnings) =
                window_shape(name, input, kernel, stride, padding, args, site)?;
            let channels = input.dims[0].clone();
            let mut params = vec![learnable(
                "weight",
                vec![
                    out.clone(),
                    channels,
                    Dim::known(kernel[0]),
                    Dim::known(kernel[1]),
                ],
                Init::Kaiming,
            )];
            if bias {
                params.push(learnable("bias", vec![out.clone()], Init::Zeros));
            }
            let mut out_dims = vec![out.clone()];
            out_dims.extend(dims);
            Ok(LayerOut {
                op: Op::Conv2d { out, window, bias },
                shape: Shape {
                    batched: input.batched,
                    dims: out_dims,
                },
                params,
                warnings,
            })
        }
        Builtin::MaxPool | Builtin::AvgPool => {
            need_rank(3, "[C, H, W]")?;
            let kernel = known_pair(args, "kernel", name, site.span, 1)?;
            let stride = match args.get("stride") {
                Some(_) => known_pair(args, "stride", name, site.span, 1)?,
                None => kernel,
            };
            let padding = match args.get("padding") {
                Some(_) => known_pair(args, "padding", name, site.span, 0)?,
                None => [0, 0],
            };
            for axis in 0..2 {
                if padding[axis] * 2 > kernel[axis] {
                    return Err(error::pool_padding_too_large(
                        name,
                        padding[axis],
                        kernel[axis],
                        args.span("padding", site.span),
                    ));
                }
            }
            let (window, dims, warnings) =
                window_shape(name, input, kernel, stride, padding, args, site)?;
            let kind = if builtin == Builtin::MaxPool {
                Pool::Max
            } else {
                Pool::Avg
            };
            let mut out_dims = vec![input.dims[0].clone()];
            out_dims.extend(dims);
            Ok(LayerOut {
                op: Op::Pool { kind, window },
                shape: Shape {
                    batched: input.batched,
                    dims: out_dims,
                },
                params: Vec::new(),
                warnings,
            })
        }
        Builtin::GlobalAvgPool => {
            need_rank(3, "[C, H, W]")?;
            Ok(LayerOut::plain(
                Op::GlobalAvgPool,
                Shape {
                    batched: input.batched,
                    dims: vec![input.dims[0].clone()],
                },
            ))
        }
        Builtin::Flatten => {
            need_min_rank(1, "[d1, ...]")?;
            Ok(LayerOut::plain(
                Op::Flatten,
                Shape {
                    batched: input.batched,
                    dims: vec![input.elements()],
                },
            ))
        }
        Builtin::Dropout => {
            let p = args.float("p").flatten();
            if let Some(p) = p
                && !(0.0..1.0).contains(&p)
            {
                return Err(error::invalid_value(
                    name,
                    "p",
                    &format!("{p}"),
                    "a probability in [0, 1)",
                    args.span("p", site.span),
                ));
            }
            same(Op::Dropout {
                p: p.unwrap_or(0.5),
            })
        }
        Builtin::BatchNorm => {
            need_min_rank(1, "[C, ...]")?;
            let momentum = args.float("momentum").flatten().unwrap_or(0.1);
            let eps = args.float("eps").flatten().unwrap_or(1e-5);
            let channels = input.dims[0].clone();
            let state = |suffix, init| ParamTemplate {
                suffix,
                shape: Shape::unbatched(vec![channels.clone()]),
                init,
                trainable: false,
            };
            Ok(LayerOut {
                op: Op::BatchNorm { momentum, eps },
                shape: input.clone(),
                params: vec![
                    learnable("weight", vec![channels.clone()], Init::Ones),
                    learnable("bias", vec![channels.clone()], Init::Zeros),
                    state("running_mean", Init::Zeros),
                    state("running_var", Init::Ones),
                ],
                warnings: Vec::new(),
            })
        }
        Builtin::Embedding => {
            let vocab = positive_int(args, "vocab", name, site.span)?;
            let dim = positive_int(args, "dim", name, site.span)?;
            let mut dims = input.dims.clone();
            dims.push(dim.clone());
            Ok(LayerOut {
                op: Op::Embedding {
                    vocab: vocab.clone(),
                    dim: dim.clone(),
                },
                shape: Shape {
                    batched: input.batched,
                    dims,
                },
                params: vec![learnable(
                    "weight",
                    vec![vocab, dim],
                    Init::Normal(0.0, 1.0),
                )],
                warnings: Vec::new(),
            })
        }
        Builtin::Rnn | Builtin::Lstm | Builtin::Gru => {
            need_rank(2, "[T, I]")?;
            let hidden = positive_int(args, "hidden", name, site.span)?;
            let (kind, gates) = match builtin {
                Builtin::Rnn => (Recurrent::Rnn, 1),
                Builtin::Lstm => (Recurrent::Lstm, 4),
                _ => (Recurrent::Gru, 3),
            };
            let rows = input.dims[1].add(&hidden);
            let cols = hidden.mul(&Dim::known(gates));
            Ok(LayerOut {
                op: Op::Recurrent {
                    kind,
                    hidden: hidden.clone(),
                },
                shape: Shape {
                    batched: input.batched,
                    dims: vec![input.dims[0].clone(), hidden],
                },
                params: vec![
                    learnable("weight", vec![rows, cols.clone()], Init::Xavier),
                    learnable("bias", vec![cols], Init::Zeros),
                ],
                warnings: Vec::new(),
            })
        }
        Builtin::Reshape => reshape(input, args, site),
        Builtin::Sigmoid => same(Op::Activation(Activation::Sigmoid)),
        Builtin::Tanh => same(Op::Activation(Activation::Tanh)),
        Builtin::Relu => same(Op::Activation(Activation::Relu)),
        Builtin::Exp => same(Op::Activation(Activation::Exp)),
        Builtin::Log => same(Op::Activation(Activation::Log)),
        Builtin::LeakyRelu => same(Op::LeakyRelu {
            slope: args.float("a").flatten().unwrap_or(0.01),
        }),
        Builtin::Softmax => {
            let axis = resolve_axis(input, args, -1, name, site)?;
            same(Op::Softmax { axis })
        }
        Builtin::Sum | Builtin::Mean => {
            let kind = if builtin == Builtin::Sum {
                Reduce::Sum
            } else {
                Reduce::Mean
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
                Op::Reduce { kind, axis },
                Shape {
                    batched: input.batched,
                    dims,
                },
            ))
        }
        Builtin::Last => {
            need_min_rank(1, "[T, ...]")?;
            Ok(LayerOut::plain(
                Op::Last,
                Shape {
                    batched: input.batched,
                    dims: input.dims[1..].to_vec(),
                },
            ))
        }
        Builtin::Concat => unreachable!("concat has several inputs and its own rule"),
    }
}

/// Resolves the `axis` argument (or `default`) against the input's rank.
pub fn resolve_axis(
    input: &Shape,
    args: &Bound,
    default: i64,
    name: &str,
    site: Site,
) -> Result<usize, Diagnostic> {
    let axis = match args.int("axis") {
        Some(d) => match d.as_known() {
            Some(a) => a,
            None if d.is_error() => return Ok(0),
            None => return Err(error::not_known(name, "axis", args.span("axis", site.span))),
        },
        None => default,
    };
    input
        .axis(axis)
        .ok_or_else(|| error::axis_out_of_range(name, axis, input, args.span("axis", site.span)))
}

fn positive_int(args: &Bound, param: &str, name: &str, span: Span) -> Result<Dim, Diagnostic> {
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

fn known_pair(
    args: &Bound,
    param: &str,
    name: &str,
    span: Span,
    min: i64,
) -> Result<[i64; 2], Diagnostic> {
    let pair = args.pair(param).unwrap_or([Dim::error(), Dim::error()]);
    let mut out = [min; 2];
    for (i, d) in pair.iter().enumerate() {
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
            Some(v) => out[i] = v,
            // A poisoned value was reported where it arose.
            None if d.is_error() => {}
            None => return Err(error::not_known(name, param, args.span(param, span))),
        }
    }
    Ok(out)
}

fn same_padding(kernel: [i64; 2], stride: [i64; 2], span: Span) -> Result<[i64; 2], Diagnostic> {
    if stride != [1, 1] || kernel[0] % 2 == 0 || kernel[1] % 2 == 0 {
        return Err(error::same_padding_unsupported(kernel, stride, span));
    }
    Ok([(kernel[0] - 1) / 2, (kernel[1] - 1) / 2])
}

type WindowResult = (Window, Vec<Dim>, Vec<Diagnostic>);

fn window_shape(
    name: &str,
    input: &Shape,
    kernel: [i64; 2],
    stride: [i64; 2],
    padding: [i64; 2],
    args: &Bound,
    site: Site,
) -> Result<WindowResult, Diagnostic> {
    let round = args.str("round").unwrap_or("floor");
    let explicit = args.has("round");
    let mut dims = Vec::new();
    let mut rounded = Vec::new();
    for (axis, axis_name) in ["height", "width"].into_iter().enumerate() {
        let size = &input.dims[1 + axis];
        let geometry = error::WindowGeometry {
            layer: name,
            axis: axis_name,
            input: size.clone(),
            kernel: kernel[axis],
            stride: stride[axis],
            padding: padding[axis],
        };
        let numerator = size.add(&Dim::known(2 * padding[axis] - kernel[axis]));
        let Some(n) = numerator.as_known() else {
            let steps = if round == "ceil" {
                numerator.ceil_div(stride[axis])
            } else {
                numerator.floor_div(stride[axis])
            };
            dims.push(steps.add(&Dim::known(1)));
            continue;
        };
        let exact = n.rem_euclid(stride[axis]) == 0;
        let mut out = n.div_euclid(stride[axis]) + 1;
        if round == "ceil" && !exact {
            out += 1;
            // PyTorch drops a last window that would start in the right padding.
            let input_size = size.as_known().unwrap_or(0);
            if (i128::from(out) - 1) * i128::from(stride[axis])
                >= i128::from(input_size) + i128::from(padding[axis])
            {
                out -= 1;
            }
        }
        if out < 1 {
            return Err(error::window_below_one(
                &geometry,
                site.span,
                site.input_span,
            ));
        }
        if !exact {
            match round {
                "exact" => {
                    return Err(error::window_inexact(&geometry, site.span, site.input_span));
                }
                "floor" if !explicit => {
                    rounded.push((geometry, out));
                }
                _ => {}
            }
        }
        dims.push(Dim::known(out));
    }
    // A square window on a square input rounds both axes alike: say it once.
    let warnings = match rounded.as_slice() {
        [(h, out_h), (w, out_w)]
            if h.input == w.input
                && h.kernel == w.kernel
                && h.stride == w.stride
                && h.padding == w.padding
                && out_h == out_w =>
        {
            let both = error::WindowGeometry {
                axis: "height and width",
                ..h.clone()
            };
            vec![error::window_rounded(&both, *out_h, site.span)]
        }
        _ => rounded
            .iter()
            .map(|(g, out)| error::window_rounded(g, *out, site.span))
            .collect(),
    };
    let window = Window {
        kernel,
        stride,
        padding,
        ceil: round == "ceil",
    };
    Ok((window, dims, warnings))
}

fn reshape(input: &Shape, args: &Bound, site: Site) -> Result<LayerOut, Diagnostic> {
    let Some((super::value::Value::List(items), list_span)) = args.get("shape") else {
        return Ok(LayerOut::plain(
            Op::Reshape,
            Shape {
                batched: input.batched,
                dims: vec![Dim::error()],
            },
        ));
    };
    let mut dims: Vec<Dim> = items
        .iter()
        .map(|(v, _)| match v {
            super::value::Value::Int(d) => d.clone(),
            _ => Dim::error(),
        })
        .collect();
    let inferred: Vec<usize> = dims
        .iter()
        .enumerate()
        .filter(|(_, d)| d.as_known() == Some(-1))
        .map(|(i, _)| i)
        .collect();
    if inferred.len() > 1 {
        return Err(error::reshape_two_inferred(*list_span));
    }
    let total = input.elements();
    if let Some(&i) = inferred.first() {
        let rest = dims
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .fold(Dim::known(1), |acc, (_, d)| acc.mul(d));
        match (total.as_known(), rest.as_known()) {
            (Some(t), Some(r)) if r > 0 && t % r == 0 => dims[i] = Dim::known(t / r),
            (Some(_), Some(_)) => {
                return Err(error::reshape_count(
                    input,
                    &dims,
                    *list_span,
                    site.input_span,
                ));
            }
            _ => dims[i] = Dim::error(),
        }
    } else if let Some(bad) = dims.iter().find(|d| d.as_known().is_some_and(|v| v < 1)) {
        return Err(error::invalid_value(
            "reshape",
            "shape",
            &bad.to_string(),
            "positive sizes (or one -1)",
            *list_span,
        ));
    }
    let target = Shape {
        batched: input.batched,
        dims,
    };
    // With dimension variables on either side, the counts are compared only
    // once the variables are bound at a use.
    if !total.is_symbolic()
        && !target.elements().is_symbolic()
        && !total.agrees_with(&target.elements())
    {
        return Err(error::reshape_count(
            input,
            &target.dims,
            *list_span,
            site.input_span,
        ));
    }
    Ok(LayerOut::plain(Op::Reshape, target))
}
