// The closure given to a bencher cannot be shared between threads.
use benchscope::{Bencher, monitored_bench};

#[monitored_bench(threads = [1, 2])]
fn shared(b: &mut Bencher) {
    b.iter(|| 1 + 1);
}

fn main() {}
