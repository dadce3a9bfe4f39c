//! The Prometheus pull exporter: `opentelemetry-prometheus` collects the
//! SDK's metrics into a registry on every scrape, and a small HTTP server on
//! its own thread serves them at `/metrics` in the text exposition format.
//!
//! Names are kept exactly as the instruments name them (no unit or `_total`
//! suffix added, no scope labels) so the same metric has the same name when
//! it travels by OTLP instead.

use std::net::{SocketAddr, TcpListener};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use opentelemetry_prometheus::PrometheusExporter;
use prometheus::{Registry, TextEncoder};

use super::http::HttpServer;
use crate::error::Error;

/// Builds the metric reader that feeds `registry`.
pub fn reader(registry: Registry) -> Result<PrometheusExporter, Error> {
    opentelemetry_prometheus::exporter()
        .with_registry(registry)
        .without_units()
        .without_counter_suffixes()
        .scope_info_enabled(false)
        .build()
        .map_err(|e| Error::Telemetry(e.to_string()))
}

/// The HTTP endpoint serving `/metrics`; stops when dropped.
#[derive(Debug)]
pub struct PrometheusEndpoint {
    server: HttpServer,
}

impl PrometheusEndpoint {
    /// Binds `addr` and serves `registry` at `/metrics` on a thread of its own.
    ///
    /// An address already in use is [`Error::AddrInUse`], which names the
    /// port and the options to change it.
    pub fn start(addr: SocketAddr, registry: Registry) -> Result<PrometheusEndpoint, Error> {
        let listener = TcpListener::bind(addr).map_err(|source| match source.kind() {
            std::io::ErrorKind::AddrInUse => Error::AddrInUse { addr },
            _ => Error::Listen { addr, source },
        })?;
        let app = Router::new()
            .route("/metrics", get(move || metrics(registry.clone())))
            .route("/", get(index));
        let server = HttpServer::start(listener, addr, "benchscope-prometheus", app)?;
        Ok(PrometheusEndpoint { server })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }
}

async fn metrics(registry: Registry) -> impl IntoResponse {
    match TextEncoder::new().encode_to_string(&registry.gather()) {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
            body,
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("cannot encode metrics: {e}\n"),
        ),
    }
}

async fn index() -> &'static str {
    "benchscope: metrics are at /metrics\n"
}
