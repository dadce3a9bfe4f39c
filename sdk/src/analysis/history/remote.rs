//! A history that is a metrics backend: the runs every runner pushed
//! (through a Collector, or scraped) read back through the backend's
//! Prometheus-compatible query API (Prometheus 3, VictoriaMetrics, Mimir,
//! Thanos), so that a fleet of runners shares one history and nothing is
//! carried between CI jobs.
//!
//! How a run is found. Each suite run records one series of its own,
//! `benchscope_run_info`, whose labels are the run's identity (machine,
//! start, commit, branch, environment) and whose value is 0 while it goes
//! on and the Unix time it ended afterwards. The per-benchmark series carry
//! no label of the run: they are one series per benchmark and machine (the
//! machine is the OTLP resource's `service.instance.id`, so the backend's
//! `instance`), and a run's figures are the last values those series took
//! between its start and its end. So a run is read with `last_over_time`
//! over exactly its own time window, on the series whose `job`, `instance`
//! (and any other label the pipeline put on the run's info series, such as
//! a Collector's `runner`) are those of its info series.
//!
//! What the backend does not keep: the samples themselves (a run read back
//! has its statistics, which is all the gate's Welch test and the analysis
//! need; the report's distribution chart is left out), the fastest and
//! slowest sample (read back as the median), and the error text of a
//! benchmark that failed. Every query is bounded: an answer larger than
//! [`MAX_ANSWER`] or slower than the configured timeout is an error, as
//! are a refused credential and an answer the backend marks partial.

// Read by the `benchscope` command (`cli`), which turns this feature on.
#![cfg_attr(not(feature = "cli"), allow(dead_code))]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{ReadableRuns, RunInfo, RunSource};
use crate::error::Error;
use crate::results::{Failure, SCHEMA_VERSION, SuiteRun};
use figures::{Figures, READ};

mod figures;

/// Largest answer read from the backend.
pub const MAX_ANSWER: u64 = 64 * 1024 * 1024;

/// How far back runs are listed.
pub const LISTED_DAYS: u32 = 90;

/// The most recent runs whose means the noise between runs reads: as many
/// as the gate's bound ever uses (`noise::MACHINE_RUNS`).
const RECENT_RUNS: usize = 100;

/// How long after a run's end its last figures may still be stamped (the
/// final flush, a last scrape).
const GRACE_S: f64 = 60.0;

/// The run-info series' own labels; every other label it carries names the
/// pipeline the run's series came through.
const RUN_LABELS: [&str; 5] = ["machine", "started_at", "commit_hash", "branch", "__name__"];

/// An instant vector: each series' labels and value.
type Vector = Vec<(BTreeMap<String, String>, f64)>;

/// A run as listed from the backend.
#[derive(Debug, Clone)]
struct Listed {
    info: RunInfo,
    ended_at: f64,
    /// The selector of the run's per-benchmark series (`job`, `instance`,
    /// `environment`, ...), without braces.
    selector: String,
    /// The labels the selector names.
    matched: Vec<String>,
    /// When the run's figures are read: after its end, before the next run
    /// of its series began.
    until: f64,
}

/// A history read from a metrics backend's query API.
#[derive(Debug)]
pub struct RemoteHistory {
    base: String,
    agent: ureq::Agent,
    headers: Vec<(String, String)>,
    timeout: Duration,
    runs: Vec<Listed>,
    unfinished: usize,
    fetched: AtomicU64,
    queries: AtomicU64,
}

impl RemoteHistory {
    /// Lists the runs of the backend at `base` (the URL the API's
    /// `/api/v1/query` hangs from), through `agent` (its TLS settings),
    /// sending `headers` (its credentials) with every query, each query
    /// bounded by `timeout`.
    pub fn open(
        base: &str,
        agent: ureq::Agent,
        headers: Vec<(String, String)>,
        timeout: Duration,
    ) -> Result<RemoteHistory, Error> {
        let mut history = RemoteHistory {
            base: base.trim_end_matches('/').to_owned(),
            agent,
            headers,
            timeout,
            runs: Vec::new(),
            unfinished: 0,
            fetched: AtomicU64::new(0),
            queries: AtomicU64::new(0),
        };
        history.list()?;
        Ok(history)
    }

