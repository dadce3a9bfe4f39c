// `args` are passed to the function, which takes none.
use benchscope::monitored_bench;

#[monitored_bench(args = [1, 2, 3])]
fn sum() -> u64 {
    6
}

fn main() {}
