//! The value type every part of the tape shares, and the helpers the op
//! families share.

use ndarray::ArrayD;
use std::borrow::Cow;

/// A tensor of `f32`, any rank, row-major.
pub type Tensor = ArrayD<f32>;

/// The elements of `a` in row-major order, borrowed when already contiguous.
pub(super) fn contiguous(a: &Tensor) -> Cow<'_, [f32]> {
    match a.as_slice() {
        Some(slice) => Cow::Borrowed(slice),
        None => Cow::Owned(a.iter().copied().collect()),
    }
}

/// Whether every element of `t` is finite (neither NaN nor infinite), by a
/// vectorised scan when `t` is contiguous.
pub fn all_finite(t: &Tensor) -> bool {
    match t.as_slice() {
        Some(slice) => crate::kernels::all_finite(slice),
        None => t.iter().all(|x| x.is_finite()),
    }
}
