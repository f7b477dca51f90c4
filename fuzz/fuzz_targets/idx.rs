//! IDX bytes through `mnist(dir)` (`dl::fuzz::idx`).
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| dl::fuzz::idx(bytes, &dl::fuzz::scratch("idx")));
