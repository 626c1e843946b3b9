//! The listener, one thread per connection, keep-alive, and routing.

use std::collections::HashMap;
use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use serde::Serialize;

use crate::auth::NonceBook;
use crate::conn::Conn;
use crate::crypto::{now_ms, ResponseSigner, Rng};
use crate::faults::FaultQueue;
use crate::http::{self, ReadError, Request, Response};
use crate::tokens::Registry;
use crate::{control, oauth, protected, Counters};

/// Longer than common client pool idle timeouts (reqwest: 90 s), so a client never
/// reuses a connection the server is closing at that moment.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Everything the connection threads share.
pub(crate) struct State {
    pub signer: ResponseSigner,
    pub rng: Rng,
    pub registry: Mutex<Registry>,
    pub nonces: Mutex<NonceBook>,
    pub faults: Mutex<FaultQueue>,
    pub counters: Mutex<Counters>,
    pub protected: protected::Protected,
    pub nonce_window_ms: u64,
    /// Added to this host's clock: the mock's clock, as a host with a skewed clock sees
    /// Cobo's.
    pub clock_offset_ms: AtomicI64,
    pub base_url: String,
    pub control_url: String,
    /// The TLS configuration when the mock serves HTTPS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub log: AtomicBool,
    pub stopping: AtomicBool,
    /// Open connections, so that shutdown can close them too.
    pub connections: Mutex<HashMap<u64, TcpStream>>,
}

/// A poisoned lock only means another connection thread panicked; the data is still usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) enum Reply {
    Send(Response),
    /// Headers announcing the whole body, half of the body, then close.
    Truncate(Response),
    /// Close without writing a byte.
    Drop,
    /// Headers, then the body a byte at a time, `interval` apart.
    Drip { response: Response, interval: Duration },
    /// Headers and half the body, then `stall` of silence, then close.
    Stall { response: Response, stall: Duration },
}

/// A reply and a short note for the request log (never a token or a signature).
pub(crate) struct Outcome {
    pub reply: Reply,
    pub note: String,
}

impl State {
    /// A JSON response signed as Cobo signs: `Biz-Resp-Signature` over `<body>|<Biz-Timestamp>`.
    /// The mock's clock (Cobo's): the host's, moved by `clock_offset_ms`.
    pub fn now_ms(&self) -> u64 {
        now_ms().saturating_add_signed(self.clock_offset_ms.load(Ordering::Relaxed))
    }

    pub fn signed(&self, status: u16, body: Vec<u8>) -> Response {
        let timestamp = self.now_ms().to_string();
        let signature = self.signer.sign(&body, &timestamp);
        let mut response = Response::json(status, body);
        response.headers.push(("Biz-Timestamp".into(), timestamp));
        response
            .headers
            .push(("Biz-Resp-Signature".into(), signature));
        response
    }

    pub fn signed_json(&self, status: u16, value: &impl Serialize) -> Response {
        self.signed(status, serde_json::to_vec(value).unwrap_or_default())
    }

    pub fn count(&self, f: impl FnOnce(&mut Counters)) {
        f(&mut lock(&self.counters));
    }

    fn log(&self, line: std::fmt::Arguments) {
        if self.log.load(Ordering::Relaxed) {
            eprintln!("cobo-oauth-mock: {line}");
        }
    }
}

pub(crate) fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let mut next_id = 0u64;
    for stream in listener.incoming() {
        if state.stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else {
            // Out of file descriptors and the like: back off instead of spinning.
            thread::sleep(Duration::from_millis(50));
            continue;
        };
        next_id += 1;
        let id = next_id;
        {
            // Checked under the lock that shutdown takes, so no connection slips past it.
            let mut connections = lock(&state.connections);
            if state.stopping.load(Ordering::SeqCst) {
                break;
            }
            if let Ok(clone) = stream.try_clone() {
                connections.insert(id, clone);
            }
        }
        let st = Arc::clone(&state);
        let spawned = thread::Builder::new()
            .name("cobo-oauth-mock-conn".into())
            .spawn(move || {
                serve_connection(&st, stream);
                lock(&st.connections).remove(&id);
            });
        if spawned.is_err() {
            lock(&state.connections).remove(&id);
        }
    }
}