    /// Runs that started and never recorded their end (killed, or still
    /// going): not runs of the history, as a SQLite history never stores
    /// them either.
    pub fn unfinished(&self) -> usize {
        self.unfinished
    }

    /// Bytes of answers read so far, and queries sent.
    pub fn fetched(&self) -> (u64, u64) {
        (
            self.fetched.load(Ordering::Relaxed),
            self.queries.load(Ordering::Relaxed),
        )
    }

    fn list(&mut self) -> Result<(), Error> {
        let now = unix_now();
        let found = self.query(
            &format!("last_over_time(benchscope_run_info[{LISTED_DAYS}d])"),
            now,
        )?;
        let mut runs = Vec::with_capacity(found.len());
        for (labels, ended_at) in found {
            let label = |k: &str| labels.get(k).cloned().unwrap_or_default();
            let Ok(started_at) = label("started_at").parse::<f64>() else {
                continue;
            };
            if !(ended_at.is_finite() && ended_at >= started_at && started_at > 0.0) {
                self.unfinished += 1;
                continue;
            }
            let matched: Vec<(&String, &String)> = labels
                .iter()
                .filter(|(k, _)| !RUN_LABELS.contains(&k.as_str()) && plain_name(k))
                .collect();
            let selector = matched
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect::<Vec<_>>()
                .join(",");
            let matched = matched.into_iter().map(|(k, _)| k.clone()).collect();
            runs.push(Listed {
                info: RunInfo {
                    id: 0,
                    started_at,
                    commit: label("commit_hash"),
                    branch: label("branch"),
                    environment: label("environment"),
                    machine: label("machine"),
                    benchmarks: 0,
                },
                ended_at,
                selector,
                matched,
                until: ended_at + GRACE_S,
            });
        }
        runs.sort_by(|a, b| {
            a.info
                .started_at
                .total_cmp(&b.info.started_at)
                .then_with(|| a.info.machine.cmp(&b.info.machine))
        });
        // A run's window ends before the next run of the same series began:
        // walked newest first, keeping each series' next start.
        let mut next_start: std::collections::HashMap<String, f64> = Default::default();
        for (i, run) in runs.iter_mut().enumerate().rev() {
            if let Some(next) = next_start.insert(run.selector.clone(), run.info.started_at) {
                run.until = run.until.min(next - 0.001).max(run.ended_at);
            }
            run.info.id = i as i64 + 1;
        }
        self.runs = runs;
        Ok(())
    }

    fn listed(&self, id: i64) -> Result<&Listed, Error> {
        usize::try_from(id - 1)
            .ok()
            .and_then(|i| self.runs.get(i))
            .ok_or_else(|| {
                self.error(format!(
                    "it has no run {id}; `benchscope analyze` lists the runs"
                ))
            })
    }

    /// `metric`'s last value in each of the run's series during the run.
    fn last_in_run(&self, run: &Listed, metric: &str, extra: &str) -> Result<Vector, Error> {
        let window_ms = ((run.until - run.info.started_at) * 1e3).ceil() as u64 + 1;
        let sep = if run.selector.is_empty() || extra.is_empty() {
            ""
        } else {
            ","
        };
        self.query(
            &format!(
                "last_over_time({metric}{{{}{sep}{extra}}}[{window_ms}ms])",
                run.selector
            ),
            run.until,
        )
    }

