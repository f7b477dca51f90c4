//! End-to-end training on real data: accuracy floors, bit-for-bit
//! determinism across thread counts, checkpoints, and a seeded log snapshot.

use dl::check::LoadedShape;
use dl::check::dim::Dim;
use dl::check::shape::Shape;
use dl::interp::ParamStore;
use dl::ir::{Metric, Task};
use dl::train::{Evaluation, Event};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Trains run `index` of `source` (paths relative to `base`) for `epochs`
/// epochs; returns the per-epoch training losses and the test evaluation.
fn train(
    source: &str,
    base: &Path,
    index: usize,
    epochs: Option<i64>,
) -> (Vec<f64>, Option<Evaluation>, ParamStore) {
    let (program, diagnostics) = dl::check_source(source);
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
    let program = program.expect("checked");
    let run = &program.trains[index];
    let set = program
        .data
        .iter()
        .find(|d| d.name == run.data)
        .expect("data");
    let loaded = dl::data::load(set, base).expect("data loads");
    let input = Shape::batched_known(
        &loaded
            .sample_shape
            .iter()
            .map(|&d| d as i64)
            .collect::<Vec<_>>(),
    );
    let task = match loaded.classes {
        Some(k) => Task::Classification {
            classes: Some(Dim::known(k as i64)),
        },
        None => Task::Regression,
    };
    let shapes = HashMap::from([(run.data.clone(), LoadedShape { input, task })]);
    let (bound, diagnostics) = dl::check_source_with_data(source, &shapes);
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
    let run = bound.expect("checked").trains[index].clone();
    let graph = run.graph.clone().expect("instantiated for the data");
    let mut store = ParamStore::init(&graph, run.seed);
    let mut losses = Vec::new();
    let mut on_event = |e: Event| {
        if let Event::EpochEnd(summary) = e {
            losses.push(summary.train_loss);
        }
    };
    let test = dl::train::train(
        &run,
        &graph,
        &loaded,
        epochs.unwrap_or(run.epochs),
        &mut store,
        &mut on_event,
    )
    .expect("trains");
    (losses, test, store)
}

fn metric(evaluation: &Evaluation, which: Metric) -> f64 {
    evaluation
        .metrics
        .iter()
        .find(|(m, _)| *m == which)
        .and_then(|(_, r)| r.value)
        .expect("metric reported")
}

fn example(name: &str) -> String {
    std::fs::read_to_string(examples().join(name)).expect("example exists")
}

#[test]
fn logistic_regression_on_breast_cancer_reaches_95_percent() {
    let (losses, test, _) = train(&example("logistic_regression.dl"), &examples(), 0, None);
    assert!(losses.last() < losses.first(), "{losses:?}");
    let accuracy = metric(&test.expect("a test part"), Metric::Accuracy);
    assert!(accuracy >= 0.95, "test accuracy {accuracy}");
}

#[test]
fn mlp_on_digits_reaches_96_percent() {
    let (_, test, _) = train(&example("mlp_digits.dl"), &examples(), 0, None);
    let accuracy = metric(&test.expect("a test part"), Metric::Accuracy);
    assert!(accuracy >= 0.96, "test accuracy {accuracy}");
}

#[test]
fn lenet5_on_mnist_reaches_97_percent_after_one_epoch() {
    let (_, test, _) = train(&example("lenet5_mnist.dl"), &examples(), 0, Some(1));
    let accuracy = metric(&test.expect("the 10,000 test images"), Metric::Accuracy);
    assert!(accuracy >= 0.97, "test accuracy {accuracy}");
}

/// A small convolutional network on the 8x8 digits, so that the parallel
/// convolution kernels are part of the determinism test.
const CONV_DIGITS: &str = r#"
data digits = csv("data/digits.csv", label = "label") | scale(1 / 16) | reshape([1, 8, 8])
            | split(train = 0.8, test = 0.2, seed = 4)
model Small(x: [1, 8, 8]) {
    conv2d(8, kernel = 3, padding = 1) batchnorm relu maxpool(2)
    flatten dropout(0.1) dense(10) softmax
}
train Small on digits { loss = cross_entropy  optimizer = sgd(lr = 0.05, momentum = 0.9)  epochs = 2  batch = 64  seed = 9  metrics = [accuracy] }
"#;

#[test]
fn same_seed_gives_the_same_losses_bit_for_bit_with_1_and_2_threads() {
    let run_with = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool");
        pool.install(|| {
            let (losses, _, store) = train(CONV_DIGITS, &examples(), 0, None);
            (losses, store.values)
        })
    };
    let (one, weights_one) = run_with(1);
    let (two, weights_two) = run_with(2);
    assert_eq!(
        one.iter().map(|l| l.to_bits()).collect::<Vec<_>>(),
        two.iter().map(|l| l.to_bits()).collect::<Vec<_>>()
    );
    assert_eq!(weights_one, weights_two);
}

fn dl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dl"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("dl runs")
}

#[test]
fn seeded_training_log_is_stable() {
    let out = dl(&[
        "train",
        "examples/logistic_regression.dl",
        "--epochs",
        "5",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = String::from_utf8_lossy(&out.stdout);
    // Wall-clock time is the one field that changes from run to run.
    let stable: Vec<String> = log
        .lines()
        .map(|line| {
            let mut v: serde_json::Value =
                serde_json::from_str(line).expect("one JSON object per line");
            if v.get("seconds").is_some() {
                v["seconds"] = serde_json::Value::from("<elapsed>");
            }
            v.to_string()
        })
        .collect();
    insta::with_settings!({snapshot_path => "snapshots/train", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("logistic_regression_5_epochs", stable.join("\n"));
    });
}

#[test]
fn checkpoint_round_trip_through_the_cli() {
    let dir = std::env::temp_dir().join(format!("dl-train-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let data = examples().join("data/digits.csv");
    let program = format!(
        "data digits = csv(\"{}\", label = \"label\") | scale(1 / 16) | split(train = 0.8, test = 0.2, seed = 1)\n\
         model M(x: [64]) {{ dense(32) batchnorm relu dense(10) softmax }}\n\
         train M on digits {{ loss = cross_entropy optimizer = adam(lr = 0.01) epochs = 3 batch = 32 metrics = [accuracy] save = \"ckpt/m.safetensors\" }}\n",
        data.display()
    );
    let file = dir.join("m.dl");
    std::fs::write(&file, program).expect("write program");
    let file = file.to_str().expect("utf-8 path");
    let trained = dl(&["train", file, "--json"]);
    assert_eq!(
        trained.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    let end: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&trained.stdout)
            .lines()
            .last()
            .expect("an end line"),
    )
    .expect("JSON");
    let weights = dir.join("ckpt/m.safetensors");
    assert!(weights.exists());
    let evaluated = dl(&[
        "eval",
        file,
        "--weights",
        weights.to_str().expect("utf-8"),
        "--json",
    ]);
    assert_eq!(
        evaluated.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&evaluated.stderr)
    );
    let eval: serde_json::Value = serde_json::from_slice(&evaluated.stdout).expect("JSON");
    assert_eq!(eval["metrics"]["accuracy"], end["test"]["accuracy"]);
    let wrong = dl(&[
        "eval",
        "examples/mlp_digits.dl",
        "--weights",
        weights.to_str().expect("utf-8"),
    ]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("does not fit the model"));
    std::fs::remove_dir_all(dir).expect("clean up");
}
