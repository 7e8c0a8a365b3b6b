//! `ubuntu_pro` (formerly `ubuntu_advantage`): attach the machine to an
//! Ubuntu Pro contract with the `pro` client and enable services. Proxy
//! settings go through `pro config set/unset` first. On Pro cloud images
//! the client's auto-attach decides instead of the token.
//!
//! The token and the configured proxy values are secrets: they never reach
//! a log line or an error text (shown as `REDACTED`).

use crate::subp::{missing_program, not_started, run as run_cmd, shown_list, ExecError};
use crate::{Ctx, ModResult, ModuleError};
use ci_host::Cmd;
use ci_pyval::{py_str, py_type, truthy};
use serde_json::{Map, Value};

const DEPRECATED_KEYS: [&str; 2] = ["ubuntu-advantage", "ubuntu_advantage"];
const REDACTED: &str = "REDACTED";
const KNOWN_CONFIG_PROPS: [&str; 6] = [
    "http_proxy",
    "https_proxy",
    "global_apt_http_proxy",
    "global_apt_https_proxy",
    "ua_apt_http_proxy",
    "ua_apt_https_proxy",
];
const SHOULD_AUTO_ATTACH_FAILED: &str =
    "Unable to determine if this is an Ubuntu Pro instance. Fallback to normal Pro attach.";
/// Where the client's Python package lives; upstream imports its API from
/// there, and fails when it is missing.
const UACLIENT_DIRS: [&str; 2] = [
    "/usr/lib/python3/dist-packages/uaclient",
    "/usr/lib/python3/site-packages/uaclient",
];

pub fn handle(ctx: &Ctx) -> ModResult {
    let deprecated: Vec<&str> = DEPRECATED_KEYS
        .iter()
        .copied()
        .filter(|k| ctx.get(k).is_some())
        .collect();
    let mut section: Option<&Value> = None;
    if let Some(first) = deprecated.first() {
        if deprecated.len() > 1 {
            return Err(ModuleError::new(format!(
                "Unable to configure Ubuntu Pro. Multiple deprecated config keys provided: {}",
                deprecated.join(", ")
            )));
        }
        log::warn!(
            "Deprecated configuration key(s) provided: {}. Expected \"ubuntu_pro\"; will attempt to continue.",
            deprecated.join(", ")
        );
        section = ctx.get(first);
    }
    if let Some(pro) = ctx.get("ubuntu_pro") {
        if let Some(first) = deprecated.first() {
            log::warn!("Ignoring deprecated key {first} and preferring ubuntu_pro config");
        }
        section = Some(pro);
    }
    let section = match section {
        None | Some(Value::Null) => {
            log::debug!(
                "Skipping module named {}, no 'ubuntu_pro' configuration found",
                ctx.name
            );
            return Ok(());
        }
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(logged(format!(
                "'ubuntu_pro' should be a dict, not a {}",
                py_type(other)
            )))
        }
    };
    if section.contains_key("commands") {
        return Err(logged(
            "Deprecated configuration \"ubuntu-advantage: commands\" provided. Expected \"token\""
                .into(),
        ));
    }

    maybe_install_tools(ctx)?;
    set_pro_config(ctx, section.get("config"))?;
    validate_features(section)?;
    log::debug!("To discover more log info, please check /var/log/ubuntu-advantage.log");
    if should_auto_attach(ctx, section)? {
        auto_attach(ctx, section)
    } else if section.keys().any(|k| k != "features") {
        attach(ctx, section)
    } else {
        Ok(())
    }
}

/// An error upstream both logs and raises.
fn logged(msg: String) -> ModuleError {
    log::error!("{msg}");
    ModuleError::new(msg)
}

fn maybe_install_tools(ctx: &Ctx) -> ModResult {
    if ctx.host.which_target("pro").is_some() {
        return Ok(());
    }
    if let Err(e) = crate::pkg::update_package_sources(ctx, false) {
        log::warn!("Package update failed");
        return Err(e);
    }
    crate::pkg::install_packages(ctx, &["ubuntu-advantage-tools".to_string()])
        .inspect_err(|_| log::warn!("Failed to install ubuntu-advantage-tools"))
}

