//! benchscope's measurements live beside this file, one bench target each
//! (`cargo bench -p benchscope-benches --bench NAME`); `support/` holds the
//! child-process measuring that `overhead` and `peers` share. This library
//! holds the one routine the regression benches (`detector`, `gate_target`)
//! slow down by doing more of it, and the release build of the `benchscope`
//! command that the gate benches drive.

use std::hint::black_box;

/// `units` rounds of a xorshift generator: CPU-bound work whose cost is
/// proportional to `units`, so 3 % more units is 3 % more work.
pub fn work(units: u64) -> u64 {
    let mut x = black_box(0x9e37_79b9_7f4a_7c15_u64);
    for _ in 0..units {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

/// Builds the `benchscope` command in release (`--features cli`) and
/// returns its path.
pub fn release_tool() -> std::path::PathBuf {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let args = [
        "-p",
        "benchscope",
        "--features",
        "cli",
        "--bin",
        "benchscope",
    ];
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet"])
        .args(args)
        .current_dir(&root)
        .status()
        .expect("cargo build");
    assert!(status.success(), "cargo build {args:?} failed");
    root.join("target/release/benchscope")
}
