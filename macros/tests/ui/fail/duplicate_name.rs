use benchscope::monitored_bench;

#[monitored_bench(name = "parse")]
fn parse_v1() {}

#[monitored_bench(name = "parse")]
fn parse_v2() {}

fn main() {}
