//! Measuring, the lowest layer: the registry of benchmarks, the bencher's
//! warm-up, batch sizing and sampling loop, and the statistics of the
//! samples. Nothing here knows about OpenTelemetry, baselines or exporters.

pub(crate) mod alloc;
pub(crate) mod bencher;
pub(crate) mod callgrind;
pub(crate) mod complexity;
pub(crate) mod disturbance;
pub(crate) mod executor;
pub(crate) mod flame;
pub mod loops;
pub(crate) mod machine;
pub(crate) mod registry;
pub(crate) mod sampling;
pub(crate) mod stats;
mod student_t;
pub(crate) mod telemetry_cost;
pub(crate) mod worker;

#[cfg(feature = "cli")]
pub(crate) use student_t::quantile_upper;
pub(crate) use student_t::two_sided_p;
