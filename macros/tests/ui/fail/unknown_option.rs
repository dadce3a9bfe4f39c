use benchscope::monitored_bench;

#[monitored_bench(sample = 10)]
fn parse() {}

fn main() {}
