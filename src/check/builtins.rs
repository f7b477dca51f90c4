//! The built-in layers and functions: names, signatures, and what each one is.

/// The type an argument must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// An integer (possibly a dimension variable).
    Int,
    /// A number.
    Float,
    /// `true` or `false`.
    Bool,
    /// An integer or `[h, w]`.
    IntPair,
    /// An integer, `[h, w]` or `"same"`.
    Padding,
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
            ArgKind::Round => "\"floor\", \"ceil\" or \"exact\"",
            ArgKind::IntList => "a list of integers",
            ArgKind::Axis => "an axis (an integer)",
            ArgKind::Tensor => "a tensor",
            ArgKind::Str => "a string",
            ArgKind::FloatList => "a list of numbers",
        }
    }
}

/// One parameter of a signature.
#[derive(Clone, Copy, Debug)]
pub struct ParamDef {
    /// Its keyword.
    pub name: &'static str,
    /// Its type.
    pub kind: ArgKind,
    /// Whether it must be given.
    pub required: bool,
}

/// A required parameter.
pub const fn req(name: &'static str, kind: ArgKind) -> ParamDef {
    ParamDef {
        name,
        kind,
        required: true,
    }
}

/// An optional parameter.
pub const fn opt(name: &'static str, kind: ArgKind) -> ParamDef {
    ParamDef {
        name,
        kind,
        required: false,
    }
}

const DENSE: [ParamDef; 2] = [req("units", ArgKind::Int), opt("bias", ArgKind::Bool)];
const CONV2D: [ParamDef; 6] = [
    req("out", ArgKind::Int),
    req("kernel", ArgKind::IntPair),
    opt("stride", ArgKind::IntPair),
    opt("padding", ArgKind::Padding),
    opt("bias", ArgKind::Bool),
    opt("round", ArgKind::Round),
];
const POOL: [ParamDef; 4] = [
    req("kernel", ArgKind::IntPair),
    opt("stride", ArgKind::IntPair),
    opt("padding", ArgKind::IntPair),
    opt("round", ArgKind::Round),
];
const DROPOUT: [ParamDef; 1] = [req("p", ArgKind::Float)];
const BATCHNORM: [ParamDef; 2] = [opt("momentum", ArgKind::Float), opt("eps", ArgKind::Float)];
const EMBEDDING: [ParamDef; 2] = [req("vocab", ArgKind::Int), req("dim", ArgKind::Int)];
const RECURRENT: [ParamDef; 1] = [req("hidden", ArgKind::Int)];
const RESHAPE: [ParamDef; 1] = [req("shape", ArgKind::IntList)];
const LEAKY_RELU: [ParamDef; 1] = [opt("a", ArgKind::Float)];
const AXIS: [ParamDef; 1] = [opt("axis", ArgKind::Axis)];

/// Every built-in layer and function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// `dense(units, bias = true)`
    Dense,
    /// `conv2d(out, kernel, stride = 1, padding = 0, bias = true, round = "floor")`
    Conv2d,
    /// `maxpool(kernel, stride = kernel, padding = 0, round = "floor")`
    MaxPool,
    /// `avgpool(kernel, stride = kernel, padding = 0, round = "floor")`
    AvgPool,
    /// `global_avgpool`
    GlobalAvgPool,
    /// `flatten`
    Flatten,
    /// `dropout(p)`
    Dropout,
    /// `batchnorm(momentum = 0.1, eps = 1e-5)`
    BatchNorm,
    /// `embedding(vocab, dim)`
    Embedding,
    /// `rnn(hidden)`
    Rnn,
    /// `lstm(hidden)`
    Lstm,
    /// `gru(hidden)`
    Gru,
    /// `reshape([..])`
    Reshape,
    /// `sigmoid`
    Sigmoid,
    /// `tanh`
    Tanh,
    /// `relu`
    Relu,
    /// `leaky_relu(a = 0.01)`
    LeakyRelu,
    /// `softmax(axis = -1)`
    Softmax,
    /// `exp`
    Exp,
    /// `log`
    Log,
    /// `concat(a, b, ..., axis = 0)`
    Concat,
    /// `sum(axis = all)`
    Sum,
    /// `mean(axis = all)`
    Mean,
    /// `last`
    Last,
}

