//! The top of the library: the telemetry pipeline that wires the
//! instruments to the configured exporters ([`crate::init`] for a service),
//! and the runner that measures a suite through it.

pub(crate) mod runner;
pub(crate) mod telemetry;
