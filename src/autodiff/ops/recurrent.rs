//! The fused recurrent layers (rnn, lstm, gru) over whole sequences; the
//! kernels in `kernels::recurrent` do the steps and the backpropagation
//! through time.

use crate::autodiff::op::Op;
use crate::autodiff::tape::{BackwardNode, Tape, Var};
use crate::autodiff::tensor::{Tensor, contiguous};
use crate::kernels;
use crate::kernels::recurrent::{RecurrentGeometry, RecurrentKind, RecurrentSaved};
use ndarray::IxDyn;

impl Tape {
    /// A recurrent layer of `kind` over the sequences `x` (`[n, t, i]`), with
    /// `weight` (`[i + h, gates * h]`), `bias` (`[gates * h]`) and, for the
    /// reset-after GRU only, `recurrent_bias` (`[gates * h]`): every hidden
    /// state, `[n, t, h]`. Backward is backpropagation through time.
    pub fn recurrent(
        &mut self,
        kind: RecurrentKind,
        x: Var,
        weight: Var,
        bias: Var,
        recurrent_bias: Option<Var>,
    ) -> Var {
        let xs = self.value(x).shape().to_vec();
        let width = self.value(bias).len();
        let g = RecurrentGeometry {
            kind,
            batch: xs[0],
            steps: xs[1],
            input: xs[2],
            hidden: width / kind.gates(),
        };
        let mut out = vec![0.0; g.output_len()];
        let rb = recurrent_bias.map_or_else(Vec::new, |v| contiguous(self.value(v)).into_owned());
        let saved = kernels::recurrent::recurrent_forward(
            &g,
            &contiguous(self.value(x)),
            &contiguous(self.value(weight)),
            &contiguous(self.value(bias)),
            &rb,
            &mut out,
        );
        let value =
            Tensor::from_shape_vec(IxDyn(&[g.batch, g.steps, g.hidden]), out).expect("output size");
        let mut inputs = vec![x, weight, bias];
        inputs.extend(recurrent_bias);
        self.push(value, Op::Recurrent(g, Box::new(saved)), inputs)
    }
}

/// The gradients of the sequences, the weight, the bias and the recurrent
/// bias (when there is one), each computed only if it is needed.
pub(super) fn recurrent_backward(
    g: &RecurrentGeometry,
    saved: &RecurrentSaved,
    node: &BackwardNode<'_>,
) -> Vec<Option<Tensor>> {
    let mut gx = node.wants(0).then(|| vec![0.0; g.input_len()]);
    let mut gw = node.wants(1).then(|| vec![0.0; g.weight_len()]);
    let mut gb = node.wants(2).then(|| vec![0.0; g.width()]);
    let has_rb = g.recurrent_bias_len() > 0;
    let mut grb = (has_rb && node.wants(3)).then(|| vec![0.0; g.recurrent_bias_len()]);
    kernels::recurrent::recurrent_backward(
        g,
        saved,
        &contiguous(node.input(1)),
        &contiguous(node.grad()),
        gx.as_deref_mut(),
        gw.as_deref_mut(),
        gb.as_deref_mut(),
        grb.as_deref_mut(),
    );
    let mut grads = vec![gx, gw, gb];
    if has_rb {
        grads.push(grb);
    }
    grads
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            d.map(|d| Tensor::from_shape_vec(node.input(i).raw_dim(), d).expect("same size"))
        })
        .collect()
}
