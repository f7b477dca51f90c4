//! Walking a part in mini-batches.

use super::{Part, shuffle};
use crate::ir;

/// The mini-batches of one pass over a part, as lists of row indices.
///
/// Every row appears exactly once per pass; all batches have `batch` rows
/// except the last, which keeps whatever is left (it is not dropped). Use
/// [`Part::select`] to turn a batch into its inputs and targets.
#[derive(Clone, Debug)]
pub struct Batches {
    order: Vec<usize>,
    size: usize,
    next: usize,
}

impl Batches {
    /// The batches of epoch `epoch` in a seeded random order.
    ///
    /// The order is a Fisher–Yates shuffle of `0..rows` drawn from ChaCha8
    /// keyed with `seed`, on a stream of its own per epoch, so it depends
    /// only on `(rows, seed, epoch)`: the same on every run and platform,
    /// and different from epoch to epoch. `batch = None` means one batch
    /// holding the whole part.
    ///
    /// # Panics
    /// If `batch` is `Some(0)`.
    pub fn epoch(part: &Part, batch: Option<usize>, seed: u64, epoch: u64) -> Batches {
        let mut order: Vec<usize> = (0..part.rows()).collect();
        let mut r = crate::seed::batches(seed, epoch);
        shuffle(&mut r, &mut order);
        Batches::from_order(order, batch)
    }

    /// The batches in row order, for evaluation.
    ///
    /// # Panics
    /// If `batch` is `Some(0)`.
    pub fn in_order(part: &Part, batch: Option<usize>) -> Batches {
        Batches::from_order((0..part.rows()).collect(), batch)
    }

    fn from_order(order: Vec<usize>, batch: Option<usize>) -> Batches {
        assert!(batch != Some(0), "batch size must be at least 1");
        let size = batch.unwrap_or(order.len()).max(1);
        Batches {
            order,
            size,
            next: 0,
        }
    }

    /// The row order of the whole pass (all batches concatenated).
    pub fn order(&self) -> &[usize] {
        &self.order
    }
}

impl Iterator for Batches {
    type Item = Vec<usize>;

    fn next(&mut self) -> Option<Vec<usize>> {
        if self.next >= self.order.len() {
            return None;
        }
        let end = (self.next + self.size).min(self.order.len());
        let batch = self.order[self.next..end].to_vec();
        self.next = end;
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.order.len() - self.next).div_ceil(self.size);
        (left, Some(left))
    }
}

impl ExactSizeIterator for Batches {}

/// Shorthand for [`Batches::epoch`]: the shuffled batches of epoch `epoch`.
pub fn epoch(part: &Part, batch: Option<usize>, seed: u64, epoch: u64) -> Batches {
    Batches::epoch(part, batch, seed, epoch)
}

/// The batch size a `train` block asks for: `Some(rows)` or `None` for
/// `batch = full`. Sizes below 1 (which the checker rejects) become 1.
pub fn batch_size(batch: &ir::Batch) -> Option<usize> {
    match batch {
        ir::Batch::Size(n) => Some((*n).max(1) as usize),
        ir::Batch::Full => None,
    }
}
