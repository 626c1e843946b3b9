//! The HTTP engine: one reqwest client per configuration, built from the
//! checked configuration (timeouts, user agent, redirects; TLS roots and proxies).
//!
//! TLS trusts the platform's roots (rustls-native-certs: the OS store, or
//! SSL_CERT_FILE / SSL_CERT_DIR when set), or Mozilla's bundled roots (webpki-roots)
//! on a platform without any, plus the configuration's extra CAs.
//! Proxies: never for an http:// (loopback) base URL; otherwise `proxy_url`, or else
//! HTTPS_PROXY / ALL_PROXY / NO_PROXY from the environment.

use once_cell::sync::Lazy;
use reqwest::{redirect, Certificate, Client, ClientBuilder, Proxy};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use crate::http::config::Resolved;
use crate::error::Error;

/// Whether the platform's store holds at least one usable root. Read once per process:
/// it is a few hundred certificates from disk.
static PLATFORM_HAS_ROOTS: Lazy<bool> = Lazy::new(|| {
    let found = rustls_native_certs::load_native_certs();
    RootCertStore::empty().add_parsable_certificates(found.certs).0 > 0
});

/// Builds the client. Does no network I/O; reads the platform's roots from disk.
pub(crate) fn build(resolved: &Resolved) -> Result<Client, Error> {
    let mut builder = Client::builder()
        .use_rustls_tls()
        .connect_timeout(resolved.connect_timeout)
        .timeout(resolved.timeout)
        .user_agent(resolved.user_agent.clone())
        // A redirect would replay the signed request to another URL.
        .redirect(redirect::Policy::none());
    builder = if *PLATFORM_HAS_ROOTS {
        builder.tls_built_in_webpki_certs(false)
    } else {
        builder.tls_built_in_native_certs(false)
    };
    for certificate in extra_roots(resolved.extra_ca_pem.as_deref())? {
        builder = builder.add_root_certificate(certificate);
    }
    builder = with_proxy(builder, resolved)?;
    Ok(builder.build()?)
}

/// The CA certificates in `pem`, each checked to be usable as a trust anchor.
fn extra_roots(pem: Option<&str>) -> Result<Vec<Certificate>, Error> {
    let Some(pem) = pem else {
        return Ok(Vec::new());
    };
    let invalid = |why: String| Error::Config(format!("extra_ca_pem: {why}"));
    let ders = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("not valid PEM ({e})")))?;
    if ders.is_empty() {
        return Err(invalid("no \"BEGIN CERTIFICATE\" block found".into()));
    }
    let mut anchors = RootCertStore::empty();
    ders.iter()
        .enumerate()
        .map(|(i, der)| {
            anchors.add(der.clone()).map_err(|e| {
                // rustls words every certificate error as the peer's; this one is ours.
                let why = match e {
                    rustls::Error::InvalidCertificate(problem) => format!("{problem:?}"),
                    other => other.to_string(),
                };
                invalid(format!("certificate {} is not a usable CA certificate ({why})", i + 1))
            })?;
            Certificate::from_der(der).map_err(|_| invalid(format!("certificate {} is not valid DER", i + 1)))
        })
        .collect()
}

fn with_proxy(builder: ClientBuilder, resolved: &Resolved) -> Result<ClientBuilder, Error> {
    // config.rs allows http:// for loopback hosts only: such a request must not leave
    // the machine, least of all in clear text through a proxy.
    if resolved.token_url.scheme() == "http" {
        return Ok(builder.no_proxy());
    }
    let Some(proxy_url) = &resolved.proxy_url else {
        // reqwest's system proxy: HTTPS_PROXY, ALL_PROXY, NO_PROXY (either case).
        return Ok(builder);
    };
    // Messages never echo the URL: it may carry credentials.
    let url = reqwest::Url::parse(proxy_url.expose())
        .map_err(|e| Error::Config(format!("proxy_url is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Error::Config("proxy_url must be an http:// or https:// URL with a host".into()));
    }
    // Credentials in the URL's userinfo become Basic Proxy-Authorization.
    let proxy = Proxy::all(url).map_err(|_| Error::Config("proxy_url is not a usable proxy URL".into()))?;
    Ok(builder.proxy(proxy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_roots_refuse_anything_but_ca_certificates() {
        for bad in ["", "not pem", "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"]
        {
            let Err(Error::Config(reason)) = extra_roots(Some(bad)) else {
                panic!("accepted {bad:?}");
            };
            assert!(reason.starts_with("extra_ca_pem: "), "{reason}");
        }
    }
}
