//! `dl predict`: a trained model on new samples.

use super::{Exit, Session};
use clap::Args;
use dl::data::{InputSpec, SourceKind};
use dl::interp::ParamStore;
use dl::ir::{Graph, Transform};
use dl::train::checkpoint;
use dl::train::predict::{Predictions, predict};
use std::path::{Path, PathBuf};

/// The options of `dl predict`.
#[derive(Args)]
pub struct PredictOptions {
    /// The weights (a .safetensors checkpoint written by `dl train`).
    #[arg(long, value_name = "W")]
    pub weights: PathBuf,
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
}

/// The model to predict with and how its inputs are read.
struct Predictor {
    /// What the predictions are made with, for the summary.
    title: String,
    graph: Graph,
    store: ParamStore,
    spec: InputSpec,
    transforms: Vec<Transform>,
}

/// Runs `dl predict`.
pub fn run(session: &Session, options: &PredictOptions) -> Result<(), Exit> {
    let checked = session.check()?;
    let mut predictor = match &options.model {
        Some(name) => model_alone(session, &checked, name)?,
        None => train_block(session, &checked, options)?,
    };
    checkpoint::load(&mut predictor.store, &options.weights).map_err(|e| {
        eprintln!("error: cannot use the weights: {e}");
        Exit::Program
    })?;
    let paths: Vec<&Path> = options.inputs.iter().map(PathBuf::as_path).collect();
    let input = dl::data::read_input(
        &paths,
        &predictor.spec,
        &predictor.transforms,
        options.resize,
    )
    .map_err(|e| {
        eprintln!("error: {e}");
        if let Some(help) = e.help().filter(|h| !e.to_string().contains(h)) {
            eprintln!("  help: {help}");
        }
        Exit::Usage
    })?;
    let predictions = predict(&predictor.graph, &predictor.store, &input, &predictor.spec)
        .map_err(|e| {
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

/// The model and data transforms of a `train` block; the input spec from
/// the checkpoint, or (for weights saved before checkpoints held it) from
/// the training data itself.
fn train_block(
    session: &Session,
    checked: &dl::check::Checked,
    options: &PredictOptions,
) -> Result<Predictor, Exit> {
    let program = &checked.program;
    let index = session.run_index(program, options.run.unwrap_or(1))?;
    let spec = checkpoint::input_spec(&options.weights).map_err(|e| {
        eprintln!("error: cannot use the weights: {e}");
        Exit::Program
    })?;
    let (run, graph, spec) = match spec {
        Some(spec) => {
            let shape = dl::run::shape_for(&spec.sample_shape, spec.classes);
            let (run, graph) = dl::run::bind_shape(checked, index, shape).map_err(|errors| {
                session.report(&errors);
                Exit::Program
            })?;
            (run, graph, spec)
        }
        None => {
            eprintln!(
                "note: {} holds no input statistics (it was saved by an older `dl`); \
                 reading them from the training data",
                options.weights.display()
            );
            let prepared = session.prepare(checked, index)?;
            (prepared.run, prepared.graph, prepared.data.input_spec())
        }
    };
    if let SourceKind::Text { .. } = spec.kind {
        eprintln!("error: a model of `text` data predicts characters; use `dl sample`");
        return Err(Exit::Usage);
    }
    let transforms = program
        .data
        .iter()
        .find(|d| d.name == run.data)
        .map(|d| d.transforms.clone())
        .unwrap_or_default();
    let store = ParamStore::init(&graph, run.seed);
    Ok(Predictor {
        title: format!("{} (run {}, data `{}`)", run.model, index + 1, run.data),
        graph,
        store,
        spec,
        transforms,
    })
}

/// A model of the program on its own: its declared input shape must be
/// concrete; its inputs are taken as they are.
fn model_alone(
    session: &Session,
    checked: &dl::check::Checked,
    name: &str,
) -> Result<Predictor, Exit> {
    let models = &checked.program.models;
    let Some(model) = models.iter().find(|m| m.name == name && !m.is_cell) else {
        let names: Vec<&str> = models
            .iter()
            .filter(|m| !m.is_cell)
            .map(|m| m.name.as_str())
            .collect();
        eprintln!(
            "error: {} has no model `{name}`; its models are: {}",
            session.file.display(),
            names.join(", ")
        );
        return Err(Exit::Usage);
    };
    let graph = model.graph.clone();
    let input = graph
        .nodes
        .iter()
        .find(|n| matches!(n.op, dl::ir::Op::Input))
        .and_then(|n| n.shape.known_dims());
    let Some(dims) = input else {
        eprintln!(
            "error: the input shape of `{name}` is not concrete, so its samples cannot be read; \
             use --run with a `train` block of it"
        );
        return Err(Exit::Usage);
    };
    let mut spec = InputSpec::of_shape(&dims);
    if ends_in_class_scores(&graph) {
        let width = graph.nodes[graph.output]
            .shape
            .known_dims()
            .unwrap_or_default();
        spec.classes = Some(width.last().copied().unwrap_or(1).max(2));
    }
    let store = ParamStore::init(&graph, 0);
    Ok(Predictor {
        title: format!("{name} (on its own)"),
        graph,
        store,
        spec,
        transforms: Vec::new(),
    })
}

/// Whether a model's last layer is a softmax or a sigmoid: its outputs are
/// then class scores.
fn ends_in_class_scores(graph: &Graph) -> bool {
    use dl::ir::{Activation, Layer, Op};
    matches!(
        graph.nodes[graph.output].op,
        Op::Layer(Layer::Softmax { .. } | Layer::Activation(Activation::Sigmoid))
    )
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
