//! A small MIME reader and writer with the semantics of Python's
//! `email.message_from_string` (compat32 policy), which upstream parses
//! user-data with: header folding, parameters, boundaries, nested
//! multiparts and Content-Transfer-Encoding.

use base64::Engine;

/// One message or part: its headers in order (original name case) and
/// either a leaf body (still transfer-encoded) or child parts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message {
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// The raw body text of a non-multipart part, before CTE decoding.
    Leaf(String),
    Multi(Vec<Message>),
}

impl Default for Body {
    fn default() -> Self {
        Body::Leaf(String::new())
    }
}

impl Message {
    /// First header named `name` (case-insensitive), as Python's `msg[name]`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Python's `del msg[name]; msg[name] = value`: the header moves to the end.
    pub fn replace(&mut self, name: &str, value: impl Into<String>) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.into()));
    }

    pub fn add(&mut self, name: &str, value: impl Into<String>) {
        self.headers.push((name.to_string(), value.into()));
    }

    /// `get_content_type()`: lower-cased `maintype/subtype`, `text/plain`
    /// when missing or malformed.
    pub fn content_type(&self) -> String {
        let Some(v) = self.get("content-type") else {
            return "text/plain".into();
        };
        let ctype = split_param(v).0.to_ascii_lowercase();
        if ctype.matches('/').count() != 1 {
            return "text/plain".into();
        }
        ctype
    }

    pub fn maintype(&self) -> String {
        let ct = self.content_type();
        ct.split('/').next().unwrap_or_default().to_string()
    }

    /// `get_filename()`: Content-Disposition `filename`, else Content-Type `name`.
    pub fn filename(&self) -> Option<String> {
        let from = |h: &str, p: &str| self.get(h).and_then(|v| param(v, p));
        from("content-disposition", "filename")
            .or_else(|| from("content-type", "name"))
            .map(|f| f.trim().to_string())
    }

    /// Python's `_set_filename`: a fresh `Content-Disposition: attachment`.
    pub fn set_filename(&mut self, filename: &str) {
        self.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("content-disposition"));
        self.add(
            "Content-Disposition",
            format!("attachment; filename=\"{}\"", quote_param(filename)),
        );
    }

    /// `get_payload(decode=True)` for a leaf: the body with its transfer
    /// encoding removed. A body with characters beyond ASCII and no
    /// encoding is turned to bytes the way Python does
    /// (`raw-unicode-escape`), which mangles non-Latin-1 text exactly as
    /// upstream does.
    pub fn decoded_payload(&self) -> Vec<u8> {
        let Body::Leaf(text) = &self.body else {
            return Vec::new();
        };
        let cte = self
            .get("content-transfer-encoding")
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match cte.as_str() {
            "base64" => decode_base64_lenient(text),
            "quoted-printable" => decode_qp(&raw_unicode_escape(text)),
            _ => raw_unicode_escape(text),
        }
    }
}

/// Python `str.encode('raw-unicode-escape')`.
fn raw_unicode_escape(s: &str) -> Vec<u8> {
    if s.is_ascii() {
        return s.as_bytes().to_vec();
    }
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        let cp = c as u32;
        if let Ok(b) = u8::try_from(cp) {
            out.push(b);
        } else if cp < 0x10000 {
            out.extend_from_slice(format!("\\u{cp:04x}").as_bytes());
        } else {
            out.extend_from_slice(format!("\\U{cp:08x}").as_bytes());
        }
    }
    out
}

/// Python's `email._encoded_words.decode_b`: ignores line breaks and
/// characters outside the alphabet, tolerates missing padding.
fn decode_base64_lenient(text: &str) -> Vec<u8> {
    let clean: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/')
        .collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let mut usable = clean.as_str();
    // A dangling single character cannot be decoded; Python drops it.
    if usable.len() % 4 == 1 {
        usable = &usable[..usable.len() - 1];
    }
    engine.decode(usable).unwrap_or_default()
}

