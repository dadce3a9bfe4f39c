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
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

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
///
/// An export counts from the moment it begins: one that has not ended when
/// the pipeline settles ([`Health::abandon_in_flight`]) is a failure, so
/// an endpoint that takes the connection and never answers is reported
/// whatever the transport's timeout (the SDK's reader gives up on its
/// final export after 5 s and says nothing of it).
pub(crate) struct Health {
    statuses: Mutex<Vec<ExportStatus>>,
    in_flight: Mutex<InFlight>,
    ended: Condvar,
    warn: WarnFn,
}

/// The exports that have begun and not ended, by ticket.
#[derive(Default)]
struct InFlight {
    next: u64,
    exports: Vec<(u64, usize, Instant)>,
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
            in_flight: Mutex::new(InFlight::default()),
            ended: Condvar::new(),
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

    /// Notes that an export of exporter `index` begins; its ticket goes to
    /// [`Health::end`].
    fn begin(&self, index: usize) -> u64 {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        in_flight.next += 1;
        let ticket = in_flight.next;
        in_flight.exports.push((ticket, index, Instant::now()));
        ticket
    }

    /// Counts the end of export `ticket` of exporter `index`, unless it was
    /// already counted as abandoned.
    ///
    /// The export is counted (and its warning shown) before it leaves the
    /// exports in flight: a run that waits for them ([`Health::wait_idle`])
    /// must not end, and exit, between the two.
    fn end(&self, ticket: u64, index: usize, result: &OTelSdkResult, cause: Option<String>) {
        {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(at) = in_flight.exports.iter().position(|(t, _, _)| *t == ticket) {
                self.report(index, result, cause);
                in_flight.exports.swap_remove(at);
            }
        }
        self.ended.notify_all();
    }

