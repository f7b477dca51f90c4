//! Applying a data set's transforms.
//!
//! Transforms are applied left to right, but in two passes so that nothing
//! from the validation or test rows can leak into `standardize`:
//!
//! 1. **Rows.** `shuffle` and `split` only decide which source rows go to
//!    which part and in what order. They are replayed first, on row indices,
//!    so the final training rows are known before any value changes.
//! 2. **Values.** `scale`, `standardize` and `reshape` then run in program
//!    order on all rows; `standardize` takes its statistics from the training
//!    rows (as decided in pass 1) only, wherever it is written.
//!
//! Because the row transforms never change values and the value transforms
//! treat every row alike (given the statistics), this gives the same result
//! as running the pipeline literally, except that `standardize` before
//! `split` does not see the rows that end up in validation or test.
//!
//! # `split(train, val, test, seed, shuffle)`
//!
//! With `n` rows (in their current order), `test = round(n × test)` and
//! `val = round(n × val)` rows (`f64::round`, halves away from zero; `val` is
//! reduced if both together exceed `n`); `train` is `round(n × train)` capped
//! at what is left, or all the rest when `train` is not given. Unless
//! `shuffle = false`, the rows are first shuffled with the seed. The training
//! part is then the first rows, the validation part the next ones and the
//! test part the **last** ones (so a chronological split tests on the most
//! recent data); rows left between validation and test when the fractions sum
//! to less than 1 are dropped. A validation (test) part exists when its
//! fraction is above 0, even if it rounds to no rows.
//!
//! On `mnist` only `val` may be given; it is carved out of the 60,000
//! training rows and the source's test part is kept as it is.
//!
//! # `shuffle(seed)`
//!
//! Before a `split` it reorders the rows to be split (for `mnist`, the
//! training rows). After a `split` it reorders each part: train, then val,
//! then test, drawing from one generator in that order.

use super::error::{DataError, ErrorKind};
use super::{Loaded, Part, Source, SourceKind, Targets, shuffle};
use crate::ir::Transform;
use ndarray::{Array2, Axis};

/// Which rows go where, as indices into the source's rows (test indices
/// point into the source's own test part when it has one).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Plan {
    /// Training rows (before a split: all rows to be split).
    pub train: Vec<usize>,
    /// Validation rows.
    pub val: Option<Vec<usize>>,
    /// Test rows.
    pub test: Option<Vec<usize>>,
    /// Whether `test` indexes the source's own test part.
    pub fixed_test: bool,
    /// Whether a split has happened.
    pub split: bool,
}

impl Plan {
    /// The plan before any transform: every row is training data.
    pub fn new(rows: usize, fixed_test: Option<usize>) -> Plan {
        Plan {
            train: (0..rows).collect(),
            val: None,
            test: fixed_test.map(|n| (0..n).collect()),
            fixed_test: fixed_test.is_some(),
            split: false,
        }
    }

    /// Replays one row transform; value transforms are ignored.
    pub fn step(&mut self, transform: &Transform) -> Result<(), DataError> {
        match transform {
            Transform::Shuffle { seed } => {
                let mut r = crate::seed::data(*seed, crate::seed::SHUFFLE);
                shuffle(&mut r, &mut self.train);
                if self.split {
                    if let Some(val) = &mut self.val {
                        shuffle(&mut r, val);
                    }
                    if let Some(test) = &mut self.test {
                        shuffle(&mut r, test);
                    }
                }
                Ok(())
            }
            Transform::Split {
                train,
                val,
                test,
                seed,
                shuffle: mix,
            } => self.split(*train, *val, *test, *seed, *mix),
            Transform::Standardize | Transform::Scale(_) | Transform::Reshape(_) => Ok(()),
        }
    }

    fn split(
        &mut self,
        train: Option<f64>,
        val: f64,
        test: f64,
        seed: u64,
        mix: bool,
    ) -> Result<(), DataError> {
        if self.split {
            return Err(bad("`split` is given twice; a data set is split once"));
        }
        for (name, f) in [
            ("train", train.unwrap_or(0.0)),
            ("val", val),
            ("test", test),
        ] {
            if !(0.0..=1.0).contains(&f) {
                return Err(bad(format!(
                    "split: {name} = {f} is not a fraction between 0 and 1"
                )));
            }
        }
        if train.unwrap_or(0.0) + val + test > 1.0 + 1e-9 {
            return Err(bad("split: the fractions add up to more than 1"));
        }
        if self.fixed_test && (train.is_some() || test > 0.0) {
            return Err(bad(
                "split: this source already has its test part; only `val` can be split off",
            ));
        }
        let mut rows = std::mem::take(&mut self.train);
        if mix {
            shuffle(&mut crate::seed::data(seed, crate::seed::SPLIT), &mut rows);
        }
        let n = rows.len();
        let count = |f: f64| ((n as f64 * f).round() as usize).min(n);
        let n_test = count(test);
        let n_val = count(val).min(n - n_test);
        let rest = n - n_test - n_val;
        let n_train = train.map_or(rest, |f| count(f).min(rest));
        self.val = (val > 0.0).then(|| rows[n_train..n_train + n_val].to_vec());
        if !self.fixed_test {
            self.test = (test > 0.0).then(|| rows[n - n_test..].to_vec());
        }
        rows.truncate(n_train);
        self.train = rows;
        self.split = true;
        Ok(())
    }
}

