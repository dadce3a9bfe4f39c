use benchscope::monitored_bench;

#[monitored_bench(samples = 10)]
fn handle(request: &str) -> usize {
    request.len()
}

fn main() {}
