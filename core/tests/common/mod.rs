//! What the integration tests share: the mock with one app registered and the clients and
//! managers built on it (`Mocked`), the file store's record on disk, and the async tests'
//! harness (a manager whose token was just refused).

#![allow(dead_code)] // each test file uses a part

use std::sync::Arc;

use cobo_oauth::{memory_token_store, AppKey, ClientConfig, OAuthClient, Secret, TokenManager, TokenManagerConfig, TokenStore};
use cobo_oauth_mock::{App, Fault, FaultTarget, MockConfig, MockServer};


pub const CLIENT_ID: &str = "async-app";
pub const ORG: &str = "org-async";
pub const CALLERS: usize = 1000;

/// The mock, started with `config`, with one app (a fresh key) that `orgs` installed.
pub fn mock_with_app(config: MockConfig, client_id: &str, orgs: &[&str]) -> (MockServer, Arc<AppKey>) {
    let server = MockServer::start(config).unwrap();
    let key = Arc::new(AppKey::generate().unwrap());
    let orgs = orgs.iter().map(|org| (*org).to_owned()).collect();
    server.register_app(App { client_id: client_id.into(), api_key: key.api_key(), orgs });
    (server, key)
}

/// A client config for the mock: its URL and response key, the defaults otherwise.
pub fn client_config(server: &MockServer) -> ClientConfig {
    ClientConfig::for_base_url(server.base_url(), server.response_public_key())
}

/// The mock with one app (a fresh key) that some orgs installed, and what a test builds
/// on it: a client config, clients, managers.
pub struct Mocked {
    pub server: MockServer,
    pub key: Arc<AppKey>,
    pub client_id: String,
}

impl Mocked {
    pub fn start(config: MockConfig, client_id: &str, orgs: &[&str]) -> Mocked {
        let (server, key) = mock_with_app(config, client_id, orgs);
        Mocked { server, key, client_id: client_id.into() }
    }

    /// Pointed at the mock (trusting its CA if it serves TLS), retrying 1 to 5 ms apart;
    /// the defaults otherwise.
    pub fn config(&self) -> ClientConfig {
        let extra_ca_pem = self.server.ca_pem();
        ClientConfig { retry_base_delay_ms: 1, retry_max_delay_ms: 5, extra_ca_pem, ..client_config(&self.server) }
    }

    pub fn client(&self, config: ClientConfig) -> Arc<OAuthClient> {
        Arc::new(OAuthClient::new(self.key.clone(), config).unwrap())
    }

    /// A manager for the app on its own client (`config`): another process, as far as a
    /// shared store can tell.
    pub fn manager(&self, config: ClientConfig, store: Arc<dyn TokenStore>, manager_config: TokenManagerConfig) -> TokenManager {
        TokenManager::new(self.client(config), self.client_id.clone(), Some(store), Some(manager_config)).unwrap()
    }
}

/// The file holding the one org's record in a file store's directory.
pub fn record_file(path: &std::path::Path) -> std::path::PathBuf {
    let records: Vec<_> = std::fs::read_dir(path)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    assert_eq!(records.len(), 1, "{records:?}");
    records.into_iter().next().unwrap()
}

pub struct Harness {
    pub server: MockServer,
    pub store: Arc<dyn TokenStore>,
    pub manager: Arc<TokenManager>,
}

impl Harness {
    /// A manager whose cached token has just been refused (expired): the next call
    /// must renew it, by a refresh.
    pub fn with_expired_token() -> (Harness, Secret) {
        let (server, key) = mock_with_app(MockConfig::default(), CLIENT_ID, &[ORG]);
        let config = ClientConfig { max_retries: 0, ..client_config(&server) };
        let client = Arc::new(OAuthClient::new(key, config).unwrap());
        let store = memory_token_store();
        let manager_config = TokenManagerConfig { refresh_margin_secs: 0, ..TokenManagerConfig::default() };
        let manager = Arc::new(TokenManager::new(client, CLIENT_ID.into(), Some(store.clone()), Some(manager_config)).unwrap());
        let old = manager.access_token(ORG.into()).unwrap();
        assert!(manager.invalidate(ORG.into(), old.clone()).unwrap());
        server.reset();
        (Harness { server, store, manager }, old)
    }

    pub fn slow_refresh(&self, delay_ms: u64) {
        self.server.inject_for(Fault::Delay { delay_ms }, 1, FaultTarget::Refresh);
    }
}

pub fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status.lines().find_map(|line| line.strip_prefix("Threads:")).unwrap().trim().parse().unwrap()
}

pub fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