/// `quopri.decodestring`: `=XX` escapes, `=` soft line breaks, trailing
/// whitespace on lines dropped.
fn decode_qp(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut lines = data.split(|b| *b == b'\n').peekable();
    while let Some(mut line) = lines.next() {
        let had_newline = lines.peek().is_some();
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        while matches!(line.last(), Some(b' ') | Some(b'\t')) {
            line = &line[..line.len() - 1];
        }
        let mut soft_break = false;
        let mut i = 0;
        while let Some(&b) = line.get(i) {
            if b != b'=' {
                out.push(b);
                i += 1;
                continue;
            }
            if i + 1 == line.len() {
                soft_break = true;
                break;
            }
            let hex = line
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(v) => {
                    out.push(v);
                    i += 3;
                }
                None => {
                    out.push(b'=');
                    i += 1;
                }
            }
        }
        if had_newline && !soft_break {
            out.push(b'\n');
        }
    }
    out
}

/// Splits `value` at the first `;`: (main value, rest).
fn split_param(value: &str) -> (&str, &str) {
    match value.split_once(';') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (value.trim(), ""),
    }
}

/// The parameter `name` of a header value (`; name="value"`), unquoted.
pub fn param(value: &str, name: &str) -> Option<String> {
    let (_, mut rest) = split_param(value);
    while !rest.is_empty() {
        // Parameters end at a `;` outside quotes.
        let mut in_quote = false;
        let mut escaped = false;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            if escaped {
                escaped = false;
                continue;
            }
            match c {
                '\\' if in_quote => escaped = true,
                '"' => in_quote = !in_quote,
                ';' if !in_quote => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let item = rest[..end].trim();
        rest = rest.get(end + 1..).unwrap_or_default();
        let Some((k, v)) = item.split_once('=') else {
            continue;
        };
        if k.trim().eq_ignore_ascii_case(name) {
            return Some(unquote(v.trim()));
        }
    }
    None
}

fn unquote(v: &str) -> String {
    let inner = match v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner,
        None => return v.to_string(),
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn quote_param(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Splits text into lines keeping their endings (`\r\n`, `\r` or `\n`).
fn lines_with_ends(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                out.push(&text[start..=i]);
                start = i + 1;
            }
            b'\r' => {
                let end = if bytes.get(i + 1) == Some(&b'\n') {
                    i + 1
                } else {
                    i
                };
                out.push(&text[start..=end]);
                start = end + 1;
                i = end;
            }
            _ => {}
        }
        i += 1;
    }
    if start < bytes.len() {
        out.push(&text[start..]);
    }
    out
}

fn strip_eol(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

/// A line that feedparser takes as a header: `Name:` with printable,
/// colon-free name characters, or a continuation starting with blank.
fn is_header_line(line: &str) -> bool {
    if line.starts_with([' ', '\t']) {
        return true;
    }
    match line.find(':') {
        Some(i) => line[..i].bytes().all(|b| (0x21..=0x7e).contains(&b)),
        None => false,
    }
}

/// Parses a whole message (Python `email.message_from_string`).
pub fn parse(text: &str) -> Message {
    let lines = lines_with_ends(text);
    parse_lines(&lines, 0)
}

const MAX_DEPTH: usize = 64;

fn parse_lines(lines: &[&str], depth: usize) -> Message {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    // A leading Unix `From ` line is an envelope, not a header.
    if lines.first().is_some_and(|l| l.starts_with("From ")) {
        i = 1;
    }
    while i < lines.len() {
        let line = lines[i];
        let bare = strip_eol(line);
        if bare.is_empty() {
            i += 1;
            break;
        }
        if !is_header_line(line) {
            // No separator line: the body starts here (a defect upstream
            // tolerates).
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push('\n');
                last.1.push_str(bare);
            }
            // A continuation with no header before it is dropped.
            i += 1;
            continue;
        }
        if let Some((name, value)) = bare.split_once(':') {
            headers.push((
                name.to_string(),
                value.trim_start_matches([' ', '\t']).to_string(),
            ));
        }
        i += 1;
    }
    let body_lines = lines.get(i..).unwrap_or_default();
    let mut msg = Message {
        headers,
        body: Body::Leaf(String::new()),
    };
    let is_multipart = msg.maintype() == "multipart";
    let boundary = msg.get("content-type").and_then(|v| param(v, "boundary"));
    match (is_multipart, boundary) {
        (true, Some(b)) if depth < MAX_DEPTH => {
            msg.body = match split_multipart(body_lines, &b) {
                Some(parts) => {
                    Body::Multi(parts.iter().map(|p| parse_lines(p, depth + 1)).collect())
                }
                None => Body::Leaf(body_lines.concat()),
            };
        }
        _ => msg.body = Body::Leaf(body_lines.concat()),
    }
    msg
}

