//! A trained model on new samples (`dl predict`, Keras' `model.predict`):
//! its outputs in evaluation mode and, for a classifier, the predicted
//! class of each sample, written as CSV or `.npy`.

use super::loss;
use crate::autodiff::{Tape, Tensor};
use crate::data::{InputSpec, npy};
use crate::interp::{Mode, ParamStore, RunError, Stepper};
use crate::ir::Graph;
use ndarray::{Array2, Axis};
use std::path::Path;

/// Samples per forward pass.
const PREDICT_BATCH: usize = 1000;

/// What a model predicted for each sample.
#[derive(Clone, Debug)]
pub struct Predictions {
    /// The model's output for each sample, one row each (flattened when a
    /// sample's output has more than one axis): class probabilities for a
    /// classifier, values for a regression (in the series' own units when
    /// the series was standardized).
    pub outputs: Array2<f32>,
    /// For a classifier, the predicted class of each sample.
    pub classes: Option<Vec<u32>>,
}

/// Runs `graph` with the parameters of `store` on `input` (`[samples,
/// ...]`, already transformed), in evaluation mode, in batches. The
/// outputs are classes when `spec` has any.
pub fn predict(
    graph: &Graph,
    store: &ParamStore,
    input: &Tensor,
    spec: &InputSpec,
) -> Result<Predictions, RunError> {
    let samples = input.shape().first().copied().unwrap_or(0);
    let mut rows: Vec<f32> = Vec::new();
    let mut classes = spec.classes.map(|_| Vec::with_capacity(samples));
    let mut width = 0;
    for start in (0..samples).step_by(PREDICT_BATCH) {
        let end = (start + PREDICT_BATCH).min(samples);
        let chunk = input.slice_axis(Axis(0), (start..end).into()).to_owned();
        let mut tape = Tape::inference();
        let mut stepper = Stepper::new(graph, store, chunk, &mut tape, Mode::Eval, 0);
        let output = stepper.run(&mut tape)?;
        let value = tape.value(output);
        width = value.len() / (end - start).max(1);
        if let Some(classes) = &mut classes {
            classes.extend(loss::predicted_classes(graph, value));
        }
        rows.extend(value.iter().map(|&v| spec.unstandardize_target(v)));
    }
    let outputs = Array2::from_shape_vec((samples, width), rows).expect("one row per sample");
    Ok(Predictions { outputs, classes })
}

/// `v` as Python's `repr` writes a float: the shortest text that reads back
/// as the same `f32`, in exponent form when very small or very large.
fn number(v: f32) -> String {
    if v == 0.0 || (1e-4..1e16).contains(&v.abs()) || !v.is_finite() {
        v.to_string()
    } else {
        format!("{v:e}")
    }
}

impl Predictions {
    /// The CSV column names: `predicted` and `p_0`, `p_1`, ... (one per
    /// class; `p_1` alone for a single sigmoid output) for a classifier,
    /// `prediction` (or `prediction_0`, ...) for a regression.
    pub fn columns(&self) -> Vec<String> {
        let width = self.outputs.ncols();
        match &self.classes {
            Some(_) if width == 1 => vec!["predicted".into(), "p_1".into()],
            Some(_) => std::iter::once("predicted".to_string())
                .chain((0..width).map(|k| format!("p_{k}")))
                .collect(),
            None if width == 1 => vec!["prediction".into()],
            None => (0..width).map(|k| format!("prediction_{k}")).collect(),
        }
    }

    /// The predictions as CSV text, a header row then one row per sample.
    pub fn to_csv(&self) -> String {
        let mut out = self.columns().join(",");
        out.push('\n');
        for (i, row) in self.outputs.rows().into_iter().enumerate() {
            let mut cells: Vec<String> = Vec::with_capacity(row.len() + 1);
            if let Some(classes) = &self.classes {
                cells.push(classes[i].to_string());
            }
            cells.extend(row.iter().map(|&v| number(v)));
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }

    /// Writes the predictions to `path`: CSV, or for a `.npy` name the
    /// outputs array (`[samples, width]`, `f32`). Atomic like a checkpoint:
    /// a temporary file in the same folder renamed over `path`, so a failure
    /// leaves no partial file.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let npy = path.extension().is_some_and(|e| e == "npy");
        let bytes = if npy {
            let shape = [self.outputs.nrows(), self.outputs.ncols()];
            let values: Vec<f32> = self.outputs.iter().copied().collect();
            npy::to_bytes(&shape, &values)
        } else {
            self.to_csv().into_bytes()
        };
        super::checkpoint::write_atomically(path, &bytes)
    }
}
