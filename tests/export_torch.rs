//! `dl export --format torch`, checked in pure Rust: the module's source
//! (a snapshot) and the layout of its weights (the comparison with PyTorch
//! itself is `tests/interop/torch_export.py`, which `.ci/run` runs).

mod common;

use common::{dl, temp_dir};
use safetensors::SafeTensors;

fn export(args: &[&str], out: &std::path::Path) {
    let mut all = vec!["export", "--format", "torch"];
    all.extend(args);
    all.extend(["-o", out.to_str().unwrap()]);
    let run = dl(&all);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn lenet5_is_a_module_with_a_line_per_layer() {
    let dir = temp_dir("torch-lenet");
    export(&["examples/lenet5.dl", "--model", "LeNet5"], &dir);
    let source = std::fs::read_to_string(dir.join("model.py")).unwrap();
    insta::assert_snapshot!(source);
}

#[test]
fn the_textbook_gru_is_an_explicit_cell_and_lstm_weights_are_split_and_transposed() {
    let dir = temp_dir("torch-sunspots");
    export(&["examples/sunspots.dl", "--run", "3"], &dir);
    let source = std::fs::read_to_string(dir.join("model.py")).unwrap();
    assert!(source.contains("class TextbookGRU(nn.Module):"), "{source}");
    assert!(source.contains("self.gru_0 = TextbookGRU(1, "), "{source}");

    let lstm = temp_dir("torch-sunspots-lstm");
    export(&["examples/sunspots.dl", "--run", "1"], &lstm);
    let bytes = std::fs::read(lstm.join("weights.safetensors")).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut names = file.names();
    names.sort();
    assert_eq!(
        names,
        [
            "dense_0.bias",
            "dense_0.weight",
            "lstm_0.bias_hh_l0",
            "lstm_0.bias_ih_l0",
            "lstm_0.weight_hh_l0",
            "lstm_0.weight_ih_l0",
        ]
    );
    let hidden = file.tensor("lstm_0.weight_hh_l0").unwrap().shape()[1];
    assert_eq!(
        file.tensor("lstm_0.weight_ih_l0").unwrap().shape(),
        [4 * hidden, 1]
    );
    assert_eq!(file.tensor("dense_0.weight").unwrap().shape(), [1, hidden]);
    let zeros = file.tensor("lstm_0.bias_hh_l0").unwrap();
    assert!(
        zeros.data().iter().all(|&b| b == 0),
        "the second bias is zero"
    );
}

#[test]
fn batchnorm_carries_pytorchs_counter_and_a_cell_is_a_loop_over_time() {
    let dir = temp_dir("torch-resnet");
    export(&["examples/resnet18.dl", "--model", "ResNet18"], &dir);
    let bytes = std::fs::read(dir.join("weights.safetensors")).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let counter = file.tensor("batchnorm_0.num_batches_tracked").unwrap();
    assert_eq!(counter.dtype(), safetensors::Dtype::I64);

    let cell = temp_dir("torch-cell");
    export(&["examples/recurrent.dl"], &cell);
    let source = std::fs::read_to_string(cell.join("model.py")).unwrap();
    assert!(source.contains("for t in range(x.shape[1]):"), "{source}");
    assert!(
        source.contains("self.LSTMCell_0.Wf = nn.Parameter("),
        "{source}"
    );
    assert!(
        source.contains("LSTMCell_0_h, LSTMCell_0_c = "),
        "both states updated at once: {source}"
    );
}

#[test]
fn a_train_block_also_gets_its_program_and_the_rows_of_its_split() {
    let dir = temp_dir("torch-digits");
    export(&["examples/mlp_digits.dl"], &dir);
    let script = std::fs::read_to_string(dir.join("train.py")).unwrap();
    assert!(script.contains("from model import MLP as Model, dl_state_dict"));
    assert!(script.contains("\"name\": \"adam\""), "{script}");
    assert!(script.contains("\"batch\": 32"), "{script}");
    assert!(script.contains("\"kind\": \"csv\""), "{script}");
    assert!(script.contains("\"scale\": 0.0625"), "{script}");
    let bytes = std::fs::read(dir.join("data.safetensors")).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let rows = |n: &str| -> Vec<i64> {
        let t = file.tensor(n).unwrap();
        assert_eq!(t.dtype(), safetensors::Dtype::I64);
        t.data()
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let (train, val, test) = (rows("rows_train"), rows("rows_val"), rows("rows_test"));
    assert_eq!((train.len(), val.len(), test.len()), (1257, 270, 270));
    let mut all: Vec<i64> = [train, val, test].concat();
    all.sort_unstable();
    assert_eq!(all, (0..1797).collect::<Vec<_>>(), "every row once");
    assert!(
        file.tensor("x_train").is_err(),
        "the CSV is read by train.py"
    );
}

#[test]
fn a_series_comes_as_the_rows_dl_prepared() {
    let dir = temp_dir("torch-series");
    export(&["examples/sunspots.dl", "--run", "1"], &dir);
    let bytes = std::fs::read(dir.join("data.safetensors")).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(file.tensor("x_train").unwrap().shape()[1..], [24, 1]);
    assert_eq!(
        file.tensor("y_test").unwrap().dtype(),
        safetensors::Dtype::F32
    );
}

#[test]
fn a_closed_form_optimizer_gets_the_module_but_no_pytorch_program() {
    let out = temp_dir("torch-lstsq").join("out");
    let run = dl(&[
        "export",
        "examples/linear_regression.dl",
        "--run",
        "2",
        "--format",
        "torch",
        "-o",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("note: no train.py: the optimizer of run 2 is closed-form"),
        "{stdout}"
    );
    assert!(out.join("model.py").exists());
    assert!(!out.join("train.py").exists());
}

#[test]
fn the_reset_after_gru_is_pytorchs_own_gru_with_its_recurrent_bias_trained() {
    let dir = temp_dir("torch-gru-after");
    export(&["tests/interop/gru_reset_after.dl"], &dir);
    let source = std::fs::read_to_string(dir.join("model.py")).unwrap();
    assert!(
        source.contains("self.gru_0 = nn.GRU(1, 16, batch_first=True)"),
        "{source}"
    );
    assert!(!source.contains("requires_grad_(False)"), "{source}");
    assert!(
        source.contains("\"gru_0.recurrent_bias\": sd[\"gru_0.bias_hh_l0\"]"),
        "{source}"
    );
}

#[test]
fn weights_of_another_model_or_an_unwritable_folder_are_errors_with_nothing_written() {
    let dir = temp_dir("torch-bad");
    let other = dir.join("lenet.safetensors");
    export(
        &["examples/lenet5.dl", "--model", "LeNet5"],
        &dir.join("lenet"),
    );
    std::fs::copy(dir.join("lenet").join("weights.safetensors"), &other).unwrap();
    // PyTorch-layout weights of LeNet-5 are not a checkpoint of the digits MLP.
    let out = dir.join("mlp");
    let run = dl(&[
        "export",
        "examples/mlp_digits.dl",
        "--weights",
        other.to_str().unwrap(),
        "--format",
        "torch",
        "-o",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot use the weights"), "{stderr}");
    assert!(!out.exists());

    // The output's parent is a file.
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let inside = file.join("out");
    let run = dl(&[
        "export",
        "examples/mlp_digits.dl",
        "--format",
        "torch",
        "-o",
        inside.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot create the folder"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}
