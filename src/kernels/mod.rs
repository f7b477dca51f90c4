//! The hot loops: matrix products, convolution, normalisation, pooling and
//! recurrent layers.
//!
//! Every kernel is a pure function on contiguous, row-major `f32` slices (an
//! `[n, c, h, w]` tensor is one slice of `n * c * h * w` elements, `w`
//! fastest). Kernels know nothing of autodiff, layers or the language: the
//! autodiff ops call them with buffers they own.
//!
//! Conventions shared by every kernel:
//! - A forward kernel *overwrites* its output slice.
//! - A backward kernel *accumulates* (`+=`) into its gradient slices, so a
//!   value used twice collects both contributions; zero the slices first to
//!   get a plain gradient.
//! - Slice lengths are checked with `assert!`: a mismatch is an internal
//!   error, since the checker guarantees every shape before anything runs.
//! - Results are bit-identical whatever the rayon thread count, and whatever
//!   instruction set [`simd`] picks. Work is parallel only over independent
//!   items (groups of samples, channel planes, bands of a product's output),
//!   and a reduction across the batch (a convolution's weight and bias
//!   gradients) sums partials over a partition fixed by the shapes alone, in
//!   a fixed order. Small problems run on the calling thread, which gives
//!   the same bits as the parallel path.
//! - Scratch buffers (convolution column matrices) are kept per thread and
//!   reused across calls, so a call allocates only small buffers: the
//!   partial sums of convolution backward, pooling's window tables.
//!
//! Modules: [`matmul`] (GEMM, cut into fixed bands across the threads),
//! [`conv`] (conv2d by column matrices of groups of samples + GEMM),
//! [`norm`] (batch normalisation), [`pool`] (max, average and global average
//! pooling), [`recurrent`] (rnn, lstm and gru over whole sequences, with
//! backpropagation through time), [`small`] (products too small for GEMM
//! packing), [`simd`] (the instruction set each hand-written loop runs
//! with, chosen at run time).

#![warn(missing_docs)]

pub mod conv;
mod conv_direct;
pub mod matmul;
pub mod norm;
pub mod pool;
pub mod recurrent;
pub mod simd;
pub mod small;

pub use conv::{Conv2dGeometry, conv2d_backward, conv2d_forward};
pub use matmul::{bands_for, gemm, gemm_in_bands};

pub use pool::{
    NO_INDEX, Pool2dGeometry, avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward,
    max_pool2d_forward, pool_output_size,
};

use crate::multiversion;
use rayon::prelude::*;
use std::cell::RefCell;

/// Below this much work (multiply-adds, or elements touched) a kernel runs on
/// the calling thread: handing it to rayon would cost more than it saves.
const PARALLEL_MIN_WORK: usize = 1 << 16;

thread_local! {
    /// Per-thread scratch space (im2col columns), grown on demand and kept
    /// for the next call so steady-state training allocates nothing here.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with a scratch slice of `len` elements of unspecified content.
///
/// Uses the thread's reusable buffer; should it already be in use (a
/// re-entrant call, which the kernels avoid) a fresh buffer is allocated
/// instead of panicking.
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0.0);
            }
            f(&mut buf[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// The sum of eight accumulator lanes, paired in a fixed order, so that a
/// vectorised sum gives the same bits on every machine level.
#[inline(always)]
fn fold_lanes(a: [f32; 8]) -> f32 {
    ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
}

/// Sums a slice with eight interleaved accumulators combined in a fixed
/// order: fast (it vectorises) and deterministic.
fn sum_f32(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    let mut s = fold_lanes(acc);
    for v in rest {
        s += v;
    }
    s
}

/// Elements per task of a parallel [`all_finite`] scan.
const FINITE_CHUNK: usize = 1 << 16;

/// Whether every element of `x` is finite (neither NaN nor infinite);
/// large slices (a whole model's gradients, every step) are scanned in
/// parallel.
pub fn all_finite(x: &[f32]) -> bool {
    if x.len() >= 4 * FINITE_CHUNK {
        x.par_chunks(FINITE_CHUNK).all(scan_finite)
    } else {
        scan_finite(x)
    }
}

multiversion! {
    /// [`all_finite`] on one thread.
    ///
    /// NOTE: `x * 0` is zero for a finite `x` and NaN otherwise, so the sum
    /// below is zero exactly when all are finite; unlike a short-circuiting
    /// `any(|v| !v.is_finite())` it vectorises, which matters because training
    /// checks every layer's output at every step.
    fn scan_finite(x: &[f32]) -> bool {
        let mut acc = [0.0f32; 16];
        let chunks = x.chunks_exact(16);
        let rest = chunks.remainder();
        for c in chunks {
            for (a, v) in acc.iter_mut().zip(c) {
                *a += v * 0.0;
            }
        }
        acc.iter().chain(rest).all(|v| (v * 0.0) == 0.0)
    }
}

/// Helpers shared by the kernels' tests.
#[cfg(test)]
mod test_util {
    /// A deterministic pseudo-random fill in [-1, 1).
    pub fn fill(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// Asserts `got` is within `tol` (absolute plus relative) of `want`.
    pub fn assert_close(got: &[f32], want: &[f64], tol: f64, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: length");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            let err = (*g as f64 - w).abs();
            assert!(
                err <= tol * (1.0 + w.abs()),
                "{what}[{i}]: got {g}, want {w} (error {err})"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_finite_finds_any_nan_or_infinity() {
        for len in [0, 1, 15, 16, 17, 100, 5 * FINITE_CHUNK + 3] {
            let x = test_util::fill(len, 3);
            assert!(all_finite(&x));
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                for at in [0, len / 2, len.saturating_sub(1)] {
                    if len == 0 {
                        continue;
                    }
                    let mut y = x.clone();
                    y[at] = bad;
                    assert!(!all_finite(&y), "{bad} at {at} of {len}");
                }
            }
        }
        assert!(all_finite(&[f32::MAX, f32::MIN, -0.0, f32::MIN_POSITIVE]));
    }

    #[test]
    fn sum_f32_matches_f64_sum() {
        for len in [0, 1, 7, 8, 9, 100, 1001] {
            let x = test_util::fill(len, len as u64);
            let want: f64 = x.iter().map(|&v| v as f64).sum();
            assert!((sum_f32(&x) as f64 - want).abs() < 1e-4);
        }
    }
}
