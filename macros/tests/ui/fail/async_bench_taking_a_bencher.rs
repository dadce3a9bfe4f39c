// Setup around an async benchmark goes in a plain fn with `to_async`.
use benchscope::{Bencher, monitored_bench};

#[monitored_bench(runtime = "tokio")]
async fn fetch(b: &mut Bencher) {}

fn main() {}
