use benchscope::monitored_bench;

#[monitored_bench(min_time = "5s", max_time = "1s")]
fn parse() {}

fn main() {}