    fn means_where(
        &self,
        machine: &str,
        keep: impl Fn(&RunInfo) -> bool,
        recent: Option<usize>,
    ) -> Result<BTreeMap<String, Vec<f64>>, Error> {
        let chosen: Vec<&Listed> = self
            .runs
            .iter()
            .filter(|r| r.info.machine == machine && keep(&r.info))
            .collect();
        let skip = recent.map_or(0, |n| chosen.len().saturating_sub(n));
        let per_run = in_parallel(&chosen[skip..], |run| {
            let disturbed: std::collections::BTreeSet<String> = self
                .last_in_run(run, "benchmark_disturbed", "")?
                .into_iter()
                .filter(|(_, v)| *v >= 1.0)
                .filter_map(|(l, _)| l.get("benchmark_name").cloned())
                .collect();
            Ok(self
                .last_in_run(run, "benchmark_mean_ms", "")?
                .into_iter()
                .filter_map(|(mut labels, mean_ms)| {
                    let name = labels.remove("benchmark_name")?;
                    (!disturbed.contains(&name)).then_some((name, mean_ms * 1e6))
                })
                .collect::<Vec<_>>())
        })?;
        let mut out: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for (name, mean) in per_run.into_iter().flatten() {
            out.entry(name).or_default().push(mean);
        }
        Ok(out)
    }

    /// Run `id` as its figures make it: `Err` when the backend cannot
    /// answer, `Ok(Err(problem))` when it answers with a run that fails the
    /// check (skipped by readers of many runs, as from a file).
    fn read_run(&self, id: i64) -> Result<Result<SuiteRun, String>, Error> {
        let listed = self.listed(id)?;
        let mut figures: BTreeMap<String, Figures> = BTreeMap::new();
        for (metric, extra) in READ {
            for (labels, value) in self.last_in_run(listed, metric, extra)? {
                let Some(name) = labels.get("benchmark_name").cloned() else {
                    continue;
                };
                let figure = figures.entry(name).or_default();
                let key = match *metric {
                    "benchmark_percentile_ms" => labels.get("percentile"),
                    "benchmark_confidence_interval_ms" => labels.get("bound"),
                    "benchmark_outliers" => labels.get("class"),
                    "benchmark_allocations_per_iteration" => labels.get("op"),
                    "benchmark_cache_misses_per_iteration" => labels.get("level"),
                    "benchmark_throughput_per_second" => labels.get("unit"),
                    _ => None,
                };
                if *metric == "benchmark_mean_ms" {
                    figure.labels = labels
                        .iter()
                        .filter(|(k, _)| {
                            !listed.matched.contains(k)
                                && !["__name__", "benchmark_name", "environment"]
                                    .contains(&k.as_str())
                        })
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                }
                figure.values.insert(
                    format!("{metric}/{}", key.map_or("", String::as_str)),
                    value,
                );
            }
        }
        let mut benchmarks = Vec::new();
        let mut failures = Vec::new();
        for (name, figure) in figures {
            match figure.result(&name) {
                Some(result) => benchmarks.push(result),
                None if figure.get("benchmark_runs_total/failed").is_some() => {
                    failures.push(Failure {
                        error: format!(
                            "benchmark `{name}` failed in this run (the metrics backend keeps no error text: see the run's log)"
                        ),
                        name,
                    });
                }
                None => {}
            }
        }
        benchmarks.sort_by(|a, b| a.finished_at.total_cmp(&b.finished_at));
        let info = &listed.info;
        let mut run = SuiteRun {
            schema_version: SCHEMA_VERSION,
            benchscope_version: String::new(),
            started_at: info.started_at,
            duration_s: listed.ended_at - info.started_at,
            environment: info.environment.clone(),
            commit: info.commit.clone(),
            branch: info.branch.clone(),
            benchmarks,
            failures,
            exports: Vec::new(),
            complexity: Vec::new(),
        };
        run.complexity = SuiteRun::fit_complexity(&run.benchmarks);
        Ok(run.check().map(|()| run))
    }

