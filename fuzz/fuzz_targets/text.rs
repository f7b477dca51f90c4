//! Text bytes through `text(path, seq = T)` (`dl::fuzz::text`), in a folder of this process's own.
#![no_main]
use std::sync::OnceLock;

static DIR: OnceLock<std::path::PathBuf> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let dir = DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("dl-fuzz-text-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        dir
    });
    dl::fuzz::text(bytes, dir);
});