    /// Waits until no export is in flight, or until `deadline`.
    pub(crate) fn wait_idle(&self, deadline: Instant) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        while !in_flight.exports.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            in_flight = match self.ended.wait_timeout(in_flight, left) {
                Ok((guard, _)) => guard,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// Counts every export still in flight as failed (and warns, once per
    /// exporter): it did not complete while the run waited for it.
    pub(crate) fn abandon_in_flight(&self) {
        let abandoned = std::mem::take(
            &mut self
                .in_flight
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .exports,
        );
        for (_, index, began) in abandoned {
            // Whole milliseconds: the error is read by people.
            let waited = Duration::from_millis(began.elapsed().as_millis() as u64);
            self.report(
                index,
                &Err(opentelemetry_sdk::error::OTelSdkError::Timeout(waited)),
                Some(NO_ANSWER.into()),
            );
        }
    }

    /// Counts `result`; `cause` is the transport's own account of a
    /// failure, when the exporter's error leaves it out.
    fn report(&self, index: usize, result: &OTelSdkResult, cause: Option<String>) {
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
                        let error = match cause {
                            Some(cause) => format!("{e} ({cause})"),
                            None => e.to_string(),
                        };
                        let tls = status.exporter.contains("https://");
                        let advice = advice(&error, tls).unwrap_or(
                            "Check that the endpoint is up, or change the exporters (OTEL_METRICS_EXPORTER, OTEL_TRACES_EXPORTER, --exporters).",
                        );
                        let warning = format!(
                            "{} failed: {error}. {advice} The suite goes on and its local results are kept; later failures of this exporter are counted, not shown.",
                            status.exporter
                        );
                        status.first_error = Some(error);
                        Some(warning)
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

/// The cause given to an export that had no answer when the run ended.
const NO_ANSWER: &str =
    "the endpoint took the request and gave no answer; the export was abandoned when the run ended";

/// The fix for a failure whose cause the error names (in rustls's words,
/// an HTTP status or a gRPC status code; matched without regard to case),
/// when there is one to give.
fn advice(error: &str, tls: bool) -> Option<&'static str> {
    let error = error.to_lowercase();
    const ADVICE: &[(&[&str], &str)] = &[
        (
            &[
                "UnknownIssuer",
                "BadSignature",
                "certificate verify failed",
                "unknown authority",
            ],
            "The server's certificate is not signed by a CA it trusts: set OTEL_EXPORTER_OTLP_CERTIFICATE to the PEM file of the CA that signed it.",
        ),
        (
            &["NotValidForName"],
            "The server's certificate does not name the endpoint's host: connect by a name (or address) the certificate lists.",
        ),
        (
            &["Expired", "NotValidYet"],
            "The server's certificate is outside its validity period: renew it (or check this machine's clock).",
        ),
        (
            &["CertificateRequired"],
            "The server asks for a client certificate: set OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY to the PEM files of one its CA signed.",
        ),
        (
            &[
                "BadCertificate",
                "UnknownCA",
                "bad certificate",
                "unknown certificate authority",
            ],
            "The server refused the client certificate: use one signed by the CA the server trusts for clients (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_KEY).",
        ),
        (
            &["InvalidContentType", "CorruptMessage", "InvalidMessage"],
            "The server does not speak TLS on that port: write http:// (or, for gRPC without a scheme, set OTEL_EXPORTER_OTLP_INSECURE=true).",
        ),
        (
            &[
                "status code: 401",
                "status code: 403",
                "Unauthenticated",
                "PermissionDenied",
            ],
            "The server refused the credentials: check the authorization header in OTEL_EXPORTER_OTLP_HEADERS (for example authorization=Bearer%20<token>, or Basic%20<base64 of user:password>).",
        ),
        (
            &[NO_ANSWER, "timeout", "timed out", "deadline"],
            "The endpoint did not answer in time. Check that the endpoint is an OTLP receiver and is not overloaded (a proxy or a stopped process can hold connections open), or raise OTEL_EXPORTER_OTLP_TIMEOUT.",
        ),
        (
            &["status code: 400"],
            "The server refused the request: if it expects TLS, write https://.",
        ),
    ];
    // Over TLS 1.3 a server that wants a client certificate says so after
    // the client has finished its handshake, and closes: a client that is
    // already writing its request sees only the closed connection.
    const CLOSED_OVER_TLS: (&[&str], &str) = (
        &[
            "Broken pipe",
            "Connection reset",
            "UnexpectedEof",
            "unexpected end of file",
        ],
        "The server closed the TLS connection as the request began: most likely it asks for a client certificate (set OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY) or refused the one sent.",
    );
    ADVICE
        .iter()
        .chain(tls.then_some(&CLOSED_OVER_TLS))
        .find(|(words, _)| words.iter().any(|w| error.contains(&w.to_lowercase())))
        .map(|(_, advice)| *advice)
}

/// The transport's own account of its last failure, for the exporters that
/// pass on less (the OTLP/HTTP exporter says only "network error"): the
/// client sets it, [`Watched`] reads it with the failure.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cause(Arc<Mutex<Option<String>>>);

impl Cause {
    /// Records the cause of the request that just failed.
    #[cfg_attr(not(feature = "otlp-http"), allow(dead_code))]
    pub(crate) fn set(&self, cause: String) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(cause);
    }

    fn take(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// A push exporter whose results are reported to a [`Health`].
#[derive(Debug)]
pub(crate) struct Watched<E> {
    inner: E,
    health: Arc<Health>,
    index: usize,
    cause: Cause,
}

impl<E> Watched<E> {
    /// Wraps `inner`, registering it with `health` as `name`; `cause` is
    /// where its transport leaves the cause of a failure.
    pub(crate) fn new(inner: E, name: String, health: &Arc<Health>, cause: Cause) -> Watched<E> {
        Watched {
            index: health.register(name),
            inner,
            health: health.clone(),
            cause,
        }
    }

    /// Counts one export: it begins now, and ends when the returned guard
    /// is given its result (or is dropped unfinished, a failure).
    fn begin(&self) -> Export<'_, E> {
        Export {
            ticket: self.health.begin(self.index),
            watched: self,
            ended: false,
        }
    }
}

/// One export of a [`Watched`] exporter, from its beginning to its end.
struct Export<'a, E> {
    watched: &'a Watched<E>,
    ticket: u64,
    ended: bool,
}

impl<E> Export<'_, E> {
    fn end(mut self, result: &OTelSdkResult) {
        self.ended = true;
        let cause = self.watched.cause.take();
        self.watched.health.end(
            self.ticket,
            self.watched.index,
            result,
            result.is_err().then_some(cause).flatten(),
        );
    }
}

