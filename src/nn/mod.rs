//! The built-in layers and functions, one file per family. Each built-in's
//! [`Spec`] (name, signature with typed defaults, the docs table's cells,
//! linearity class), shape rule and forward pass live in its family's file;
//! this module is the registry that dispatches to them.
//!
//! Adding a built-in: a [`Builtin`] variant, its `Spec` and shape rule and
//! forward pass in a family file, an [`ir::Layer`](crate::ir::Layer) variant
//! if it computes something new, a row in `docs/language.md` (the text of
//! [`Builtin::doc_row`]) and a case in `tests/gradcheck.rs`; tests fail
//! until the last two exist.

pub mod activation;
pub mod args;
pub mod concat;
pub mod conv;
pub mod dense;
pub mod dropout;
pub mod embedding;
pub mod error;
pub mod layer;
pub mod norm;
pub mod pool;
pub mod recurrent;
pub mod reduce;
pub mod reshape;
pub mod signature;
pub mod site;
pub mod window;

pub use args::{Args, Value};
pub use layer::{Forward, LayerOut, Mode, ParamTemplate, Site};
pub use signature::{ArgKind, Param};

use crate::autodiff::Var;
use crate::diagnostic::Diagnostic;
use crate::ir::{Activation, Layer, Pool, Recurrent, Reduce, Shape};

/// How a built-in's output depends on its input, for `least_squares`, which
/// needs a model affine in its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linearity {
    /// Multiplies its own weights with its input: affine in the parameters
    /// when the input depends on the data only (`dense`, `conv2d`).
    Weighted,
    /// Linear in its input (`flatten`, `avgpool`, `concat`).
    Linear,
    /// Any function of the data, but not linear (`relu`, `maxpool`).
    NonLinear,
    /// Never affine in the parameters; the reason completes "`name` ...".
    Never(&'static str),
}

/// What the documentation, the checker and the REPL know of a built-in.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// The name as written in programs.
    pub name: &'static str,
    /// The parameters after the input, in positional order.
    pub params: &'static [Param],
    /// Functions may be called with an explicit tensor (`relu(y + skip)`);
    /// layers always take the piped value.
    pub function: bool,
    /// What comes before the parameters in the signature (`a, b, ...` for
    /// `concat`).
    pub leading: Option<&'static str>,
    /// The docs table's "Shapes" cell.
    pub shapes: &'static str,
    /// The docs table's parameters cell.
    pub learnable: &'static str,
    /// How the output depends on the input.
    pub linearity: Linearity,
}

