//! Parses the options of `#[monitored_bench(...)]`. Each option becomes one
//! field of `benchscope::BenchOptions` (see `expand.rs`), so an option here
//! and a field there always agree.

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::parse::Parse;
use syn::{Ident, LitInt, LitStr, Path};

/// Option names, for the "unknown option" message.
const KNOWN: &str = "name, group, samples, warmup, min_time, max_time, throughput = bytes(N) | elements(N), labels(key = \"value\", ...), args = [...], consts = [...], types = [...], threads = [...], runtime = \"tokio\" | \"tokio-multi-thread\", crate = path";

/// Most cases one benchmark may have: a list longer than this is more
/// likely a mistake than a plan, and each case is a series of every metric.
pub const MAX_CASES: usize = 1000;

/// The runtimes an `async fn` benchmark can run on.
pub const RUNTIMES: &[&str] = &["tokio", "tokio-multi-thread"];

/// The bounds benchscope's configuration check applies to the same
/// settings (sdk/src/config/validate.rs), enforced here at compile time.
const HOUR_NANOS: u128 = 3_600 * 1_000_000_000;

/// Labels that benchscope sets itself; a user label of the same name would
/// clash with them.
const RESERVED_LABELS: &[&str] = &[
    "benchmark_name",
    "benchmark_group",
    "benchmark_function",
    "param",
    "type",
    "const",
    "threads",
    "op",
    "measure",
    "level",
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
    /// `bytes(expr)` or `elements(expr)`; with `args`, the expression may
    /// use the function's argument.
    pub throughput: Option<(Ident, syn::Expr)>,
    /// `args = [...]`: the values passed to the function, one case each.
    pub args: Option<(Span, Vec<syn::Expr>)>,
    /// `consts = [...]`: const generic arguments, one case each.
    pub consts: Option<(Span, Vec<syn::Expr>)>,
    /// `types = [...]`: type arguments, one case each.
    pub types: Option<(Span, Vec<syn::Type>)>,
    /// `threads = [...]`: thread counts, one case each (0: all cores).
    pub threads: Option<(Span, Vec<LitInt>)>,
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
                // A u32; its range is the runtime's rule
                // (`BenchOptions::SAMPLES`), checked where the option is
                // expanded, at compile time.
                let lit: LitInt = meta.value()?.parse()?;
                lit.base10_parse::<u32>()?;
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
                let n: syn::Expr = content.parse()?;
                if let syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(lit),
                    ..
                }) = &n
                {
                    lit.base10_parse::<u64>()?;
                }
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
            "args" | "consts" => {
                let list: syn::ExprArray = meta.value()?.parse()?;
                let values: Vec<syn::Expr> = list.elems.into_iter().collect();
                check_list(&key, span, values.len())?;
                let slot = if key == "args" {
                    &mut self.args
                } else {
                    &mut self.consts
                };
                if slot.replace((span, values)).is_some() {
                    return Err(duplicate());
                }
                self.bench_only
                    .push((if key == "args" { "args" } else { "consts" }, span));
            }
            "types" => {
                let input = meta.value()?;
                let content;
                syn::bracketed!(content in input);
                let list = content.parse_terminated(syn::Type::parse, syn::Token![,])?;
                let types: Vec<syn::Type> = list.into_iter().collect();
                check_list(&key, span, types.len())?;
                if self.types.replace((span, types)).is_some() {
                    return Err(duplicate());
                }
                self.bench_only.push(("types", span));
            }
            "threads" => {
                let input = meta.value()?;
                let content;
                syn::bracketed!(content in input);
                let list = content.parse_terminated(LitInt::parse, syn::Token![,])?;
                let counts: Vec<LitInt> = list.into_iter().collect();
                check_list(&key, span, counts.len())?;
                for n in &counts {
                    let value: usize = n.base10_parse()?;
                    if value > 4096 {
                        return Err(syn::Error::new(
                            n.span(),
                            "at most 4096 threads; use 0 for one per available core",
                        ));
                    }
                }
                if self.threads.replace((span, counts)).is_some() {
                    return Err(duplicate());
                }
                self.bench_only.push(("threads", span));
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

    /// Whether the benchmark has cases beside threads (`args`, `consts`,
    /// `types`).
    pub fn has_cases(&self) -> bool {
        self.args.is_some() || self.consts.is_some() || self.types.is_some()
    }

    /// Checks rules that span several options.
    pub fn validate(&self) -> syn::Result<()> {
        let count = |list: Option<usize>| list.unwrap_or(1);
        let cases = count(self.args.as_ref().map(|a| a.1.len()))
            * count(self.consts.as_ref().map(|a| a.1.len()))
            * count(self.types.as_ref().map(|a| a.1.len()))
            * count(self.threads.as_ref().map(|a| a.1.len()));
        if cases > MAX_CASES {
            let span = [
                self.args.as_ref().map(|a| a.0),
                self.consts.as_ref().map(|a| a.0),
                self.types.as_ref().map(|a| a.0),
                self.threads.as_ref().map(|a| a.0),
            ]
            .into_iter()
            .flatten()
            .next()
            .unwrap_or_else(Span::call_site);
            return Err(syn::Error::new(
                span,
                format!(
                    "{cases} cases: at most {MAX_CASES} per benchmark, each being a series of every metric; shorten the lists"
                ),
            ));
        }
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

/// A list option must name at least one value.
fn check_list(key: &str, span: Span, len: usize) -> syn::Result<()> {
    if len == 0 {
        return Err(syn::Error::new(
            span,
            format!("`{key}` is empty; give at least one value, or drop `{key}`"),
        ));
    }
    if len > MAX_CASES {
        return Err(syn::Error::new(
            span,
            format!("`{key}` has {len} values; at most {MAX_CASES}"),
        ));
    }
    Ok(())
}