/// Stops accepting (the caller wakes the accept loop) and closes every open connection.
pub(crate) fn close_connections(state: &State) {
    state.stopping.store(true, Ordering::SeqCst);
    for (_, stream) in lock(&state.connections).drain() {
        let _ = stream.shutdown(Shutdown::Both);
    }
}

/// Serves requests on one connection until the client closes it or asks to.
fn serve_connection(state: &State, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let Ok(stream) = Conn::accept(stream, state.tls.as_ref()) else {
        return;
    };
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let request = match http::read_request(&mut reader, &mut writer) {
            Ok(request) => request,
            Err(ReadError::Closed) => return,
            Err(ReadError::Malformed(why)) => {
                state.log(format_args!("malformed request -> 400 ({why})"));
                let body = serde_json::json!({"error": "invalid_request", "error_description": format!("malformed HTTP request: {why}")});
                let _ = state.signed_json(400, &body).write_to(&mut writer, false);
                return linger_close(reader.into_inner().into_tcp());
            }
            Err(ReadError::TooLarge) => {
                state.log(format_args!("oversized request -> 413"));
                let description = format!("the request body exceeds {} bytes", http::MAX_BODY);
                let body = serde_json::json!({"error": "invalid_request", "error_description": description});
                let _ = state.signed_json(413, &body).write_to(&mut writer, false);
                return linger_close(reader.into_inner().into_tcp());
            }
        };
        let keep_alive = request.keep_alive && !state.stopping.load(Ordering::SeqCst);
        let Outcome { reply, note } = route(state, &request);
        match reply {
            Reply::Send(response) => {
                let line = format!(
                    "{} {} -> {} {note}",
                    request.method, request.path, response.status
                );
                state.log(format_args!("{}", line.trim_end()));
                if response.write_to(&mut writer, keep_alive).is_err() || !keep_alive {
                    let _ = writer.shutdown(Shutdown::Write);
                    return;
                }
            }
            Reply::Truncate(response) => {
                state.log(format_args!(
                    "{} {} -> {} truncated {note}",
                    request.method, request.path, response.status
                ));
                let mut bytes = response.head(false, response.body.len());
                bytes.extend_from_slice(&response.body[..response.body.len() / 2]);
                let _ = writer.write_all(&bytes).and_then(|_| writer.flush());
                let _ = writer.shutdown(Shutdown::Write);
                return;
            }
            Reply::Drop => {
                state.log(format_args!(
                    "{} {} -> connection dropped {note}",
                    request.method, request.path
                ));
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            Reply::Drip { response, interval } => {
                state.log(format_args!("{} {} -> {} dripping {note}", request.method, request.path, response.status));
                let head = response.head(false, response.body.len());
                let mut sent = writer.write_all(&head).and_then(|_| writer.flush());
                for byte in &response.body {
                    if sent.is_err() || state.stopping.load(Ordering::SeqCst) {
                        break; // the client gave up
                    }
                    std::thread::sleep(interval);
                    sent = writer.write_all(std::slice::from_ref(byte)).and_then(|_| writer.flush());
                }
                let _ = writer.shutdown(Shutdown::Write);
                return;
            }
            Reply::Stall { response, stall } => {
                state.log(format_args!("{} {} -> {} stalled {note}", request.method, request.path, response.status));
                let mut bytes = response.head(false, response.body.len());
                bytes.extend_from_slice(&response.body[..response.body.len() / 2]);
                let _ = writer.write_all(&bytes).and_then(|_| writer.flush());
                let until = std::time::Instant::now() + stall;
                while std::time::Instant::now() < until && !state.stopping.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

/// Closes after an error reply without discarding it: closing a socket that still holds
/// unread request bytes sends a reset, which can destroy the reply in flight.
fn linger_close(mut stream: TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < 256 * 1024 {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

fn route(state: &State, request: &Request) -> Outcome {
    let path = request.path.as_str();
    if path == "/_mock" || path.starts_with("/_mock/") {
        return control::handle(state, request);
    }
    if path == oauth::TOKEN_PATH {
        return oauth::handle(state, request);
    }
    if protected::serves(path) {
        return protected::handle(state, request);
    }
    if path == "/v2" || path.starts_with("/v2/") {
        state.count(|c| c.total += 1);
    }
    let body = serde_json::json!({"error": "not_found", "error_description": format!("no such endpoint: {path}")});
    Outcome {
        reply: Reply::Send(state.signed_json(404, &body)),
        note: String::new(),
    }
}
