//! HTTPS end to end over real loopback: the mock serving TLS with its throwaway CA,
//! trust (extra CAs, wrong host, expired), explicit proxies through the test CONNECT
//! proxy, and proxy credentials kept out of errors. The environment's proxy and trust
//! variables are process-global: cli/tests/https_env.rs tests them in child processes.

mod common;

use std::sync::Arc;

use cobo_oauth::{ClientConfig, CoboOAuthError, OAuthClient, OrgToken, Secret, TokenManager};
use cobo_oauth_mock::{ConnectProxy, Fault, FaultTarget, MockConfig, ProxyConfig, TlsMode};
use common::Mocked;
use serde_json::Value;

const CLIENT_ID: &str = "https-portal-app";
const ORG_ID: &str = "e3986401-4aec-480a-973d-e775a4518413";

fn start(tls: TlsMode) -> Mocked {
    Mocked::start(MockConfig { tls: Some(tls), ..MockConfig::default() }, CLIENT_ID, &[ORG_ID])
}

fn get_with(h: &Mocked, config: ClientConfig) -> Result<OrgToken, CoboOAuthError> {
    OAuthClient::new(h.key.clone(), config)?.get_org_token(CLIENT_ID.into(), ORG_ID.into())
}

fn transport_reason(result: Result<OrgToken, CoboOAuthError>) -> String {
    match result {
        Err(CoboOAuthError::Transport { reason }) => reason,
        other => panic!("expected Transport, got {other:?}"),
    }
}

#[test]
fn the_mock_serves_https_with_a_ca_it_prints() {
    let h = start(TlsMode::Valid);
    assert!(h.server.base_url().starts_with("https://127.0.0.1:"), "{}", h.server.base_url());
    assert!(h.server.control_url().starts_with("http://"), "the control API stays plain");
    let file = h.server.ca_file().unwrap();
    assert_eq!(std::fs::read_to_string(file).unwrap(), h.server.ca_pem().unwrap());
}

#[test]
fn get_and_refresh_over_https_trusting_the_mocks_ca() {
    let h = start(TlsMode::Valid);
    let client = OAuthClient::new(h.key.clone(), h.config()).unwrap();
    let token = client.get_org_token(CLIENT_ID.into(), ORG_ID.into()).unwrap();
    let fresh = client.refresh_org_token(CLIENT_ID.into(), token.refresh_token.clone()).unwrap();
    assert_ne!(fresh.refresh_token, token.refresh_token);
    let counters = h.server.counters();
    assert_eq!((counters.get, counters.refresh, counters.issued), (1, 1, 2));
}

#[test]
fn the_token_manager_works_over_https() {
    let h = start(TlsMode::Valid);
    let client = Arc::new(OAuthClient::new(h.key.clone(), h.config()).unwrap());
    let manager = TokenManager::new(client, CLIENT_ID.into(), None, None).unwrap();
    let header = manager.authorization_header(ORG_ID.into()).unwrap();
    assert!(header.expose().starts_with("Bearer "));
    assert_eq!(manager.access_token(ORG_ID.into()).unwrap().expose(), &header.expose()["Bearer ".len()..]);
    assert_eq!(h.server.counters().get, 1);
}

/// Two entries of the shared fault matrix, over TLS: a signed 500 on refresh, and a
/// body cut short (the TLS stream closes early) on get.
#[test]
fn faults_from_the_matrix_over_https() {
    let matrix: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/faults.json")).unwrap())
            .unwrap();
    let entry = |name: &str| matrix.iter().find(|e| e["name"] == name).unwrap().clone();
    let h = start(TlsMode::Valid);
    let client = OAuthClient::new(h.key.clone(), ClientConfig { max_retries: 0, ..h.config() }).unwrap();

    let server_error = entry("refresh_server_error_500");
    let token = client.get_org_token(CLIENT_ID.into(), ORG_ID.into()).unwrap();
    h.server.inject_for(serde_json::from_value::<Fault>(server_error["fault"].clone()).unwrap(), 1, FaultTarget::Refresh);
    match client.refresh_org_token(CLIENT_ID.into(), token.refresh_token) {
        Err(CoboOAuthError::Server { status, error_code, .. }) => {
            assert_eq!(u64::from(status), server_error["expect"]["status"].as_u64().unwrap());
            assert_eq!(error_code, server_error["expect"]["error_code"].as_i64().unwrap());
        }
        other => panic!("refresh_server_error_500: {other:?}"),
    }

    let truncated = entry("get_truncated_body");
    assert_eq!(truncated["expect"]["variant"], "Transport");
    h.server.inject_for(serde_json::from_value::<Fault>(truncated["fault"].clone()).unwrap(), 1, FaultTarget::Get);
    transport_reason(client.get_org_token(CLIENT_ID.into(), ORG_ID.into()));
}

#[test]
fn without_the_ca_the_certificate_is_refused_as_unknown_issuer() {
    let h = start(TlsMode::Valid);
    let reason = transport_reason(get_with(&h, ClientConfig { extra_ca_pem: None, max_retries: 0, ..h.config() }));
    assert!(reason.contains("invalid peer certificate: UnknownIssuer"), "{reason}");
    assert_eq!(h.server.counters().total, 0, "nothing reached the server");
}

#[test]
fn a_certificate_for_another_host_is_refused() {
    let h = start(TlsMode::WrongHost);
    let reason = transport_reason(get_with(&h, ClientConfig { max_retries: 0, ..h.config() }));
    assert!(reason.contains("invalid peer certificate") && reason.contains("not valid for name"), "{reason}");
}

