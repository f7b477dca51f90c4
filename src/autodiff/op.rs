//! Primitive operations: what the tape records, and for elementwise
//! functions, the function and its derivative side by side.

use super::tensor::Tensor;

/// Elementwise functions of one tensor. Each keeps `f` and `df` together, so
/// a new activation is one variant and two lines.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unary {
    /// `1 / (1 + e^-x)`
    Sigmoid,
    /// `tanh x`
    Tanh,
    /// `max(x, 0)`
    Relu,
    /// `x` if positive, else `slope * x`
    LeakyRelu(f32),
    /// `e^x`
    Exp,
    /// `ln x`
    Log,
    /// `sqrt x`
    Sqrt,
    /// `|x|`
    Abs,
}

impl Unary {
    /// The function.
    #[inline(always)]
    pub fn f(self, x: f32) -> f32 {
        match self {
            Unary::Sigmoid => sigmoid(x),
            Unary::Tanh => x.tanh(),
            // NOTE: written as a comparison so that relu(NaN) stays NaN and the
            // non-finite check can see it.
            Unary::Relu => {
                if x > 0.0 || x.is_nan() {
                    x
                } else {
                    0.0
                }
            }
            Unary::LeakyRelu(a) => {
                if x > 0.0 || x.is_nan() {
                    x
                } else {
                    a * x
                }
            }
            Unary::Exp => x.exp(),
            Unary::Log => x.ln(),
            Unary::Sqrt => x.sqrt(),
            Unary::Abs => x.abs(),
        }
    }

    /// The derivative, given the input `x` and the output `y = f(x)`.
    #[inline(always)]
    pub fn df(self, x: f32, y: f32) -> f32 {
        match self {
            Unary::Sigmoid => y * (1.0 - y),
            Unary::Tanh => 1.0 - y * y,
            Unary::Relu => f32::from(u8::from(x > 0.0)),
            Unary::LeakyRelu(a) => {
                if x > 0.0 {
                    1.0
                } else {
                    a
                }
            }
            Unary::Exp => y,
            Unary::Log => 1.0 / x,
            Unary::Sqrt => 0.5 / y,
            Unary::Abs => x.signum() * f32::from(u8::from(x != 0.0)),
        }
    }
}

/// The logistic function, computed without overflow for large |x|.
pub(super) fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// What a tape node computed, with what its backward rule needs.
#[derive(Clone, Debug)]
pub enum Op {
    /// An input or parameter.
    Leaf,
    /// `a + b`, broadcasting.
    Add,
    /// `a - b`, broadcasting.
    Sub,
    /// `a * b`, broadcasting.
    Mul,
    /// `a / b`, broadcasting.
    Div,
    /// `-a`
    Neg,
    /// `a * k` for a constant tensor `k` of `a`'s shape (dropout masks).
    MulConst(Tensor),
    /// Elementwise function.
    Unary(Unary),
    /// Matrix product of `[.., k]` by `[k, n]`, or batched `[b, m, k]` by `[b, k, n]`.
    MatMul,
    /// Softmax along an axis.
    Softmax(usize),
    /// Sum over axes (sorted), keeping them as size 1 or not.
    Sum {
        /// The axes reduced.
        axes: Vec<usize>,
        /// Whether they stay as size-1 axes.
        keep: bool,
    },
    /// Reshape (the input's shape is recorded in the input's value).
    Reshape,
    /// Concatenation along an axis.
    Concat(usize),
    /// Index `index` along `axis`, removing the axis.
    Select {
        /// The axis.
        axis: usize,
        /// The index.
        index: usize,
    },
    /// Rows of a table picked by ids: `table[ids]`.
    Gather(Vec<usize>),
    /// conv2d on NCHW; inputs are the image, the kernel and maybe the bias.
    Conv2d(crate::kernels::conv::Conv2dGeometry),
    /// Batch normalisation per channel; inputs are `x`, `gamma`, `beta`.
    BatchNorm(Box<super::ops::BatchNormSaved>),
    /// Max pooling on NCHW, with the argmax of each output.
    MaxPool(crate::kernels::pool::Pool2dGeometry, Vec<u32>),
    /// Average pooling on NCHW.
    AvgPool(crate::kernels::pool::Pool2dGeometry),
    /// A recurrent layer over whole sequences (inputs: `[N, T, I]`, the
    /// weight, the bias), with the states its backward needs.
    Recurrent(
        crate::kernels::recurrent::RecurrentGeometry,
        Box<crate::kernels::recurrent::RecurrentSaved>,
    ),
    /// Mean softmax cross-entropy of logits against class ids; keeps the softmax.
    SoftmaxCrossEntropy {
        /// Softmax of the logits.
        probs: Tensor,
        /// Class of each row.
        targets: Vec<u32>,
    },
    /// Mean binary cross-entropy of logits against 0/1 targets.
    BceWithLogits(Tensor),
    /// Mean binary cross-entropy of probabilities against 0/1 targets.
    Bce(Tensor),
}