/// Splits a multipart body at `--boundary` lines. `None` when the first
/// boundary never appears. The line break before each boundary belongs
/// to the boundary.
fn split_multipart<'a>(lines: &[&'a str], boundary: &str) -> Option<Vec<Vec<&'a str>>> {
    let sep = format!("--{boundary}");
    let kind = |line: &str| -> Option<bool> {
        let rest = strip_eol(line).strip_prefix(sep.as_str())?;
        let (closing, rest) = match rest.strip_prefix("--") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        if rest.trim_matches([' ', '\t']).is_empty() {
            Some(closing)
        } else {
            None
        }
    };
    let mut parts: Vec<Vec<&'a str>> = Vec::new();
    let mut current: Option<Vec<&'a str>> = None;
    let mut seen = false;
    for line in lines {
        match kind(line) {
            Some(closing) => {
                seen = true;
                if let Some(p) = current.take() {
                    parts.push(trim_last_eol(p));
                }
                if closing {
                    return Some(parts);
                }
                current = Some(Vec::new());
            }
            None => {
                if let Some(p) = current.as_mut() {
                    p.push(line);
                }
            }
        }
    }
    if !seen {
        return None;
    }
    // Without a closing boundary the last part still loses its final
    // line break, as Python's parser does.
    if let Some(p) = current.take() {
        parts.push(trim_last_eol(p));
    }
    Some(parts)
}

fn trim_last_eol(mut part: Vec<&str>) -> Vec<&str> {
    if let Some(last) = part.pop() {
        part.push(strip_eol(last));
    }
    part
}

/// All non-container parts in document order (Python `walk()` minus
/// the `multipart/*` containers).
pub fn leaves(msg: &Message) -> Vec<&Message> {
    let mut out = Vec::new();
    collect_leaves(msg, &mut out);
    out
}

fn collect_leaves<'a>(msg: &'a Message, out: &mut Vec<&'a Message>) {
    match &msg.body {
        Body::Multi(children) => {
            for c in children {
                collect_leaves(c, out);
            }
        }
        // A `multipart/*` part whose boundary never appeared is still a
        // container upstream and is skipped.
        Body::Leaf(_) if msg.maintype().eq_ignore_ascii_case("multipart") => {}
        Body::Leaf(_) => out.push(msg),
    }
}

/// A part to write: headers in order and the decoded payload.
pub type OutPart = (Vec<(String, String)>, Vec<u8>);

/// Writes parts (headers + decoded payload) as one `multipart/mixed`
/// message, as upstream's `user-data.txt.i`.
pub fn write_multipart(parts: &[OutPart]) -> Vec<u8> {
    let boundary = choose_boundary(parts);
    let mut out = String::new();
    out.push_str(&format!(
        "Content-Type: multipart/mixed; boundary=\"{boundary}\"\nMIME-Version: 1.0\nNumber-Attachments: {}\n\n",
        parts.len()
    ));
    for (headers, payload) in parts {
        out.push_str(&format!("--{boundary}\n"));
        let text = std::str::from_utf8(payload).ok();
        for (k, v) in headers {
            if k.eq_ignore_ascii_case("content-transfer-encoding") {
                continue;
            }
            out.push_str(&format!("{k}: {}\n", v.replace('\n', "\n ")));
        }
        match text {
            Some(t) if t.is_ascii() && !t.contains(&boundary) && !t.contains('\r') => {
                out.push('\n');
                out.push_str(t);
                out.push('\n');
            }
            _ => {
                out.push_str("Content-Transfer-Encoding: base64\n\n");
                let b64 = base64::engine::general_purpose::STANDARD.encode(payload);
                for chunk in b64.as_bytes().chunks(76) {
                    out.push_str(&String::from_utf8_lossy(chunk));
                    out.push('\n');
                }
            }
        }
    }
    out.push_str(&format!("--{boundary}--\n"));
    out.into_bytes()
}

