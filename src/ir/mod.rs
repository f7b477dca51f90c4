//! The checked program: what the checker proved and what later stages run.
//!
//! A model instance is a [`Graph`]: nodes in execution order, each with its
//! op, inputs, checked shape, source span and path name (`LeNet5.conv2d_0`).
//! Uses of sub-models are inlined; [`CallSite`]s remember them so summaries
//! can fold them back. A cell use is one node holding the step graph.

pub mod dim;
pub mod shape;

use crate::span::Span;
pub use dim::Dim;
use serde::Serialize;
pub use shape::Shape;

/// Index of a node in its graph.
pub type NodeId = usize;

/// A model or cell instantiated for one input shape.
#[derive(Clone, Debug)]
pub struct Graph {
    /// Nodes in execution order.
    pub nodes: Vec<Node>,
    /// Where sub-models were used.
    pub calls: Vec<CallSite>,
    /// The node whose value is the output.
    pub output: NodeId,
}

/// One operation with its checked result.
#[derive(Clone, Debug)]
pub struct Node {
    /// What it computes.
    pub op: Op,
    /// Operands, in order.
    pub inputs: Vec<NodeId>,
    /// The checked output shape.
    pub shape: Shape,
    /// The source that produced it.
    pub span: Span,
    /// Its path, e.g. `ResNet18.Down_1.conv2d_0`.
    pub path: String,
    /// The source text of the operation, for summaries.
    pub label: String,
    /// Learnable parameters and state it owns.
    pub params: Vec<ParamSpec>,
    /// The innermost sub-model use it belongs to.
    pub call: Option<usize>,
}

/// A use of a user model inside another model.
#[derive(Clone, Debug)]
pub struct CallSite {
    /// Its path, e.g. `ResNet18.Down_1`.
    pub path: String,
    /// Its source text, e.g. `Down(128, stride = 2)`.
    pub label: String,
    /// The enclosing use, if nested.
    pub parent: Option<usize>,
    /// Where it is written.
    pub span: Span,
    /// The node holding its result.
    pub output: NodeId,
}

/// A tensor a node owns.
#[derive(Clone, Debug, Serialize)]
pub struct ParamSpec {
    /// Full name, e.g. `LeNet5.conv2d_0.weight`.
    pub name: String,
    /// Its shape (never batched).
    pub shape: Shape,
    /// How it starts.
    pub init: Init,
    /// Learnable (counted as a parameter) or state such as running statistics.
    pub trainable: bool,
}

impl ParamSpec {
    /// Its role in its layer: the last part of its name (`weight`,
    /// `running_mean`; a `param` statement's own name).
    pub fn role(&self) -> &str {
        self.name.rsplit('.').next().unwrap_or(&self.name)
    }

    /// Number of scalars in it.
    pub fn count(&self) -> Dim {
        self.shape.elements()
    }
}

/// How a parameter or state is initialised.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Init {
    /// All zeros.
    Zeros,
    /// All ones.
    Ones,
    /// Normal with the given mean and standard deviation.
    Normal(f64, f64),
    /// Uniform on `[lo, hi)`.
    Uniform(f64, f64),
    /// Glorot/Xavier uniform.
    Xavier,
    /// He/Kaiming normal.
    Kaiming,
}

/// Elementwise functions of one tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `1 / (1 + e^-x)`
    Sigmoid,
    /// `tanh x`
    Tanh,
    /// `max(x, 0)`
    Relu,
    /// `e^x`
    Exp,
    /// `ln x`
    Log,
}

/// The recurrent built-in layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recurrent {
    /// Elman RNN with tanh.
    Rnn,
    /// LSTM, gates i, f, g, o.
    Lstm,
    /// GRU, gates r, z, candidate; the reset before the recurrent product
    /// (the textbook's form).
    Gru,
    /// `gru(..., reset_after = true)`: the reset after the recurrent
    /// product, with a recurrent bias of its own (PyTorch's `nn.GRU`).
    GruResetAfter,
}

