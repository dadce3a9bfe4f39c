//! libFuzzer target: `benchscope::fuzz::config_file` (see sdk/src/fuzz.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| benchscope::fuzz::config_file(data));
