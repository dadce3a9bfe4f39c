//! Exporters: where recorded metrics go, chosen by configuration
//! ([`crate::config::Config::exporters`]). Each exporter owns its own threads;
//! none blocks the runner.

pub mod prometheus;