impl<E> Drop for Export<'_, E> {
    fn drop(&mut self) {
        // A future dropped before it finished (a runtime shut down under
        // it) did not export.
        if !self.ended {
            self.watched.health.end(
                self.ticket,
                self.watched.index,
                &Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(
                    "the export was cancelled before it finished".into(),
                )),
                None,
            );
        }
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Watched<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let export = self.begin();
        let result = self.inner.export(metrics).await;
        export.end(&result);
        // The reader's collection ran on this thread too, before the export.
        crate::measure::telemetry_cost::charge_thread();
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
        let export = self.begin();
        let result = self.inner.export(batch).await;
        export.end(&result);
        crate::measure::telemetry_cost::charge_thread();
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
            health.report(a, &fail, None);
        }
        health.report(b, &Ok(()), None);
        health.report(b, &fail, None);
        let warnings = warnings.lock().unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("OTLP metrics to http://a failed: "));
        assert!(warnings[0].contains("connection refused"));
        let statuses = health.statuses();
        assert_eq!((statuses[0].failed, statuses[0].succeeded), (5, 0));
        assert_eq!((statuses[1].failed, statuses[1].succeeded), (1, 1));
    }

    #[test]
    fn a_known_cause_gets_its_fix() {
        let warnings = Arc::new(Mutex::new(Vec::new()));
        let sink = warnings.clone();
        let health = Health::new(Arc::new(move |w: &str| {
            sink.lock().unwrap().push(w.to_owned())
        }));
        let a = health.register("OTLP metrics export to https://a".into());
        let fail = Err(OTelSdkError::InternalFailure("network error".into()));
        health.report(
            a,
            &fail,
            Some("invalid peer certificate: UnknownIssuer".into()),
        );
        let warnings = warnings.lock().unwrap();
        assert!(warnings[0].contains("network error (invalid peer certificate: UnknownIssuer)"));
        assert!(warnings[0].contains("OTEL_EXPORTER_OTLP_CERTIFICATE"));
        assert!(!warnings[0].contains("Check that the endpoint is up"));
        let first = health.statuses()[0].first_error.clone().unwrap();
        assert!(first.contains("UnknownIssuer"), "{first}");
    }

    #[test]
    fn a_run_waiting_for_its_exports_sees_their_warnings_shown() {
        // The warning of an export that ends on the reader's thread is slow
        // to print; the run that waits for the export must not go on (and
        // exit, cutting the line) before it is shown.
        let shown = Arc::new(Mutex::new(Vec::new()));
        let sink = shown.clone();
        let health = Health::new(Arc::new(move |w: &str| {
            std::thread::sleep(Duration::from_millis(300));
            sink.lock().unwrap().push(w.to_owned())
        }));
        let a = health.register("OTLP metrics export to http://a".into());
        let ticket = health.begin(a);
        let exporting = health.clone();
        let reader = std::thread::spawn(move || {
            let fail = Err(OTelSdkError::InternalFailure("timed out".into()));
            exporting.end(ticket, a, &fail, None);
        });
        health.wait_idle(Instant::now() + Duration::from_secs(10));
        assert_eq!(shown.lock().unwrap().len(), 1, "the run went on first");
        health.abandon_in_flight();
        reader.join().unwrap();
        assert_eq!(health.statuses()[0].failed, 1, "counted once");
    }
}
