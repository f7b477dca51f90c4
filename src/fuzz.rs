//! Entry points for fuzzing: each takes arbitrary bytes and drives one of
//! `dl`'s readers the way a user's input would reach it. None may panic,
//! abort or hang, whatever the bytes; errors are the expected outcome.
//!
//! The cargo-fuzz targets in `fuzz/` call these, and `tests/fuzz_corpus.rs`
//! replays the kept corpus and every finding through them on stable Rust.

use std::path::Path;

/// The front end as `dl check` runs it: read as text (lossily, as the
/// bytes of a file would be), parse, check, render the diagnostics and
/// both reports.
pub fn front_end(bytes: &[u8]) {
    let source = String::from_utf8_lossy(bytes);
    let (program, diagnostics) = crate::check_file(&source);
    let _ = crate::diagnostic::render("fuzz.dl", &source, &diagnostics, false);
    if let Some(program) = &program {
        let _ = crate::report::render_text(program, true);
    }
    let _ = crate::report::render_json(program.as_ref(), &diagnostics, &source, false);
}

/// A `.npy` array, as `:input` and `dl predict` read one.
pub fn npy(bytes: &[u8]) {
    let _ = crate::data::npy::parse(bytes);
}

/// REPL command lines, one per line, in a fresh session on an empty
/// program.
pub fn repl(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let mut session = crate::repl::session::Session::new(false);
    for line in text.lines() {
        if session.handle(line).quit {
            break;
        }
    }
}

/// The CSV reader on a file of these bytes, as `csv(path, label = ...)`
/// and `csv(path, target = ...)` read it, with every transform.
pub fn csv(bytes: &[u8], dir: &Path) {
    if std::fs::write(dir.join("input.csv"), bytes).is_err() {
        return;
    }
    for declaration in [
        "data d = csv(\"input.csv\", label = \"label\") | standardize | split(val = 0.2, test = 0.2, seed = 1)",
        "data d = csv(\"input.csv\", target = \"y\") | scale(2) | shuffle(seed = 3)",
        "data d = series(\"input.csv\", column = \"y\", window = 3)",
    ] {
        let (program, _) = crate::check_source(declaration);
        if let Some(program) = program {
            let _ = crate::run::load_data(&program, "d", dir);
        }
    }
}