/// Every built-in layer and function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// `dense(units, bias = true)`
    Dense,
    /// `conv1d(out, kernel, stride = 1, padding = 0, bias = true, round = "floor")`
    Conv1d,
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
    /// `layernorm(eps = 1e-5)`
    LayerNorm,
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
    pub const ALL: [Builtin; 26] = [
        Builtin::Dense,
        Builtin::Conv1d,
        Builtin::Conv2d,
        Builtin::MaxPool,
        Builtin::AvgPool,
        Builtin::GlobalAvgPool,
        Builtin::Flatten,
        Builtin::Dropout,
        Builtin::BatchNorm,
        Builtin::LayerNorm,
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

    /// What is known of it.
    pub fn spec(self) -> &'static Spec {
        match self {
            Builtin::Dense => &dense::DENSE,
            Builtin::Conv1d => &conv::CONV1D,
            Builtin::Conv2d => &conv::CONV2D,
            Builtin::MaxPool => &pool::MAXPOOL,
            Builtin::AvgPool => &pool::AVGPOOL,
            Builtin::GlobalAvgPool => &pool::GLOBAL_AVGPOOL,
            Builtin::Flatten => &reshape::FLATTEN,
            Builtin::Dropout => &dropout::DROPOUT,
            Builtin::BatchNorm => &norm::BATCHNORM,
            Builtin::LayerNorm => &norm::LAYERNORM,
            Builtin::Embedding => &embedding::EMBEDDING,
            Builtin::Rnn => &recurrent::RNN,
            Builtin::Lstm => &recurrent::LSTM,
            Builtin::Gru => &recurrent::GRU,
            Builtin::Reshape => &reshape::RESHAPE,
            Builtin::Sigmoid => &activation::SIGMOID,
            Builtin::Tanh => &activation::TANH,
            Builtin::Relu => &activation::RELU,
            Builtin::LeakyRelu => &activation::LEAKY_RELU,
            Builtin::Softmax => &activation::SOFTMAX,
            Builtin::Exp => &activation::EXP,
            Builtin::Log => &activation::LOG,
            Builtin::Concat => &concat::CONCAT,
            Builtin::Sum => &reduce::SUM,
            Builtin::Mean => &reduce::MEAN,
            Builtin::Last => &reduce::LAST,
        }
    }

    /// The name as written in programs.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Looks a built-in up by name.
    pub fn from_name(name: &str) -> Option<Builtin> {
        Builtin::ALL.into_iter().find(|b| b.name() == name)
    }

    /// Whether it may be called with an explicit tensor (`relu(y + skip)`).
    pub fn is_function(self) -> bool {
        self.spec().function
    }

    /// The parameters after the input, in positional order.
    pub fn params(self) -> &'static [Param] {
        self.spec().params
    }

    /// The signature as messages write it: `conv2d(out, kernel, stride = 1, ...)`.
    pub fn signature(self) -> String {
        let spec = self.spec();
        signature::signature_text(spec.name, spec.leading, spec.params)
    }

    /// The row of the built-ins table in `docs/language.md`; functions show
    /// their tensor argument (`softmax(x, axis = -1)`).
    pub fn doc_row(self) -> String {
        let spec = self.spec();
        let leading = match (spec.leading, spec.function) {
            (Some(leading), _) => Some(leading),
            (None, true) => Some("x"),
            (None, false) => None,
        };
        let signature = signature::signature_text(spec.name, leading, spec.params);
        format!("| `{signature}` | {} | {} |", spec.shapes, spec.learnable)
    }

    /// Applies a one-input built-in (everything but `concat`, whose rule is
    /// [`concat::shape`]) to `input`.
    pub fn shape(self, input: &Shape, args: &Args, site: Site) -> Result<LayerOut, Diagnostic> {
        match self {
            Builtin::Dense => dense::shape(input, args, site),
            Builtin::Conv1d => conv::shape(&conv::CONV1D, 1, input, args, site),
            Builtin::Conv2d => conv::shape(&conv::CONV2D, 2, input, args, site),
            Builtin::MaxPool => pool::shape(Pool::Max, input, args, site),
            Builtin::AvgPool => pool::shape(Pool::Avg, input, args, site),
            Builtin::GlobalAvgPool => pool::global_shape(input, site),
            Builtin::Flatten => reshape::flatten_shape(input, site),
            Builtin::Reshape => reshape::reshape_shape(input, args, site),
            Builtin::Dropout => dropout::shape(input, args, site),
            Builtin::BatchNorm => norm::batchnorm_shape(input, args, site),
            Builtin::LayerNorm => norm::layernorm_shape(input, args, site),
            Builtin::Embedding => embedding::shape(input, args, site),
            Builtin::Rnn => recurrent::shape(Recurrent::Rnn, input, args, site),
            Builtin::Lstm => recurrent::shape(Recurrent::Lstm, input, args, site),
            Builtin::Gru => recurrent::shape(Recurrent::Gru, input, args, site),
            Builtin::Sigmoid => activation::shape(Activation::Sigmoid, input),
            Builtin::Tanh => activation::shape(Activation::Tanh, input),
            Builtin::Relu => activation::shape(Activation::Relu, input),
            Builtin::Exp => activation::shape(Activation::Exp, input),
            Builtin::Log => activation::shape(Activation::Log, input),
            Builtin::LeakyRelu => activation::leaky_relu_shape(input, args),
            Builtin::Softmax => activation::softmax_shape(input, args, site),
            Builtin::Sum => reduce::shape(Reduce::Sum, input, args, site),
            Builtin::Mean => reduce::shape(Reduce::Mean, input, args, site),
            Builtin::Last => reduce::last_shape(input, site),
            Builtin::Concat => concat::shape(&[(input.clone(), site.input_span)], args, site.span),
        }
    }

    /// The built-in a checked layer came from.
    pub fn of(layer: &Layer) -> Builtin {
        match layer {
            Layer::Dense { .. } => Builtin::Dense,
            Layer::Conv { window, .. } if window.kernel.len() == 1 => Builtin::Conv1d,
            Layer::Conv { .. } => Builtin::Conv2d,
            Layer::Pool {
                kind: Pool::Max, ..
            } => Builtin::MaxPool,
            Layer::Pool {
                kind: Pool::Avg, ..
            } => Builtin::AvgPool,
            Layer::GlobalAvgPool => Builtin::GlobalAvgPool,
            Layer::Flatten => Builtin::Flatten,
            Layer::Reshape => Builtin::Reshape,
            Layer::Dropout { .. } => Builtin::Dropout,
            Layer::BatchNorm { .. } => Builtin::BatchNorm,
            Layer::LayerNorm { .. } => Builtin::LayerNorm,
            Layer::Embedding { .. } => Builtin::Embedding,
            Layer::Recurrent {
                kind: Recurrent::Rnn,
                ..
            } => Builtin::Rnn,
            Layer::Recurrent {
                kind: Recurrent::Lstm,
                ..
            } => Builtin::Lstm,
            Layer::Recurrent {
                kind: Recurrent::Gru | Recurrent::GruResetAfter,
                ..
            } => Builtin::Gru,
            Layer::Activation(Activation::Sigmoid) => Builtin::Sigmoid,
            Layer::Activation(Activation::Tanh) => Builtin::Tanh,
            Layer::Activation(Activation::Relu) => Builtin::Relu,
            Layer::Activation(Activation::Exp) => Builtin::Exp,
            Layer::Activation(Activation::Log) => Builtin::Log,
            Layer::LeakyRelu { .. } => Builtin::LeakyRelu,
            Layer::Softmax { .. } => Builtin::Softmax,
            Layer::Concat { .. } => Builtin::Concat,
            Layer::Reduce {
                kind: Reduce::Sum, ..
            } => Builtin::Sum,
            Layer::Reduce {
                kind: Reduce::Mean, ..
            } => Builtin::Mean,
            Layer::Last => Builtin::Last,
        }
    }
}

