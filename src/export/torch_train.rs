//! A `train` block as a PyTorch program: `train.py` (the template
//! `torch_train.py` with the block's settings filled in) and
//! `data.safetensors`, the rows `dl` prepared for it, so that both train on
//! exactly the same samples (every source, transform and seeded split
//! included).

use crate::data::{InputSpec, Loaded, Part, Targets};
use crate::ir::{Activation, Batch, Graph, Layer, Loss, Metric, Op, Optimizer, TrainRun};
use safetensors::tensor::{Dtype, TensorView};

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

/// The bytes of `data.safetensors`: `x_train`, `y_train` and, when the data
/// has them, `x_val`, `y_val`, `x_test`, `y_test`; inputs as the model takes
/// them (`[rows] + sample shape`, text one-hot), class ids as int64, values
/// as float32 `[rows, 1]`.
pub fn data_bytes(data: &Loaded) -> Result<Vec<u8>, safetensors::SafeTensorError> {
    let mut tensors: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, part) in [
        ("train", Some(&data.train)),
        ("val", data.val.as_ref()),
        ("test", data.test.as_ref()),
    ] {
        let Some(part) = part else { continue };
        tensors.push(inputs(name, data, part));
        tensors.push(targets(name, part));
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
