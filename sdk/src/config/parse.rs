//! Parsers of the values written in variables and flags: durations,
//! addresses, `key=value` pairs and exporter lists, each error naming the
//! key, the value and what to write instead.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::error::Error;

/// Parses a duration such as `500ms`, `2s` or `1m 30s`.
pub(crate) fn parse_duration(key: &str, value: &str) -> Result<Duration, Error> {
    humantime::parse_duration(value.trim()).map_err(|e| Error::Config {
        key: key.into(),
        value: value.into(),
        reason: format!("{e}; write a duration such as 500ms, 2s or 1m"),
    })
}

/// Parses a socket address such as `127.0.0.1:9464`.
pub(super) fn parse_addr(key: &str, value: &str) -> Result<SocketAddr, Error> {
    value.trim().parse().map_err(|_| Error::Config {
        key: key.into(),
        value: value.into(),
        reason: "write an IP address and port, such as 127.0.0.1:9464".into(),
    })
}

/// Parses `key=value,key2=value2` with percent-encoded keys and values (the
/// OpenTelemetry convention): a `,` `=` or `%` inside one is written `%2C`,
/// `%3D`, `%25`.
pub(super) fn parse_pairs(key: &str, value: &str) -> Result<BTreeMap<String, String>, Error> {
    let mut out = BTreeMap::new();
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').ok_or_else(|| Error::Config {
            key: key.into(),
            value: value.into(),
            reason: format!("`{pair}` is not key=value; write key1=value1,key2=value2"),
        })?;
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s.trim())
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| Error::Config {
                    key: key.into(),
                    value: value.into(),
                    reason: format!("`{pair}` does not decode to UTF-8 text"),
                })
        };
        let k = decode(k)?;
        if k.is_empty() {
            return Err(Error::Config {
                key: key.into(),
                value: value.into(),
                reason: format!("`{pair}` has an empty key; write key1=value1,key2=value2"),
            });
        }
        out.insert(k, decode(v)?);
    }
    Ok(out)
}

pub(super) fn parse_list<T: Copy + PartialEq>(
    key: &str,
    value: &str,
    valid: &[(&str, T)],
) -> Result<Vec<T>, Error> {
    let mut out = Vec::new();
    for word in value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        if word == "none" {
            continue;
        }
        let kind = valid
            .iter()
            .find(|(name, _)| *name == word)
            .map(|(_, kind)| *kind)
            .ok_or_else(|| Error::Config {
                key: key.into(),
                value: value.into(),
                reason: format!(
                    "unknown exporter `{word}`; valid: {}, none",
                    valid.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                ),
            })?;
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    Ok(out)
}
