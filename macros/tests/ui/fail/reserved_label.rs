use benchscope::monitored_bench;

#[monitored_bench(labels(environment = "staging"))]
fn parse() {}

fn main() {}
