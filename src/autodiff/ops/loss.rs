//! The fused losses: each is one op from the logits (or probabilities) to a
//! mean, with a backward rule simpler and stabler than the chain of its parts.

use super::softmax::{log_softmax, softmax};
use crate::autodiff::op::{Op, sigmoid};
use crate::autodiff::tape::{BackwardNode, Tape, Var};
use crate::autodiff::tensor::Tensor;
use ndarray::IxDyn;

impl Tape {
    /// Mean cross-entropy of softmax(`logits`) (`[N, K]`) against class ids.
    pub fn softmax_cross_entropy(&mut self, logits: Var, targets: &[u32]) -> Var {
        let probs = softmax(self.value(logits), 1);
        let n = targets.len().max(1) as f32;
        let lp = log_softmax(self.value(logits), 1);
        let total: f32 = targets
            .iter()
            .enumerate()
            .map(|(i, &t)| -lp[[i, t as usize]])
            .sum();
        let value = Tensor::from_elem(IxDyn(&[]), total / n);
        self.push(
            value,
            Op::SoftmaxCrossEntropy {
                probs,
                targets: targets.to_vec(),
            },
            vec![logits],
        )
    }
}

/// `(softmax - one_hot) / N`, scaled by the incoming gradient.
pub(super) fn softmax_cross_entropy_backward(
    probs: &Tensor,
    targets: &[u32],
    node: &BackwardNode<'_>,
) -> Vec<Option<Tensor>> {
    let scale = node.grad().iter().next().copied().unwrap_or(1.0) / targets.len().max(1) as f32;
    let mut g = probs.clone();
    for (i, &t) in targets.iter().enumerate() {
        g[[i, t as usize]] -= 1.0;
    }
    g.mapv_inplace(|v| v * scale);
    vec![Some(g)]
}

impl Tape {
    /// Mean binary cross-entropy of sigmoid(`logits`) against 0/1 `targets`
    /// of the same shape, computed stably from the logits.
    pub fn bce_with_logits(&mut self, logits: Var, targets: Tensor) -> Var {
        let z = self.value(logits);
        // NOTE: -[y log s(z) + (1-y) log(1-s(z))] = max(z, 0) - z y + log(1 + e^-|z|).
        let total: f32 = z
            .iter()
            .zip(targets.iter())
            .map(|(&z, &y)| z.max(0.0) - z * y + (-z.abs()).exp().ln_1p())
            .sum();
        let value = Tensor::from_elem(IxDyn(&[]), total / z.len().max(1) as f32);
        self.push(value, Op::BceWithLogits(targets), vec![logits])
    }
}

/// `(sigmoid(z) - y) / N`, scaled by the incoming gradient.
pub(super) fn bce_with_logits_backward(
    targets: &Tensor,
    node: &BackwardNode<'_>,
) -> Vec<Option<Tensor>> {
    let z = node.input(0);
    let scale = node.grad().iter().next().copied().unwrap_or(1.0) / z.len().max(1) as f32;
    let mut g = z.mapv(sigmoid);
    g.zip_mut_with(targets, |s, &y| *s = (*s - y) * scale);
    vec![Some(g)]
}

impl Tape {
    /// Mean binary cross-entropy of probabilities `p` against 0/1 `targets`.
    pub fn bce(&mut self, p: Var, targets: Tensor) -> Var {
        let p_val = self.value(p);
        let total: f32 = p_val
            .iter()
            .zip(targets.iter())
            .map(|(&p, &y)| {
                let p = p.clamp(f32::EPSILON, 1.0 - f32::EPSILON);
                -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
            })
            .sum();
        let value = Tensor::from_elem(IxDyn(&[]), total / p_val.len().max(1) as f32);
        self.push(value, Op::Bce(targets), vec![p])
    }
}

/// `(q - y) / (q (1 - q)) / N` with `q` clamped as in the forward pass,
/// scaled by the incoming gradient.
pub(super) fn bce_backward(targets: &Tensor, node: &BackwardNode<'_>) -> Vec<Option<Tensor>> {
    let p = node.input(0);
    let scale = node.grad().iter().next().copied().unwrap_or(1.0) / p.len().max(1) as f32;
    let mut g = p.clone();
    g.zip_mut_with(targets, |p, &y| {
        let q = p.clamp(f32::EPSILON, 1.0 - f32::EPSILON);
        *p = (q - y) / (q * (1.0 - q)) * scale;
    });
    vec![Some(g)]
}
