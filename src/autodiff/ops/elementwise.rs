//! Elementwise functions of one tensor; each [`Unary`] keeps its `f` and
//! `df` side by side.

use crate::autodiff::op::{Op, Unary};
use crate::autodiff::tape::{BackwardNode, Tape, Var};
use crate::autodiff::tensor::Tensor;
use crate::multiversion;
use rayon::prelude::*;

impl Tape {
    /// An elementwise function.
    pub fn unary(&mut self, f: Unary, a: Var) -> Var {
        let x = self.value(a);
        let value = match x.as_slice() {
            Some(xs) => {
                let mut out = vec![0.0; xs.len()];
                in_chunks(&mut out, |at, out| apply(f, &xs[at..][..out.len()], out));
                Tensor::from_shape_vec(x.raw_dim(), out).expect("same size")
            }
            None => x.mapv(|x| f.f(x)),
        };
        self.push(value, Op::Unary(f), vec![a])
    }
}

pub(super) fn unary_backward(f: Unary, node: &BackwardNode<'_>) -> Vec<Option<Tensor>> {
    let (grad, x, y) = (node.grad(), node.input(0), node.output());
    if let (Some(g), Some(xs), Some(ys)) = (grad.as_slice(), x.as_slice(), y.as_slice()) {
        let mut out = vec![0.0; g.len()];
        in_chunks(&mut out, |at, out| {
            let n = out.len();
            chain(f, &g[at..][..n], &xs[at..][..n], &ys[at..][..n], out);
        });
        return vec![Some(
            Tensor::from_shape_vec(grad.raw_dim(), out).expect("same size"),
        )];
    }
    let mut out = grad.clone();
    ndarray::Zip::from(&mut out)
        .and(x)
        .and(y)
        .for_each(|g, &x, &y| *g *= f.df(x, y));
    vec![Some(out)]
}

/// Elements per task when an elementwise function runs in parallel.
const CHUNK: usize = 1 << 15;

/// Runs `f(offset, piece)` over `out` cut into pieces of [`CHUNK`]
/// elements, in parallel when there are several. Each element is computed
/// alone, so the result is the same for any thread count.
fn in_chunks(out: &mut [f32], f: impl Fn(usize, &mut [f32]) + Sync) {
    if out.len() > 2 * CHUNK {
        let pieces = out.par_chunks_mut(CHUNK).enumerate();
        pieces.for_each(|(i, piece)| f(i * CHUNK, piece));
    } else {
        f(0, out);
    }
}

multiversion! {
    /// `out = f(x)`, on contiguous slices (so that it vectorises).
    fn apply(f: Unary, x: &[f32], out: &mut [f32]) {
        // NOTE: relu, the one in every hot path, gets a loop of its own so
        // that no match on the function is left inside it.
        match f {
            Unary::Relu => out.iter_mut().zip(x).for_each(|(o, &x)| *o = Unary::Relu.f(x)),
            f => out.iter_mut().zip(x).for_each(|(o, &x)| *o = f.f(x)),
        }
    }
}

multiversion! {
    /// `out = g * df(x, y)`, the same products as the general path.
    fn chain(f: Unary, g: &[f32], x: &[f32], y: &[f32], out: &mut [f32]) {
        let items = out.iter_mut().zip(g).zip(x.iter().zip(y));
        match f {
            Unary::Relu => items.for_each(|((o, &g), (&x, &y))| *o = g * Unary::Relu.df(x, y)),
            f => items.for_each(|((o, &g), (&x, &y))| *o = g * f.df(x, y)),
        }
    }
}
