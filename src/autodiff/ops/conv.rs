//! 2-D convolution on NCHW, through the im2col kernels.

use crate::autodiff::op::Op;
use crate::autodiff::tape::{BackwardNode, Tape, Var};
use crate::autodiff::tensor::{Tensor, contiguous};
use crate::kernels;
use crate::kernels::conv::Conv2dGeometry;
use ndarray::IxDyn;

impl Tape {
    /// 2-D convolution of `x` (`[n, c, h, w]`) with `weight` (`[o, c, kh, kw]`)
    /// and an optional `bias` (`[o]`), to an output of `output` (height,
    /// width) as the checker computed it.
    pub fn conv2d(
        &mut self,
        x: Var,
        weight: Var,
        bias: Option<Var>,
        stride: [usize; 2],
        padding: [usize; 2],
        output: [usize; 2],
    ) -> Var {
        let (xs, ws) = (
            self.value(x).shape().to_vec(),
            self.value(weight).shape().to_vec(),
        );
        let g = Conv2dGeometry::new(
            xs[0],
            xs[1],
            [xs[2], xs[3]],
            ws[0],
            [ws[2], ws[3]],
            stride,
            padding,
        )
        .and_then(|g| g.with_output(output))
        .expect("conv2d: the checker's output size fits the geometry");
        let mut out = vec![0.0; g.output_len()];
        {
            let input = contiguous(self.value(x));
            let w = contiguous(self.value(weight));
            let b = bias.map(|b| contiguous(self.value(b)));
            kernels::conv::conv2d_forward(&g, &input, &w, b.as_deref(), &mut out);
        }
        let value = Tensor::from_shape_vec(IxDyn(&[g.batch, g.out_c, g.out_h, g.out_w]), out)
            .expect("output size");
        let mut inputs = vec![x, weight];
        inputs.extend(bias);
        self.push(value, Op::Conv2d(g), inputs)
    }
}

/// The gradients of the image, the kernel and the bias (if there is one),
/// each computed only if it is needed.
pub(super) fn conv2d_backward(g: &Conv2dGeometry, node: &BackwardNode<'_>) -> Vec<Option<Tensor>> {
    let input = contiguous(node.input(0));
    let weight = contiguous(node.input(1));
    let grad_out = contiguous(node.grad());
    let mut gi = node.wants(0).then(|| vec![0.0; g.input_len()]);
    let mut gw = node.wants(1).then(|| vec![0.0; g.weight_len()]);
    let mut gb = node.wants(2).then(|| vec![0.0; g.out_c]);
    kernels::conv::conv2d_backward(
        g,
        &input,
        &weight,
        &grad_out,
        gi.as_deref_mut(),
        gw.as_deref_mut(),
        gb.as_deref_mut(),
    );
    let shaped = |data: Option<Vec<f32>>, i: usize| {
        data.map(|d| Tensor::from_shape_vec(node.input(i).raw_dim(), d).expect("same size"))
    };
    let mut out = vec![shaped(gi, 0), shaped(gw, 1)];
    if node.arity() == 3 {
        out.push(shaped(gb, 2));
    }
    out
}
