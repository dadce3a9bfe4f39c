//! libFuzzer target: `benchscope::fuzz::live_message` (see sdk/src/fuzz.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| benchscope::fuzz::live_message(data));
