//! A `train` block as a PyTorch program: `train.py` (the template
//! `torch_train.py` with the block's settings filled in) and
//! `data.safetensors`. For a CSV or MNIST source, `train.py` reads the
//! file itself and applies the value transforms (with the `standardize`
//! statistics `dl` took from the training rows), and `data.safetensors`
//! holds the source rows of each part, as `dl`'s seeded `shuffle` and
//! `split` chose them; for the other sources (series windows, text,
//! synthetic rows) it holds the rows `dl` prepared.

use crate::data::{InputSpec, Loaded, Part, Targets};
use crate::ir::{
    Activation, Batch, DataSet, Graph, Layer, Loss, Metric, Op, Optimizer, Source, TrainRun,
    Transform,
};
use safetensors::tensor::{Dtype, TensorView};
use std::path::Path;

/// The program `train.py` runs.
const TEMPLATE: &str = include_str!("torch_train.py");

/// What `train.py` is told about the run.
pub struct RunInfo<'a> {
    /// The checked block.
    pub run: &'a TrainRun,
    /// Its number, counting from 1.
    pub number: usize,
    /// The program's file name.
    pub origin: &'a str,
    /// The model bound to the data.
    pub graph: &'a Graph,
    /// What the model's inputs look like (the checkpoint metadata).
    pub spec: &'a InputSpec,
    /// The run's data set, as declared.
    pub data: &'a DataSet,
    /// What `dl` read of it.
    pub loaded: &'a Loaded,
    /// The folder data paths are relative to.
    pub base_dir: &'a Path,
}

/// The source of `train.py` for the run; `None` when its optimizer is one
/// of `dl`'s closed-form ones, which PyTorch has no counterpart for.
pub fn script(info: &RunInfo) -> Option<String> {
    let run = info.run;
    let optimizer = match &run.optimizer {
        Optimizer::Sgd { lr, momentum } => {
            serde_json::json!({"name": "sgd", "lr": lr, "momentum": momentum})
        }
        Optimizer::Adam { lr, betas } => {
            serde_json::json!({"name": "adam", "lr": lr, "betas": [betas.0, betas.1]})
        }
        Optimizer::RmsProp { lr, alpha } => {
            serde_json::json!({"name": "rmsprop", "lr": lr, "alpha": alpha})
        }
        Optimizer::LeastSquares { .. } | Optimizer::Exhaustive { .. } => return None,
    };
    let output = run
        .save
        .as_deref()
        .and_then(|s| std::path::Path::new(s).file_name())
        .map_or_else(
            || format!("{}.safetensors", run.model),
            |n| n.to_string_lossy().into_owned(),
        );
    let settings = serde_json::json!({
        "title": format!("run {} of {}: {} on `{}`", info.number, info.origin, run.model, run.data),
        "loss": loss_name(run.loss),
        "optimizer": optimizer,
        "epochs": run.epochs,
        "batch": match run.batch { Batch::Size(n) => Some(n), Batch::Full => None },
        "seed": run.seed,
        "clip": run.clip,
        "metrics": run.metrics.iter().map(|m| metric_name(*m)).collect::<Vec<_>>(),
        "classes": info.spec.classes,
        "final": final_activation(info.graph),
        "output": output,
        "dl_input": serde_json::to_string(info.spec).expect("an input spec is plain data"),
        "source": read_here(info),
        "transforms": value_transforms(info),
        "sample_shape": info.loaded.sample_shape,
    });
    let settings = serde_json::to_string_pretty(&settings).expect("plain data");
    let title = format!(
        "Run {} of {}: {} on `{}`, exported by dl {} to PyTorch.",
        info.number,
        info.origin,
        run.model,
        run.data,
        env!("CARGO_PKG_VERSION")
    );
    Some(
        TEMPLATE
            .replace("__TITLE__", &title)
            .replace("__MODEL__", &run.model)
            .replace("__SETTINGS__", &settings),
    )
}

/// The source `train.py` reads itself (a CSV file, an MNIST folder), or
/// `null` when it takes the rows `dl` prepared.
fn read_here(info: &RunInfo) -> serde_json::Value {
    let absolute = |p: &str| {
        let path = info.base_dir.join(p);
        std::path::absolute(&path)
            .unwrap_or(path)
            .display()
            .to_string()
    };
    match &info.data.source {
        Source::Csv {
            path,
            column,
            label,
            ..
        } => serde_json::json!({
            "kind": "csv",
            "path": absolute(path),
            "features": info.loaded.feature_names,
            "target": column,
            "label": label,
        }),
        Source::Mnist { dir } => serde_json::json!({"kind": "mnist", "path": absolute(dir)}),
        _ => serde_json::Value::Null,
    }
}

