//! Rows of a table picked by ids (embeddings).

use crate::autodiff::op::Op;
use crate::autodiff::tape::{BackwardNode, Tape, Var};
use crate::autodiff::tensor::Tensor;
use ndarray::{Axis, IxDyn};

impl Tape {
    /// Rows of `table` (`[V, D]`) picked by `ids`, shaped `shape + [D]`.
    pub fn gather(&mut self, table: Var, ids: Vec<usize>, shape: &[usize]) -> Var {
        let t = self.value(table);
        let dim = t.shape()[1];
        let mut out = Vec::with_capacity(ids.len() * dim);
        for &id in &ids {
            out.extend(t.index_axis(Axis(0), id).iter());
        }
        let mut full = shape.to_vec();
        full.push(dim);
        let value = Tensor::from_shape_vec(IxDyn(&full), out).expect("gather: sizes agree");
        self.push(value, Op::Gather(ids), vec![table])
    }
}

/// Each output row's gradient added to the row it was picked from, in id
/// order (an id picked twice gets both).
pub(super) fn gather_backward(ids: &[usize], node: &BackwardNode<'_>) -> Vec<Option<Tensor>> {
    let table = node.input(0);
    let dim = table.shape()[1];
    let mut g = Tensor::zeros(table.raw_dim());
    let flat = node.grad().as_standard_layout();
    let flat = flat.as_slice().expect("standard layout");
    for (row, &id) in ids.iter().enumerate() {
        let mut target = g.index_axis_mut(Axis(0), id);
        for (t, &v) in target.iter_mut().zip(&flat[row * dim..(row + 1) * dim]) {
            *t += v;
        }
    }
    vec![Some(g)]
}
