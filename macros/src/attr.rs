//! Parses the options of `#[monitored_bench(...)]`. Each option becomes one
//! field of `benchscope::BenchOptions` (see `expand.rs`), so an option here
//! and a field there always agree.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::{Ident, LitInt, LitStr, Path};

/// Option names, for the "unknown option" message.
const KNOWN: &str = "name, group, samples, warmup, min_time, max_time, throughput = bytes(N) | elements(N), labels(key = \"value\", ...), runtime = \"tokio\" | \"tokio-multi-thread\", crate = path";

/// The runtimes an `async fn` benchmark can run on.
pub const RUNTIMES: &[&str] = &["tokio", "tokio-multi-thread"];

/// The bounds benchscope's configuration check applies to the same
/// settings (sdk/src/config/validate.rs), enforced here at compile time.
const MAX_SAMPLES: u32 = 1_000_000;
const HOUR_NANOS: u128 = 3_600 * 1_000_000_000;

/// Labels that benchscope sets itself; a user label of the same name would
/// clash with them.
const RESERVED_LABELS: &[&str] = &[
    "benchmark_name",
    "benchmark_group",
    "benchmark_function",
    "benchmark_parameter",
    "environment",
    "percentile",
    "baseline_version",
    "severity",
    "commit_hash",
    "bound",
    "class",
    "unit",
    "status",
    "le",
];

/// A duration option: its value in nanoseconds and where it was written.
pub struct DurationOpt {
    pub nanos: u64,
    pub span: Span,
}

