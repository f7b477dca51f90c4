//! Max and average pooling on NCHW.

use crate::autodiff::op::Op;
use crate::autodiff::tape::{BackwardNode, Tape, Var};
use crate::autodiff::tensor::{Tensor, contiguous};
use crate::kernels;
use crate::kernels::pool::Pool2dGeometry;
use ndarray::IxDyn;

impl Tape {
    /// Max (`max = true`) or average pooling of `x` (`[n, c, h, w]`) to an
    /// output of `output` (height, width) as the checker computed it.
    pub fn pool2d(
        &mut self,
        x: Var,
        max: bool,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        output: [usize; 2],
    ) -> Var {
        let xs = self.value(x).shape().to_vec();
        let g = Pool2dGeometry::new(xs[0], xs[1], [xs[2], xs[3]], kernel, stride, padding, false)
            .and_then(|g| g.with_output(output))
            .expect("pool: the checker's output size fits the geometry");
        let mut out = vec![0.0; g.output_len()];
        let input = contiguous(self.value(x));
        let op = if max {
            let mut indices = vec![0; g.output_len()];
            kernels::pool::max_pool2d_forward(&g, &input, &mut out, &mut indices);
            Op::MaxPool(g, indices)
        } else {
            kernels::pool::avg_pool2d_forward(&g, &input, &mut out);
            Op::AvgPool(g)
        };
        let value = Tensor::from_shape_vec(IxDyn(&[g.batch, g.channels, g.out_h, g.out_w]), out)
            .expect("output size");
        self.push(value, op, vec![x])
    }
}

/// Each output's gradient goes to the input its window's argmax picked.
pub(super) fn max_pool_backward(
    g: &Pool2dGeometry,
    indices: &[u32],
    node: &BackwardNode<'_>,
) -> Vec<Option<Tensor>> {
    let mut gi = vec![0.0; g.input_len()];
    kernels::pool::max_pool2d_backward(g, &contiguous(node.grad()), indices, &mut gi);
    vec![Some(
        Tensor::from_shape_vec(node.input(0).raw_dim(), gi).expect("same size"),
    )]
}

pub(super) fn avg_pool_backward(
    g: &Pool2dGeometry,
    node: &BackwardNode<'_>,
) -> Vec<Option<Tensor>> {
    let mut gi = vec![0.0; g.input_len()];
    kernels::pool::avg_pool2d_backward(g, &contiguous(node.grad()), &mut gi);
    vec![Some(
        Tensor::from_shape_vec(node.input(0).raw_dim(), gi).expect("same size"),
    )]
}
