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
//! a stream of [`crate::seed`]: `ChaCha8Rng` keyed with the seed and a
//! separate ChaCha stream per purpose, so that the same
//! seed gives independent sequences for, say, a split and a shuffle. Index
//! shuffles are a Fisher–Yates shuffle drawing from `next_u64` with Lemire's
//! unbiased bounded sampling, and normal variates use Box–Muller, all written
//! here rather than taken from `rand`'s distributions (whose values may change
//! between `rand` releases): results are the same on every platform and for
//! every version of the dependencies that keeps the ChaCha8 stream.

mod batch;
mod csv;
mod error;
pub(crate) mod idx;
mod input;
pub mod npy;
mod synthetic;
mod text;
mod transform;

pub use batch::{Batches, batch_size, epoch};
pub use error::{Column, DataError, ErrorKind};
pub use input::{InputFormat, InputSpec, read_input};
pub use transform::Standardization;

use crate::ir;
use ndarray::{Array2, Axis};
use rand::Rng;
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
    /// What the source is, for its model input and its baseline.
    pub kind: SourceKind,
    /// The per-sample shape the source reads, before any `reshape`.
    pub raw_shape: Vec<usize>,
    /// The statistics of each `standardize` of the data set, in order,
    /// taken from the training rows.
    pub standardize: Vec<Standardization>,
    /// Which of the source's rows each part holds, in order (the test part's
    /// index the source's own test rows when it has them, as `mnist` does).
    pub source_rows: SourceRows,
}

/// The source rows of each part of a [`Loaded`] data set, as its `shuffle`
/// and `split` chose them.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceRows {
    /// The training part's rows.
    pub train: Vec<usize>,
    /// The validation part's rows.
    pub val: Option<Vec<usize>>,
    /// The test part's rows.
    pub test: Option<Vec<usize>>,
}

/// The kinds of source whose rows need more than the generic treatment.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// Rows are the samples' input values, as they are.
    Plain,
    /// `series`: windows of one series; the baseline is persistence (the
    /// next value is the window's last value).
    Series,
    /// `text`: rows hold character ids, one-hot encoded as the model's input;
    /// the baseline is predicting the training part's character frequencies.
    Text {
        /// The characters, in id order (sorted).
        vocabulary: Vec<char>,
    },
}

/// What a trivial predictor scores on a part, to set a model's score against.
#[derive(Clone, Debug, PartialEq)]
pub struct Baseline {
    /// The predictor, e.g. `"persistence"`.
    pub name: &'static str,
    /// What is measured, e.g. `"rmse"` or `"loss"`.
    pub measure: &'static str,
    /// The score.
    pub value: f64,
}

impl Loaded {
    /// What new samples must look like for a model trained on this data,
    /// and how to transform them as its own samples were.
    pub fn input_spec(&self) -> InputSpec {
        InputSpec {
            raw_shape: self.raw_shape.clone(),
            sample_shape: self.sample_shape.clone(),
            classes: self.classes,
            feature_names: self.feature_names.clone(),
            standardize: self.standardize.clone(),
            kind: self.kind.clone(),
        }
    }

    /// The bytes its parts hold: inputs, targets and the source rows they
    /// came from.
    pub fn bytes(&self) -> u64 {
        let part = |p: &Part| {
            let targets = match &p.y {
                Targets::Classes(ids) => ids.len(),
                Targets::Values(v) => v.len(),
                Targets::Sequences(ids) => ids.len(),
            };
            ((p.x.len() + targets) * 4) as u64
        };
        let rows = &self.source_rows;
        let indices = [Some(&rows.train), rows.val.as_ref(), rows.test.as_ref()]
            .into_iter()
            .flatten()
            .map(Vec::len)
            .sum::<usize>();
        [Some(&self.train), self.val.as_ref(), self.test.as_ref()]
            .into_iter()
            .flatten()
            .map(part)
            .sum::<u64>()
            + (indices * std::mem::size_of::<usize>()) as u64
    }

    /// The part called `name` (`"train"`, `"val"` or `"test"`), if present.
    pub fn part(&self, name: &str) -> Option<&Part> {
        match name {
            "train" => Some(&self.train),
            "val" => self.val.as_ref(),
            "test" => self.test.as_ref(),
            _ => None,
        }
    }

    /// The model's input for the rows of `part`: `[rows] + sample_shape`,
    /// with character ids one-hot encoded for `text`.
    pub fn input(&self, part: &Part) -> ndarray::ArrayD<f32> {
        let mut shape = vec![part.rows()];
        shape.extend_from_slice(&self.sample_shape);
        match &self.kind {
            SourceKind::Text { vocabulary } => text::one_hot(&part.x, vocabulary.len()),
            _ => part
                .x
                .clone()
                .into_dyn()
                .into_shape_with_order(ndarray::IxDyn(&shape))
                .expect("rows hold one sample each"),
        }
    }

    /// The trivial predictor's score on `part`: persistence RMSE for a
    /// series, the cross-entropy of the training part's character
    /// frequencies for text; `None` for other sources.
    pub fn baseline(&self, part: &Part) -> Option<Baseline> {
        match (&self.kind, &part.y) {
            (SourceKind::Series, Targets::Values(y)) if part.rows() > 0 => {
                let last = part.x.ncols().checked_sub(1)?;
                let sum: f64 = part
                    .x
                    .column(last)
                    .iter()
                    .zip(y.iter())
                    .map(|(&p, &t)| (f64::from(p) - f64::from(t)).powi(2))
                    .sum();
                Some(Baseline {
                    name: "persistence",
                    measure: "rmse",
                    value: (sum / part.rows() as f64).sqrt(),
                })
            }
            (SourceKind::Text { vocabulary }, Targets::Sequences(ids)) if !ids.is_empty() => {
                let Targets::Sequences(train) = &self.train.y else {
                    return None;
                };
                Some(Baseline {
                    name: "character frequencies",
                    measure: "loss",
                    value: text::frequency_loss(train, ids, vocabulary.len()),
                })
            }
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
    /// Class ids per position, `rows × T` (the next character of `text`).
    Sequences(Array2<u32>),
}

impl Targets {
    /// The number of samples.
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes(c) => c.len(),
            Targets::Values(v) => v.nrows(),
            Targets::Sequences(s) => s.nrows(),
        }
    }

    /// Every class id, in row-major order (one per sample, or one per
    /// position of each sample); `None` for real values.
    pub fn class_ids(&self) -> Option<Vec<u32>> {
        match self {
            Targets::Classes(c) => Some(c.clone()),
            Targets::Sequences(s) => Some(s.iter().copied().collect()),
            Targets::Values(_) => None,
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
            Targets::Sequences(s) => Targets::Sequences(s.select(Axis(0), rows)),
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
/// `horizon` steps after the window as the target; `standardize` on it uses
/// one mean and deviation for the whole series and applies them to the
/// targets too. `text(path, seq)` gives non-overlapping windows of `seq`
/// characters (inputs `[seq, V]` one-hot) with the next character at each
/// position as targets; it takes no value transforms.
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
        ir::Source::Text { path, seq } => text::read(&base_dir.join(path), *seq)?,
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
    /// What the source is.
    pub kind: SourceKind,
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