/// The value transforms in program order: `{"scale": k}`, or
/// `{"mean": [..], "std": [..]}` for each `standardize` with the statistics
/// `dl` took from the training rows (`reshape` is the final sample shape).
fn value_transforms(info: &RunInfo) -> Vec<serde_json::Value> {
    let mut stats = info.loaded.standardize.iter();
    info.data
        .transforms
        .iter()
        .filter_map(|t| match t {
            Transform::Scale(k) => Some(serde_json::json!({"scale": k})),
            Transform::Standardize => stats
                .next()
                .map(|s| serde_json::json!({"mean": s.mean, "std": s.std})),
            _ => None,
        })
        .collect()
}

/// `softmax` or `sigmoid` when the model ends in one, for its logits.
fn final_activation(graph: &Graph) -> Option<&'static str> {
    match graph.nodes[graph.output].op {
        Op::Layer(Layer::Softmax { .. }) => Some("softmax"),
        Op::Layer(Layer::Activation(Activation::Sigmoid)) => Some("sigmoid"),
        _ => None,
    }
}

fn loss_name(loss: Loss) -> &'static str {
    match loss {
        Loss::Mse => "mse",
        Loss::HalfMse => "half_mse",
        Loss::Mae => "mae",
        Loss::Bce => "bce",
        Loss::CrossEntropy => "cross_entropy",
    }
}

fn metric_name(metric: Metric) -> &'static str {
    match metric {
        Metric::Accuracy => "accuracy",
        Metric::Precision => "precision",
        Metric::Recall => "recall",
        Metric::F1 => "f1",
        Metric::Mae => "mae",
        Metric::Mse => "mse",
        Metric::Rmse => "rmse",
        Metric::Mape => "mape",
    }
}

/// The bytes of `data.safetensors`. For a source `train.py` reads itself:
/// `rows_train` and, when the data has them, `rows_val`, `rows_test` (int64
/// source rows). Otherwise `x_train`, `y_train`, `x_val`, ...: inputs as the
/// model takes them (`[rows] + sample shape`, text one-hot), class ids as
/// int64, values as float32 `[rows, 1]`.
pub fn data_bytes(set: &DataSet, data: &Loaded) -> Result<Vec<u8>, safetensors::SafeTensorError> {
    let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    if matches!(set.source, Source::Csv { .. } | Source::Mnist { .. }) {
        let rows = &data.source_rows;
        for (name, part) in [
            ("train", Some(&rows.train)),
            ("val", rows.val.as_ref()),
            ("test", rows.test.as_ref()),
        ] {
            let Some(part) = part else { continue };
            let bytes = part
                .iter()
                .flat_map(|&r| (r as i64).to_le_bytes())
                .collect();
            tensors.push((format!("rows_{name}"), Dtype::I64, vec![part.len()], bytes));
        }
    } else {
        for (name, part) in [
            ("train", Some(&data.train)),
            ("val", data.val.as_ref()),
            ("test", data.test.as_ref()),
        ] {
            let Some(part) = part else { continue };
            tensors.push(inputs(name, data, part));
            tensors.push(targets(name, part));
        }
    }
    let views = tensors
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes).map(|v| (name.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()?;
    safetensors::tensor::serialize(views, None)
}

fn inputs(name: &str, data: &Loaded, part: &Part) -> (String, Dtype, Vec<usize>, Vec<u8>) {
    let x = data.input(part);
    let bytes = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    (format!("x_{name}"), Dtype::F32, x.shape().to_vec(), bytes)
}

fn targets(name: &str, part: &Part) -> (String, Dtype, Vec<usize>, Vec<u8>) {
    let name = format!("y_{name}");
    let ids = |ids: &mut dyn Iterator<Item = u32>| -> Vec<u8> {
        ids.flat_map(|c| i64::from(c).to_le_bytes()).collect()
    };
    match &part.y {
        Targets::Classes(c) => (name, Dtype::I64, vec![c.len()], ids(&mut c.iter().copied())),
        Targets::Sequences(s) => (
            name,
            Dtype::I64,
            s.shape().to_vec(),
            ids(&mut s.iter().copied()),
        ),
        Targets::Values(v) => (
            name,
            Dtype::F32,
            v.shape().to_vec(),
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
    }
}