/// Which reduction `sum`/`mean` performs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    /// Sum.
    Sum,
    /// Arithmetic mean.
    Mean,
}

/// Pooling kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pool {
    /// Maximum over the window.
    Max,
    /// Average over the window, padding counted.
    Avg,
}

/// Elementwise arithmetic with broadcasting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
}

/// Window geometry of a conv or pool over its spatial axes (one for `conv1d`,
/// height and width for the 2-D layers), with the output size the checker
/// computed: the kernels are given these sizes and assert that they fit.
/// Kernel, stride and padding are known integers, except in a model checked
/// on its own, where they may be options without a default (each use gives
/// them a value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// Kernel size per spatial axis.
    pub kernel: Vec<Dim>,
    /// Stride per spatial axis.
    pub stride: Vec<Dim>,
    /// Zero padding on each side, per spatial axis.
    pub padding: Vec<Dim>,
    /// PyTorch's `ceil_mode`: a partial window at the end is kept.
    pub ceil: bool,
    /// Output size per spatial axis (symbolic while the input size is).
    pub output: Vec<Dim>,
}

/// A built-in layer or function with its checked configuration. Each
/// variant's shape rule and forward pass live in its file under `src/nn/`.
#[derive(Clone, Debug)]
pub enum Layer {
    /// `dense(units, bias)`
    Dense {
        /// Output features.
        units: Dim,
        /// Whether it has a bias.
        bias: bool,
    },
    /// `conv1d(out, ...)` on `[C, L]` and `conv2d(out, ...)` on `[C, H, W]`
    /// (the window's rank tells which).
    Conv {
        /// Output channels.
        out: Dim,
        /// Geometry.
        window: Window,
        /// Whether it has a bias.
        bias: bool,
    },
    /// `maxpool` / `avgpool`
    Pool {
        /// Max or average.
        kind: Pool,
        /// Geometry.
        window: Window,
    },
    /// `global_avgpool`
    GlobalAvgPool,
    /// `flatten`
    Flatten,
    /// `reshape([..])` (the target per-sample shape is the node's shape)
    Reshape,
    /// `dropout(p)`
    Dropout {
        /// Drop probability.
        p: f64,
    },
    /// `batchnorm`
    BatchNorm {
        /// Running statistics momentum.
        momentum: f64,
        /// Added to the variance.
        eps: f64,
    },
    /// `layernorm`: normalisation over the last axis of each sample.
    LayerNorm {
        /// Added to the variance.
        eps: f64,
    },
    /// `embedding(vocab, dim)`
    Embedding {
        /// Vocabulary size.
        vocab: Dim,
        /// Vector size.
        dim: Dim,
    },
    /// `rnn` / `lstm` / `gru`
    Recurrent {
        /// Which.
        kind: Recurrent,
        /// Hidden size.
        hidden: Dim,
    },
    /// An elementwise function.
    Activation(Activation),
    /// `leaky_relu(a)`
    LeakyRelu {
        /// Slope for negative inputs.
        slope: f64,
    },
    /// `softmax(axis)`
    Softmax {
        /// Per-sample axis.
        axis: usize,
    },
    /// `concat(.., axis)`
    Concat {
        /// Per-sample axis.
        axis: usize,
    },
    /// `sum` / `mean`
    Reduce {
        /// Which reduction.
        kind: Reduce,
        /// Per-sample axis, or all of them.
        axis: Option<usize>,
    },
    /// `last`: the final step of a sequence.
    Last,
}

/// The operations of a graph: the language's own (inputs, parameters,
/// arithmetic, cells) and the built-in layers.
#[derive(Clone, Debug)]
pub enum Op {
    /// The model's input.
    Input,
    /// A `param` statement's tensor.
    Param,
    /// A cell's state as of the previous step (index into the cell's state).
    StateIn(usize),
    /// A number used in tensor arithmetic.
    Constant(f64),
    /// A built-in layer or function.
    Layer(Layer),
    /// `+ - * /` with broadcasting.
    Arith(Arith),
    /// `@`
    MatMul,
    /// Unary minus.
    Neg,
    /// A user cell applied along the time axis.
    Cell(Box<CellGraph>),
}

