//! The harness of the async tests: a mock, a manager whose token was just refused.

#![allow(dead_code)] // each test file uses a part

use std::sync::Arc;

use cobo_oauth::{memory_token_store, AppKey, ClientConfig, OAuthClient, Secret, TokenManager, TokenManagerConfig, TokenStore};
use cobo_oauth_mock::{App, Fault, FaultTarget, MockConfig, MockServer};

pub const CLIENT_ID: &str = "async-app";
pub const ORG: &str = "org-async";
pub const CALLERS: usize = 1000;

pub struct Harness {
    pub server: MockServer,
    pub store: Arc<dyn TokenStore>,
    pub manager: Arc<TokenManager>,
}

impl Harness {
    /// A manager whose cached token has just been refused (expired): the next call
    /// must renew it, by a refresh.
    pub fn with_expired_token() -> (Harness, Secret) {
        let server = MockServer::start(MockConfig::default()).unwrap();
        let key = Arc::new(AppKey::generate().unwrap());
        server.register_app(App { client_id: CLIENT_ID.into(), api_key: key.api_key(), orgs: vec![ORG.into()] });
        let config = ClientConfig { max_retries: 0, ..ClientConfig::for_base_url(server.base_url(), server.response_public_key()) };
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

