//! `dl predict`: new samples read as the data source reads its own and
//! transformed as the training data was (with the statistics saved in the
//! checkpoint), through the library and through the real binary.

mod common;

use common::{dl, temp_dir};
use dl::data::{InputSpec, read_input};
use dl::interp::ParamStore;
use std::path::{Path, PathBuf};

/// The root of the repository.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A classifier on the breast-cancer table: `standardize` then a split, so
/// that the statistics come from the training rows alone.
const CANCER: &str = r#"
data cancer = csv("data/breast_cancer.csv", label = "label")
            | standardize | split(train = 0.7, val = 0.15, test = 0.15, seed = 1)

model Net(x: [F]) {
    dense(8) relu
    dense(2) softmax
}

train Net on cancer {
    loss = cross_entropy  optimizer = adam(lr = 0.01)  epochs = 5  batch = 32
    seed = 3  save = "runs/net.safetensors"
}
"#;

/// Writes `program` next to a copy of the examples' data folder in a fresh
/// folder; returns the program's path.
fn program_in(name: &str, program: &str) -> PathBuf {
    let dir = temp_dir(name);
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for file in ["breast_cancer.csv", "digits.csv"] {
        std::fs::copy(root().join("examples/data").join(file), data.join(file)).unwrap();
    }
    let path = dir.join("program.dl");
    std::fs::write(&path, program).unwrap();
    path
}

fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn a_csv_input_is_standardized_with_the_training_statistics_bit_for_bit() {
    // Without a split every row is training data, in file order, so the
    // prediction input must equal the training input exactly.
    let source = "data d = csv(\"examples/data/breast_cancer.csv\", label = \"label\") | scale(2) | standardize\n\
                  model M(x: [30]) { dense(2) softmax }\n\
                  train M on d { loss = cross_entropy  optimizer = sgd(lr = 0.1) }\n";
    let (checked, _) = dl::checked_file(source);
    let prepared = dl::run::prepare(&checked.unwrap(), 0, &root()).unwrap();
    let spec = prepared.data.input_spec();
    assert_eq!(spec.standardize.len(), 1);
    let transforms = &checked_transforms(source);
    let csv = root().join("examples/data/breast_cancer.csv");
    let input = read_input(&[&csv], &spec, transforms, false).unwrap();
    let expected = prepared.data.input(&prepared.data.train);
    assert_eq!(input.shape(), expected.shape());
    assert!(
        input
            .iter()
            .zip(expected.iter())
            .all(|(a, b)| a.to_bits() == b.to_bits())
    );
}

/// The data transforms of the program's first data set.
fn checked_transforms(source: &str) -> Vec<dl::ir::Transform> {
    let (program, _) = dl::check_file(source);
    program.unwrap().data[0].transforms.clone()
}

