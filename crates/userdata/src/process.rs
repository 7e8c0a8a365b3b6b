//! Raw blob → flat list of parts, as upstream's `UserDataProcessor`:
//! gunzip, MIME walk, gzip parts, type sniffing, `#include` and
//! `#cloud-config-archive` expansion, part names and `Launch-Index`.

use crate::bounds::Budget;
use crate::diag::Diag;
use crate::fetch::Fetcher;
use crate::mime::{self, Message};
use crate::sniff::{is_py_space, type_from_starts_with};
use crate::yamlutil::{self, Allowed};
use crate::{gzip, ProcessOptions};
use ci_host::WriteOpts;
use ci_pyval::{py_repr, py_str, py_type};
use serde_json::Value;

/// One attached part: headers and the payload with any transfer
/// encoding removed.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    pub head: Message,
    pub payload: Vec<u8>,
}

impl Part {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }
}

const TYPE_NEEDED: &[&str] = &["text/plain", "text/x-not-multipart", "text/x-shellscript"];
const DECOMP_TYPES: &[&str] = &[
    "application/gzip",
    "application/gzip-compressed",
    "application/gzipped",
    "application/x-compress",
    "application/x-compressed",
    "application/x-gunzip",
    "application/x-gzip",
    "application/x-gzip-compressed",
];
const INCLUDE_TYPES: &[&str] = &["text/x-include-url", "text/x-include-once-url"];
const ARCHIVE_TYPE: &str = "text/cloud-config-archive";
/// Upstream recurses without limit (until Python's recursion error).
const MAX_INCLUDE_DEPTH: usize = 32;

struct Processor<'a, 'o> {
    opts: &'a ProcessOptions<'o>,
    fetch: &'a dyn Fetcher,
    diag: &'a mut Diag,
    budget: &'a mut Budget,
    parts: Vec<Part>,
    depth: usize,
}

/// Expands `raw` into attached parts. `Err`: upstream raises
/// (`ERROR_ON_USER_DATA_FAILURE`).
pub(crate) fn expand(
    raw: &[u8],
    opts: &ProcessOptions,
    fetch: &dyn Fetcher,
    diag: &mut Diag,
    budget: &mut Budget,
) -> Result<Vec<Part>, String> {
    let mut p = Processor {
        opts,
        fetch,
        diag,
        budget,
        parts: Vec::new(),
        depth: 0,
    };
    p.process_blob(raw)?;
    Ok(p.parts)
}

/// upstream `convert_string`: the leaves of the blob as (headers, payload).
/// A blob that inflates past its bound is dropped with a warning, as
/// invalid user-data is, so the boot goes on without it.
fn convert(
    raw: &[u8],
    budget: &mut Budget,
    diag: &mut Diag,
) -> Result<Vec<(Message, Vec<u8>)>, String> {
    let data = match gzip::decompress_quiet(raw, budget) {
        Ok(d) => d,
        Err(e) => {
            diag.warn(e);
            return Ok(Vec::new());
        }
    };
    let head = data.get(..4096).unwrap_or(&data);
    if !head
        .to_ascii_lowercase()
        .windows(13)
        .any(|w| w == b"mime-version:")
    {
        let mut msg = Message::default();
        msg.add("Content-Type", "text/x-not-multipart");
        msg.add("MIME-Version", "1.0");
        return Ok(vec![(msg, data)]);
    }
    let text = std::str::from_utf8(&data)
        .map_err(|e| format!("'utf-8' codec can't decode MIME user-data: {e}"))?;
    let msg = mime::parse(text);
    Ok(mime::leaves(&msg)
        .into_iter()
        .map(|leaf| {
            let payload = leaf.decoded_payload();
            let mut head = leaf.clone();
            head.body = mime::Body::Leaf(String::new());
            (head, payload)
        })
        .collect())
}

impl Processor<'_, '_> {
    fn process_blob(&mut self, raw: &[u8]) -> Result<(), String> {
        for (head, payload) in convert(raw, self.budget, self.diag)? {
            self.process_part(head, payload)?;
        }
        Ok(())
    }