fn choose_boundary(parts: &[OutPart]) -> String {
    let mut seed: Vec<u8> = Vec::new();
    for (_, p) in parts {
        seed.extend_from_slice(p);
    }
    let mut n: u32 = 0;
    loop {
        let mut data = seed.clone();
        data.extend_from_slice(&n.to_le_bytes());
        let digest = crate::md5_hex(&data);
        let digits: String = digest
            .bytes()
            .map(|b| char::from(b'0' + b % 10))
            .take(19)
            .collect();
        let b = format!("==============={digits}==");
        let clash = parts
            .iter()
            .any(|(_, p)| String::from_utf8_lossy(p).contains(&b));
        if !clash {
            return b;
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_multipart_and_encodings() {
        let text = "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"AA\"\n\npreamble\n--AA\nContent-Type: text/x-shellscript\nContent-Transfer-Encoding: base64\n\nIyEvYmluL3NoCmVjaG8gaGkK\n--AA\nContent-Type: multipart/alternative;\n boundary=BB\n\n--BB\nContent-Type: text/cloud-config\nContent-Transfer-Encoding: quoted-printable\n\n#cloud-config\nruncmd: [\"a=3D=\nb\"]\n--BB--\n--AA--\nepilogue\n";
        let msg = parse(text);
        let parts = leaves(&msg);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].content_type(), "text/x-shellscript");
        assert_eq!(parts[0].decoded_payload(), b"#!/bin/sh\necho hi\n");
        assert_eq!(parts[1].content_type(), "text/cloud-config");
        assert_eq!(
            parts[1].decoded_payload(),
            b"#cloud-config\nruncmd: [\"a=b\"]"
        );
    }

    #[test]
    fn params_and_filenames() {
        let mut m = Message::default();
        m.add(
            "Content-Type",
            "Text/Plain; charset=\"utf-8\"; name=\"x;y\"",
        );
        assert_eq!(m.content_type(), "text/plain");
        assert_eq!(m.filename().as_deref(), Some("x;y"));
        m.set_filename("a\"b");
        assert_eq!(m.filename().as_deref(), Some("a\"b"));
        m.replace("Content-Type", "bogus");
        assert_eq!(m.content_type(), "text/plain");
    }

    #[test]
    fn non_latin1_without_encoding_is_mangled_like_python() {
        let m = Message {
            headers: vec![],
            body: Body::Leaf("é€".into()),
        };
        assert_eq!(m.decoded_payload(), b"\xe9\\u20ac");
    }

    #[test]
    fn written_multipart_parses_back() {
        let parts = vec![
            (
                vec![("Content-Type".to_string(), "text/x-shellscript".to_string())],
                b"#!/bin/sh\r\necho\n".to_vec(),
            ),
            (
                vec![("Content-Type".to_string(), "text/cloud-config".to_string())],
                b"#cloud-config\na: 1\n".to_vec(),
            ),
        ];
        let out = write_multipart(&parts);
        let msg = parse(std::str::from_utf8(&out).unwrap());
        let got: Vec<Vec<u8>> = leaves(&msg).iter().map(|p| p.decoded_payload()).collect();
        assert_eq!(got, vec![parts[0].1.clone(), parts[1].1.clone()]);
        assert_eq!(msg.get("Number-Attachments"), Some("2"));
    }
}
