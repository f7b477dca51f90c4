//! The tape's ops, one module per family. Each op's `Tape` method (its
//! forward computation, recording the result) sits next to its backward
//! rule; [`BackwardRule`] for [`Op`] dispatches the reverse pass to them.

mod arith;
mod conv;
mod elementwise;
mod gather;
mod loss;
mod matmul;
mod norm;
mod pool;
mod recurrent;
mod reduce;
mod shape;
mod softmax;

use super::op::Op;
use super::tape::{BackwardNode, BackwardRule};
use super::tensor::Tensor;

pub use norm::{BatchNormSaved, NormStats};

impl BackwardRule for Op {
    fn input_grads(&self, node: &BackwardNode<'_>) -> Vec<Option<Tensor>> {
        match self {
            Op::Leaf => Vec::new(),
            Op::Add => arith::add_backward(node),
            Op::Sub => arith::sub_backward(node),
            Op::Mul => arith::mul_backward(node),
            Op::Div => arith::div_backward(node),
            Op::Neg => arith::neg_backward(node),
            Op::MulConst(k) => arith::mul_const_backward(k, node),
            Op::Unary(f) => elementwise::unary_backward(*f, node),
            Op::MatMul => matmul::matmul_backward(node),
            Op::Softmax(axis) => softmax::softmax_backward(*axis, node),
            Op::Sum { axes, keep } => reduce::sum_backward(axes, *keep, node),
            Op::Reshape => shape::reshape_backward(node),
            Op::Concat(axis) => shape::concat_backward(*axis, node),
            Op::Select { axis, index } => shape::select_backward(*axis, *index, node),
            Op::Gather(ids) => gather::gather_backward(ids, node),
            Op::Conv2d(g) => conv::conv2d_backward(g, node),
            Op::BatchNorm(saved) => norm::batch_norm_backward(saved, node),
            Op::MaxPool(g, indices) => pool::max_pool_backward(g, indices, node),
            Op::AvgPool(g) => pool::avg_pool_backward(g, node),
            Op::Recurrent(g, saved) => recurrent::recurrent_backward(g, saved, node),
            Op::SoftmaxCrossEntropy { probs, targets } => {
                loss::softmax_cross_entropy_backward(probs, targets, node)
            }
            Op::BceWithLogits(targets) => loss::bce_with_logits_backward(targets, node),
            Op::Bce(targets) => loss::bce_backward(targets, node),
        }
    }
}
