//! The blocking HTTP client (`ureq`) that OTLP/HTTP exports and the query
//! API of a history in a metrics backend share, with the configuration's
//! TLS material when the `tls` feature is on.
// The history's reader is the `benchscope` command's (`cli`).
#![cfg_attr(not(any(feature = "otlp-http", feature = "cli")), allow(dead_code))]

use std::time::Duration;

use crate::error::Error;

/// The TLS material a client is built with: the configured CA and client
/// identity, or nothing when the `tls` feature is off (the configuration's
/// check refuses `https://` then).
#[cfg(feature = "tls")]
pub(crate) type Tls = crate::config::tls::Material;
/// The TLS material a client is built with (none without the `tls` feature).
#[cfg(not(feature = "tls"))]
pub(crate) type Tls = ();

/// An agent with an overall `timeout` per request, every status returned
/// as a response (a 503 is the server's answer, not a lost connection), no
/// redirects, and over TLS with `tls`.
pub(crate) fn agent(timeout: Duration, tls: Option<&Tls>) -> Result<ureq::Agent, Error> {
    #[allow(unused_mut)]
    let mut config = ureq::Agent::config_builder();
    #[cfg(feature = "tls")]
    if let Some(material) = tls {
        config = config.tls_config(tls_config(material)?);
    }
    #[cfg(not(feature = "tls"))]
    let _ = tls;
    Ok(config
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into())
}

/// The rustls configuration of `material`: its CA certificates as the
/// only roots (else the Mozilla roots), its identity as the client
/// certificate.
#[cfg(feature = "tls")]
fn tls_config(material: &crate::config::tls::Material) -> Result<ureq::tls::TlsConfig, Error> {
    use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig, TlsProvider};
    let owned = |ders: &[rustls_pki_types::CertificateDer<'static>]| -> Vec<Certificate<'static>> {
        ders.iter()
            .map(|d| Certificate::from_der(d.as_ref()).to_owned())
            .collect()
    };
    let mut tls = TlsConfig::builder().provider(TlsProvider::Rustls);
    if let Some(roots) = &material.roots {
        tls = tls.root_certs(RootCerts::new_with_certs(&owned(&roots.der)));
    }
    if let Some(id) = &material.identity {
        let key = PrivateKey::from_pem(&id.key_pem)
            .map_err(|e| Error::Telemetry(format!("the client key: {e}")))?;
        tls = tls.client_cert(Some(ClientCert::new_with_certs(&owned(&id.chain.der), key)));
    }
    Ok(tls.build())
}
