//! A small HTTP CONNECT proxy for tests: it tunnels to loopback targets only, can refuse
//! (403) or demand credentials (407), and records what it saw, so that a test can check
//! that a client tunnelled its HTTPS request and never sent anything in clear text
//! through it. `GET /_proxy/seen` and `POST /_proxy/reset`, sent to the proxy itself
//! (origin-form), read and clear the record.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::server::lock;

const MAX_HEAD: u64 = 16 * 1024;

/// How to start a [`ConnectProxy`].
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Address to bind; default 127.0.0.1.
    pub host: IpAddr,
    /// Port to bind; 0 (the default) picks a free one.
    pub port: u16,
    /// Answer every CONNECT with this status (403, 407…) instead of tunnelling.
    pub refuse: Option<u16>,
    /// `user:password`: a CONNECT without this Basic `Proxy-Authorization` gets a 407.
    pub credentials: Option<String>,
}

impl Default for ProxyConfig {
    fn default() -> ProxyConfig {
        ProxyConfig { host: IpAddr::V4(Ipv4Addr::LOCALHOST), port: 0, refuse: None, credentials: None }
    }
}

/// What the proxy has seen since start or the last reset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxySeen {
    /// The target (`host:port`) of every CONNECT, tunnelled or refused.
    pub connect: Vec<String>,
    /// CONNECTs answered with an error status instead of a tunnel.
    pub refused: u64,
    /// `METHOD host` of every request sent in clear text through the proxy (answered 502).
    pub plaintext: Vec<String>,
}

struct Shared {
    config: ProxyConfig,
    seen: Mutex<ProxySeen>,
    stopping: AtomicBool,
    log: AtomicBool,
}

/// A running proxy; dropping it stops accepting (open tunnels end with their peers).
pub struct ConnectProxy {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept_thread: Option<JoinHandle<()>>,
}

