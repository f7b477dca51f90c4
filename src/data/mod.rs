//! Reading the data a program declares: sources, transforms and batches.
//!
//! [`load`] turns a checked [`ir::DataSet`] into numbers: it reads the source
//! (a CSV file, the MNIST IDX files, a series column or generated data),
//! applies the transforms left to right and returns the [`Part`]s
//! (`train`, and `val`/`test` when there are any) as dense `f32` matrices
//! with one row per sample. [`Batches`] then walks a part in (shuffled)
//! mini-batches.
//!
//! # Randomness
//!
//! Everything random (shuffles, splits, batch order, synthetic data) uses
//! `ChaCha8Rng` (crate `rand_chacha`) keyed with `ChaCha8Rng::seed_from_u64(seed)`
//! and a separate ChaCha stream (`set_stream`) per purpose, so that the same
//! seed gives independent sequences for, say, a split and a shuffle. Index
//! shuffles are a Fisher–Yates shuffle drawing from `next_u64` with Lemire's
//! unbiased bounded sampling, and normal variates use Box–Muller, all written
//! here rather than taken from `rand`'s distributions (whose values may change
//! between `rand` releases): results are the same on every platform and for
//! every version of the dependencies that keeps the ChaCha8 stream.

mod batch;
mod csv;
mod error;
mod idx;
mod synthetic;
mod transform;

pub use batch::{Batches, batch_size, epoch};
pub use error::{Column, DataError, ErrorKind};

use crate::ir;
use ndarray::{Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// A data set read and transformed, ready for training.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The training part (all rows when the program has no `split`).
    pub train: Part,
    /// The validation part, when a `split` asked for one (`val > 0`).
    pub val: Option<Part>,
    /// The test part, when a `split` asked for one (`test > 0`), or the
    /// source's own test part (`mnist`).
    pub test: Option<Part>,
    /// The per-sample input shape, without the batch dimension, e.g.
    /// `[1, 28, 28]` or `[30]`. Its product is the number of columns of
    /// every part's `x`.
    pub sample_shape: Vec<usize>,
    /// The number of classes; `None` for regression.
    pub classes: Option<usize>,
    /// The name of each input column (CSV header names; generated names such
    /// as `pixel_3_14`, `x0` or `sunactivity[t-2]` for other sources).
    pub feature_names: Vec<String>,
}

impl Loaded {
    /// The part called `name` (`"train"`, `"val"` or `"test"`), if present.
    pub fn part(&self, name: &str) -> Option<&Part> {
        match name {
            "train" => Some(&self.train),
            "val" => self.val.as_ref(),
            "test" => self.test.as_ref(),
            _ => None,
        }
    }
}

/// Some rows of a data set: inputs and their targets.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// Inputs, one row per sample, each sample flattened in row-major order
    /// of [`Loaded::sample_shape`].
    pub x: Array2<f32>,
    /// Targets, one per row of `x`.
    pub y: Targets,
}

impl Part {
    /// The number of samples.
    pub fn rows(&self) -> usize {
        self.x.nrows()
    }

    /// Whether the part has no samples.
    pub fn is_empty(&self) -> bool {
        self.rows() == 0
    }

    /// A new part holding the given rows, in the given order (a mini-batch).
    ///
    /// # Panics
    /// If an index is out of range.
    pub fn select(&self, rows: &[usize]) -> Part {
        Part {
            x: self.x.select(Axis(0), rows),
            y: self.y.select(rows),
        }
    }
}

/// The targets of a part.
#[derive(Clone, Debug, PartialEq)]
pub enum Targets {
    /// Class ids `0..classes`, one per sample (classification).
    Classes(Vec<u32>),
    /// Real values, `rows × 1` (regression).
    Values(Array2<f32>),
}

impl Targets {
    /// The number of samples.
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes(c) => c.len(),
            Targets::Values(v) => v.nrows(),
        }
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The targets of the given rows, in the given order.
    ///
    /// # Panics
    /// If an index is out of range.
    pub fn select(&self, rows: &[usize]) -> Targets {
        match self {
            Targets::Classes(c) => Targets::Classes(rows.iter().map(|&r| c[r]).collect()),
            Targets::Values(v) => Targets::Values(v.select(Axis(0), rows)),
        }
    }
}

