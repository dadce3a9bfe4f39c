//! The terminal view: a progress bar per benchmark on a TTY, plain lines
//! otherwise (CI logs), and the final statistics table.

use std::fmt::Write as _;

use indicatif::{ProgressBar, ProgressStyle};

use super::last_run;
use crate::analysis::baseline::Baseline;
use crate::config::Policy;
use crate::error::Error;
use crate::format::{
    format_bytes, format_change, format_count, format_ns, format_rate, shown_name,
};
use crate::measure::complexity::Class;
use crate::measure::sampling::Progress;
use crate::results::report::Endpoints;
use crate::results::{
    BaselineComparison, BenchResult, CountChange, Fitted, Reporter, SuiteRun, Verdict,
};

/// Reports progress on standard error.
#[derive(Debug)]
pub(crate) struct Terminal {
    tty: bool,
    bar: Option<ProgressBar>,
    /// A line per benchmark on standard output in the `bencher` crate's
    /// format, as criterion's `--output-format bencher` prints it.
    bencher: bool,
    /// Where each benchmark's last result is kept ([`last_run`]), and the
    /// policy that compares a rerun with it.
    last_run: Option<(std::path::PathBuf, Policy)>,
}

impl Terminal {
    /// Bars when `tty`, plain lines otherwise; `bencher`: also the bencher
    /// crate's line per benchmark on standard output.
    pub(crate) fn new(tty: bool, bencher: bool) -> Terminal {
        Terminal {
            tty,
            bar: None,
            bencher,
            last_run: None,
        }
    }

    /// Also compares each benchmark with its result of the run before, as
    /// criterion does on every rerun, and keeps this one for the next.
    pub(crate) fn comparing_with_last_run(mut self, policy: Policy) -> Terminal {
        self.last_run = Some((last_run::criterion_dir(), policy));
        self
    }
}

/// The column criterion's figures start at, after the name.
const INDENT: usize = 24;

/// A benchmark's result as criterion prints it: the time per iteration
/// as `[lower mean upper]` (the 95 % interval of the mean), the throughput
/// at those times, and, against a baseline, the change with its interval,
/// the p-value against the significance level, and the verdict in words:
///
/// ```text
/// sum/fold/64             time:   [316.2 ns 320.0 ns 323.8 ns]
///                         thrpt:  [197.7 Melem/s 200.0 Melem/s 202.4 Melem/s]
///                         change: [+1.02% +2.41% +3.80%] (p = 0.00)
///                         Performance has regressed (minor).
/// ```
pub(crate) fn criterion_block(result: &BenchResult) -> String {
    let s = &result.stats;
    let name = shown_name(&result.name);
    let mut out = if name.chars().count() < INDENT {
        format!("{name:<INDENT$}")
    } else {
        format!("{name}\n{:INDENT$}", "")
    };
    let _ = writeln!(
        out,
        "time:   [{} {} {}]",
        format_ns(s.ci_lower),
        format_ns(s.mean),
        format_ns(s.ci_upper)
    );
    if let Some(t) = &result.throughput {
        let rate = |ns: f64| {
            format_rate(
                t.per_iteration as f64 * 1e9 / ns.max(f64::MIN_POSITIVE),
                &t.unit,
            )
        };
        let _ = writeln!(
            out,
            "{:INDENT$}thrpt:  [{} {} {}]",
            "",
            rate(s.ci_upper),
            rate(s.mean),
            rate(s.ci_lower)
        );
    }
    if let Some(b) = &result.baseline {
        out.push_str(&change_lines(result, b));
    }
    out
}

/// criterion's `change:` line and verdict of `result` against `b`.
fn change_lines(result: &BenchResult, b: &BaselineComparison) -> String {
    let s = &result.stats;
    let c = &b.comparison;
    // The change's interval: this run's interval of the mean, taken twice
    // (the baseline's, whose width the comparison does not keep, counted as
    // wide), relative to the baseline's mean.
    let base_mean = (s.mean / (1.0 + c.change)).max(f64::MIN_POSITIVE);
    let spread = (s.ci_upper - s.ci_lower) / 2.0 * std::f64::consts::SQRT_2 / base_mean;
    let words = match c.verdict {
        Verdict::Improved => "Performance has improved.".to_owned(),
        Verdict::Regressed(s) => format!("Performance has regressed ({}).", s.as_str()),
        _ => "No change in performance detected.".to_owned(),
    };
    format!(
        "{:INDENT$}change: [{} {} {}] (p = {:.2})\n{:INDENT$}{words}\n",
        "",
        format_change(c.change - spread),
        format_change(c.change),
        format_change(c.change + spread),
        c.p_value,
        ""
    )
}

