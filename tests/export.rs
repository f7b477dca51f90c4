//! `dl export --format onnx`, checked in pure Rust by decoding the bytes it
//! writes (the comparison with ONNX Runtime itself is
//! `tests/interop/onnx_export.py`, which `.ci/run` runs).

mod common;

use common::{dl, temp_dir};
use dl::export::proto::{ElementType, ModelProto};
use prost::Message;

fn export(args: &[&str], out: &std::path::Path) -> ModelProto {
    let mut all = vec!["export"];
    all.extend(args);
    all.extend(["-o", out.to_str().unwrap()]);
    let run = dl(&all);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    ModelProto::decode(std::fs::read(out).unwrap().as_slice()).expect("valid protobuf")
}

#[test]
fn lenet5_exports_as_an_opset_17_graph_with_its_weights_and_a_symbolic_batch() {
    let dir = temp_dir("export-lenet");
    let out = dir.join("lenet5.onnx");
    let model = export(&["examples/lenet5.dl", "--model", "LeNet5"], &out);
    assert_eq!(model.ir_version, 8);
    assert_eq!(model.opset_import[0].version, 17);
    let graph = model.graph.expect("a graph");
    let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type.as_str()).collect();
    assert_eq!(
        ops,
        [
            "Conv",
            "Tanh",
            "AveragePool",
            "Conv",
            "Tanh",
            "AveragePool",
            "Flatten",
            "Gemm",
            "Tanh",
            "Gemm",
            "Tanh",
            "Gemm",
            "Softmax"
        ]
    );
    // Weights named relative to the model, dl's dense layout [in, out].
    let weight = graph
        .initializer
        .iter()
        .find(|t| t.name == "dense_0.weight")
        .expect("the first dense weight");
    assert_eq!(weight.dims, [400, 120]);
    assert_eq!(weight.data_type, ElementType::Float as i32);
    assert_eq!(weight.raw_data.len(), 400 * 120 * 4);
    let count: usize = graph
        .initializer
        .iter()
        .map(|t| t.dims.iter().product::<i64>() as usize)
        .sum();
    assert_eq!(count, 61_706, "every parameter, as `dl check` counts them");
    let input = &graph.input[0];
    let dims = &input.r#type.as_ref().unwrap().tensor_type.as_ref().unwrap();
    let dims = &dims.shape.as_ref().unwrap().dim;
    assert_eq!(dims[0].dim_param.as_deref(), Some("N"));
    let sizes: Vec<i64> = dims[1..].iter().map(|d| d.dim_value.unwrap()).collect();
    assert_eq!(sizes, [1, 32, 32]);
}

#[test]
fn the_seeded_initial_weights_are_those_of_a_fresh_run_and_trained_ones_differ() {
    let dir = temp_dir("export-weights");
    let (a, b) = (dir.join("a.onnx"), dir.join("b.onnx"));
    let first = export(&["examples/mlp_digits.dl"], &a);
    let again = export(&["examples/mlp_digits.dl"], &b);
    assert_eq!(first, again, "the same seed, the same bytes");
    let program = dir.join("mlp.dl");
    let source = std::fs::read_to_string("examples/mlp_digits.dl").unwrap();
    let source = source
        .replace(
            "data/digits.csv",
            &format!("{}/examples/data/digits.csv", env!("CARGO_MANIFEST_DIR")),
        )
        .replace("seed = 0\n", "seed = 0  save = \"mlp.safetensors\"\n");
    std::fs::write(&program, source).unwrap();
    assert!(
        dl(&["train", program.to_str().unwrap(), "--epochs", "1"])
            .status
            .success()
    );
    let weights = dir.join("mlp.safetensors");
    let trained = export(
        &[
            program.to_str().unwrap(),
            "--weights",
            weights.to_str().unwrap(),
        ],
        &dir.join("c.onnx"),
    );
    let names = |m: &ModelProto| -> Vec<String> {
        m.graph
            .as_ref()
            .unwrap()
            .initializer
            .iter()
            .map(|t| t.name.clone())
            .collect()
    };
    assert_eq!(names(&trained), names(&first));
    assert_ne!(trained.graph, first.graph);
}

#[test]
fn a_user_cell_is_unrolled_over_the_bound_sequence_length() {
    let dir = temp_dir("export-cell");
    let out = dir.join("model.onnx");
    let model = export(&["examples/recurrent.dl"], &out);
    let graph = model.graph.unwrap();
    let steps = |op: &str| graph.node.iter().filter(|n| n.op_type == op).count();
    // A window of 24 years: one input Gather and one output Unsqueeze per step.
    assert_eq!(steps("Unsqueeze"), 24);
    assert_eq!(steps("ConstantOfShape"), 2, "the states h and c");
    let weights = graph
        .initializer
        .iter()
        .filter(|t| t.name == "LSTMCell_0.Wf")
        .count();
    assert_eq!(weights, 1, "the steps share the cell's weights");
}

#[test]
fn a_cell_state_that_starts_random_is_e0901_at_its_use_and_no_file_is_written() {
    let dir = temp_dir("export-random-state");
    let program = dir.join("noisy.dl");
    std::fs::write(
        &program,
        "cell Noisy(x: [I], hidden: int) state (h: [hidden] = normal(0, 1)) {\n\
         \x20   param W: [I + hidden, hidden]\n\
         \x20   next h = tanh(concat(x, h, axis = -1) @ W)\n\
         \x20   h\n\
         }\n\
         model M(x: [5, 2]) { Noisy(3) last dense(1) }\n",
    )
    .unwrap();
    let out = dir.join("model.onnx");
    let run = dl(&[
        "export",
        program.to_str().unwrap(),
        "--model",
        "M",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("error[E0901]"), "{stderr}");
    assert!(
        stderr.contains("the state `h` of `Noisy` starts random"),
        "{stderr}"
    );
    assert!(stderr.contains("noisy.dl:6:22"), "located: {stderr}");
    assert!(!out.exists());
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(left.len(), 1, "only the program, no temporary file");
}

#[test]
fn the_reset_after_gru_is_onnx_gru_with_linear_before_reset() {
    let dir = temp_dir("export-gru-after");
    let out = dir.join("gru.onnx");
    let model = export(&["tests/interop/gru_reset_after.dl"], &out);
    let graph = model.graph.unwrap();
    let gru = graph.node.iter().find(|n| n.op_type == "GRU").unwrap();
    let attribute = |name: &str| gru.attribute.iter().find(|a| a.name == name).map(|a| a.i);
    assert_eq!(attribute("linear_before_reset"), Some(1));
    assert_eq!(attribute("hidden_size"), Some(16));
    let bias = graph
        .initializer
        .iter()
        .find(|t| t.name == "gru_0.B")
        .unwrap();
    assert_eq!(bias.dims, [1, 96], "the input and the recurrent bias");
}
