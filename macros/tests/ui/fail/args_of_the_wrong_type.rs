// The values are of the argument's type; the error points at the value.
use benchscope::monitored_bench;

#[monitored_bench(args = [1, "two"])]
fn sum(n: u64) -> u64 {
    n
}

fn main() {}
