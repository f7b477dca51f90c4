//! Signatures: the parameters a built-in (or a data source, transform or
//! optimizer) takes, their types, and their typed default values, from which
//! `dl check`'s messages, the REPL's completion and the docs table print.

/// The type an argument must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// An integer (possibly a dimension variable).
    Int,
    /// A number.
    Float,
    /// `true` or `false`.
    Bool,
    /// An integer, or a list with one integer per spatial axis (`[h, w]`).
    IntPair,
    /// An integer, a list per spatial axis, or `"same"`.
    Padding,
    /// An integer or `"same"` (one spatial axis).
    IntOrSame,
    /// `"floor"`, `"ceil"` or `"exact"`.
    Round,
    /// A list of integers.
    IntList,
    /// An axis (an integer, negative from the end).
    Axis,
    /// A tensor.
    Tensor,
    /// A string.
    Str,
    /// A list of numbers.
    FloatList,
}

impl ArgKind {
    /// How the type is described to a user.
    pub fn describe(self) -> &'static str {
        match self {
            ArgKind::Int => "an integer",
            ArgKind::Float => "a number",
            ArgKind::Bool => "`true` or `false`",
            ArgKind::IntPair => "an integer or a pair `[h, w]`",
            ArgKind::Padding => "an integer, a pair `[h, w]` or \"same\"",
            ArgKind::IntOrSame => "an integer or \"same\"",
            ArgKind::Round => "\"floor\", \"ceil\" or \"exact\"",
            ArgKind::IntList => "a list of integers",
            ArgKind::Axis => "an axis (an integer)",
            ArgKind::Tensor => "a tensor",
            ArgKind::Str => "a string",
            ArgKind::FloatList => "a list of numbers",
        }
    }
}

/// What a parameter is when a call leaves it out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Default {
    /// It must be given.
    Required,
    /// Optional, and absent means "not set" (e.g. `classes` of `csv`).
    Absent,
    /// This integer.
    Int(i64),
    /// This number.
    Float(f64),
    /// This boolean.
    Bool(bool),
    /// This string.
    Str(&'static str),
    /// The value of another parameter (a pool's `stride` is its `kernel`).
    SameAs(&'static str),
    /// Every axis (`sum` and `mean` without `axis`).
    AllAxes,
}

impl Default {
    /// The default as the documentation writes it, `None` for required
    /// parameters.
    pub fn text(self) -> Option<String> {
        Some(match self {
            Default::Required => return None,
            Default::Absent => "none".to_string(),
            Default::Int(v) => v.to_string(),
            Default::Float(v) if v != 0.0 && v.abs() < 1e-3 => format!("{v:e}"),
            Default::Float(v) => v.to_string(),
            Default::Bool(b) => b.to_string(),
            Default::Str(s) => format!("\"{s}\""),
            Default::SameAs(other) => other.to_string(),
            Default::AllAxes => "all".to_string(),
        })
    }
}

/// One parameter of a signature.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    /// Its keyword.
    pub name: &'static str,
    /// Its type.
    pub kind: ArgKind,
    /// Its default.
    pub default: Default,
}

impl Param {
    /// Whether a call must give it.
    pub fn required(&self) -> bool {
        self.default == Default::Required
    }
}

/// A required parameter.
pub const fn req(name: &'static str, kind: ArgKind) -> Param {
    Param {
        name,
        kind,
        default: Default::Required,
    }
}

/// An optional parameter with a default.
pub const fn opt(name: &'static str, kind: ArgKind, default: Default) -> Param {
    Param {
        name,
        kind,
        default,
    }
}

/// `name(p1, p2 = default, ...)`, or `name` alone without parameters;
/// `leading` (e.g. `a, b, ...` for `concat`) comes first.
pub fn signature_text(name: &str, leading: Option<&str>, params: &[Param]) -> String {
    let mut parts: Vec<String> = leading.map(str::to_string).into_iter().collect();
    parts.extend(params.iter().map(|p| match p.default.text() {
        None => p.name.to_string(),
        Some(default) => format!("{} = {default}", p.name),
    }));
    if parts.is_empty() {
        name.to_string()
    } else {
        format!("{name}({})", parts.join(", "))
    }
}
