//! Entry points for fuzzing: each takes arbitrary bytes and drives one of
//! `dl`'s readers the way a user's input would reach it. None may panic,
//! abort or hang, whatever the bytes; errors are the expected outcome.
//!
//! The cargo-fuzz targets in `fuzz/` call these, and `tests/fuzz_corpus.rs`
//! replays the kept corpus and every finding through them on stable Rust.

use std::path::Path;

mod programs;

pub use programs::generate;

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

/// A program chosen by the bytes from the language's grammar
/// ([`generate`]), through the front end.
pub fn programs(bytes: &[u8]) {
    front_end(generate(bytes).as_bytes());
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
    load_all(
        &[
            "data d = csv(\"input.csv\", label = \"label\") | standardize | split(val = 0.2, test = 0.2, seed = 1)",
            "data d = csv(\"input.csv\", target = \"y\") | scale(2) | shuffle(seed = 3)",
            "data d = series(\"input.csv\", column = \"y\", window = 3)",
        ],
        dir,
    );
}

/// IDX bytes as `mnist(dir)` reads them: the first two bytes split the
/// rest into an images file and a labels file, written as both the training
/// and the test pair; the gzip decoder runs when the bytes start with its
/// magic.
pub fn idx(bytes: &[u8], dir: &Path) {
    let (images, labels) = split(bytes);
    if write_mnist(dir, images, "", labels) {
        load_all(
            &["data d = mnist(\".\") | scale(1 / 255) | split(val = 0.1, seed = 7)"],
            dir,
        );
    }
}

/// Gzip streams of arbitrary bytes read by `mnist(dir)`: the bytes
/// compressed (well-formed gzip around a fuzzed IDX file) and the bytes
/// behind the gzip magic (a fuzzed gzip stream).
pub fn gzip(bytes: &[u8], dir: &Path) {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let compressed = encoder.write_all(bytes).and_then(|()| encoder.finish());
    let Ok(compressed) = compressed else { return };
    let mut raw = vec![0x1f, 0x8b];
    raw.extend_from_slice(bytes);
    for images in [&compressed, &raw] {
        if write_mnist(dir, images, ".gz", &small_labels()) {
            load_all(&["data d = mnist(\".\")"], dir);
        }
    }
}

/// Text bytes through `text(path, seq = T)`, with short and long windows.
pub fn text(bytes: &[u8], dir: &Path) {
    if std::fs::write(dir.join("input.txt"), bytes).is_err() {
        return;
    }
    load_all(
        &[
            "data d = text(\"input.txt\", seq = 1)",
            "data d = text(\"input.txt\", seq = 5) | split(val = 0.2, seed = 2)",
            "data d = text(\"input.txt\", seq = 64)",
        ],
        dir,
    );
}

/// A safetensors file loaded as the weights of a small model (`--weights`,
/// `:weights`) and read for the input description `dl predict` uses.
pub fn safetensors(bytes: &[u8], dir: &Path) {
    let path = dir.join("weights.safetensors");
    if std::fs::write(&path, bytes).is_err() {
        return;
    }
    let (program, _) = crate::check_source("model M(x: [4]) { dense(3) relu batchnorm dense(2) }");
    let Some(program) = program else { return };
    for model in &program.models {
        let mut store = crate::interp::ParamStore::init(&model.graph, 0);
        let _ = crate::train::checkpoint::load(&mut store, &path);
    }
    let _ = crate::train::checkpoint::input_spec(&path);
}

/// A folder of this process's own for the targets that read files
/// (`csv`, `idx`, `gzip`, `text`, `safetensors`), made if needed.
///
/// # Panics
/// If the system's temporary folder cannot be written.
pub fn scratch(target: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dl-fuzz-{target}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}

/// Writes `images` (named with `suffix`, e.g. `.gz`) and `labels` as both
/// MNIST pairs in `dir`; false when a write failed.
fn write_mnist(dir: &Path, images: &[u8], suffix: &str, labels: &[u8]) -> bool {
    ["train", "t10k"].iter().all(|part| {
        std::fs::write(
            dir.join(format!("{part}-images-idx3-ubyte{suffix}")),
            images,
        )
        .is_ok()
            && std::fs::write(dir.join(format!("{part}-labels-idx1-ubyte")), labels).is_ok()
    })
}

/// The bytes in two: the first two bytes (big-endian) say where.
fn split(bytes: &[u8]) -> (&[u8], &[u8]) {
    let (head, rest) = bytes.split_at(bytes.len().min(2));
    let at = head.iter().fold(0usize, |a, &b| a << 8 | usize::from(b));
    rest.split_at(at.min(rest.len()))
}

/// A well-formed labels file of two labels, so that the images decide.
fn small_labels() -> Vec<u8> {
    let mut labels = crate::data::idx::LABELS_MAGIC.to_be_bytes().to_vec();
    labels.extend_from_slice(&2u32.to_be_bytes());
    labels.extend_from_slice(&[3, 7]);
    labels
}

/// Checks each one-line program declaring data set `d` (once per thread:
/// the check costs more than reading a small file) and loads it from `dir`.
fn load_all(declarations: &[&'static str], dir: &Path) {
    thread_local! {
        static CHECKED: std::cell::RefCell<std::collections::HashMap<&'static str, Option<crate::ir::Program>>> =
            std::cell::RefCell::default();
    }
    for &declaration in declarations {
        CHECKED.with_borrow_mut(|checked| {
            let program = checked
                .entry(declaration)
                .or_insert_with(|| crate::check_source(declaration).0);
            if let Some(program) = program {
                let _ = crate::run::load_data(program, "d", dir);
            }
        });
    }
}
