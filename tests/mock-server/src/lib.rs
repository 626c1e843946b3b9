//! A local stand-in for Cobo WaaS 2.0's OAuth endpoints, for tests in every language
//! and for developing against without a Cobo account.
//!
//! It checks CoboAuth exactly as Cobo would (signature over the raw request, nonce
//! window, replay), issues and rotates Org Access Tokens, signs every response with
//! its own Ed25519 key, and can replace the next requests with injected [`Fault`]s.
//! Tests drive it through this API or through the HTTP control API under `/_mock`.

mod auth;
mod cli;
mod conn;
mod control;
mod crypto;
mod error;
mod faults;
mod http;
mod oauth;
mod protected;
mod proxy;
mod proxy_cli;
mod server;
mod stop_signal;
mod tls;
mod tokens;

use std::io;
use std::path::{Path, PathBuf};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use cli::run_cli;
pub use faults::{Fault, FaultTarget};
pub use proxy::{ConnectProxy, ProxyConfig, ProxySeen};
pub use tls::TlsMode;

use crate::auth::NonceBook;
use crate::crypto::{os_random32, ResponseSigner, Rng};
use crate::faults::FaultQueue;
use crate::server::{lock, State};
use crate::tokens::Registry;

/// How to start a [`MockServer`].
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Address to bind; default 127.0.0.1.
    pub host: IpAddr,
    /// Port to bind; 0 (the default) picks a free one.
    pub port: u16,
    /// Apps registered at start.
    pub apps: Vec<App>,
    /// `expires_in` of issued access tokens; default 43199 (Cobo's ~12 h).
    pub access_ttl_secs: u64,
    /// Lifetime of issued refresh tokens; default 30 days. 0 makes them expire at once.
    pub refresh_ttl_secs: u64,
    /// Accepted distance between `Biz-Api-Nonce` and server time; default 60 000.
    pub nonce_window_ms: u64,
    /// Seed of the response-signing key; `None` draws one from the OS CSPRNG.
    /// A fixed seed gives a fixed [`MockServer::response_public_key`].
    pub response_seed: Option<[u8; 32]>,
    /// Serve `/v2` over HTTPS with this certificate; `None` (the default) is plain HTTP.
    /// The control API stays plain HTTP on the same port either way.
    pub tls: Option<TlsMode>,
    /// Strict rotation (default false): a spent refresh token presented again also
    /// revokes every access and refresh token of its family, as Auth0, Okta and Ory
    /// Hydra do. Either way it is refused with 400 `invalid_grant`.
    pub strict_rotation: bool,
}

impl Default for MockConfig {
    fn default() -> MockConfig {
        MockConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            apps: Vec::new(),
            access_ttl_secs: 43199,
            refresh_ttl_secs: 30 * 24 * 3600,
            nonce_window_ms: 60_000,
            response_seed: None,
            tls: None,
            strict_rotation: false,
        }
    }
}

/// A Portal App as Cobo knows it: its client ID, its API key (the Ed25519 public key,
/// 64 hex chars) and the organizations that installed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    pub client_id: String,
    pub api_key: String,
    #[serde(default)]
    pub orgs: Vec<String>,
}

/// What the server has seen since start or the last [`MockServer::reset`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Requests under /v2, whatever their outcome.
    pub total: u64,
    /// `GET /v2/oauth/token` requests (Get Org Access Token), faulted ones included.
    pub get: u64,
    /// `POST /v2/oauth/token` requests (Refresh Org Access Token), faulted ones included.
    pub refresh: u64,
    /// Token requests refused with a 4XX by normal processing: CoboAuth failures (401),
    /// uninstalled orgs (403), bad parameters and spent or expired refresh tokens (400).
    pub rejected: u64,
    /// Token requests answered by an injected fault (`delay` included).
    pub faulted: u64,
    /// Token pairs issued by either operation: the renewals clients made.
    pub issued: u64,
    /// Refreshes refused because the refresh token was already spent, or (strict
    /// rotation) its family revoked.
    pub spent_refusals: u64,
    /// Families revoked because one of their spent refresh tokens came back (strict
    /// rotation only; a family counts once).
    pub reuse_detections: u64,
    /// Calls to the protected endpoint (`/v2/wallets…`) that passed CoboAuth and the
    /// Bearer token check.
    pub protected_accepted: u64,
    /// Calls to the protected endpoint refused (bad signature, replayed nonce, missing,
    /// unknown, expired or revoked token).
    pub protected_refused: u64,
    /// Requests (either endpoint) refused because their key had used the nonce before.
    pub nonce_reuses: u64,
    /// Requests (either endpoint) refused because the nonce was not a millisecond
    /// timestamp within the window of the mock's clock.
    pub nonce_out_of_window: u64,
}

/// A running mock server. Dropping it (or [`MockServer::shutdown`]) stops accepting and
/// closes open connections.
pub struct MockServer {
    state: Arc<State>,
    addr: SocketAddr,
    /// The CA clients must trust (HTTPS only), and where it was written.
    ca: Option<(String, PathBuf)>,
    accept_thread: Option<JoinHandle<()>>,
}

