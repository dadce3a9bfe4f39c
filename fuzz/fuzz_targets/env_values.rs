//! libFuzzer target: `benchscope::fuzz::env_values` (see sdk/src/fuzz.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| benchscope::fuzz::env_values(data));