/// Declares [`OpKind`] and [`OpKind::ALL`] from one list, so that `ALL`
/// cannot leave a kind out.
macro_rules! op_kinds {
    ($($(#[$doc:meta])* $kind:ident,)*) => {
        /// The kind of a recorded op, without what it saved for backward: one
        /// per variant of the tape's op. A new op needs a new kind to compile,
        /// and the gradient-check test matches on every kind.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum OpKind {
            $($(#[$doc])* $kind,)*
        }

        impl OpKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [OpKind] = &[$(OpKind::$kind,)*];
        }
    };
}

op_kinds! {
    /// An input or parameter, or a value no gradient flows through.
    Leaf,
    /// `a + b`, broadcasting.
    Add,
    /// `a - b`, broadcasting.
    Sub,
    /// `a * b`, broadcasting.
    Mul,
    /// `a / b`, broadcasting.
    Div,
    /// `-a`
    Neg,
    /// `a * k` for a constant tensor `k`.
    MulConst,
    /// An elementwise function ([`Unary`]).
    Unary,
    /// Matrix product, plain or batched.
    MatMul,
    /// Softmax along an axis.
    Softmax,
    /// Sum over axes.
    Sum,
    /// Reshape.
    Reshape,
    /// Concatenation along an axis.
    Concat,
    /// One index along an axis.
    Select,
    /// Rows of a table picked by ids.
    Gather,
    /// 2-D convolution.
    Conv2d,
    /// Batch normalisation per channel.
    BatchNorm,
    /// Max pooling.
    MaxPool,
    /// Average pooling.
    AvgPool,
    /// A recurrent layer over whole sequences.
    Recurrent,
    /// Mean softmax cross-entropy against class ids.
    SoftmaxCrossEntropy,
    /// Mean binary cross-entropy of logits.
    BceWithLogits,
    /// Mean binary cross-entropy of probabilities.
    Bce,
}

impl Op {
    /// The kind of this op.
    pub(super) fn kind(&self) -> OpKind {
        match self {
            Op::Leaf => OpKind::Leaf,
            Op::Add => OpKind::Add,
            Op::Sub => OpKind::Sub,
            Op::Mul => OpKind::Mul,
            Op::Div => OpKind::Div,
            Op::Neg => OpKind::Neg,
            Op::MulConst(_) => OpKind::MulConst,
            Op::Unary(_) => OpKind::Unary,
            Op::MatMul => OpKind::MatMul,
            Op::Softmax(_) => OpKind::Softmax,
            Op::Sum { .. } => OpKind::Sum,
            Op::Reshape => OpKind::Reshape,
            Op::Concat(_) => OpKind::Concat,
            Op::Select { .. } => OpKind::Select,
            Op::Gather(_) => OpKind::Gather,
            Op::Conv2d(_) => OpKind::Conv2d,
            Op::BatchNorm(_) => OpKind::BatchNorm,
            Op::MaxPool(..) => OpKind::MaxPool,
            Op::AvgPool(_) => OpKind::AvgPool,
            Op::Recurrent(..) => OpKind::Recurrent,
            Op::SoftmaxCrossEntropy { .. } => OpKind::SoftmaxCrossEntropy,
            Op::BceWithLogits(_) => OpKind::BceWithLogits,
            Op::Bce(_) => OpKind::Bce,
        }
    }
}
