// With cases, every argument needs values.
use benchscope::monitored_bench;

#[monitored_bench(consts = [4, 8])]
fn fill<const N: usize>(seed: u8) -> [u8; N] {
    [seed; N]
}

fn main() {}
