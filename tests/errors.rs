//! The corpus of wrong programs in `tests/errors/*.dl`.
//!
//! Every file is a small, realistic mistake. Its leading comments say what the
//! checker must report:
//!
//! - `# expect: E0xxx` (one line per code): this code must be reported. A file
//!   expecting an `E` code must be rejected; a file expecting only `W` codes
//!   (or nothing) must be accepted.
//! - `# known-issue: ...`: the diagnostics are not yet what they should be (a
//!   cascade, a duplicate, a missing diagnostic). Without this line, the
//!   program must produce exactly the expected diagnostics, each once: one
//!   mistake, one diagnostic.
//!
//! Each file is checked as `dl check` checks it (`dl::check_file`, so a
//! file with only comments is E0004). Files are read as text: E0003 (a file
//! that is not UTF-8) is tested through the binary in `tests/cli.rs`.
//!
//! The rendered diagnostics are snapshotted in `tests/snapshots/errors/`,
//! each snapshot holding the program and what `dl check` says about it.
//! Accept new or changed snapshots with
//! `INSTA_UPDATE=always cargo test --release --test errors`, then read them.

use dl::diagnostic::{Code, Diagnostic, Severity, render};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The separator between the program and its diagnostics in a snapshot.
const SEPARATOR: &str = "──────── dl check ────────";

/// One program of the corpus.
struct Case {
    path: PathBuf,
    /// The file name, e.g. `08_unknown_layer.dl`.
    file_name: String,
    /// The file name without `.dl`, used as the snapshot name.
    name: String,
    source: String,
    /// The codes of `# expect:` lines, in order.
    expected: Vec<String>,
    /// Whether a `# known-issue:` line relaxes the one-mistake-one-diagnostic rule.
    known_issue: bool,
}

impl Case {
    fn expects_error(&self) -> bool {
        self.expected.iter().any(|c| c.starts_with('E'))
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("errors")
}

fn corpus() -> Vec<Case> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/errors exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "dl"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 36,
        "expected at least 36 programs in tests/errors, found {}",
        paths.len()
    );
    paths
        .into_iter()
        .map(|path| {
            let source = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let file_name = path.file_name().unwrap().to_string_lossy().into_owned();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let mut expected = Vec::new();
            let mut known_issue = false;
            for line in source.lines() {
                let Some(comment) = line.trim().strip_prefix('#') else {
                    continue;
                };
                let comment = comment.trim();
                if let Some(code) = comment.strip_prefix("expect:") {
                    let code = code.trim();
                    assert!(
                        code.len() == 5
                            && (code.starts_with('E') || code.starts_with('W'))
                            && code[1..].chars().all(|c| c.is_ascii_digit()),
                        "{file_name}: `# expect:` needs a code such as E0102, found `{code}`"
                    );
                    expected.push(code.to_string());
                } else if comment.starts_with("known-issue:") {
                    known_issue = true;
                }
            }
            assert!(
                !expected.is_empty() || known_issue,
                "{file_name}: no `# expect:` line (add a `# known-issue:` line if the mistake is not reported yet)"
            );
            Case {
                path,
                file_name,
                name,
                source,
                expected,
                known_issue,
            }
        })
        .collect()
}

/// The 1-based line of a byte offset.
fn line_of(source: &str, offset: usize) -> usize {
    source[..offset.min(source.len())].matches('\n').count() + 1
}

fn check(case: &Case) -> Vec<Diagnostic> {
    let source = case.source.as_str();
    let result = catch_unwind(|| dl::check_file(source));
    match result {
        Ok((_, diagnostics)) => diagnostics,
        Err(_) => panic!("{}: dl::check_file panicked", case.file_name),
    }
}

/// Runs `f` on every case, then fails with every case's failure at once, so
/// that one run shows the whole state of the corpus.
fn for_each_case(f: impl Fn(&Case)) {
    let cases = corpus();
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| f(case))) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panicked".to_string());
            failures.push(format!("{}:\n{message}", case.file_name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} programs failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

fn check_expectations(case: &Case, diagnostics: &[Diagnostic]) {
    let listing: Vec<String> = diagnostics
        .iter()
        .map(|d| format!("  {} {:?}: {}", d.code, d.span(), d.message))
        .collect();
    let listing = listing.join("\n");
    for code in &case.expected {
        assert!(
            diagnostics.iter().any(|d| d.code.as_str() == code),
            "{}: expected {code}, got:\n{listing}",
            case.file_name
        );
    }
    let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error);
    if case.expects_error() {
        assert!(
            errors.clone().count() > 0,
            "{}: expected an error, got:\n{listing}",
            case.file_name
        );
    } else {
        assert_eq!(
            errors.clone().count(),
            0,
            "{}: expected no error, got:\n{listing}",
            case.file_name
        );
    }
    for d in diagnostics {
        if case.expected.iter().any(|c| c == d.code.as_str()) {
            let span = d.span();
            assert!(
                span.start <= span.end && (span.end as usize) <= case.source.len(),
                "{}: the primary span {span:?} of {} lies outside the source ({} bytes)",
                case.file_name,
                d.code,
                case.source.len()
            );
        }
        if d.severity == Severity::Error {
            assert!(
                d.code.as_str().starts_with('E'),
                "{}: the error {} has a warning code",
                case.file_name,
                d.code
            );
        } else {
            assert!(
                d.code.as_str().starts_with('W'),
                "{}: the warning {} has an error code",
                case.file_name,
                d.code
            );
        }
    }
    if !case.known_issue {
        let mut found: Vec<&str> = diagnostics.iter().map(|d| d.code.as_str()).collect();
        let mut wanted: Vec<&str> = case.expected.iter().map(String::as_str).collect();
        found.sort_unstable();
        wanted.sort_unstable();
        assert_eq!(
            found, wanted,
            "{}: one mistake, one diagnostic: expected exactly {wanted:?}, got:\n{listing}\n\
             (if this is a known shortcoming, say so in a `# known-issue:` line)",
            case.file_name
        );
    }
}

