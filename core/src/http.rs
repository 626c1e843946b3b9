//! The HTTP engine: one reqwest blocking client per configuration, built from the
//! checked configuration (timeouts, user agent, redirects; TLS roots and proxies).

use reqwest::blocking::Client;
use reqwest::redirect;

use crate::config::Resolved;
use crate::error::Error;

/// Builds the client. Does no network I/O.
pub(crate) fn build(resolved: &Resolved) -> Result<Client, Error> {
    Ok(Client::builder()
        .use_rustls_tls()
        .connect_timeout(resolved.connect_timeout)
        .timeout(resolved.timeout)
        .user_agent(resolved.user_agent.clone())
        // A redirect would replay the signed request to another URL.
        .redirect(redirect::Policy::none())
        .build()?)
}
