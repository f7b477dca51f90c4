//! REPL command lines in a fresh session (`dl::fuzz::repl`).
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| dl::fuzz::repl(bytes));
