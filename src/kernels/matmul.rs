//! Dense matrix multiplication on row-major `f32` slices.
//!
//! The work is done by the `gemm` crate, always single-threaded
//! ([`gemm::Parallelism::None`]) so that a product is bit-identical whatever
//! the rayon thread count; callers parallelise at a coarser grain (over a
//! batch), where the partition can be fixed.
//!
//! NOTE: `gemm` was chosen over `matrixmultiply::sgemm` by measurement on the
//! project's 2-core machine: it is as fast or faster on every shape we
//! tried, 1.2x on 64×784×128, about 2.5x on the skinny products of small
//! convolutions (6×25×784) and 4-5x on matrix-vector products (1×784×128).

use rayon::prelude::*;

/// Computes `C = op(A) · op(B)`, or `C += op(A) · op(B)` when `accumulate`.
///
/// `op(A)` is `A` or, when `a_trans`, its transpose; likewise for `B`. The
/// transposes are read through strides: nothing is copied.
///
/// # Shapes
/// - `op(A)` is `[m, k]`: `a` holds `[m, k]` row-major, or `[k, m]` when
///   `a_trans`; either way `a.len() == m * k`.
/// - `op(B)` is `[k, n]`: `b` holds `[k, n]`, or `[n, k]` when `b_trans`.
/// - `c` is `[m, n]` row-major.
///
/// With `k == 0` the product is zero, so `C` is zeroed (or left alone when
/// accumulating).
///
/// # Panics
/// When a slice's length does not match its shape (an internal error: the
/// checker guarantees shapes before anything runs).
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    a_trans: bool,
    b: &[f32],
    b_trans: bool,
    c: &mut [f32],
    accumulate: bool,
) {
    gemm_in_row_blocks(m, k, n, a, a_trans, b, b_trans, c, accumulate, 1);
}

/// [`gemm`] with the rows of `C` cut into `blocks` bands of equal height
/// (the last one shorter), computed in parallel on the rayon pool.
///
/// NOTE: the bands depend on `m` and `blocks` alone, never on the thread
/// count, and each band is an independent product, so the result is
/// bit-identical however many threads run it. This is how one large product
/// (a convolution over the whole batch, a dense layer) uses every core.
///
/// # Panics
/// As [`gemm`].
#[allow(clippy::too_many_arguments)]
pub fn gemm_in_row_blocks(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    a_trans: bool,
    b: &[f32],
    b_trans: bool,
    c: &mut [f32],
    accumulate: bool,
    blocks: usize,
) {
    assert_eq!(a.len(), m * k, "gemm: A is not {m}x{k}");
    assert_eq!(b.len(), k * n, "gemm: B is not {k}x{n}");
    assert_eq!(c.len(), m * n, "gemm: C is not {m}x{n}");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c.fill(0.0);
        }
        return;
    }
    let band = m.div_ceil(blocks.clamp(1, m));
    let run = |(index, c_band): (usize, &mut [f32])| {
        let first = index * band;
        let rows = c_band.len() / n;
        // op(A)'s band starts at row `first`: `first * k` elements in when
        // A is stored as is, `first` when it is stored transposed.
        let a_band = if a_trans {
            &a[first..]
        } else {
            &a[first * k..]
        };
        // SAFETY: `a_band` holds op(A)'s rows `first..first + rows` under
        // the strides `product` derives from `a_trans` and `m`, because
        // every such row lies inside `a` (asserted above); `b` and `c_band`
        // match their shapes exactly.
        unsafe {
            product(
                rows, k, n, a_band, a_trans, m, b, b_trans, c_band, accumulate,
            )
        };
    };
    if band == m {
        run((0, c));
    } else {
        c.par_chunks_mut(band * n).enumerate().for_each(run);
    }
}

