//! `phone_home`: POST the instance's id, names and SSH host keys to a URL
//! once the boot is done, as a form (`application/x-www-form-urlencoded`).

use crate::power_state_change::py_int;
use crate::{Ctx, ModResult, ModuleError};
use ci_host::Host;
use ci_pyval::{py_str, py_type};
use serde_json::{Map, Value};
use std::time::Duration;

/// What `post: all` sends, in this order.
const POST_LIST_ALL: [&str; 6] = [
    "pub_key_rsa",
    "pub_key_ecdsa",
    "pub_key_ed25519",
    "instance_id",
    "hostname",
    "fqdn",
];

const PUBKEYS: [(&str, &str); 3] = [
    ("pub_key_rsa", "/etc/ssh/ssh_host_rsa_key.pub"),
    ("pub_key_ecdsa", "/etc/ssh/ssh_host_ecdsa_key.pub"),
    ("pub_key_ed25519", "/etc/ssh/ssh_host_ed25519_key.pub"),
];

/// Upstream's `tries` when the key is missing or not a number.
const DEFAULT_TRIES: i128 = 10;
/// Upstream's pause between attempts.
const SEC_BETWEEN: Duration = Duration::from_secs(3);

pub fn handle(ctx: &Ctx) -> ModResult {
    let ph_cfg = match ctx.args.first() {
        Some(file) => read_conf(ctx.host, file)?,
        None => match ctx.get("phone_home") {
            Some(v) => v.clone(),
            None => {
                log::debug!(
                    "Skipping module named {}, no 'phone_home' configuration found",
                    ctx.name
                );
                return Ok(());
            }
        },
    };
    let Some(url) = url_of(&ph_cfg)? else {
        log::warn!(
            "Skipping module named {}, no 'url' found in 'phone_home' configuration",
            ctx.name
        );
        return Ok(());
    };
    let empty = Map::new();
    let ph = ph_cfg.as_object().unwrap_or(&empty);

    let tries = match ph.get("tries").map(py_int) {
        Some(Ok(n)) => n,
        // A missing `tries` is `int(None)` upstream: the warning is logged
        // on every config that leaves it out.
        Some(Err(_)) | None => {
            log::warn!(
                "Configuration entry 'tries' is not an integer, using {DEFAULT_TRIES} instead"
            );
            DEFAULT_TRIES
        }
    };

    let post_list = post_list(ph.get("post"))?;

    let names = crate::hostname_util::get_hostname_fqdn(&Ctx {
        // The datasource's names: upstream asks the datasource, not the
        // `hostname`/`fqdn` keys of the config.
        cfg: &Value::Object(Map::new()),
        ..*ctx
    });
    let mut all: Vec<(&str, String)> = vec![
        ("instance_id", ctx.instance.instance_id.clone()),
        ("hostname", names.hostname),
        ("fqdn", names.fqdn),
    ];
    for (key, path) in PUBKEYS {
        match ctx.host.read(path) {
            Ok(bytes) => all.push((key, String::from_utf8_lossy(&bytes).into_owned())),
            Err(_) => log::warn!("{path}: failed to open, can not phone home that data!"),
        }
    }

    // A dict upstream: a key asked twice keeps its first place.
    let mut submit: Vec<(String, String)> = Vec::new();
    for k in post_list {
        if submit.iter().any(|(s, _)| *s == k) {
            continue;
        }
        let value = match all.iter().find(|(n, _)| *n == k) {
            Some((_, v)) => v.clone(),
            None => {
                log::warn!("Requested key {k} from 'post' configuration list not available");
                "N/A".to_string()
            }
        };
        submit.push((k, value));
    }

    let mut params = Map::new();
    params.insert(
        "INSTANCE_ID".into(),
        Value::String(ctx.instance.instance_id.clone()),
    );
    let url = crate::template::render_string(&url, &params).map_err(template_error)?;

    if let Err(e) = post(ctx.host, &url, &submit, tries) {
        log::debug!("phone home to {url}: {e}");
        log::warn!("Failed to post phone home data to {url} in {tries} tries");
    }
    Ok(())
}

