//! Gzip streams through `mnist(dir)`'s decompression (`dl::fuzz::gzip`), in a folder of this process's own.
#![no_main]
use std::sync::OnceLock;

static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let dir = DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("dl-fuzz-gzip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        dir
    });
    dl::fuzz::gzip(bytes, dir);
});
