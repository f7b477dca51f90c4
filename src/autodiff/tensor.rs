//! The value type every part of the tape shares.

use ndarray::ArrayD;

/// A tensor of `f32`, any rank, row-major.
pub type Tensor = ArrayD<f32>;
