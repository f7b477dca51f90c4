//! Every diagnostic the checker emits, with its code and its prose. The
//! checker decides *what* is wrong; this file alone decides how to say it.

use super::builtins::ArgKind;
use super::dim::Dim;
use super::layers::Site;
use super::shape::Shape;
use super::value::Value;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use crate::syntax::ast::Ident;

/// The closest candidate to `name`, if one is close enough to be a typo.
pub fn suggest<'c>(name: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let limit = (name.len() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name && !c.is_empty())
        .map(|c| (strsim::osa_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, *c))
        .map(|(_, c)| c)
}

fn with_suggestion(diagnostic: Diagnostic, name: &str, candidates: &[String]) -> Diagnostic {
    match suggest(name, candidates.iter().map(String::as_str)) {
        Some(best) => diagnostic.with_help(format!("did you mean `{best}`?")),
        None => diagnostic,
    }
}

// ----- items --------------------------------------------------------------

/// Two items with one name.
pub fn duplicate_item(name: &Ident, first: Span) -> Diagnostic {
    Diagnostic::error(
        "E0103",
        format!("`{}` is defined twice", name.name),
        name.span,
        "defined again here",
    )
    .with_label(first, "first defined here")
    .with_help("rename one of them")
}

/// A model using itself.
pub fn recursive_model(callee: &Ident, chain: &[String], definition: Span) -> Diagnostic {
    Diagnostic::error(
        "E0104",
        format!("model `{}` uses itself", callee.name),
        callee.span,
        "recursive use",
    )
    .with_label(definition, "defined here")
    .with_note(format!("the chain of uses is {}", chain.join(" -> ")))
    .with_help("a model cannot contain itself; use `repeat` to stack copies of a block")
}

// ----- names --------------------------------------------------------------

/// A name that is bound nowhere.
pub fn unknown_name(name: &str, span: Span, candidates: &[String]) -> Diagnostic {
    let d = Diagnostic::error(
        "E0101",
        format!("unknown name `{name}`"),
        span,
        "not defined",
    );
    with_suggestion(d, name, candidates)
}

/// A layer or function name that does not exist.
pub fn unknown_layer(callee: &Ident, candidates: &[String]) -> Diagnostic {
    let d = Diagnostic::error(
        "E0102",
        format!("unknown layer or function `{}`", callee.name),
        callee.span,
        "not a built-in, model or cell",
    );
    match suggest(&callee.name, candidates.iter().map(String::as_str)) {
        Some(best) => d.with_help(format!("did you mean `{best}`?")),
        None => d.with_help("see docs/language.md for the built-in layers and functions"),
    }
}

/// A capitalised name in a shape that nothing binds.
pub fn unbound_dimension(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0308",
        format!("unbound dimension variable `{name}`"),
        span,
        "not bound by the input shape",
    )
    .with_note("dimension variables are bound by the input's shape, where the model is used")
    .with_help(format!(
        "mention `{name}` in the input shape, or declare it as an option: `{}: int`",
        name.to_lowercase()
    ))
}

/// A layer used where a value is expected.
pub fn layer_as_value(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0107",
        format!("`{name}` is a layer, not a value"),
        span,
        "used as a value here",
    )
    .with_help(format!("write it as a stage of its own, `... -> {name}` or `dense(128) {name}`, or call it on a tensor: `{name}(x)`"))
}

/// A layer called with an explicit input in an expression.
pub fn layer_needs_pipe(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0108",
        format!("`{name}` takes its input from a pipeline"),
        span,
        "cannot be called inside an expression",
    )
    .with_help(format!("pipe a value into it: `let y = x -> {name}(...)`"))
}

/// `layer(args)(x)`: the result of a call called again.
pub fn called_result(call: Span, args: Span) -> Diagnostic {
    Diagnostic::error("E0110", "a layer's result cannot be called", args, "these arguments apply to the result of the call before")
        .with_label(call, "this is a layer applied to the current value")
        .with_help("layers take their input from a pipeline: write `let h = x -> dense(16)` instead of `dense(16)(x)`")
}

