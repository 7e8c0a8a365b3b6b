//! `write_files` and `write_files_deferred`: write the `write_files`
//! entries without / with `defer: true`.
//!
//! Upstream's order of events is kept: entries are handled one by one; a
//! missing path or content, an unknown encoding or undecodable permissions
//! log a warning and the entry (or the setting) is skipped; an error while
//! decoding or an unknown owner stops the module with an error, entries
//! after it are not written. The owner is looked up where upstream looks it
//! up: when chowning the parent directories it had to create (so they
//! exist and the file does not), else after writing the file (so the file
//! exists, owned as written).
//!
//! `content` loaded from `!!binary` is bytes (see `ci_yaml::binary`): they
//! are written as they are, or decoded by `encoding` like text is.

use crate::{Ctx, ModResult, ModuleError};
use base64::Engine;
use ci_host::{Host, WriteOpts};
use ci_pyval::gzip::{decompress_bounded, GzipError};
use ci_pyval::{abspath, cfg_bool};
// Python's views of values that may hold bytes: messages show `b'...'`.
use ci_yaml::binary::{self, py_repr, py_str, py_type};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const DEFAULT_PERMS: u32 = 0o644;
const TEXT_PLAIN: &str = "text/plain";

pub fn handle(ctx: &Ctx) -> ModResult {
    run(ctx, false)
}

pub fn handle_deferred(ctx: &Ctx) -> ModResult {
    run(ctx, true)
}

fn run(ctx: &Ctx, deferred: bool) -> ModResult {
    let entries: Vec<&Value> = match ctx.get("write_files") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(other) => {
            return Err(ModuleError::new(format!(
                "write_files: expected a list of files, got {}",
                py_type(other)
            )))
        }
    };
    let chosen: Vec<&Value> = entries
        .into_iter()
        .filter(|f| is_deferred(f) == deferred)
        .collect();
    if chosen.is_empty() {
        if deferred {
            log::debug!(
                "Skipping module named {}, no deferred file defined in configuration",
                ctx.name
            );
        } else {
            log::debug!(
                "Skipping module named {}, no/empty 'write_files' key in configuration",
                ctx.name
            );
        }
        return Ok(());
    }
    write_files(ctx.host, ctx.name, &chosen, &Fetch::upstream())
}

fn is_deferred(f: &Value) -> bool {
    match f {
        Value::Object(_) => cfg_bool(f, "defer", false),
        _ => false,
    }
}

/// How `source.uri` is fetched (upstream: 3 retries, 3 s apart).
pub(crate) struct Fetch {
    pub retries: u32,
    pub delay: Duration,
    pub timeout: Duration,
}

impl Fetch {
    fn upstream() -> Self {
        Fetch {
            retries: 3,
            delay: Duration::from_secs(3),
            timeout: Duration::from_secs(30),
        }
    }
}

pub(crate) fn write_files(host: &Host, name: &str, files: &[&Value], fetch: &Fetch) -> ModResult {
    for (i, f) in files.iter().enumerate() {
        let n = i + 1;
        if !matches!(f, Value::Object(_)) {
            return Err(ModuleError::new(format!(
                "write_files entry {n}: expected a mapping, got {} ({})",
                py_type(f),
                py_repr(f)
            )));
        }
        let path = match f.get("path") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            // Upstream writes to a bytes path as to its text.
            Some(Value::String(s)) if binary::is_binary_str(s) => {
                match binary::decode_str(s).map(String::from_utf8) {
                    Some(Ok(p)) if !p.is_empty() => Some(abspath(&p)),
                    Some(Ok(_)) | None => None,
                    Some(Err(_)) => {
                        return Err(ModuleError::new(format!(
                            "write_files entry {n}: path is bytes that are not UTF-8"
                        )))
                    }
                }
            }
            Some(Value::String(s)) => Some(abspath(s)),
            Some(other) => {
                return Err(ModuleError::new(format!(
                    "write_files entry {n}: path must be a string, got {}",
                    py_type(other)
                )))
            }
        };
        let Some(path) = path else {
            log::warn!("No path provided to write for entry {n} in module {name}");
            continue;
        };
        let contents = read_url_or_decode(
            host,
            f.get("source"),
            f.get("content"),
            f.get("encoding"),
            fetch,
        )
        .map_err(|e| ModuleError::new(format!("write_files entry {n} ({path}): {e}")))?;
        let Some(contents) = contents else {
            log::warn!("No content could be loaded for entry {n} in module {name}; skipping");
            continue;
        };
        let owner = match f.get("owner") {
            None => Some("root:root".to_string()),
            Some(Value::Null) => None,
            Some(Value::String(s)) if !binary::is_binary_str(s) => Some(s.clone()),
            Some(other) => {
                return Err(ModuleError::new(format!(
                    "write_files entry {n} ({path}): owner must be a string, got {}",
                    py_type(other)
                )))
            }
        };
        let (user, group) = extract_usergroup(owner.as_deref());
        let perms = decode_perms(f.get("permissions"), DEFAULT_PERMS);
        let append = cfg_bool(f, "append", false);
        let owner = Owner {
            user: user.as_deref(),
            group: group.as_deref(),
        };
        write_one(host, &path, &contents, perms, append, owner)?;
    }
    Ok(())
}

