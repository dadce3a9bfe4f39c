use benchscope::monitored_bench;

#[monitored_bench]
struct Parser;

fn main() {}