#[test]
fn the_saved_statistics_are_those_of_the_training_rows_only() {
    let path = program_in("predict-stats", CANCER);
    let out = dl(&["train", arg(&path)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let weights = path.with_file_name("runs/net.safetensors");
    let spec = dl::train::checkpoint::input_spec(&weights)
        .unwrap()
        .expect("saved");
    let (checked, _) = dl::checked_file(CANCER);
    let prepared = dl::run::prepare(&checked.unwrap(), 0, path.parent().unwrap()).unwrap();
    assert_eq!(spec, prepared.data.input_spec());
    assert_eq!(spec.raw_shape, [30]);
    assert_eq!(spec.classes, Some(2));
    // 569 rows, 70% for training: statistics over 398 rows, not 569.
    let all = dl::data::load(&prepared_data_set(), &root().join("examples")).unwrap();
    assert_ne!(spec.standardize[0].mean, all.standardize[0].mean);
}

/// The cancer data set standardized with every row as training data.
fn prepared_data_set() -> dl::ir::DataSet {
    let source = "data cancer = csv(\"data/breast_cancer.csv\", label = \"label\") | standardize\n";
    let (program, _) = dl::check_file(source);
    program.unwrap().data[0].clone()
}

#[test]
fn predict_on_the_data_file_reproduces_the_test_accuracy_of_eval() {
    let path = program_in("predict-eval", CANCER);
    assert!(dl(&["train", arg(&path)]).status.success());
    let weights = path.with_file_name("runs/net.safetensors");
    let csv = path.with_file_name("data/breast_cancer.csv");
    let out = dl(&["predict", arg(&path), "--weights", arg(&weights), arg(&csv)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("predicted,p_0,p_1"));
    let predicted: Vec<u32> = lines
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(predicted.len(), 569);
    // Every row of the file, predicted; the accuracy over all of them is
    // what a trained classifier gets, far above the majority class's 63%.
    let labels: Vec<u32> = std::fs::read_to_string(&csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().trim().parse().unwrap())
        .collect();
    let right = predicted
        .iter()
        .zip(&labels)
        .filter(|(p, l)| p == l)
        .count();
    assert!(
        right as f64 / 569.0 > 0.9,
        "accuracy {}",
        right as f64 / 569.0
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("predicted 569 samples"), "{stderr}");
}

/// A tiny image model with its initial weights saved, for the readers.
fn image_model(dir: &Path) -> (PathBuf, PathBuf, ParamStore, dl::ir::Graph) {
    let source =
        "model Tiny(x: [1, 8, 8]) { conv2d(2, kernel = 3) relu flatten dense(3) softmax }\n";
    let program = dir.join("tiny.dl");
    std::fs::write(&program, source).unwrap();
    let (checked, _) = dl::checked_file(source);
    let graph = checked.unwrap().program.models[0].graph.clone();
    let store = ParamStore::init(&graph, 5);
    let weights = dir.join("tiny.safetensors");
    dl::train::checkpoint::save(&store, None, &weights).unwrap();
    (program, weights, store, graph)
}

/// The bytes of an 8x8 grey picture.
fn pixels(seed: u8) -> Vec<u8> {
    (0..64u32)
        .map(|i| ((i * 37 + u32::from(seed) * 11) % 256) as u8)
        .collect()
}

#[test]
fn png_idx_and_npy_inputs_of_the_same_pixels_predict_the_same() {
    let dir = temp_dir("predict-readers");
    let (program, weights, store, graph) = image_model(&dir);
    let (a, b) = (pixels(1), pixels(2));
    for (name, p) in [("a.png", &a), ("b.png", &b)] {
        image::GrayImage::from_raw(8, 8, p.clone())
            .unwrap()
            .save(dir.join(name))
            .unwrap();
    }
    // The IDX file of both images, and the same as a .npy array.
    let mut idx = vec![0, 0, 8, 3];
    for d in [2u32, 8, 8] {
        idx.extend(d.to_be_bytes());
    }
    idx.extend(&a);
    idx.extend(&b);
    std::fs::write(dir.join("both-idx3-ubyte"), &idx).unwrap();
    let values: Vec<f32> = a.iter().chain(&b).map(|&v| f32::from(v)).collect();
    std::fs::write(
        dir.join("both.npy"),
        dl::data::npy::to_bytes(&[2, 1, 8, 8], &values),
    )
    .unwrap();

    let run = |inputs: &[&str]| {
        let mut args = vec![
            "predict",
            arg(&program),
            "--model",
            "Tiny",
            "--weights",
            arg(&weights),
        ];
        args.extend(inputs);
        let out = dl(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let (png, png_dir) = (dir.join("a.png"), dir.join("b.png"));
    let from_png = run(&[arg(&png), arg(&png_dir)]);
    assert_eq!(from_png, run(&[arg(&dir.join("both-idx3-ubyte"))]));
    assert_eq!(from_png, run(&[arg(&dir.join("both.npy"))]));
    assert_eq!(from_png.lines().count(), 3);

    // And the library's forward pass on the same values agrees.
    let spec = InputSpec::of_shape(&[1, 8, 8]);
    let input = read_input(&[&dir.join("both.npy")], &spec, &[], false).unwrap();
    let mut spec = spec;
    spec.classes = Some(3);
    let predictions = dl::train::predict::predict(&graph, &store, &input, &spec).unwrap();
    assert_eq!(predictions.to_csv(), from_png);
}

#[test]
fn bad_inputs_are_clear_errors_and_leave_no_output_file() {
    let dir = temp_dir("predict-errors");
    let (program, weights, _, _) = image_model(&dir);
    let out_file = dir.join("out.csv");
    let predict = |input: &Path, more: &[&str]| {
        let mut args = vec![
            "predict",
            arg(&program),
            "--model",
            "Tiny",
            "--weights",
            arg(&weights),
        ];
        args.push(arg(input));
        args.extend(["-o", arg(&out_file)]);
        args.extend(more);
        dl(&args)
    };
    // A picture of the wrong size, unless asked to resize it.
    image::GrayImage::from_raw(4, 4, vec![9; 16])
        .unwrap()
        .save(dir.join("small.png"))
        .unwrap();
    let out = predict(&dir.join("small.png"), &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the image is 4x4 pixels; the model takes 8x8"),
        "{stderr}"
    );
    assert!(stderr.contains("--resize"), "{stderr}");
    assert!(!out_file.exists());
    let out = predict(&dir.join("small.png"), &["--resize"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap().lines().count(),
        2
    );
    std::fs::remove_file(&out_file).unwrap();

    // An array of the wrong shape.
    std::fs::write(
        dir.join("wrong.npy"),
        dl::data::npy::to_bytes(&[2, 7], &[0.0; 14]),
    )
    .unwrap();
    let out = predict(&dir.join("wrong.npy"), &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the array has shape [2, 7]; the model takes samples of shape [1, 8, 8]"),
        "{stderr}"
    );
    assert!(!out_file.exists());

    // A CSV without the model's columns: a model on its own has none, so
    // use the cancer classifier, with a misspelt column.
    let path = program_in("predict-columns", CANCER);
    assert!(dl(&["train", arg(&path)]).status.success());
    let csv = std::fs::read_to_string(path.with_file_name("data/breast_cancer.csv")).unwrap();
    let renamed = csv.replacen("mean_radius", "mean_radious", 1);
    let bad = path.with_file_name("renamed.csv");
    std::fs::write(&bad, renamed).unwrap();
    let weights = path.with_file_name("runs/net.safetensors");
    let out = dl(&["predict", arg(&path), "--weights", arg(&weights), arg(&bad)]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no column named `mean_radius`"), "{stderr}");
    assert!(stderr.contains("did you mean `mean_radious`?"), "{stderr}");

    // Weights of another model.
    let out = dl(&[
        "predict",
        arg(&program),
        "--model",
        "Tiny",
        "--weights",
        arg(&weights),
        arg(&bad),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not fit the model"));

    // An output folder that does not exist.
    let nowhere = dir.join("no/such/folder/out.csv");
    let npy = dir.join("both.npy");
    std::fs::write(&npy, dl::data::npy::to_bytes(&[1, 1, 8, 8], &[1.0; 64])).unwrap();
    let out = dl(&[
        "predict",
        arg(&program),
        "--model",
        "Tiny",
        "--weights",
        arg(&dir.join("tiny.safetensors")),
        arg(&npy),
        "-o",
        arg(&nowhere),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write"));
    assert!(!nowhere.parent().unwrap().exists());
}