/// Upstream's `util.extract_usergroup`: `user[:group]`, with empty, `-1`
/// and `none` meaning "leave as is".
pub(crate) fn extract_usergroup(spec: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(spec) = spec.filter(|s| !s.is_empty()) else {
        return (None, None);
    };
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u.trim(), Some(g.trim())),
        None => (spec.trim(), None),
    };
    let keep = |s: &str| !(s.is_empty() || s == "-1" || s.eq_ignore_ascii_case("none"));
    (
        Some(u).filter(|s| keep(s)).map(str::to_string),
        g.filter(|s| keep(s)).map(str::to_string),
    )
}

/// Look the names up on the target, with upstream's error text. `root`
/// always exists, even in a bare sandbox without `/etc/passwd`.
fn resolve_ids(
    host: &Host,
    user: Option<&str>,
    group: Option<&str>,
) -> Result<(Option<u32>, Option<u32>), ModuleError> {
    let uid = match user {
        None => None,
        Some(u) => match host.user(u) {
            Some(e) => Some(e.uid),
            None if u == "root" => Some(0),
            None => match u.parse::<u32>() {
                Ok(id) => Some(id),
                Err(_) => {
                    // Upstream's chownbyname raises OSError from the KeyError.
                    return Err(ModuleError::with_class(
                        "OSError",
                        format!("Unknown user or group: \"getpwnam(): name not found: '{u}'\""),
                    ));
                }
            },
        },
    };
    let gid = match group {
        None => None,
        Some(g) => match host.group(g) {
            Some(e) => Some(e.gid),
            None if g == "root" => Some(0),
            None => match g.parse::<u32>() {
                Ok(id) => Some(id),
                Err(_) => {
                    return Err(ModuleError::with_class(
                        "OSError",
                        format!("Unknown user or group: \"getgrnam(): name not found: '{g}'\""),
                    ));
                }
            },
        },
    };
    Ok((uid, gid))
}

/// The names an entry's file (and the directories made for it) go to.
#[derive(Clone, Copy)]
struct Owner<'a> {
    user: Option<&'a str>,
    group: Option<&'a str>,
}

impl Owner<'_> {
    fn is_set(&self) -> bool {
        self.user.is_some() || self.group.is_some()
    }
}

fn write_one(
    host: &Host,
    path: &str,
    contents: &[u8],
    perms: u32,
    append: bool,
    owner: Owner<'_>,
) -> ModResult {
    ensure_parent(host, path, owner)?;
    // Upstream looks the owner up only after writing: an unknown one leaves
    // the file written (owned as created) and then stops the module.
    let ids = resolve_ids(host, owner.user, owner.group);
    let (uid, gid) = ids.as_ref().map_or((None, None), |ids| *ids);
    write_file(host, path, contents, perms, append, uid, gid)?;
    ids.map(|_| ())
}

