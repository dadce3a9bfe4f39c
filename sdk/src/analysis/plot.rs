//! The HTML report of `benchscope analyze`: per benchmark the trend with
//! its 95 % confidence band and the step changes marked, the latest run's
//! distribution against the baseline's, and the speedup over time, as inline
//! SVG drawn by `plotters` (no scripts, nothing loaded from the network).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::analyze::Trend;
use crate::error::Error;
use crate::format::{format_ns, time_unit};
use crate::results::{BenchResult, ComplexityResult, Fitted, SuiteRun};

const WIDTH: u32 = 720;
const HEIGHT: u32 = 280;

/// The plotting library's error; [`named`] says which plot it was.
fn plot_error(e: impl std::fmt::Display) -> Error {
    Error::Plot {
        what: String::new(),
        message: e.to_string(),
    }
}

/// Names the plot a [`plot_error`] came from.
fn named(e: Error, what: impl FnOnce() -> String) -> Error {
    match e {
        Error::Plot { message, .. } => Error::Plot {
            what: what(),
            message,
        },
        other => other,
    }
}

/// Mean per run with its 95 % confidence band, in ms (or the unit that fits).
pub fn trend_svg(trend: &Trend) -> Result<String, Error> {
    let (scale, unit) = unit_for(trend.points.iter().map(|(_, b)| b.stats.mean));
    let lows: Vec<f64> = trend
        .points
        .iter()
        .map(|(_, b)| b.stats.ci_lower / scale)
        .collect();
    let highs: Vec<f64> = trend
        .points
        .iter()
        .map(|(_, b)| b.stats.ci_upper / scale)
        .collect();
    let means: Vec<f64> = trend
        .points
        .iter()
        .map(|(_, b)| b.stats.mean / scale)
        .collect();
    let (lo, hi) = bounds(lows.iter().chain(&highs));
    let title = format!("{}: mean per run, 95 % CI", trend.name);
    let y_desc = format!("mean time per iteration ({unit})");
    run_chart(title, &y_desc, &run_labels(trend), (lo, hi), |chart| {
        let band: Vec<(f64, f64)> = highs
            .iter()
            .enumerate()
            .map(|(i, &y)| (i as f64, y))
            .chain(lows.iter().enumerate().rev().map(|(i, &y)| (i as f64, y)))
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(band, BLUE.mix(0.15))))
            .map_err(plot_error)?;
        draw_line_with_markers(chart, &means, BLUE)?;
        for step in &trend.steps {
            chart
                .draw_series(LineSeries::new(
                    [(step.at as f64 - 0.5, lo), (step.at as f64 - 0.5, hi)],
                    RED.stroke_width(2),
                ))
                .map_err(plot_error)?;
        }
        Ok(())
    })
}

type RunChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Each run's tick label: its commit and the day it ran (`3f2a9c1 11-26`).
fn run_labels(trend: &Trend) -> Vec<String> {
    trend
        .points
        .iter()
        .map(|(commit, b)| {
            let day =
                std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(b.finished_at.max(0.0));
            let date = humantime::format_rfc3339_seconds(day).to_string();
            let short: String = commit.chars().take(7).collect();
            format!("{short} {}", date.get(5..10).unwrap_or_default())
        })
        .collect()
}

/// Most run labels the x axis shows: one per 120 pixels.
const RUN_TICKS: usize = (WIDTH / 120) as usize;

