//! `cloud-init query`: look up instance-data by dot path (with jinja-safe
//! aliases), dump it all, or list keys. `--format` (jinja) is rendered by
//! the caller from [`load_query_data`]'s value.

use crate::paths::Paths;
use crate::pyjson;
use crate::CmdOutput;
use ci_host::Host;
use ci_pyval::gzip::{decompress_bounded, GzipError};
use serde_json::{Map, Value};
use std::path::PathBuf;

/// Options of `cloud-init query`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryArgs {
    pub varname: Option<String>,
    pub all: bool,
    pub list_keys: bool,
    /// `--format` given (rendering is the caller's).
    pub format: bool,
    /// `-i`: a path on the target (resolved through the host).
    pub instance_data: Option<PathBuf>,
    pub user_data: Option<PathBuf>,
    pub vendor_data: Option<PathBuf>,
    /// Running as root: read the sensitive file and the raw user-data.
    pub is_root: bool,
}

const LOG_FILE: &str = "query.py";

/// `get_jinja_variable_alias`: `-` and `.` become `_`; `None` if unchanged.
pub fn jinja_alias(key: &str) -> Option<String> {
    let alias = key.replace(['-', '.'], "_");
    (alias != key).then_some(alias)
}

/// `convert_jinja_instance_data`: `vN` keys copied to the top level and,
/// with `aliases`, every operator-containing key duplicated under its alias.
pub fn convert_jinja_instance_data(data: &Map<String, Value>, aliases: bool) -> Map<String, Value> {
    let mut keys: Vec<&String> = data.keys().collect();
    keys.sort();
    let mut result = Map::new();
    for key in keys {
        let Some(value) = data.get(key) else { continue };
        match value {
            Value::Object(inner) => {
                let converted = convert_jinja_instance_data(inner, aliases);
                if is_version_key(key) {
                    for (k, v) in &converted {
                        result.insert(k.clone(), v.clone());
                    }
                }
                result.insert(key.clone(), Value::Object(converted));
            }
            other => {
                result.insert(key.clone(), other.clone());
            }
        }
        if aliases {
            if let Some(alias) = jinja_alias(key) {
                if let Some(v) = result.get(key).cloned() {
                    result.insert(alias, v);
                }
            }
        }
    }
    result
}

fn is_version_key(k: &str) -> bool {
    k.strip_prefix('v')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Largest gunzipped user-data `query` shows, as user-data processing
/// bounds it (ci-userdata's `MAX_EXPANDED_BYTES`).
const MAX_GUNZIPPED_USERDATA: u64 = 64 * 1024 * 1024;

/// `None` when not gzip'd text, or when it inflates past
/// [`MAX_GUNZIPPED_USERDATA`] (then shown as raw bytes).
fn gunzip(data: &[u8]) -> Option<String> {
    match decompress_bounded(data, MAX_GUNZIPPED_USERDATA) {
        Ok(out) => String::from_utf8(out).ok(),
        Err(GzipError::OverBound) => {
            log::warn!(
                "user-data decompresses to more than {} MiB (bound MAX_GUNZIPPED_USERDATA); shown compressed",
                MAX_GUNZIPPED_USERDATA >> 20
            );
            None
        }
        Err(GzipError::NotGzip(_) | GzipError::Corrupt(_)) => None,
    }
}

/// `load_userdata`: text, or gunzipped text, or `ci-b64:` for other bytes;
/// a missing file reads as "".
fn load_userdata(host: &Host, path: &PathBuf) -> Value {
    let data = host.read(path).unwrap_or_default();
    match String::from_utf8(data) {
        Ok(s) => Value::String(s),
        Err(e) => {
            let bytes = e.into_bytes();
            match gunzip(&bytes) {
                Some(s) => Value::String(s),
                None => Value::String(format!("ci-b64:{}", crate::b64::encode(&bytes))),
            }
        }
    }
}

/// `_read_instance_data`: the instance-data document plus `userdata`,
/// `vendordata` and `combined_cloud_config` (redacted references for
/// non-root). `Err` carries the output of a failed query (exit 1).
pub fn load_query_data(host: &Host, paths: &Paths, args: &QueryArgs) -> Result<Value, CmdOutput> {
    let redacted_fn = paths.run_file("instance-data.json");
    let instance_fn = match &args.instance_data {
        Some(p) => p.clone(),
        None if args.is_root => {
            let sensitive = paths.run_file("instance-data-sensitive.json");
            if host.exists(&sensitive) {
                sensitive
            } else {
                log::warn!(
                    target: LOG_FILE,
                    "Missing root-readable {}. Using redacted {} instead.",
                    sensitive.display(),
                    redacted_fn.display()
                );
                redacted_fn
            }
        }
        None => redacted_fn,
    };
    let user_fn = args
        .user_data
        .clone()
        .unwrap_or_else(|| paths.instance_link().join("user-data.txt"));
    let vendor_fn = args
        .vendor_data
        .clone()
        .unwrap_or_else(|| paths.instance_link().join("vendor-data.txt"));
    let combined_fn = paths.run_file("combined-cloud-config.json");

    let text = match host.read_to_string(&instance_fn) {
        Ok(t) => t,
        Err(e) => {
            let msg = if e.kind() == std::io::ErrorKind::PermissionDenied {
                format!(
                    "No read permission on '{}'. Try sudo",
                    instance_fn.display()
                )
            } else {
                format!("Missing instance-data file: {}", instance_fn.display())
            };
            return Err(fail(msg));
        }
    };
    let mut doc = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => m,
        Ok(_) => {
            return Err(fail(format!(
                "{}: instance-data is not a JSON object",
                instance_fn.display()
            )))
        }
        Err(e) => {
            return Err(fail(format!(
                "{}: invalid JSON: {e}",
                instance_fn.display()
            )))
        }
    };
    if args.is_root {
        let combined = host
            .read_to_string(&combined_fn)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .unwrap_or(Value::Null);
        doc.insert("userdata".into(), load_userdata(host, &user_fn));
        doc.insert("vendordata".into(), load_userdata(host, &vendor_fn));
        doc.insert("combined_cloud_config".into(), combined);
    } else {
        let r = |p: &PathBuf| {
            Value::String(format!(
                "<{}> file:{}",
                crate::instance_data::REDACT_SENSITIVE_VALUE,
                p.display()
            ))
        };
        doc.insert("userdata".into(), r(&user_fn));
        doc.insert("vendordata".into(), r(&vendor_fn));
        doc.insert("combined_cloud_config".into(), r(&combined_fn));
    }
    Ok(Value::Object(doc))
}