/// Reads the data set `set` and applies its transforms.
///
/// Paths in the source are relative to `base_dir`, the folder of the `.dl`
/// file (an absolute path is used as it is).
///
/// Transforms run left to right, with one exception that keeps held-out data
/// out of the training statistics: `shuffle` and `split` are replayed on row
/// indices first, so `standardize` computes its per-feature mean and standard
/// deviation from the final training rows only, wherever it is written, and
/// then applies them to every part. `scale`, `standardize` and `reshape`
/// keep their program order.
///
/// `split(train, val, test, seed, shuffle)` on `n` rows: `test = round(n ×
/// test)`, `val = round(n × val)` (halves away from zero), `train` = the rest
/// (or `round(n × train)` capped at the rest, when given); rows are shuffled
/// with the seed unless `shuffle = false`; train takes the first rows, val
/// the next, test the last (rows in between are dropped when the fractions
/// sum to less than 1). A part exists when its fraction is above 0. On
/// `mnist` only `val` may be given, carved out of the 60,000 training rows.
/// A `shuffle` before the split reorders the rows to split; after it, each
/// part.
///
/// The `series` source gives windows of shape `[window, 1]` with the value
/// `horizon` steps after the window as the target; `text` is not supported
/// yet and returns [`ErrorKind::Unsupported`].
pub fn load(set: &ir::DataSet, base_dir: &Path) -> Result<Loaded, DataError> {
    let source = match &set.source {
        ir::Source::Csv {
            path,
            column,
            label,
            classes,
        } => csv::read(&base_dir.join(path), column, *label, *classes)?,
        ir::Source::Mnist { dir } => idx::mnist(&base_dir.join(dir))?,
        ir::Source::Series {
            path,
            column,
            window,
            horizon,
        } => csv::series(&base_dir.join(path), column, *window, *horizon)?,
        ir::Source::Text { .. } => {
            return Err(DataError::new(
                ErrorKind::Unsupported,
                format!(
                    "data `{}`: the `text` source is not supported by the data loader yet",
                    set.name
                ),
            ));
        }
        ir::Source::SyntheticLinear {
            n,
            features,
            noise,
            seed,
        } => synthetic::linear(*n, *features, *noise, *seed)?,
        ir::Source::SyntheticBlobs {
            n,
            classes,
            features,
            seed,
        } => synthetic::blobs(*n, *classes, *features, *seed)?,
    };
    transform::apply(source, &set.transforms)
}

/// What a source reads, before any transform.
#[derive(Debug)]
pub(crate) struct Source {
    /// All rows (for `mnist`, the training rows).
    pub x: Array2<f32>,
    /// Their targets.
    pub y: Targets,
    /// A test part that comes with the source (`mnist`).
    pub test: Option<Part>,
    /// Per-sample shape.
    pub sample_shape: Vec<usize>,
    /// Class count, `None` for regression.
    pub classes: Option<usize>,
    /// Column names.
    pub feature_names: Vec<String>,
}

/// ChaCha stream numbers, one per purpose (see the module docs).
pub(crate) mod stream {
    /// `shuffle(seed)`.
    pub const SHUFFLE: u64 = 1 << 56;
    /// `split(seed)`.
    pub const SPLIT: u64 = 2 << 56;
    /// Per-epoch batch order; the epoch number is added.
    pub const BATCH: u64 = 3 << 56;
    /// `synthetic.linear`.
    pub const LINEAR: u64 = 4 << 56;
    /// `synthetic.blobs`.
    pub const BLOBS: u64 = 5 << 56;
}

/// The generator for `seed` and purpose `stream`.
pub(crate) fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// A uniform integer in `0..n` (Lemire's method, unbiased). `n` must be > 0.
pub(crate) fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    let n = n as u64;
    let threshold = n.wrapping_neg() % n;
    loop {
        let m = u128::from(rng.next_u64()) * u128::from(n);
        if (m as u64) >= threshold {
            return (m >> 64) as usize;
        }
    }
}

/// Shuffles `items` in place (Fisher–Yates, from the end).
pub(crate) fn shuffle<T>(rng: &mut ChaCha8Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        let j = below(rng, i + 1);
        items.swap(i, j);
    }
}

/// A uniform float in `[0, 1)` with 53 random bits.
pub(crate) fn uniform(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A standard normal variate (Box–Muller, cosine branch; two uniforms each).
pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - uniform(rng); // in (0, 1]
    let u2 = uniform(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests;
