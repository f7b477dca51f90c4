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
