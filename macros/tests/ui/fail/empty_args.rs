// An empty list would make no case at all.
use benchscope::monitored_bench;

#[monitored_bench(args = [])]
fn sum(n: u64) -> u64 {
    n
}

fn main() {}
