//! Matrix products too small for the `gemm` crate's packing to pay: the
//! per-step recurrent products (`[16, 64] x [64, 256]` for an LSTM of 64
//! units on 16 sequences), where packing the same weight again at every
//! step took more time than the arithmetic.

use crate::multiversion;

/// Rows of `C` computed together: each element of `B` loaded is used this
/// many times.
const ROWS: usize = 4;
/// Columns of `C` computed together: two AVX-512 registers per row.
const COLS: usize = 32;

multiversion! {
    /// `C = A · B`, or `C += A · B` when `accumulate`, for row-major
    /// contiguous `A` (`[m, k]`), `B` (`[k, n]`) and `C` (`[m, n]`).
    ///
    /// NOTE: every element is `c + a[0] b[0] + a[1] b[1] + ...` summed in
    /// order of `k`, whatever the blocking and the instruction set, so the
    /// result is the same on every machine level and thread count.
    ///
    /// # Panics
    /// When a slice's length does not match its shape.
    pub fn small_product(
        m: usize,
        k: usize,
        n: usize,
        a: &[f32],
        b: &[f32],
        c: &mut [f32],
        accumulate: bool,
    ) {
        assert_eq!(a.len(), m * k, "small product: A is not {m}x{k}");
        assert_eq!(b.len(), k * n, "small product: B is not {k}x{n}");
        assert_eq!(c.len(), m * n, "small product: C is not {m}x{n}");
        if !accumulate {
            c.fill(0.0);
        }
        let mut r0 = 0;
        while r0 + ROWS <= m {
            let mut j0 = 0;
            while j0 + COLS <= n {
                let mut acc = [[0.0f32; COLS]; ROWS];
                for (i, row) in acc.iter_mut().enumerate() {
                    row.copy_from_slice(&c[(r0 + i) * n + j0..][..COLS]);
                }
                for p in 0..k {
                    let b_row: &[f32; COLS] = b[p * n + j0..][..COLS].try_into().expect("COLS");
                    for (i, row) in acc.iter_mut().enumerate() {
                        let av = a[(r0 + i) * k + p];
                        for (s, bv) in row.iter_mut().zip(b_row) {
                            *s += av * bv;
                        }
                    }
                }
                for (i, row) in acc.iter().enumerate() {
                    c[(r0 + i) * n + j0..][..COLS].copy_from_slice(row);
                }
                j0 += COLS;
            }
            for i in r0..r0 + ROWS {
                dot_rows(i, j0, k, n, a, b, c);
            }
            r0 += ROWS;
        }
        for i in r0..m {
            dot_rows(i, 0, k, n, a, b, c);
        }
    }
}

/// Row `i` of `C`, columns `from..n`, one element at a time in the same
/// order as the blocked loop.
#[inline(always)]
fn dot_rows(i: usize, from: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    for j in from..n {
        let mut s = c[i * n + j];
        for p in 0..k {
            s += a[i * k + p] * b[p * n + j];
        }
        c[i * n + j] = s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::simd::{self, Level};
    use crate::kernels::test_util::fill;

    #[test]
    fn matches_naive_with_tails_and_accumulation() {
        for (m, k, n) in [(16, 64, 256), (5, 7, 33), (3, 2, 31), (8, 1, 64), (0, 3, 4)] {
            let (a, b) = (fill(m * k, 1), fill(k * n, 2));
            let base = fill(m * n, 3);
            for accumulate in [false, true] {
                let mut c = base.clone();
                small_product(m, k, n, &a, &b, &mut c, accumulate);
                for i in 0..m {
                    for j in 0..n {
                        let start = if accumulate {
                            f64::from(base[i * n + j])
                        } else {
                            0.0
                        };
                        let want: f64 = start
                            + (0..k)
                                .map(|p| f64::from(a[i * k + p]) * f64::from(b[p * n + j]))
                                .sum::<f64>();
                        assert!((f64::from(c[i * n + j]) - want).abs() < 1e-4, "{m}x{k}x{n}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_instruction_set_gives_the_same_bits() {
        let (m, k, n) = (18, 64, 100);
        let (a, b) = (fill(m * k, 4), fill(k * n, 5));
        let run = |level: Level| {
            simd::force(Some(level));
            let mut c = fill(m * n, 6);
            small_product(m, k, n, &a, &b, &mut c, true);
            simd::force(None);
            c.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        };
        let baseline = run(Level::Baseline);
        for level in Level::ALL.into_iter().filter(|&l| l <= Level::detected()) {
            assert_eq!(run(level), baseline, "{level:?}");
        }
    }
}
