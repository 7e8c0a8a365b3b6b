//! `ntp`: pick the distro's NTP client (or the one asked for), write its
//! configuration from the target's template or our built-in layout,
//! install it when missing, and (re)start its service.

mod clients;
mod layout;

use crate::pkg;
use crate::template::render_string;
use crate::{Ctx, ModResult, ModuleError};
use ci_distro::ServiceAction;
use ci_host::WriteOpts;
use ci_pyval::{is_false, py_repr, py_str, py_type, truthy};
use serde_json::{Map, Value};

/// How many default pool (or server) names upstream generates.
const NR_POOL_SERVERS: usize = 4;

const REQUIRED_KEYS: [&str; 4] = ["check_exe", "confpath", "packages", "service_name"];

pub fn handle(ctx: &Ctx) -> ModResult {
    let Some(ntp_cfg) = ctx.get("ntp") else {
        log::debug!(
            "Skipping module named {}, not present or disabled by cfg",
            ctx.name
        );
        return Ok(());
    };
    // An empty `ntp:` still selects and installs the client.
    let empty = Value::Object(Map::new());
    let ntp_cfg = if ntp_cfg.is_null() { &empty } else { ntp_cfg };
    if !ntp_cfg.is_object() {
        return Err(ModuleError::new(format!(
            "'ntp' key existed in config, but not a dictionary type, is a {} instead",
            py_type(ntp_cfg)
        )));
    }
    let enabled = ntp_cfg.get("enabled").cloned().unwrap_or(Value::Bool(true));
    if is_false(&enabled) {
        log::debug!("Skipping module named {}, disabled by cfg", ctx.name);
        return Ok(());
    }

    let selected = select_client(ctx, ntp_cfg.get("ntp_client"));
    let client = clients::merge_user(ntp_cfg.get("config").unwrap_or(&Value::Null), &selected);
    validate(&client)?;
    let confpath = client.get("confpath").map(py_str).unwrap_or_default();
    rename_existing(ctx, &confpath)?;

    let source = template_source(ctx, &client)?;
    let service = client.get("service_name").map(py_str).unwrap_or_default();
    let list = |k: &str| ntp_cfg.get(k).cloned().unwrap_or(Value::Array(Vec::new()));
    log::debug!("service_name: {service}");
    log::debug!("servers: {}", py_repr(&list("servers")));
    log::debug!("pools: {}", py_repr(&list("pools")));
    log::debug!("allow: {}", py_repr(&list("allow")));
    log::debug!("peers: {}", py_repr(&list("peers")));
    let lists = layout::Lists {
        servers: items(ntp_cfg.get("servers")),
        pools: items(ntp_cfg.get("pools")),
        peers: items(ntp_cfg.get("peers")),
        allow: items(ntp_cfg.get("allow")),
    };
    write_config(ctx, &service, lists, &confpath, &source)?;

    install_client(ctx, &client)?;
    manage_services(ctx, &service)
}

