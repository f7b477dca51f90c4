//! Batch normalisation in two passes forward and two backward, instead of
//! the ten or so full passes (each with a fresh buffer) that composing it
//! from broadcasting ops costs.
//!
//! A tensor `[batch, channels, inner...]` is viewed as `[batch, channels,
//! inner]` (`inner` = 1 for `[batch, features]`): the statistics of channel
//! `c` run over its `batch` planes of `inner` elements. Sums are taken
//! plane by plane in a fixed order and added up in `f64`, so the results
//! are bit-identical for any thread count; channels (for statistics) and
//! planes (for elementwise passes) are what runs in parallel.

use rayon::prelude::*;

use super::{PARALLEL_MIN_WORK, fold_lanes, sum_f32};
use crate::multiversion;

/// The sizes of a normalised tensor, `[batch, channels, inner]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NormGeometry {
    /// Samples.
    pub batch: usize,
    /// Channels (features), each with its own statistics and affine pair.
    pub channels: usize,
    /// Elements per sample and channel (the spatial size; 1 for vectors).
    pub inner: usize,
}

impl NormGeometry {
    /// The geometry of a tensor of `shape` (`[batch, channels, ...]`).
    pub fn of(shape: &[usize]) -> NormGeometry {
        NormGeometry {
            batch: shape[0],
            channels: shape.get(1).copied().unwrap_or(1),
            inner: shape.iter().skip(2).product(),
        }
    }

    /// Elements of the whole tensor.
    pub fn len(&self) -> usize {
        self.batch * self.channels * self.inner
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements each channel's statistics run over.
    pub fn count(&self) -> usize {
        self.batch * self.inner
    }

    fn parallel(&self) -> bool {
        self.len() >= PARALLEL_MIN_WORK
    }

    /// The planes of channel `c` in `x`, sample by sample.
    fn planes<'a>(&self, x: &'a [f32], c: usize) -> impl Iterator<Item = &'a [f32]> {
        let (stride, inner) = (self.channels * self.inner, self.inner);
        (0..self.batch).map(move |n| &x[n * stride + c * inner..][..inner])
    }
}

/// Per-channel values computed in parallel over the channels (in a fixed
/// per-channel order, so the bits do not depend on the threads).
fn per_channel<T: Send>(g: &NormGeometry, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    if g.parallel() {
        (0..g.channels).into_par_iter().map(f).collect()
    } else {
        (0..g.channels).map(f).collect()
    }
}

/// A plane's index with its output plane and two input planes.
type PlaneTriple<'a> = (usize, (&'a mut [f32], (&'a [f32], &'a [f32])));

/// Calls `f(channel, out_plane, a_plane, b_plane)` on every `[inner]`
/// plane of `out` with the same planes of `a` and `b`, in parallel.
fn each_plane(
    g: &NormGeometry,
    out: &mut [f32],
    a: &[f32],
    b: &[f32],
    f: impl Fn(usize, &mut [f32], &[f32], &[f32]) + Sync + Send,
) {
    let (channels, inner) = (g.channels, g.inner);
    let job = |(i, (o, (a, b))): PlaneTriple<'_>| f(i % channels, o, a, b);
    if g.parallel() {
        out.par_chunks_mut(inner)
            .zip(a.par_chunks(inner).zip(b.par_chunks(inner)))
            .enumerate()
            .for_each(job);
    } else {
        out.chunks_mut(inner)
            .zip(a.chunks(inner).zip(b.chunks(inner)))
            .enumerate()
            .for_each(job);
    }
}

/// The mean and the biased variance of each channel of `x` (two passes:
/// the mean first, then the squared deviations from it, which keeps the
/// variance accurate when the mean is large).
///
/// # Panics
/// When `x` does not hold `g.len()` elements.
pub fn batch_statistics(g: &NormGeometry, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
    assert_eq!(x.len(), g.len(), "batchnorm: input length");
    let count = g.count().max(1) as f64;
    per_channel(g, |c| {
        let sum: f64 = g.planes(x, c).map(|p| f64::from(sum_f32(p))).sum();
        let mean = (sum / count) as f32;
        let squares: f64 = g
            .planes(x, c)
            .map(|p| f64::from(sum_squared_deviations(p, mean)))
            .sum();
        (mean, (squares / count) as f32)
    })
    .into_iter()
    .unzip()
}

/// `1 / sqrt(var + eps)` per channel.
pub fn inverse_std(var: &[f32], eps: f32) -> Vec<f32> {
    var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect()
}

