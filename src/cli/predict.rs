//! `dl predict`: a trained model on new samples.

use super::model::Choice;
use super::{Exit, Session};
use clap::Args;
use dl::data::{InputSpec, SourceKind};
use dl::ir::Transform;
use dl::train::predict::{Predictions, predict};
use std::path::{Path, PathBuf};

/// The options of `dl predict`.
#[derive(Args)]
pub struct PredictOptions {
    /// The weights (a .safetensors checkpoint written by `dl train`); without, the seeded
    /// initial weights (to compare with an export of the untrained model).
    #[arg(long, value_name = "W")]
    pub weights: Option<PathBuf>,
    /// Use the K-th `train` block's model and data transforms (default: the first).
    #[arg(long, value_name = "K", conflicts_with = "model")]
    pub run: Option<usize>,
    /// Use this model on its own, with no data set: inputs of its declared shape, untransformed.
    #[arg(long, value_name = "M")]
    pub model: Option<String>,
    /// The new samples: CSV files with the training data's feature columns, .npy arrays,
    /// IDX image files, or PNG/JPEG images (one sample each).
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Write the predictions here (CSV, or .npy for the outputs array) instead of to stdout.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Resize images that are not the model's size (bilinear) instead of refusing them.
    #[arg(long)]
    pub resize: bool,
    /// The inputs are model inputs already (the data's transforms are not applied to them),
    /// and the outputs are the model's own (a standardized series' are not mapped back).
    #[arg(long)]
    pub transformed: bool,
}

/// Runs `dl predict`.
pub fn run(session: &Session, options: &PredictOptions) -> Result<(), Exit> {
    let checked = session.check()?;
    let chosen = Choice {
        run: options.run,
        model: options.model.as_deref(),
        weights: options.weights.as_deref(),
    };
    let mut predictor = chosen.select(session, &checked)?;
    if options.weights.is_none() {
        eprintln!("note: no --weights: predicting with the seeded initial weights");
    }
    if let SourceKind::Text { .. } = predictor.spec.kind {
        if !options.transformed {
            eprintln!(
                "error: a model of `text` data predicts characters; use `dl sample` \
                 (or --transformed with one-hot inputs for its raw outputs)"
            );
            return Err(Exit::Usage);
        }
        // Scores per position, not one class per sample.
        predictor.spec.classes = None;
    }
    let transforms: &[Transform] = if options.transformed {
        &[]
    } else {
        &predictor.transforms
    };
    let paths: Vec<&Path> = options.inputs.iter().map(PathBuf::as_path).collect();
    // Transformed inputs give the model's own outputs: a standardized
    // series' predictions are not mapped back to its units either.
    let spec = if options.transformed {
        InputSpec {
            classes: predictor.spec.classes,
            ..InputSpec::of_shape(&predictor.spec.sample_shape)
        }
    } else {
        predictor.spec.clone()
    };
    let input = dl::data::read_input(&paths, &spec, transforms, options.resize).map_err(|e| {
        eprintln!("error: {e}");
        if let Some(help) = e.help().filter(|h| !e.to_string().contains(h)) {
            eprintln!("  help: {help}");
        }
        Exit::Usage
    })?;
    let predictions = predict(&predictor.graph, &predictor.store, &input, &spec).map_err(|e| {
        eprintln!("error: {e}");
        Exit::Program
    })?;
    match &options.output {
        Some(path) => predictions.write(path).map_err(|e| {
            eprintln!("error: cannot write {}: {e}", path.display());
            Exit::Usage
        })?,
        None => print!("{}", predictions.to_csv()),
    }
    summarize(&predictor.title, options, &predictions);
    Ok(())
}

/// What was predicted, on stderr (stdout may be the predictions).
fn summarize(title: &str, options: &PredictOptions, predictions: &Predictions) {
    let samples = predictions.outputs.nrows();
    let inputs: Vec<String> = options
        .inputs
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    eprintln!(
        "predicted {samples} sample{} of {} with {title}",
        if samples == 1 { "" } else { "s" },
        inputs.join(", ")
    );
    if let Some(classes) = &predictions.classes {
        let count = predictions.outputs.ncols().max(2);
        let mut counts = vec![0usize; count];
        for &c in classes {
            if let Some(n) = counts.get_mut(c as usize) {
                *n += 1;
            }
        }
        let shown: Vec<String> = counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        eprintln!("samples per predicted class: {}", shown.join(", "));
    }
    match &options.output {
        Some(path) if path.extension().is_some_and(|e| e == "npy") => eprintln!(
            "wrote {} (the outputs, shape [{samples}, {}])",
            path.display(),
            predictions.outputs.ncols()
        ),
        Some(path) => eprintln!(
            "wrote {} ({samples} rows; columns {})",
            path.display(),
            predictions.columns().join(", ")
        ),
        None => {}
    }
}
