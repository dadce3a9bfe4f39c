//! libFuzzer target: `benchscope::fuzz::tls_pem` (see sdk/src/fuzz.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| benchscope::fuzz::tls_pem(data));
