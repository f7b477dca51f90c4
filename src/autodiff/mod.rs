//! Reverse-mode automatic differentiation on ndarray.
//!
//! A [`Tape`] records every operation in execution order, in an arena; each
//! node keeps its value, its inputs and what its backward rule needs.
//! [`Tape::backward`] walks the arena in reverse and accumulates gradients
//! (`+=`, never `=`, so a value used twice gets both contributions).
//! This module knows nothing of the language, of spans or of layers.

mod op;
mod ops;
mod tape;
mod tensor;

pub use crate::kernels::recurrent::RecurrentKind;
pub use op::{OpKind, Unary};
pub use ops::NormStats;
pub use tape::{Grads, Tape, Var, recorded_kinds};
pub use tensor::{Tensor, all_finite};
