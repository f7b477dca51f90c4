//! End-to-end training on real data: accuracy floors, bit-for-bit
//! determinism across thread counts, checkpoints, and a seeded log snapshot.

mod common;

use common::{dl, temp_dir};

use dl::data::Loaded;
use dl::interp::ParamStore;
use dl::ir::{Graph, Metric, TrainRun};
use dl::train::{Evaluation, Event, TrainError};
use std::path::{Path, PathBuf};

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
    let (events, test, store) = train_events(source, base, index, epochs).expect("trains");
    let losses = events
        .iter()
        .filter_map(|e| match e {
            Event::EpochEnd(summary) => Some(summary.train_loss),
            _ => None,
        })
        .collect();
    (losses, test, store)
}

/// Run `index` of `source` prepared as the commands prepare it: the run,
/// its graph, the data and freshly initialised parameters.
fn prepare(source: &str, base: &Path, index: usize) -> (TrainRun, Graph, Loaded, ParamStore) {
    let (checked, diagnostics) = dl::checked_source(source);
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
    let checked = checked.expect("checked");
    let prepared = dl::run::prepare(&checked, index, base).expect("prepared");
    (prepared.run, prepared.graph, prepared.data, prepared.store)
}

/// Like [`train`], returning every event, or the training error.
fn train_events(
    source: &str,
    base: &Path,
    index: usize,
    epochs: Option<i64>,
) -> Result<(Vec<Event>, Option<Evaluation>, ParamStore), TrainError> {
    let (run, graph, loaded, mut store) = prepare(source, base, index);
    let mut events = Vec::new();
    let test = dl::train::train(
        &run,
        &graph,
        &loaded,
        epochs.unwrap_or(run.epochs),
        &mut store,
        &mut |e: Event| events.push(e),
        &mut |_, _| Ok(()),
    )?;
    Ok((events, test, store))
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
fn layernorm_mlp_on_digits_reaches_96_percent() {
    let (_, test, _) = train(&example("mlp_layernorm.dl"), &examples(), 0, None);
    let accuracy = metric(&test.expect("a test part"), Metric::Accuracy);
    assert!(accuracy >= 0.96, "test accuracy {accuracy}");
}

#[test]
fn conv1d_forecast_beats_persistence_on_sunspots() {
    let (losses, test, _) = train(&example("sunspots_conv1d.dl"), &examples(), 0, None);
    assert!(losses.last() < losses.first(), "{losses:?}");
    let rmse = metric(&test.expect("a test part"), Metric::Rmse);
    // Persistence (next year = this year) has a test RMSE of 0.958 here.
    assert!(rmse < 0.8, "test rmse {rmse}");
}

/// `round = "ceil"` keeps a partial window at the edge: 8 with kernel 3 and
/// stride 2 gives 4 positions, the last covering only row (column) 7 and one
/// beyond. The checker promises it and training runs it.
const CEIL_CONV: &str = r#"
data digits = csv("data/digits.csv", label = "label") | scale(1 / 16) | reshape([1, 8, 8])
            | split(train = 0.8, test = 0.2, seed = 4)
model Ceil(x: [1, 8, 8]) {
    conv2d(8, kernel = 3, stride = 2, round = "ceil") relu flatten dense(10) softmax
}
train Ceil on digits { loss = cross_entropy  optimizer = adam(lr = 0.01)  epochs = 5  batch = 32  seed = 2  metrics = [accuracy] }
"#;

#[test]
fn conv2d_with_round_ceil_trains_with_the_partial_window() {
    let (_, graph, _, _) = prepare(CEIL_CONV, &examples(), 0);
    let conv = graph
        .nodes
        .iter()
        .find(|n| n.path == "Ceil.conv2d_0")
        .expect("the convolution");
    assert_eq!(conv.shape.to_string(), "[N, 8, 4, 4]");
    let (losses, test, _) = train(CEIL_CONV, &examples(), 0, None);
    assert!(losses.last() < losses.first(), "{losses:?}");
    let accuracy = metric(&test.expect("a test part"), Metric::Accuracy);
    assert!(accuracy >= 0.85, "test accuracy {accuracy}");
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

/// A ResNet in miniature on the digits: residual blocks with batchnorm, a
/// strided block with a 1x1 shortcut to 128 channels on 4x4 planes, so that
/// grouped convolutions, products cut into bands and the fused batchnorm
/// are part of the determinism test.
const RESNET_DIGITS: &str = r#"
data digits = csv("data/digits.csv", label = "label") | scale(1 / 16) | reshape([1, 8, 8])
            | split(train = 0.8, test = 0.2, seed = 4)
model Block(x: [C, H, W]) {
    let y = x -> conv2d(C, kernel = 3, padding = 1, bias = false) -> batchnorm -> relu
              -> conv2d(C, kernel = 3, padding = 1, bias = false) -> batchnorm
    relu(y + x)
}
model Down(x: [C, H, W], out: int) {
    let y = x -> conv2d(out, kernel = 3, stride = 2, padding = 1, bias = false, round = "floor") -> batchnorm -> relu
              -> conv2d(out, kernel = 3, padding = 1, bias = false) -> batchnorm
    let skip = x -> conv2d(out, kernel = 1, stride = 2, bias = false, round = "floor") -> batchnorm
    relu(y + skip)
}
model Res(x: [1, 8, 8]) {
    conv2d(16, kernel = 3, padding = 1, bias = false) batchnorm relu
    Block Down(128) Block global_avgpool dense(10) softmax
}
train Res on digits { loss = cross_entropy  optimizer = sgd(lr = 0.05, momentum = 0.9)  epochs = 2  batch = 32  seed = 5  metrics = [accuracy] }
"#;

#[test]
fn same_seed_gives_the_same_losses_bit_for_bit_with_1_and_2_threads() {
    for program in [CONV_DIGITS, RESNET_DIGITS] {
        let run_with = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool");
            pool.install(|| {
                let (losses, _, store) = train(program, &examples(), 0, None);
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
        assert!(one.last() < one.first(), "the epoch loss falls: {one:?}");
    }
}

/// torchvision's `BasicConv2d(in, out, kernel_size, **kwargs)`: a block whose
/// kernel is an option without a default, given by every use.
const BASIC_CONV_DIGITS: &str = r#"
data digits = csv("data/digits.csv", label = "label") | scale(1 / 16) | reshape([1, 8, 8])
            | split(train = 0.8, test = 0.2, seed = 4)
model BasicConv(x: [C, H, W], out: int, k: int, pad: int = 0) {
    conv2d(out, kernel = k, padding = pad) batchnorm relu
}
model Net(x: [1, 8, 8]) { BasicConv(8, 3, pad = 1) BasicConv(16, k = 5) maxpool(2) flatten dense(10) softmax }
train Net on digits { loss = cross_entropy  optimizer = adam(lr = 0.01)  epochs = 1  batch = 32  seed = 3  metrics = [accuracy] }
"#;

#[test]
fn a_block_whose_kernel_each_use_gives_checks_and_trains() {
    // Checked on its own, the block keeps its kernel symbolic and reports nothing.
    let (program, diagnostics) = dl::check_source(BASIC_CONV_DIGITS);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let program = program.expect("checked");
    let block = &program.models[0];
    assert_eq!(block.name, "BasicConv");
    let conv = &block.graph.nodes[1];
    assert_eq!(conv.shape.to_string(), "[N, out, H - k + 1, W - k + 1]");
    let (losses, test, _) = train(BASIC_CONV_DIGITS, &examples(), 0, None);
    assert_eq!(losses.len(), 1);
    assert!(losses[0].is_finite(), "{losses:?}");
    let accuracy = metric(&test.expect("a test part"), Metric::Accuracy);
    assert!(accuracy >= 0.9, "test accuracy {accuracy}");
}

/// Rounds every non-integer number in `v` to 6 significant digits.
fn round_floats(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().expect("an f64");
            let rounded: f64 = format!("{x:.5e}").parse().expect("a float");
            *v = serde_json::Value::from(rounded);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(round_floats),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(round_floats),
        _ => {}
    }
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
    // Wall-clock time is the one field that changes from run to run. The
    // numbers are kept to 6 significant digits: the matrix products pick
    // their kernels at run time (AVX-512 or AVX2), whose summation orders
    // differ in the last bits, and the log must read the same on both.
    let stable: Vec<String> = log
        .lines()
        .map(|line| {
            let mut v: serde_json::Value =
                serde_json::from_str(line).expect("one JSON object per line");
            if v.get("seconds").is_some() {
                v["seconds"] = serde_json::Value::from("<elapsed>");
            }
            // The estimate counts the worker threads: one per core.
            if v.get("memory_estimate").is_some() {
                v["memory_estimate"] = serde_json::Value::from("<bytes>");
            }
            round_floats(&mut v);
            v.to_string()
        })
        .collect();
    insta::with_settings!({snapshot_path => "snapshots/train", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("logistic_regression_5_epochs", stable.join("\n"));
    });
}

#[test]
fn checkpoint_round_trip_through_the_cli() {
    let dir = temp_dir("train-ckpt");
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

/// The learnable scalars of `store`, in store order, as f64.
fn theta(store: &ParamStore) -> Vec<f64> {
    store
        .trainable()
        .flat_map(|name| store.get(name).iter().map(|v| f64::from(*v)))
        .collect()
}

fn assert_relative(actual: &[f64], expected: &[f64], tolerance: f64) {
    assert_eq!(actual.len(), expected.len());
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            ((a - e) / e).abs() <= tolerance,
            "coefficient {i}: {a} vs {e} (relative {:.2e})",
            ((a - e) / e).abs()
        );
    }
}

/// The `Fitted` event's training evaluation.
fn fitted_train(events: &[Event]) -> &Evaluation {
    events
        .iter()
        .find_map(|e| match e {
            Event::Fitted { train, .. } => Some(train),
            _ => None,
        })
        .expect("a closed-form fit reports its training evaluation")
}

const DIABETES_LINEAR: &str = r#"
data diabetes = csv("data/diabetes.csv", target = "target")
model Linear(x: [F]) { dense(1) }
train Linear on diabetes { loss = mse  optimizer = least_squares  metrics = [mae, mse, rmse] }
"#;

#[test]
fn least_squares_on_diabetes_matches_an_independent_solution() {
    let (events, _, store) = train_events(DIABETES_LINEAR, &examples(), 0, None).expect("fits");
    // Reference: numpy 2.4.6, float64, all 442 rows of examples/data/diabetes.csv
    // read with numpy.loadtxt:
    //   X = np.c_[d[:, :10], np.ones(442)]; theta = np.linalg.lstsq(X, y, rcond=None)[0]
    //   r = X @ theta - y; mse = mean(r**2); mae = mean(|r|); rmse = sqrt(mse)
    // (the coefficients are scikit-learn's LinearRegression ones for this data).
    let reference = [
        -10.0098662998,
        -239.8156436724,
        519.8459200545,
        324.3846455023,
        -792.1756385522,
        476.7390210053,
        101.043267938,
        177.0632376713,
        751.2736995571,
        67.6266921837,
        152.1334841629,
    ];
    assert_relative(&theta(&store), &reference, 1e-4);
    let train = fitted_train(&events);
    let reported: Vec<f64> = [Metric::Mse, Metric::Mae, Metric::Rmse]
        .iter()
        .map(|m| metric(train, *m))
        .collect();
    assert_relative(
        &reported,
        &[2859.69634758675, 43.277452025315085, 53.47612876402657],
        1e-5,
    );
}

#[test]
fn gradient_descent_on_standardised_diabetes_reaches_the_least_squares_mse() {
    let source = example("linear_regression.dl");
    let (events, _, _) = train_events(&source, &examples(), 3, None).expect("fits");
    let closed_form = fitted_train(&events).loss;
    let (losses, _, _) = train(&source, &examples(), 4, None);
    let descent = *losses.last().expect("epochs ran");
    assert!(
        descent <= closed_form * 1.01,
        "gradient descent {descent} vs least squares {closed_form}"
    );
    assert!(descent >= closed_form * (1.0 - 1e-6), "below the minimum?");
}

#[test]
fn the_three_methods_find_the_same_line_within_the_grid_step() {
    let source = example("linear_regression.dl");
    let (_, _, grid) = train_events(&source, &examples(), 0, None).expect("searches");
    let (_, _, exact) = train_events(&source, &examples(), 1, None).expect("fits");
    let (_, _, descent) = train(&source, &examples(), 2, None);
    let exact = theta(&exact);
    assert!(
        exact[0].abs() > 0.5,
        "the toy line has a visible slope: {exact:?}"
    );
    for (method, found) in [
        ("grid", theta(&grid)),
        ("gradient descent", theta(&descent)),
    ] {
        for (f, e) in found.iter().zip(&exact) {
            assert!((f - e).abs() <= 0.01, "{method} {f} vs least squares {e}");
        }
    }
}

/// A copy of the diabetes data with `bmi` repeated as a last feature column.
fn diabetes_with_duplicated_column() -> PathBuf {
    let dir = temp_dir("rank");
    std::fs::create_dir_all(dir.join("data")).expect("temp dir");
    let text = std::fs::read_to_string(examples().join("data/diabetes.csv")).expect("data");
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        let (features, target) = cells.split_at(10);
        let copy = if i == 0 { "bmi_copy" } else { cells[2] };
        out.push_str(&format!(
            "{},{copy},{}\n",
            features.join(","),
            target.join(",")
        ));
    }
    std::fs::write(dir.join("data/diabetes.csv"), out).expect("write");
    dir
}

#[test]
fn a_rank_deficient_design_names_the_dependent_columns_and_ridge_fits_it() {
    let dir = diabetes_with_duplicated_column();
    std::fs::write(dir.join("rank.dl"), DIABETES_LINEAR).expect("write program");
    let output = dl(&["train", dir.join("rank.dl").to_str().expect("utf-8 path")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for expected in [
        "E0803",
        "rank 11 but the model has 12 parameters",
        "these columns are linearly dependent: `bmi` (Linear.dense_0.weight[2, 0]) and `bmi_copy` (Linear.dense_0.weight[10, 0])",
        "least_squares(l2 = 0.1)",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }

    let ridge = DIABETES_LINEAR.replace("least_squares ", "least_squares(l2 = 0.1) ");
    let (_, _, store) = train_events(&ridge, &dir, 0, None).expect("ridge fits");
    // Reference: numpy, float64, solving (XᵀX + 0.1 L) θ = Xᵀy for the 12
    // columns (10 features, bmi again, ones) with L = diag(1, ..., 1, 0): the
    // intercept is not penalised.
    let reference = [
        1.1667551901,
        -203.620804352,
        261.4999299471,
        294.4973718203,
        -82.7941241422,
        -73.89776562,
        -181.9045632278,
        115.0347951617,
        437.8725588133,
        81.987769111,
        261.4999299471,
        152.1334841629,
    ];
    assert_relative(&theta(&store), &reference, 1e-4);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn small_models_print_their_parameters_in_text_and_json() {
    let file = examples().join("linear_regression.dl");
    let text = dl(&["train", file.to_str().unwrap(), "--run", "2"]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(text.status.success(), "{stdout}");
    assert!(
        stdout.contains("least squares: 160 samples, 2 parameters"),
        "{stdout}"
    );
    assert!(
        stdout.contains("parameters:\n  Line.w [1, 1] = ["),
        "{stdout}"
    );
    let json = dl(&["train", file.to_str().unwrap(), "--run", "2", "--json"]);
    let last = String::from_utf8_lossy(&json.stdout)
        .lines()
        .last()
        .map(str::to_string)
        .unwrap_or_default();
    let end: serde_json::Value = serde_json::from_str(&last).expect("JSON line");
    assert_eq!(end["event"], "end");
    assert!(end["params"]["Line.w"][0][0].is_number(), "{last}");
    assert!(end["params"]["Line.b"][0].is_number(), "{last}");
}

#[test]
fn grid_search_by_running_the_model_agrees_with_the_quadratic_shortcut() {
    let source = example("linear_regression.dl");
    let (run, graph, data, store) = prepare(&source, &examples(), 0);
    let grid = (-1.0, 1.0, 0.02);
    let search = |linear| {
        dl::train::grid::search(&graph, &run, &data, &store, grid, linear, &mut |_| {})
            .expect("searches")
    };
    let (shortcut, model) = (search(true), search(false));
    assert_eq!(shortcut.points, 101 * 101);
    assert_eq!(shortcut.theta, model.theta);
    assert!(
        (shortcut.loss - model.loss).abs() <= 1e-6 * model.loss,
        "{} vs {}",
        shortcut.loss,
        model.loss
    );
}
