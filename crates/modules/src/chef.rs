//! `chef`: prepare chef-client's directories, validation key, `client.rb`
//! (from the target's `chef_client.rb` template, or our rendering of
//! upstream's when the target has none) and `firstboot.json`; install chef
//! (distro packages, gems, or the omnibus script) when it is missing or
//! `force_install` asks, and run its first converge, as upstream does.

use crate::installer as fetch;
use crate::{Ctx, ModResult, ModuleError};
use ci_host::{Cmd, WriteOpts};
use ci_pyval::{cfg_bool, cfg_str, py_str, py_type, translate_bool, truthy};
use serde_json::{Map, Value};
use std::time::Duration;

const CHEF_DIRS: [&str; 6] = [
    "/etc/chef",
    "/var/log/chef",
    "/var/lib/chef",
    "/var/chef/cache",
    "/var/chef/backup",
    "/var/run/chef",
];
const REQUIRED_DIRS: [&str; 1] = ["/etc/chef"];
/// Where older chef layouts kept their cache and backups.
const DIR_MIGRATION: [(&str, &str); 2] = [
    ("/var/cache/chef", "/var/chef/cache"),
    ("/var/backups/chef", "/var/chef/backup"),
];
const OMNIBUS_URL: &str = "https://www.chef.io/chef/install.sh";
const VALIDATION_PEM: &str = "/etc/chef/validation.pem";
const FIRSTBOOT: &str = "/etc/chef/firstboot.json";
const CLIENT_RB: &str = "/etc/chef/client.rb";
const CHEF_EXEC: &str = "/usr/bin/chef-client";
const EXEC_DEFAULT_ARGS: [&str; 5] = ["-d", "-i", "1800", "-s", "20"];
const RUBY_VERSION_DEFAULT: &str = "1.8";

/// `client.rb` settings the user may override, with upstream's defaults.
const TEMPLATE_DEFAULTS: [(&str, Option<&str>); 12] = [
    ("ssl_verify_mode", Some(":verify_none")),
    ("log_level", Some(":info")),
    ("log_location", Some("/var/log/chef/client.log")),
    ("validation_key", Some(VALIDATION_PEM)),
    ("validation_cert", None),
    ("client_key", Some("/etc/chef/client.pem")),
    ("json_attribs", Some(FIRSTBOOT)),
    ("file_cache_path", Some("/var/chef/cache")),
    ("file_backup_path", Some("/var/chef/backup")),
    ("pid_file", Some("/var/run/chef/client.pid")),
    ("show_time", None),
    ("encrypted_data_bag_secret", None),
];
/// Settings that name files: their directories are made before rendering.
const PATH_KEYS: [&str; 7] = [
    "log_location",
    "validation_key",
    "client_key",
    "file_cache_path",
    "json_attribs",
    "pid_file",
    "encrypted_data_bag_secret",
];
/// Settings taken from the config but not defaulted above.
const OTHER_KEYS: [&str; 5] = [
    "server_url",
    "node_name",
    "environment",
    "validation_name",
    "chef_license",
];

