//! How figures are written for people: durations in the unit that keeps
//! three or four significant digits, rates with SI prefixes, changes as
//! signed percentages, commits shortened. The terminal, the guard, the
//! analysis and the report all write through these, so a figure reads the
//! same everywhere. (The words of a verdict are [`crate::Verdict::describe`].)
// Figures for people are written by the harness and the tool; a build
// without either uses `short_commit` only.
#![cfg_attr(not(feature = "harness"), allow(dead_code))]

/// A duration in nanoseconds, in the unit that keeps 3 or 4 significant digits.
pub(crate) fn format_ns(ns: f64) -> String {
    let (scale, unit) = time_unit(ns);
    let value = ns / scale;
    if value < 10.0 {
        format!("{value:.3} {unit}")
    } else if value < 100.0 {
        format!("{value:.2} {unit}")
    } else {
        format!("{} {unit}", fixed(value, 1))
    }
}

/// `value` with `decimals` decimals, or in scientific notation from a
/// million up: an absurd figure (a baseline mean of 1e308) reads as
/// `1.000e308`, not as 309 digits.
fn fixed(value: f64, decimals: usize) -> String {
    if value.abs() >= 1e6 {
        format!("{value:.3e}")
    } else {
        format!("{value:.decimals$}")
    }
}

/// The time unit that suits values up to `max_ns`: (nanoseconds per unit, name).
pub(crate) fn time_unit(max_ns: f64) -> (f64, &'static str) {
    if max_ns >= 1e9 {
        (1e9, "s")
    } else if max_ns >= 1e6 {
        (1e6, "ms")
    } else if max_ns >= 1e3 {
        (1e3, "µs")
    } else {
        (1.0, "ns")
    }
}

/// Units of work per second, as criterion writes them: bytes with binary
/// prefixes (`1.4 MiB/s`, `2.0 GiB/s`), elements and bits with SI ones
/// (`320.0 Kelem/s`, `2.0 Gbit/s`).
pub(crate) fn format_rate(per_second: f64, unit: &str) -> String {
    let prefixes: [(f64, &str); 3] = if unit == "bytes" {
        [
            (1024f64.powi(3), "Gi"),
            (1024f64.powi(2), "Mi"),
            (1024.0, "Ki"),
        ]
    } else {
        [(1e9, "G"), (1e6, "M"), (1e3, "K")]
    };
    let (scaled, prefix) = prefixes
        .into_iter()
        .find(|(f, _)| per_second >= *f)
        .map(|(f, p)| (per_second / f, p))
        .unwrap_or((per_second, ""));
    let unit = match unit {
        "bytes" => "B",
        "bits" => "bit",
        _ => "elem",
    };
    format!("{} {prefix}{unit}/s", fixed(scaled, 1))
}

/// A relative change as a signed percentage: `+12.5%`.
pub(crate) fn format_change(change: f64) -> String {
    let percent = change * 100.0;
    if percent.abs() >= 1e6 {
        format!("{percent:+.3e}%")
    } else {
        format!("{percent:+.1}%")
    }
}

/// The first twelve characters of a commit id (characters, not bytes: a
/// commit given by hand may be any text).
pub(crate) fn short_commit(commit: &str) -> String {
    commit.chars().take(12).collect()
}

/// The longest name shown whole: names come from files a user names, and
/// a damaged one could hold a name of megabytes.
pub(crate) const NAME_SHOWN: usize = 200;

/// `name` as shown in tables and messages: whole up to [`NAME_SHOWN`]
/// characters, else its beginning, an ellipsis and its length.
pub(crate) fn shown_name(name: &str) -> std::borrow::Cow<'_, str> {
    if name.len() <= NAME_SHOWN || name.chars().nth(NAME_SHOWN).is_none() {
        return std::borrow::Cow::Borrowed(name);
    }
    let head: String = name.chars().take(NAME_SHOWN - 40).collect();
    std::borrow::Cow::Owned(format!("{head}… ({} bytes in all)", name.len()))
}

/// A count per iteration: whole when it is, two decimals otherwise
/// (`2`, `0.05`).
pub(crate) fn format_count(v: f64) -> String {
    if v.abs() >= 1e6 {
        fixed(v, 0)
    } else if (v - v.round()).abs() < 0.005 {
        format!("{}", v.round())
    } else {
        format!("{v:.2}")
    }
}

/// Bytes, in B, KiB or MiB.
pub(crate) fn format_bytes(v: f64) -> String {
    if v < 1024.0 {
        format!("{} B", format_count(v))
    } else if v < 1024.0 * 1024.0 {
        format!("{:.1} KiB", v / 1024.0)
    } else {
        format!("{} MiB", fixed(v / (1024.0 * 1024.0), 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_name_is_shown_by_its_beginning_and_length() {
        assert_eq!(shown_name("parse/3"), "parse/3");
        let exact = "é".repeat(NAME_SHOWN);
        assert_eq!(shown_name(&exact), exact);
        let long = "x".repeat(10 << 20);
        let shown = shown_name(&long);
        assert!(shown.chars().count() < NAME_SHOWN, "{}", shown.len());
        assert!(shown.ends_with("… (10485760 bytes in all)"), "{shown}");
    }

    #[test]
    fn durations_keep_three_or_four_digits() {
        assert_eq!(format_ns(1534.0), "1.534 µs");
        assert_eq!(format_ns(2_100_000.0), "2.100 ms");
        assert_eq!(format_ns(45.25), "45.25 ns");
        assert_eq!(format_ns(3.2e9), "3.200 s");
    }

    #[test]
    fn rates_and_changes() {
        assert_eq!(format_rate(1.5 * 1024.0 * 1024.0, "bytes"), "1.5 MiB/s");
        assert_eq!(format_rate(2048.0, "bytes"), "2.0 KiB/s");
        assert_eq!(format_rate(320.0, "elements"), "320.0 elem/s");
        assert_eq!(format_rate(2e9, "bits"), "2.0 Gbit/s");
        assert_eq!(format_change(0.125), "+12.5%");
        assert_eq!(format_change(-0.02), "-2.0%");
    }

    #[test]
    fn counts_and_bytes() {
        assert_eq!(format_count(3.0), "3");
        assert_eq!(format_count(0.05), "0.05");
        assert_eq!(format_bytes(10.0), "10 B");
        assert_eq!(format_bytes(8192.0), "8.0 KiB");
        assert_eq!(format_bytes(524_288.0 * 2.0), "1.0 MiB");
    }

    #[test]
    fn absurd_figures_stay_short() {
        assert_eq!(format_ns(1e308), "1.000e299 s");
        assert_eq!(format_change(1e300), "+1.000e302%");
        assert_eq!(format_change(-0.5), "-50.0%");
        assert_eq!(format_count(3e20), "3.000e20");
        assert_eq!(format_rate(5e30, "bytes"), "4.657e21 GiB/s");
        assert!(format_bytes(1e300).len() < 16, "{}", format_bytes(1e300));
        assert_eq!(format_ns(123_456.0), "123.5 µs");
    }

    #[test]
    fn commits_are_cut_by_characters() {
        assert_eq!(short_commit("0123456789abcdef"), "0123456789ab");
        // Twelve characters of multi-byte text: no panic at a byte boundary.
        assert_eq!(short_commit("éééééééééééééé"), "éééééééééééé");
    }
}
