//! An argument whose type only looks like a bencher (`BencherConfig`) is an
//! ordinary argument: the function is instrumented in application mode.
use benchscope::monitored_bench;

pub struct BencherConfig {
    pub rounds: u32,
}

#[monitored_bench]
fn configure(c: BencherConfig) -> u32 {
    c.rounds * 2
}

#[monitored_bench]
fn configure_ref(c: &mut BencherConfig) -> u32 {
    c.rounds += 1;
    c.rounds
}

fn main() {
    assert_eq!(configure(BencherConfig { rounds: 2 }), 4);
    assert_eq!(configure_ref(&mut BencherConfig { rounds: 2 }), 3);
    assert!(benchscope::benchmarks().unwrap().is_empty());
}