pub fn handle(ctx: &Ctx) -> ModResult {
    let Some(ccfg) = ctx.get("chef") else {
        log::debug!(
            "Skipping module named {}, no 'chef' key in configuration",
            ctx.name
        );
        return Ok(());
    };
    if !ccfg.is_object() {
        return Err(ModuleError::with_class(
            "TypeError",
            format!("argument of type '{}' is not iterable", py_type(ccfg)),
        ));
    }
    let mut dirs = cfg_list(ccfg.get("directories")).unwrap_or_default();
    if dirs.is_empty() {
        dirs = CHEF_DIRS.iter().map(|d| d.to_string()).collect();
    }
    for d in dirs.iter().map(String::as_str).chain(REQUIRED_DIRS) {
        ensure_dir(ctx, d)?;
    }
    migrate_dirs(ctx)?;

    let vkey_path = ccfg
        .get("validation_key")
        .map(py_str)
        .unwrap_or_else(|| VALIDATION_PEM.into());
    if let Some(vcert) = ccfg.get("validation_cert").filter(|v| truthy(v)) {
        // "system" keeps the key the image already has.
        if vcert.as_str() != Some("system") {
            ctx.host.write_atomic(
                &vkey_path,
                py_str(vcert).as_bytes(),
                &WriteOpts::mode(0o644),
            )?;
        } else if !ctx.host.resolve(&vkey_path).is_file() {
            log::warn!(
                "chef validation_cert provided as 'system', but validation_key path '{vkey_path}' does not exist."
            );
        }
    }

    let cfg_path = cfg_str(ccfg, "config_path").unwrap_or_else(|| CLIENT_RB.into());
    let params = template_params(&ctx.instance.instance_id, ccfg)?;
    for key in PATH_KEYS {
        if let Some(v) = params.get(key).filter(|v| truthy(v)) {
            let dir = parent(&py_str(v));
            if !dir.is_empty() {
                ensure_dir(ctx, &dir)?;
            }
        }
    }
    let text = render_client_rb(ctx, &params)?;
    ctx.host
        .write_atomic(&cfg_path, text.as_bytes(), &WriteOpts::mode(0o644))?;

    let fb_path = cfg_str(ccfg, "firstboot_path").unwrap_or_else(|| FIRSTBOOT.into());
    if fb_path.is_empty() {
        log::info!("First boot path empty, not writing first boot json file");
    } else {
        let json = firstboot_json(ccfg)?;
        ctx.host.write_atomic(
            &fb_path,
            ci_state::pyjson::dumps(&json, &ci_state::pyjson::COMPACT).as_bytes(),
            &WriteOpts::mode(0o644),
        )?;
    }

    let force = cfg_bool(ccfg, "force_install", false);
    let installed = ctx.host.which_target(CHEF_EXEC).is_some();
    let run = if !installed || force {
        install_chef(ctx, ccfg)?
    } else {
        cfg_bool(ccfg, "exec", false)
    };
    if run {
        run_chef(ctx, ccfg)?;
        if cfg_bool(ccfg, "delete_validation_post_exec", false)
            && ctx.host.resolve(VALIDATION_PEM).is_file()
        {
            ctx.host.remove_file(VALIDATION_PEM)?;
        }
    }
    Ok(())
}

/// `util.get_cfg_option_list`: `None` when absent, empty for `null`, a
/// list as given, anything else as one `str()` item.
fn cfg_list(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::Null => Some(Vec::new()),
        Value::Array(a) => Some(a.iter().map(py_str).collect()),
        other => Some(vec![py_str(other)]),
    }
}

/// `os.path.dirname`.
fn parent(path: &str) -> String {
    match path.rfind('/') {
        None => String::new(),
        Some(i) => {
            let head = &path[..=i];
            let trimmed = head.trim_end_matches('/');
            if trimmed.is_empty() {
                head.to_string()
            } else {
                trimmed.to_string()
            }
        }
    }
}

/// `util.ensure_dir(path)`: made with the default mode when missing.
fn ensure_dir(ctx: &Ctx, path: &str) -> ModResult {
    if !ctx.host.is_dir(path) {
        ctx.host.create_dir_all(path, 0o755)?;
    }
    Ok(())
}

/// Files of the old cache and backup directories move to the new ones,
/// unless a file of that name is already there.
fn migrate_dirs(ctx: &Ctx) -> ModResult {
    for (old, new) in DIR_MIGRATION {
        if !ctx.host.exists(old) {
            continue;
        }
        for name in ctx.host.list_dir(old) {
            let from = format!("{old}/{name}");
            let to = format!("{new}/{name}");
            if ctx.host.exists(&to) {
                log::debug!("Ignoring migration of {from}. File already exists in {new}.");
                continue;
            }
            log::debug!("Moving {from} to {new}.");
            // `shutil.move` into a directory keeps the name; onto a path
            // that is no directory it renames.
            let dest = if ctx.host.is_dir(new) {
                to
            } else {
                new.to_string()
            };
            ctx.host.rename(&from, &dest)?;
        }
    }
    Ok(())
}

