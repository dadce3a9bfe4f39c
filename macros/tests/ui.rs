//! Compile-time behaviour of `#[monitored_bench]`: every misuse is a compile
//! error pointing at the offending token (`ui/fail`, with `.stderr`
//! snapshots), and every supported shape compiles (`ui/pass`).

#[test]
fn ui() {
    // The `.stderr` snapshots hold the stable compiler's wording; beta and
    // nightly reword diagnostics, so there the snapshots would fail for
    // reasons that are not the macro's.
    let version = std::process::Command::new(std::env::var("RUSTC").unwrap_or("rustc".into()))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if version.contains("nightly") || version.contains("beta") || version.contains("-dev") {
        eprintln!("UI snapshots are checked on stable only; this is {version}");
        return;
    }
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
