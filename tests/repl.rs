//! `dl repl`: scripted sessions as snapshots (each `.snap` holds the script
//! in its description), stepping checked bit for bit against a plain forward
//! pass, `.npy` inputs, and a session in a real pseudo-terminal for history,
//! tab completion and multi-line input.

mod common;

use common::temp_dir;

use dl::autodiff::Tape;
use dl::interp::{Mode, Stepper};
use dl::repl::session::Session;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs `dl repl [file]` with `script` on standard input; stdout and stderr
/// together, and the exit code.
fn repl(file: Option<&str>, script: &str) -> (String, Option<i32>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dl"))
        .arg("repl")
        .args(file)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dl runs");
    // dl may exit before reading it all (a file it cannot read).
    let _ = child
        .stdin
        .take()
        .expect("piped")
        .write_all(script.as_bytes());
    let out = child.wait_with_output().expect("dl finishes");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (text, out.status.code())
}

fn snapshot(name: &str, file: Option<&str>, script: &str) {
    let (out, code) = repl(file, script);
    assert_eq!(code, Some(0), "{out}");
    let command = format!("dl repl {}", file.unwrap_or(""))
        .trim_end()
        .to_string();
    insta::with_settings!({
        snapshot_path => "snapshots/repl",
        prepend_module_to_snapshot => false,
        description => format!("{command} <<EOF\n{script}EOF"),
    }, {
        insta::assert_snapshot!(name, out);
    });
}

#[test]
fn lenet5_stepped_on_an_mnist_sample() {
    snapshot(
        "lenet5_mnist",
        Some("examples/lenet5_mnist.dl"),
        "\
:models
:input digits.test 0
:step 4
:back
:where
:step 3
:show conv2d_0.bias
:step 5
:show
:break nan
:run
:backward
",
    );
}

#[test]
fn a_model_defined_at_the_prompt_is_stepped() {
    snapshot(
        "defined_at_the_prompt",
        None,
        "\
model Tiny(x: [4]) {
    dense(3) relu   # one hidden layer
    dense(2) softmax
}
:summary
:input random 3
:step 2
:show dense_0.weight
:params dense_1
:break softmax_0
:run
:run
model Logs(x: [3]) { log dense(2) }
:use Logs
:input random 1
:break nan
:run
:step
:back
:back
:show
",
    );
}

#[test]
fn a_model_is_built_a_statement_at_a_time() {
    snapshot(
        "built_at_the_prompt",
        None,
        "\
relu
model Net(x: [4]) { dense(3) }
:input random 2
:step 2
relu
:step
dence(2)
dense(2) softmax
:summary
:run
",
    );
}

#[test]
fn a_session_with_errors_recovers() {
    snapshot(
        "errors",
        None,
        "\
:step
:stpe 2
:input random
model Bad(x: [4]) { dense(3) relu dence(2) }
model Bad(x: [4]) { dense(3, kernel = 2)
}
model Good(x: [4]) { dense(2) }
:use Bad
:step two
:show nothing
:input digits.test 0
:input nothing.npy
:weights nothing.safetensors
:backward
:run
:step
:help step
:break
:break nope
model Good(x: [4]) { dense(3) tanh }
:load no/such/file.dl
:summary
:quit
:step
",
    );
}

#[test]
fn a_file_that_cannot_be_read_is_a_usage_error() {
    let (out, code) = repl(Some("no/such/file.dl"), ":models\n");
    assert_eq!(code, Some(2));
    assert!(out.contains("cannot read no/such/file.dl"), "{out}");
}

/// `dl repl FILE` and `:load` read a file as `dl check` does: a leading
/// byte-order mark is dropped, bytes that are not UTF-8 are E0003 and load
/// nothing.
#[test]
fn files_are_read_as_dl_check_reads_them() {
    let dir = temp_dir("repl-encoding");
    let marked = dir.join("bom.dl");
    std::fs::write(&marked, b"\xEF\xBB\xBFmodel M(x: [4]) {\n    dense(3)\n}\n").expect("write");
    let latin1 = dir.join("latin1.dl");
    std::fs::write(
        &latin1,
        b"model L(x: [4]) {\n    # caf\xE9\n    dense(2)\n}\n",
    )
    .expect("write");
    let (marked, latin1) = (marked.display(), latin1.display());
    let (out, code) = repl(
        Some(&marked.to_string()),
        &format!(":load {latin1}\n:models\n"),
    );
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains(&format!("loaded {marked}: models M")), "{out}");
    assert!(!out.contains("E0001"), "{out}");
    assert!(
        out.contains(&format!(
            "error[E0003]: {latin1} is not valid UTF-8: byte 0xE9 at offset 27 (line 2)"
        )),
        "{out}"
    );
    assert!(out.contains(&format!("{latin1}:2:10")), "{out}");
    assert!(
        out.contains("nothing loaded (the session is as it was)"),
        "{out}"
    );
    assert!(out.contains("* model M"), "the session keeps M: {out}");
    let (out, code) = repl(Some(&latin1.to_string()), ":models\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("error[E0003]"), "{out}");
    assert!(out.contains("no models"), "{out}");
}

