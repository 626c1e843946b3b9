//! A small HTTP/1.1 reader and writer. Hand-written so that every byte on the wire is
//! under the mock's control (truncated bodies, dropped connections) and so that the
//! path, query and body reach the signature check exactly as the client sent them.

use std::io::{self, BufRead, Read, Write};

const MAX_LINE: usize = 16 * 1024;
const MAX_HEADERS: usize = 100;
pub(crate) const MAX_BODY: usize = 1 << 20;

pub(crate) struct Request {
    pub method: String,
    /// The path as received, before any `?`; never decoded.
    pub path: String,
    /// The raw bytes after the first `?`, or empty.
    pub query: String,
    pub headers: Vec<(String, String)>,
    /// The body as received (chunked encoding removed).
    pub body: Vec<u8>,
    pub keep_alive: bool,
}

impl Request {
    /// The first header with this name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer closed, went idle or broke the socket: there is nobody to answer.
    Closed,
    /// Not an HTTP/1.x request we can read: answer 400 and close.
    Malformed(&'static str),
    /// The body exceeds `MAX_BODY`: answer 413 and close.
    TooLarge,
}

/// Reads one line ending in LF (CR optional), without the line ending.
/// `Ok(false)` means end of stream before any byte.
fn read_line(r: &mut impl BufRead, line: &mut Vec<u8>) -> Result<bool, ReadError> {
    line.clear();
    let n = r
        .by_ref()
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', line)
        .map_err(|_| ReadError::Closed)?;
    if n == 0 {
        return Ok(false);
    }
    if line.last() != Some(&b'\n') {
        return Err(if line.len() > MAX_LINE {
            ReadError::Malformed("line too long")
        } else {
            ReadError::Closed
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(true)
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

/// Reads one request. `interim` receives `100 Continue` when the client asks for it.
pub(crate) fn read_request(
    r: &mut impl BufRead,
    interim: &mut impl Write,
) -> Result<Request, ReadError> {
    let mut line = Vec::new();
    // RFC 9112 lets a server skip blank lines before a request line.
    let mut blanks = 0;
    loop {
        if !read_line(r, &mut line)? {
            return Err(ReadError::Closed);
        }
        if !line.is_empty() {
            break;
        }
        blanks += 1;
        if blanks > 4 {
            return Err(ReadError::Malformed(
                "blank lines instead of a request line",
            ));
        }
    }
    let request_line = std::str::from_utf8(&line)
        .map_err(|_| ReadError::Malformed("request line is not UTF-8"))?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed(
            "request line is not METHOD TARGET VERSION",
        ));
    };
    if !is_token(method) {
        return Err(ReadError::Malformed("bad method"));
    }
    if !target.starts_with('/') || !target.bytes().all(|c| (0x21..0x7f).contains(&c)) {
        return Err(ReadError::Malformed("bad request target"));
    }
    let http11 = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return Err(ReadError::Malformed("unsupported HTTP version")),
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (method, path, query) = (method.to_owned(), path.to_owned(), query.to_owned());

    let mut headers = Vec::new();
    loop {
        if !read_line(r, &mut line)? {
            return Err(ReadError::Closed);
        }
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(ReadError::Malformed("too many headers"));
        }
        let text = String::from_utf8_lossy(&line);
        let Some((name, value)) = text.split_once(':') else {
            return Err(ReadError::Malformed("header line without a colon"));
        };
        // Also rejects obsolete line folding (a continuation line starting with a space).
        if !is_token(name) {
            return Err(ReadError::Malformed("bad header name"));
        }
        headers.push((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()));
    }

    let mut request = Request {
        method,
        path,
        query,
        headers,
        body: Vec::new(),
        keep_alive: false,
    };
    let has_token = |name: &str, token: &str| {
        request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    };
    let keep_alive = if http11 {
        !has_token("connection", "close")
    } else {
        has_token("connection", "keep-alive")
    };
    let wants_continue = has_token("expect", "100-continue");
    request.keep_alive = keep_alive;

    let transfer_encoding = request.header("transfer-encoding").map(str::to_owned);
    let mut lengths = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-length"));
    let content_length = match lengths.next() {
        None => None,
        Some((_, first)) => {
            // Differing lengths are a request-smuggling shape: refuse rather than guess.
            if lengths.any(|(_, v)| v != first) {
                return Err(ReadError::Malformed("conflicting Content-Length headers"));
            }
            if first.is_empty() || first.len() > 19 || !first.bytes().all(|c| c.is_ascii_digit()) {
                return Err(ReadError::Malformed("bad Content-Length"));
            }
            Some(
                first
                    .parse::<u64>()
                    .map_err(|_| ReadError::Malformed("bad Content-Length"))?,
            )
        }
    };

    match (transfer_encoding, content_length) {
        (Some(_), Some(_)) => {
            return Err(ReadError::Malformed(
                "both Transfer-Encoding and Content-Length",
            ))
        }
        (Some(te), None) => {
            if !te.eq_ignore_ascii_case("chunked") {
                return Err(ReadError::Malformed("unsupported Transfer-Encoding"));
            }
            send_continue(wants_continue, interim)?;
            request.body = read_chunked(r, &mut line)?;
        }
        (None, Some(n)) => {
            if n > MAX_BODY as u64 {
                return Err(ReadError::TooLarge);
            }
            if n > 0 {
                send_continue(wants_continue, interim)?;
            }
            let mut body = vec![0u8; n as usize];
            r.read_exact(&mut body).map_err(|_| ReadError::Closed)?;
            request.body = body;
        }
        (None, None) => {}
    }
    Ok(request)
}

fn send_continue(wanted: bool, w: &mut impl Write) -> Result<(), ReadError> {
    if wanted {
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .and_then(|_| w.flush())
            .map_err(|_| ReadError::Closed)?;
    }
    Ok(())
}

fn read_chunked(r: &mut impl BufRead, line: &mut Vec<u8>) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        if !read_line(r, line)? {
            return Err(ReadError::Closed);
        }
        let text = std::str::from_utf8(line).map_err(|_| ReadError::Malformed("bad chunk size"))?;
        let size = text.split(';').next().unwrap_or("").trim();
        if size.is_empty() || size.len() > 8 {
            return Err(ReadError::Malformed("bad chunk size"));
        }
        let size =
            usize::from_str_radix(size, 16).map_err(|_| ReadError::Malformed("bad chunk size"))?;
        if size == 0 {
            // Trailers are read and ignored.
            loop {
                if !read_line(r, line)? {
                    return Err(ReadError::Closed);
                }
                if line.is_empty() {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_BODY {
            return Err(ReadError::TooLarge);
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])
            .map_err(|_| ReadError::Closed)?;
        if !read_line(r, line)? || !line.is_empty() {
            return Err(ReadError::Malformed("chunk not followed by CRLF"));
        }
    }
}

pub(crate) struct Response {
    pub status: u16,
    /// Headers besides Content-Length and Connection, which the writer adds.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, body: Vec<u8>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body,
        }
    }