/// Upstream's `get_template_params`: the defaults, the user's values for
/// known keys (`str()` of them, booleans for `show_time`, `None` kept),
/// then node name, environment, server URL and validation name.
fn template_params(iid: &str, ccfg: &Value) -> Result<Map<String, Value>, ModuleError> {
    let mut params = Map::new();
    for (k, v) in TEMPLATE_DEFAULTS {
        let v = match (k, v) {
            ("show_time", _) => Value::Bool(true),
            (_, Some(s)) => Value::String(s.to_string()),
            (_, None) => Value::Null,
        };
        params.insert(k.to_string(), v);
    }
    let known = |k: &str| TEMPLATE_DEFAULTS.iter().any(|(d, _)| *d == k) || OTHER_KEYS.contains(&k);
    if let Some(map) = ccfg.as_object() {
        for (k, v) in map {
            if !known(k) {
                log::debug!("Skipping unknown chef template key '{k}'");
                continue;
            }
            let value = match v {
                Value::Null => Value::Null,
                _ if k == "show_time" => Value::Bool(translate_bool(v, &[])),
                _ => Value::String(py_str(v)),
            };
            params.insert(k.clone(), value);
        }
    }
    let required = |key: &str| {
        ccfg.get(key)
            .cloned()
            .ok_or_else(|| ModuleError::with_class("KeyError", format!("'{key}'")))
    };
    params.insert(
        "node_name".into(),
        Value::String(cfg_str(ccfg, "node_name").unwrap_or_else(|| iid.to_string())),
    );
    params.insert(
        "environment".into(),
        Value::String(cfg_str(ccfg, "environment").unwrap_or_else(|| "_default".into())),
    );
    params.insert("server_url".into(), required("server_url")?);
    params.insert("validation_name".into(), required("validation_name")?);
    Ok(params)
}

/// `client.rb` from the target's template when it has one; otherwise
/// what upstream's shipped template renders to.
fn render_client_rb(ctx: &Ctx, params: &Map<String, Value>) -> Result<String, ModuleError> {
    let header = format!(
        "# Created by cloud-init v. {} on {}",
        ctx.version,
        ci_state::timefmt::rfc2822(ci_state::timefmt::now_epoch())
    );
    let mut params = params.clone();
    params.insert("generated_by".into(), Value::String(header));
    let tmpl = ctx.paths.templates_dir.join("chef_client.rb.tmpl");
    if ctx.host.resolve(&tmpl).is_file() {
        let text = ctx.host.read_to_string(&tmpl)?;
        return crate::template::render_string(&text, &params).map_err(ModuleError::new);
    }
    Ok(builtin_client_rb(&params))
}

/// The lines of upstream's `chef_client.rb` template, each written when
/// its setting is set: (setting, prefix, quoted).
const LAYOUT: [(&str, &str, bool); 14] = [
    ("chef_license", "chef_license           ", true),
    ("log_level", "log_level              ", false),
    ("ssl_verify_mode", "ssl_verify_mode        ", false),
    ("log_location", "log_location           ", true),
    ("validation_name", "validation_client_name ", true),
    ("validation_cert", "validation_key         ", true),
    ("client_key", "client_key             ", true),
    ("server_url", "chef_server_url        ", true),
    ("environment", "environment            ", true),
    ("node_name", "node_name              ", true),
    ("json_attribs", "json_attribs           ", true),
    ("file_cache_path", "file_cache_path        ", true),
    ("file_backup_path", "file_backup_path       ", true),
    ("pid_file", "pid_file               ", true),
];

fn builtin_client_rb(params: &Map<String, Value>) -> String {
    let get = |k: &str| params.get(k).filter(|v| truthy(v));
    let text = |v: &Value| match v {
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        other => py_str(other),
    };
    let mut out = params.get("generated_by").map(py_str).unwrap_or_default();
    out.push('\n');
    for (key, prefix, quoted) in LAYOUT {
        let Some(v) = get(key) else { continue };
        // A validation certificate means the key file is named.
        let shown = if key == "validation_cert" {
            params.get("validation_key").map(text).unwrap_or_default()
        } else {
            text(v)
        };
        if quoted {
            out.push_str(&format!("{prefix}\"{shown}\"\n"));
        } else {
            out.push_str(&format!("{prefix}{shown}\n"));
        }
    }
    if get("show_time").is_some() {
        out.push_str("Chef::Log::Formatter.show_time = true\n");
    }
    if let Some(v) = get("encrypted_data_bag_secret") {
        out.push_str(&format!("encrypted_data_bag_secret \"{}\"\n", text(v)));
    }
    out.push('\n');
    out
}

