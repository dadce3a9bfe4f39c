//! Export health: a wrapper around push exporters that counts successes and
//! failures and raises one warning per exporter, on its first failure, so a
//! dead endpoint never floods the terminal and never stops the suite.
// Only the OTLP exporters push through `Watched`; a build without them
// keeps the (empty) report.
#![cfg_attr(
    not(any(feature = "otlp-http", feature = "otlp-grpc")),
    allow(dead_code)
)]

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
#[cfg(feature = "traces")]
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::results::ExportStatus;

/// Called once per exporter with the warning to show.
pub(crate) type WarnFn = Arc<dyn Fn(&str) + Send + Sync>;

/// The health of every push exporter of a pipeline.
pub(crate) struct Health {
    statuses: Mutex<Vec<ExportStatus>>,
    warn: WarnFn,
}

impl fmt::Debug for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Health")
            .field("statuses", &self.statuses())
            .finish()
    }
}

impl Health {
    /// A tracker that reports first failures to `warn`.
    pub(crate) fn new(warn: WarnFn) -> Arc<Health> {
        Arc::new(Health {
            statuses: Mutex::new(Vec::new()),
            warn,
        })
    }

    /// Every exporter's status so far.
    pub(crate) fn statuses(&self) -> Vec<ExportStatus> {
        self.statuses.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn register(&self, exporter: String) -> usize {
        let mut statuses = self.statuses.lock().unwrap_or_else(|e| e.into_inner());
        statuses.push(ExportStatus {
            exporter,
            succeeded: 0,
            failed: 0,
            first_error: None,
        });
        statuses.len() - 1
    }

    fn report(&self, index: usize, result: &OTelSdkResult) {
        let warning = {
            let mut statuses = self.statuses.lock().unwrap_or_else(|e| e.into_inner());
            let status = &mut statuses[index];
            match result {
                Ok(()) => {
                    status.succeeded += 1;
                    None
                }
                Err(e) => {
                    status.failed += 1;
                    if status.first_error.is_none() {
                        status.first_error = Some(e.to_string());
                        Some(format!(
                            "{} failed: {e}. The suite goes on and its local results are kept; later failures of this exporter are counted, not shown. Check that the endpoint is up, or change the exporters (OTEL_METRICS_EXPORTER, OTEL_TRACES_EXPORTER, --exporters).",
                            status.exporter
                        ))
                    } else {
                        None
                    }
                }
            }
        };
        // Outside the lock: the callback may print.
        if let Some(w) = warning {
            (self.warn)(&w);
        }
    }
}

/// A push exporter whose results are reported to a [`Health`].
#[derive(Debug)]
pub(crate) struct Watched<E> {
    inner: E,
    health: Arc<Health>,
    index: usize,
}

impl<E> Watched<E> {
    /// Wraps `inner`, registering it with `health` as `name`.
    pub(crate) fn new(inner: E, name: String, health: &Arc<Health>) -> Watched<E> {
        Watched {
            index: health.register(name),
            inner,
            health: health.clone(),
        }
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Watched<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        self.health.report(self.index, &result);
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

#[cfg(feature = "traces")]
impl<E: SpanExporter> SpanExporter for Watched<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        self.health.report(self.index, &result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_sdk::error::OTelSdkError;

    #[test]
    fn only_the_first_failure_of_each_exporter_warns() {
        let warnings = Arc::new(Mutex::new(Vec::new()));
        let sink = warnings.clone();
        let health = Health::new(Arc::new(move |w: &str| {
            sink.lock().unwrap().push(w.to_owned())
        }));
        let a = health.register("OTLP metrics to http://a".into());
        let b = health.register("OTLP traces to http://b".into());
        let fail = Err(OTelSdkError::InternalFailure("connection refused".into()));
        for _ in 0..5 {
            health.report(a, &fail);
        }
        health.report(b, &Ok(()));
        health.report(b, &fail);
        let warnings = warnings.lock().unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("OTLP metrics to http://a failed: "));
        assert!(warnings[0].contains("connection refused"));
        let statuses = health.statuses();
        assert_eq!((statuses[0].failed, statuses[0].succeeded), (5, 0));
        assert_eq!((statuses[1].failed, statuses[1].succeeded), (1, 1));
    }
}
