use benchscope::{monitored_bench, Bencher};

#[monitored_bench]
fn parse(b: &Bencher) {
    let _ = b;
}

fn main() {}
