//! The environment's proxy and trust settings (HTTPS_PROXY, ALL_PROXY, NO_PROXY,
//! SSL_CERT_FILE), which are process-global: each case runs `cobo-oauth token get` in a
//! child process with its own environment, against a TLS mock and a CONNECT proxy
//! running in this process.

use std::process::{Command, Output, Stdio};

use cobo_oauth::AppKey;
use cobo_oauth_mock::{App, ConnectProxy, MockConfig, MockServer, ProxyConfig, TlsMode};

const CLIENT_ID: &str = "env-portal-app";
const ORG_ID: &str = "env-org";
const INHERITED: [&str; 10] = [
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR",
];

struct Setup {
    server: MockServer,
    key: AppKey,
}

fn start(tls: Option<TlsMode>) -> Setup {
    let server = MockServer::start(MockConfig { tls, ..MockConfig::default() }).unwrap();
    let key = AppKey::generate().unwrap();
    server.register_app(App { client_id: CLIENT_ID.into(), api_key: key.api_key(), orgs: vec![ORG_ID.into()] });
    Setup { server, key }
}

impl Setup {
    /// `cobo-oauth token get` against the mock, with only `env` for proxy and trust settings.
    fn token_get(&self, env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_cobo-oauth"));
        command.args(["token", "get", "--client-id", CLIENT_ID, "--org-id", ORG_ID]);
        command.args(["--base-url", &self.server.base_url(), "--response-key", &self.server.response_public_key()]);
        command.env("COBO_APP_PRIVATE_KEY", self.key.private_key_hex().expose()).stdin(Stdio::null());
        for name in INHERITED {
            command.env_remove(name);
        }
        command.envs(env.iter().copied());
        command.output().unwrap()
    }

    fn ca_file(&self) -> String {
        self.server.ca_file().unwrap().display().to_string()
    }
}

fn succeeded(out: &Output) -> bool {
    let ok = out.status.success() && String::from_utf8_lossy(&out.stdout).contains("\"token_type\":\"Bearer\"");
    if !ok {
        eprintln!("stdout: {}\nstderr: {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    ok
}

#[test]
fn the_platform_roots_come_from_ssl_cert_file() {
    let s = start(Some(TlsMode::Valid));
    assert!(succeeded(&s.token_get(&[("SSL_CERT_FILE", &s.ca_file())])));
    let refused = s.token_get(&[]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("UnknownIssuer"), "{refused:?}");
}

#[test]
fn https_proxy_tunnels_the_request() {
    let s = start(Some(TlsMode::Valid));
    let proxy = ConnectProxy::start(ProxyConfig::default()).unwrap();
    for name in ["HTTPS_PROXY", "https_proxy", "ALL_PROXY"] {
        proxy.reset();
        assert!(succeeded(&s.token_get(&[("SSL_CERT_FILE", &s.ca_file()), (name, &proxy.proxy_url())])), "{name}");
        let seen = proxy.seen();
        assert_eq!(seen.connect.len(), 1, "{name}: {seen:?}");
        assert!(seen.plaintext.is_empty(), "{name}: {seen:?}");
    }
}

#[test]
fn no_proxy_bypasses_the_proxy() {
    let s = start(Some(TlsMode::Valid));
    let proxy = ConnectProxy::start(ProxyConfig { refuse: Some(403), ..ProxyConfig::default() }).unwrap();
    let env = [("SSL_CERT_FILE", s.ca_file()), ("HTTPS_PROXY", proxy.proxy_url()), ("NO_PROXY", "127.0.0.1".into())];
    let env: Vec<(&str, &str)> = env.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert!(succeeded(&s.token_get(&env)));
    assert_eq!(proxy.seen(), Default::default());
}

#[test]
fn a_plain_http_loopback_base_url_never_uses_the_environments_proxy() {
    let s = start(None);
    let proxy = ConnectProxy::start(ProxyConfig::default()).unwrap();
    let url = proxy.proxy_url();
    assert!(succeeded(&s.token_get(&[("ALL_PROXY", &url), ("HTTP_PROXY", &url), ("http_proxy", &url)])));
    assert_eq!(proxy.seen(), Default::default(), "the request went through the proxy");
}

#[test]
fn proxy_credentials_from_the_environment_never_show_in_errors() {
    let s = start(Some(TlsMode::Valid));
    let proxy = ConnectProxy::start(ProxyConfig { credentials: Some("app:right-pw".into()), ..ProxyConfig::default() }).unwrap();
    let with = |password: &str| proxy.proxy_url().replace("http://", &format!("http://app:{password}@"));
    assert!(succeeded(&s.token_get(&[("SSL_CERT_FILE", &s.ca_file()), ("HTTPS_PROXY", &with("right-pw"))])));
    let out = s.token_get(&[("SSL_CERT_FILE", &s.ca_file()), ("HTTPS_PROXY", &with("wr0ng-pw"))]);
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{printed}");
    assert!(printed.contains("transport error"), "{printed}");
    assert!(!printed.contains("wr0ng-pw"), "{printed}");
}
