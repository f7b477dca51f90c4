//! End-to-end recurrent training through the CLI: the sunspot forecast
//! against persistence, the character model against character frequencies
//! and `dl sample`, and exploding gradients with and without `clip`.

mod common;

use common::{dl, temp_dir};

use serde_json::Value;
use std::path::Path;
use std::process::Output;

fn succeeded(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The JSON lines of `dl train --json`.
fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

#[test]
fn lstm_forecast_beats_persistence_on_sunspots() {
    let out = dl(&["train", "examples/sunspots.dl", "--run", "1", "--json"]);
    succeeded(&out);
    let end = json_lines(&out).pop().expect("an end line");
    let rmse = end["test"]["rmse"].as_f64().expect("test rmse");
    let baseline = &end["test_baseline"];
    assert_eq!(baseline["name"], "persistence");
    let persistence = baseline["value"].as_f64().expect("persistence rmse");
    assert!(
        rmse < 0.8 * persistence,
        "lstm rmse {rmse}, persistence {persistence}"
    );
}

#[test]
fn character_model_beats_frequencies_and_samples_text() {
    let dir = temp_dir("char");
    let book = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/devils_dictionary.txt");
    let program = format!(
        "data book = text(\"{}\", seq = 32) | split(train = 0.25, val = 0.05, seed = 1)\n\
         model Char(x: [T, V]) {{ lstm(48) dense(V) softmax }}\n\
         train Char on book {{ loss = cross_entropy  optimizer = adam(lr = 0.01)  epochs = 2  batch = 32\n\
         clip = 1.0  metrics = [accuracy]  save = \"w.safetensors\" }}\n",
        book.display()
    );
    let file = dir.join("char.dl");
    std::fs::write(&file, program).expect("write program");
    let file = file.to_str().expect("utf-8 path");
    let out = dl(&["train", file, "--json"]);
    succeeded(&out);
    let lines = json_lines(&out);
    let last_epoch = lines
        .iter()
        .rfind(|l| l["event"] == "epoch")
        .expect("epoch lines");
    let val = last_epoch["val_loss"].as_f64().expect("val loss");
    let baseline = &last_epoch["val_baseline"];
    assert_eq!(baseline["name"], "character frequencies");
    let frequencies = baseline["value"].as_f64().expect("baseline loss");
    assert!(
        val < 0.85 * frequencies,
        "val loss {val}, frequencies {frequencies}"
    );

    let weights = dir.join("w.safetensors");
    let weights = weights.to_str().expect("utf-8");
    let sample = |seed: &str| {
        dl(&[
            "sample",
            file,
            "--weights",
            weights,
            "--length",
            "80",
            "--seed",
            seed,
        ])
    };
    let (a, b, c) = (sample("1"), sample("1"), sample("2"));
    succeeded(&a);
    let text = String::from_utf8_lossy(&a.stdout);
    assert_eq!(text.trim_end_matches('\n').chars().count(), 80, "{text:?}");
    assert_eq!(a.stdout, b.stdout, "a seed gives the same text");
    assert_ne!(a.stdout, c.stdout, "another seed gives other text");
    let primed = dl(&[
        "sample",
        file,
        "--weights",
        weights,
        "--length",
        "10",
        "--prime",
        "LOVE, n.",
    ]);
    succeeded(&primed);
    assert!(String::from_utf8_lossy(&primed.stdout).starts_with("LOVE, n."));
    let bad = dl(&["sample", file, "--weights", weights, "--prime", "\u{1F600}"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not in the training text"));
    let not_text = dl(&["sample", "examples/sunspots.dl", "--weights", weights]);
    assert_eq!(not_text.status.code(), Some(1));
    std::fs::remove_dir_all(dir).expect("clean up");
}

#[test]
fn exploding_gradients_stop_training_without_clip_and_not_with_it() {
    let unclipped = dl(&["train", "examples/exploding.dl", "--run", "1"]);
    assert_eq!(unclipped.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&unclipped.stderr);
    assert!(
        stderr.contains("E0801") && stderr.contains("Forecast.ReluRNN_0"),
        "{stderr}"
    );
    let clipped = dl(&["train", "examples/exploding.dl", "--run", "2", "--json"]);
    succeeded(&clipped);
    let end = json_lines(&clipped).pop().expect("an end line");
    let rmse = end["test"]["rmse"].as_f64().expect("test rmse");
    let persistence = end["test_baseline"]["value"].as_f64().expect("baseline");
    assert!(rmse < persistence, "rmse {rmse}, persistence {persistence}");
}

#[test]
fn recurrent_training_is_identical_with_1_and_2_threads() {
    let log = |threads: &str| {
        let out = dl(&[
            "--threads",
            threads,
            "train",
            "examples/sunspots.dl",
            "--run",
            "3",
            "--epochs",
            "3",
            "--json",
        ]);
        succeeded(&out);
        json_lines(&out)
            .into_iter()
            .map(|mut line| {
                if let Some(obj) = line.as_object_mut() {
                    obj.remove("seconds");
                    // The estimate counts the threads, as it should.
                    obj.remove("memory_estimate");
                }
                line
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(log("1"), log("2"));
}

#[test]
fn a_prime_shorter_than_the_window_is_read_as_it_is() {
    let dir = temp_dir("prime");
    std::fs::write(dir.join("ab.txt"), "abc de".repeat(400)).expect("text");
    std::fs::write(
        dir.join("ab.dl"),
        r#"data t = text("ab.txt", seq = 8) | split(train = 0.9, val = 0.1, seed = 1)
model G(x: [T, V]) { gru(32) dense(V) }
train G on t { loss = cross_entropy  optimizer = adam(lr = 0.01)  epochs = 30  batch = 16  save = "g.safetensors" }
"#,
    )
    .expect("program");
    let program = dir.join("ab.dl");
    let weights = dir.join("g.safetensors");
    succeeded(&dl(&["train", program.to_str().unwrap()]));
    // A one-character prime: the model reads one character, then two, ...
    // (padding it with seven spaces would show it a window it never saw).
    let out = dl(&[
        "sample",
        program.to_str().unwrap(),
        "--weights",
        weights.to_str().unwrap(),
        "--prime",
        "a",
        "--length",
        "17",
    ]);
    succeeded(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "abc deabc deabc de\n");
    std::fs::remove_dir_all(&dir).ok();
}