impl ConnectProxy {
    /// Binds, spawns the accept thread and returns at once.
    pub fn start(config: ProxyConfig) -> io::Result<ConnectProxy> {
        let listener = TcpListener::bind((config.host, config.port))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config,
            seen: Mutex::default(),
            stopping: AtomicBool::new(false),
            log: AtomicBool::new(false),
        });
        let st = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name("cobo-oauth-mock-proxy".into())
            .spawn(move || accept_loop(listener, st))?;
        Ok(ConnectProxy { shared, addr, accept_thread: Some(accept_thread) })
    }

    /// `http://127.0.0.1:PORT`, for HTTPS_PROXY or `ClientConfig.proxy_url`.
    pub fn proxy_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/_proxy`: `GET …/seen`, `POST …/reset`.
    pub fn control_url(&self) -> String {
        format!("http://{}/_proxy", self.addr)
    }

    pub fn seen(&self) -> ProxySeen {
        lock(&self.shared.seen).clone()
    }

    pub fn reset(&self) {
        *lock(&self.shared.seen) = ProxySeen::default();
    }

    /// Logs one line per request to stderr (targets and statuses only). Off by default.
    pub fn set_request_log(&self, on: bool) {
        self.shared.log.store(on, Ordering::Relaxed);
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        if let Some(accept_thread) = self.accept_thread.take() {
            // The accept loop notices the flag only when accept() returns: wake it.
            if TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok() {
                let _ = accept_thread.join();
            }
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else {
            thread::sleep(Duration::from_millis(50));
            continue;
        };
        let st = Arc::clone(&shared);
        let _ = thread::Builder::new()
            .name("cobo-oauth-mock-proxy-conn".into())
            .spawn(move || {
                let _ = handle(&st, stream);
            });
    }
}

/// A request line and headers, as far as a proxy needs them.
struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

fn read_head(reader: &mut impl BufRead) -> io::Result<Head> {
    let mut limited = reader.take(MAX_HEAD);
    let mut line = String::new();
    limited.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(io::Error::other("not an HTTP request"));
    };
    let (method, target) = (method.to_owned(), target.to_owned());
    let mut headers = Vec::new();
    loop {
        line.clear();
        if limited.read_line(&mut line)? == 0 {
            return Err(io::Error::other("headers cut short"));
        }
        let line = line.trim_end();
        if line.is_empty() {
            return Ok(Head { method, target, headers });
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
}

fn handle(shared: &Shared, stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut client = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let head = read_head(&mut reader)?;
    let log = |line: String| {
        if shared.log.load(Ordering::Relaxed) {
            eprintln!("cobo-oauth-mock proxy: {line}");
        }
    };
    if head.method.eq_ignore_ascii_case("CONNECT") {
        lock(&shared.seen).connect.push(head.target.clone());
        if let Some(status) = refusal(&shared.config, &head) {
            lock(&shared.seen).refused += 1;
            log(format!("CONNECT {} -> {status}", head.target));
            return reply(&mut client, status, "");
        }
        let upstream = match loopback_target(&head.target) {
            Some(addr) => TcpStream::connect_timeout(&addr, Duration::from_secs(5)),
            None => Err(io::Error::other("not a loopback target")),
        };
        let Ok(mut upstream) = upstream else {
            lock(&shared.seen).refused += 1;
            log(format!("CONNECT {} -> 502", head.target));
            return reply(&mut client, 502, "");
        };
        log(format!("CONNECT {} -> 200, tunnelling", head.target));
        client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        return tunnel(reader, client, &mut upstream);
    }
    if head.target.starts_with("/_proxy") {
        return control(shared, &head, &mut client);
    }
    // Absolute-form: a client sent its request through us in clear text.
    let host = head
        .target
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("");
    lock(&shared.seen).plaintext.push(format!("{} {host}", head.method));
    log(format!("{} {host} in clear text -> 502", head.method));
    reply(&mut client, 502, "this proxy only tunnels (CONNECT)\n")
}

/// The status a CONNECT gets instead of a tunnel, if any.
fn refusal(config: &ProxyConfig, head: &Head) -> Option<u16> {
    if let Some(status) = config.refuse {
        return Some(status);
    }
    let expected = config.credentials.as_ref()?;
    let sent = head
        .headers
        .iter()
        .find(|(name, _)| name == "proxy-authorization")
        .map(|(_, value)| value.as_str());
    let wanted = format!("Basic {}", base64(expected.as_bytes()));
    (sent != Some(wanted.as_str())).then_some(407)
}

/// Resolves `host:port` when every address it names is loopback: the proxy never
/// reaches beyond this machine.
fn loopback_target(target: &str) -> Option<SocketAddr> {
    let addrs: Vec<SocketAddr> = target.to_socket_addrs().ok()?.collect();
    if addrs.is_empty() || !addrs.iter().all(|a| a.ip().is_loopback()) {
        return None;
    }
    addrs.first().copied()
}

/// Copies both ways until either side closes, then closes the other.
fn tunnel(mut reader: BufReader<TcpStream>, mut client: TcpStream, upstream: &mut TcpStream) -> io::Result<()> {
    let mut upstream_reader = upstream.try_clone()?;
    let back = thread::Builder::new()
        .name("cobo-oauth-mock-proxy-tunnel".into())
        .spawn(move || {
            let _ = io::copy(&mut upstream_reader, &mut client);
            let _ = client.shutdown(Shutdown::Both);
        })?;
    // Includes whatever the client sent right after its CONNECT head.
    let _ = io::copy(&mut reader, upstream);
    let _ = upstream.shutdown(Shutdown::Write);
    let _ = back.join();
    Ok(())
}

fn control(shared: &Shared, head: &Head, client: &mut TcpStream) -> io::Result<()> {
    let body = match (head.method.as_str(), head.target.as_str()) {
        ("GET", "/_proxy/seen") => serde_json::to_string(&*lock(&shared.seen)).unwrap_or_default(),
        ("POST", "/_proxy/reset") => {
            *lock(&shared.seen) = ProxySeen::default();
            "{\"ok\":true}".to_owned()
        }
        _ => return reply(client, 404, "{\"error\":\"not_found\"}"),
    };
    reply(client, 200, &body)
}

fn reply(client: &mut TcpStream, status: u16, body: &str) -> io::Result<()> {
    let reason = match status {
        407 => "Proxy Authentication Required",
        other => crate::http::reason(other),
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    if status == 407 {
        head.push_str("Proxy-Authenticate: Basic realm=\"cobo-oauth-mock\"\r\n");
    }
    if body.starts_with('{') {
        head.push_str("Content-Type: application/json\r\n");
    }
    head.push_str("\r\n");
    head.push_str(body);
    client.write_all(head.as_bytes())?;
    client.flush()?;
    // Let the client read the answer before the socket closes.
    let _ = client.shutdown(Shutdown::Write);
    let _ = client.set_read_timeout(Some(Duration::from_millis(200)));
    let _ = io::copy(&mut client.take(64 * 1024), &mut io::sink());
    Ok(())
}

/// Standard base64 with padding, for the expected Basic credentials.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648() {
        for (input, output) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("user:pass", "dXNlcjpwYXNz")] {
            assert_eq!(base64(input.as_bytes()), output);
        }
    }
}