fn bad(message: impl Into<String>) -> DataError {
    DataError::new(ErrorKind::BadArgument, message)
}

/// The statistics one `standardize` took from the training rows: `(x -
/// mean) / std` per feature (one value of each for a series, which is
/// standardized as a whole, targets included).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Standardization {
    /// Mean of each feature.
    pub mean: Vec<f64>,
    /// Population standard deviation of each feature (divisor `n`), or 1
    /// for a constant one.
    pub std: Vec<f64>,
}

/// Computes mean and standard deviation of each column over `rows` of `x`.
///
/// A constant column (all of these rows equal) gets its value as the mean and
/// a standard deviation of 1, so it standardizes to exactly 0 instead of
/// dividing by zero.
pub(crate) fn stats(x: &Array2<f32>, rows: &[usize]) -> Standardization {
    let f = x.ncols();
    let n = rows.len() as f64;
    let mut mean = vec![0.0f64; f];
    let mut first = vec![0.0f32; f];
    let mut constant = vec![true; f];
    if let Some(&r0) = rows.first() {
        first.iter_mut().zip(x.row(r0)).for_each(|(a, &b)| *a = b);
    }
    for &r in rows {
        for (j, &v) in x.row(r).iter().enumerate() {
            mean[j] += f64::from(v);
            constant[j] &= v == first[j];
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0.0f64; f];
    for &r in rows {
        for (j, &v) in x.row(r).iter().enumerate() {
            let d = f64::from(v) - mean[j];
            var[j] += d * d;
        }
    }
    let mut std = Vec::with_capacity(f);
    for j in 0..f {
        if constant[j] {
            mean[j] = f64::from(first[j]);
            std.push(1.0);
        } else {
            std.push((var[j] / n).sqrt());
        }
    }
    Standardization { mean, std }
}

/// `x = (x - mean) / std`, column by column.
pub(crate) fn standardize(x: &mut Array2<f32>, stats: &Standardization) {
    for mut row in x.rows_mut() {
        for ((v, m), s) in row.iter_mut().zip(&stats.mean).zip(&stats.std) {
            *v = ((f64::from(*v) - m) / s) as f32;
        }
    }
}

/// `standardize` on a series: one mean and standard deviation over every
/// value of the training windows (inputs and targets alike, since they are
/// the same series), applied to all inputs and targets; returns them.
fn standardize_series(x: &mut Array2<f32>, y: &mut Targets, train: &[usize]) -> Standardization {
    let target = |r: usize| match &*y {
        Targets::Values(targets) => Some(targets[[r, 0]]),
        _ => None,
    };
    let values: Vec<f64> = train
        .iter()
        .flat_map(|&r| x.row(r).to_vec().into_iter().chain(target(r)))
        .map(f64::from)
        .collect();
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let std = if var > 0.0 { var.sqrt() } else { 1.0 };
    let scale = |v: &mut f32| *v = ((f64::from(*v) - mean) / std) as f32;
    x.iter_mut().for_each(scale);
    if let Targets::Values(targets) = y {
        targets.iter_mut().for_each(scale);
    }
    Standardization {
        mean: vec![mean],
        std: vec![std],
    }
}

/// The new per-sample shape for `reshape(dims)` (one `-1` is inferred).
pub(crate) fn reshape(current: &[usize], dims: &[i64]) -> Result<Vec<usize>, DataError> {
    let elements: usize = current.iter().product();
    let shown = |d: &[i64]| d.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    let current_text = current
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let wildcards = dims.iter().filter(|&&d| d == -1).count();
    if wildcards > 1 || dims.iter().any(|&d| d < 1 && d != -1) {
        return Err(bad(format!(
            "reshape([{}]): sizes must be positive, with at most one -1",
            shown(dims)
        )));
    }
    let known = dims
        .iter()
        .filter(|&&d| d != -1)
        .try_fold(1usize, |a, &d| a.checked_mul(d as usize));
    let mismatch = || {
        bad(format!(
            "reshape([{}]) does not fit samples of shape [{current_text}] ({elements} elements)",
            shown(dims)
        ))
    };
    let known = known.ok_or_else(mismatch)?;
    let mut out: Vec<usize> = dims.iter().map(|&d| d.max(0) as usize).collect();
    if wildcards == 1 {
        if known == 0 || !elements.is_multiple_of(known) {
            return Err(mismatch());
        }
        let i = dims.iter().position(|&d| d == -1).expect("one -1");
        out[i] = elements / known;
    } else if known != elements {
        return Err(mismatch());
    }
    Ok(out)
}

/// The rows `idx` of `x` and `y`.
fn gather(x: &Array2<f32>, y: &Targets, idx: &[usize]) -> Part {
    Part {
        x: x.select(Axis(0), idx),
        y: y.select(idx),
    }
}

/// The rows `idx` (distinct) of `x`, in that order, moved within `x`'s own
/// buffer: the training part is most of the data, and a copy of it next to
/// the source would double the memory a large data set needs while loading.
pub(super) fn take_rows(x: Array2<f32>, idx: &[usize]) -> Array2<f32> {
    let (n, width) = x.dim();
    let x = if x.is_standard_layout() {
        x
    } else {
        x.as_standard_layout().into_owned()
    };
    let (mut data, offset) = x.into_raw_vec_and_offset();
    data.drain(..offset.unwrap_or(0));
    // `at[p]`: the source row now at position `p`; `position[r]`: where
    // source row `r` is now.
    let mut at: Vec<usize> = (0..n).collect();
    let mut position = at.clone();
    for (i, &row) in idx.iter().enumerate() {
        let p = position[row];
        if p != i {
            let (head, tail) = data.split_at_mut(p * width);
            head[i * width..(i + 1) * width].swap_with_slice(&mut tail[..width]);
            let displaced = at[i];
            at.swap(i, p);
            position[row] = i;
            position[displaced] = p;
        }
    }
    data.truncate(idx.len() * width);
    Array2::from_shape_vec((idx.len(), width), data).expect("rows of the source's width")
}

fn is_identity(idx: &[usize], n: usize) -> bool {
    idx.len() == n && idx.iter().enumerate().all(|(i, &r)| i == r)
}

/// Runs `transforms` on what a source read.
pub(crate) fn apply(source: Source, transforms: &[Transform]) -> Result<Loaded, DataError> {
    let Source {
        mut x,
        mut y,
        mut test,
        mut sample_shape,
        classes,
        feature_names,
        kind,
    } = source;
    // Pass 1: rows.
    let mut plan = Plan::new(x.nrows(), test.as_ref().map(Part::rows));
    for t in transforms {
        plan.step(t)?;
    }
    // Pass 2: values, in program order.
    let raw_shape = sample_shape.clone();
    let mut fitted = Vec::new();
    for t in transforms {
        if let (
            SourceKind::Text { .. },
            Transform::Scale(_) | Transform::Standardize | Transform::Reshape(_),
        ) = (&kind, t)
        {
            return Err(bad(
                "`text` data is one-hot characters: `scale`, `standardize` and `reshape` do not apply to it",
            ));
        }
        match t {
            Transform::Scale(k) => {
                if !k.is_finite() {
                    return Err(bad(format!("scale({k}): the factor must be finite")));
                }
                let k = *k as f32;
                x.mapv_inplace(|v| v * k);
                if let Some(test) = &mut test {
                    test.x.mapv_inplace(|v| v * k);
                }
            }
            Transform::Standardize => {
                if plan.train.is_empty() {
                    return Err(bad(
                        "standardize needs at least one training row to compute its statistics",
                    ));
                }
                if kind == SourceKind::Series {
                    fitted.push(standardize_series(&mut x, &mut y, &plan.train));
                    continue;
                }
                let stats = stats(&x, &plan.train);
                standardize(&mut x, &stats);
                if let Some(test) = &mut test {
                    standardize(&mut test.x, &stats);
                }
                fitted.push(stats);
            }
            Transform::Reshape(dims) => sample_shape = reshape(&sample_shape, dims)?,
            Transform::Shuffle { .. } | Transform::Split { .. } => {}
        }
    }
    // Pass 3: gather the parts (moving the matrix when nothing reorders it).
    let n = x.nrows();
    let source_rows = super::SourceRows {
        train: plan.train.clone(),
        val: plan.val.clone(),
        test: plan.test.clone(),
    };
    let val = plan.val.as_ref().map(|idx| gather(&x, &y, idx));
    let test = match (plan.fixed_test, test, &plan.test) {
        (true, Some(part), Some(idx)) if is_identity(idx, part.rows()) => Some(part),
        (true, Some(part), Some(idx)) => Some(part.select(idx)),
        (false, _, Some(idx)) => Some(gather(&x, &y, idx)),
        _ => None,
    };
    let train = if is_identity(&plan.train, n) {
        Part { x, y }
    } else {
        Part {
            y: y.select(&plan.train),
            x: take_rows(x, &plan.train),
        }
    };
    Ok(Loaded {
        train,
        val,
        test,
        sample_shape,
        classes,
        feature_names,
        kind,
        raw_shape,
        standardize: fitted,
        source_rows,
    })
}