/// A chart with one x position per run, labelled by `labels` (commit and
/// date) on whole ticks, and `y_desc` on the y axis; `draw` adds the series.
fn run_chart(
    title: String,
    y_desc: &str,
    labels: &[String],
    (lo, hi): (f64, f64),
    draw: impl FnOnce(&mut RunChart<'_, '_>) -> Result<(), Error>,
) -> Result<String, Error> {
    let runs = labels.len();
    // Every `step`-th run is labelled, so the labels never overlap.
    let step = runs.div_ceil(RUN_TICKS).max(1);
    let tick = |x: &f64| {
        let i = x.round();
        if (x - i).abs() > 1e-6 || i < 0.0 {
            return String::new();
        }
        let i = i as usize;
        if i.is_multiple_of(step) {
            labels.get(i).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..(runs as f64 - 0.5).max(0.5), lo..hi)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_labels(runs.max(1))
            .x_label_formatter(&tick)
            .x_desc("run (commit, date)")
            .y_desc(y_desc)
            .draw()
            .map_err(plot_error)?;
        draw(&mut chart)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// A line through one value per run, with a marker on each.
fn draw_line_with_markers(
    chart: &mut RunChart<'_, '_>,
    values: &[f64],
    color: RGBColor,
) -> Result<(), Error> {
    chart
        .draw_series(LineSeries::new(
            values.iter().enumerate().map(|(i, &y)| (i as f64, y)),
            &color,
        ))
        .map_err(plot_error)?;
    chart
        .draw_series(
            values
                .iter()
                .enumerate()
                .map(|(i, &y)| Circle::new((i as f64, y), 3, color.filled())),
        )
        .map_err(plot_error)?;
    Ok(())
}

/// Histograms of the latest run's samples and the baseline's, overlaid.
pub fn distribution_svg(
    name: &str,
    latest: &BenchResult,
    baseline: Option<&BenchResult>,
) -> Result<String, Error> {
    let all = latest
        .samples_ns
        .iter()
        .chain(baseline.iter().flat_map(|b| b.samples_ns.iter()));
    let (scale, unit) = unit_for(all.clone().copied());
    let (lo, hi) = bounds(all.map(|x| x / scale).collect::<Vec<_>>().iter());
    const BINS: usize = 30;
    let width = (hi - lo) / BINS as f64;
    let histogram = |samples: &[f64]| {
        let mut counts = [0u32; BINS];
        for &s in samples {
            let i = (((s / scale) - lo) / width)
                .floor()
                .clamp(0.0, (BINS - 1) as f64) as usize;
            counts[i] += 1;
        }
        let total = samples.len().max(1) as f64;
        counts.map(|c| f64::from(c) / total)
    };
    let latest_h = histogram(&latest.samples_ns);
    let base_h = baseline.map(|b| histogram(&b.samples_ns));
    let top = latest_h
        .iter()
        .chain(base_h.iter().flatten())
        .fold(0.0f64, |a, &b| a.max(b))
        .max(0.01)
        * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!("{name}: latest run (blue) vs baseline (orange)"),
                ("sans-serif", 16),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(60)
            .build_cartesian_2d(lo..hi, 0f64..top)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc(format!("time per iteration ({unit})"))
            .y_desc("share of samples")
            .draw()
            .map_err(plot_error)?;
        let bars = |h: [f64; BINS], color: RGBAColor| {
            h.into_iter().enumerate().map(move |(i, v)| {
                let x0 = lo + i as f64 * width;
                Rectangle::new([(x0, 0.0), (x0 + width, v)], color.filled())
            })
        };
        if let Some(h) = base_h {
            chart
                .draw_series(bars(h, RGBColor(230, 140, 30).mix(0.5)))
                .map_err(plot_error)?;
        }
        chart
            .draw_series(bars(latest_h, BLUE.mix(0.5)))
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// Speedup (baseline mean / run mean) per run, with the 1.0 line.
pub fn speedup_svg(trend: &Trend, baseline: &BenchResult) -> Result<String, Error> {
    let speedups: Vec<f64> = trend
        .points
        .iter()
        .map(|(_, b)| baseline.stats.mean / b.stats.mean)
        .collect();
    let n = speedups.len();
    let title = format!("{}: speedup over the baseline", trend.name);
    let range = bounds(speedups.iter().chain([1.0].iter()));
    run_chart(
        title,
        "speedup (baseline / run)",
        &run_labels(trend),
        range,
        |chart| {
            chart
                .draw_series(LineSeries::new(
                    [(-0.5, 1.0), (n as f64 - 0.5, 1.0)],
                    BLACK.mix(0.4).stroke_width(1),
                ))
                .map_err(plot_error)?;
            draw_line_with_markers(chart, &speedups, GREEN)
        },
    )
}

/// A complexity fit: the measured points, the fitted curve and the
/// baseline's points, on a logarithmic size axis.
pub fn scaling_svg(
    fit: &ComplexityResult,
    baseline: Option<&[(f64, f64)]>,
) -> Result<String, Error> {
    let time = fit.measure == Fitted::Time;
    let all = fit
        .points
        .iter()
        .chain(baseline.unwrap_or_default())
        .map(|p| p.1);
    let (scale, unit) = if time {
        unit_for(all.clone())
    } else {
        (1.0, "bytes")
    };
    let (n_lo, n_hi) = fit
        .points
        .iter()
        .chain(baseline.unwrap_or_default())
        .fold((f64::MAX, f64::MIN), |(lo, hi), p| {
            (lo.min(p.0), hi.max(p.0))
        });
    let (n_lo, n_hi) = if n_lo < n_hi {
        (n_lo / 1.3, n_hi * 1.3)
    } else {
        (1.0, 10.0)
    };
    let curve: Vec<(f64, f64)> = (0..=60)
        .map(|i| {
            let n = n_lo * (n_hi / n_lo).powf(f64::from(i) / 60.0);
            (n, fit.fit.at(n) / scale)
        })
        .collect();
    let scaled: Vec<f64> = all.map(|y| y / scale).collect();
    let (_, hi) = bounds(scaled.iter().chain(curve.iter().map(|p| &p.1)));
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "{} ({}): {}, fit error {:.1} % — run (blue), fit (line), baseline (orange)",
                    fit.benchmark,
                    fit.measure,
                    fit.fit.class,
                    fit.fit.error * 100.0
                ),
                ("sans-serif", 14),
            )
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d((n_lo..n_hi).log_scale(), 0f64..hi.max(1e-9))
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("size (the case's parameter, log scale)")
            .y_desc(if time {
                format!("mean time per iteration ({unit})")
            } else {
                "bytes allocated per iteration".to_owned()
            })
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(LineSeries::new(curve, BLUE.mix(0.6).stroke_width(2)))
            .map_err(plot_error)?;
        if let Some(points) = baseline {
            chart
                .draw_series(points.iter().map(|&(n, y)| {
                    TriangleMarker::new((n, y / scale), 5, RGBColor(230, 140, 30).filled())
                }))
                .map_err(plot_error)?;
        }
        chart
            .draw_series(
                fit.points
                    .iter()
                    .map(|&(n, y)| Circle::new((n, y / scale), 4, BLUE.filled())),
            )
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// The unit that keeps values readable: (nanoseconds per unit, name).
fn unit_for(values: impl Iterator<Item = f64>) -> (f64, &'static str) {
    time_unit(values.fold(0.0f64, f64::max))
}

/// A range around the values with 10 % padding (never empty).
fn bounds<'a>(values: impl Iterator<Item = &'a f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.1).max(hi.abs() * 0.01).max(1e-9);
    (lo - pad, hi + pad)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Writes `index.html` into `dir` and returns its path; each benchmark's
/// flame graphs in `flames`, if any, are linked (and copied beside it).
pub fn write_report(
    dir: &Path,
    trends: &[Trend],
    latest: Option<&SuiteRun>,
    baseline: Option<(&str, &SuiteRun)>,
    flames: &Path,
) -> Result<PathBuf, Error> {
    let mut html = String::from(concat!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<title>benchscope report</title>",
        "<style>body{font-family:sans-serif;margin:2rem;max-width:80rem}",
        "section{margin-bottom:3rem}svg{max-width:100%;height:auto;display:block;margin:.5rem 0}",
        "table{border-collapse:collapse}td,th{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:right}",
        "td:first-child,th:first-child{text-align:left}</style></head><body>\n",
        "<h1>benchscope: performance history</h1>\n"
    ));
    if let Some((name, _)) = baseline {
        let _ = writeln!(html, "<p>Baseline: <code>{}</code></p>", escape(name));
    }
    html.push_str("<table><tr><th>benchmark</th><th>runs</th><th>latest mean</th><th>step changes</th></tr>\n");
    for t in trends {
        if let Some((_, last)) = t.points.last() {
            let steps = t.describe_steps();
            let _ = writeln!(
                html,
                "<tr><td><a href=\"#{id}\">{name}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                t.points.len(),
                format_ns(last.stats.mean),
                escape(&steps),
                id = anchor(&t.name),
                name = escape(&t.name),
            );
        }
    }
    html.push_str("</table>\n");
    if let Some(run) = latest.filter(|r| !r.complexity.is_empty()) {
        let before = baseline
            .map(|(_, b)| SuiteRun::fit_complexity(&b.benchmarks))
            .unwrap_or_default();
        html.push_str("<section id=\"complexity\"><h2>Complexity (latest run)</h2>\n<table><tr><th>benchmark</th><th>measure</th><th>class</th><th>fit error</th><th>R²</th><th>baseline's class</th></tr>\n");
        for c in &run.complexity {
            let then = before
                .iter()
                .find(|b| b.benchmark == c.benchmark && b.measure == c.measure);
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1} %</td><td>{:.3}</td><td>{}</td></tr>",
                escape(&c.benchmark),
                c.measure,
                escape(c.fit.class.as_str()),
                c.fit.error * 100.0,
                c.fit.r_squared,
                then.map_or(String::new(), |t| escape(t.fit.class.as_str()))
            );
        }
        html.push_str("</table>\n");
        for c in &run.complexity {
            let then = before
                .iter()
                .find(|b| b.benchmark == c.benchmark && b.measure == c.measure)
                .map(|b| b.points.as_slice());
            html.push_str(
                &scaling_svg(c, then).map_err(|e| {
                    named(e, || format!("scaling of {} ({})", c.benchmark, c.measure))
                })?,
            );
        }
        html.push_str("</section>\n");
    }
    for t in trends {
        let Some((_, latest)) = t.points.last() else {
            continue;
        };
        let base = baseline.and_then(|(_, run)| run.get(&t.name));
        let _ = writeln!(
            html,
            "<section id=\"{}\"><h2>{}</h2>",
            anchor(&t.name),
            escape(&t.name)
        );
        html.push_str(&trend_svg(t).map_err(|e| named(e, || format!("trend of {}", t.name)))?);
        if latest.samples_ns.is_empty() {
            // Read back from a metrics backend, which keeps statistics.
            html.push_str(
                "<p class=\"note\">No distribution: the latest run was read from a metrics backend, which keeps each run's statistics, not its samples.</p>\n",
            );
        } else {
            html.push_str(
                &distribution_svg(&t.name, latest, base)
                    .map_err(|e| named(e, || format!("distribution of {}", t.name)))?,
            );
        }
        let reference = base.unwrap_or(&t.points[0].1);
        html.push_str(
            &speedup_svg(t, reference)
                .map_err(|e| named(e, || format!("speedup of {}", t.name)))?,
        );
        html.push_str(&flame_links(&t.name, flames, dir)?);
        html.push_str("</section>\n");
    }
    html.push_str("</body></html>\n");
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        action: "cannot create the report folder",
        path: dir.to_owned(),
        source,
    })?;
    let path = dir.join("index.html");
    crate::files::write_whole(&path, html.as_bytes()).map_err(|source| Error::Io {
        action: "cannot write the report",
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Links to the benchmark's flame graphs found in `flames` (written by
/// `--measure instructions`, and `NAME.diff.svg` by `benchscope compare`),
/// copied into the report's `flamegraphs/` folder so that it stands alone.
fn flame_links(name: &str, flames: &Path, dir: &Path) -> Result<String, Error> {
    let stem = crate::measure::flame::file_stem(name);
    let mut links = Vec::new();
    for (ext, label) in [
        ("svg", "latest count"),
        ("diff.svg", "against the baseline (benchscope compare)"),
    ] {
        let file = format!("{stem}.{ext}");
        let from = flames.join(&file);
        if !from.is_file() {
            continue;
        }
        let to_dir = dir.join("flamegraphs");
        let to = to_dir.join(&file);
        std::fs::create_dir_all(&to_dir)
            .and_then(|()| std::fs::copy(&from, &to))
            .map_err(|source| Error::Io {
                action: "cannot copy the flame graph to",
                path: to.clone(),
                source,
            })?;
        links.push(format!(
            "<a href=\"flamegraphs/{}\">{label}</a>",
            escape(&file)
        ));
    }
    Ok(if links.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"flame\">Flame graphs of the instructions: {}</p>\n",
            links.join(", ")
        )
    })
}

