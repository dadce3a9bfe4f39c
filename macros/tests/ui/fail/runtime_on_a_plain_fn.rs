// `runtime` means nothing on a function that is not async.
use benchscope::monitored_bench;

#[monitored_bench(runtime = "tokio")]
fn parse() -> u64 {
    "42".parse().unwrap()
}

fn main() {}