/// Something after `->` that is not a layer.
pub fn not_a_layer(span: Span, name: Option<&str>) -> Diagnostic {
    let message = match name {
        Some(n) => format!("`{n}` is a value, not a layer"),
        None => "only a layer can follow `->`".to_string(),
    };
    Diagnostic::error(
        "E0109",
        message,
        span,
        "expected a layer, function, model or cell here",
    )
    .with_help("start a new statement with the value instead, or use `let`")
}

// ----- arguments ----------------------------------------------------------

/// Too many positional arguments.
pub fn too_many_arguments(callee: &Ident, max: usize, span: Span, signature: &str) -> Diagnostic {
    Diagnostic::error(
        "E0203",
        format!("too many arguments for `{}`", callee.name),
        span,
        match max {
            0 => format!("`{}` takes no arguments", callee.name),
            1 => format!("`{}` takes at most 1 positional argument", callee.name),
            _ => format!("`{}` takes at most {max} positional arguments", callee.name),
        },
    )
    .with_note(format!("the signature is `{signature}`"))
}

/// A keyword the signature does not have.
pub fn unknown_keyword(
    callee: &Ident,
    keyword: &Ident,
    names: &[&str],
    signature: &str,
) -> Diagnostic {
    let d = Diagnostic::error(
        "E0201",
        format!("`{}` has no argument `{}`", callee.name, keyword.name),
        keyword.span,
        "unknown keyword",
    );
    let valid = if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    };
    let d = d.with_note(format!("the signature is `{signature}`"));
    match suggest(&keyword.name, names.iter().copied()) {
        Some(best) => d.with_help(format!("did you mean `{best}`? valid keywords: {valid}")),
        None => d.with_help(format!("valid keywords: {valid}")),
    }
}

/// The same argument given twice.
pub fn duplicate_argument(callee: &Ident, keyword: &Ident, first: Span) -> Diagnostic {
    Diagnostic::error(
        "E0205",
        format!(
            "argument `{}` of `{}` is given twice",
            keyword.name, callee.name
        ),
        keyword.span,
        "given again here",
    )
    .with_label(first, "first given here")
}

/// A required argument left out.
pub fn missing_argument(callee: &Ident, param: &str, signature: &str) -> Diagnostic {
    Diagnostic::error(
        "E0202",
        format!("`{}` needs the argument `{param}`", callee.name),
        callee.span,
        format!("`{param}` missing"),
    )
    .with_note(format!("the signature is `{signature}`"))
    .with_help(format!("pass it, e.g. `{}({param} = ...)`", callee.name))
}

/// An argument of the wrong type.
pub fn wrong_argument_type(
    callee: &Ident,
    param: &str,
    kind: ArgKind,
    value: &Value,
    span: Span,
    signature: &str,
) -> Diagnostic {
    Diagnostic::error(
        "E0204",
        format!(
            "argument `{param}` of `{}` must be {}",
            callee.name,
            kind.describe()
        ),
        span,
        format!("found {}", value.describe()),
    )
    .with_note(format!("the signature is `{signature}`"))
    .with_help_if(callee.name == "dense" && param == "bias" && matches!(value, Value::Int(_)), "`dense` takes only the output size; its input size is inferred from the input (PyTorch's `Linear(784, 128)` is `dense(128)` here)")
}

/// "1 axis", "3 axes".
fn axes(n: usize) -> String {
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
        "E0206",
        format!("`{param}` of `{callee}` must be {expected}"),
        span,
        format!("this is {value}"),
    )
}

/// An argument that must be a known number but depends on a variable.
pub fn not_known(callee: &str, param: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0207",
        format!("`{param}` of `{callee}` must be a known integer"),
        span,
        "depends on a dimension variable or option without a value",
    )
    .with_help("give the option a default, or pass a number")
}