/// `util.read_conf(args[0])`: a YAML file on the target; a missing one is
/// an empty config.
fn read_conf(host: &Host, file: &str) -> Result<Value, ModuleError> {
    match host.read_to_string(file) {
        Ok(text) => ci_yaml::load(&text).map_err(|e| ModuleError::new(e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Object(Map::new())),
        Err(e) => Err(ModuleError::with_class(
            "OSError",
            crate::pyerr::os_error_str(&e, file),
        )),
    }
}

/// `"url" in ph_cfg` then `ph_cfg["url"]`, with Python's answers for
/// configs that are not mappings.
fn url_of(ph_cfg: &Value) -> Result<Option<String>, ModuleError> {
    let type_error = |m: String| Err(ModuleError::with_class("TypeError", m));
    match ph_cfg {
        Value::Object(m) => Ok(m.get("url").map(|u| match u {
            Value::String(s) => s.clone(),
            other => py_str(other),
        })),
        Value::String(s) if s.contains("url") => {
            type_error("string indices must be integers, not 'str'".into())
        }
        Value::Array(a) if a.iter().any(|v| v.as_str() == Some("url")) => {
            type_error("list indices must be integers or slices, not str".into())
        }
        Value::String(_) | Value::Array(_) => Ok(None),
        other => type_error(format!(
            "argument of type '{}' is not iterable",
            py_type(other)
        )),
    }
}

/// `post`: `all`, a list of keys, or (as Python iterates it) any other
/// string one character at a time.
fn post_list(v: Option<&Value>) -> Result<Vec<String>, ModuleError> {
    match v {
        None => Ok(POST_LIST_ALL.iter().map(|s| s.to_string()).collect()),
        Some(Value::String(s)) if s == "all" => {
            Ok(POST_LIST_ALL.iter().map(|s| s.to_string()).collect())
        }
        Some(Value::String(s)) => Ok(s.chars().map(String::from).collect()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|it| match it {
                Value::Array(_) | Value::Object(_) => Err(ModuleError::with_class(
                    "TypeError",
                    format!("unhashable type: '{}'", py_type(it)),
                )),
                other => Ok(py_str(other)),
            })
            .collect(),
        Some(Value::Object(m)) => Ok(m.keys().cloned().collect()),
        Some(other) => Err(ModuleError::with_class(
            "TypeError",
            format!("'{}' object is not iterable", py_type(other)),
        )),
    }
}

fn template_error(msg: String) -> ModuleError {
    match msg.strip_prefix('\'').and_then(|m| m.strip_suffix('\'')) {
        Some(key) => ModuleError::with_class("KeyError", key),
        None => ModuleError::with_class("TypeError", msg),
    }
}

/// `application/x-www-form-urlencoded` as Python's `urlencode` writes it.
pub(crate) fn form_encode(pairs: &[(String, String)]) -> String {
    let enc = |s: &str| {
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                    out.push(char::from(b))
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Upstream's `read_file_or_url(url, data=..., retries=tries-1,
/// sec_between=3)`: a file path or `file://` is read (the data cannot be
/// posted there), anything else is requested over HTTP(S).
fn post(host: &Host, url: &str, data: &[(String, String)], tries: i128) -> Result<(), String> {
    let url = url.trim_start();
    let scheme = scheme_of(url);
    if scheme == "file" || url.starts_with('/') {
        let path = if scheme == "file" {
            file_url_path(url)
        } else {
            url.to_string()
        };
        if !data.is_empty() {
            log::warn!("Unable to post data to file resource {path}");
        }
        return host.read(&path).map(|_| ()).map_err(|e| e.to_string());
    }
    if scheme == "ftp" || scheme == "ftps" {
        return Err(format!("{scheme} is not supported for phone_home"));
    }
    if scheme != "http" && scheme != "https" {
        log::warn!("Attempting unknown protocol {scheme}");
    }
    let target = if scheme.is_empty() {
        format!("http://{url}")
    } else {
        url.to_string()
    };
    let h = host.clone();
    let agent = ci_http::agent(&ci_http::AgentOpts {
        user_agent: Some(ci_http::user_agent()),
        env_proxy: true,
        trust: ci_http::Trust::resolving(host.root().display().to_string(), move |p: &str| {
            h.try_resolve(p)
        }),
        ..ci_http::AgentOpts::default()
    });
    // `if data:` upstream: an empty form is a GET.
    let body = (!data.is_empty()).then(|| form_encode(data));
    let manual_tries = if tries - 1 != 0 { tries.max(1) } else { 1 };
    let mut attempt: i128 = 0;
    loop {
        log::debug!(
            "[{attempt}/{manual_tries}] open '{target}' with {} configuration",
            if body.is_some() { "POST" } else { "GET" }
        );
        let outcome = match &body {
            Some(b) => agent
                .post(target.as_str())
                .header("Content-Type", "application/x-www-form-urlencoded")
                .send(b.as_str()),
            None => agent.get(target.as_str()).call(),
        };
        let (err, wait) = match outcome {
            Ok(resp) => {
                let code = resp.status().as_u16();
                if code < 400 {
                    log::debug!("Read from {target} ({code}) after {} attempts", attempt + 1);
                    return Ok(());
                }
                let wait = (code == 503).then(|| {
                    log::warn!(
                        "Endpoint returned a 503 error. HTTP endpoint is overloaded. Retrying."
                    );
                    retry_after(
                        resp.headers()
                            .get("Retry-After")
                            .and_then(|v| v.to_str().ok()),
                    )
                });
                (format!("{code} error for url: {target}"), wait)
            }
            Err(e) => {
                let text = ci_http::error_text(&e);
                // Certificate problems do not go away by waiting.
                if text.starts_with("TLS certificate") {
                    return Err(text);
                }
                (text, None)
            }
        };
        log::debug!("{err}");
        // A server that asks to wait is waited for, even past the tries.
        if wait.is_none() && attempt + 1 >= manual_tries {
            return Err(err);
        }
        log::debug!(
            "Please wait {} seconds while we wait to try again",
            SEC_BETWEEN.as_secs()
        );
        std::thread::sleep(wait.unwrap_or(SEC_BETWEEN));
        attempt += 1;
    }
}

/// Seconds from a `Retry-After` header; 1 when absent or not a number.
fn retry_after(v: Option<&str>) -> Duration {
    v.and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|f| f.is_finite() && *f >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(1))
}

/// `urlparse(url).scheme`, lowercased; empty when there is none.
fn scheme_of(url: &str) -> String {
    let Some((s, _)) = url.split_once(':') else {
        return String::new();
    };
    let mut chars = s.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if valid {
        s.to_ascii_lowercase()
    } else {
        String::new()
    }
}

/// The path of a `file:` URL (`file:///a/b` and `file://host/a/b` both
/// name `/a/b`).
fn file_url_path(url: &str) -> String {
    let rest = &url[url.find(':').map_or(0, |i| i + 1)..];
    let path = match rest.strip_prefix("//") {
        Some(r) => &r[r.find('/').unwrap_or(r.len())..],
        None => rest,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    path.to_string()
}

#[cfg(test)]
mod tests;