    /// Sends one instant query at Unix time `at`.
    fn query(&self, expr: &str, at: f64) -> Result<Vector, Error> {
        let url = format!("{}/api/v1/query", self.base);
        let mut request = self
            .agent
            .get(&url)
            .query("query", expr)
            .query("time", format!("{at:.3}"))
            .query("timeout", format!("{}ms", self.timeout.as_millis()));
        for (k, v) in &self.headers {
            request = request.header(k.as_str(), v.as_str());
        }
        self.queries.fetch_add(1, Ordering::Relaxed);
        let response = request
            .call()
            .map_err(|e| self.error(transport(&e, self.timeout)))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => self.error(format!(
                    "an answer was larger than {} MiB (query `{expr}`); narrow what is kept, or raise the backend's limits",
                    MAX_ANSWER >> 20
                )),
                other => self.error(transport(&other, self.timeout)),
            })?;
        self.fetched.fetch_add(body.len() as u64, Ordering::Relaxed);
        if status == 401 || status == 403 {
            return Err(self.error(format!(
                "it refused the credentials (HTTP {status}); the query API is sent the OTLP exporter's headers: set otlp.headers (OTEL_EXPORTER_OTLP_HEADERS), e.g. Authorization=Bearer …"
            )));
        }
        let answer: Answer = serde_json::from_slice(&body).map_err(|e| {
            self.error(format!(
                "HTTP {status}, not a Prometheus query API answer ({e}): {}; is this the base URL of /api/v1/query?",
                excerpt(&body)
            ))
        })?;
        if answer.status != "success" {
            return Err(self.error(format!(
                "the query `{expr}` failed (HTTP {status}, {}): {}",
                answer.error_type.unwrap_or_default(),
                answer.error.unwrap_or_default()
            )));
        }
        if answer.is_partial || !answer.warnings.is_empty() {
            return Err(self.error(format!(
                "the answer to `{expr}` is partial ({}); a verdict on part of the history could pass by accident: try again when the backend is whole",
                answer.warnings.join("; ")
            )));
        }
        let data = answer.data.unwrap_or_default();
        if data.result_type != "vector" {
            return Err(self.error(format!(
                "the query `{expr}` gave a {} where a vector was expected",
                data.result_type
            )));
        }
        data.result
            .into_iter()
            .map(|s| {
                let value = s.value.1.parse::<f64>().map_err(|_| {
                    self.error(format!("a value `{}` that is not a number", s.value.1))
                })?;
                Ok((s.metric, value))
            })
            .collect()
    }

    fn error(&self, message: String) -> Error {
        Error::HistoryBackend {
            url: self.base.clone(),
            message,
        }
    }
}

impl RunSource for RemoteHistory {
    fn describe(&self) -> String {
        self.base.clone()
    }

    fn cost(&self) -> Option<String> {
        let (bytes, queries) = self.fetched();
        Some(format!(
            "history: {} run(s) listed in {}; {queries} queries, {:.1} KiB read",
            self.runs.len(),
            self.base,
            bytes as f64 / 1024.0
        ))
    }

    fn runs(&self, branch: Option<&str>) -> Result<Vec<RunInfo>, Error> {
        Ok(self
            .runs
            .iter()
            .filter(|r| branch.is_none_or(|b| r.info.branch == b))
            .map(|r| r.info.clone())
            .collect())
    }

    fn run(&self, id: i64) -> Result<SuiteRun, Error> {
        self.read_run(id)?
            .map_err(|problem| self.error(format!("run {id} is unusable: {problem}")))
    }

    fn latest(&self, branch: Option<&str>) -> Result<Option<i64>, Error> {
        Ok(self
            .runs
            .iter()
            .rev()
            .find(|r| branch.is_none_or(|b| r.info.branch == b))
            .map(|r| r.info.id))
    }

    fn find(&self, run: &SuiteRun) -> Result<Option<i64>, Error> {
        Ok(self
            .runs
            .iter()
            .rev()
            .find(|r| {
                (r.info.started_at - run.started_at).abs() < 0.0015
                    && r.info.commit == run.commit
                    && r.info.branch == run.branch
            })
            .map(|r| r.info.id))
    }

    fn machine_of(&self, id: i64) -> Result<Option<String>, Error> {
        Ok(self.listed(id).ok().map(|r| r.info.machine.clone()))
    }

    fn means_by_benchmark(
        &self,
        machine: &str,
        branch: Option<&str>,
        except: Option<i64>,
    ) -> Result<BTreeMap<String, Vec<f64>>, Error> {
        self.means_where(
            machine,
            |r| Some(r.id) != except && branch.is_none_or(|b| r.branch == b),
            Some(RECENT_RUNS),
        )
    }

