// Only tokio's runtimes are built in.
use benchscope::monitored_bench;

#[monitored_bench(runtime = "async-std")]
async fn fetch() {}

fn main() {}
