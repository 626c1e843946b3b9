//! Talking to Cobo: the OAuth client and its configuration, the transport (TLS, proxies),
//! retries, refusals a request recovers from, signed requests for any HTTP client, and
//! the I/O runtime every call runs on.

pub(crate) mod async_client;
pub(crate) mod client;
pub(crate) mod config;
pub(crate) mod refusal;
pub(crate) mod request_auth;
pub(crate) mod retry_after;
pub(crate) mod runtime;
pub(crate) mod transport;