/// The parsed options of one attribute.
#[derive(Default)]
pub struct Options {
    pub name: Option<LitStr>,
    pub group: Option<LitStr>,
    pub samples: Option<LitInt>,
    pub warmup: Option<DurationOpt>,
    pub min_time: Option<DurationOpt>,
    pub max_time: Option<DurationOpt>,
    pub throughput: Option<(Ident, LitInt)>,
    pub labels: Vec<(Ident, LitStr)>,
    /// The runtime of an `async fn` benchmark.
    pub runtime: Option<LitStr>,
    /// Where benchscope is (`crate = path`), for a renamed dependency.
    pub krate: Option<Path>,
    /// Options that only benchmarks use, with where they were written, so
    /// application mode can reject them.
    pub bench_only: Vec<(&'static str, Span)>,
    labels_seen: bool,
}

impl Options {
    /// Parses one `key = value` or `key(...)` option.
    pub fn parse_one(&mut self, meta: ParseNestedMeta<'_>) -> syn::Result<()> {
        let key = meta
            .path
            .get_ident()
            .map(Ident::to_string)
            .unwrap_or_default();
        let span = meta
            .path
            .get_ident()
            .map_or_else(Span::call_site, Ident::span);
        let duplicate = || {
            meta.error(format_args!(
                "duplicate option `{key}`; give each option once"
            ))
        };
        match key.as_str() {
            "name" | "group" => {
                let lit: LitStr = meta.value()?.parse()?;
                if lit.value().trim().is_empty() || lit.value().contains('/') {
                    return Err(syn::Error::new(
                        lit.span(),
                        format!("`{key}` must be non-empty and contain no `/`"),
                    ));
                }
                let slot = if key == "name" {
                    &mut self.name
                } else {
                    &mut self.group
                };
                if slot.replace(lit).is_some() {
                    return Err(duplicate());
                }
                if key == "group" {
                    self.bench_only.push(("group", span));
                }
            }
            "samples" => {
                let lit: LitInt = meta.value()?.parse()?;
                let n: u32 = lit.base10_parse()?;
                if n < 2 {
                    return Err(syn::Error::new(
                        lit.span(),
                        "`samples` must be at least 2 to give a spread and a confidence interval",
                    ));
                }
                if n > MAX_SAMPLES {
                    return Err(syn::Error::new(
                        lit.span(),
                        format!("`samples` must be at most {MAX_SAMPLES}"),
                    ));
                }
                if self.samples.replace(lit).is_some() {
                    return Err(duplicate());
                }
                self.bench_only.push(("samples", span));
            }
            "warmup" | "min_time" | "max_time" => {
                let lit: LitStr = meta.value()?.parse()?;
                let nanos = humantime::parse_duration(&lit.value())
                    .map_err(|e| {
                        syn::Error::new(
                            lit.span(),
                            format!(
                                "`{key}`: {e}; write a duration such as \"500ms\", \"2s\" or \"1m\""
                            ),
                        )
                    })?
                    .as_nanos();
                let limit = if key == "max_time" {
                    24 * HOUR_NANOS
                } else {
                    HOUR_NANOS
                };
                if nanos > limit {
                    return Err(syn::Error::new(
                        lit.span(),
                        format!(
                            "`{key}` must be at most {}",
                            if key == "max_time" { "1 day" } else { "1 hour" }
                        ),
                    ));
                }
                let nanos = u64::try_from(nanos)
                    .map_err(|_| syn::Error::new(lit.span(), format!("`{key}` is too long")))?;
                let slot = match key.as_str() {
                    "warmup" => &mut self.warmup,
                    "min_time" => &mut self.min_time,
                    _ => &mut self.max_time,
                };
                let opt = DurationOpt {
                    nanos,
                    span: lit.span(),
                };
                if slot.replace(opt).is_some() {
                    return Err(duplicate());
                }
                self.bench_only.push((
                    match key.as_str() {
                        "warmup" => "warmup",
                        "min_time" => "min_time",
                        _ => "max_time",
                    },
                    span,
                ));
            }
            "throughput" => {
                let input = meta.value()?;
                let kind: Ident = input.parse()?;
                if kind != "bytes" && kind != "elements" {
                    return Err(syn::Error::new(
                        kind.span(),
                        "expected `bytes(N)` or `elements(N)`",
                    ));
                }
                let content;
                syn::parenthesized!(content in input);
                let n: LitInt = content.parse()?;
                n.base10_parse::<u64>()?;
                if self.throughput.replace((kind, n)).is_some() {
                    return Err(duplicate());
                }
                self.bench_only.push(("throughput", span));
            }
            "runtime" => {
                let lit: LitStr = meta.value()?.parse()?;
                if !RUNTIMES.contains(&lit.value().as_str()) {
                    return Err(syn::Error::new(
                        lit.span(),
                        format!(
                            "unknown runtime {:?}; expected \"tokio\" (one thread) or \"tokio-multi-thread\" (one worker per core)",
                            lit.value()
                        ),
                    ));
                }
                if self.runtime.replace(lit).is_some() {
                    return Err(duplicate());
                }
                self.bench_only.push(("runtime", span));
            }
            "crate" => {
                let path: Path = meta.value()?.parse()?;
                if self.krate.replace(path).is_some() {
                    return Err(duplicate());
                }
            }
            "labels" => {
                if std::mem::replace(&mut self.labels_seen, true) {
                    return Err(duplicate());
                }
                meta.parse_nested_meta(|label| {
                    let key = label.path.require_ident()?.clone();
                    let value: LitStr = label.value()?.parse()?;
                    let text = key.to_string();
                    if RESERVED_LABELS.contains(&text.as_str()) || text.starts_with("__") {
                        return Err(syn::Error::new(
                            key.span(),
                            format!("label `{text}` is reserved: benchscope sets it; choose another name"),
                        ));
                    }
                    if self.labels.iter().any(|(k, _)| *k == key) {
                        return Err(syn::Error::new(
                            key.span(),
                            format!("duplicate label `{text}`"),
                        ));
                    }
                    self.labels.push((key, value));
                    Ok(())
                })?;
            }
            _ => {
                return Err(meta.error(format_args!(
                    "unknown option `{}`; expected one of: {KNOWN}",
                    if key.is_empty() { "?".into() } else { key }
                )));
            }
        }
        Ok(())
    }

    /// Checks rules that span several options.
    pub fn validate(&self) -> syn::Result<()> {
        if let (Some(min), Some(max)) = (&self.min_time, &self.max_time)
            && min.nanos > max.nanos
        {
            return Err(syn::Error::new(
                max.span,
                "`max_time` is shorter than `min_time`; raise `max_time` or lower `min_time`",
            ));
        }
        Ok(())
    }
}
