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
    gemm_in_bands(m, k, n, a, a_trans, b, b_trans, c, accumulate, 1);
}

/// Products of at least this many multiply-adds are cut into bands by
/// [`bands_for`]: about 40 microseconds of work. NOTE: measured on the MLP
/// benchmarks at 2 threads; a quarter of this made the smaller products of a
/// step pay more in waking the other thread than they saved.
const BANDED_PRODUCT_WORK: usize = 1 << 22;

/// The number of bands [`gemm_in_bands`] should cut an `m x k` by `k x n`
/// product into so that it keeps 2-4 threads busy: a function of the
/// size alone, so that results never depend on the thread count.
pub fn bands_for(m: usize, k: usize, n: usize) -> usize {
    if m * k * n >= BANDED_PRODUCT_WORK {
        4
    } else {
        1
    }
}

/// [`gemm`] with `C` cut into `bands` bands of equal size (the last one
/// smaller), computed in parallel on the rayon pool.
///
/// The bands run across the rows of `C` or across its columns, whichever
/// makes the operand every band packs again the smaller one (bands of rows
/// each pack all of `B`, bands of columns all of `A`).
///
/// NOTE: the bands depend on the shape and `bands` alone, never on the
/// thread count, and each band is an independent product, so the result is
/// bit-identical however many threads run it. This is how one large product
/// (a convolution over the whole batch) uses every core.
///
/// # Panics
/// As [`gemm`].
#[allow(clippy::too_many_arguments)]
pub fn gemm_in_bands(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    a_trans: bool,
    b: &[f32],
    b_trans: bool,
    c: &mut [f32],
    accumulate: bool,
    bands: usize,
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
    let a = Operand::new(a, a_trans, m, k);
    let b = Operand::new(b, b_trans, k, n);
    let out = Out {
        ptr: c.as_mut_ptr(),
        rs: n,
    };
    let along_rows = m * k >= k * n;
    let extent = if along_rows { m } else { n };
    let band = extent.div_ceil(bands.clamp(1, extent));
    let run = |index: usize| {
        let (first, size) = (index * band, band.min(extent - index * band));
        // SAFETY: band `index` covers rows (or columns) `first..first +
        // size` of C, which lie inside it, and the bands are disjoint, so no
        // two calls write the same element; A and B are only read.
        unsafe {
            if along_rows {
                product(
                    size,
                    k,
                    n,
                    a.rows_from(first),
                    b,
                    out.offset(first * n),
                    accumulate,
                );
            } else {
                product(
                    m,
                    k,
                    size,
                    a,
                    b.cols_from(first),
                    out.offset(first),
                    accumulate,
                );
            }
        }
    };
    let count = extent.div_ceil(band);
    if count == 1 {
        run(0);
    } else {
        (0..count).into_par_iter().for_each(run);
    }
}

/// A read-only matrix operand, `op(X)` of `rows x cols`, as a pointer and
/// strides into a slice the caller keeps borrowed.
#[derive(Clone, Copy)]
struct Operand {
    ptr: *const f32,
    rs: isize,
    cs: isize,
}

// SAFETY: an operand is only read, from a slice borrowed for the whole call.
unsafe impl Send for Operand {}
unsafe impl Sync for Operand {}

impl Operand {
    /// `op(X)` of `rows x cols` from `x`, which holds it row-major, or its
    /// transpose row-major when `trans`.
    fn new(x: &[f32], trans: bool, rows: usize, cols: usize) -> Operand {
        let (rs, cs) = if trans {
            (1, rows as isize)
        } else {
            (cols as isize, 1)
        };
        Operand {
            ptr: x.as_ptr(),
            rs,
            cs,
        }
    }

    /// The operand from row `first` on.
    fn rows_from(self, first: usize) -> Operand {
        Operand {
            ptr: self.ptr.wrapping_offset(first as isize * self.rs),
            ..self
        }
    }

    /// The operand from column `first` on.
    fn cols_from(self, first: usize) -> Operand {
        Operand {
            ptr: self.ptr.wrapping_offset(first as isize * self.cs),
            ..self
        }
    }
}

/// The row-major output `C`, as a pointer and its row stride.
#[derive(Clone, Copy)]
struct Out {
    ptr: *mut f32,
    rs: usize,
}

// SAFETY: the bands of one call write disjoint elements (see
// `gemm_in_bands`), from a slice borrowed mutably for the whole call.
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
    fn offset(self, elements: usize) -> Out {
        Out {
            ptr: self.ptr.wrapping_add(elements),
            ..self
        }
    }
}

/// One single-threaded product `C (+)= op(A) · op(B)` of `m x k` by `k x n`
/// through the `gemm` crate.
///
/// # Safety
/// Every element the strides reach (`m x k` of A, `k x n` of B, `m x n` of
/// C) must lie inside its allocation, and no other thread may touch those
/// elements of C during the call.
unsafe fn product(m: usize, k: usize, n: usize, a: Operand, b: Operand, c: Out, accumulate: bool) {
    // SAFETY: as the caller guarantees. `gemm::Parallelism::None`: one
    // product is one thread's work, so its bits never depend on the pool.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.ptr,
            1,
            c.rs as isize,
            accumulate,
            a.ptr,
            a.cs,
            a.rs,
            b.ptr,
            b.cs,
            b.rs,
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
    fn bands_match_naive_and_do_not_depend_on_threads() {
        // Tall (bands of rows) and wide (bands of columns).
        for (m, k, n) in [(37, 19, 23), (11, 19, 41)] {
            for at in [false, true] {
                for bt in [false, true] {
                    let a = fill(m * k, 7);
                    let b = fill(k * n, 8);
                    let want = naive(m, k, n, &a, at, &b, bt);
                    for blocks in [1, 2, 3, 5, 64] {
                        let run = || {
                            let mut c = fill(m * n, 9);
                            gemm_in_bands(m, k, n, &a, at, &b, bt, &mut c, false, blocks);
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
