//! The forward pass of a convolution whose filters are tiny (a first layer
//! on one to a few input channels: LeNet-5's `1 x 5 x 5`), computed
//! directly: building a column matrix costs more than the arithmetic there,
//! and `gemm` spends half its time packing a product whose inner dimension
//! is 25 (at batch 64, 0.71 ms through them against 0.50 ms direct).
//! NOTE: the backward pass stays on column matrices and `gemm`: a direct
//! weight gradient (a dot product per weight) measured slower.
//!
//! Stride 1 only, in the "wide" numbering of `conv.rs` (`q = oh * wp + ow`
//! across the padded width): output `q` of a filter is
//! `sum over r of w[r] * padded[q + offsets[r]]`, `r` running over the
//! filter's weights `(c, i, j)`, so each weight reads one contiguous run.

use crate::multiversion;

/// Filters of at most this many weights (`in_c * kh * kw`) use the direct
/// kernel (LeNet-5's first layer has 25; its second, 150, is faster
/// through `gemm`).
pub(super) const MAX_FILTER_WEIGHTS: usize = 32;

/// Output columns computed together: one AVX-512 register.
const TILE: usize = 16;
/// Filters computed together, sharing each load of the input.
const BLOCK: usize = 8;

multiversion! {
    /// `out[oc, q] = sum over r of weight[oc, r] * src[q + offsets[r]]`,
    /// `out` being `[out_c, n]` and `weight` `[out_c, offsets.len()]`.
    ///
    /// NOTE: each output sums its terms in order of `r`, starting from
    /// zero, in the blocked loop and in the tail alike.
    pub(super) fn forward_plane(out: &mut [f32], n: usize, weight: &[f32], src: &[f32], offsets: &[usize]) {
        let rows = offsets.len();
        let out_c = weight.len() / rows;
        for oc0 in (0..out_c).step_by(BLOCK) {
            let count = BLOCK.min(out_c - oc0);
            let mut w = [[0.0f32; BLOCK]; MAX_FILTER_WEIGHTS];
            for b in 0..count {
                for r in 0..rows {
                    w[r][b] = weight[(oc0 + b) * rows + r];
                }
            }
            let mut q0 = 0;
            while q0 + TILE <= n {
                let mut acc = [[0.0f32; TILE]; BLOCK];
                for (r, &offset) in offsets.iter().enumerate() {
                    let s: &[f32; TILE] = src[q0 + offset..][..TILE].try_into().expect("TILE");
                    for (b, row) in acc.iter_mut().enumerate() {
                        let wv = w[r][b];
                        for (a, v) in row.iter_mut().zip(s) {
                            *a += wv * v;
                        }
                    }
                }
                for (b, row) in acc.iter().enumerate().take(count) {
                    out[(oc0 + b) * n + q0..][..TILE].copy_from_slice(row);
                }
                q0 += TILE;
            }
            for q in q0..n {
                for b in 0..count {
                    let mut a = 0.0;
                    for (r, &offset) in offsets.iter().enumerate() {
                        a += w[r][b] * src[q + offset];
                    }
                    out[(oc0 + b) * n + q] = a;
                }
            }
        }
    }
}