/// `run_list` first, then every initial attribute at the top level.
fn firstboot_json(ccfg: &Value) -> Result<Value, ModuleError> {
    let mut json = Map::new();
    if let Some(rl) = ccfg.get("run_list") {
        json.insert("run_list".into(), rl.clone());
    }
    if let Some(attrs) = ccfg.get("initial_attributes") {
        let Some(attrs) = attrs.as_object() else {
            return Err(ModuleError::with_class(
                "AttributeError",
                format!("'{}' object has no attribute 'keys'", py_type(attrs)),
            ));
        };
        for (k, v) in attrs {
            json.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::Object(json))
}

/// Install chef by `install_type`; whether to run it afterwards.
fn install_chef(ctx: &Ctx, ccfg: &Value) -> Result<bool, ModuleError> {
    let install_type = cfg_str(ccfg, "install_type").unwrap_or_else(|| "packages".into());
    let mut run = cfg_bool(ccfg, "exec", false);
    match install_type.as_str() {
        "gems" => {
            let chef_version = cfg_str(ccfg, "version");
            let ruby = cfg_str(ccfg, "ruby_version").unwrap_or_else(|| RUBY_VERSION_DEFAULT.into());
            install_from_gems(ctx, &ruby, chef_version.as_deref())?;
            // Gem installs have always run chef unless told not to.
            run = cfg_bool(ccfg, "exec", true);
        }
        "packages" => crate::pkg::install_packages(ctx, &["chef".to_string()])?,
        "omnibus" => {
            let url = cfg_str(ccfg, "omnibus_url").unwrap_or_else(|| OMNIBUS_URL.into());
            // Upstream reads the retries with a default of 0, which wins
            // over its own default of 5.
            let retries = omnibus_retries(ccfg.get("omnibus_url_retries"))?;
            let args = match cfg_str(ccfg, "omnibus_version") {
                Some(v) => vec!["-v".to_string(), v],
                None => Vec::new(),
            };
            let script = fetch::readurl(&url, retries, Duration::from_secs(1))?;
            fetch::run_blob(ctx, &script, "chef-omnibus-install", &args)?;
        }
        other => {
            log::warn!("Unknown chef install type '{other}'");
            run = false;
        }
    }
    Ok(run)
}

/// `util.get_cfg_option_int`: `int(str(value))`, 0 when absent.
fn omnibus_retries(v: Option<&Value>) -> Result<u32, ModuleError> {
    let Some(v) = v else { return Ok(0) };
    let s = py_str(v);
    let n: i64 = s.trim().parse().map_err(|_| {
        ModuleError::with_class(
            "ValueError",
            format!(
                "invalid literal for int() with base 10: {}",
                ci_pyval::py_quote(&s)
            ),
        )
    })?;
    Ok(u32::try_from(n.max(0)).unwrap_or(u32::MAX))
}

fn ruby_packages(version: &str) -> Vec<String> {
    let mut pkgs = vec![format!("ruby{version}"), format!("ruby{version}-dev")];
    if version == "1.8" {
        pkgs.extend(["libopenssl-ruby1.8".to_string(), "rubygems1.8".to_string()]);
    }
    pkgs
}

fn install_from_gems(ctx: &Ctx, ruby: &str, chef_version: Option<&str>) -> ModResult {
    crate::pkg::install_packages(ctx, &ruby_packages(ruby))?;
    for tool in ["gem", "ruby"] {
        let link = format!("/usr/bin/{tool}");
        if !ctx.host.exists(&link) {
            let dest = format!("/usr/bin/{tool}{ruby}");
            ctx.host.symlink(&dest, &link)?;
        }
    }
    let mut argv = vec!["/usr/bin/gem".to_string(), "install".into(), "chef".into()];
    if let Some(v) = chef_version.filter(|v| !v.is_empty()) {
        argv.push(format!("-v {v}"));
    }
    argv.extend(
        ["--no-ri", "--no-rdoc", "--bindir", "/usr/bin", "-q"]
            .iter()
            .map(|s| s.to_string()),
    );
    crate::pkg::run_uncaptured(ctx, &Cmd::new(argv).in_target())
}

/// chef-client with `exec_arguments` (a list, or one string as a single
/// argument) or upstream's daemon defaults.
fn run_chef(ctx: &Ctx, ccfg: &Value) -> ModResult {
    log::debug!("Running chef-client");
    let mut argv = vec![CHEF_EXEC.to_string()];
    let defaults = || EXEC_DEFAULT_ARGS.iter().map(|s| s.to_string());
    match ccfg.get("exec_arguments") {
        None => argv.extend(defaults()),
        Some(Value::Array(a)) => argv.extend(a.iter().map(py_str)),
        Some(Value::String(s)) => argv.push(s.clone()),
        Some(other) => {
            log::warn!(
                "Unknown type <class '{}'> provided for chef 'exec_arguments' expected list, tuple, or string",
                py_type(other)
            );
            argv.extend(defaults());
        }
    }
    crate::pkg::run_uncaptured(ctx, &Cmd::new(argv).in_target())
}

#[cfg(test)]
mod tests;
