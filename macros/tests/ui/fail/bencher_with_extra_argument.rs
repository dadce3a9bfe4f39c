use benchscope::{monitored_bench, Bencher};

#[monitored_bench]
fn parse(b: &mut Bencher, size: usize) {
    b.iter(|| size);
}

fn main() {}
