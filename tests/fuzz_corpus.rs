//! Replays the fuzz corpus and every kept finding (`fuzz/corpus/TARGET/`,
//! `fuzz/findings/TARGET/`) through the entry points the cargo-fuzz targets
//! call (`dl::fuzz`), on stable Rust: what the fuzzer found stays fixed.
//! A panic fails the test and names the file.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

fn files(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files: Vec<PathBuf> = ["corpus", "findings"]
        .iter()
        .filter_map(|kind| std::fs::read_dir(root.join(kind).join(target)).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, run: impl Fn(&[u8])) {
    let files = files(target);
    assert!(!files.is_empty(), "no corpus for {target}");
    let panicked: Vec<String> = files
        .iter()
        .filter(|f| {
            let bytes = std::fs::read(f).expect("a corpus file");
            catch_unwind(AssertUnwindSafe(|| run(&bytes))).is_err()
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(panicked.is_empty(), "{target} panics on: {panicked:#?}");
}

#[test]
fn front_end_corpus() {
    replay("front_end", dl::fuzz::front_end);
}

#[test]
fn npy_corpus() {
    replay("npy", dl::fuzz::npy);
}

#[test]
fn repl_corpus() {
    replay("repl", dl::fuzz::repl);
}

#[test]
fn programs_corpus() {
    replay("programs", dl::fuzz::programs);
}

#[test]
fn csv_corpus() {
    let dir = dl::fuzz::scratch("csv");
    replay("csv", |bytes| dl::fuzz::csv(bytes, &dir));
}

#[test]
fn idx_corpus() {
    let dir = dl::fuzz::scratch("idx");
    replay("idx", |bytes| dl::fuzz::idx(bytes, &dir));
}

#[test]
fn gzip_corpus() {
    let dir = dl::fuzz::scratch("gzip");
    replay("gzip", |bytes| dl::fuzz::gzip(bytes, &dir));
}

#[test]
fn text_corpus() {
    let dir = dl::fuzz::scratch("text");
    replay("text", |bytes| dl::fuzz::text(bytes, &dir));
}

#[test]
fn safetensors_corpus() {
    let dir = dl::fuzz::scratch("safetensors");
    replay("safetensors", |bytes| dl::fuzz::safetensors(bytes, &dir));
}
