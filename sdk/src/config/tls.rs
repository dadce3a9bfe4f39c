//! The PEM files of an OTLP connection over TLS ([`TlsFiles`]), read and
//! parsed: once when the configuration is checked, so a missing or wrong
//! file stops the run before any benchmark with the key that named it, and
//! again when the exporters are built.
// gRPC takes the PEM text, HTTP the DER: a build with one transport (or
// none) leaves some fields unread.
#![cfg_attr(
    not(all(feature = "otlp-http", feature = "otlp-grpc")),
    allow(dead_code)
)]

use std::path::Path;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::schema::TlsFiles;

/// Which of the three files a problem is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// The CA certificates.
    Certificate,
    /// The client's certificate chain.
    ClientCertificate,
    /// The client's private key.
    ClientKey,
}

/// Certificates read from one PEM file, with the file's text (tonic takes
/// PEM, ureq takes DER).
#[derive(Debug)]
pub(crate) struct Certificates {
    pub(crate) pem: Vec<u8>,
    pub(crate) der: Vec<CertificateDer<'static>>,
}

/// A client identity for mutual TLS: its certificate chain and the PEM of
/// its private key (checked to hold one).
pub(crate) struct Identity {
    pub(crate) chain: Certificates,
    pub(crate) key_pem: Vec<u8>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("chain", &self.chain.der.len())
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// What a signal's TLS files hold.
#[derive(Debug, Default)]
pub(crate) struct Material {
    /// The CA certificates to trust instead of the built-in roots.
    pub(crate) roots: Option<Certificates>,
    /// The client's identity, when the server asks for one.
    pub(crate) identity: Option<Identity>,
}

impl TlsFiles<'_> {
    /// Reads and parses the files; an error says which file and why, in
    /// words that end with the fix.
    pub(crate) fn load(&self) -> Result<Material, (Part, String)> {
        let roots = self
            .certificate
            .map(|p| certificates(p).map_err(|e| (Part::Certificate, e)))
            .transpose()?;
        let identity = match (self.client_certificate, self.client_key) {
            (None, None) => None,
            (Some(_), None) => {
                return Err((
                    Part::ClientCertificate,
                    "a client certificate needs its private key: set OTEL_EXPORTER_OTLP_CLIENT_KEY (otlp.client_key) too".into(),
                ));
            }
            (None, Some(_)) => {
                return Err((
                    Part::ClientKey,
                    "a client key needs its certificate: set OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE (otlp.client_certificate) too".into(),
                ));
            }
            (Some(cert), Some(key)) => {
                let chain = certificates(cert).map_err(|e| (Part::ClientCertificate, e))?;
                let key_pem = read(key).map_err(|e| (Part::ClientKey, e))?;
                check_key(&key_pem).map_err(|e| (Part::ClientKey, e))?;
                Some(Identity { chain, key_pem })
            }
        };
        Ok(Material { roots, identity })
    }
}

/// Whether a PEM file's bytes hold a private key.
pub(crate) fn check_key(pem: &[u8]) -> Result<(), String> {
    PrivateKeyDer::from_pem_slice(pem).map(drop).map_err(|e| {
        format!(
            "holds no private key in PEM ({e}); give the key as -----BEGIN PRIVATE KEY----- (PKCS#8), RSA PRIVATE KEY or EC PRIVATE KEY"
        )
    })
}

/// Most bytes read of a PEM file: a CA bundle is a few hundred KiB.
const MAX_PEM: u64 = 4 << 20;

fn read(path: &Path) -> Result<Vec<u8>, String> {
    crate::files::read_bounded(path, MAX_PEM)
        .map_err(|e| format!("cannot be read ({e}); write the path of a PEM file"))
}

fn certificates(path: &Path) -> Result<Certificates, String> {
    parse_certificates(read(path)?)
}

/// The certificates of a PEM file's bytes; at least one.
pub(crate) fn parse_certificates(pem: Vec<u8>) -> Result<Certificates, String> {
    let der = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("is not valid PEM ({e}); give the certificates in PEM"))?;
    if der.is_empty() {
        return Err(
            "holds no certificate (no -----BEGIN CERTIFICATE----- block); give the certificates in PEM"
                .into(),
        );
    }
    Ok(Certificates { pem, der })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("benchscope-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn each_wrong_file_is_named_with_its_fix() {
        let missing = Path::new("/nonexistent/ca.pem");
        let files = TlsFiles {
            certificate: Some(missing),
            ..TlsFiles::default()
        };
        let (part, e) = files.load().unwrap_err();
        assert_eq!(part, Part::Certificate);
        assert!(
            e.contains("cannot be read") && e.contains("PEM file"),
            "{e}"
        );

        // A device that never ends is refused without reading it (it grew
        // the process by gigabytes), as a FIFO would be (it blocked).
        let started = std::time::Instant::now();
        let files = TlsFiles {
            certificate: Some(Path::new("/dev/zero")),
            ..TlsFiles::default()
        };
        let (_, e) = files.load().unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));

        let empty = file("empty.pem", "not a certificate\n");
        let files = TlsFiles {
            certificate: Some(&empty),
            ..TlsFiles::default()
        };
        let (_, e) = files.load().unwrap_err();
        assert!(e.contains("no certificate"), "{e}");

        let files = TlsFiles {
            client_certificate: Some(&empty),
            ..TlsFiles::default()
        };
        let (part, e) = files.load().unwrap_err();
        assert_eq!(part, Part::ClientCertificate);
        assert!(e.contains("CLIENT_KEY"), "{e}");

        let files = TlsFiles {
            client_key: Some(&empty),
            ..TlsFiles::default()
        };
        let (part, e) = files.load().unwrap_err();
        assert_eq!(part, Part::ClientKey);
        assert!(e.contains("CLIENT_CERTIFICATE"), "{e}");
    }

    #[test]
    fn no_files_is_no_material() {
        let m = TlsFiles::default().load().unwrap();
        assert!(m.roots.is_none() && m.identity.is_none());
    }
}