fn fail(msg: String) -> CmdOutput {
    log::error!(target: LOG_FILE, "{msg}");
    CmdOutput {
        exit_code: 1,
        logged: vec![msg],
        ..CmdOutput::default()
    }
}

/// Walk `varname` through the data, accepting aliases at every level.
pub fn lookup(data: &Map<String, Value>, varname: &str) -> Result<Value, String> {
    let plain = Value::Object(convert_jinja_instance_data(data, false));
    let mut with_aliases = Value::Object(convert_jinja_instance_data(data, true));
    let mut response = plain;
    let mut walked = String::new();
    for part in varname.split('.') {
        with_aliases = match with_aliases.get(part) {
            Some(v) => v.clone(),
            None if walked.is_empty() => {
                return Err(format!("Undefined instance-data key '{varname}'"))
            }
            None => return Err(format!("instance-data '{walked}' has no '{part}'")),
        };
        let next = match response.get(part) {
            Some(v) => Some(v.clone()),
            None => response.as_object().and_then(|m| {
                m.iter()
                    .find(|(k, _)| jinja_alias(k).as_deref() == Some(part))
                    .map(|(_, v)| v.clone())
            }),
        };
        if let Some(v) = next {
            response = v;
        }
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(part);
    }
    Ok(response)
}

/// `cloud-init query` without `--format` (for `--format`, render
/// [`load_query_data`]'s value with the jinja helper: exit 1 when the
/// rendering is empty). Errors are logged (`query.py[ERROR]`) as upstream,
/// and listed in the output.
pub fn run_query(host: &Host, paths: &Paths, args: &QueryArgs) -> CmdOutput {
    if !(args.list_keys || args.varname.is_some() || args.format || args.all) {
        // Upstream also prints the parser's help to stdout; the CLI does that.
        return fail("Expected one of the options: --all, --format, --list-keys or varname".into());
    }
    let data = match load_query_data(host, paths, args) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return fail("instance-data is not a JSON object".into()),
        Err(out) => return out,
    };
    let mut response = Value::Object(convert_jinja_instance_data(&data, false));
    if let Some(var) = &args.varname {
        response = match lookup(&data, var) {
            Ok(v) => v,
            Err(msg) => return fail(msg),
        };
    }
    let text = if args.list_keys {
        let Some(m) = response.as_object() else {
            return fail(format!(
                "--list-keys provided but '{}' is not a dict",
                args.varname.as_deref().unwrap_or("")
            ));
        };
        let mut keys: Vec<&str> = m.keys().map(String::as_str).collect();
        keys.sort();
        keys.join("\n")
    } else {
        match &response {
            Value::String(s) => s.clone(),
            other => pyjson::json_dumps(other),
        }
    };
    CmdOutput::ok(&format!("{text}\n"))
}

#[cfg(test)]
mod gunzip_bound_tests {
    use super::*;

    fn gz_of(n: u64) -> Vec<u8> {
        ci_pyval::gzip::repeated(b'a', n)
    }

    #[test]
    fn gunzip_is_bounded() {
        assert_eq!(gunzip(&gz_of(MAX_GUNZIPPED_USERDATA + 1)), None);
        let ok = gunzip(&gz_of(MAX_GUNZIPPED_USERDATA)).unwrap();
        assert_eq!(ok.len() as u64, MAX_GUNZIPPED_USERDATA);
    }
}
