//! The OpenTelemetry wiring that records: the catalogue of metrics, the
//! instruments a suite records into, the resource sampler (memory and CPU),
//! and application mode's per-call record path. Building the pipeline that
//! exports them is `suite::telemetry`, above the exporters.

pub(crate) mod app;
pub(crate) mod catalogue;
pub(crate) mod exemplars;
pub(crate) mod instruments;
pub(crate) mod resources;
