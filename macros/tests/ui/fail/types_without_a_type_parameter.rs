// `types` fill a type parameter the function does not have.
use benchscope::monitored_bench;

#[monitored_bench(types = [u32, u64], args = [10])]
fn sum(n: u64) -> u64 {
    n
}

fn main() {}
