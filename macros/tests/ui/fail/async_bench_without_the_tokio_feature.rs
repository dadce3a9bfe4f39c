// These UI tests build benchscope without its `tokio` feature: the
// attribute is accepted, and the missing feature is named at `runtime`.
use benchscope::monitored_bench;

#[monitored_bench(runtime = "tokio-multi-thread")]
async fn fetch() -> u32 {
    7
}

fn main() {}