/// One single-threaded product through the `gemm` crate, op(A) being `rows`
/// rows of a matrix whose full height is `m` (its stride when transposed).
///
/// # Safety
/// `a` must hold op(A)'s `rows x k` elements under those strides, `b` the
/// `k x n` of op(B), and `c` exactly `rows x n`.
#[allow(clippy::too_many_arguments)]
unsafe fn product(
    rows: usize,
    k: usize,
    n: usize,
    a: &[f32],
    a_trans: bool,
    m: usize,
    b: &[f32],
    b_trans: bool,
    c: &mut [f32],
    accumulate: bool,
) {
    // Row and column strides of op(A) and op(B), in elements.
    let (a_rs, a_cs) = if a_trans {
        (1, m as isize)
    } else {
        (k as isize, 1)
    };
    let (b_rs, b_cs) = if b_trans {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    debug_assert!(c.len() == rows * n && b.len() == k * n);
    // SAFETY: the caller guarantees that every index the strides reach lies
    // inside its slice; `c` is borrowed mutably so it cannot alias `a` or
    // `b`. `gemm::Parallelism::None`: one product is one thread's work, so
    // its bits never depend on the pool.
    unsafe {
        gemm::gemm(
            rows,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_util::fill;

    fn naive(m: usize, k: usize, n: usize, a: &[f32], at: bool, b: &[f32], bt: bool) -> Vec<f64> {
        let mut c = vec![0.0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0f64;
                for p in 0..k {
                    let x = if at { a[p * m + i] } else { a[i * k + p] };
                    let y = if bt { b[j * k + p] } else { b[p * n + j] };
                    s += x as f64 * y as f64;
                }
                c[i * n + j] = s;
            }
        }
        c
    }

    #[test]
    fn matches_naive_for_all_transposes_and_accumulate() {
        let shapes = [(1, 7, 5), (3, 4, 1), (13, 17, 11), (64, 40, 10), (5, 1, 9)];
        for (si, &(m, k, n)) in shapes.iter().enumerate() {
            for at in [false, true] {
                for bt in [false, true] {
                    let a = fill(m * k, si as u64 * 4 + 1);
                    let b = fill(k * n, si as u64 * 4 + 2);
                    let want = naive(m, k, n, &a, at, &b, bt);
                    let mut c = vec![f32::NAN; m * n];
                    gemm(m, k, n, &a, at, &b, bt, &mut c, false);
                    for (x, y) in c.iter().zip(&want) {
                        assert!((*x as f64 - y).abs() < 1e-4, "{m}x{k}x{n} {at} {bt}");
                    }
                    let base = fill(m * n, 99);
                    let mut c = base.clone();
                    gemm(m, k, n, &a, at, &b, bt, &mut c, true);
                    for ((x, y), z) in c.iter().zip(&want).zip(&base) {
                        assert!((*x as f64 - y - *z as f64).abs() < 1e-4);
                    }
                }
            }
        }
    }

    #[test]
    fn row_blocks_match_naive_and_do_not_depend_on_threads() {
        let (m, k, n) = (37, 19, 23);
        for at in [false, true] {
            for bt in [false, true] {
                let a = fill(m * k, 7);
                let b = fill(k * n, 8);
                let want = naive(m, k, n, &a, at, &b, bt);
                for blocks in [1, 2, 3, 5, 64] {
                    let run = || {
                        let mut c = fill(m * n, 9);
                        gemm_in_row_blocks(m, k, n, &a, at, &b, bt, &mut c, false, blocks);
                        c
                    };
                    let c = run();
                    for (x, y) in c.iter().zip(&want) {
                        assert!((*x as f64 - y).abs() < 1e-4, "{blocks} blocks {at} {bt}");
                    }
                    let two = rayon::ThreadPoolBuilder::new()
                        .num_threads(2)
                        .build()
                        .unwrap()
                        .install(run);
                    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&c), bits(&two), "{blocks} blocks {at} {bt}");
                }
            }
        }
    }

    #[test]
    fn empty_inner_dimension_zeroes_or_keeps() {
        let mut c = vec![3.0f32; 6];
        gemm(2, 0, 3, &[], false, &[], false, &mut c, true);
        assert_eq!(c, vec![3.0; 6]);
        gemm(2, 0, 3, &[], false, &[], false, &mut c, false);
        assert_eq!(c, vec![0.0; 6]);
    }
}