fn write_file(
    host: &Host,
    path: &str,
    contents: &[u8],
    perms: u32,
    append: bool,
    uid: Option<u32>,
    gid: Option<u32>,
) -> ModResult {
    // Upstream opens the path, so an existing symlink (say /etc/resolv.conf)
    // is written through, not replaced: followed inside the root, and a
    // chain of too many links is an error.
    let resolved = host.canonical(path)?.to_string_lossy().into_owned();
    let path = resolved.as_str();
    // Upstream skips chmod for mode 0: a new file gets the default mode and
    // an existing one keeps its mode.
    let mode = if perms == 0 {
        existing_mode(host, path).unwrap_or(DEFAULT_PERMS)
    } else {
        perms & 0o7777
    };
    log::debug!(
        "Writing to {path} - {}: [{mode:o}] {} bytes",
        if append { "ab" } else { "wb" },
        contents.len()
    );
    if append {
        host.append(path, contents, &WriteOpts::mode(mode))?;
        host.set_mode(path, mode)?;
        if uid.is_some() || gid.is_some() {
            host.chown(path, uid, gid)?;
        }
    } else {
        host.write_atomic(path, contents, &WriteOpts::mode(mode).owner(uid, gid))?;
    }
    Ok(())
}

fn existing_mode(host: &Host, path: &str) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(host.resolve(path))
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

/// Create missing parent directories; like upstream's `ensure_dir`, the
/// ones created are given the file's owner, looked up only once they
/// exist (an unknown owner leaves them created, owned as made).
fn ensure_parent(host: &Host, path: &str, owner: Owner<'_>) -> ModResult {
    let Some(parent) = Path::new(path).parent() else {
        return Ok(());
    };
    if host.is_dir(parent) {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut cur = Some(parent);
    while let Some(p) = cur {
        if host.is_dir(p) || p == Path::new("/") {
            break;
        }
        missing.push(p.to_path_buf());
        cur = p.parent();
    }
    host.create_dir_all(parent, 0o755)?;
    if !owner.is_set() {
        return Ok(());
    }
    let (uid, gid) = resolve_ids(host, owner.user, owner.group)?;
    if uid.is_some() || gid.is_some() {
        for d in missing.iter().rev() {
            host.chown(d, uid, gid)?;
        }
    }
    Ok(())
}

/// Upstream's `decode_perms`: numbers are taken as they are, strings as
/// octal; anything undecodable warns and gives the default.
pub(crate) fn decode_perms(perm: Option<&Value>, default: u32) -> u32 {
    let perm = match perm {
        None | Some(Value::Null) => return default,
        Some(p) => p,
    };
    let decoded = match perm {
        Value::Bool(b) => Some(u32::from(*b)),
        Value::Number(n) => n.as_u64().and_then(|v| u32::try_from(v).ok()).or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && *f < 4294967296.0)
                .map(|f| f as u32)
        }),
        other => parse_octal(&py_str(other)),
    };
    match decoded {
        Some(m) => m,
        None => {
            let shown = match perm {
                Value::Number(_) | Value::Bool(_) => py_str(perm),
                other => py_repr(other),
            };
            log::warn!("Undecodable permissions {shown}, returning default {default:o}");
            default
        }
    }
}

/// Python's `int(text, 8)`: surrounding whitespace, an optional `0o`
/// prefix and single underscores between digits are allowed.
fn parse_octal(text: &str) -> Option<u32> {
    let t = text.trim();
    let t = t.strip_prefix('+').unwrap_or(t);
    let t = t
        .strip_prefix("0o")
        .or_else(|| t.strip_prefix("0O"))
        .map(|r| r.strip_prefix('_').unwrap_or(r))
        .unwrap_or(t);
    if t.is_empty() || t.starts_with('_') || t.ends_with('_') || t.contains("__") {
        return None;
    }
    let digits: String = t.chars().filter(|c| *c != '_').collect();
    u32::from_str_radix(&digits, 8).ok()
}

