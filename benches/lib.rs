//! benchscope's measurements live beside this file, one bench target each
//! (`cargo bench -p benchscope-benches --bench NAME`); `support/` holds the
//! child-process measuring that `overhead` and `peers` share. This library
//! holds the one routine the regression benches (`detector`, `gate_target`)
//! slow down by doing more of it.

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