/// The REPL starts from an empty program on purpose: a file with only
/// comments loads (E0004 is for the other commands).
#[test]
fn an_empty_file_loads() {
    let dir = temp_dir("repl-empty");
    let file = dir.join("empty.dl");
    std::fs::write(&file, "# to be written at the prompt\n").expect("write");
    let file = file.display().to_string();
    let script = format!(":load {file}\nmodel M(x: [4]) {{ dense(3) }}\n:models\n");
    for start in [None, Some(file.as_str())] {
        let (out, code) = repl(start, &script);
        assert_eq!(code, Some(0), "{out}");
        assert!(!out.contains("E0004"), "{out}");
        assert!(!out.contains("error"), "{out}");
        assert!(
            out.contains(&format!("loaded {file}: models none; data none")),
            "{out}"
        );
        assert!(out.contains("defined model M"), "{out}");
    }
}

/// What `:step` computes is exactly what a plain forward pass computes.
#[test]
fn stepping_equals_a_plain_forward_pass() {
    let mut session = Session::new(false);
    session
        .load(Path::new("examples/lenet5_mnist.dl"))
        .expect("example loads");
    session.handle(":input digits.test 3");
    // Step one layer at a time, going back now and then, to use the replay.
    let mut printed = String::new();
    for _ in 0..6 {
        printed.push_str(&session.handle(":step").text);
    }
    session.handle(":back");
    session.handle(":back");
    printed.push_str(&session.handle(":step 20").text);
    let cursor = session.current().expect("a model is in use");
    let stepped = cursor.outputs();
    assert_eq!(stepped.len(), cursor.graph.nodes.len());

    let input = cursor.input.as_ref().expect("input set").tensor.clone();
    let mut tape = Tape::inference();
    let mut stepper = Stepper::new(
        &cursor.graph,
        &cursor.store,
        input,
        &mut tape,
        Mode::Eval,
        0,
    );
    let output = stepper.run(&mut tape).expect("LeNet-5 runs");
    for (id, value) in stepped.iter().enumerate() {
        let plain = tape.value(stepper.value_of(id).expect("every node ran"));
        assert_eq!(value.shape(), plain.shape(), "node {id}");
        let bits = |t: &dl::autodiff::Tensor| t.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(value), bits(plain), "node {id}");
        // And what was printed are the statistics of the plain values.
        let stats = dl::repl::render::Stats::of(plain).to_string();
        let path = &cursor.graph.nodes[id].path;
        assert!(printed.contains(&format!("#{id} {path} ")), "{printed}");
        assert!(printed.contains(&stats), "node {id}: {stats}\n{printed}");
    }
    let predicted = dl::interp::predict(
        &cursor.graph,
        &cursor.store,
        cursor.input.as_ref().unwrap().tensor.clone(),
    )
    .unwrap();
    assert_eq!(tape.value(output), &predicted);
    assert_eq!(stepped[cursor.graph.output], predicted);
}

#[test]
fn npy_files_are_inputs() {
    let dir = temp_dir("npy");
    let path = dir.join("x.npy");
    let mut header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 4), }".to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    for v in [0.5f64, -1.0, 2.0, 0.25] {
        bytes.extend(v.to_le_bytes());
    }
    std::fs::write(&path, bytes).unwrap();

    let mut session = Session::new(false);
    session.handle("model Tiny(x: [4]) { dense(2) }");
    let reply = session.handle(&format!(":input {}", path.display()));
    assert!(reply.text.contains(": [1, 4]"), "{}", reply.text);
    let input = &session.current().unwrap().input.as_ref().unwrap().tensor;
    assert_eq!(
        input.iter().copied().collect::<Vec<f32>>(),
        [0.5, -1.0, 2.0, 0.25]
    );
    let reply = session.handle(":step");
    assert!(reply.text.contains("mean 0.4375"), "{}", reply.text);

    session.handle("model Wide(x: [5]) { dense(2) }");
    session.handle(":use Wide");
    let reply = session.handle(&format!(":input {}", path.display()));
    assert!(reply.text.contains("the model takes [5]"), "{}", reply.text);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A session in a real pseudo-terminal: completion, multi-line input,
