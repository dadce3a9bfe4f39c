//! `--print-config`: the effective configuration as TOML, each value
//! followed by where it came from ([`Source`](super::Source)); header
//! values and the live token are redacted.

use super::load::Loaded;

impl Loaded {
    /// The effective configuration as TOML, each value followed by where it
    /// came from; header values and the live token are redacted.
    pub fn render(&self) -> String {
        let mut config = self.config.clone();
        for value in config.otlp.headers.values_mut() {
            *value = "<redacted>".into();
        }
        if !config.live.token.is_empty() {
            config.live.token = "<redacted>".into();
        }
        let table = match toml::Value::try_from(&config) {
            Ok(toml::Value::Table(t)) => t,
            _ => return String::new(),
        };
        let mut out = String::new();
        if let Some(file) = &self.file {
            out.push_str(&format!("# configuration file: {}\n", file.display()));
        }
        self.render_table(&table, "", &mut out);
        out
    }

    fn render_table(&self, table: &toml::Table, prefix: &str, out: &mut String) {
        for (key, value) in table.iter().filter(|(_, v)| !v.is_table()) {
            let path = format!("{prefix}{key}");
            out.push_str(&format!(
                "{} = {}  # {}\n",
                toml_key(key),
                toml_text(value),
                self.source(&path)
            ));
        }
        for (key, value) in table {
            if let toml::Value::Table(inner) = value {
                let path = format!("{prefix}{key}");
                let header = format!("{prefix}{}", toml_key(key));
                out.push_str(&format!("\n[{header}]  # {}\n", self.source(&path)));
                self.render_table(inner, &format!("{header}."), out);
            }
        }
    }
}

/// A key as TOML writes it: bare when it can be, quoted otherwise (a
/// resource attribute or header name may hold any character).
fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        key.to_owned()
    } else {
        toml_string(key)
    }
}

/// A basic string: TOML forbids raw control characters, DEL included.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A value as TOML writes it. (Written here: the `toml` crate's writer is
/// one more crate in every build, for this one view.)
fn toml_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => toml_string(s),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) if f.is_nan() => "nan".into(),
        toml::Value::Float(f) if f.is_infinite() => if *f > 0.0 { "inf" } else { "-inf" }.into(),
        toml::Value::Float(f) => format!("{f:?}"),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(items) => format!(
            "[{}]",
            items.iter().map(toml_text).collect::<Vec<_>>().join(", ")
        ),
        toml::Value::Table(t) => format!(
            "{{ {} }}",
            t.iter()
                .map(|(k, v)| format!("{} = {}", toml_key(k), toml_text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Loaded;
    use super::super::tests::env;

    fn load(pairs: &[(&str, &str)]) -> Result<Loaded, crate::error::Error> {
        Loaded::load(None, env(pairs))
    }

    #[test]
    fn print_config_quotes_what_toml_cannot_write_bare() {
        let l = load(&[
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.namespace=x,caf%C3%A9=b,sp%20ace=%7F%00%22",
            ),
            ("OTEL_SERVICE_NAME", "tab\there"),
        ])
        .unwrap();
        let rendered = l.render();
        let back: toml::Table =
            toml::from_str(&rendered).unwrap_or_else(|e| panic!("{e}\n{rendered}"));
        let attrs = back["resource_attributes"].as_table().unwrap();
        assert_eq!(attrs["sp ace"].as_str(), Some("\u{7f}\u{0}\""));
        assert_eq!(attrs["café"].as_str(), Some("b"));
        assert_eq!(back["service_name"].as_str(), Some("tab\there"));
    }

    #[test]
    fn headers_are_redacted_when_printed() {
        let l = load(&[("OTEL_EXPORTER_OTLP_HEADERS", "authorization=secret")]).unwrap();
        let rendered = l.render();
        assert!(
            !rendered.contains("secret") && rendered.contains("<redacted>"),
            "{rendered}"
        );
    }
}
