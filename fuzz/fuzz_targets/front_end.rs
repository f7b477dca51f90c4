//! Source text through the whole front end (`dl::fuzz::front_end`).
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| dl::fuzz::front_end(bytes));