/// Ctrl-C, Ctrl-D, and the history kept in `$DL_HISTORY` for the next one.
#[test]
fn terminal_session_completes_and_keeps_history() -> Result<(), rexpect::error::Error> {
    let dir = temp_dir("pty");
    let history = dir.join("history");
    let start = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dl"));
        command
            .args(["repl", "examples/lenet5_mnist.dl"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("DL_HISTORY", &history)
            .env("NO_COLOR", "1");
        rexpect::session::spawn_command(command, Some(20_000))
    };

    let mut p = start()?;
    p.exp_string("dl> ")?;
    // `:mod` + Tab completes to the only command starting so.
    p.send(":mod\t")?;
    p.flush()?;
    p.exp_string(":models")?;
    p.send_line("")?;
    p.exp_string("* model LeNet5")?;
    p.exp_string("dl> ")?;
    // A layer path from its last part.
    p.send(":show conv2d_0.bi\t")?;
    p.flush()?;
    p.exp_string("LeNet5.conv2d_0.bias")?;
    p.send_line("")?;
    p.exp_string("LeNet5.conv2d_0.bias: [6]")?;
    p.exp_string("dl> ")?;
    // An open brace continues the definition on the next line.
    p.send_line("model Two(x: [2]) {")?;
    p.send_line("dense(1) }")?;
    p.exp_string("defined model Two")?;
    p.exp_string("dl> ")?;
    // Ctrl-C drops the line being typed.
    p.send(":frobnicate")?;
    p.send_control('c')?;
    // The editor discards what is typed before it is ready again.
    p.exp_string("dl> ")?;
    p.send_line(":help back")?;
    p.exp_string("Go back one layer.")?;
    p.exp_string("dl> ")?;
    p.send_control('d')?;
    p.exp_eof()?;

    let saved = std::fs::read_to_string(&history).expect("history written");
    assert!(saved.contains(":models"), "{saved}");
    assert!(saved.contains(":show LeNet5.conv2d_0.bias"), "{saved}");
    assert!(!saved.contains("frobnicate"), "{saved}");

    // The next session recalls the last line with the up arrow.
    let mut p = start()?;
    p.exp_string("dl> ")?;
    p.send("\x1b[A")?;
    p.flush()?;
    p.exp_string(":help back")?;
    p.send_line("")?;
    p.exp_string("Go back one layer.")?;
    p.send_control('d')?;
    p.exp_eof()?;
    std::fs::remove_dir_all(dir).unwrap();
    Ok(())
}

/// Layers the interpreter cannot run yet stop stepping with a message; the
/// session goes on.
#[test]
fn recurrent_layers_step_and_run() {
    let mut session = Session::new(false);
    session.handle("model Seq(x: [5, 2]) { lstm(3) last dense(1) }");
    session.handle(":input random");
    let reply = session.handle(":step 2");
    assert!(
        reply.text.contains("[1, 5, 2] -> [1, 5, 3]"),
        "{}",
        reply.text
    );
    let reply = session.handle(":run");
    assert!(
        reply.text.contains("output #3 Seq.dense_0"),
        "{}",
        reply.text
    );
    let reply = session.handle(":where");
    assert!(reply.text.contains("Seq.lstm_0"), "{}", reply.text);
}

#[test]
fn a_model_with_errors_is_not_run_in_part() {
    let mut session = Session::new(false);
    let dir = temp_dir("broken");
    let file = dir.join("broken.dl");
    std::fs::write(
        &file,
        "model Broken(x: [4]) { dense(3) relu dence(2) }\n\
         model User(x: [4]) { Broken }\n\
         model Fine(x: [4]) { dense(2) }\n",
    )
    .unwrap();
    let reply = session.handle(&format!(":load {}", file.display()));
    assert!(reply.text.contains("E0102"), "{}", reply.text);
    let reply = session.handle(":use Broken");
    assert!(
        reply.text.contains("model `Broken` has errors"),
        "{}",
        reply.text
    );
    let reply = session.handle(":use User");
    assert!(
        reply.text.contains("uses `Broken`, which has errors"),
        "{}",
        reply.text
    );
    let reply = session.handle(":use Fine");
    assert!(reply.text.contains("using model Fine"), "{}", reply.text);
    // A syntax error loads nothing and keeps the session.
    std::fs::write(&file, "model Half(x: [4]) { dense(3)\n").unwrap();
    let reply = session.handle(&format!(":load {}", file.display()));
    assert!(
        reply.text.contains("the session is as it was"),
        "{}",
        reply.text
    );
    let reply = session.handle(":models");
    assert!(reply.text.contains("Fine"), "{}", reply.text);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn weights_come_from_checkpoints() {
    let dir = temp_dir("weights");
    let path = dir.join("tiny.safetensors");
    let mut session = Session::new(false);
    session.handle("model Tiny(x: [4]) { dense(2) }");
    let cursor = session.current().unwrap();
    let mut store = cursor.store.clone();
    store.values.insert(
        "Tiny.dense_0.bias".into(),
        ndarray::arr1(&[1.5f32, -2.0]).into_dyn(),
    );
    dl::train::checkpoint::save(&store, None, &path).unwrap();
    let reply = session.handle(&format!(":weights {}", path.display()));
    assert!(reply.text.contains("loaded 2 tensors"), "{}", reply.text);
    let reply = session.handle(":show Tiny.dense_0.bias");
    assert!(reply.text.contains(" 1.5000, -2.0000"), "{}", reply.text);
    // Adding a layer keeps the loaded weights and the breakpoints.
    session.handle(":break Tiny.dense_0");
    let reply = session.handle("relu");
    assert!(reply.text.contains("added to model Tiny"), "{}", reply.text);
    let reply = session.handle(":show Tiny.dense_0.bias");
    assert!(reply.text.contains(" 1.5000, -2.0000"), "{}", reply.text);
    let reply = session.handle(":break");
    assert!(reply.text.contains("Tiny.dense_0"), "{}", reply.text);

    session.handle("model Other(x: [3]) { dense(2) }");
    let reply = session.handle(":use Other");
    assert!(reply.text.contains("using model Other"), "{}", reply.text);
    let reply = session.handle(&format!(":weights {}", path.display()));
    assert!(reply.text.starts_with("error:"), "{}", reply.text);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Whatever is typed, the session answers and goes on.
#[test]
fn odd_input_never_panics() {
    let odd = [
        ":",
        "::",
        ": step",
        ":step 99999999999999999999",
        ":input random -1",
        ":input .npy",
        ":input a.b.c 1",
        ":input digits.nope 0",
        ":show \u{e9}",
        ":break \u{3000}",
        ":use",
        ":help nope",
        "model",
        "}",
        "{",
        "model M(x: [0]) { dense(2) }",
        "model M(x: [2]) { dense(0) }",
        "model N(x: [C]) { dense(2) }",
        ":use N",
        "model P(x: [2], k: int) { dense(k) }",
        ":use P",
        "model M(x: [3]) { 3 }",
        ":use M",
        ":input random",
        ":run",
        ":show",
        ":backward",
        "data d = synthetic.blobs(n = 10, classes = 3, features = 3, seed = 1)",
        ":input d.train 9",
        ":input d.train 10",
        ":backward",
        "\u{0}",
    ];
    for model in [None, Some("examples/lenet5_mnist.dl")] {
        let mut session = Session::new(false);
        if let Some(file) = model {
            session.load(Path::new(file)).unwrap();
        }
        for line in odd {
            let reply = session.handle(line);
            assert!(!reply.quit, "{line}");
        }
    }
}

/// Data that cannot be read is the diagnostic `dl train` gives (E0701 at the
/// declaration, the reader's words), and the session goes on.
#[test]
fn data_that_cannot_be_read_is_reported_as_dl_train_reports_it() {
    let dir = common::temp_dir("repl-missing-data");
    let file = dir.join("missing.dl");
    std::fs::write(&file, common::MISSING_DATA_PROGRAM).expect("write");
    let path = file.to_str().expect("utf-8 path");
    let (out, code) = repl(Some(path), ":input d.train 0\n:models\n");
    assert_eq!(code, Some(0), "{out}");
    let trained = common::dl(&["train", path]);
    let cli = String::from_utf8_lossy(&trained.stderr);
    assert!(
        out.contains("error[E0701]: cannot load data set `d`"),
        "{out}"
    );
    let first_line = |s: &str| {
        s.lines()
            .find(|l| l.contains("nowhere.csv: "))
            .map(str::to_string)
    };
    assert_eq!(first_line(&out), first_line(&cli), "{out}\n{cli}");
    let after = out.split("error[E0701]").nth(1).unwrap_or("");
    assert!(
        after.contains("* model M (input [N, 4], 15 parameters)"),
        "the session goes on: {out}"
    );
    std::fs::remove_dir_all(dir).expect("clean up");
}

/// `:backward` with a label the model's output cannot score (a class beyond
/// its width) is an error, not a panic.
#[test]
fn backward_against_a_label_the_output_cannot_score_is_an_error() {
    let (text, code) = repl(
        Some("examples/mlp_digits.dl"),
        "dense(3)\n:input digits.val 2\n:backward\n",
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("error: label 4 is not a class of this model: its output has 3 values per sample (classes 0..2)"),
        "{text}"
    );
}