/// `test NAME ... bench:       1,234 ns/iter (+/- 56)`: the median and the
/// standard deviation in whole nanoseconds, as libtest's bencher and
/// criterion's `--output-format bencher` write them (tools parse it).
pub(crate) fn bencher_line(result: &BenchResult) -> String {
    let whole = |ns: f64| {
        let digits = format!("{:.0}", ns.max(0.0));
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    format!(
        "test {} ... bench: {:>11} ns/iter (+/- {})",
        result.name,
        whole(result.stats.p50),
        whole(result.stats.std_dev)
    )
}

impl Reporter for Terminal {
    fn suite_started(&mut self, names: &[String], endpoints: &Endpoints) {
        if names.is_empty() {
            // Benchmarks defined as the program goes: not known in advance.
            eprintln!("benchscope: running benchmarks");
        } else {
            eprintln!("benchscope: running {} benchmarks", names.len());
        }
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
        // On standard output, as criterion prints it: its block, or the
        // bencher crate's line with --output-format bencher.
        if self.bencher {
            println!("{}", bencher_line(result));
            return;
        }
        let mut block = criterion_block(result);
        if let Some((dir, policy)) = &self.last_run {
            if result.baseline.is_none()
                && let Some(before) = last_run::previous(dir, &result.name)
                && let Ok(Some(c)) = (Baseline {
                    version: "the last run".into(),
                    run: SuiteRun::new("", "", vec![before]),
                })
                .compare(result, policy)
            {
                block.push_str(&change_lines(result, &c));
            }
            if let Err(e) = last_run::keep(dir, result) {
                self.warning(&format!(
                    "{}: its result was not kept in {} for the next run to compare with: {e}",
                    result.name,
                    dir.display()
                ));
            }
        }
        print!("{block}");
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

/// The final statistics table of a run; the allocation columns appear
/// when a [`CountingAlloc`](crate::CountingAlloc) counted, and a
/// complexity section under it when benchmarks have sizes.
pub(crate) fn table(run: &SuiteRun) -> String {
    let counted = run.benchmarks.iter().any(|b| b.allocations.is_some());
    let mut header: Vec<&str> = vec![
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
    ];
    if counted {
        header.extend(["allocs/iter", "bytes/iter", "peak bytes"]);
    }
    let instructions = run.benchmarks.iter().any(|b| b.instructions.is_some());
    let cache = run
        .benchmarks
        .iter()
        .any(|b| b.instructions.is_some_and(|i| i.cycles.is_some()));
    if instructions {
        header.push("instr/iter");
    }
    if cache {
        header.extend(["L1 miss/iter", "LL miss/iter", "est. cycles"]);
    }
    let probed = run.benchmarks.iter().any(|b| b.disturbance.is_some());
    if probed {
        header.push("retaken");
    }
    header.push("vs baseline");
    let mut rows: Vec<Vec<String>> = Vec::new();
    for b in &run.benchmarks {
        let s = &b.stats;
        let vs = match (&b.baseline, &b.incomparable) {
            (Some(c), _) => {
                let mut text = format!(
                    "{} {}",
                    format_change(c.comparison.change),
                    c.comparison.verdict.describe()
                );
                if let Some(a) = c.allocations.filter(|a| a.regressed) {
                    let _ = write!(text, "; allocations REGRESSED ({})", a.describe());
                }
                if let Some(i) = c.instructions {
                    let _ = write!(text, "; instructions {}", describe_count(&i));
                }
                text
            }
            (None, Some(_)) => "could not compare".to_owned(),
            (None, None) => String::new(),
        };
        let mut row = vec![
            shown_name(&b.name).into_owned(),
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
        ];
        if counted {
            match &b.allocations {
                Some(a) => row.extend([
                    format_count(a.allocs),
                    format_bytes(a.bytes),
                    format_bytes(a.peak_bytes as f64),
                ]),
                None => row.extend([String::new(), String::new(), String::new()]),
            }
        }
        if instructions {
            row.push(
                b.instructions
                    .map_or(String::new(), |i| format_count(i.instructions)),
            );
        }
        if cache {
            let i = b.instructions.filter(|i| i.cycles.is_some());
            for v in [
                i.and_then(|i| i.l1_misses),
                i.and_then(|i| i.ll_misses),
                i.and_then(|i| i.cycles),
            ] {
                row.push(v.map_or(String::new(), format_count));
            }
        }
        if probed {
            row.push(match &b.disturbance {
                Some(d) if d.disturbed => format!("{} DISTURBED", d.retaken),
                Some(d) => d.retaken.to_string(),
                None => String::new(),
            });
        }
        row.push(vs);
        rows.push(row);
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        for (i, (cell, &w)) in cells.iter().zip(&widths).enumerate() {
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
    line(&header.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    line(&widths.iter().map(|&w| "-".repeat(w)).collect::<Vec<_>>());
    for row in &rows {
        line(row);
    }
    if !run.complexity.is_empty() {
        out.push_str(&complexity_table(run));
    }
    for f in &run.failures {
        let _ = writeln!(out, "{}: FAILED: {}", shown_name(&f.name), f.error);
    }
    for b in &run.benchmarks {
        if let Some(d) = b.disturbance.filter(|d| d.disturbed) {
            let _ = writeln!(
                out,
                "{}: DISTURBED by the rest of the machine ({}): its figures include that interference; the gate leaves it out of the noise between runs. Run it again on a quieter machine.",
                b.name,
                d.describe()
            );
        }
    }
    for b in &run.benchmarks {
        if let Some(reason) = &b.incomparable {
            let _ = writeln!(
                out,
                "{}: could not compare with the baseline: {reason}",
                b.name
            );
        }
    }
    // A benchmark whose count failed is both measured and failed: counted once.
    let failed_only = run
        .failures
        .iter()
        .filter(|f| run.get(&f.name).is_none())
        .count();
    let _ = write!(
        out,
        "{} benchmarks in {:.1} s",
        run.benchmarks.len() + failed_only,
        run.duration_s
    );
    if !run.failures.is_empty() {
        let _ = write!(out, ", {} failed", run.failures.len());
    }
    out
}

/// The complexity section: each benchmark's class, per measure, with its
/// fit. Allocation fits of benchmarks that allocate nothing at any size are
/// left out (they are in the JSON results and on the metrics).
fn complexity_table(run: &SuiteRun) -> String {
    let shown: Vec<_> = run
        .complexity
        .iter()
        .filter(|c| c.measure == Fitted::Time || c.points.iter().any(|p| p.1 > 0.0))
        .collect();
    let width = shown
        .iter()
        .map(|c| c.benchmark.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::from("\ncomplexity (sizes from each case's parameter):\n");
    for c in shown {
        let value = |v: f64| {
            if c.measure == Fitted::Time {
                format_ns(v)
            } else {
                format_bytes(v)
            }
        };
        let term = match c.fit.class {
            Class::Constant => String::new(),
            class => format!(
                " + {}·{}",
                value(c.fit.coefficient),
                class
                    .as_str()
                    .trim_start_matches("O(")
                    .trim_end_matches(')')
            ),
        };
        let _ = writeln!(
            out,
            "  {:width$}  {:15}  {:10}  fit error {:4.1} %  R² {:.3}  {} sizes  ≈ {}{term}",
            c.benchmark,
            c.measure,
            c.fit.class.as_str(),
            c.fit.error * 100.0,
            c.fit.r_squared,
            c.points.len(),
            value(c.fit.intercept),
        );
    }
    out
}

/// An instruction count's change: `+1.02 % REGRESSED (major)` or `+0.00 %`.
pub(crate) fn describe_count(c: &CountChange) -> String {
    match c.severity {
        Some(s) => format!("{:+.2} % REGRESSED ({})", c.change * 100.0, s.as_str()),
        None => format!("{:+.2} %", c.change * 100.0),
    }
}