fn anchor(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::analyze::tests::history;
    use crate::analysis::analyze::trends;
    use crate::analysis::regression::Policy;

    #[test]
    fn a_plotting_failure_is_a_plot_error_naming_the_plot() {
        let e = named(plot_error("the backend gave up"), || "trend of x".into());
        assert!(matches!(e, Error::Plot { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "cannot draw the plot trend of x: the backend gave up"
        );
    }

    #[test]
    fn plots_hold_their_data_points() {
        let runs = history(&[100.0, 101.0, 99.0, 130.0, 131.0]);
        let t = &trends(&runs, &Policy::default())[0];
        let svg = trend_svg(t).unwrap();
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<circle").count(), 5, "one marker per run");
        let svg = speedup_svg(t, &t.points[0].1).unwrap();
        assert_eq!(svg.matches("<circle").count(), 5);
        let svg = distribution_svg("bench", &t.points[4].1, Some(&t.points[0].1)).unwrap();
        assert!(
            svg.matches("<rect").count() >= 60,
            "two histograms of 30 bins"
        );
    }

    #[test]
    fn runs_are_labelled_by_commit_and_date_on_whole_ticks() {
        let runs = history(&[100.0, 101.0, 99.0, 130.0, 131.0]);
        let t = &trends(&runs, &Policy::default())[0];
        let svg = trend_svg(t).unwrap();
        let labels = run_labels(t);
        assert_eq!(labels.len(), 5);
        for label in &labels {
            assert!(svg.contains(label.as_str()), "{label} not on the axis");
        }
        // No fractional run numbers, and the axes say what they hold.
        assert!(!svg.contains(">0.5<") && !svg.contains(">1.0<"), "{svg}");
        assert!(svg.contains("run (commit, date)"));
        assert!(svg.contains("mean time per iteration ("));
    }

    #[test]
    fn a_scaling_plot_holds_the_points_the_curve_and_the_baseline() {
        let points: Vec<(f64, f64)> = [64.0, 256.0, 1024.0, 4096.0]
            .iter()
            .map(|&n| (n, 10.0 + n))
            .collect();
        let fit = ComplexityResult {
            benchmark: "scan".into(),
            measure: Fitted::Time,
            fit: crate::measure::complexity::classify(&points).unwrap(),
            points: points.clone(),
        };
        let svg = scaling_svg(&fit, Some(&points)).unwrap();
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.contains("<polyline"), "the fitted curve");
        assert!(svg.contains("O(n)") && svg.contains("log scale"));
    }
}
