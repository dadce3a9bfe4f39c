//! libFuzzer target: `benchscope::fuzz::otlp_headers` (see sdk/src/fuzz.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| benchscope::fuzz::otlp_headers(data));
