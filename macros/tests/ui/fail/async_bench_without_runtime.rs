// An async fn with a benchmark's option but no runtime: application mode
// has no samples, and the message says how to make it a benchmark.
use benchscope::monitored_bench;

#[monitored_bench(samples = 20)]
async fn fetch() -> u32 {
    7
}

fn main() {}
