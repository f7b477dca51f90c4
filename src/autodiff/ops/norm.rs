//! Batch normalisation as one op, through the fused kernels.

use crate::autodiff::op::Op;
use crate::autodiff::tape::{BackwardNode, Tape, Var};
use crate::autodiff::tensor::{Tensor, contiguous};
use crate::kernels::norm::{self, NormGeometry, NormGrads};

/// The statistics a batch normalisation divides by.
#[derive(Clone, Copy, Debug)]
pub enum NormStats<'a> {
    /// The batch's own, per channel (training mode): gradients flow through
    /// them to every element of the channel.
    Batch,
    /// Given per-channel mean and variance (evaluation, with running
    /// statistics): constants for the gradient.
    Given {
        /// Mean per channel.
        mean: &'a [f32],
        /// Variance per channel.
        var: &'a [f32],
    },
}

/// What a batch normalisation's backward needs besides its inputs.
#[derive(Clone, Debug)]
pub struct BatchNormSaved {
    geometry: NormGeometry,
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    batch_stats: bool,
}

impl Tape {
    /// `(x - mean) / sqrt(var + eps) * gamma + beta` per channel of `x`
    /// (`[batch, channels, ...]`; `gamma`, `beta`: `[channels]`), with the
    /// statistics `stats`. Returns the output and the mean and (biased)
    /// variance it used.
    pub fn batch_norm(
        &mut self,
        x: Var,
        gamma: Var,
        beta: Var,
        eps: f32,
        stats: NormStats<'_>,
    ) -> (Var, Vec<f32>, Vec<f32>) {
        let shape = self.value(x).raw_dim();
        let geometry = NormGeometry::of(self.value(x).shape());
        let mut out = vec![0.0; geometry.len()];
        // A block, so that the borrowed inputs end before the push.
        let (mean, var, inv_std, batch_stats) = {
            let input = contiguous(self.value(x));
            let (mean, var, batch_stats) = match stats {
                NormStats::Batch => {
                    let (mean, var) = norm::batch_statistics(&geometry, &input);
                    (mean, var, true)
                }
                NormStats::Given { mean, var } => (mean.to_vec(), var.to_vec(), false),
            };
            let inv_std = norm::inverse_std(&var, eps);
            let (g, b) = (contiguous(self.value(gamma)), contiguous(self.value(beta)));
            norm::batch_norm_forward(&geometry, &input, &mean, &inv_std, &g, &b, &mut out);
            (mean, var, inv_std, batch_stats)
        };
        let saved = BatchNormSaved {
            geometry,
            inv_std,
            mean: mean.clone(),
            batch_stats,
        };
        let value = Tensor::from_shape_vec(shape, out).expect("output size");
        let y = self.push(value, Op::BatchNorm(Box::new(saved)), vec![x, gamma, beta]);
        (y, mean, var)
    }
}

/// The gradients of the input, the scale and the shift, each computed only
/// if it is needed.
pub(super) fn batch_norm_backward(
    saved: &BatchNormSaved,
    node: &BackwardNode<'_>,
) -> Vec<Option<Tensor>> {
    let g = &saved.geometry;
    let x = contiguous(node.input(0));
    let gamma = contiguous(node.input(1));
    let dy = contiguous(node.grad());
    let mut dx = node.wants(0).then(|| vec![0.0; g.len()]);
    let mut dgamma = node.wants(1).then(|| vec![0.0; g.channels]);
    let mut dbeta = node.wants(2).then(|| vec![0.0; g.channels]);
    let grads = NormGrads {
        input: dx.as_deref_mut(),
        gamma: dgamma.as_deref_mut(),
        beta: dbeta.as_deref_mut(),
    };
    let (mean, inv) = (&saved.mean, &saved.inv_std);
    norm::batch_norm_backward(g, &x, mean, inv, &gamma, &dy, saved.batch_stats, grads);
    let tensor = |v: Vec<f32>, i: usize| {
        Tensor::from_shape_vec(node.input(i).raw_dim(), v).expect("gradient size")
    };
    vec![
        dx.map(|v| tensor(v, 0)),
        dgamma.map(|v| tensor(v, 1)),
        dbeta.map(|v| tensor(v, 2)),
    ]
}
