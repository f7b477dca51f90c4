//! Gzip streams through `mnist(dir)`'s decompression (`dl::fuzz::gzip`).
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| dl::fuzz::gzip(bytes, &dl::fuzz::scratch("gzip")));
