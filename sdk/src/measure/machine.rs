//! Which machine a run was measured on: runs from different machines are
//! never weighed against each other.

/// The variable that names the machine instead of its fingerprint.
pub const MACHINE_VAR: &str = "BENCHSCOPE_MACHINE";

/// A stable fingerprint of the machine: host name, CPU model and count,
/// memory, OS. Runs from different machines should not be compared blindly.
///
/// `BENCHSCOPE_MACHINE`, when set and not empty, is the fingerprint
/// instead: for CI runners whose host names change from job to job but
/// whose hardware does not (name the runner class), and for runners that
/// share a history in a metrics backend.
pub fn machine_fingerprint() -> String {
    if let Some(named) = std::env::var(MACHINE_VAR)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
    {
        return named;
    }
    // Asked of the system once per process: a run asks for it three times
    // (its run series, its resource, its history record).
    static MEASURED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    MEASURED.get_or_init(measured).clone()
}

/// The fingerprint from what the system says of itself.
fn measured() -> String {
    let mut system = sysinfo::System::new().ok();
    let (cpu, cores, memory) = match system.as_mut() {
        Some(s) => {
            s.refresh_cpu_list(sysinfo::CpuRefreshKind::nothing());
            s.refresh_memory();
            (
                s.cpus()
                    .first()
                    .map(|c| c.brand().to_owned())
                    .unwrap_or_default(),
                s.cpus().len(),
                s.total_memory() / (1 << 30),
            )
        }
        None => (String::new(), 0, 0),
    };
    let host = sysinfo::System::host_name().unwrap_or_default();
    let os = sysinfo::System::long_os_version().unwrap_or_default();
    let text = format!("{host}|{cpu}|{cores}|{memory}|{os}");
    // FNV-1a: stable across Rust versions, unlike the std hasher.
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{host}-{cores}c-{hash:016x}")
}
