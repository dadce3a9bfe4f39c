use benchscope::monitored_bench;

#[monitored_bench(throughput = bits(8))]
fn parse() {}

fn main() {}
