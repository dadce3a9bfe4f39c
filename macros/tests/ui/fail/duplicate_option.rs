use benchscope::monitored_bench;

#[monitored_bench(samples = 10, samples = 20)]
fn parse() {}

fn main() {}