impl Builtin {
    /// All built-ins, in documentation order.
    pub const ALL: [Builtin; 24] = [
        Builtin::Dense,
        Builtin::Conv2d,
        Builtin::MaxPool,
        Builtin::AvgPool,
        Builtin::GlobalAvgPool,
        Builtin::Flatten,
        Builtin::Dropout,
        Builtin::BatchNorm,
        Builtin::Embedding,
        Builtin::Rnn,
        Builtin::Lstm,
        Builtin::Gru,
        Builtin::Reshape,
        Builtin::Sigmoid,
        Builtin::Tanh,
        Builtin::Relu,
        Builtin::LeakyRelu,
        Builtin::Softmax,
        Builtin::Exp,
        Builtin::Log,
        Builtin::Concat,
        Builtin::Sum,
        Builtin::Mean,
        Builtin::Last,
    ];

    /// The name as written in programs.
    pub fn name(self) -> &'static str {
        match self {
            Builtin::Dense => "dense",
            Builtin::Conv2d => "conv2d",
            Builtin::MaxPool => "maxpool",
            Builtin::AvgPool => "avgpool",
            Builtin::GlobalAvgPool => "global_avgpool",
            Builtin::Flatten => "flatten",
            Builtin::Dropout => "dropout",
            Builtin::BatchNorm => "batchnorm",
            Builtin::Embedding => "embedding",
            Builtin::Rnn => "rnn",
            Builtin::Lstm => "lstm",
            Builtin::Gru => "gru",
            Builtin::Reshape => "reshape",
            Builtin::Sigmoid => "sigmoid",
            Builtin::Tanh => "tanh",
            Builtin::Relu => "relu",
            Builtin::LeakyRelu => "leaky_relu",
            Builtin::Softmax => "softmax",
            Builtin::Exp => "exp",
            Builtin::Log => "log",
            Builtin::Concat => "concat",
            Builtin::Sum => "sum",
            Builtin::Mean => "mean",
            Builtin::Last => "last",
        }
    }

    /// Looks a built-in up by name.
    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Functions may be called with an explicit tensor (`relu(y + skip)`);
    /// layers always take the piped value.
    pub fn is_function(self) -> bool {
        matches!(
            self,
            Builtin::Sigmoid
                | Builtin::Tanh
                | Builtin::Relu
                | Builtin::LeakyRelu
                | Builtin::Softmax
                | Builtin::Exp
                | Builtin::Log
                | Builtin::Concat
                | Builtin::Sum
                | Builtin::Mean
                | Builtin::Last
        )
    }

    /// The parameters after the input, in positional order.
    pub fn params(self) -> &'static [ParamDef] {
        match self {
            Builtin::Dense => &DENSE,
            Builtin::Conv2d => &CONV2D,
            Builtin::MaxPool | Builtin::AvgPool => &POOL,
            Builtin::Dropout => &DROPOUT,
            Builtin::BatchNorm => &BATCHNORM,
            Builtin::Embedding => &EMBEDDING,
            Builtin::Rnn | Builtin::Lstm | Builtin::Gru => &RECURRENT,
            Builtin::Reshape => &RESHAPE,
            Builtin::LeakyRelu => &LEAKY_RELU,
            Builtin::Softmax | Builtin::Concat | Builtin::Sum | Builtin::Mean => &AXIS,
            Builtin::GlobalAvgPool
            | Builtin::Flatten
            | Builtin::Sigmoid
            | Builtin::Tanh
            | Builtin::Relu
            | Builtin::Exp
            | Builtin::Log
            | Builtin::Last => &[],
        }
    }

    /// The signature as the documentation writes it.
    pub fn signature(self) -> String {
        let params: Vec<String> = self
            .params()
            .iter()
            .map(|p| {
                if p.required {
                    p.name.to_string()
                } else {
                    format!("{} = {}", p.name, self.default_text(p.name))
                }
            })
            .collect();
        let mut params = params;
        if self == Builtin::Concat {
            params.insert(0, "a, b, ...".to_string());
        }
        if params.is_empty() {
            self.name().to_string()
        } else {
            format!("{}({})", self.name(), params.join(", "))
        }
    }

    fn default_text(self, param: &str) -> &'static str {
        match (self, param) {
            (_, "bias") => "true",
            (_, "stride") if self == Builtin::Conv2d => "1",
            (_, "stride") => "kernel",
            (_, "padding") => "0",
            (_, "round") => "\"floor\"",
            (_, "momentum") => "0.1",
            (_, "eps") => "1e-5",
            (_, "a") => "0.01",
            (Builtin::Softmax, "axis") => "-1",
            (Builtin::Concat, "axis") => "0",
            (_, "axis") => "all",
            _ => "?",
        }
    }
}
