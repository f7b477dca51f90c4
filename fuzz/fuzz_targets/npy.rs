//! `.npy` bytes through the array reader (`dl::fuzz::npy`).
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| dl::fuzz::npy(bytes));
