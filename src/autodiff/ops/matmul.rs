//! Matrix products, plain and batched, through `kernels::gemm_in_bands`:
//! a large product is cut into fixed bands that run on every thread.

use crate::autodiff::op::Op;
use crate::autodiff::tape::{BackwardNode, Tape, Var};
use crate::autodiff::tensor::{Tensor, contiguous};
use crate::kernels;
use ndarray::IxDyn;

impl Tape {
    /// Matrix product: `[.., k] @ [k, n] -> [.., n]`, or batched
    /// `[b, m, k] @ [b, k, n] -> [b, m, n]`.
    pub fn matmul(&mut self, a: Var, b: Var) -> Var {
        let value = matmul_value(self.value(a), self.value(b));
        self.push(value, Op::MatMul, vec![a, b])
    }
}

/// The sizes of `a @ b`: `(batches, m, k, n)`. A matrix `b` (`[k, n]`) is
/// shared, so all leading axes of `a` are rows of one product; a batched `b`
/// (`[batches, k, n]`) pairs with `a` (`[batches, m, k]`) slice by slice.
fn matmul_sizes(a: &Tensor, b: &Tensor) -> (usize, usize, usize, usize) {
    let (batches, k, n) = match *b.shape() {
        [batches, k, n] => (batches, k, n),
        [k, n] => (1, k, n),
        _ => unreachable!(
            "matmul: the checker proved the right operand is a matrix or a batch of them"
        ),
    };
    (batches, a.len() / (batches * k).max(1), k, n)
}

fn matmul_value(a: &Tensor, b: &Tensor) -> Tensor {
    let (batches, m, k, n) = matmul_sizes(a, b);
    let (a_data, b_data) = (contiguous(a), contiguous(b));
    let mut out = vec![0.0; batches * m * n];
    for i in 0..batches {
        kernels::gemm_in_bands(
            m,
            k,
            n,
            &a_data[i * m * k..][..m * k],
            false,
            &b_data[i * k * n..][..k * n],
            false,
            &mut out[i * m * n..][..m * n],
            false,
            kernels::bands_for(m, k, n),
        );
    }
    let mut shape = a.shape().to_vec();
    *shape.last_mut().expect("rank >= 1") = n;
    Tensor::from_shape_vec(IxDyn(&shape), out).expect("batches * m * n elements")
}

/// The gradients of `a @ b` with respect to the operands that need one:
/// per slice, dA = dC B^T (`[m, n] x [n, k]`) and dB = A^T dC (`[k, m] x [m, n]`).
pub(super) fn matmul_backward(node: &BackwardNode<'_>) -> Vec<Option<Tensor>> {
    let (a, b) = (node.input(0), node.input(1));
    let (batches, m, k, n) = matmul_sizes(a, b);
    let g = contiguous(node.grad());
    let da = node.wants(0).then(|| {
        let b_data = contiguous(b);
        let mut da = vec![0.0; batches * m * k];
        for i in 0..batches {
            kernels::gemm_in_bands(
                m,
                n,
                k,
                &g[i * m * n..][..m * n],
                false,
                &b_data[i * k * n..][..k * n],
                true,
                &mut da[i * m * k..][..m * k],
                false,
                kernels::bands_for(m, n, k),
            );
        }
        Tensor::from_shape_vec(a.raw_dim(), da).expect("same size as a")
    });
    let db = node.wants(1).then(|| {
        let a_data = contiguous(a);
        let mut db = vec![0.0; batches * k * n];
        for i in 0..batches {
            kernels::gemm_in_bands(
                k,
                m,
                n,
                &a_data[i * m * k..][..m * k],
                true,
                &g[i * m * n..][..m * n],
                false,
                &mut db[i * k * n..][..k * n],
                false,
                kernels::bands_for(k, m, n),
            );
        }
        Tensor::from_shape_vec(b.raw_dim(), db).expect("same size as b")
    });
    vec![da, db]
}