    fn process_part(&mut self, mut head: Message, mut payload: Vec<u8>) -> Result<(), String> {
        let mut ctype_orig = Some(head.content_type());
        let mut was_compressed = false;
        if let Some(ct) = ctype_orig.as_deref().filter(|c| DECOMP_TYPES.contains(c)) {
            let unpacked = match gzip::decompress(&payload, self.budget, &format!("{ct} part")) {
                // Over the bound: this part is dropped (a corrupt one still
                // fails the blob, as upstream).
                Err(gzip::GzError::TooBig(m)) => {
                    self.diag.warn(m);
                    return Ok(());
                }
                Err(gzip::GzError::Invalid(m)) => Err(m),
                Ok(d) => Ok(d),
            };
            let unpacked = unpacked.and_then(|d| {
                // Upstream decodes the result as UTF-8 text.
                String::from_utf8(d)
                    .map(String::into_bytes)
                    .map_err(|e| format!("'utf-8' codec can't decode byte: {}", e.utf8_error()))
            });
            match unpacked {
                Ok(d) => {
                    payload = d;
                    ctype_orig = None;
                    was_compressed = true;
                }
                Err(e) => {
                    return Err(format!(
                        "Failed decompressing payload from {ct} of length {} due to: {e}",
                        payload.len()
                    ))
                }
            }
        }
        let ctype_orig = ctype_orig.unwrap_or_else(|| "text/plain".into());
        let mut ctype = None;
        if TYPE_NEEDED.contains(&ctype_orig.as_str()) {
            ctype = type_from_starts_with(&payload).map(str::to_string);
        }
        let ctype = ctype.unwrap_or_else(|| ctype_orig.clone());

        if was_compressed {
            // A fresh part with the found type and the plain payload; only
            // the file name and Launch-Index carry over.
            let mut fresh = Message::default();
            fresh.add("Content-Type", ctype.clone());
            fresh.add("MIME-Version", "1.0");
            if let Some(f) = head.filename().filter(|f| !f.is_empty()) {
                fresh.set_filename(&f);
            }
            if let Some(li) = head.get("Launch-Index") {
                fresh.replace("Launch-Index", li.to_string());
            }
            head = fresh;
        }
        if ctype != ctype_orig {
            head.replace("Content-Type", ctype.clone());
        }
        if INCLUDE_TYPES.contains(&ctype.as_str()) {
            return self.do_include(&String::from_utf8_lossy(&payload));
        }
        if ctype == ARCHIVE_TYPE {
            return self.explode_archive(&String::from_utf8_lossy(&payload));
        }
        self.attach(Part { head, payload });
        Ok(())
    }

    fn do_include(&mut self, content: &str) -> Result<(), String> {
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(format!(
                "#include nesting deeper than {MAX_INCLUDE_DEPTH} levels"
            ));
        }
        let mut once = false;
        for line in ci_pyval::splitlines(content) {
            let lower = line.to_ascii_lowercase();
            let mut line = line;
            if lower.starts_with("#include-once") {
                line = line["#include-once".len()..].trim_start_matches(is_py_space);
                once = true;
            } else if lower.starts_with("#include") {
                line = line["#include".len()..].trim_start_matches(is_py_space);
                once = false;
            }
            if line.starts_with('#') {
                continue;
            }
            let url = line.trim_matches(is_py_space);
            if url.is_empty() {
                continue;
            }
            let Some(content) = self.include_content(url, once)? else {
                continue;
            };
            self.depth += 1;
            let r = self.process_blob(&content);
            self.depth -= 1;
            r?;
        }
        Ok(())
    }

    /// `Ok(None)`: the content is over its bound and skipped (warned).
    fn include_content(&mut self, url: &str, once: bool) -> Result<Option<Vec<u8>>, String> {
        let cache = match (once, &self.opts.include_once_cache, self.opts.host) {
            (true, Some(dir), Some(host)) => Some((dir.join(crate::md5_hex(url.as_bytes())), host)),
            _ => None,
        };
        if let Some((path, host)) = &cache {
            if let Ok(Some(data)) = host.read_optional(path) {
                log::debug!("Using cached include-once content of {url}");
                return Ok(self.charge_include(url, data));
            }
        }
        let scheme = url_scheme(url);
        if !url.starts_with('/')
            && !matches!(scheme.as_str(), "file" | "ftp" | "ftps" | "http" | "https")
        {
            self.diag
                .warn(format!("Attempting unknown protocol {scheme}"));
        }
        let data = match self.fetch.get(url) {
            Err(e) if e.contains("(bound MAX_EXPANDED_BYTES)") => {
                self.diag.warn(e);
                return Ok(None);
            }
            r => r?,
        };
        let Some(data) = self.charge_include(url, data) else {
            return Ok(None);
        };
        if let Some((path, host)) = &cache {
            if let Some(dir) = path.parent() {
                let _ = host.create_dir_all(dir, 0o755);
            }
            if let Err(e) = host.write_atomic(path, &data, &WriteOpts::mode(0o600)) {
                // Upstream would raise on a failed write as well.
                return Err(format!(
                    "Failed writing include-once cache {}: {e}",
                    path.display()
                ));
            }
        }
        Ok(Some(data))
    }

    fn charge_include(&mut self, url: &str, data: Vec<u8>) -> Option<Vec<u8>> {
        let what = format!("#include content of {url}");
        match self.budget.charge_expanded(data.len() as u64, &what) {
            Ok(()) => Some(data),
            Err(e) => {
                self.diag.warn(e);
                None
            }
        }
    }

    fn explode_archive(&mut self, archive: &str) -> Result<(), String> {
        let entries = match yamlutil::load(archive, Allowed::List, self.diag) {
            Some(Value::Array(a)) => a,
            _ => Vec::new(),
        };
        for ent in entries {
            let ent = match ent {
                Value::String(s) => {
                    let mut m = serde_json::Map::new();
                    m.insert("content".into(), Value::String(s));
                    m
                }
                Value::Object(m) => m,
                _ => continue,
            };
            let content = match ent.get("content") {
                None => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => {
                    return Err(format!(
                        "Archive entry content must be text, not {}",
                        py_repr(other)
                    ))
                }
            };
            let mtype = match ent.get("type") {
                None | Some(Value::Null) | Some(Value::Bool(false)) => None,
                Some(Value::String(s)) if s.is_empty() => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(other) => {
                    return Err(format!(
                        "Archive entry type must be text, not {}",
                        py_repr(other)
                    ))
                }
            };
            let mtype = mtype.unwrap_or_else(|| {
                type_from_starts_with(content.as_bytes())
                    .unwrap_or("text/cloud-config")
                    .to_string()
            });
            let Some((maintype, subtype)) = mtype.split_once('/') else {
                return Err(format!(
                    "Archive entry type '{mtype}' is not of the form maintype/subtype"
                ));
            };
            let mut head = Message::default();
            if maintype == "text" {
                let charset = if content.is_ascii() {
                    "us-ascii"
                } else {
                    "utf-8"
                };
                head.add(
                    "Content-Type",
                    format!("text/{subtype}; charset=\"{charset}\""),
                );
                head.add("MIME-Version", "1.0");
                let cte = if content.is_ascii() { "7bit" } else { "base64" };
                head.add("Content-Transfer-Encoding", cte);
            } else {
                head.add("Content-Type", format!("{maintype}/{subtype}"));
                head.add("MIME-Version", "1.0");
            }
            if let Some(f) = ent.get("filename") {
                head.set_filename(&py_str(f));
            }
            if let Some(li) = ent.get("launch-index") {
                head.add("Launch-Index", py_str(li));
            }
            for (k, v) in &ent {
                let lk = k.to_ascii_lowercase();
                if matches!(
                    lk.as_str(),
                    "content"
                        | "filename"
                        | "type"
                        | "launch-index"
                        | "content-disposition"
                        | "number-attachments"
                        | "content-type"
                ) {
                    continue;
                }
                // Python's add_header joins the value as text: None gives
                // an empty header, anything but a string raises.
                let value = match v {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    other => {
                        return Err(format!(
                            "sequence item 0: expected str instance, {} found",
                            py_type(other)
                        ))
                    }
                };
                head.add(k, value);
            }
            self.attach(Part {
                head,
                payload: content.into_bytes(),
            });
        }
        Ok(())
    }

    fn attach(&mut self, mut part: Part) {
        let n = self.parts.len() + 1;
        if part.head.filename().is_none_or(|f| f.is_empty()) {
            part.head.set_filename(&format!("part-{n:03}"));
        }
        self.attach_launch_index(&mut part);
        self.parts.push(part);
    }

    fn attach_launch_index(&mut self, part: &mut Part) {
        let header = part
            .head
            .get("Launch-Index")
            .map(|s| Value::String(s.to_string()));
        let mut idx = None;
        if part.head.content_type() == "text/cloud-config" {
            // Upstream decodes before its try block, so a payload that is
            // not UTF-8 is skipped here without a warning.
            if let Ok(text) = std::str::from_utf8(&part.payload) {
                if let Some(Value::Object(m)) = yamlutil::load(text, Allowed::Dict, self.diag) {
                    idx = m.get("launch-index").cloned().filter(|v| !v.is_null());
                }
            }
        }
        if header.is_some() {
            idx = header;
        }
        if let Some(i) = idx.as_ref().and_then(py_int) {
            part.head.add("Launch-Index", i.to_string());
        }
    }
}

