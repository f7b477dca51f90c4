//! Text bytes through `text(path, seq = T)` (`dl::fuzz::text`).
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| dl::fuzz::text(bytes, &dl::fuzz::scratch("text")));