/// A cell instantiated for one step shape.
#[derive(Clone, Debug)]
pub struct CellGraph {
    /// The cell's name.
    pub name: String,
    /// The step computation; its [`Op::Input`] is the step's input.
    pub step: Graph,
    /// The recurrent state.
    pub state: Vec<StateSlot>,
}

/// One state variable of a cell.
#[derive(Clone, Debug)]
pub struct StateSlot {
    /// Its name.
    pub name: String,
    /// Per-sample shape.
    pub shape: Shape,
    /// Its value before the first step.
    pub init: Init,
    /// The node in the step graph giving its next value.
    pub next: NodeId,
}

impl Graph {
    /// All tensors owned by the graph's nodes, including those inside cells.
    pub fn params(&self) -> Vec<&ParamSpec> {
        let mut out = Vec::new();
        for node in &self.nodes {
            out.extend(node.params.iter());
            if let Op::Cell(cell) = &node.op {
                out.extend(cell.step.params());
            }
        }
        out
    }

    /// The number of learnable scalars of node `id`, cells included.
    pub fn node_param_count(&self, id: NodeId) -> Dim {
        let node = &self.nodes[id];
        let mut count = node
            .params
            .iter()
            .filter(|p| p.trainable)
            .fold(Dim::known(0), |acc, p| acc.add(&p.count()));
        if let Op::Cell(cell) = &node.op {
            count = count.add(&cell.step.param_count());
        }
        count
    }

    /// The number of learnable scalars in the whole graph.
    pub fn param_count(&self) -> Dim {
        (0..self.nodes.len()).fold(Dim::known(0), |acc, id| acc.add(&self.node_param_count(id)))
    }
}

/// The checked program.
#[derive(Clone, Debug, Default)]
pub struct Program {
    /// Each model and cell checked on its own, with its dimension variables
    /// and required options left symbolic, in source order.
    pub models: Vec<ModelSummary>,
    /// The data sets.
    pub data: Vec<DataSet>,
    /// The training runs, in source order.
    pub trains: Vec<TrainRun>,
}

/// A model or cell checked on its own.
#[derive(Clone, Debug)]
pub struct ModelSummary {
    /// Its name.
    pub name: String,
    /// Whether it is a cell (its graph is one step).
    pub is_cell: bool,
    /// The instance for symbolic inputs; `None` when its body has errors
    /// that leave no graph.
    pub graph: Graph,
}

/// What kind of targets a data set has.
#[derive(Clone, Debug, PartialEq)]
pub enum Task {
    /// Class ids `0..classes` (`None` when known only once the data is read).
    Classification {
        /// Number of classes.
        classes: Option<Dim>,
    },
    /// Real-valued targets.
    Regression,
}

/// A data source.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    /// `csv(path, label = .. | target = .., classes = ..)`
    Csv {
        /// File path as written (relative to the program).
        path: String,
        /// Target column name.
        column: String,
        /// Whether the column holds class ids.
        label: bool,
        /// Declared class count.
        classes: Option<i64>,
    },
    /// `mnist(dir)`
    Mnist {
        /// Directory holding the IDX files.
        dir: String,
    },
    /// `series(path, column, window, horizon)`
    Series {
        /// File path.
        path: String,
        /// Column name.
        column: String,
        /// Input window length.
        window: i64,
        /// Steps ahead to predict.
        horizon: i64,
    },
    /// `text(path, seq)`
    Text {
        /// File path.
        path: String,
        /// Sequence length.
        seq: i64,
    },
    /// `synthetic.linear(n, features, noise, seed)`
    SyntheticLinear {
        /// Rows.
        n: i64,
        /// Features.
        features: i64,
        /// Noise standard deviation.
        noise: f64,
        /// RNG seed.
        seed: u64,
    },
    /// `synthetic.blobs(n, classes, features, seed)`
    SyntheticBlobs {
        /// Rows.
        n: i64,
        /// Classes.
        classes: i64,
        /// Features.
        features: i64,
        /// RNG seed.
        seed: u64,
    },
}