fn validate_features(section: &Map<String, Value>) -> ModResult {
    let Some(features) = section.get("features") else {
        return Ok(());
    };
    let Value::Object(features) = features else {
        return Err(logged(format!(
            "'ubuntu_pro.features' should be a dict, not a {}",
            py_type(features)
        )));
    };
    match features.get("disable_auto_attach") {
        None | Some(Value::Bool(_)) => Ok(()),
        Some(other) => Err(logged(format!(
            "'ubuntu_pro.features.disable_auto_attach' should be a bool, not a {}",
            py_type(other)
        ))),
    }
}

/// Upstream's checks of the proxy URLs. Values are never shown: they may
/// carry credentials.
pub(crate) fn validate_config(config: &Map<String, Value>) -> ModResult {
    let mut errors = Vec::new();
    let mut keys: Vec<&String> = config.keys().collect();
    keys.sort();
    for key in keys {
        if !KNOWN_CONFIG_PROPS.contains(&key.as_str()) {
            log::warn!("Not validating unknown ubuntu_pro.config.{key} property");
            continue;
        }
        match &config[key.as_str()] {
            Value::Null => {}
            Value::String(url) => {
                let scheme = url_scheme(url);
                if scheme != "http" && scheme != "https" {
                    errors.push(format!(
                        "Expected URL scheme http/https for ua:config:{key}"
                    ));
                }
            }
            _ => errors.push(format!("Expected a URL for ua:config:{key}")),
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(ModuleError::with_class(
        "ValueError",
        format!("Invalid ubuntu_pro configuration:\n{}", errors.join("\n")),
    ))
}

/// The scheme Python's `urlparse` finds: the text before the first `:`
/// when it starts with a letter and holds only letters, digits, `+-.`.
pub(crate) fn url_scheme(url: &str) -> String {
    let url = url.trim_start_matches(|c: char| c <= ' ');
    let Some(i) = url.find(':') else {
        return String::new();
    };
    let head = &url[..i];
    let ok = head.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && head
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if ok {
        head.to_ascii_lowercase()
    } else {
        String::new()
    }
}

/// Python's `re.escape`: a backslash before every character special in a
/// pattern (and whitespace).
pub(crate) fn re_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\u{b}\u{c}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn set_pro_config(ctx: &Ctx, config: Option<&Value>) -> ModResult {
    let config = match config {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(ModuleError::new(format!(
            "ubuntu_pro: config should be a dict, not a {}; skipping enabling config parameters",
            py_type(other)
        )))
        }
    };
    validate_config(config)?;
    let mut keys: Vec<&String> = config.keys().collect();
    keys.sort();
    let mut failures: Vec<(String, String)> = Vec::new();
    for key in keys {
        let value = &config[key.as_str()];
        let (argv, secret) = match value {
            Value::Null => {
                log::debug!("Disabling Pro config for {key}");
                (
                    vec!["pro".into(), "config".into(), "unset".into(), key.clone()],
                    None,
                )
            }
            Value::String(v) => {
                log::debug!("Enabling Pro config {key}={REDACTED}");
                let v2 = if v.chars().any(char::is_whitespace) {
                    re_escape(v)
                } else {
                    v.clone()
                };
                let argv = vec![
                    "pro".into(),
                    "config".into(),
                    "set".into(),
                    format!("{key}={v2}"),
                ];
                (argv, Some(v.as_str()))
            }
            other => {
                return Err(ModuleError::with_class(
                    "TypeError",
                    format!(
                        "expected string or bytes-like object, got '{}'",
                        py_type(other)
                    ),
                ))
            }
        };
        let shown = secret.map(|_| format!("pro config set {key}={REDACTED}"));
        if let Err(e) = pro(ctx, &argv, shown, &[0]) {
            let text = match secret {
                Some(v) if !v.is_empty() => e.text.replace(v, REDACTED),
                _ => e.text,
            };
            failures.push((key.clone(), text));
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    for (key, err) in &failures {
        log::warn!("Failure enabling/disabling \"{key}\":\n{err}");
    }
    let names: Vec<String> = failures.iter().map(|(k, _)| format!("\"{k}\"")).collect();
    Err(ModuleError::new(format!(
        "Failure enabling/disabling Ubuntu Pro config(s): {}",
        names.join(", ")
    )))
}

/// Runs `argv` in the target; `shown`, when given, is what the log shows
/// instead of the command line.
fn pro(
    ctx: &Ctx,
    argv: &[String],
    shown: Option<String>,
    rcs: &[i32],
) -> Result<ci_host::CmdOutput, ExecError> {
    let listed = shown_list(argv);
    let prog = argv.first().map(String::as_str).unwrap_or_default();
    if ctx.host.which_target(prog).is_none() {
        return Err(not_started(&listed, &missing_program(prog)));
    }
    let mut cmd = Cmd::new(argv.iter().cloned()).in_target();
    if let Some(s) = shown {
        cmd = cmd.redact(s);
    }
    run_cmd(ctx.host, &cmd, &listed, rcs)
}

/// Whether the client's auto-attach should be used. Upstream asks the
/// client's Python API; without the client's package installed that import
/// fails the module, which ours mirrors. With it, the same API answers
/// through `pro api`.
fn should_auto_attach(ctx: &Ctx, section: &Map<String, Value>) -> Result<bool, ModuleError> {
    let disabled = section
        .get("features")
        .and_then(|f| f.get("disable_auto_attach"))
        .is_some_and(truthy);
    if disabled {
        return Ok(false);
    }
    if !UACLIENT_DIRS.iter().any(|d| ctx.host.is_dir(d)) {
        return Err(ModuleError::with_class(
            "ModuleNotFoundError",
            "No module named 'uaclient'",
        ));
    }
    log::debug!("Checking if the instance can be attached to Ubuntu Pro");
    match pro_api(ctx, "u.pro.attach.auto.should_auto_attach.v1", None) {
        Ok(data) => Ok(data
            .pointer("/attributes/should_auto_attach")
            .is_some_and(truthy)),
        Err(ApiError { message, .. }) => {
            log::debug!("Error during `should_auto_attach`: {message}");
            log::warn!("{SHOULD_AUTO_ATTACH_FAILED}");
            Ok(false)
        }
    }
}

struct ApiError {
    code: String,
    message: String,
}

/// `pro api ENDPOINT [--data JSON]`: the endpoint's `data` on success, the
/// first error otherwise.
fn pro_api(ctx: &Ctx, endpoint: &str, data: Option<String>) -> Result<Value, ApiError> {
    let mut argv: Vec<String> = vec!["pro".into(), "api".into(), endpoint.into()];
    if let Some(d) = data {
        argv.push("--data".into());
        argv.push(d);
    }
    let out = pro(ctx, &argv, None, &[0, 1]).map_err(|e| ApiError {
        code: String::new(),
        message: e.text,
    })?;
    let resp: Value = serde_json::from_slice(&out.stdout).map_err(|e| ApiError {
        code: String::new(),
        message: format!("invalid response from pro api: {e}"),
    })?;
    if resp.get("result").and_then(Value::as_str) == Some("success") {
        return Ok(resp.get("data").cloned().unwrap_or(Value::Null));
    }
    let first = resp
        .get("errors")
        .and_then(Value::as_array)
        .and_then(|a| a.first());
    Err(ApiError {
        code: first
            .and_then(|e| e.get("code"))
            .map(py_str)
            .unwrap_or_default(),
        message: first
            .and_then(|e| e.get("title"))
            .map(py_str)
            .unwrap_or_default(),
    })
}

fn auto_attach(ctx: &Ctx, section: &Map<String, Value>) -> ModResult {
    let enable = section.get("enable");
    let enable_beta = section.get("enable_beta");
    let options = serde_json::json!({
        "enable": enable.cloned().unwrap_or(Value::Null),
        "enable_beta": enable_beta.cloned().unwrap_or(Value::Null),
    });
    log::debug!("Attaching to Ubuntu Pro");
    match pro_api(
        ctx,
        "u.pro.attach.auto.full_auto_attach.v1",
        Some(options.to_string()),
    ) {
        Ok(_) => Ok(()),
        Err(e) if e.code == "already-attached" => {
            let given = |v: Option<&Value>| v.is_some_and(|v| !v.is_null());
            if given(enable) || given(enable_beta) {
                log::warn!(
                    "The instance is already attached to Pro. Leaving enabled services untouched. Ignoring config directives ubuntu_pro: enable and enable_beta"
                );
            }
            Ok(())
        }
        Err(e) => Err(logged(format!(
            "Error during `full_auto_attach`: {}",
            e.message
        ))),
    }
}

fn attach(ctx: &Ctx, section: &Map<String, Value>) -> ModResult {
    let token = match section.get("token") {
        Some(t) if truthy(t) => py_str(t),
        _ => {
            return Err(logged(
                "`ubuntu_pro.token` required in non-Pro Ubuntu instances.".into(),
            ))
        }
    };
    if let Some(beta) = section.get("enable_beta").filter(|b| truthy(b)) {
        log::debug!(
            "Ignoring `ubuntu_pro.enable_beta` services in Pro attach: {}",
            joined(beta).join(", ")
        );
    }
    configure_pro(ctx, &token, section.get("enable"))
}

/// What Python's `", ".join(value)` iterates over.
fn joined(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().map(py_str).collect(),
        Value::Object(m) => m.keys().cloned().collect(),
        Value::String(s) => s.chars().map(String::from).collect(),
        other => vec![py_str(other)],
    }
}

fn configure_pro(ctx: &Ctx, token: &str, enable: Option<&Value>) -> ModResult {
    let services: Vec<String> = match enable {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => {
            log::warn!(
                "ubuntu_pro: enable should be a list, not a string; treating as a single enable"
            );
            vec![s.clone()]
        }
        Some(Value::Array(a)) => a.iter().map(py_str).collect(),
        Some(other) => {
            log::warn!(
                "ubuntu_pro: enable should be a list, not a {}; skipping enabling services",
                py_type(other)
            );
            Vec::new()
        }
    };
    let mut argv: Vec<String> = vec!["pro".into(), "attach".into()];
    if !services.is_empty() {
        argv.push("--no-auto-enable".into());
    }
    let mut redacted = argv.clone();
    redacted.push(REDACTED.into());
    argv.push(token.to_string());
    log::debug!("Attaching to Ubuntu Pro. {}", redacted.join(" "));
    // Exit 2: already attached.
    if let Err(e) = pro(ctx, &argv, Some(redacted.join(" ")), &[0, 2]) {
        let msg = format!(
            "Failure attaching Ubuntu Pro:\n{}",
            e.text.replace(token, REDACTED)
        );
        log::warn!("{msg}");
        return Err(ModuleError::new(msg));
    }
    if services.is_empty() {
        return Ok(());
    }
    let mut argv: Vec<String> = ["pro", "enable", "--assume-yes", "--format", "json"]
        .map(String::from)
        .to_vec();
    argv.extend(services.iter().cloned());
    let out = pro(ctx, &argv, None, &[0, 1]).map_err(|_| {
        ModuleError::new(format!(
            "Error while enabling service(s): {}",
            services.join(", ")
        ))
    })?;
    let stdout = out.stdout_str();
    let resp: Value = serde_json::from_str(&stdout)
        .map_err(|_| ModuleError::new(format!("Pro response was not json: {stdout}")))?;
    let mut failed_services = Vec::new();
    let mut failures = 0;
    let errors = resp.get("errors").and_then(Value::as_array);
    for err in errors.into_iter().flatten() {
        let code = err
            .get("message_code")
            .ok_or_else(|| ModuleError::with_class("KeyError", "'message_code'"))?;
        let service = err.get("service").filter(|s| !s.is_null());
        if code.as_str() == Some("service-already-enabled") {
            let name = service.map_or_else(|| "None".into(), py_str);
            log::debug!("Service `{name}` already enabled.");
            continue;
        }
        failures += 1;
        let message = err.get("message").map(py_str).unwrap_or_default();
        match service {
            Some(s) => {
                failed_services.push(py_str(s));
                log::warn!("Failure enabling `{}`: {message}", py_str(s));
            }
            None => {
                let kind = err.get("type").map(py_str).unwrap_or_default();
                log::warn!("Failure of type `{kind}`: {message}");
            }
        }
    }
    if failures > 0 {
        return Err(ModuleError::new(format!(
            "Failure enabling Ubuntu Pro service(s): {}",
            failed_services.join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
