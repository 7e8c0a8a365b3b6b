//! `rsyslog`: write rsyslog drop-ins from `rsyslog.configs` and
//! `rsyslog.remotes`, then have the service reload them. On the BSDs the
//! rsyslog service is enabled and the base system's syslogd is turned off.

// `install_hotplug` still names the shared runner through this module.
use crate::subp;

use crate::{Ctx, ModResult, ModuleError};
use ci_distro::{Family, ServiceAction};
use ci_host::WriteOpts;
use ci_pyval::{py_str, py_type};
use serde_json::{Map, Value};
use std::path::Path;

const CONFIG_FILENAME: &str = "20-cloud-config.conf";

pub fn handle(ctx: &Ctx) -> ModResult {
    let Some(raw) = ctx.get("rsyslog") else {
        log::debug!(
            "Skipping module named {}, no 'rsyslog' key in configuration",
            ctx.name
        );
        return Ok(());
    };
    let cfg = load_config(ctx, raw)?;
    let mut configs = cfg.configs.clone();
    if let Some(text) = remotes_to_rsyslog_cfg(&cfg.remotes)? {
        configs.push(Value::String(text));
    }
    let service = ctx
        .distro
        .option("rsyslog_svcname")
        .map(py_str)
        .unwrap_or_else(|| "rsyslog".into());
    if cfg.install_rsyslog {
        install_rsyslog(ctx, &cfg)?;
    }
    if ctx.distro.is_bsd() {
        bsd_switch_syslog(ctx, &service)?;
    }
    if configs.is_empty() {
        log::debug!("Empty config rsyslog['configs'], nothing to do");
        return Ok(());
    }
    let changes = apply_rsyslog_changes(ctx, &configs, &cfg.config_filename, &cfg.config_dir)?;
    if changes.is_empty() {
        log::debug!("restart of syslog not necessary, no changes made");
        return Ok(());
    }
    match reload_syslog(ctx, &cfg.reload, &service) {
        Ok(()) => log::debug!(
            "{} configured {} files",
            ctx.name,
            ci_pyval::py_list(&changes)
        ),
        Err(e) => log::warn!("Failed to reload syslog {e}"),
    }
    Ok(())
}

/// `service_reload_command`: `auto` (the distro's try-reload), a single
/// program (upstream hands a string to exec as one program name) or an argv.
#[derive(Debug, Clone, PartialEq)]
enum Reload {
    Auto,
    Program(String),
    Argv(Vec<String>),
}

#[derive(Debug)]
struct RsyslogCfg {
    configs: Vec<Value>,
    config_dir: String,
    config_filename: String,
    remotes: Map<String, Value>,
    reload: Reload,
    check_exe: String,
    packages: Vec<String>,
    install_rsyslog: bool,
}

/// The drop-in directory upstream uses per distro.
fn default_config_dir(ctx: &Ctx) -> &'static str {
    match ctx.distro.family {
        Family::FreeBsd | Family::OpenBsd => "/usr/local/etc/rsyslog.d",
        Family::NetBsd => "/usr/pkg/etc/rsyslog.d",
        _ => "/etc/rsyslog.d",
    }
}

fn default_packages(ctx: &Ctx) -> Vec<String> {
    match ctx.distro.family {
        Family::OpenBsd | Family::NetBsd => vec!["sysutils/rsyslog".into()],
        _ => vec!["rsyslog".into()],
    }
}

/// Python's `<class 'x'>` naming for the type errors below.
fn class_of(v: &Value) -> String {
    format!("<class '{}'>", py_type(v))
}

