//! CSV bytes through the `csv` and `series` readers and the transforms
//! (`dl::fuzz::csv`).
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| dl::fuzz::csv(bytes, &dl::fuzz::scratch("csv")));
