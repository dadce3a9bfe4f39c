// The routines of benches/paired_gate.rs, written once and compiled into
// two scratch bench targets, one under benchscope's harness and one under
// tango-bench's. Each does `work()` units of work, and `work()` is its base
// amount times the factor its executable's file name carries
// (`cand-x1.01` does 1 % more): one build gives the baseline and every
// slowed candidate, with nothing else different between them.

/// The factor of this executable: `x1.01` in its file name, else 1.
fn factor() -> f64 {
    static FACTOR: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *FACTOR.get_or_init(|| {
        std::env::current_exe()
            .ok()
            .and_then(|exe| {
                let name = exe.file_name()?.to_string_lossy().into_owned();
                name.split_once("-x")?.1.parse().ok()
            })
            .unwrap_or(1.0)
    })
}

/// `base` units scaled by this executable's factor.
fn work(base: u64) -> u64 {
    (base as f64 * factor()).round() as u64
}

/// Arithmetic in registers: a multiply-xorshift chain.
pub fn compute() -> u64 {
    let mut x = std::hint::black_box(0x9e37_79b9_7f4a_7c15u64);
    for _ in 0..work(20_000) {
        x ^= x >> 29;
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    }
    x
}

/// Memory-bound: a walk through a 32 MiB permutation, one cache miss a
/// step.
pub fn memory() -> u64 {
    static TABLE: std::sync::OnceLock<Vec<u32>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        // One cycle through every slot (Sattolo's shuffle, a fixed seed).
        let n = 8 << 20;
        let mut t: Vec<u32> = (0..n as u32).collect();
        let mut s = 0x2545_f491_4f6c_dd1du64;
        for i in (1..n).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            t.swap(i, (s % i as u64) as usize);
        }
        t
    });
    let mut at = std::hint::black_box(0u32);
    for _ in 0..work(4_000) {
        at = table[at as usize];
    }
    u64::from(at)
}

/// Allocation-heavy: formatted strings collected and dropped.
pub fn alloc() -> usize {
    let strings: Vec<String> = (0..work(200))
        .map(|i| format!("item-{i}-{}", std::hint::black_box(i * 7)))
        .collect();
    strings.iter().map(String::len).sum()
}
