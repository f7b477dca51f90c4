//! The `text` source: character sequences for next-character prediction.

use super::error::{DataError, ErrorKind};
use super::{Source, SourceKind, Targets};
use ndarray::{Array2, ArrayD, IxDyn};
use std::path::Path;

/// `text(path, seq = T)`: the file's characters cut into non-overlapping
/// windows of `T`; sample `i` has the characters `s[iT .. iT + T]` as inputs
/// and, at each position, the character after it as the target. The
/// vocabulary is the file's distinct characters, sorted; rows of `x` hold
/// character ids, which [`one_hot`] turns into the model's `[T, V]` input.
/// A UTF-8 byte-order mark at the start of the file is not text and is
/// dropped.
pub(crate) fn read(path: &Path, seq: i64) -> Result<Source, DataError> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::open(path, &e))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let chars: Vec<char> = text.chars().collect();
    let mut vocabulary = chars.clone();
    vocabulary.sort_unstable();
    vocabulary.dedup();
    let t = usize::try_from(seq).unwrap_or(0);
    if t == 0 || chars.len() < t + 1 {
        return Err(DataError::new(
            ErrorKind::BadArgument,
            format!(
                "the text has {} characters, too few for sequences of seq = {seq} (needs at least {})",
                chars.len(),
                seq.max(1) + 1
            ),
        )
        .at(path));
    }
    let id = |c: &char| vocabulary.binary_search(c).expect("in the vocabulary") as u32;
    let ids: Vec<u32> = chars.iter().map(id).collect();
    let n = (ids.len() - 1) / t;
    let mut x = Vec::with_capacity(n * t);
    let mut y = Vec::with_capacity(n * t);
    for i in 0..n {
        x.extend(ids[i * t..(i + 1) * t].iter().map(|&c| c as f32));
        y.extend_from_slice(&ids[i * t + 1..(i + 1) * t + 1]);
    }
    let v = vocabulary.len();
    Ok(Source {
        x: Array2::from_shape_vec((n, t), x).expect("n windows of t ids"),
        y: Targets::Sequences(Array2::from_shape_vec((n, t), y).expect("n windows of t ids")),
        test: None,
        sample_shape: vec![t, v],
        classes: Some(v),
        feature_names: (0..t).map(|k| format!("char[{k}]")).collect(),
        kind: SourceKind::Text { vocabulary },
    })
}

/// Character ids (`[rows, T]`) as one-hot vectors, `[rows, T, vocab]`.
pub(crate) fn one_hot(ids: &Array2<f32>, vocab: usize) -> ArrayD<f32> {
    let (rows, t) = ids.dim();
    let mut out = ArrayD::zeros(IxDyn(&[rows, t, vocab]));
    let flat = out.as_slice_mut().expect("fresh array");
    for (k, &id) in ids.iter().enumerate() {
        flat[k * vocab + (id as usize).min(vocab - 1)] = 1.0;
    }
    out
}

/// The mean cross-entropy on the targets `ids` of predicting every character
/// with its frequency among the `train` targets (add-one smoothed, so a
/// character unseen in training costs a finite amount).
pub(crate) fn frequency_loss(train: &Array2<u32>, ids: &Array2<u32>, vocab: usize) -> f64 {
    let mut counts = vec![1.0f64; vocab];
    for &c in train {
        counts[c as usize] += 1.0;
    }
    let total: f64 = counts.iter().sum();
    let sum: f64 = ids
        .iter()
        .map(|&c| -(counts[c as usize] / total).ln())
        .sum();
    sum / ids.len().max(1) as f64
}
