//! Compile-time behaviour of `#[monitored_bench]`: every misuse is a compile
//! error pointing at the offending token (`ui/fail`, with `.stderr`
//! snapshots), and every supported shape compiles (`ui/pass`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