/// Upstream's `select_ntp_client`: the user's client, else the distro's
/// configured one, else the first preferred client already installed, else
/// the first preferred one. An unknown name selects an empty config (the
/// user's `config` must then say everything).
fn select_client(ctx: &Ctx, requested: Option<&Value>) -> Map<String, Value> {
    let table = clients::distro_clients(&ctx.distro.name);
    let lookup = |name: &str| match table.get(name) {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    if let Some(req) = requested.filter(|v| truthy(v)) {
        let req = py_str(req);
        if req != "auto" {
            log::debug!("Selected NTP client \"{req}\" via user-data configuration");
            return lookup(&req);
        }
    }
    let from_distro = ctx
        .distro
        .option("ntp_client")
        .map(py_str)
        .unwrap_or_else(|| "auto".into());
    if from_distro != "auto" {
        log::debug!("Selected NTP client \"{from_distro}\" via distro system config");
        return lookup(&from_distro);
    }
    let preferred = clients::preferred(ctx.distro, ctx.host);
    for name in &preferred {
        let cfg = lookup(name);
        let exe = cfg.get("check_exe").map(py_str).unwrap_or_default();
        if !exe.is_empty() && ctx.host.which_target(&exe).is_some() {
            log::debug!("Selected NTP client \"{name}\", already installed");
            return cfg;
        }
    }
    let first = preferred.first().copied().unwrap_or("chrony");
    log::debug!("Selected distro preferred NTP client \"{first}\", not yet installed");
    lookup(first)
}

/// Upstream's `supplemental_schema_validation`, with its messages.
fn validate(cfg: &Map<String, Value>) -> ModResult {
    let mut errors = Vec::new();
    let missing: Vec<&str> = REQUIRED_KEYS
        .iter()
        .copied()
        .filter(|k| !cfg.contains_key(*k))
        .collect();
    let set = |k: &str| cfg.get(k).is_some_and(truthy);
    if !missing.is_empty() {
        errors.push(format!(
            "Missing required ntp:config keys: {}",
            missing.join(", ")
        ));
    } else if !set("template") && !set("template_name") {
        errors.push(
            "Either ntp:config:template or ntp:config:template_name values are required".into(),
        );
    }
    let mut keys: Vec<&String> = cfg.keys().collect();
    keys.sort();
    for key in keys {
        let value = &cfg[key.as_str()];
        let keypath = format!("ntp:config:{key}");
        let shown = py_str(value);
        match key.as_str() {
            "confpath" => {
                if !(truthy(value) && value.is_string()) {
                    errors.push(format!(
                        "Expected a config file path {keypath}. Found ({shown})"
                    ));
                }
            }
            "packages" => {
                if !value.is_array() {
                    errors.push(format!(
                        "Expected a list of required package names for {keypath}. Found ({shown})"
                    ));
                }
            }
            "template" | "template_name" if value.is_null() => {}
            _ => {
                if !value.is_string() {
                    errors.push(format!(
                        "Expected a string type for {keypath}. Found ({shown})"
                    ));
                }
            }
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    // Upstream's message holds a literal backslash-n after the colon.
    Err(ModuleError::with_class(
        "ValueError",
        format!("Invalid ntp configuration:\\n{}", errors.join("\n")),
    ))
}

/// Upstream keeps the image's own file as `<confpath>.dist`.
fn rename_existing(ctx: &Ctx, confpath: &str) -> ModResult {
    if ctx.host.exists(confpath) {
        let dist = format!("{confpath}.dist");
        log::debug!("Renaming file {confpath} -> {dist}");
        ctx.host.rename(confpath, &dist)?;
    }
    Ok(())
}

/// Where the configuration's text comes from.
enum Source {
    /// A template (the user's `config.template`, or the target's file),
    /// rendered with upstream's template rules.
    Template { text: String, origin: String },
    /// Our copy of what upstream's shipped template renders to.
    Builtin { name: String, layout: &'static str },
}

fn template_source(ctx: &Ctx, client: &Map<String, Value>) -> Result<Source, ModuleError> {
    if let Some(t) = client.get("template").filter(|v| truthy(v)) {
        // Upstream renders the user's template from a temporary file in
        // root's temporary directory, which it makes when missing; the
        // directory is part of the machine's state, the file is not.
        let tmp_dir = ctx.paths.run_dir.join("tmp");
        if !ctx.host.is_dir(&tmp_dir) {
            ctx.host.create_dir_all(&tmp_dir, 0o755)?;
            ctx.host.set_mode(&tmp_dir, 0o1777)?;
        }
        return Ok(Source::Template {
            text: py_str(t),
            origin: "ntp:config:template".into(),
        });
    }
    let raw = client.get("template_name").map(py_str).unwrap_or_default();
    let name = raw.replace("{distro}", &ctx.distro.name);
    let path = ctx.paths.templates_dir.join(format!("{name}.tmpl"));
    if ctx.host.resolve(&path).is_file() {
        return Ok(Source::Template {
            text: ctx.host.read_to_string(&path)?,
            origin: path.display().to_string(),
        });
    }
    if let Some(layout) = layout::builtin(&name) {
        return Ok(Source::Builtin { name, layout });
    }
    log::warn!(
        "No template found in {} for template named {name}",
        ctx.paths.templates_dir.display()
    );
    Err(ModuleError::new(format!(
        "No template found, not rendering {raw}"
    )))
}

/// Upstream's `generate_server_names`: `N.<distro>.pool.ntp.org`, with SLES
/// using openSUSE's pool and Alpine/EuroLinux the global one.
fn default_names(distro: &str) -> Vec<Value> {
    let pool = match distro {
        "sles" => "opensuse",
        "alpine" | "eurolinux" => "",
        d => d,
    };
    (0..NR_POOL_SERVERS)
        .map(|n| {
            let name = if pool.is_empty() {
                format!("{n}.pool.ntp.org")
            } else {
                format!("{n}.{pool}.pool.ntp.org")
            };
            Value::String(name)
        })
        .collect()
}

/// A list option as the template iterates it: a falsy value is empty, a
/// string iterates its characters (as Python's `for` does), other scalars
/// are one item.
fn items(v: Option<&Value>) -> Vec<Value> {
    match v {
        None => Vec::new(),
        Some(v) if !truthy(v) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(Value::String(s)) => s.chars().map(|c| Value::String(c.into())).collect(),
        Some(Value::Object(m)) => m.keys().map(|k| Value::String(k.clone())).collect(),
        Some(other) => vec![other.clone()],
    }
}

/// Upstream's `write_ntp_config_template`.
fn write_config(
    ctx: &Ctx,
    service: &str,
    mut lists: layout::Lists,
    confpath: &str,
    source: &Source,
) -> ModResult {
    let distro = ctx.distro.name.as_str();
    if lists.servers.is_empty() && lists.pools.is_empty() && distro == "cos" {
        return Ok(());
    }
    if lists.servers.is_empty() && distro == "alpine" && service == "ntpd" {
        // Busybox ntpd knows `server` lines only.
        lists.servers = default_names(distro);
        log::debug!(
            "Adding distro default ntp servers: {}",
            joined(&lists.servers)
        );
    } else if lists.servers.is_empty() && lists.pools.is_empty() {
        lists.pools = default_names(distro);
        log::debug!(
            "Adding distro default ntp pool servers: {}",
            joined(&lists.pools)
        );
    }
    if confpath.is_empty() {
        return Err(ModuleError::with_class(
            "ValueError",
            "Invalid value for path parameter",
        ));
    }
    let content = match source {
        Source::Template { text, origin } => {
            let mut vars = Map::new();
            vars.insert("servers".into(), Value::Array(lists.servers.clone()));
            vars.insert("pools".into(), Value::Array(lists.pools.clone()));
            vars.insert("allow".into(), Value::Array(lists.allow.clone()));
            vars.insert("peers".into(), Value::Array(lists.peers.clone()));
            log::debug!("Rendering content of '{origin}'");
            render_string(text, &vars)
                .map_err(|e| ModuleError::new(format!("Failed to render {origin}: {e}")))?
        }
        Source::Builtin { name, layout } => {
            log::debug!("Rendering the built-in layout of template {name}");
            layout::render(layout, &lists).map_err(ModuleError::new)?
        }
    };
    ctx.host
        .write_atomic(confpath, content.as_bytes(), &WriteOpts::mode(0o644))?;
    Ok(())
}

fn joined(v: &[Value]) -> String {
    v.iter().map(py_str).collect::<Vec<_>>().join(",")
}

/// Upstream's `install_ntp_client`: nothing when `check_exe` is found in the
/// target, else the client's packages through the distro's package manager.
fn install_client(ctx: &Ctx, client: &Map<String, Value>) -> ModResult {
    let exe = client.get("check_exe").map(py_str).unwrap_or_default();
    if ctx.host.which_target(&exe).is_some() {
        return Ok(());
    }
    let pkgs: Vec<String> = match client.get("packages") {
        Some(Value::Array(a)) => a.iter().map(py_str).collect(),
        _ => vec!["ntp".into()],
    };
    pkg::install_packages(ctx, &pkgs)
}

/// Upstream's service handling: on the BSDs the base `ntpd` is stopped and
/// disabled when another client runs, and the client is enabled; then the
/// client's service is reloaded (restarted) everywhere.
fn manage_services(ctx: &Ctx, service: &str) -> ModResult {
    if ctx.distro.is_bsd() {
        if service != "ntpd" {
            if service_action(ctx, ServiceAction::Stop, "ntpd").is_err() {
                log::warn!("Failed to stop base ntpd service");
            }
            if service_action(ctx, ServiceAction::Disable, "ntpd").is_err() {
                log::warn!("Failed to disable base ntpd service");
            }
        }
        if let Err(e) = service_action(ctx, ServiceAction::Enable, service) {
            log::error!("Failed to enable ntp service: {e}");
            return Err(e);
        }
    }
    if let Err(e) = service_action(ctx, ServiceAction::Reload, service) {
        log::error!("Failed to reload/start ntp service: {e}");
        return Err(e);
    }
    Ok(())
}

/// `distro.manage_service`: captured, and a failure is upstream's
/// `ProcessExecutionError`.
fn service_action(ctx: &Ctx, action: ServiceAction, service: &str) -> ModResult {
    let cmd = ctx.distro.service_cmd(ctx.host, action, service, &[]);
    pkg::run_captured(ctx, &cmd)
}

#[cfg(test)]
mod tests;
