//! The bench target `benches/gate_noise.rs` drives: four routines of the
//! same loop at 200 to 200 000 work units (from about 100 ns to 100 µs),
//! doing `GATE_WORK` percent of their usual work (default 100), which is how
//! the gate bench injects a 3 % or a 10 % slowdown without rebuilding;
//! with `GATE_ONLY=N`, only the routine of N units does (a slowdown of one
//! benchmark).

use std::sync::OnceLock;

use benchscope::monitored_bench;
use benchscope_benches::work;

/// Work units scaled by `GATE_WORK` percent (for `GATE_ONLY`'s routine
/// alone, when set).
fn units(base: u64) -> u64 {
    static PERCENT: OnceLock<(u64, Option<u64>)> = OnceLock::new();
    let number = |key: &str| std::env::var(key).ok().and_then(|v| v.parse().ok());
    let (percent, only) =
        *PERCENT.get_or_init(|| (number("GATE_WORK").unwrap_or(100), number("GATE_ONLY")));
    if only.is_some_and(|n| n != base) {
        return base;
    }
    base * percent / 100
}

#[monitored_bench(group = "gate", args = [200, 2_000, 20_000, 200_000])]
fn xorshift(n: u64) -> u64 {
    work(units(n))
}

benchscope::main!();
