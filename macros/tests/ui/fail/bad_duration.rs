use benchscope::monitored_bench;

#[monitored_bench(warmup = "5 parsecs")]
fn parse() {}

fn main() {}
