use benchscope::monitored_bench;

#[monitored_bench(samples = 4000000)]
fn parse() -> u64 {
    42
}

fn main() {}
