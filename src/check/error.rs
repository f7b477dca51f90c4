//! Every diagnostic the checker emits, with its code and its prose. The
//! checker decides *what* is wrong; this file alone decides how to say it.

use crate::nn::{ArgKind, Value};

use crate::ir::dim::Dim;
use crate::ir::shape::Shape;

use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;

pub use crate::nn::error::{invalid_value, reshape_count};
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
        Code::E0103,
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
        Code::E0104,
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
        Code::E0101,
        format!("unknown name `{name}`"),
        span,
        "not defined",
    );
    with_suggestion(d, name, candidates)
}

/// A layer or function name that does not exist.
pub fn unknown_layer(callee: &Ident, candidates: &[String]) -> Diagnostic {
    let d = Diagnostic::error(
        Code::E0102,
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
        Code::E0308,
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
        Code::E0107,
        format!("`{name}` is a layer, not a value"),
        span,
        "used as a value here",
    )
    .with_help(format!("write it as a stage of its own, `... -> {name}` or `dense(128) {name}`, or call it on a tensor: `{name}(x)`"))
}

/// A layer called with an explicit input in an expression.
pub fn layer_needs_pipe(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0108,
        format!("`{name}` takes its input from a pipeline"),
        span,
        "cannot be called inside an expression",
    )
    .with_help(format!("pipe a value into it: `let y = x -> {name}(...)`"))
}

/// `layer(args)(x)`: the result of a call called again.
pub fn called_result(call: Span, args: Span) -> Diagnostic {
    Diagnostic::error(Code::E0110, "a layer's result cannot be called", args, "these arguments apply to the result of the call before")
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
        Code::E0109,
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
        Code::E0203,
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
        Code::E0201,
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
        Code::E0205,
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
        Code::E0202,
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
        Code::E0204,
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

/// An option default or value of the wrong type.
pub fn option_type(name: &Ident, kind: ArgKind, value: &Value, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0204,
        format!("option `{}` must be {}", name.name, kind.describe()),
        span,
        format!("found {}", value.describe()),
    )
}

/// A model trained directly whose option has no default.
pub fn train_needs_option(model: &Ident, option: &Ident, site: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0408,
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
        Code::E0610,
        format!("the model unrolls to more than {max} operations"),
        span,
        "unrolled here",
    )
    .with_help("nested `repeat`s and sub-models multiply: reduce the counts")
}

/// A statement after `return`.
pub fn after_return(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0601,
        "statement after `return`",
        span,
        "never reached",
    )
    .with_help("`return` must be the last statement of a body")
}

/// `next` of a name that is not a state.
pub fn next_not_state(name: &Ident, states: &[String], in_cell: bool) -> Diagnostic {
    if !in_cell {
        return Diagnostic::error(
            Code::E0602,
            "`next` outside a cell",
            name.span,
            "only a cell has state",
        )
        .with_help("declare a `cell` with `state (...)` to write recurrent updates");
    }
    let d = Diagnostic::error(
        Code::E0602,
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
        Code::E0310,
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
        Code::E0311,
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
        Code::E0603,
        "expected a tensor",
        span,
        format!("this is {}", value.describe()),
    )
}

/// `repeat` with a count that is not an integer.
pub fn repeat_count(value: &Value, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0604,
        "`repeat` needs an integer count",
        span,
        format!("this is {}", value.describe()),
    )
}

/// An operand of the wrong kind.
pub fn bad_operand(op: &str, value: &Value, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0605,
        format!("`{op}` cannot be applied to this operand"),
        span,
        format!("this is {}", value.describe()),
    )
}

/// Division by zero in a constant expression.
pub fn division_by_zero(span: Span) -> Diagnostic {
    Diagnostic::error(Code::E0606, "division by zero", span, "this is 0")
}

/// Division of a symbolic integer.
pub fn symbolic_division(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0607,
        "cannot divide a dimension variable",
        span,
        "the result might not be an integer",
    )
    .with_help("dimension arithmetic supports `+`, `-` and `*`")
}

/// A shape entry that is not an integer expression.
pub fn dimension_syntax(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0608,
        "a dimension must be an integer expression",
        span,
        "not an integer",
    )
    .with_help("write a number, a dimension variable, an `int` option, or `+ - *` of them")
}

/// A shape entry that evaluates to zero or less.
pub fn dimension_below_one(text: &str, value: i64, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0611,
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
        Code::E0608,
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
        Code::E0609,
        format!("`{name}` needs two numbers"),
        span,
        "incomplete initialiser",
    )
    .with_help(format!("for example `{example}`"))
}

/// An unknown initialiser.
pub fn unknown_init(name: &str, span: Span, names: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(
        Code::E0609,
        "unknown initialiser",
        span,
        "not an initialiser",
    )
    .with_note(format!("initialisers: {}", names.join(", ")));
    match suggest(name, names.iter().copied()) {
        Some(best) => d.with_help(format!("did you mean `{best}`?")),
        None => d,
    }
}

// ----- shapes -------------------------------------------------------------

