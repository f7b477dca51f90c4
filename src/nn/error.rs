//! The problems the built-ins' shape rules find, as data: a shape rule
//! decides *what* is wrong and returns a [`LayerProblem`]; its one rendering,
//! `Diagnostic::from`, says how, with the codes and the numbers filled in.

use super::site::Site;
use crate::diagnostic::{Code, Diagnostic};
use crate::ir::{Dim, Shape};
use crate::span::Span;

/// "1 axis", "3 axes".
pub fn axes(n: usize) -> String {
    if n == 1 {
        "1 axis".to_string()
    } else {
        format!("{n} axes")
    }
}

/// What a shape rule found wrong (or, for the warnings, doubtful).
#[derive(Clone, Debug)]
pub enum LayerProblem {
    /// E0206: an argument outside its valid range.
    InvalidValue {
        /// The layer.
        layer: String,
        /// The parameter.
        param: String,
        /// The value given, as written in the message.
        value: String,
        /// What it must be ("a positive integer").
        expected: String,
        /// Where it is given.
        span: Span,
    },
    /// E0207: a size that must be a known integer depends on a variable.
    NotKnown {
        /// The layer.
        layer: String,
        /// The parameter.
        param: String,
        /// Where it is given.
        span: Span,
    },
    /// E0304: an input of the wrong rank.
    WrongRank {
        /// The layer.
        layer: String,
        /// The shape it takes, e.g. `[C, H, W]`.
        pattern: String,
        /// How many axes it needs.
        rank: usize,
        /// The input it got.
        input: Shape,
        /// Where.
        site: Site,
    },
    /// E0312: an axis outside the input's rank.
    AxisOutOfRange {
        /// The layer.
        layer: String,
        /// The axis given.
        axis: i64,
        /// The input.
        input: Shape,
        /// Where the axis is given.
        span: Span,
    },
    /// E0306: a window output size below 1.
    WindowBelowOne {
        /// The numbers.
        geometry: WindowGeometry,
        /// Where.
        site: Site,
    },
    /// E0305: an inexact window division under `round = "exact"`.
    WindowInexact {
        /// The numbers.
        geometry: WindowGeometry,
        /// Where.
        site: Site,
    },
    /// W0301: an inexact window division rounded down without being asked.
    WindowRounded {
        /// The numbers.
        geometry: WindowGeometry,
        /// The size used.
        out: i64,
        /// Where the layer is written.
        span: Span,
    },
    /// E0206: pool padding over half the kernel.
    PoolPaddingTooLarge {
        /// The layer.
        layer: String,
        /// The padding.
        padding: i64,
        /// The kernel.
        kernel: i64,
        /// Where the padding is given.
        span: Span,
    },
    /// E0206: `padding = "same"` with a stride or an even kernel.
    SamePaddingUnsupported {
        /// Kernel per axis.
        kernel: Vec<i64>,
        /// Stride per axis.
        stride: Vec<i64>,
        /// Where the padding is given.
        span: Span,
    },
    /// E0307: `reshape` with more than one -1.
    ReshapeTwoInferred {
        /// The list.
        span: Span,
    },
    /// E0307: `reshape` to another element count.
    ReshapeCount {
        /// The input.
        input: Shape,
        /// The sizes asked for.
        target: Vec<Dim>,
        /// The list.
        span: Span,
        /// Where the input comes from.
        input_span: Span,
    },
    /// W0302: `dense` on a value of rank 3 or more acts on its last axis only.
    DenseOnLastAxis {
        /// The input.
        input: Shape,
        /// Where.
        site: Site,
    },
    /// E0303: `concat` inputs that differ off the axis.
    ConcatMismatch {
        /// The first input.
        first: Shape,
        /// Where it is written.
        first_span: Span,
        /// The input that differs.
        other: Shape,
        /// Where it is written.
        other_span: Span,
        /// The axis.
        axis: usize,
    },
    /// E0303: `concat` of fewer than two tensors.
    ConcatTooFew {
        /// The call.
        span: Span,
    },
}

/// The numbers of a conv or pool output size.
#[derive(Clone, Debug)]
pub struct WindowGeometry {
    /// `conv2d`, `maxpool` or `avgpool`.
    pub layer: &'static str,
    /// `height` or `width`.
    pub axis: &'static str,
    /// Input size.
    pub input: Dim,
    /// Kernel size.
    pub kernel: i64,
    /// Stride.
    pub stride: i64,
    /// Padding.
    pub padding: i64,
}

impl WindowGeometry {
    fn formula(&self) -> String {
        // NOTE: i128 so that absurd sizes cannot overflow.
        let i = i128::from(self.input.as_known().unwrap_or(0));
        let numerator = i + 2 * i128::from(self.padding) - i128::from(self.kernel);
        let exact = numerator as f64 / self.stride as f64 + 1.0;
        let value = if exact.fract() == 0.0 {
            format!("{exact}")
        } else {
            format!("{exact:.2}").trim_end_matches('0').to_string()
        };
        format!(
            "({} + 2*{} - {})/{} + 1 = {value}",
            self.input, self.padding, self.kernel, self.stride
        )
    }