/// `y = (x - mean) * inv_std * gamma + beta`, per channel.
///
/// # Panics
/// When a slice's length does not match `g`.
pub fn batch_norm_forward(
    g: &NormGeometry,
    x: &[f32],
    mean: &[f32],
    inv_std: &[f32],
    gamma: &[f32],
    beta: &[f32],
    y: &mut [f32],
) {
    assert_eq!(x.len(), g.len(), "batchnorm: input length");
    assert_eq!(y.len(), g.len(), "batchnorm: output length");
    for v in [mean, inv_std, gamma, beta] {
        assert_eq!(v.len(), g.channels, "batchnorm: per-channel length");
    }
    if g.is_empty() {
        return;
    }
    each_plane(g, y, x, x, |c, y, x, _| {
        // y = x * scale + shift: one multiply-add per element.
        let scale = inv_std[c] * gamma[c];
        let shift = beta[c] - mean[c] * scale;
        scale_shift(y, x, scale, shift);
    });
}

/// What [`batch_norm_backward`] computes: each gradient is optional and
/// accumulated (`+=`).
pub struct NormGrads<'a> {
    /// The gradient of the input.
    pub input: Option<&'a mut [f32]>,
    /// The gradient of the scale `gamma`.
    pub gamma: Option<&'a mut [f32]>,
    /// The gradient of the shift `beta`.
    pub beta: Option<&'a mut [f32]>,
}

/// The gradients of [`batch_norm_forward`], given the output gradient `dy`.
///
/// With `batch_stats`, `mean` and `inv_std` are the batch's own statistics
/// and so functions of `x` (training mode):
/// `dx = gamma * inv_std * (dy - mean(dy) - x_hat * mean(dy * x_hat))`,
/// with `x_hat = (x - mean) * inv_std` and the means over the channel.
/// Without, they are constants (running statistics): `dx = gamma * inv_std
/// * dy`. Either way `dgamma = sum(dy * x_hat)` and `dbeta = sum(dy)`.
///
/// # Panics
/// When a slice's length does not match `g`.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward(
    g: &NormGeometry,
    x: &[f32],
    mean: &[f32],
    inv_std: &[f32],
    gamma: &[f32],
    dy: &[f32],
    batch_stats: bool,
    grads: NormGrads<'_>,
) {
    assert_eq!(x.len(), g.len(), "batchnorm: input length");
    assert_eq!(dy.len(), g.len(), "batchnorm: output gradient length");
    for v in [mean, inv_std, gamma] {
        assert_eq!(v.len(), g.channels, "batchnorm: per-channel length");
    }
    if g.is_empty() {
        return;
    }
    let need_sums = grads.gamma.is_some() || grads.beta.is_some() || batch_stats;
    // Per channel: sum(dy) and sum(dy * (x - mean)).
    let sums: Vec<(f64, f64)> = if need_sums {
        per_channel(g, |c| {
            g.planes(dy, c)
                .zip(g.planes(x, c))
                .map(|(d, x)| {
                    let (s, sx) = sum_and_centred_product(d, x, mean[c]);
                    (f64::from(s), f64::from(sx))
                })
                .fold((0.0, 0.0), |(a, b), (s, sx)| (a + s, b + sx))
        })
    } else {
        Vec::new()
    };
    if let Some(dbeta) = grads.beta {
        for (d, (s, _)) in dbeta.iter_mut().zip(&sums) {
            *d += *s as f32;
        }
    }
    if let Some(dgamma) = grads.gamma {
        for ((d, (_, sx)), inv) in dgamma.iter_mut().zip(&sums).zip(inv_std) {
            *d += (*sx * f64::from(*inv)) as f32;
        }
    }
    let Some(dx) = grads.input else {
        return;
    };
    assert_eq!(dx.len(), g.len(), "batchnorm: input gradient length");
    let count = g.count().max(1) as f64;
    // dx += dy * a + x * b + shift, per channel.
    let coefficients: Vec<(f32, f32, f32)> = (0..g.channels)
        .map(|c| {
            let k = f64::from(gamma[c]) * f64::from(inv_std[c]);
            if !batch_stats {
                return (k as f32, 0.0, 0.0);
            }
            let (s, sx) = sums[c];
            let inv = f64::from(inv_std[c]);
            let b = -k * inv * inv * sx / count;
            let shift = -k * s / count - f64::from(mean[c]) * b;
            (k as f32, b as f32, shift as f32)
        })
        .collect();
    each_plane(g, dx, dy, x, |c, dx, dy, x| {
        let (a, b, shift) = coefficients[c];
        add_input_gradient(dx, dy, x, a, b, shift);
    });
}

multiversion! {
    /// `y = x * scale + shift`.
    fn scale_shift(y: &mut [f32], x: &[f32], scale: f32, shift: f32) {
        for (y, x) in y.iter_mut().zip(x) {
            *y = x * scale + shift;
        }
    }
}

