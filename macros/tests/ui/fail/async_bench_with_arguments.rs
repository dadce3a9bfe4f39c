// The runner has nothing to pass to an async benchmark.
use benchscope::monitored_bench;

#[monitored_bench(runtime = "tokio")]
async fn fetch(id: u32) -> u32 {
    id
}

fn main() {}
