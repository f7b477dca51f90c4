//! Programs chosen from the language's grammar, deep nesting and edge sizes
//! included, through the whole front end (`dl::fuzz::programs`).
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| dl::fuzz::programs(bytes));