/// An option default or value of the wrong type.
pub fn option_type(name: &Ident, kind: ArgKind, value: &Value, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0204",
        format!("option `{}` must be {}", name.name, kind.describe()),
        span,
        format!("found {}", value.describe()),
    )
}

/// A model trained directly whose option has no default.
pub fn train_needs_option(model: &Ident, option: &Ident, site: Span) -> Diagnostic {
    Diagnostic::error(
        "E0408",
        format!(
            "`{}` cannot be trained directly: option `{}` has no default",
            model.name, option.name
        ),
        site,
        "trained here",
    )
    .with_label(option.span, "declared without a default")
    .with_help(format!(
        "give `{}` a default value, or wrap the model in another one that sets it",
        option.name
    ))
}

// ----- statements ---------------------------------------------------------

/// A model that unrolls to too many operations.
pub fn model_too_large(max: usize, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0610",
        format!("the model unrolls to more than {max} operations"),
        span,
        "unrolled here",
    )
    .with_help("nested `repeat`s and sub-models multiply: reduce the counts")
}

/// A statement after `return`.
pub fn after_return(span: Span) -> Diagnostic {
    Diagnostic::error("E0601", "statement after `return`", span, "never reached")
        .with_help("`return` must be the last statement of a body")
}

/// `next` of a name that is not a state.
pub fn next_not_state(name: &Ident, states: &[String], in_cell: bool) -> Diagnostic {
    if !in_cell {
        return Diagnostic::error(
            "E0602",
            "`next` outside a cell",
            name.span,
            "only a cell has state",
        )
        .with_help("declare a `cell` with `state (...)` to write recurrent updates");
    }
    let d = Diagnostic::error(
        "E0602",
        format!("`{}` is not a state of this cell", name.name),
        name.span,
        "not declared in `state (...)`",
    )
    .with_note(format!("the states are: {}", states.join(", ")));
    with_suggestion(d, &name.name, states)
}

/// `next S = v` where `v` has the wrong shape.
pub fn next_shape(
    name: &Ident,
    found: &Shape,
    expected: &Shape,
    value: Span,
    declared: Span,
) -> Diagnostic {
    Diagnostic::error(
        "E0310",
        format!("the next value of `{}` has the wrong shape", name.name),
        value,
        format!("this is {found}"),
    )
    .with_label(
        declared,
        format!("`{}` is declared as {expected}", name.name),
    )
    .with_note("a state keeps its shape from step to step")
}

/// A state that no `next` updates.
pub fn state_never_updated(name: &Ident, body: Span) -> Diagnostic {
    Diagnostic::error(
        "E0311",
        format!("state `{}` is never updated", name.name),
        name.span,
        "declared here",
    )
    .with_label(body, "no `next` in this body")
    .with_help(format!("add `next {} = ...` to the body", name.name))
}

/// A non-tensor where a tensor is needed.
pub fn expected_tensor(value: &Value, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0603",
        "expected a tensor",
        span,
        format!("this is {}", value.describe()),
    )
}

/// `repeat` with a count that is not an integer.
pub fn repeat_count(value: &Value, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0604",
        "`repeat` needs an integer count",
        span,
        format!("this is {}", value.describe()),
    )
}

/// An operand of the wrong kind.
pub fn bad_operand(op: &str, value: &Value, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0605",
        format!("`{op}` cannot be applied to this operand"),
        span,
        format!("this is {}", value.describe()),
    )
}

/// Division by zero in a constant expression.
pub fn division_by_zero(span: Span) -> Diagnostic {
    Diagnostic::error("E0606", "division by zero", span, "this is 0")
}

/// Division of a symbolic integer.
pub fn symbolic_division(span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0607",
        "cannot divide a dimension variable",
        span,
        "the result might not be an integer",
    )
    .with_help("dimension arithmetic supports `+`, `-` and `*`")
}

/// A shape entry that is not an integer expression.
pub fn dimension_syntax(span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0608",
        "a dimension must be an integer expression",
        span,
        "not an integer",
    )
    .with_help("write a number, a dimension variable, an `int` option, or `+ - *` of them")
}