impl MockServer {
    /// Binds, spawns the accept thread and returns at once.
    pub fn start(config: MockConfig) -> io::Result<MockServer> {
        let listener = TcpListener::bind((config.host, config.port))?;
        let addr = listener.local_addr()?;
        let seed = match config.response_seed {
            Some(seed) => seed,
            None => os_random32()?,
        };
        let authority = match url_host(addr.ip()) {
            IpAddr::V4(ip) => format!("{ip}:{}", addr.port()),
            IpAddr::V6(ip) => format!("[{ip}]:{}", addr.port()),
        };
        let (tls, ca) = match &config.tls {
            None => (None, None),
            Some(mode) => {
                let tls = tls::Tls::new(mode)?;
                let file = tls::write_ca_file(&tls.ca_pem, addr.port())?;
                (Some(tls.config), Some((tls.ca_pem, file)))
            }
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut registry =
            Registry::new(config.access_ttl_secs, config.refresh_ttl_secs, config.strict_rotation);
        for app in config.apps {
            registry.register(app);
        }
        let state = Arc::new(State {
            signer: ResponseSigner::new(seed),
            rng: Rng::from_os()?,
            registry: Mutex::new(registry),
            nonces: Mutex::new(NonceBook::default()),
            faults: Mutex::new(FaultQueue::default()),
            counters: Mutex::new(Counters::default()),
            protected: Default::default(),
            nonce_window_ms: config.nonce_window_ms,
            clock_offset_ms: Default::default(),
            base_url: format!("{scheme}://{authority}/v2"),
            control_url: format!("http://{authority}/_mock"),
            tls,
            log: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            connections: Mutex::new(Default::default()),
        });
        let st = Arc::clone(&state);
        let accept_thread = thread::Builder::new()
            .name("cobo-oauth-mock-accept".into())
            .spawn(move || server::accept_loop(listener, st))?;
        Ok(MockServer {
            state,
            addr,
            ca,
            accept_thread: Some(accept_thread),
        })
    }

    /// The base URL clients use, e.g. `http://127.0.0.1:PORT/v2`.
    pub fn base_url(&self) -> String {
        self.state.base_url.clone()
    }

    /// The control API's URL, e.g. `http://127.0.0.1:PORT/_mock`.
    pub fn control_url(&self) -> String {
        self.state.control_url.clone()
    }

    /// The PEM of the CA that signed the server certificate, when serving HTTPS.
    pub fn ca_pem(&self) -> Option<String> {
        self.ca.as_ref().map(|(pem, _)| pem.clone())
    }

    /// The file holding [`MockServer::ca_pem`], removed when the server stops.
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca.as_ref().map(|(_, file)| file.as_path())
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The public key (64 hex) that verifies this server's response signatures.
    pub fn response_public_key(&self) -> String {
        self.state.signer.public_key_hex()
    }

    /// Registers an app, replacing any app with the same client ID.
    pub fn register_app(&self, app: App) {
        lock(&self.state.registry).register(app);
    }

    /// Queues `fault` for the next `count` token requests of either operation.
    pub fn inject(&self, fault: Fault, count: u32) {
        self.inject_for(fault, count, FaultTarget::Any);
    }

    /// Queues `fault` for the next `count` token requests that `target` selects.
    pub fn inject_for(&self, fault: Fault, count: u32, target: FaultTarget) {
        lock(&self.state.faults).push(fault, count, target);
    }

    pub fn counters(&self) -> Counters {
        *lock(&self.state.counters)
    }

    /// Makes the next `count` accepted protected responses arrive with a body other
    /// than the one signed (for "a tampered response is rejected" tests).
    pub fn tamper_next_protected(&self, count: u32) {
        self.state.protected.tamper_next(count);
    }

    /// TTLs of tokens issued from now on; tokens already issued keep theirs.
    pub fn set_token_ttls(&self, access_ttl_secs: u64, refresh_ttl_secs: u64) {
        let mut registry = lock(&self.state.registry);
        registry.access_ttl_secs = access_ttl_secs;
        registry.refresh_ttl_secs = refresh_ttl_secs;
    }

    /// Switches strict rotation on or off for refreshes from now on. Families revoked
    /// while it was on stay revoked.
    pub fn set_strict_rotation(&self, on: bool) {
        lock(&self.state.registry).strict_rotation = on;
    }

    /// Moves the mock's clock (nonce window, token expiry, `Biz-Timestamp`) by
    /// `offset_ms` from this host's: a host whose clock is off by `-offset_ms`.
    pub fn set_clock_offset(&self, offset_ms: i64) {
        self.state.clock_offset_ms.store(offset_ms, std::sync::atomic::Ordering::Relaxed);
    }

    /// Revokes every token family of `org_id` (or, with `expire_only`, expires its access
    /// tokens now): what Cobo does behind a client's back. Returns the tokens affected.
    pub fn revoke_org(&self, org_id: &str, expire_only: bool) -> usize {
        lock(&self.state.registry).revoke_org(org_id, expire_only)
    }

    /// Clears queued faults, pending tampering and counters (apps and tokens stay).
    pub fn reset(&self) {
        lock(&self.state.faults).clear();
        self.state.protected.clear();
        *lock(&self.state.counters) = Counters::default();
    }

    /// Logs one line per request to stderr (never tokens or signatures). Off by default.
    pub fn set_request_log(&self, on: bool) {
        self.state.log.store(on, Ordering::Relaxed);
    }

    /// Stops accepting and closes open connections. Dropping the server does the same.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(accept_thread) = self.accept_thread.take() else {
            return;
        };
        if let Some(dir) = self.ca.as_ref().and_then(|(_, file)| file.parent()) {
            let _ = std::fs::remove_dir_all(dir);
        }
        server::close_connections(&self.state);
        // The accept loop notices the flag only when accept() returns: wake it.
        let wake = SocketAddr::new(url_host(self.addr.ip()), self.addr.port());
        if TcpStream::connect_timeout(&wake, Duration::from_secs(1)).is_ok() {
            let _ = accept_thread.join();
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The address clients should dial: loopback when bound to "any".
fn url_host(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    }
}