/// What a snapshot holds: the program, then what `dl check` says about it.
fn snapshot_text(case: &Case, diagnostics: &[Diagnostic]) -> String {
    let rendered = render(&case.file_name, &case.source, diagnostics, false);
    let rendered = if rendered.trim().is_empty() {
        "(no diagnostics)\n".to_string()
    } else {
        rendered
    };
    let mut text = case.source.clone();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(SEPARATOR);
    text.push('\n');
    text.push_str(&rendered);
    text
}

#[test]
fn wrong_programs_are_diagnosed() {
    for_each_case(|case| {
        let diagnostics = check(case);
        check_expectations(case, &diagnostics);
        let text = snapshot_text(case, &diagnostics);
        insta::with_settings!({
            snapshot_path => "snapshots/errors",
            prepend_module_to_snapshot => false,
            input_file => &case.path,
            omit_expression => true,
        }, {
            insta::assert_snapshot!(case.name.as_str(), text);
        });
    });
}

#[test]
fn dl_check_exit_codes_and_locations() {
    for_each_case(|case| {
        let output = Command::new(env!("CARGO_BIN_EXE_dl"))
            .arg("check")
            .arg(&case.file_name)
            .current_dir(corpus_dir())
            .output()
            .expect("the dl binary runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let want = if case.expects_error() { 1 } else { 0 };
        assert_eq!(
            output.status.code(),
            Some(want),
            "{}: `dl check` should exit with {want}; stderr:\n{stderr}",
            case.file_name
        );
        assert!(
            !stderr.contains("panicked"),
            "{}: `dl check` panicked:\n{stderr}",
            case.file_name
        );
        let Some(first) = case.expected.first() else {
            return;
        };
        let diagnostics = check(case);
        let diagnostic = diagnostics
            .iter()
            .find(|d| d.code.as_str() == first)
            .unwrap_or_else(|| panic!("{}: {first} is not reported", case.file_name));
        let line = line_of(&case.source, diagnostic.span().start as usize);
        let location = format!("{}:{line}:", case.file_name);
        assert!(
            stderr.contains(&location),
            "{}: stderr should point at `{location}`:\n{stderr}",
            case.file_name
        );
        assert!(
            stderr.contains(&format!("[{first}]")),
            "{}: stderr should name {first}:\n{stderr}",
            case.file_name
        );
    });
}

/// Codes reported only while running (reading files, training), with the
/// test that shows each one; every other code needs a case in the corpus.
const RUNTIME_CODES: [(Code, &str); 10] = [
    (
        Code::E0806,
        "tests/cli.rs: a save path with a file where its folder should be",
    ),
    (
        Code::W0701,
        "tests/cli.rs: `dl check` on a missing data file",
    ),
    (
        Code::W0801,
        "tests/cli.rs: `dl check` on an unwritable save path",
    ),
    (
        Code::E0804,
        "tests/cli.rs: a model too large for the machine's memory",
    ),
    (
        Code::E0805,
        "tests/cli.rs: an allocation that fails under `ulimit -v`",
    ),
    (
        Code::E0003,
        "tests/cli.rs and tests/repl.rs: a .dl file that is not UTF-8",
    ),
    (Code::E0701, "tests/cli.rs: data that cannot be read"),
    (Code::E0801, "tests/recurrent.rs: training that diverges"),
    (
        Code::E0803,
        "tests/train.rs: a rank-deficient least-squares design",
    ),
    (Code::E0901, "tests/export.rs: a user cell exported to ONNX"),
];

#[test]
fn every_code_is_documented_and_shown_by_a_case() {
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/errors.md"))
            .expect("docs/errors.md is readable");
    let documented: Vec<&str> = docs
        .lines()
        .filter_map(|line| line.strip_prefix("| "))
        .filter_map(|rest| rest.split(' ').next())
        .filter(|code| code.len() == 5 && (code.starts_with('E') || code.starts_with('W')))
        .collect();
    let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    for code in &codes {
        assert!(
            documented.contains(code),
            "{code} has no row in docs/errors.md"
        );
    }
    for code in &documented {
        assert!(
            codes.contains(code),
            "docs/errors.md lists {code}, which dl never reports"
        );
    }
    let expected: Vec<String> = corpus().into_iter().flat_map(|c| c.expected).collect();
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|code| !RUNTIME_CODES.iter().any(|(c, _)| c == *code))
        .map(|code| code.as_str())
        .filter(|code| !expected.iter().any(|e| e == code))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a case in tests/errors/: {missing:?}"
    );
}