    /// The smallest padding >= the current one that makes the division exact.
    fn exact_padding(&self) -> Option<i64> {
        let i = i128::from(self.input.as_known()?);
        let (kernel, stride) = (i128::from(self.kernel), i128::from(self.stride));
        (self.padding..self.padding + self.stride).find(|&p| {
            let numerator = i + 2 * i128::from(p) - kernel;
            numerator >= 0 && numerator.rem_euclid(stride) == 0
        })
    }
}

impl From<LayerProblem> for Diagnostic {
    fn from(problem: LayerProblem) -> Diagnostic {
        match problem {
            LayerProblem::InvalidValue { layer: callee, param, value, expected, span } => {
            Diagnostic::error(
                Code::E0206,
                format!("`{param}` of `{callee}` must be {expected}"),
                span,
                format!("this is {value}"),
            )
            },
            LayerProblem::NotKnown { layer: callee, param, span } => {
            Diagnostic::error(
                Code::E0207,
                format!("`{param}` of `{callee}` must be a known integer"),
                span,
                "depends on a dimension variable or option without a value",
            )
            .with_help("give the option a default, or pass a number")
            },
            LayerProblem::WrongRank { layer, pattern, rank, input, site } => {
                let (layer, pattern, input) = (layer.as_str(), pattern.as_str(), &input);
            Diagnostic::error(
                Code::E0304,
                format!("`{layer}` expects an input of shape {pattern}"),
                site.span,
                format!("needs {} after the batch", axes(rank)),
            )
            .with_label(
                site.input_span,
                format!(
                    "this is {input}, with {} after the batch",
                    axes(input.rank())
                ),
            )
            .with_help(match (layer, input.rank()) {
                ("dense", 0) => "`dense` needs a feature axis".to_string(),
                (_, r) if r > rank && rank == 1 => "use `flatten` first".to_string(),
                ("conv2d" | "maxpool" | "avgpool" | "global_avgpool", r) if r < 3 => {
                    "reshape the input to [C, H, W], e.g. `reshape([1, 28, 28])`".to_string()
                }
                ("conv1d", 1) => format!(
                    "reshape the input to [C, L]: `reshape([1, {0}])` makes it one channel of length {0}",
                    input.dims[0]
                ),
                ("conv1d", 0) => "`conv1d` needs a sequence [C, L]".to_string(),
                _ => format!("`{layer}` takes {pattern}"),
            })
            },
            LayerProblem::AxisOutOfRange { layer, axis, input, span } => {
            let rank = input.rank();
            Diagnostic::error(
                Code::E0312,
                format!("axis {axis} is out of range for `{layer}`"),
                span,
                format!("the input {input} has {} after the batch", axes(rank)),
            )
            .with_note(match rank {
                0 => "the input has no axis besides the batch, which is never counted".to_string(),
                1 => "the only valid axis is 0 (or -1); the batch axis is never counted".to_string(),
                _ => format!(
                    "valid axes are 0 to {} (or -{rank} to -1); the batch axis is never counted",
                    rank - 1
                ),
            })
            },
            LayerProblem::WindowBelowOne { geometry: g, site } => {
                let (span, input_span) = (site.span, site.input_span);
            Diagnostic::error(Code::E0306, format!("`{}` output {} would be below 1", g.layer, g.axis), span, format!("output {} is {}", g.axis, g.formula()))
                .with_label(input_span, format!("the input {} is {}", g.axis, g.input))
                .with_note("output size = (input + 2*padding - kernel)/stride + 1")
                .with_help(format!("the input is too small for a kernel of {}: use a smaller kernel, add padding, or remove a pooling layer before this one", g.kernel))
            },
            LayerProblem::WindowInexact { geometry: g, site } => {
                let (span, input_span) = (site.span, site.input_span);
            let d = Diagnostic::error(
                Code::E0305,
                format!("`{}` output {} is not a whole number", g.layer, g.axis),
                span,
                format!("output {} is {}", g.axis, g.formula()),
            )
            .with_label(input_span, format!("the input {} is {}", g.axis, g.input))
            .with_note(
                "`round = \"exact\"` requires (input + 2*padding - kernel) to be a multiple of the stride",
            );
            match g.exact_padding() {
                Some(p) if p != g.padding => d.with_help(format!(
                    "use `padding = {p}`, or `round = \"floor\"` to drop the remainder"
                )),
                _ => d.with_help(
                    "use `round = \"floor\"` to drop the remainder, or `round = \"ceil\"` to keep it",
                ),
            }
            },
            LayerProblem::WindowRounded { geometry: g, out, span } => {
            let i = g.input.as_known().unwrap_or(0);
            let used = (i128::from(out) - 1) * i128::from(g.stride) + i128::from(g.kernel);
            let dropped = i128::from(i) + 2 * i128::from(g.padding) - used;
            let (what, whats) = match g.axis {
                "height" => ("row", "rows"),
                "width" => ("column", "columns"),
                "length" => ("position", "positions"),
                _ => ("row and column", "rows and columns"),
            };
            let verb = if g.axis.contains(" and ") {
                "are"
            } else {
                "is"
            };
            let unused = if dropped == 1 {
                format!("the last {what} of the (padded) input {verb} never used")
            } else {
                format!("the last {dropped} {whats} of the (padded) input are never used")
            };
            let d = Diagnostic::warning(
                Code::W0301,
                format!("`{}` output {} {verb} rounded down", g.layer, g.axis),
                span,
                format!(
                    "output {} {verb} {}, rounded down to {out}",
                    g.axis,
                    g.formula()
                ),
            )
            .with_note(unused);
            match g.exact_padding() {
                Some(p) if p != g.padding => d.with_help(format!("use `padding = {p}` to use every {what}, or write `round = \"floor\"` to accept this")),
                _ => d.with_help("write `round = \"floor\"` to accept this, or `round = \"ceil\"` to keep a partial window"),
            }
            },
            LayerProblem::PoolPaddingTooLarge { layer, padding, kernel, span } => {
            Diagnostic::error(
                Code::E0206,
                format!("`padding` of `{layer}` must be at most half the kernel"),
                span,
                format!("padding {padding} with kernel {kernel}"),
            )
            .with_note("a window made only of padding has no input value in it")
            },
            LayerProblem::SamePaddingUnsupported { kernel, stride, span } => {
            Diagnostic::error(
                Code::E0206,
                "`padding = \"same\"` needs stride 1 and an odd kernel",
                span,
                format!("kernel {:?}, stride {:?}", kernel, stride),
            )
            .with_help("give the padding as a number: for an odd kernel k, `padding = (k - 1)/2`")
            },
            LayerProblem::ReshapeTwoInferred { span } => {
            Diagnostic::error(
                Code::E0307,
                "`reshape` can infer only one size",
                span,
                "more than one -1",
            )
            },
            LayerProblem::ReshapeCount { input, target, span, input_span } => {
                let input = &input;
            let target_text: Vec<String> = target.iter().map(|d| d.to_string()).collect();
            let product: Vec<String> = input.dims.iter().map(|d| d.to_string()).collect();
            Diagnostic::error(
                Code::E0307,
                "`reshape` changes the number of elements",
                span,
                format!(
                    "[{}] has {} elements",
                    target_text.join(", "),
                    target.iter().fold(Dim::known(1), |a, d| a.mul(d))
                ),
            )
            .with_label(
                input_span,
                if input.rank() > 1 {
                    format!(
                        "the input {input} has {} = {} elements per sample",
                        product.join("*"),
                        input.elements()
                    )
                } else {
                    format!(
                        "the input {input} has {} elements per sample",
                        input.elements()
                    )
                },
            )
            .with_help("the sizes must multiply to the same count; one of them may be -1 to infer it")
            },
            LayerProblem::DenseOnLastAxis { input, site } => {
            let last = &input.dims[input.rank() - 1];
            Diagnostic::warning(
                Code::W0302,
                format!("`dense` acts on the last axis of {input} only"),
                site.span,
                format!("each of the other positions gets its own `{last}`-feature vector multiplied by the same weights"),
            )
            .with_label(site.input_span, format!("this is {input}, with {} after the batch", axes(input.rank())))
            .with_help("to connect every value to every unit, put `flatten` before this `dense`")
            },
            LayerProblem::ConcatMismatch { first, first_span, other, other_span, axis } => {
            Diagnostic::error(Code::E0303, format!("cannot concatenate {first} and {other} along axis {axis}"), other_span, format!("this is {other}"))
                .with_label(first_span, format!("the first input is {first}"))
                .with_note(format!("all inputs must have the same rank and agree on every axis except axis {axis} (axes count from 0 after the batch)"))
            },
            LayerProblem::ConcatTooFew { span } => {
            Diagnostic::error(
                Code::E0303,
                "`concat` needs at least two tensors",
                span,
                "only one input",
            )
            .with_help("write `concat(a, b, axis = 0)`")
            }
        }
    }
}

/// E0206 for an argument outside its valid range (also used by the checker
/// for data and train settings).
pub fn invalid_value(
    callee: &str,
    param: &str,
    value: &str,
    expected: &str,
    span: Span,
) -> Diagnostic {
    LayerProblem::InvalidValue {
        layer: callee.to_string(),
        param: param.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
        span,
    }
    .into()
}

/// E0307 for a `reshape` that changes the element count (also used by the
/// checker for the data's `reshape`).
pub fn reshape_count(input: &Shape, target: &[Dim], span: Span, input_span: Span) -> Diagnostic {
    LayerProblem::ReshapeCount {
        input: input.clone(),
        target: target.to_vec(),
        span,
        input_span,
    }
    .into()
}
