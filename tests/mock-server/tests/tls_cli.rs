//! `cobo-oauth-mock --tls` and `cobo-oauth-mock proxy` as harnesses start them: their
//! start lines, the plain-HTTP control API beside HTTPS, and the proxy's record.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_cobo-oauth-mock");

/// A child process and its parsed start line; closing stdin (drop) stops it.
struct Started {
    child: Child,
    ready: Value,
}

impl Drop for Started {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Started {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    Started { child, ready: serde_json::from_str(&line).unwrap() }
}

/// One plain HTTP/1.1 exchange with `Connection: close`; returns the whole answer.
fn plain(url: &str, method: &str, path: &str) -> String {
    let authority = url.trim_start_matches("http://").split('/').next().unwrap();
    let mut stream = TcpStream::connect(authority).unwrap();
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

fn body(answer: &str) -> Value {
    serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap()
}

#[test]
fn tls_prints_the_ca_and_keeps_the_control_api_plain() {
    let mock = start(&["--tls"]);
    let base_url = mock.ready["base_url"].as_str().unwrap();
    assert!(base_url.starts_with("https://127.0.0.1:"), "{base_url}");
    let ca_pem = mock.ready["ca_pem"].as_str().unwrap();
    assert!(ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let ca_file = mock.ready["ca_file"].as_str().unwrap();
    assert_eq!(std::fs::read_to_string(ca_file).unwrap(), ca_pem);

    let control_url = mock.ready["control_url"].as_str().unwrap();
    let info = plain(control_url, "GET", "/_mock/info");
    assert!(info.starts_with("HTTP/1.1 200"), "{info}");
    assert_eq!(body(&info)["base_url"], base_url);
}

/// SIGTERM (a service manager, `kill`, a shell's job control) stops the mock as closing
/// stdin does: it exits 0 and leaves no CA file behind.
#[cfg(unix)]
#[test]
fn sigterm_removes_the_ca_file() {
    let mut mock = start(&["--tls", "--ignore-stdin"]);
    let ca_file = std::path::PathBuf::from(mock.ready["ca_file"].as_str().unwrap());
    assert!(ca_file.exists());
    let pid = mock.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(mock.child.wait().unwrap().success());
    assert!(!ca_file.exists(), "{} left behind", ca_file.display());
}

#[test]
fn tls_serves_a_certificate_loaded_from_files() {
    let dir = std::env::temp_dir().join(format!("cobo-oauth-mock-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    let mock = start(&["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]);
    assert_eq!(mock.ready["ca_pem"], generated.cert.pem());
    drop(mock);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn proxy_reports_connects_and_clear_text_requests() {
    let proxy = start(&["proxy", "--port", "0"]);
    let proxy_url = proxy.ready["proxy_url"].as_str().unwrap();
    let control_url = proxy.ready["control_url"].as_str().unwrap();
    assert_eq!(control_url, format!("{proxy_url}/_proxy"));

    // A request in clear text through the proxy is refused and recorded.
    let answer = plain(proxy_url, "POST", "http://127.0.0.1:9/v2/oauth/token");
    assert!(answer.starts_with("HTTP/1.1 502"), "{answer}");
    // A CONNECT to a port nobody listens on: recorded, answered 502.
    let answer = plain(proxy_url, "CONNECT", "127.0.0.1:9");
    assert!(answer.starts_with("HTTP/1.1 502"), "{answer}");
    let seen = body(&plain(proxy_url, "GET", "/_proxy/seen"));
    assert_eq!(seen, serde_json::json!({"connect": ["127.0.0.1:9"], "refused": 1, "plaintext": ["POST 127.0.0.1:9"]}));
    plain(proxy_url, "POST", "/_proxy/reset");
    let seen = body(&plain(proxy_url, "GET", "/_proxy/seen"));
    assert_eq!(seen, serde_json::json!({"connect": [], "refused": 0, "plaintext": []}));
}

#[test]
fn a_refusing_proxy_answers_every_connect_with_its_status() {
    let proxy = start(&["proxy", "--refuse", "407"]);
    let answer = plain(proxy.ready["proxy_url"].as_str().unwrap(), "CONNECT", "127.0.0.1:9");
    assert!(answer.starts_with("HTTP/1.1 407 Proxy Authentication Required"), "{answer}");
    assert!(answer.contains("Proxy-Authenticate: Basic"), "{answer}");
}