multiversion! {
    /// `dx += dy * a + (x * b + shift)`.
    fn add_input_gradient(dx: &mut [f32], dy: &[f32], x: &[f32], a: f32, b: f32, shift: f32) {
        for ((dx, dy), x) in dx.iter_mut().zip(dy).zip(x) {
            *dx += dy * a + (x * b + shift);
        }
    }
}

multiversion! {
    /// `sum((x - mean)^2)` of one plane, with eight interleaved accumulators
    /// combined in a fixed order, like [`sum_f32`].
    fn sum_squared_deviations(x: &[f32], mean: f32) -> f32 {
        let mut acc = [0.0f32; 8];
        let chunks = x.chunks_exact(8);
        let rest = chunks.remainder();
        for c in chunks {
            for (a, v) in acc.iter_mut().zip(c) {
                let d = v - mean;
                *a += d * d;
            }
        }
        let mut s = fold_lanes(acc);
        for v in rest {
            let d = v - mean;
            s += d * d;
        }
        s
    }
}

multiversion! {
    /// `(sum(d), sum(d * (x - mean)))` of one plane, eight lanes at a time.
    fn sum_and_centred_product(d: &[f32], x: &[f32], mean: f32) -> (f32, f32) {
        let (mut s, mut sx) = ([0.0f32; 8], [0.0f32; 8]);
        let (dc, xc) = (d.chunks_exact(8), x.chunks_exact(8));
        let (d_rest, x_rest) = (dc.remainder(), xc.remainder());
        for (d, x) in dc.zip(xc) {
            for i in 0..8 {
                s[i] += d[i];
                sx[i] += d[i] * (x[i] - mean);
            }
        }
        let (mut s, mut sx) = (fold_lanes(s), fold_lanes(sx));
        for (d, x) in d_rest.iter().zip(x_rest) {
            s += d;
            sx += d * (x - mean);
        }
        (s, sx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::simd::{self, Level};
    use crate::kernels::test_util::{assert_close, fill};

    /// (mean, biased variance) per channel, in f64.
    fn naive_stats(g: &NormGeometry, x: &[f32]) -> Vec<(f64, f64)> {
        (0..g.channels)
            .map(|c| {
                let v: Vec<f64> = g.planes(x, c).flatten().map(|&v| f64::from(v)).collect();
                let mean = v.iter().sum::<f64>() / v.len() as f64;
                let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
                (mean, var)
            })
            .collect()
    }

    /// `L = sum(r * batchnorm(x))` in f64, with batch or given statistics.
    fn loss(
        g: &NormGeometry,
        x: &[f64],
        gamma: &[f64],
        beta: &[f64],
        r: &[f32],
        given: Option<&[(f64, f64)]>,
    ) -> f64 {
        let stats = match given {
            Some(s) => s.to_vec(),
            None => (0..g.channels)
                .map(|c| {
                    let idx: Vec<usize> = (0..g.batch)
                        .flat_map(|n| (0..g.inner).map(move |i| (n * g.channels + c) * g.inner + i))
                        .collect();
                    let mean = idx.iter().map(|&i| x[i]).sum::<f64>() / idx.len() as f64;
                    let var =
                        idx.iter().map(|&i| (x[i] - mean).powi(2)).sum::<f64>() / idx.len() as f64;
                    (mean, var)
                })
                .collect(),
        };
        x.iter()
            .enumerate()
            .map(|(i, &v)| {
                let c = (i / g.inner) % g.channels;
                let (m, var) = stats[c];
                let y = (v - m) / (var + 1e-5).sqrt() * gamma[c] + beta[c];
                y * f64::from(r[i])
            })
            .sum()
    }

    const GEOMETRIES: [NormGeometry; 3] = [
        NormGeometry {
            batch: 3,
            channels: 2,
            inner: 5,
        },
        NormGeometry {
            batch: 4,
            channels: 3,
            inner: 1,
        },
        NormGeometry {
            batch: 2,
            channels: 4,
            inner: 19,
        },
    ];

    #[test]
    fn statistics_and_forward_match_naive() {
        for (k, g) in GEOMETRIES.iter().enumerate() {
            let x: Vec<f32> = fill(g.len(), k as u64 + 1)
                .iter()
                .map(|v| v * 3.0 + 5.0)
                .collect();
            let (mean, var) = batch_statistics(g, &x);
            let want = naive_stats(g, &x);
            assert_close(
                &mean,
                &want.iter().map(|s| s.0).collect::<Vec<_>>(),
                1e-5,
                "mean",
            );
            assert_close(
                &var,
                &want.iter().map(|s| s.1).collect::<Vec<_>>(),
                1e-5,
                "variance",
            );
            let (gamma, beta) = (fill(g.channels, 7), fill(g.channels, 8));
            let inv = inverse_std(&var, 1e-5);
            let mut y = vec![f32::NAN; g.len()];
            batch_norm_forward(g, &x, &mean, &inv, &gamma, &beta, &mut y);
            let want: Vec<f64> = x
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let c = (i / g.inner) % g.channels;
                    let (m, var) = want[c];
                    (f64::from(v) - m) / (var + 1e-5).sqrt() * f64::from(gamma[c])
                        + f64::from(beta[c])
                })
                .collect();
            assert_close(&y, &want, 1e-4, "output");
        }
    }

    #[test]
    fn backward_matches_finite_differences_and_accumulates() {
        for (k, g) in GEOMETRIES.iter().enumerate() {
            let x = fill(g.len(), 10 + k as u64);
            let (gamma, beta) = (
                fill(g.channels, 20 + k as u64),
                fill(g.channels, 30 + k as u64),
            );
            let r = fill(g.len(), 40 + k as u64);
            let f64s = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<_>>();
            let (xd, gd, bd) = (f64s(&x), f64s(&gamma), f64s(&beta));
            let running: Vec<(f64, f64)> = (0..g.channels)
                .map(|c| (0.1 * c as f64, 0.5 + c as f64))
                .collect();
            for given in [None, Some(running.as_slice())] {
                let numeric = |v: &[f64], f: &dyn Fn(&[f64]) -> f64| -> Vec<f64> {
                    (0..v.len())
                        .map(|i| {
                            let (mut hi, mut lo) = (v.to_vec(), v.to_vec());
                            hi[i] += 1e-6;
                            lo[i] -= 1e-6;
                            (f(&hi) - f(&lo)) / 2e-6
                        })
                        .collect()
                };
                let nx = numeric(&xd, &|x| loss(g, x, &gd, &bd, &r, given));
                let ng = numeric(&gd, &|gm| loss(g, &xd, gm, &bd, &r, given));
                let nb = numeric(&bd, &|bt| loss(g, &xd, &gd, bt, &r, given));
                let (mean, var) = match given {
                    None => batch_statistics(g, &x),
                    Some(s) => s.iter().map(|&(m, v)| (m as f32, v as f32)).unzip(),
                };
                let inv = inverse_std(&var, 1e-5);
                let (mut dx, mut dg, mut db) = (
                    vec![1.0; g.len()],
                    vec![2.0; g.channels],
                    vec![3.0; g.channels],
                );
                let grads = NormGrads {
                    input: Some(&mut dx),
                    gamma: Some(&mut dg),
                    beta: Some(&mut db),
                };
                batch_norm_backward(g, &x, &mean, &inv, &gamma, &r, given.is_none(), grads);
                let plus = |v: Vec<f64>, k: f64| v.into_iter().map(|v| v + k).collect::<Vec<_>>();
                assert_close(
                    &dx,
                    &plus(nx, 1.0),
                    1e-3,
                    &format!("{g:?} {} dx", given.is_some()),
                );
                assert_close(&dg, &plus(ng, 2.0), 1e-3, &format!("{g:?} dgamma"));
                assert_close(&db, &plus(nb, 3.0), 1e-3, &format!("{g:?} dbeta"));
            }
        }
    }

    #[test]
    fn results_are_bit_identical_for_any_thread_count() {
        let g = NormGeometry {
            batch: 7,
            channels: 33,
            inner: 301,
        };
        assert!(g.parallel());
        let (x, dy) = (fill(g.len(), 1), fill(g.len(), 2));
        let (gamma, beta) = (fill(g.channels, 3), fill(g.channels, 4));
        let run = || {
            let (mean, var) = batch_statistics(&g, &x);
            let inv = inverse_std(&var, 1e-5);
            let mut y = vec![0.0; g.len()];
            batch_norm_forward(&g, &x, &mean, &inv, &gamma, &beta, &mut y);
            let (mut dx, mut dg, mut db) = (
                vec![0.0; g.len()],
                vec![0.0; g.channels],
                vec![0.0; g.channels],
            );
            let grads = NormGrads {
                input: Some(&mut dx),
                gamma: Some(&mut dg),
                beta: Some(&mut db),
            };
            batch_norm_backward(&g, &x, &mean, &inv, &gamma, &dy, true, grads);
            [mean, var, y, dx, dg, db].map(|v| v.iter().map(|f| f.to_bits()).collect::<Vec<u32>>())
        };
        let in_pool = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(run)
        };
        let one = in_pool(1);
        assert_eq!(one, in_pool(2));
        assert_eq!(one, in_pool(3));
        for level in Level::ALL.into_iter().filter(|&l| l <= Level::detected()) {
            simd::force(Some(level));
            let at_level = run();
            simd::force(None);
            assert_eq!(one, at_level, "{level:?}");
        }
    }
}