#[test]
fn an_expired_certificate_is_refused() {
    let h = start(TlsMode::Expired);
    let reason = transport_reason(get_with(&h, ClientConfig { max_retries: 0, ..h.config() }));
    assert!(reason.contains("invalid peer certificate: certificate expired"), "{reason}");
}

#[test]
fn unusable_ca_pem_is_an_invalid_argument_at_construction() {
    let h = start(TlsMode::Valid);
    let key_pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    for (pem, says) in [("not a certificate", "no \"BEGIN CERTIFICATE\" block"), (key_pem, "no \"BEGIN CERTIFICATE\" block")] {
        match OAuthClient::new(h.key.clone(), ClientConfig { extra_ca_pem: Some(pem.into()), ..h.config() }) {
            Err(CoboOAuthError::InvalidArgument { reason }) => assert!(reason.contains(says), "{reason}"),
            other => panic!("{pem:?}: {:?}", other.map(|_| ())),
        }
    }
    // One good CA among several is fine; a broken block among good ones is not.
    let ca = h.server.ca_pem().unwrap();
    let other = start(TlsMode::Valid).server.ca_pem().unwrap();
    assert!(get_with(&h, ClientConfig { extra_ca_pem: Some(format!("{other}{ca}")), ..h.config() }).is_ok());
    let broken = format!("{ca}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    match OAuthClient::new(h.key.clone(), ClientConfig { extra_ca_pem: Some(broken), ..h.config() }) {
        Err(CoboOAuthError::InvalidArgument { reason }) => assert!(reason.contains("certificate 2"), "{reason}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn an_explicit_proxy_tunnels_get_and_refresh_without_clear_text() {
    let h = start(TlsMode::Valid);
    let proxy = ConnectProxy::start(ProxyConfig::default()).unwrap();
    let config = ClientConfig { proxy_url: Some(Secret::new(proxy.proxy_url())), ..h.config() };
    let client = OAuthClient::new(h.key.clone(), config).unwrap();
    let token = client.get_org_token(CLIENT_ID.into(), ORG_ID.into()).unwrap();
    client.refresh_org_token(CLIENT_ID.into(), token.refresh_token).unwrap();
    let seen = proxy.seen();
    let authority = h.server.base_url().trim_start_matches("https://").trim_end_matches("/v2").to_owned();
    assert!(!seen.connect.is_empty() && seen.connect.iter().all(|t| *t == authority), "{seen:?}");
    assert!(seen.plaintext.is_empty(), "{seen:?}");
    assert_eq!(h.server.counters().issued, 2);
}

#[test]
fn proxy_credentials_come_from_the_url_and_never_show() {
    let h = start(TlsMode::Valid);
    let proxy = ConnectProxy::start(ProxyConfig { credentials: Some("app:s3cret-pw".into()), ..ProxyConfig::default() }).unwrap();
    let with = |userinfo: &str| ClientConfig {
        proxy_url: Some(Secret::new(proxy.proxy_url().replace("http://", &format!("http://{userinfo}@")))),
        max_retries: 0,
        ..h.config()
    };
    get_with(&h, with("app:s3cret-pw")).unwrap();

    let wrong = with("app:wr0ng-pw");
    assert!(!format!("{wrong:?}").contains("wr0ng-pw"), "Debug shows the proxy password");
    let err = get_with(&h, wrong).unwrap_err();
    let rendered = format!("{err} {err:?}");
    assert!(matches!(err, CoboOAuthError::Transport { .. }), "{rendered}");
    assert!(!rendered.contains("wr0ng-pw") && !rendered.contains("app:"), "{rendered}");
    assert_eq!(proxy.seen().refused, 1);
}

#[test]
fn a_refusing_proxy_is_a_transport_error() {
    let h = start(TlsMode::Valid);
    for status in [403, 407] {
        let proxy = ConnectProxy::start(ProxyConfig { refuse: Some(status), ..ProxyConfig::default() }).unwrap();
        let config = ClientConfig { proxy_url: Some(Secret::new(proxy.proxy_url())), max_retries: 0, ..h.config() };
        let reason = transport_reason(get_with(&h, config));
        assert!(reason.contains("tunnel") || reason.contains("proxy"), "{status}: {reason}");
        assert_eq!(proxy.seen().refused, 1);
    }
    assert_eq!(h.server.counters().total, 0);
}

#[test]
fn an_unusable_proxy_url_is_an_invalid_argument_that_does_not_echo_it() {
    let h = start(TlsMode::Valid);
    for url in ["socks5://user:pw-123@127.0.0.1:1080", "not a url pw-123", "http://user:pw-123@"] {
        match OAuthClient::new(h.key.clone(), ClientConfig { proxy_url: Some(Secret::new(url)), ..h.config() }) {
            Err(CoboOAuthError::InvalidArgument { reason }) => {
                assert!(reason.starts_with("proxy_url") && !reason.contains("pw-123"), "{reason}")
            }
            other => panic!("{url}: {:?}", other.map(|_| ())),
        }
    }
}

#[test]
fn a_plain_http_loopback_base_url_ignores_an_explicit_proxy() {
    let (server, key) = common::mock_with_app(MockConfig::default(), CLIENT_ID, &[ORG_ID]);
    let proxy = ConnectProxy::start(ProxyConfig::default()).unwrap();
    let config = ClientConfig {
        proxy_url: Some(Secret::new(proxy.proxy_url())),
        ..common::client_config(&server)
    };
    let client = OAuthClient::new(key, config).unwrap();
    let token = client.get_org_token(CLIENT_ID.into(), ORG_ID.into()).unwrap();
    client.refresh_org_token(CLIENT_ID.into(), token.refresh_token).unwrap();
    assert_eq!(proxy.seen(), Default::default());
}