/// Upstream's `load_config`: the list form becomes `configs`, then every
/// key gets its default or must have the expected type.
fn load_config(ctx: &Ctx, raw: &Value) -> Result<RsyslogCfg, ModuleError> {
    let mycfg: Map<String, Value> = match raw {
        Value::Object(m) => m.clone(),
        Value::Array(list) => {
            crate::ugutil::deprecate("The rsyslog key with value of type 'list'", "22.2", "");
            let mut m = Map::new();
            m.insert("configs".into(), Value::Array(list.clone()));
            if let Some(f) = ctx.get("rsyslog_filename") {
                m.insert("config_filename".into(), f.clone());
            }
            if let Some(d) = ctx.get("rsyslog_dir") {
                m.insert("config_dir".into(), d.clone());
            }
            m
        }
        Value::String(_) => {
            return Err(ModuleError::with_class(
                "TypeError",
                "'str' object does not support item assignment",
            ))
        }
        other => {
            return Err(ModuleError::with_class(
                "TypeError",
                format!("argument of type '{}' is not iterable", py_type(other)),
            ))
        }
    };
    let bad = |key: &str, want: &str, v: &Value| {
        ModuleError::with_class(
            "ValueError",
            format!(
                "Invalid type for key `{key}`. Expected type(s): {want}. Current type: {}",
                class_of(v)
            ),
        )
    };
    let string = |key: &str, default: &str| -> Result<String, ModuleError> {
        match mycfg.get(key) {
            None => Ok(default.to_string()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(bad(key, "<class 'str'>", v)),
        }
    };
    let str_items = |list: &[Value]| list.iter().map(py_str).collect::<Vec<_>>();
    let configs = match mycfg.get("configs") {
        None => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(v) => return Err(bad("configs", "<class 'list'>", v)),
    };
    let config_dir = string("config_dir", default_config_dir(ctx))?;
    let config_filename = string("config_filename", CONFIG_FILENAME)?;
    let remotes = match mycfg.get("remotes") {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(v) => return Err(bad("remotes", "<class 'dict'>", v)),
    };
    let reload = match mycfg.get("service_reload_command") {
        None => Reload::Auto,
        Some(Value::String(s)) if s == "auto" => Reload::Auto,
        Some(Value::String(s)) => Reload::Program(s.clone()),
        Some(Value::Array(a)) => Reload::Argv(str_items(a)),
        Some(v) => {
            return Err(bad(
                "service_reload_command",
                "(<class 'str'>, <class 'list'>)",
                v,
            ))
        }
    };
    let check_exe = string("check_exe", "rsyslogd")?;
    let packages = match mycfg.get("packages") {
        None => default_packages(ctx),
        Some(Value::Array(a)) => str_items(a),
        Some(v) => return Err(bad("packages", "<class 'list'>", v)),
    };
    let install_rsyslog = match mycfg.get("install_rsyslog") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => return Err(bad("install_rsyslog", "<class 'bool'>", v)),
    };
    Ok(RsyslogCfg {
        configs,
        config_dir,
        config_filename,
        remotes,
        reload,
        check_exe,
        packages,
        install_rsyslog,
    })
}

/// Upstream installs the packages only when `check_exe` is not found.
fn install_rsyslog(ctx: &Ctx, cfg: &RsyslogCfg) -> ModResult {
    if ctx.host.which_target(&cfg.check_exe).is_some() {
        return Ok(());
    }
    crate::pkg::install_packages(ctx, &cfg.packages)
}

/// Upstream's BSD steps: enable rsyslog, and when the base syslogd is
/// enabled, disable it, tell rc(8) to reload and stop it.
fn bsd_switch_syslog(ctx: &Ctx, service: &str) -> ModResult {
    let host = ctx.host;
    let run = |argv: Vec<String>| {
        let shown = subp::shown_list(&argv);
        subp::capture(host, &argv, &shown, None, &[0])
    };
    let enable = ctx
        .distro
        .service_cmd(host, ServiceAction::Enable, service, &[]);
    run(enable.argv).map_err(exec_failed)?;
    if ctx.distro.family != Family::FreeBsd {
        // Only FreeBSD's service manager knows `enabled`; upstream's lookup
        // of that action fails elsewhere.
        return Err(ModuleError::with_class("KeyError", "enabled"));
    }
    let svc = |action: &str| vec!["service".to_string(), "syslogd".into(), action.into()];
    if run(svc("enabled")).is_err() {
        return Ok(());
    }
    run(svc("disable")).map_err(exec_failed)?;
    match std::env::var("RC_PID") {
        Ok(pid) => {
            run(vec!["kill".into(), "-SIGALRM".into(), pid]).map_err(exec_failed)?;
        }
        Err(_) => log::warn!("Unable to reload rc(8): no RC_PID in Environment"),
    }
    if run(svc("onestop")).is_ok() {
        log::error!(
            "syslogd is running before cloud-init! Please report this as bug to the porters!"
        );
    }
    Ok(())
}

fn exec_failed(e: subp::ExecError) -> ModuleError {
    ModuleError::with_class("ProcessExecutionError", e.text)
}

