//! libFuzzer target: `benchscope::fuzz::results_json` (see sdk/src/fuzz.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| benchscope::fuzz::results_json(data));