/// Elementwise operands that do not broadcast. `residual` is set when one
/// operand is computed from the other (a residual connection whose branch
/// changed the shortcut's shape).
pub fn broadcast_mismatch(
    op: &str,
    a: &Shape,
    a_span: Span,
    b: &Shape,
    b_span: Span,
    span: Span,
    residual: Option<&Residual>,
) -> Diagnostic {
    let d = Diagnostic::error(
        Code::E0301,
        format!("shapes {a} and {b} do not broadcast for `{op}`"),
        span,
        "incompatible operands",
    )
    .with_label(a_span, format!("this is {a}"))
    .with_label(b_span, format!("this is {b}"));
    match residual {
        None => d.with_note(
            "axes are compared from the right; each pair must be equal or one of them 1",
        ),
        Some(r) => d.with_note(r.note()).with_help(r.help()),
    }
}

/// A residual sum `branch + skip` whose branch, computed from the shortcut
/// `skip`, changed its channels (or features) or its spatial size.
#[derive(Clone, Debug)]
pub struct Residual {
    /// The shortcut as written (`x`).
    pub skip: String,
    /// The branch as written (`y`).
    pub branch: String,
    /// The sum with `skip` in place of the shortcut (`y + skip`).
    pub fixed: String,
    /// The projection's layer: `conv2d`, `conv1d` or `dense`.
    pub layer: &'static str,
    /// The channels (features, for `dense`) of the shortcut and the branch.
    pub channels: (Dim, Dim),
    /// The spatial sizes of the shortcut and the branch (empty for `dense`).
    pub sizes: (Vec<Dim>, Vec<Dim>),
    /// The stride per spatial axis of a 1x1 projection that gives the
    /// branch's size, if one does.
    pub stride: Option<Vec<i64>>,
}

impl Residual {
    fn channels_differ(&self) -> bool {
        self.channels.0 != self.channels.1
    }

    fn sizes_differ(&self) -> bool {
        self.sizes.0 != self.sizes.1
    }

    fn note(&self) -> String {
        let (skip, branch) = (&self.skip, &self.branch);
        let what = if self.layer == "dense" {
            "features"
        } else {
            "channels"
        };
        // A symbolic count reads as the name it is: `out` channels.
        let count = |d: &Dim| match d.as_known() {
            Some(n) => n.to_string(),
            None => format!("`{d}`"),
        };
        let mut parts = Vec::new();
        if self.channels_differ() {
            parts.push(format!(
                "`{branch}` has {} {what} where `{skip}` has {}",
                count(&self.channels.1),
                count(&self.channels.0)
            ));
        }
        if self.sizes_differ() {
            let size = |dims: &[Dim]| {
                let dims: Vec<String> = dims.iter().map(Dim::to_string).collect();
                format!("[{}]", dims.join(", "))
            };
            let stride = match self.stride.as_deref() {
                Some([s]) => format!(" (stride {s})"),
                Some(s) if s.iter().all(|&v| v == s[0]) => format!(" (stride {})", s[0]),
                Some(s) => format!(" (stride {s:?})"),
                None => String::new(),
            };
            let lead = if parts.is_empty() {
                format!("`{branch}` has")
            } else {
                "and".to_string()
            };
            parts.push(format!(
                "{lead} size {}{stride} where `{skip}` has {}",
                size(&self.sizes.1),
                size(&self.sizes.0)
            ));
        }
        format!(
            "a residual sum needs the branch to keep the shortcut's shape: {}",
            parts.join(", ")
        )
    }

    fn help(&self) -> String {
        let skip = if self.skip.chars().all(|c| c.is_alphanumeric() || c == '_') {
            self.skip.clone()
        } else {
            format!("({})", self.skip)
        };
        let out = &self.channels.1;
        if self.layer == "dense" {
            return format!(
                "project the shortcut: `let skip = {skip} -> dense({out})`, then write `{}`",
                self.fixed
            );
        }
        let stride = match self.stride.as_deref() {
            _ if !self.sizes_differ() => String::new(),
            Some(s) if s.iter().all(|&v| v == s[0]) => format!(", stride = {}", s[0]),
            Some(s) => format!(", stride = {s:?}"),
            None => String::new(),
        };
        let projection = format!(
            "`let skip = {skip} -> {}({out}, kernel = 1{stride})`, then write `{}`",
            self.layer, self.fixed
        );
        match (self.sizes_differ(), &self.stride) {
            (true, None) if self.channels_differ() => format!(
                "keep the size in the branch with padding (`padding = 1` for `kernel = 3`), and \
                 project the shortcut to {out} channels: {projection}"
            ),
            (true, None) => "keep the size in the branch with padding (`padding = 1` for \
                             `kernel = 3`)"
                .to_string(),
            _ => format!("project the shortcut: {projection}"),
        }
    }
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
    Diagnostic::error(Code::E0302, format!("cannot multiply {a} by {b}"), span, "matrix product of mismatched shapes")
        .with_label(a_span, format!("this is {a}"))
        .with_label(b_span, format!("this is {b}"))
        .with_note(format!("the last axis of the left operand ({inner_a}) must equal the first axis of a matrix on the right ({inner_b})"))
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
        Code::E0309,
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
        Code::E0309,
        "a cell needs a sequence input [T, ...]",
        span,
        format!("the input is {shape}"),
    )
}
