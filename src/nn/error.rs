//! The diagnostics of the built-ins' shape rules, with their codes and
//! prose: a shape rule decides *what* is wrong, this file how to say it.

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

/// An argument outside its valid range.
pub fn invalid_value(
    callee: &str,
    param: &str,
    value: &str,
    expected: &str,
    span: Span,
) -> Diagnostic {
    Diagnostic::error(
        Code::E0206,
        format!("`{param}` of `{callee}` must be {expected}"),
        span,
        format!("this is {value}"),
    )
}

/// An argument that must be a known number but depends on a variable.
pub fn not_known(callee: &str, param: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0207,
        format!("`{param}` of `{callee}` must be a known integer"),
        span,
        "depends on a dimension variable or option without a value",
    )
    .with_help("give the option a default, or pass a number")
}

/// A layer given an input of the wrong rank.
pub fn wrong_rank(
    layer: &str,
    pattern: &str,
    rank: usize,
    input: &Shape,
    site: Site,
) -> Diagnostic {
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
        ("conv1d", r) if r < 2 => {
            "reshape the input to [C, L], e.g. `reshape([1, 100])` for one channel".to_string()
        }
        _ => format!("`{layer}` takes {pattern}"),
    })
}

/// An axis outside the rank.
pub fn axis_out_of_range(layer: &str, axis: i64, input: &Shape, span: Span) -> Diagnostic {
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
}

/// The numbers of a conv or pool output size.
#[derive(Clone)]
pub struct WindowGeometry<'a> {
    /// `conv2d`, `maxpool` or `avgpool`.
    pub layer: &'a str,
    /// `height` or `width`.
    pub axis: &'a str,
    /// Input size.
    pub input: Dim,
    /// Kernel size.
    pub kernel: i64,
    /// Stride.
    pub stride: i64,
    /// Padding.
    pub padding: i64,
}

impl WindowGeometry<'_> {
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

/// A conv or pool output below 1.
pub fn window_below_one(g: &WindowGeometry, span: Span, input_span: Span) -> Diagnostic {
    Diagnostic::error(Code::E0306, format!("`{}` output {} would be below 1", g.layer, g.axis), span, format!("output {} is {}", g.axis, g.formula()))
        .with_label(input_span, format!("the input {} is {}", g.axis, g.input))
        .with_note("output size = (input + 2*padding - kernel)/stride + 1")
        .with_help(format!("the input is too small for a kernel of {}: use a smaller kernel, add padding, or remove a pooling layer before this one", g.kernel))
}

/// An inexact conv or pool division with `round = "exact"`.
pub fn window_inexact(g: &WindowGeometry, span: Span, input_span: Span) -> Diagnostic {
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
}

/// An inexact conv or pool division rounded down implicitly.
pub fn window_rounded(g: &WindowGeometry, out: i64, span: Span) -> Diagnostic {
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
}

/// Pool padding larger than half the kernel.
pub fn pool_padding_too_large(layer: &str, padding: i64, kernel: i64, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0206,
        format!("`padding` of `{layer}` must be at most half the kernel"),
        span,
        format!("padding {padding} with kernel {kernel}"),
    )
    .with_note("a window made only of padding has no input value in it")
}

/// `padding = "same"` where it is not supported.
pub fn same_padding_unsupported(kernel: &[i64], stride: &[i64], span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0206,
        "`padding = \"same\"` needs stride 1 and an odd kernel",
        span,
        format!("kernel {:?}, stride {:?}", kernel, stride),
    )
    .with_help("give the padding as a number: for an odd kernel k, `padding = (k - 1)/2`")
}

/// `reshape` with more than one -1.
pub fn reshape_two_inferred(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0307,
        "`reshape` can infer only one size",
        span,
        "more than one -1",
    )
}

/// `reshape` to a different element count.
pub fn reshape_count(input: &Shape, target: &[Dim], span: Span, input_span: Span) -> Diagnostic {
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
}

/// `dense` on a value with several axes: it acts on the last one only.
pub fn dense_on_last_axis(input: &Shape, site: Site) -> Diagnostic {
    let last = &input.dims[input.rank() - 1];
    Diagnostic::warning(
        Code::W0302,
        format!("`dense` acts on the last axis of {input} only"),
        site.span,
        format!("each of the other positions gets its own `{last}`-feature vector multiplied by the same weights"),
    )
    .with_label(site.input_span, format!("this is {input}, with {} after the batch", axes(input.rank())))
    .with_help("to connect every value to every unit, put `flatten` before this `dense`")
}

/// `concat` inputs that differ off the concatenation axis.
pub fn concat_mismatch(
    first: &Shape,
    first_span: Span,
    other: &Shape,
    other_span: Span,
    axis: usize,
) -> Diagnostic {
    Diagnostic::error(Code::E0303, format!("cannot concatenate {first} and {other} along axis {axis}"), other_span, format!("this is {other}"))
        .with_label(first_span, format!("the first input is {first}"))
        .with_note(format!("all inputs must have the same rank and agree on every axis except axis {axis} (axes count from 0 after the batch)"))
}

/// `concat` with fewer than two inputs.
pub fn concat_too_few(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0303,
        "`concat` needs at least two tensors",
        span,
        "only one input",
    )
    .with_help("write `concat(a, b, axis = 0)`")
}
