use benchscope::{monitored_bench, Bencher};

#[monitored_bench]
fn parse(b: &mut Bencher) -> u64 {
    b.iter(|| 1);
    1
}

fn main() {}