    /// Status line and headers, announcing `content_length` body bytes.
    pub fn head(&self, keep_alive: bool, content_length: usize) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str(&format!("Content-Length: {content_length}\r\n"));
        out.push_str(if keep_alive {
            "Connection: keep-alive\r\n\r\n"
        } else {
            "Connection: close\r\n\r\n"
        });
        out.into_bytes()
    }

    /// Writes the whole response in one call so that it leaves in as few segments as possible.
    pub fn write_to(&self, w: &mut impl Write, keep_alive: bool) -> io::Result<()> {
        let mut bytes = self.head(keep_alive, self.body.len());
        bytes.extend_from_slice(&self.body);
        w.write_all(&bytes)?;
        w.flush()
    }
}

/// Reason phrases; 414 uses the spelling the official Python SDK reports.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        414 => "Request-URI Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Result<Request, ReadError> {
        read_request(&mut io::BufReader::new(raw), &mut Vec::new())
    }

    #[test]
    fn keeps_path_query_and_body_raw() {
        let r = parse(b"POST /v2/oauth/token?b=2&a=%20 HTTP/1.1\r\ncontent-length: 3\r\n\r\n{}x")
            .unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.query.as_str()),
            ("POST", "/v2/oauth/token", "b=2&a=%20")
        );
        assert_eq!(r.body, b"{}x");
        assert!(r.keep_alive);
        assert_eq!(r.header("Content-Length"), Some("3"));
    }

    #[test]
    fn decodes_chunked_bodies() {
        let r = parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n1;x=y\r\n \r\n0\r\nT: v\r\n\r\n").unwrap();
        assert_eq!(r.body, b"{} ");
    }

    #[test]
    fn connection_rules_follow_the_version() {
        assert!(
            !parse(b"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n")
                .unwrap()
                .keep_alive
        );
        assert!(!parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().keep_alive);
        assert!(
            parse(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                .unwrap()
                .keep_alive
        );
    }

    #[test]
    fn refuses_malformed_requests() {
        for raw in [
            &b"GET /\r\n\r\n"[..],
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET nopath HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
            b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        ] {
            assert!(
                matches!(parse(raw), Err(ReadError::Malformed(_))),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n"),
            Err(ReadError::TooLarge)
        ));
        assert!(matches!(parse(b""), Err(ReadError::Closed)));
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"),
            Err(ReadError::Closed)
        ));
    }

    #[test]
    fn answers_expect_continue() {
        let mut interim = Vec::new();
        let raw = &b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}"[..];
        read_request(&mut io::BufReader::new(raw), &mut interim).unwrap();
        assert_eq!(interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    }
}