/// Upstream's `apply_rsyslog_changes`: each entry goes to its file (the
/// first write to a file truncates it, later ones append); returns the
/// files written, in order.
fn apply_rsyslog_changes(
    ctx: &Ctx,
    configs: &[Value],
    def_fname: &str,
    cfg_dir: &str,
) -> Result<Vec<String>, ModuleError> {
    let mut files: Vec<String> = Vec::new();
    for (pos, ent) in configs.iter().enumerate() {
        let (content, filename) = match ent {
            Value::Object(m) => {
                let Some(content) = m.get("content") else {
                    log::warn!("No 'content' entry in config entry {}", pos + 1);
                    continue;
                };
                let filename = match m.get("filename") {
                    None => def_fname.to_string(),
                    Some(Value::String(s)) => s.clone(),
                    Some(v) => {
                        return Err(ModuleError::with_class(
                            "AttributeError",
                            format!("'{}' object has no attribute 'strip'", py_type(v)),
                        ))
                    }
                };
                (content, filename)
            }
            other => (other, def_fname.to_string()),
        };
        let filename = filename.trim();
        if filename.is_empty() {
            log::warn!("Entry {} has an empty filename", pos + 1);
            continue;
        }
        let path = join(cfg_dir, filename);
        let append = files.contains(&path);
        if !append {
            files.push(path.clone());
        }
        let Value::String(text) = content else {
            // Upstream's write raises on a non-text entry and logs it.
            log::warn!("Failed to write to {path}");
            continue;
        };
        let mut data = text.clone();
        if !data.ends_with('\n') {
            data.push('\n');
        }
        if let Err(e) = write(ctx, &path, data.as_bytes(), append) {
            log::warn!("Failed to write to {path}");
            log::debug!("{e}");
        }
    }
    Ok(files)
}

/// `os.path.join`: an absolute second part replaces the first.
fn join(dir: &str, name: &str) -> String {
    if name.starts_with('/') || dir.is_empty() {
        name.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Upstream's `util.write_file` (mode 0644, parents created, links followed).
fn write(ctx: &Ctx, path: &str, data: &[u8], append: bool) -> std::io::Result<()> {
    let host = ctx.host;
    if let Some(parent) = Path::new(path).parent() {
        host.create_dir_all(parent, 0o755)?;
    }
    let real = host.canonical(path)?;
    if append {
        host.append(&real, data, &WriteOpts::mode(0o644))?;
        host.set_mode(&real, 0o644)
    } else {
        host.write_atomic(&real, data, &WriteOpts::mode(0o644))
    }
}

fn reload_syslog(ctx: &Ctx, reload: &Reload, service: &str) -> Result<(), subp::ExecError> {
    let (argv, shown) = match reload {
        Reload::Auto => {
            let argv = try_reload_cmd(ctx, service);
            let shown = subp::shown_list(&argv);
            (argv, shown)
        }
        Reload::Program(p) => (vec![p.clone()], p.clone()),
        Reload::Argv(a) => (a.clone(), subp::shown_list(a)),
    };
    subp::capture(ctx.host, &argv, &shown, None, &[0]).map(|_| ())
}

/// The distro's `manage_service("try-reload", ...)`: systemd reloads or
/// restarts a running unit; every other init system restarts.
fn try_reload_cmd(ctx: &Ctx, service: &str) -> Vec<String> {
    let systemd = ctx.distro.family == Family::Arch
        || (!ctx.distro.is_bsd() && ctx.distro.uses_systemd(ctx.host));
    if systemd {
        return vec![
            "systemctl".into(),
            "reload-or-try-restart".into(),
            service.into(),
        ];
    }
    ctx.distro
        .service_cmd(ctx.host, ServiceAction::Reload, service, &[])
        .argv
}

/// Upstream's `remotes_to_rsyslog_cfg`: one line per remote between the
/// begin/end markers; a remote that does not parse is warned about.
fn remotes_to_rsyslog_cfg(remotes: &Map<String, Value>) -> Result<Option<String>, ModuleError> {
    if remotes.is_empty() {
        return Ok(None);
    }
    let mut lines = vec!["# begin remotes".to_string()];
    for (name, line) in remotes {
        if !ci_pyval::truthy(line) {
            continue;
        }
        let Value::String(text) = line else {
            return Err(ModuleError::with_class(
                "TypeError",
                format!(
                    "expected string or bytes-like object, got '{}'",
                    py_type(line)
                ),
            ));
        };
        match parse_remotes_line(text, Some(name))? {
            Ok(remote) => lines.push(remote.to_string()),
            Err(e) => log::warn!("failed loading remote {name}: {text} [{e}]"),
        }
    }
    lines.push("# end remotes".into());
    Ok(Some(lines.join("\n") + "\n"))
}

/// One parsed remote: `[match] [@|@@]host[:port] [# name]`.
#[derive(Debug, Clone, PartialEq)]
struct Remote {
    name: Option<String>,
    selector: String,
    tcp: bool,
    addr: String,
    port: Option<u64>,
}

impl std::fmt::Display for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.tcp { "@@" } else { "@" };
        write!(f, "{} {at}", self.selector)?;
        if self.addr.contains(':') {
            write!(f, "[{}]", self.addr)?;
        } else {
            f.write_str(&self.addr)?;
        }
        if let Some(p) = self.port.filter(|p| *p != 0) {
            write!(f, ":{p}")?;
        }
        if let Some(n) = self.name.as_deref().filter(|n| !n.is_empty()) {
            write!(f, " # {n}")?;
        }
        Ok(())
    }
}

