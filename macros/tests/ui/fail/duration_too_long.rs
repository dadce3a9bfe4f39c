use benchscope::monitored_bench;

#[monitored_bench(warmup = "3h")]
fn parse() -> u64 {
    42
}

fn main() {}