/// Runs a checked layer's forward pass; an error is an internal one (or an
/// id outside an embedding's vocabulary), named by the node.
pub fn forward(layer: &Layer, cx: &mut Forward) -> Result<Var, String> {
    Ok(match layer {
        Layer::Dense { bias, .. } => dense::forward(*bias, cx),
        Layer::Conv { window, bias, .. } => conv::forward(window, *bias, cx)?,
        Layer::Pool { kind, window } => pool::forward(*kind, window, cx)?,
        Layer::GlobalAvgPool => pool::global_forward(cx),
        Layer::Flatten | Layer::Reshape => reshape::forward(cx)?,
        Layer::Dropout { p } => dropout::forward(*p, cx),
        Layer::BatchNorm { momentum, eps } => norm::batchnorm_forward(*momentum, *eps, cx),
        Layer::LayerNorm { eps } => norm::layernorm_forward(*eps, cx),
        Layer::Embedding { .. } => embedding::forward(cx)?,
        Layer::Recurrent { kind, .. } => recurrent::forward(*kind, cx),
        Layer::Activation(a) => activation::forward(*a, cx),
        Layer::LeakyRelu { slope } => activation::leaky_relu_forward(*slope, cx),
        Layer::Softmax { axis } => activation::softmax_forward(*axis, cx),
        Layer::Concat { axis } => concat::forward(*axis, cx),
        Layer::Reduce { kind, axis } => reduce::forward(*kind, *axis, cx),
        Layer::Last => reduce::last_forward(cx),
    })
}