/// Upstream's `parse_remotes_line`. The outer error is a failure upstream
/// does not catch; the inner one is its `ValueError` text.
fn parse_remotes_line(
    line: &str,
    name: Option<&str>,
) -> Result<Result<Remote, String>, ModuleError> {
    let (data, comment) = split_comment(line);
    let toks: Vec<&str> = data.split_whitespace().collect();
    let (selector, host_port) = match toks.as_slice() {
        [_] => (None, data),
        [m, hp] => (Some(m.to_string()), *hp),
        _ => return Ok(Err(format!("line had multiple spaces: {data}"))),
    };
    let Some(spec) = parse_host_port(host_port) else {
        return Ok(Err(format!("Invalid host specification '{host_port}'")));
    };
    let Some(addr) = spec.addr else {
        return Err(ModuleError::with_class(
            "AttributeError",
            "'NoneType' object has no attribute 'startswith'",
        ));
    };
    if addr.starts_with('[') && !addr.ends_with(']') {
        return Ok(Err(format!("host spec had invalid brackets: {addr}")));
    }
    let port = match spec.port {
        // Digits only, so this fails only on absurd lengths.
        Some(p) => match p.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => return Ok(Err(format!("port '{p}' is not an integer"))),
        },
        None => None,
    };
    if addr.is_empty() {
        return Ok(Err("address is required".into()));
    }
    let name = match name.filter(|n| !n.is_empty()) {
        Some(n) => Some(n.to_string()),
        None => comment.filter(|c| !c.is_empty()),
    };
    Ok(Ok(Remote {
        name,
        selector: selector
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "*.*".into()),
        tcp: spec.proto == "@@",
        addr,
        port,
    }))
}

/// `re.split(r"[ ]*[#]+[ ]*", line)` into exactly two parts, else the line
/// as it is with no comment.
fn split_comment(line: &str) -> (&str, Option<String>) {
    let Some(hash) = line.find('#') else {
        return (line, None);
    };
    let run_end = hash + line[hash..].find(|c| c != '#').unwrap_or(line.len() - hash);
    let rest = line[run_end..].trim_start_matches(' ');
    if rest.contains('#') {
        return (line, None);
    }
    let data = line[..hash].trim_end_matches(' ');
    (data, Some(rest.trim().to_string()))
}

struct HostPort {
    proto: String,
    addr: Option<String>,
    port: Option<String>,
}

/// The host specification regex of upstream: up to two `@`, then either
/// `[address]` or an address without `:`, then an optional `:port`.
fn parse_host_port(s: &str) -> Option<HostPort> {
    let n_at = s.chars().take_while(|c| *c == '@').count().min(2);
    let (proto, rest) = s.split_at(n_at);
    let port_tail = |tail: &str| -> Option<Option<String>> {
        if tail.is_empty() || tail == "\n" {
            return Some(None);
        }
        let digits = tail.strip_prefix(':')?;
        let digits = digits.strip_suffix('\n').unwrap_or(digits);
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Some(digits.to_string()))
    };
    if let Some(inner) = rest.strip_prefix('[') {
        if let Some(close) = inner.find(']') {
            if let Some(port) = port_tail(&inner[close + 1..]) {
                let bracket = &inner[..close];
                return Some(HostPort {
                    proto: proto.into(),
                    // `addr or bracket_addr`: an empty bracket stays empty.
                    addr: Some(bracket.to_string()),
                    port,
                });
            }
        }
    }
    let end = rest.find(':').unwrap_or(rest.len());
    let port = port_tail(&rest[end..])?;
    let addr = &rest[..end];
    Some(HostPort {
        proto: proto.into(),
        // An empty plain address falls back to the (absent) bracket one.
        addr: (!addr.is_empty()).then(|| addr.to_string()),
        port,
    })
}

#[cfg(test)]
mod tests;
