//! The generated sources `synthetic.linear` and `synthetic.blobs`.
//!
//! Both draw from the seeded generator described in the [module
//! docs](super), in a fixed order, so the same arguments always give the same
//! numbers. Values are computed in `f64` and stored as `f32`.

use super::error::{DataError, ErrorKind};
use super::{Source, SourceKind, Targets, normal, uniform};
use ndarray::Array2;

fn positive(source: &str, name: &str, value: i64) -> Result<usize, DataError> {
    usize::try_from(value)
        .ok()
        .filter(|&v| v >= 1)
        .ok_or_else(|| {
            DataError::new(
                ErrorKind::BadArgument,
                format!("{source}: {name} = {value} must be a positive integer"),
            )
        })
}

/// `synthetic.linear(n, features, noise, seed)`: a linear regression problem.
///
/// Drawn in this order: for each feature a weight of size `0.5 + 2.5 u` and
/// random sign (`u ~ U(0, 1)`, then the sign from a second uniform draw), so
/// every feature has a clearly visible slope; the bias `b ~ N(0, 1)`, then for each row its inputs `x[j] ~ U(-√3, √3)` (mean 0, variance 1, as after
/// `standardize`) and one
/// `e ~ N(0, 1)`; the target is `y = x · w + b + noise · e`. The noise draw
/// happens even when `noise = 0`, so changing `noise` changes only `y`.
pub(crate) fn linear(n: i64, features: i64, noise: f64, seed: u64) -> Result<Source, DataError> {
    let n = positive("synthetic.linear", "n", n)?;
    let f = positive("synthetic.linear", "features", features)?;
    if !noise.is_finite() || noise < 0.0 {
        return Err(DataError::new(
            ErrorKind::BadArgument,
            format!("synthetic.linear: noise = {noise} must be a non-negative number"),
        ));
    }
    let mut r = crate::seed::data(seed, crate::seed::LINEAR);
    let w: Vec<f64> = (0..f)
        .map(|_| {
            let size = 0.5 + 2.5 * uniform(&mut r);
            if uniform(&mut r) < 0.5 { -size } else { size }
        })
        .collect();
    let b = normal(&mut r);
    let mut x = Vec::with_capacity(n * f);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let mut dot = b;
        for wj in &w {
            let xj = (3f64.sqrt() * (2.0 * uniform(&mut r) - 1.0)) as f32;
            dot += f64::from(xj) * wj;
            x.push(xj);
        }
        y.push((dot + noise * normal(&mut r)) as f32);
    }
    Ok(Source {
        x: Array2::from_shape_vec((n, f), x).expect("linear: n x features"),
        y: Targets::Values(Array2::from_shape_vec((n, 1), y).expect("linear: n targets")),
        test: None,
        sample_shape: vec![f],
        classes: None,
        feature_names: (0..f).map(|j| format!("x{j}")).collect(),
        kind: SourceKind::Plain,
    })
}

/// `synthetic.blobs(n, classes, features, seed)`: Gaussian clusters.
///
/// First each class's centre is drawn, `c[k][j] ~ U(-10, 10)` (class by
/// class); then row `i` gets class `i mod classes` (so classes are balanced
/// and any prefix of the rows is too) and inputs `c[k][j] + N(0, 1)`.
pub(crate) fn blobs(n: i64, classes: i64, features: i64, seed: u64) -> Result<Source, DataError> {
    let n = positive("synthetic.blobs", "n", n)?;
    let k = positive("synthetic.blobs", "classes", classes)?;
    let f = positive("synthetic.blobs", "features", features)?;
    if u32::try_from(k).is_err() {
        return Err(DataError::new(
            ErrorKind::BadArgument,
            format!("synthetic.blobs: classes = {k} is too large"),
        ));
    }
    let mut r = crate::seed::data(seed, crate::seed::BLOBS);
    let centres: Vec<f64> = (0..k * f).map(|_| 20.0 * uniform(&mut r) - 10.0).collect();
    let mut x = Vec::with_capacity(n * f);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let class = i % k;
        for j in 0..f {
            x.push((centres[class * f + j] + normal(&mut r)) as f32);
        }
        y.push(class as u32);
    }
    Ok(Source {
        x: Array2::from_shape_vec((n, f), x).expect("blobs: n x features"),
        y: Targets::Classes(y),
        test: None,
        sample_shape: vec![f],
        classes: Some(k),
        feature_names: (0..f).map(|j| format!("x{j}")).collect(),
        kind: SourceKind::Plain,
    })
}