/// Upstream's `canonicalize_extraction`: the decoding steps for an
/// `encoding` value, outermost first.
pub(crate) fn extraction_steps(encoding: Option<&Value>) -> Vec<&'static str> {
    let enc = match encoding {
        None | Some(Value::Null) => String::new(),
        Some(v) => py_str(v),
    };
    let enc = enc.to_lowercase().trim().to_string();
    match enc.as_str() {
        "gz" | "gzip" => vec!["application/x-gzip"],
        "gz+base64" | "gzip+base64" | "gz+b64" | "gzip+b64" => {
            vec!["application/base64", "application/x-gzip"]
        }
        "b64" | "base64" => vec!["application/base64"],
        TEXT_PLAIN => vec![TEXT_PLAIN],
        "" => vec![TEXT_PLAIN],
        other => {
            log::warn!("Unknown encoding type {other}, assuming {TEXT_PLAIN}");
            vec![TEXT_PLAIN]
        }
    }
}

/// Decode `content` through the steps of `encoding`.
pub(crate) fn decode_content(content: &[u8], encoding: Option<&Value>) -> Result<Vec<u8>, String> {
    let mut data = content.to_vec();
    for step in extraction_steps(encoding) {
        data = match step {
            "application/x-gzip" => gunzip(&data)?,
            "application/base64" => b64decode(&data)?,
            _ => data,
        };
    }
    Ok(data)
}

/// Largest decompressed `gz`/`gz+b64` content of one file, and largest
/// body of a `source.uri` download: as much as user-data itself may expand
/// to, so a small encoded value cannot inflate without end.
pub const MAX_DECODED_CONTENT_BYTES: u64 = ci_userdata::bounds::MAX_EXPANDED_BYTES;

fn gunzip(data: &[u8]) -> Result<Vec<u8>, String> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    decompress_bounded(data, MAX_DECODED_CONTENT_BYTES).map_err(|e| match e {
        GzipError::NotGzip(head) => format!("Not a gzipped file ({})", py_bytes_repr(&head)),
        GzipError::Corrupt(e) => format!("gzip decompression failed: {e}"),
        GzipError::OverBound => format!(
            "gzip content decompresses to more than {} MiB (bound MAX_DECODED_CONTENT_BYTES)",
            MAX_DECODED_CONTENT_BYTES >> 20
        ),
    })
}

fn py_bytes_repr(b: &[u8]) -> String {
    let mut s = String::from("b'");
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'\'' => s.push_str("\\'"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('\'');
    s
}

/// Python's `base64.b64decode` without `validate` (binascii's lenient
/// mode): characters outside the alphabet are skipped, a pad sequence that
/// completes a quantum ends the input, and a dangling quantum is an error.
pub(crate) fn b64decode(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut chars: Vec<u8> = Vec::with_capacity(data.len());
    let mut pads = 0usize;
    let mut done = false;
    for &c in data {
        let quad_pos = chars.len() % 4;
        if c == b'=' {
            if quad_pos >= 2 {
                pads += 1;
                if quad_pos + pads >= 4 {
                    done = true;
                    break;
                }
            }
            continue;
        }
        if c.is_ascii_alphanumeric() || c == b'+' || c == b'/' {
            pads = 0;
            chars.push(c);
        }
    }
    let rem = chars.len() % 4;
    if !done && rem == 1 {
        return Err(format!(
            "Invalid base64-encoded string: number of data characters ({}) cannot be 1 more than a multiple of 4",
            chars.len()
        ));
    }
    if !done && rem != 0 {
        return Err("Incorrect padding".into());
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone),
    );
    engine
        .decode(&chars)
        .map_err(|e| format!("Invalid base64-encoded string: {e}"))
}

