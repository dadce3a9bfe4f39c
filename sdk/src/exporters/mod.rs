//! Exporters: where recorded metrics and spans go, chosen by configuration
//! ([`crate::config::Config::exporters`] and [`crate::config::Config::traces`]).
//! Each exporter owns its own threads; none blocks the runner.
//!
//! - [`prometheus`]: pull, `/metrics` served on loopback;
//! - [`otlp`]: push by OTLP over gRPC or HTTP/protobuf;
//! - [`stdout`]: push, printed on standard output;
//! - [`live`]: push, streamed over WebSocket to a live web page;
//!
//! Push exporters are wrapped by [`health`], which turns their failures into
//! one warning per exporter and keeps counts for the end of the run.

pub mod health;
pub mod http;
pub mod live;
pub mod otlp;
pub mod prometheus;
pub mod stdout;