/// A shape entry that evaluates to zero or less.
pub fn dimension_below_one(text: &str, value: i64, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0611",
        if text.parse::<i64>().is_ok() {
            format!("a dimension must be at least 1, not {value}")
        } else {
            format!("the dimension `{text}` is {value}; every dimension must be at least 1")
        },
        span,
        format!("this is {value}"),
    )
    .with_help(
        "every axis of a tensor needs at least one element; check where the value comes from \
         (an option given where the model or cell is used, or the input's shape)",
    )
}

/// A shape entry naming a non-integer.
pub fn dimension_not_int(value: &Value, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0608",
        "a dimension must be an integer",
        span,
        format!("this is {}", value.describe()),
    )
}

/// `normal`/`uniform` without their two numbers.
pub fn init_needs_args(name: &str, span: Span) -> Diagnostic {
    let example = if name == "normal" {
        "normal(0, 0.01)"
    } else {
        "uniform(-0.1, 0.1)"
    };
    Diagnostic::error(
        "E0609",
        format!("`{name}` needs two numbers"),
        span,
        "incomplete initialiser",
    )
    .with_help(format!("for example `{example}`"))
}

/// An unknown initialiser.
pub fn unknown_init(name: &str, span: Span, names: &[&str]) -> Diagnostic {
    let d = Diagnostic::error("E0609", "unknown initialiser", span, "not an initialiser")
        .with_note(format!("initialisers: {}", names.join(", ")));
    match suggest(name, names.iter().copied()) {
        Some(best) => d.with_help(format!("did you mean `{best}`?")),
        None => d,
    }
}

// ----- shapes -------------------------------------------------------------

/// A layer given an input of the wrong rank.
pub fn wrong_rank(
    layer: &str,
    pattern: &str,
    rank: usize,
    input: &Shape,
    site: Site,
) -> Diagnostic {
    Diagnostic::error(
        "E0304",
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
        _ => format!("`{layer}` takes {pattern}"),
    })
}

/// Elementwise operands that do not broadcast.
pub fn broadcast_mismatch(
    op: &str,
    a: &Shape,
    a_span: Span,
    b: &Shape,
    b_span: Span,
    span: Span,
) -> Diagnostic {
    Diagnostic::error(
        "E0301",
        format!("shapes {a} and {b} do not broadcast for `{op}`"),
        span,
        "incompatible operands",
    )
    .with_label(a_span, format!("this is {a}"))
    .with_label(b_span, format!("this is {b}"))
    .with_note("axes are compared from the right; each pair must be equal or one of them 1")
}

/// `@` with inner dimensions that differ.
pub fn matmul_mismatch(a: &Shape, a_span: Span, b: &Shape, b_span: Span, span: Span) -> Diagnostic {
    let inner_a = a
        .dims
        .last()
        .map(|d| d.to_string())
        .unwrap_or_else(|| "none".into());
    let inner_b = match b.rank() {
        0 => "none".to_string(),
        1 => b.dims[0].to_string(),
        r => b.dims[r - 2].to_string(),
    };
    Diagnostic::error("E0302", format!("cannot multiply {a} by {b}"), span, "matrix product of mismatched shapes")
        .with_label(a_span, format!("this is {a}"))
        .with_label(b_span, format!("this is {b}"))
        .with_note(format!("the last axis of the left operand ({inner_a}) must equal the first axis of a matrix on the right ({inner_b})"))
}

/// `concat` inputs that differ off the concatenation axis.
pub fn concat_mismatch(
    first: &Shape,
    first_span: Span,
    other: &Shape,
    other_span: Span,
    axis: usize,
) -> Diagnostic {
    Diagnostic::error("E0303", format!("cannot concatenate {first} and {other} along axis {axis}"), other_span, format!("this is {other}"))
        .with_label(first_span, format!("the first input is {first}"))
        .with_note(format!("all inputs must have the same rank and agree on every axis except axis {axis} (axes count from 0 after the batch)"))
}

