//! Just enough HTTP/1.1: one request at a time per connection, bounded
//! header and body sizes, keep-alive unless the client says `close`.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 64 * 1024;
/// An idle keep-alive connection is dropped after this long.
const IDLE: Duration = Duration::from_secs(30);

/// One request as read off the wire.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// The query string after `?`, empty when there is none.
    pub query: String,
    /// Lowercased names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub close: bool,
}

/// What a cloud's API answers to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    /// Extra headers (for example GCE's `Metadata-Flavor: Google`).
    pub headers: Vec<(String, String)>,
}

impl Response {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    pub fn ok(body: impl Into<Vec<u8>>) -> Response {
        Response::new(200, body)
    }

    /// A status with an empty body (the server fills in the reason phrase).
    pub fn status(status: u16) -> Response {
        Response::new(status, Vec::new())
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(crate) enum ReadOutcome {
    Request(Request),
    /// Peer closed, idle too long, or server shutting down.
    Closed,
    Bad(&'static str),
}

/// Read one request; `buf` carries bytes past the previous request.
pub(crate) fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    shutdown: &AtomicBool,
) -> ReadOutcome {
    let started = Instant::now();
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return ReadOutcome::Bad("request head too large");
        }
        match fill(stream, buf, shutdown, started) {
            Some(true) => {}
            Some(false) | None => return ReadOutcome::Closed,
        }
    };
    let head = String::from_utf8_lossy(buf.get(..head_end).unwrap_or_default()).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split_whitespace();
    let (Some(method), Some(path), Some(version)) = (first.next(), first.next(), first.next())
    else {
        return ReadOutcome::Bad("malformed request line");
    };
    let mut headers = Vec::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut req = Request {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body: Vec::new(),
        close: version == "HTTP/1.0",
    };
    if let Some(c) = req.header("connection") {
        req.close = c.eq_ignore_ascii_case("close");
    }
    let body_len: usize = match req.header("content-length").map(str::parse) {
        None => 0,
        Some(Ok(n)) if n <= MAX_BODY => n,
        Some(_) => return ReadOutcome::Bad("bad content-length"),
    };
    let total = head_end + 4 + body_len;
    while buf.len() < total {
        match fill(stream, buf, shutdown, started) {
            Some(true) => {}
            _ => return ReadOutcome::Closed,
        }
    }
    req.body = buf.get(head_end + 4..total).unwrap_or_default().to_vec();
    buf.drain(..total);
    ReadOutcome::Request(req)
}

/// Read more bytes: `Some(true)` got some, `Some(false)` EOF, `None`
/// shutdown or idle timeout.
fn fill(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    shutdown: &AtomicBool,
    started: Instant,
) -> Option<bool> {
    let mut chunk = [0u8; 4096];
    loop {
        if shutdown.load(Ordering::SeqCst) || started.elapsed() > IDLE {
            return None;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Some(false),
            Ok(n) => {
                buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
                return Some(true);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Some(false),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// Write a response; with `truncate`, announce the full length but send
/// only half the body (the caller then closes the connection).
pub(crate) fn write_response(
    stream: &mut TcpStream,
    code: u16,
    body: &[u8],
    extra: &[(String, String)],
    close: bool,
    truncate: bool,
) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {code} {}\r\n", reason(code));
    if !extra
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        head.push_str("Content-Type: text/plain\r\n");
    }
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: {}\r\n\r\n",
        body.len(),
        if close || truncate {
            "close"
        } else {
            "keep-alive"
        }
    ));
    let sent = if truncate {
        body.get(..body.len() / 2).unwrap_or_default()
    } else {
        body
    };
    stream.write_all(head.as_bytes())?;
    stream.write_all(sent)?;
    stream.flush()
}
