//! libFuzzer target: `benchscope::fuzz::http_request` (see sdk/src/fuzz.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| benchscope::fuzz::http_request(data));