/// `concat` with fewer than two inputs.
pub fn concat_too_few(span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0303",
        "`concat` needs at least two tensors",
        span,
        "only one input",
    )
    .with_help("write `concat(a, b, axis = 0)`")
}

/// An axis outside the rank.
pub fn axis_out_of_range(layer: &str, axis: i64, input: &Shape, span: Span) -> Diagnostic {
    let rank = input.rank();
    Diagnostic::error(
        "E0312",
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
    Diagnostic::error("E0306", format!("`{}` output {} would be below 1", g.layer, g.axis), span, format!("output {} is {}", g.axis, g.formula()))
        .with_label(input_span, format!("the input {} is {}", g.axis, g.input))
        .with_note("output size = (input + 2*padding - kernel)/stride + 1")
        .with_help(format!("the input is too small for a kernel of {}: use a smaller kernel, add padding, or remove a pooling layer before this one", g.kernel))
}

/// An inexact conv or pool division with `round = "exact"`.
pub fn window_inexact(g: &WindowGeometry, span: Span, input_span: Span) -> Diagnostic {
    let d = Diagnostic::error(
        "E0305",
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
        "W0301",
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
        "E0206",
        format!("`padding` of `{layer}` must be at most half the kernel"),
        span,
        format!("padding {padding} with kernel {kernel}"),
    )
    .with_note("a window made only of padding has no input value in it")
}

/// `padding = "same"` where it is not supported.
pub fn same_padding_unsupported(kernel: [i64; 2], stride: [i64; 2], span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0206",
        "`padding = \"same\"` needs stride 1 and an odd kernel",
        span,
        format!("kernel {:?}, stride {:?}", kernel, stride),
    )
    .with_help("give the padding as a number: for an odd kernel k, `padding = (k - 1)/2`")
}

/// `reshape` with more than one -1.
pub fn reshape_two_inferred(span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0307",
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
        "E0307",
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

/// A model used on an input of the wrong shape.
pub fn input_mismatch(
    model: &Ident,
    expected: &str,
    actual: &Shape,
    is_cell: bool,
    use_span: Span,
    input_span: Span,
    declared: Span,
) -> Diagnostic {
    let kind = if is_cell { "cell" } else { "model" };
    // Shown with the batch, like the actual shape it is compared with.
    let expected = match expected.strip_prefix('[') {
        Some("]") => "[N]".to_string(),
        Some(rest) => format!("[N, {rest}"),
        None => expected.to_string(),
    };
    let d = Diagnostic::error(
        "E0309",
        format!("{kind} `{}` does not accept this input", model.name),
        use_span,
        format!(
            "expects {expected}{}",
            if is_cell { " per step" } else { "" }
        ),
    )
    .with_label(declared, "input declared here");
    let d = if input_span != use_span {
        d.with_label(input_span, format!("this is {actual}"))
    } else {
        d.with_note(format!("the input is {actual}"))
    };
    let declared_rank = expected.matches(',').count() + usize::from(expected != "[]");
    let d = if !is_cell && declared_rank > 1 && actual.rank() == 1 {
        let dims = expected.trim_start_matches("[N, ").trim_end_matches(']');
        d.with_help(format!("add `| reshape([{dims}])` to the data declaration"))
    } else if !is_cell && declared_rank == 1 && actual.rank() > 1 {
        d.with_help(format!("declare the input as `{}` and start the body with `flatten`, or add `| reshape([...])` to the data", Shape { batched: false, dims: actual.dims.clone() }))
    } else {
        d
    };
    if is_cell {
        d.with_note("a cell maps a sequence [T, ...] step by step; its declared input is one step")
    } else {
        d
    }
}

/// A cell applied to something that is not a sequence.
pub fn cell_needs_sequence(shape: &Shape, span: Span) -> Diagnostic {
    Diagnostic::error(
        "E0309",
        "a cell needs a sequence input [T, ...]",
        span,
        format!("the input is {shape}"),
    )
}
