//! The terminal view: a progress bar per benchmark on a TTY, plain lines
//! otherwise (CI logs), and the final statistics table.

use std::fmt::Write as _;

use indicatif::{ProgressBar, ProgressStyle};

use crate::bencher::Progress;
use crate::error::Error;
use crate::regression::Verdict;
use crate::results::{BenchResult, SuiteRun};
use crate::runner::{Endpoints, Reporter};

/// Reports progress on standard error.
#[derive(Debug)]
pub struct Terminal {
    tty: bool,
    bar: Option<ProgressBar>,
}

impl Terminal {
    /// Bars when `tty`, plain lines otherwise.
    pub fn new(tty: bool) -> Terminal {
        Terminal { tty, bar: None }
    }
}

impl Reporter for Terminal {
    fn suite_started(&mut self, names: &[String], endpoints: &Endpoints) {
        eprintln!("benchscope: running {} benchmarks", names.len());
        if let Some(addr) = endpoints.live {
            eprintln!("benchscope: live view at http://{addr}/");
        }
        if let Some(addr) = endpoints.metrics {
            eprintln!("benchscope: Prometheus metrics at http://{addr}/metrics");
        }
    }

    fn bench_started(&mut self, name: &str) {
        if self.tty {
            let bar = ProgressBar::new(1).with_style(
                ProgressStyle::with_template("{prefix:>28.bold} {msg:<9} [{bar:30}] {pos}/{len}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(name.to_owned());
            bar.set_message("warm-up");
            self.bar = Some(bar);
        }
    }

    fn progress(&mut self, name: &str, progress: Progress) {
        match (&self.bar, progress) {
            (Some(bar), Progress::MeasureStarted { samples, .. }) => {
                bar.set_message("measuring");
                bar.set_length(u64::from(samples));
            }
            (Some(bar), Progress::Sample { done, .. }) => bar.set_position(u64::from(done)),
            (None, Progress::MeasureStarted { samples, batch }) => {
                eprintln!("{name}: warmed up; {samples} samples of {batch} iterations");
            }
            _ => {}
        }
    }

    fn bench_finished(&mut self, result: &BenchResult) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let s = &result.stats;
        eprintln!(
            "{}: p50 {}  mean {} ± {}",
            result.name,
            format_ns(s.p50),
            format_ns(s.mean),
            format_ns((s.ci_upper - s.ci_lower) / 2.0)
        );
    }

    fn suite_finished(&mut self, run: &SuiteRun) {
        eprintln!(
            "benchscope: suite finished in {:.1} s; flushing exporters",
            run.duration_s
        );
    }

    fn warning(&mut self, message: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("warning: {message}")),
            None => eprintln!("warning: {message}"),
        }
    }

    fn bench_failed(&mut self, name: &str, error: &Error) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
        eprintln!("{name}: FAILED: {error}");
    }
}

/// A duration in nanoseconds, in the unit that keeps 3 or 4 significant digits.
///
/// ```
/// assert_eq!(benchscope::cli::format_ns(1534.0), "1.534 µs");
/// assert_eq!(benchscope::cli::format_ns(2_100_000.0), "2.100 ms");
/// ```
pub fn format_ns(ns: f64) -> String {
    let (value, unit) = if ns < 1e3 {
        (ns, "ns")
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    if value < 10.0 {
        format!("{value:.3} {unit}")
    } else if value < 100.0 {
        format!("{value:.2} {unit}")
    } else {
        format!("{value:.1} {unit}")
    }
}

fn format_rate(per_second: f64, unit: &str) -> String {
    let (scaled, prefix) = [(1e9, "G"), (1e6, "M"), (1e3, "K")]
        .into_iter()
        .find(|(f, _)| per_second >= *f)
        .map(|(f, p)| (per_second / f, p))
        .unwrap_or((per_second, ""));
    let unit = if unit == "bytes" { "B" } else { "elem" };
    format!("{scaled:.1} {prefix}{unit}/s")
}

/// The final statistics table of a run.
pub fn table(run: &SuiteRun) -> String {
    let header = [
        "benchmark",
        "samples",
        "mean",
        "± 95% CI",
        "p50",
        "p95",
        "p99",
        "std dev",
        "outliers",
        "throughput",
        "vs baseline",
    ];
    let mut rows: Vec<[String; 11]> = Vec::new();
    for b in &run.benchmarks {
        let s = &b.stats;
        let vs = b.baseline.as_ref().map_or(String::new(), |c| {
            let verdict = match c.comparison.verdict {
                Verdict::Improved => "improved".to_owned(),
                Verdict::Unchanged => "unchanged".to_owned(),
                Verdict::Regressed(sev) => format!("REGRESSED ({})", sev.as_str()),
            };
            format!("{:+.1}% {verdict}", c.comparison.change * 100.0)
        });
        rows.push([
            b.name.clone(),
            s.samples.to_string(),
            format_ns(s.mean),
            format_ns((s.ci_upper - s.ci_lower) / 2.0),
            format_ns(s.p50),
            format_ns(s.p95),
            format_ns(s.p99),
            format_ns(s.std_dev),
            format!("{}/{}", s.outliers.total(), s.samples),
            b.throughput
                .as_ref()
                .map_or(String::new(), |t| format_rate(t.per_second, &t.unit)),
            vs,
        ]);
    }
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let pad = w - cell.chars().count();
            if i == 0 {
                let _ = write!(out, "{cell}{}", " ".repeat(pad));
            } else {
                let _ = write!(out, "  {}{cell}", " ".repeat(pad));
            }
        }
        out.truncate(out.trim_end_matches(' ').len());
        out.push('\n');
    };
    line(&header.map(String::from));
    line(&widths.map(|w| "-".repeat(w)));
    for row in &rows {
        line(row);
    }
    for f in &run.failures {
        let _ = writeln!(out, "{}: FAILED: {}", f.name, f.error);
    }
    let _ = write!(
        out,
        "{} benchmarks in {:.1} s",
        run.benchmarks.len() + run.failures.len(),
        run.duration_s
    );
    out
}
