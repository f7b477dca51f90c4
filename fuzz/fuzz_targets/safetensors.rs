//! Safetensors bytes loaded as a model's weights (`dl::fuzz::safetensors`).
#![no_main]
libfuzzer_sys::fuzz_target!(|bytes: &[u8]| dl::fuzz::safetensors(
    bytes,
    &dl::fuzz::scratch("safetensors")
));
