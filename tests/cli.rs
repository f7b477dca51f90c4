//! The `dl` binary: exit codes, output streams and formats.

mod common;

use common::{dl, temp_dir};

#[test]
fn check_succeeds_on_an_example_and_prints_the_table() {
    let out = dl(&["check", "examples/lenet5.dl"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("LeNet5.conv2d_0"), "{stdout}");
    assert!(stdout.contains("total parameters: 61,706"), "{stdout}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn missing_file_is_a_usage_error() {
    let out = dl(&["check", "no/such/file.dl"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read no/such/file.dl"));
}

#[test]
fn bad_usage_exits_with_2() {
    assert_eq!(dl(&["check"]).status.code(), Some(2));
    assert_eq!(dl(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn json_format_gives_models_and_counts() {
    let out = dl(&["check", "examples/vgg16.dl", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(value["models"][0]["name"], "VGG16");
    assert_eq!(value["models"][0]["total_params"], 138_357_544);
    assert_eq!(value["diagnostics"].as_array().map(Vec::len), Some(0));
}

#[test]
fn diagnostics_are_uncoloured_when_piped() {
    let dir = temp_dir("cli");
    let file = dir.join("bad.dl");
    std::fs::write(&file, "model M(x: [4]) {\n    dence(3)\n}\n").expect("write");
    let out = dl(&["check", file.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error[E0102]"), "{stderr}");
    assert!(stderr.contains("did you mean `dense`?"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "no ANSI escapes when piped");
    let json = dl(&[
        "check",
        file.to_str().expect("utf-8 path"),
        "--format",
        "json",
    ]);
    assert_eq!(json.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
    assert_eq!(value["diagnostics"][0]["code"], "E0102");
    assert_eq!(value["diagnostics"][0]["line"], 2);
}

/// Runs `dl` on `file` as a string argument.
fn dl_on(command: &str, file: &std::path::Path, more: &[&str]) -> std::process::Output {
    let mut args = vec![command, file.to_str().expect("utf-8 path")];
    args.extend(more);
    dl(&args)
}

/// The text of `dl`'s output with `dir`'s path and `name` taken out, so that
/// the outputs for two files can be compared.
fn anonymous(bytes: &[u8], dir: &std::path::Path, name: &str) -> String {
    String::from_utf8_lossy(bytes)
        .replace(&dir.display().to_string(), "DIR")
        .replace(name, "FILE")
}

#[test]
fn a_byte_order_mark_changes_nothing() {
    let dir = temp_dir("cli-bom");
    let good = "model M(x: [4]) {\n    dense(3) relu\n}\n";
    // The unknown name is on line 2, column 14; the unknown model on line 4.
    let bad = "model M(x: [4]) {\n    dense(3) relo\n}\ntrain N on D { loss = mse }\n";
    for (name, text) in [("good", good), ("bad", bad)] {
        let plain = dir.join(format!("{name}.dl"));
        let marked = dir.join(format!("{name}_bom.dl"));
        std::fs::write(&plain, text).expect("write");
        std::fs::write(&marked, [b"\xEF\xBB\xBF", text.as_bytes()].concat()).expect("write");
        for (command, more) in [("check", &[][..]), ("check", &["--format", "json"][..])] {
            let (a, b) = (dl_on(command, &plain, more), dl_on(command, &marked, more));
            assert_eq!(
                a.status.code(),
                b.status.code(),
                "{name}: {command} {more:?}"
            );
            let plain_name = format!("{name}.dl");
            let marked_name = format!("{name}_bom.dl");
            assert_eq!(
                anonymous(&a.stdout, &dir, &plain_name),
                anonymous(&b.stdout, &dir, &marked_name),
                "{name}: {command} {more:?}"
            );
            assert_eq!(
                anonymous(&a.stderr, &dir, &plain_name),
                anonymous(&b.stderr, &dir, &marked_name),
                "{name}: {command} {more:?}"
            );
        }
    }
    let out = dl_on("check", &dir.join("good_bom.dl"), &[]);
    assert_eq!(out.status.code(), Some(0));
    let out = dl_on("check", &dir.join("bad_bom.dl"), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad_bom.dl:2:14"), "{stderr}");
    assert!(stderr.contains("bad_bom.dl:4:7"), "{stderr}");
    // `dl train` reads the file the same way.
    let out = dl_on("train", &dir.join("bad_bom.dl"), &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad_bom.dl:2:14"), "{stderr}");
    assert!(!stderr.contains("E0001"), "{stderr}");
}

#[test]
fn a_file_that_is_not_utf8_is_e0003() {
    let dir = temp_dir("cli-latin1");
    let file = dir.join("latin1.dl");
    // 0xE9 is `é` in Latin-1: line 2, byte offset 25.
    std::fs::write(&file, b"model M(x: [4]) {\n  # caf\xE9\n  dense(3)\n}\n").expect("write");
    let out = dl_on("check", &file, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let path = file.display();
    assert!(stderr.contains("error[E0003]"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{path} is not valid UTF-8: byte 0xE9 at offset 25 (line 2)"
        )),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("{path}:2:8")), "{stderr}");
    assert!(stderr.contains("save the file as UTF-8"), "{stderr}");
    assert!(!stderr.contains("stream did not contain"), "{stderr}");
    let json = dl_on("check", &file, &["--format", "json"]);
    assert_eq!(json.status.code(), Some(1));
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
    assert_eq!(value["diagnostics"][0]["code"], "E0003");
    assert_eq!(value["diagnostics"][0]["line"], 2);
    for (command, more) in [
        ("train", &[][..]),
        ("eval", &["--weights", "w.safetensors"][..]),
        ("sample", &["--weights", "w.safetensors"][..]),
        ("bench", &[][..]),
    ] {
        let out = dl_on(command, &file, more);
        assert_eq!(out.status.code(), Some(1), "dl {command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("error[E0003]"), "dl {command}: {stderr}");
    }
    // A UTF-16 file says so.
    let utf16 = dir.join("utf16.dl");
    std::fs::write(&utf16, b"\xFF\xFEm\0o\0d\0").expect("write");
    let out = dl_on("check", &utf16, &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("byte 0xFF at offset 0 (line 1)"),
        "{stderr}"
    );
    assert!(stderr.contains("UTF-16"), "{stderr}");
}

#[test]
fn an_empty_program_is_e0004() {
    let dir = temp_dir("cli-empty");
    for (name, text) in [
        ("empty.dl", ""),
        ("blank.dl", "\n  \r\n\t\n"),
        ("comments.dl", "# a model goes here\n"),
    ] {
        let file = dir.join(name);
        std::fs::write(&file, text).expect("write");
        for (command, more) in [
            ("check", &[][..]),
            ("train", &[][..]),
            ("bench", &[][..]),
            ("eval", &["--weights", "w.safetensors"][..]),
        ] {
            let out = dl_on(command, &file, more);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "dl {command} {name}: {stderr}");
            assert!(
                stderr.contains("error[E0004]: the program is empty"),
                "dl {command} {name}: {stderr}"
            );
            assert!(stderr.contains(&format!("{name}:1:1")), "{stderr}");
        }
        let json = dl_on("check", &file, &["--format", "json"]);
        assert_eq!(json.status.code(), Some(1));
        let value: serde_json::Value = serde_json::from_slice(&json.stdout).expect("valid JSON");
        assert_eq!(value["diagnostics"][0]["code"], "E0004");
    }
}

#[test]
fn data_that_cannot_be_read_is_e0701_at_its_declaration() {
    let dir = temp_dir("cli-missing-data");
    let file = dir.join("missing.dl");
    std::fs::write(&file, common::MISSING_DATA_PROGRAM).expect("write");
    let no_weights: &[&str] = &["--weights", "none.safetensors"];
    for (command, more) in [("train", &[][..]), ("eval", no_weights)] {
        let out = dl_on(command, &file, more);
        assert_eq!(out.status.code(), Some(1), "{command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("error[E0701]: cannot load data set `d`"),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!("{}:1:1", file.display())),
            "{stderr}"
        );
        assert!(stderr.contains("nowhere.csv: file not found"), "{stderr}");
    }
    std::fs::remove_dir_all(dir).expect("clean up");
}

/// `--threads` has a ceiling: thousands of workers only make a run slower
/// (and each has its own stack), so asking for them is a usage error.
#[test]
fn threads_above_the_ceiling_or_zero_are_usage_errors() {
    for asked in ["5000", "20000", "0"] {
        let out = dl(&["--threads", asked, "check", "examples/mlp_digits.dl"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{asked}: {stderr}");
        assert!(stderr.contains("is not in 1..=256"), "{stderr}");
    }
    let out = dl(&["--threads", "256", "check", "examples/mlp_digits.dl"]);
    assert!(out.status.success());
}

/// A save removes the temporary files earlier writers of the same
/// checkpoint left when they were killed mid-write (`kill -9`), but not
/// those of a writer still running.
#[test]
fn a_save_removes_the_temporary_files_of_dead_writers_only() {
    let dir = temp_dir("stale-temporaries");
    let program = dir.join("blobs.dl");
    std::fs::write(
        &program,
        "data d = synthetic.blobs(n = 60, classes = 3, features = 2, seed = 1)\n\
         model M(x: [2]) { dense(3) softmax }\n\
         train M on d { loss = cross_entropy  optimizer = sgd(lr = 0.1)  epochs = 1  batch = 16\n\
         save = \"model.safetensors\" }\n",
    )
    .unwrap();
    // No process has a PID this large (Linux caps them at 2^22).
    let dead = dir.join(".model.safetensors.tmp-999999999");
    let alive = dir.join(format!(".model.safetensors.tmp-{}", std::process::id()));
    let other = dir.join(".other.safetensors.tmp-999999999");
    for f in [&dead, &alive, &other] {
        std::fs::write(f, "partial").unwrap();
    }
    let out = dl(&["train", program.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("model.safetensors").exists());
    assert!(!dead.exists(), "the dead writer's file is gone");
    assert!(alive.exists(), "a running writer's file stays");
    assert!(other.exists(), "another checkpoint's file stays");
}

/// With `--json`, a run that fails says so on stdout too: the diagnostic as
/// an `error` event with its code and location, and a non-zero exit.
#[test]
fn with_json_a_diverging_run_ends_with_an_error_event() {
    let out = dl(&["train", "examples/exploding.dl", "--run", "1", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("events")).expect("a JSON line");
    assert_eq!(last["event"], "error", "{stdout}");
    assert_eq!(last["code"], "E0801");
    assert_eq!(last["line"], 22);
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("training diverged"),
        "{last}"
    );
    // An error with no place in the source is an event too.
    let out = dl(&["train", "examples/mlp_digits.dl", "--run", "9", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let event: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).trim()).expect("a JSON line");
    assert_eq!(event["event"], "error");
    assert!(event["code"].is_null());
    assert!(
        event["message"]
            .as_str()
            .unwrap()
            .contains("there is no run 9")
    );
}

/// Nesting that would exhaust the parser's or the checker's stack is E0005
/// at the first level past the limit, never a stack overflow.
#[test]
fn deep_nesting_is_e0005_not_a_stack_overflow() {
    let dir = temp_dir("deep-nesting");
    let cases = [
        (
            "parens",
            format!(
                "model M(x: [2]) {{ {}x{} }}\n",
                "(".repeat(3800),
                ")".repeat(3800)
            ),
        ),
        (
            "many parens",
            format!(
                "model M(x: [2]) {{ {}x{} }}\n",
                "(".repeat(9000),
                ")".repeat(9000)
            ),
        ),
        (
            "shapes",
            format!(
                "model M(x: {}2{}) {{ x }}\n",
                "[".repeat(3200),
                "]".repeat(3200)
            ),
        ),
        (
            "calls",
            format!(
                "model M(x: [2]) {{ let y = {}x{}\n y }}\n",
                "relu(".repeat(2700),
                ")".repeat(2700)
            ),
        ),
        (
            "signs",
            format!("model M(x: [2]) {{ let y = {}x\n y }}\n", "- ".repeat(9900)),
        ),
    ];
    for (what, source) in cases {
        let file = dir.join(format!("{}.dl", what.replace(' ', "_")));
        std::fs::write(&file, source).unwrap();
        let out = dl(&["check", file.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert!(stderr.contains("error[E0005]"), "{what}: {stderr}");
    }
}

/// A model far too large for any machine is E0804 before anything is
/// allocated (`dl train`), and an error at the REPL, never an abort in the
/// allocator. (The check reads the memory available from Linux's
/// `/proc/meminfo`.)
#[cfg(target_os = "linux")]
#[test]
fn a_model_larger_than_memory_is_e0804_before_anything_is_allocated() {
    let dir = temp_dir("too-large");
    let program = dir.join("huge.dl");
    std::fs::write(
        &program,
        "data d = synthetic.blobs(n = 60, classes = 3, features = 4, seed = 1)\n\
         model M(x: [4]) { dense(1000000) relu dense(1000000) relu dense(3) softmax }\n\
         train M on d { loss = cross_entropy  optimizer = adam(lr = 0.01)  epochs = 1  batch = 16 }\n",
    )
    .unwrap();
    let out = dl(&["train", program.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error[E0804]: training `M` needs about 16.0 TB of memory"),
        "{stderr}"
    );
    assert!(
        stderr.contains("parameters 4.0 TB, their gradients 4.0 TB, optimizer state 8.0 TB"),
        "{stderr}"
    );
    assert!(
        stderr.contains("huge.dl:3:1"),
        "located at the train block: {stderr}"
    );
    let check = dl(&["check", program.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(1), "dl check: {stderr}");
    assert!(
        stderr.contains("error[E0804]: training `M` needs about 16.0 TB of memory"),
        "dl check: {stderr}"
    );

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dl"))
        .arg("repl")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"model F(x: [1000000]) { dense(1000000) }\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("`F` needs about 8.0 TB of memory (4.0 TB for its parameters"),
        "{text}"
    );
}

/// An allocation that fails although the estimate fitted (the process is
/// given less memory than the machine has: `ulimit -v`) is E0805 with exit
/// code 1, also as a JSON event, never an abort.
#[cfg(target_os = "linux")]
#[test]
fn an_allocation_that_fails_is_e0805_not_an_abort() {
    let script = format!(
        "ulimit -v 300000; exec '{}' train examples/lenet5_mnist.dl --epochs 1 --json",
        env!("CARGO_BIN_EXE_dl")
    );
    let out = std::process::Command::new("sh")
        .args(["-c", &script])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error[E0805]: out of memory: an allocation of "),
        "{stderr}"
    );
    let event = stdout.lines().last().unwrap_or_default();
    let event: serde_json::Value = serde_json::from_str(event).expect("a JSON event");
    assert_eq!(event["event"], "error", "{stdout}");
    assert_eq!(event["code"], "E0805", "{stdout}");
    assert!(event["bytes"].as_u64().unwrap() > 0, "{stdout}");
}

/// A reader that stops early (`dl train ... | head -1`) ends `dl` as it
/// ends other Unix tools (SIGPIPE), not with a panic.
#[cfg(unix)]
#[test]
fn a_closed_stdout_ends_the_program_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dl"))
        .args(["train", "examples/sunspots.dl", "--epochs", "3"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{stderr}");
}

/// A `save =` path that cannot be written stops `dl train` before the data
/// is read or a step runs (E0806 at the setting, with the plain reason), and
/// `dl check` warns of it and of a missing data file (W0801, W0701).
#[test]
fn an_unwritable_save_path_is_found_before_the_first_step() {
    let dir = temp_dir("save-path");
    std::fs::write(dir.join("in-the-way"), b"a file").unwrap();
    let program = dir.join("save.dl");
    std::fs::write(
        &program,
        "data d = csv(\"missing.csv\", label = \"y\")\n\
         data e = synthetic.blobs(n = 60, classes = 3, features = 4, seed = 1)\n\
         model M(x: [4]) { dense(3) softmax }\n\
         train M on e {\n    loss = cross_entropy  optimizer = adam(lr = 0.01)  epochs = 1000  batch = 16\n    \
         save = \"in-the-way/m.safetensors\"\n}\n",
    )
    .unwrap();
    let out = dl(&["train", program.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error[E0806]: cannot save the checkpoint to `in-the-way/m.safetensors`"),
        "{stderr}"
    );
    assert!(stderr.contains("save.dl:6:12"), "at the setting: {stderr}");
    assert!(
        stderr.contains("in-the-way` is a file, so no folder can be made there"),
        "{stderr}"
    );
    assert!(!stdout.contains("epoch"), "no step ran: {stdout}");

    let check = dl(&["check", program.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(0), "warnings only: {stderr}");
    assert!(
        stderr.contains("warning[W0801]: cannot save the checkpoint to `in-the-way/m.safetensors`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning[W0701]: the data file `missing.csv` of `d` does not exist"),
        "{stderr}"
    );
}

/// Ctrl-C (SIGINT) or SIGTERM during `dl train` ends the current step,
/// saves its weights next to the `save` path, says where, and exits 130;
/// the weights load (`dl eval --weights`). With `save_every = 1` the
/// checkpoint of the last whole epoch is there too.
#[cfg(unix)]
#[test]
fn an_interrupted_run_keeps_its_weights_and_exits_130() {
    use std::io::BufRead;
    for (signal, name) in [(libc::SIGINT, "sigint"), (libc::SIGTERM, "sigterm")] {
        let dir = temp_dir(&format!("interrupt-{name}"));
        let program = dir.join("long.dl");
        std::fs::write(
            &program,
            "data d = synthetic.blobs(n = 2000, classes = 3, features = 8, seed = 1)\n\
             model M(x: [8]) { dense(64) relu dense(3) softmax }\n\
             train M on d {\n    loss = cross_entropy  optimizer = adam(lr = 0.001)  epochs = 100000  batch = 16\n    \
             save = \"runs/m.safetensors\"  save_every = 1\n}\n",
        )
        .unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dl"))
            .args(["train", program.to_str().unwrap(), "--json"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        // Training is under way once an epoch has ended.
        let mut events = Vec::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let epoch = line.contains("\"event\":\"epoch\"");
            events.push(line);
            if epoch {
                break;
            }
        }
        // SAFETY: signalling our own child, still running.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
        events.extend(lines.map(Result::unwrap));
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{name}: {stderr}");
        let saved = dir.join("runs/m.interrupted.safetensors");
        assert!(
            stderr.contains(&format!("the weights are saved to {}", saved.display())),
            "{name}: {stderr}"
        );
        assert!(
            dir.join("runs/m.safetensors").exists(),
            "{name}: `save_every = 1` saved the first epoch"
        );
        let last: serde_json::Value = serde_json::from_str(events.last().unwrap()).unwrap();
        assert_eq!(last["event"], "interrupted", "{name}: {events:?}");
        assert!(last["step"].as_u64().unwrap() >= 1, "{name}: {last}");
        let eval = dl(&[
            "eval",
            program.to_str().unwrap(),
            "--weights",
            saved.to_str().unwrap(),
        ]);
        assert_eq!(
            eval.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&eval.stderr)
        );
    }
}
