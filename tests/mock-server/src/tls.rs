//! HTTPS for the mock: a throwaway CA made at start-up (or certificates loaded from
//! files), the server certificate it signs, and the rustls server configuration.
//! The CA is written to a PEM file so that harnesses in any language can trust it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

/// Which certificate the mock presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsMode {
    /// Valid for `localhost` and `127.0.0.1`, signed by a fresh CA.
    Valid,
    /// Signed by the fresh CA but named for another host: clients must refuse it.
    WrongHost,
    /// Signed by the fresh CA for the right names, but expired in 2001.
    Expired,
    /// A certificate chain and key from PEM files; `ca` is what clients should trust
    /// (the chain's file when `None`).
    Files { cert: PathBuf, key: PathBuf, ca: Option<PathBuf> },
}

/// A ready server configuration and the CA that clients need.
pub(crate) struct Tls {
    pub config: Arc<ServerConfig>,
    pub ca_pem: String,
}

fn tls_error(what: &str, err: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{what}: {err}"))
}

impl Tls {
    pub(crate) fn new(mode: &TlsMode) -> io::Result<Tls> {
        let (chain, key, ca_pem) = match mode {
            TlsMode::Files { cert, key, ca } => load(cert, key, ca.as_deref())?,
            generated => generate(generated)?,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| Ok(b.with_no_client_auth().with_single_cert(chain, key)?))
            .map_err(|e| tls_error("TLS configuration", e))?;
        Ok(Tls { config: Arc::new(config), ca_pem })
    }
}

/// A fresh CA and a server certificate it signs, shaped by `mode`.
fn generate(
    mode: &TlsMode,
) -> io::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String)> {
    let rcgen_error = |e: rcgen::Error| tls_error("certificate generation", e);
    let ca_key = KeyPair::generate().map_err(rcgen_error)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_error)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "cobo-oauth-mock throwaway CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).map_err(rcgen_error)?;
    let issuer = Issuer::new(ca, ca_key);

    let names = match mode {
        TlsMode::WrongHost => vec!["wrong-host.invalid".to_owned()],
        _ => vec!["localhost".to_owned(), "127.0.0.1".to_owned()],
    };
    let leaf_key = KeyPair::generate().map_err(rcgen_error)?;
    let mut leaf = CertificateParams::new(names).map_err(rcgen_error)?;
    leaf.distinguished_name
        .push(DnType::CommonName, "cobo-oauth-mock");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    if *mode == TlsMode::Expired {
        leaf.not_before = date_time_ymd(2000, 1, 1);
        leaf.not_after = date_time_ymd(2001, 1, 1);
    }
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(rcgen_error)?;
    let key = PrivateKeyDer::try_from(leaf_key.serialize_der())
        .map_err(|e| tls_error("server key", e))?;
    Ok((vec![leaf_cert.der().clone()], key, ca_cert.pem()))
}

fn load(
    cert: &Path,
    key: &Path,
    ca: Option<&Path>,
) -> io::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String)> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| tls_error(&format!("--tls-cert {}", cert.display()), e))?;
    if chain.is_empty() {
        return Err(tls_error(&format!("--tls-cert {}", cert.display()), "no certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| tls_error(&format!("--tls-key {}", key.display()), e))?;
    let ca_path = ca.unwrap_or(cert);
    let ca_pem = fs::read_to_string(ca_path)
        .map_err(|e| tls_error(&format!("{}", ca_path.display()), e))?;
    Ok((chain, key, ca_pem))
}

/// The CA written where every harness can read it; removed when the server stops.
pub(crate) fn write_ca_file(ca_pem: &str, port: u16) -> io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "cobo-oauth-mock-{}-{port}",
        std::process::id()
    ));
    fs::create_dir_all(&dir)?;
    let path = dir.join("ca.pem");
    fs::write(&path, ca_pem)?;
    Ok(path)
}
