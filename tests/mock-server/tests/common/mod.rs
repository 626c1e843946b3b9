//! A tiny std-only HTTP client that signs requests like a Cobo SDK, for driving the
//! mock over real loopback TCP.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cobo_oauth_mock::{App, MockConfig, MockServer};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "test-client";
pub const ORG_ID: &str = "org-1";

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn digest(data: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(data)).into()
}

pub struct AppKey(SigningKey);

impl AppKey {
    pub fn from_seed(byte: u8) -> AppKey {
        AppKey(SigningKey::from_bytes(&[byte; 32]))
    }

    pub fn api_key(&self) -> String {
        hex(self.0.verifying_key().as_bytes())
    }

    /// CoboAuth: Ed25519 over SHA-256(SHA-256("METHOD|PATH|nonce|QUERY|BODY")).
    pub fn sign(&self, method: &str, path: &str, nonce: &str, query: &str, body: &str) -> String {
        let content = format!("{method}|{path}|{nonce}|{query}|{body}");
        hex(&self.0.sign(&digest(content.as_bytes())).to_bytes())
    }
}

/// A server with one app (key seed 1) installed in ORG_ID.
pub fn start() -> (MockServer, AppKey) {
    let key = AppKey::from_seed(1);
    let config = MockConfig {
        apps: vec![App {
            client_id: CLIENT_ID.into(),
            api_key: key.api_key(),
            orgs: vec![ORG_ID.into()],
        }],
        ..MockConfig::default()
    };
    (MockServer::start(config).unwrap(), key)
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Whether Biz-Resp-Signature verifies over "<body>|<Biz-Timestamp>" with `public_key`.
    pub fn signature_verifies(&self, public_key: &str) -> bool {
        let (Some(ts), Some(sig)) = (
            self.header("Biz-Timestamp"),
            self.header("Biz-Resp-Signature"),
        ) else {
            return false;
        };
        let key = VerifyingKey::from_bytes(&unhex(public_key).try_into().unwrap()).unwrap();
        let Ok(sig) = <[u8; 64]>::try_from(unhex(sig)) else {
            return false;
        };
        let mut message = self.body.clone();
        message.extend_from_slice(format!("|{ts}").as_bytes());
        key.verify(&digest(&message), &Signature::from_bytes(&sig))
            .is_ok()
    }

    /// The 4XX shape: (status, error, error_description).
    pub fn oauth_error(&self) -> (u16, String, String) {
        let v = self.json();
        (
            self.status,
            v["error"].as_str().unwrap().to_owned(),
            v["error_description"].as_str().unwrap().to_owned(),
        )
    }
}

/// One keep-alive connection.
pub struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Conn {
            reader: BufReader::new(stream),
        }
    }

    pub fn set_timeout(&self, timeout: Duration) {
        self.reader
            .get_ref()
            .set_read_timeout(Some(timeout))
            .unwrap();
    }

    pub fn send_raw(&mut self, raw: &[u8]) -> io::Result<Resp> {
        self.reader.get_mut().write_all(raw)?;
        self.read_response()
    }

    /// Reads one response; an early EOF is an UnexpectedEof error.
    pub fn read_response(&mut self) -> io::Result<Resp> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or(io::ErrorKind::InvalidData)?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').ok_or(io::ErrorKind::InvalidData)?;
            headers.push((n.to_owned(), v.trim().to_owned()));
        }
        let len: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or(0);
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body)?;
        Ok(Resp {
            status,
            headers,
            body,
        })
    }

    /// Whether the server closed the connection (EOF on the next read).
    pub fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.reader.read(&mut b), Ok(0) | Err(_))
    }
}

pub struct Signed<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub body: &'a str,
    pub nonce: String,
}

/// A signed raw request with the given nonce.
pub fn signed_request(key: &AppKey, r: &Signed, extra_headers: &str) -> Vec<u8> {
    let target = if r.query.is_empty() {
        r.path.to_owned()
    } else {
        format!("{}?{}", r.path, r.query)
    };
    let signature = key.sign(r.method, r.path, &r.nonce, r.query, r.body);
    let content_type = if r.body.is_empty() {
        ""
    } else {
        "Content-Type: application/json\r\n"
    };
    format!(
        "{} {target} HTTP/1.1\r\nHost: localhost\r\n{content_type}Content-Length: {}\r\nBiz-Api-Key: {}\r\nBiz-Api-Nonce: {}\r\nBiz-Api-Signature: {signature}\r\n{extra_headers}\r\n{}",
        r.method,
        r.body.len(),
        key.api_key(),
        r.nonce,
        r.body
    )
    .into_bytes()
}

pub fn get_query(client_id: &str, org_id: &str) -> String {
    format!("client_id={client_id}&org_id={org_id}&grant_type=org_implicit")
}

pub fn refresh_body(client_id: &str, refresh_token: &str) -> String {
    format!(
        r#"{{"client_id":"{client_id}","grant_type":"refresh_token","refresh_token":"{refresh_token}"}}"#
    )
}

/// Unique nonces even when two requests fall in the same millisecond.
pub fn nonce() -> String {
    static LAST: std::sync::Mutex<u64> = std::sync::Mutex::new(0);
    let mut last = LAST.lock().unwrap();
    *last = (*last + 1).max(now_ms());
    last.to_string()
}

pub fn get(server: &MockServer, key: &AppKey, org_id: &str) -> io::Result<Resp> {
    let query = get_query(CLIENT_ID, org_id);
    let req = Signed {
        method: "GET",
        path: "/v2/oauth/token",
        query: &query,
        body: "",
        nonce: nonce(),
    };
    Conn::open(server.local_addr()).send_raw(&signed_request(key, &req, ""))
}

pub fn refresh(server: &MockServer, key: &AppKey, refresh_token: &str) -> io::Result<Resp> {
    let body = refresh_body(CLIENT_ID, refresh_token);
    let req = Signed {
        method: "POST",
        path: "/v2/oauth/token",
        query: "",
        body: &body,
        nonce: nonce(),
    };
    Conn::open(server.local_addr()).send_raw(&signed_request(key, &req, ""))
}

/// An unsigned control-API call.
pub fn control(server: &MockServer, method: &str, path: &str, body: &str) -> Resp {
    let raw = format!(
        "{method} /_mock{path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    Conn::open(server.local_addr())
        .send_raw(raw.as_bytes())
        .unwrap()
}