/// `urllib.parse.urlparse(url).scheme`.
fn url_scheme(url: &str) -> String {
    let Some((scheme, _)) = url.split_once(':') else {
        return String::new();
    };
    let valid = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if valid {
        scheme.to_ascii_lowercase()
    } else {
        String::new()
    }
}

/// Python `int(x)` for a header string or a YAML value.
pub(crate) fn py_int(v: &Value) -> Option<i64> {
    match v {
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
        Value::String(s) => {
            let t = s.trim_matches(is_py_space).replace('_', "");
            let t = t.strip_prefix('+').unwrap_or(&t);
            if t.is_empty() || s.contains("__") {
                return None;
            }
            t.parse().ok()
        }
        _ => None,
    }
}

/// upstream's launch-index filter: parts whose `Launch-Index` is set and
/// differs from `want` are dropped.
pub(crate) fn filter_launch_index(parts: Vec<Part>, want: i64) -> Vec<Part> {
    let total = parts.len();
    let kept: Vec<Part> = parts
        .into_iter()
        .filter(|p| match p.head.get("Launch-Index") {
            None => true,
            Some(h) => py_int(&Value::String(h.to_string())) == Some(want),
        })
        .collect();
    log::debug!(
        "Discarding {} multipart messages which do not match launch index {want}",
        total - kept.len()
    );
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_int_and_splitlines() {
        assert_eq!(py_int(&json!(" 2 ")), Some(2));
        assert_eq!(py_int(&json!("1_0")), Some(10));
        assert_eq!(py_int(&json!("x")), None);
        assert_eq!(py_int(&json!(1.9)), Some(1));
        assert_eq!(py_int(&json!(true)), Some(1));
        assert_eq!(
            ci_pyval::splitlines("a\r\nb\rc\n\nd"),
            vec!["a", "b", "c", "", "d"]
        );
    }
}
