//! A tiny HTTP/1.0 GET over a unix socket (LXD's `/dev/lxd/sock`): one
//! request per connection, bounded time and size.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Largest response accepted.
const MAX_RESPONSE: u64 = 16 * 1024 * 1024;

/// `GET path` on the socket: status and body.
pub fn get(socket: &Path, path: &str, timeout: Duration) -> Result<(u16, Vec<u8>), String> {
    let fail = |what: &str, e: std::io::Error| format!("{what} {}: {e}", socket.display());
    let mut stream = UnixStream::connect(socket).map_err(|e| fail("connect", e))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| fail("configure", e))?;
    let req = format!(
        "GET {path} HTTP/1.0\r\nHost: lxd\r\nUser-Agent: Cloud-Init/{}\r\nAccept: */*\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    stream
        .write_all(req.as_bytes())
        .map_err(|e| fail("send to", e))?;
    let mut raw = Vec::new();
    stream
        .take(MAX_RESPONSE + 1)
        .read_to_end(&mut raw)
        .map_err(|e| fail("read from", e))?;
    if raw.len() as u64 > MAX_RESPONSE {
        return Err(format!("response from {path} exceeds {MAX_RESPONSE} bytes"));
    }
    parse_response(&raw).map_err(|e| format!("bad response to GET {path}: {e}"))
}

fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(raw.get(..head_end).unwrap_or_default())
        .map_err(|_| "headers are not UTF-8")?;
    let body = raw.get(head_end + 4..).unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let code = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|_| status_line.starts_with("HTTP/"))
        .ok_or_else(|| format!("bad status line '{status_line}'"))?;
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        if k == "content-length" {
            length = Some(v.parse::<usize>().map_err(|_| "bad Content-Length")?);
        } else if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
    }
    if chunked {
        return dechunk(body).map(|b| (code, b));
    }
    match length {
        Some(n) if n > body.len() => Err(format!("body truncated ({} of {n} bytes)", body.len())),
        Some(n) => Ok((code, body.get(..n).unwrap_or_default().to_vec())),
        None => Ok((code, body.to_vec())),
    }
}

fn dechunk(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("bad chunk header")?;
        let size_text = std::str::from_utf8(body.get(..eol).unwrap_or_default())
            .map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| "bad chunk size")?;
        body = body.get(eol + 2..).unwrap_or_default();
        if size == 0 {
            return Ok(out);
        }
        let chunk = body.get(..size).ok_or("chunk truncated")?;
        out.extend_from_slice(chunk);
        body = body.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses() {
        assert_eq!(
            parse_response(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhixx").unwrap(),
            (200, b"hi".to_vec())
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 404 Not Found\r\n\r\nnope").unwrap(),
            (404, b"nope".to_vec())
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n")
                .unwrap(),
            (200, b"abc".to_vec())
        );
        assert!(parse_response(b"HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nhi").is_err());
        assert!(parse_response(b"garbage").is_err());
    }
}