    fn means_of_commit(
        &self,
        machine: &str,
        commit: &str,
        except: Option<i64>,
    ) -> Result<BTreeMap<String, Vec<f64>>, Error> {
        self.means_where(
            machine,
            |r| Some(r.id) != except && r.commit == commit,
            None,
        )
    }

    fn readable_runs(&self, branch: Option<&str>) -> Result<ReadableRuns, Error> {
        let infos = RunSource::runs(self, branch)?;
        // The backend failing stops the whole read at once; a run that
        // reads back unusable is skipped with a warning, as from a file.
        let read = in_parallel(&infos, |info| self.read_run(info.id))?;
        let mut readable = ReadableRuns::default();
        for (info, run) in infos.into_iter().zip(read) {
            match run {
                Ok(run) => readable.runs.push((
                    RunInfo {
                        benchmarks: run.benchmarks.len(),
                        ..info
                    },
                    run,
                )),
                Err(problem) => readable.skipped.push(format!(
                    "skipping run {}: it is unusable: {problem}",
                    info.id
                )),
            }
        }
        Ok(readable)
    }
}

/// Queries at once: enough to hide each query's round trip, few enough
/// not to load the backend.
const PARALLEL: usize = 4;

/// `f` of every item, in order, on up to [`PARALLEL`] threads; the first
/// error stops the rest.
fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R, Error> + Sync,
) -> Result<Vec<R>, Error> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicBool::new(false);
    let results: Vec<std::sync::Mutex<Option<Result<R, Error>>>> =
        items.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL.min(items.len()) {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = f(item);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(result);
                    }
                }
            });
        }
    });
    let mut out = Vec::with_capacity(items.len());
    let mut first_error = None;
    for slot in results {
        match slot.into_inner().ok().flatten() {
            Some(Ok(r)) => out.push(r),
            Some(Err(e)) => {
                first_error.get_or_insert(e);
            }
            None => {}
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

#[derive(Debug, serde::Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
    /// VictoriaMetrics: some storage nodes did not answer.
    #[serde(default, rename = "isPartial")]
    is_partial: bool,
}

#[derive(Debug, Default, serde::Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    #[serde(default)]
    result: Vec<Sample>,
}

#[derive(Debug, serde::Deserialize)]
struct Sample {
    metric: BTreeMap<String, String>,
    value: (serde_json::Value, String),
}

/// A transport failure in words, with what to do.
fn transport(e: &ureq::Error, timeout: Duration) -> String {
    match e {
        ureq::Error::Timeout(_) => format!(
            "a query took longer than {} (otlp.timeout); the backend is overloaded or the history too large for it",
            humantime::format_duration(timeout)
        ),
        ureq::Error::HostNotFound => "its host name does not resolve; check the URL".into(),
        ureq::Error::ConnectionFailed | ureq::Error::Io(_) => {
            format!(
                "it cannot be reached ({e}); is the backend running, and is this its query URL?"
            )
        }
        other => other.to_string(),
    }
}

/// The start of a body, for an error message.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    text.trim().replace('\n', " ")
}

/// A label name PromQL takes without quotes.
fn plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A label value inside PromQL double quotes.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_odd_names_left_out() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert!(plain_name("job") && plain_name("_x1"));
        assert!(!plain_name("service.name") && !plain_name("1a") && !plain_name(""));
    }

    #[test]
    fn parallel_reads_keep_the_order_and_stop_on_an_error() {
        let items: Vec<u32> = (0..50).collect();
        let doubled = in_parallel(&items, |x| Ok(x * 2)).unwrap();
        assert_eq!(doubled, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        let failed = in_parallel(&items, |x| {
            if *x == 17 {
                Err(Error::Telemetry("seventeen".into()))
            } else {
                Ok(*x)
            }
        });
        assert!(failed.unwrap_err().to_string().contains("seventeen"));
        assert!(in_parallel(&[] as &[u32], |x| Ok(*x)).unwrap().is_empty());
    }

    #[cfg(feature = "cli")]
    #[test]
    fn the_recent_runs_read_are_all_the_noise_bound_uses() {
        assert_eq!(RECENT_RUNS, crate::analysis::noise::MACHINE_RUNS);
    }
}