/// Upstream's `read_url_or_decode`: `Ok(None)` when a source failed and
/// there is no content to fall back to.
fn read_url_or_decode(
    host: &Host,
    source: Option<&Value>,
    content: Option<&Value>,
    encoding: Option<&Value>,
    fetch: &Fetch,
) -> Result<Option<Vec<u8>>, String> {
    let (url, headers) = match source {
        None | Some(Value::Null) => (None, None),
        Some(Value::Object(m)) => (
            m.get("uri").filter(|u| ci_pyval::truthy(u)).map(py_str),
            m.get("headers"),
        ),
        Some(other) => {
            return Err(format!("source must be a mapping, got {}", py_type(other)));
        }
    };
    let content = match content {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(ci_yaml::binary::decode_str(s).unwrap_or_else(|| s.as_bytes().to_vec()))
        }
        Some(other) => {
            return Err(format!("content must be a string, got {}", py_type(other)));
        }
    };
    if content.is_none() && url.is_none() {
        return Ok(Some(Vec::new()));
    }
    if let Some(url) = &url {
        match fetch_url(host, url, headers, fetch) {
            Ok(body) => return Ok(Some(body)),
            Err(e) => {
                log::warn!(
                    "Failed to retrieve contents from source \"{url}\"; falling back to data from \"contents\" key"
                );
                log::debug!("{e}");
            }
        }
    }
    match content {
        Some(c) => decode_content(&c, encoding).map(Some),
        None => Ok(None),
    }
}

/// Fetch `source.uri`: local paths and `file://` under the target root,
/// `http(s)://` with the given headers and upstream's retries.
fn fetch_url(
    host: &Host,
    url: &str,
    headers: Option<&Value>,
    fetch: &Fetch,
) -> Result<Vec<u8>, String> {
    let url = url.trim_start();
    let local = if url.starts_with('/') {
        Some(url)
    } else if let Some(rest) = url.strip_prefix("file://") {
        Some(rest.find('/').map(|i| &rest[i..]).unwrap_or(""))
    } else {
        None
    };
    if let Some(path) = local {
        return host.read(path).map_err(|e| e.to_string());
    }
    if !url.starts_with("http://") && !url.starts_with("https://") {
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
        log::warn!("Attempting unknown protocol {scheme}");
        return Err(format!("No connection adapters were found for '{url}'"));
    }
    let hdrs: Vec<(String, String)> = match headers {
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), py_str(v))).collect(),
        _ => Vec::new(),
    };
    let h = host.clone();
    let agent = ci_http::agent(&ci_http::AgentOpts {
        timeout_global: Some(fetch.timeout),
        env_proxy: true,
        trust: ci_http::Trust::resolving(host.root().display().to_string(), move |p: &str| {
            h.try_resolve(p)
        }),
        ..ci_http::AgentOpts::default()
    });
    let mut last = String::new();
    for attempt in 0..=fetch.retries {
        let mut req = agent.get(url);
        for (k, v) in &hdrs {
            req = req.header(k.as_str(), v.as_str());
        }
        match req.call() {
            Ok(mut resp) => {
                let code = resp.status().as_u16();
                if (200..300).contains(&code) {
                    return resp
                        .body_mut()
                        .with_config()
                        .limit(MAX_DECODED_CONTENT_BYTES)
                        .read_to_vec()
                        .map_err(|e| match e {
                            ureq::Error::BodyExceedsLimit(_) => format!(
                                "body of {url} is larger than {} MiB (bound MAX_DECODED_CONTENT_BYTES)",
                                MAX_DECODED_CONTENT_BYTES >> 20
                            ),
                            e => format!("{e} for url: {url}"),
                        });
                }
                last = format!("{code} error for url: {url}");
            }
            Err(e) => last = format!("{} for url: {url}", ci_http::error_text(&e)),
        }
        if attempt < fetch.retries && !fetch.delay.is_zero() {
            std::thread::sleep(fetch.delay);
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod decode_bound_tests {
    use super::*;

    fn gz_zeros(n: u64) -> Vec<u8> {
        ci_pyval::gzip::repeated(0, n)
    }

    #[test]
    fn gzip_content_is_bounded() {
        let enc = Value::String("gz+b64".into());
        let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
        let over = b64(&gz_zeros(MAX_DECODED_CONTENT_BYTES + 1));
        let e = decode_content(over.as_bytes(), Some(&enc)).unwrap_err();
        assert!(e.contains("bound MAX_DECODED_CONTENT_BYTES"), "{e}");
        let at = b64(&gz_zeros(MAX_DECODED_CONTENT_BYTES));
        let d = decode_content(at.as_bytes(), Some(&enc)).unwrap();
        assert_eq!(d.len() as u64, MAX_DECODED_CONTENT_BYTES);
    }
}
