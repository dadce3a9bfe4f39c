//! The bench target `benches/gate_noise.rs` drives: four routines of the
//! same loop at 200 to 200 000 work units (from about 100 ns to 100 µs),
//! doing `GATE_WORK` percent of their usual work (default 100), which is how
//! the gate bench injects a 3 % or a 10 % slowdown without rebuilding.

use std::sync::OnceLock;

use benchscope::monitored_bench;
use benchscope_benches::work;

/// Work units scaled by `GATE_WORK` percent.
fn units(base: u64) -> u64 {
    static PERCENT: OnceLock<u64> = OnceLock::new();
    let percent = *PERCENT.get_or_init(|| {
        std::env::var("GATE_WORK")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100)
    });
    base * percent / 100
}

#[monitored_bench(group = "gate", args = [200, 2_000, 20_000, 200_000])]
fn xorshift(n: u64) -> u64 {
    work(units(n))
}

benchscope::main!();
