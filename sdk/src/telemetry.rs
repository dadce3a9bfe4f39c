//! The OpenTelemetry pipeline of a suite: one `SdkMeterProvider` with the
//! readers the configuration names, the instruments, and the resource
//! sampler. It is also installed as the global meter provider so that
//! application-mode functions record into the same pipeline.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};

use crate::config::{Config, ExporterKind};
use crate::error::Error;
use crate::exporters::prometheus::{self, PrometheusEndpoint};
use crate::instruments::{Instruments, SCOPE};
use crate::resources::{ResourceSampler, ResourceState};

/// A running telemetry pipeline; [`Telemetry::shutdown`] flushes and stops it.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkMeterProvider,
    instruments: Instruments,
    prometheus: Option<PrometheusEndpoint>,
    sampler: Option<ResourceSampler>,
}

impl Telemetry {
    /// Builds the pipeline for `config` and starts its exporters and the
    /// resource sampler.
    pub fn start(config: &Config) -> Result<Telemetry, Error> {
        let resource = Resource::builder()
            .with_service_name("benchscope")
            .with_attribute(opentelemetry::KeyValue::new(
                "deployment.environment",
                config.environment.clone(),
            ))
            .build();
        let mut builder = SdkMeterProvider::builder().with_resource(resource);
        let mut prometheus = None;
        for kind in &config.exporters {
            match kind {
                ExporterKind::Prometheus => {
                    let registry = ::prometheus::Registry::new();
                    builder = builder.with_reader(prometheus::reader(registry.clone())?);
                    prometheus = Some(PrometheusEndpoint::start(config.prometheus.addr, registry)?);
                }
            }
        }
        if config.exporters.is_empty() {
            // A reader nobody collects from: recording then costs the same
            // with or without exporters, so a benchmark that calls an
            // application-mode function measures the same either way.
            builder = builder.with_reader(ManualReader::builder().build());
        }
        let provider = builder.build();
        crate::app::configure(&config.environment, &config.histogram_buckets_ms);
        opentelemetry::global::set_meter_provider(provider.clone());
        let instruments = Instruments::new(&provider.meter(SCOPE), &config.histogram_buckets_ms);
        let sampler = ResourceSampler::start(config.collection_interval, instruments.clone());
        Ok(Telemetry {
            provider,
            instruments,
            prometheus,
            sampler,
        })
    }

    /// The instruments to record into.
    pub fn instruments(&self) -> &Instruments {
        &self.instruments
    }

    /// The state shared with the resource sampler, when it runs.
    pub fn resources(&self) -> Option<&Arc<ResourceState>> {
        self.sampler.as_ref().map(ResourceSampler::state)
    }

    /// Where `/metrics` is served, when the Prometheus exporter is on.
    pub fn prometheus_addr(&self) -> Option<SocketAddr> {
        self.prometheus.as_ref().map(PrometheusEndpoint::local_addr)
    }

    /// Stops the resource sampler (after a last reading), keeps `/metrics`
    /// up for `linger` so a final scrape sees the final values, then shuts the
    /// provider down, flushing push exporters.
    pub fn shutdown(mut self, linger: Duration) -> Result<(), Error> {
        drop(self.sampler.take());
        if self.prometheus.is_some() && !linger.is_zero() {
            std::thread::sleep(linger);
        }
        drop(self.prometheus.take());
        self.provider
            .shutdown()
            .map_err(|e| Error::Telemetry(e.to_string()))
    }
}