/// A data transform.
#[derive(Clone, Debug, PartialEq)]
pub enum Transform {
    /// Zero mean, unit variance per feature, from training statistics.
    Standardize,
    /// Multiply by a constant.
    Scale(f64),
    /// Reshape each sample.
    Reshape(Vec<i64>),
    /// Shuffle the rows.
    Shuffle {
        /// RNG seed.
        seed: u64,
    },
    /// Split into parts.
    Split {
        /// Training fraction (`None`: the rest).
        train: Option<f64>,
        /// Validation fraction.
        val: f64,
        /// Test fraction.
        test: f64,
        /// RNG seed.
        seed: u64,
        /// Shuffle before splitting.
        shuffle: bool,
    },
}

/// A checked data declaration.
#[derive(Clone, Debug)]
pub struct DataSet {
    /// Its name.
    pub name: String,
    /// Where it is declared.
    pub span: Span,
    /// Where rows come from.
    pub source: Source,
    /// What is done to them.
    pub transforms: Vec<Transform>,
    /// Per-sample input shape, when known without reading the data.
    pub input: Option<Shape>,
    /// Classification or regression.
    pub task: Task,
}

/// A loss function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Mean squared error.
    Mse,
    /// Half the mean squared error.
    HalfMse,
    /// Mean absolute error.
    Mae,
    /// Binary cross-entropy.
    Bce,
    /// Categorical cross-entropy.
    CrossEntropy,
}

/// An optimizer with its settings.
#[derive(Clone, Debug, PartialEq)]
pub enum Optimizer {
    /// Stochastic gradient descent.
    Sgd {
        /// Learning rate.
        lr: f64,
        /// Momentum.
        momentum: f64,
    },
    /// Adam.
    Adam {
        /// Learning rate.
        lr: f64,
        /// Decay rates of the moment estimates.
        betas: (f64, f64),
    },
    /// RMSprop.
    RmsProp {
        /// Learning rate.
        lr: f64,
        /// Decay of the squared-gradient average.
        alpha: f64,
    },
    /// Closed-form least squares.
    LeastSquares {
        /// Ridge penalty.
        l2: f64,
    },
    /// Grid search over every scalar parameter.
    Exhaustive {
        /// Grid start.
        from: f64,
        /// Grid end (inclusive).
        to: f64,
        /// Grid step.
        step: f64,
    },
}

/// Evaluation metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Fraction classified correctly.
    Accuracy,
    /// Precision (macro average for several classes).
    Precision,
    /// Recall (macro average for several classes).
    Recall,
    /// F1 (macro average for several classes).
    F1,
    /// Mean absolute error.
    Mae,
    /// Mean squared error.
    Mse,
    /// Root mean squared error.
    Rmse,
    /// Mean absolute percentage error.
    Mape,
}

/// Batch size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batch {
    /// This many rows per step.
    Size(i64),
    /// The whole training part at once.
    Full,
}

/// A checked `train` block.
#[derive(Clone, Debug)]
pub struct TrainRun {
    /// The model's name.
    pub model: String,
    /// The data set's name.
    pub data: String,
    /// The whole block.
    pub span: Span,
    /// Where the `optimizer` setting's value is written (the block's span when absent).
    pub optimizer_span: Span,
    /// Loss.
    pub loss: Loss,
    /// Optimizer.
    pub optimizer: Optimizer,
    /// Epochs.
    pub epochs: i64,
    /// Batch size.
    pub batch: Batch,
    /// RNG seed.
    pub seed: u64,
    /// Global gradient-norm clip.
    pub clip: Option<f64>,
    /// Metrics to report.
    pub metrics: Vec<Metric>,
    /// Checkpoint path.
    pub save: Option<String>,
    /// Where the `save` setting's value is written (the block's span when
    /// absent).
    pub save_span: Span,
    /// `save_every = K`: also save after every K-th epoch.
    pub save_every: Option<i64>,
    /// The model instantiated for the data's input shape, when that is known.
    pub graph: Option<Graph>,
}
