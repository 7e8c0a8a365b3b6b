//! `salt_minion`: install the Salt minion, write its `minion` and `grains`
//! files and key pair, then run it as a service, or, for a masterless
//! (`file_client: local`) minion, stop the service and apply the states
//! once with `salt-call`.

use crate::{pkg, Ctx, ModResult, ModuleError};
use ci_distro::ServiceAction;
use ci_host::{Cmd, WriteOpts};
use ci_pyval::{py_str, py_type};
use serde_json::{Map, Value};

/// Package, service and configuration directory of the minion.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SaltNames {
    pkg_name: String,
    srv_name: String,
    conf_dir: String,
}

impl SaltNames {
    /// Upstream chooses the FreeBSD names by the system cloud-init runs
    /// on, not by the configured distro; `freebsd` says which it is.
    fn new(cfg: &Map<String, Value>, freebsd: bool) -> Self {
        let (pkg_name, srv_name, conf_dir) = if freebsd {
            ("py-salt", "salt_minion", "/usr/local/etc/salt")
        } else {
            ("salt-minion", "salt-minion", "/etc/salt")
        };
        // `get_cfg_option_str`: a value that is not text is its `str()`.
        let opt = |key: &str, default: &str| cfg.get(key).map_or(default.to_string(), py_str);
        SaltNames {
            pkg_name: opt("pkg_name", pkg_name),
            conf_dir: opt("config_dir", conf_dir),
            srv_name: opt("service_name", srv_name),
        }
    }
}

pub fn handle(ctx: &Ctx) -> ModResult {
    let Some(section) = ctx.get("salt_minion") else {
        log::debug!(
            "Skipping module named {}, no 'salt_minion' key in configuration",
            ctx.name
        );
        return Ok(());
    };
    let s_cfg = section_map(section)?;
    let names = SaltNames::new(&s_cfg, cfg!(target_os = "freebsd"));

    pkg::install_packages(ctx, std::slice::from_ref(&names.pkg_name))?;
    ctx.host.create_dir_all(&names.conf_dir, 0o755)?;

    let minion_data = s_cfg.get("conf");
    if let Some(conf) = minion_data {
        write_yaml(ctx, &join(&names.conf_dir, "minion"), conf)?;
    }
    if let Some(grains) = s_cfg.get("grains") {
        write_yaml(ctx, &join(&names.conf_dir, "grains"), grains)?;
    }
    if let (Some(public), Some(private)) = (s_cfg.get("public_key"), s_cfg.get("private_key")) {
        write_keys(ctx, &names.conf_dir, s_cfg.get("pki_dir"), public, private)?;
    }

    let daemon = !masterless(minion_data)?;
    let (first, second) = if daemon {
        (ServiceAction::Enable, ServiceAction::Restart)
    } else {
        (ServiceAction::Disable, ServiceAction::Stop)
    };
    for action in [first, second] {
        let cmd = ctx
            .distro
            .service_cmd(ctx.host, action, &names.srv_name, &[]);
        pkg::run_captured(ctx, &cmd)?;
    }
    if !daemon {
        // A masterless minion is not left running: its states are applied
        // once, here.
        let cmd = Cmd::new(["salt-call", "--local", "state.apply"]).in_target();
        pkg::run_uncaptured(ctx, &cmd)?;
    }
    Ok(())
}

/// `cfg["salt_minion"]` as the mapping upstream indexes; upstream's
/// membership tests fail on anything that cannot hold keys.
fn section_map(section: &Value) -> Result<Map<String, Value>, ModuleError> {
    match section {
        Value::Object(m) => Ok(m.clone()),
        Value::Null | Value::Bool(_) | Value::Number(_) => Err(ModuleError::with_class(
            "TypeError",
            format!("argument of type '{}' is not iterable", py_type(section)),
        )),
        // Text and lists answer `in` without holding any of the keys, and
        // indexing them with a key fails; upstream gets as far as the
        // package install with its defaults in that case only when none of
        // the key names occurs, which no valid config relies on.
        other => Err(ModuleError::with_class(
            "TypeError",
            format!(
                "{} indices must be integers{}, not str",
                py_type(other),
                if other.is_array() { " or slices" } else { "" }
            ),
        )),
    }
}

/// A masterless minion: `conf` is set and its `file_client` is `local`.
fn masterless(conf: Option<&Value>) -> Result<bool, ModuleError> {
    match conf {
        Some(Value::Object(m)) if !m.is_empty() => {
            Ok(m.get("file_client").and_then(Value::as_str) == Some("local"))
        }
        Some(v) if ci_pyval::truthy(v) => Err(ModuleError::with_class(
            "AttributeError",
            format!("'{}' object has no attribute 'get'", py_type(v)),
        )),
        _ => Ok(false),
    }
}

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

/// `safeyaml.dumps` of the value, written as upstream's `write_file` does.
fn write_yaml(ctx: &Ctx, path: &str, value: &Value) -> ModResult {
    let text = ci_yaml::dumps(value);
    ctx.host
        .write_atomic(path, text.as_bytes(), &WriteOpts::default())
        .map_err(|e| ModuleError::new(crate::pyerr::os_error_str(&e, path)))
}

/// The key pair goes into the pki directory, made private to root when
/// it is created; the key files themselves get `write_file`'s 0644, as
/// upstream leaves them.
fn write_keys(
    ctx: &Ctx,
    conf_dir: &str,
    pki_dir: Option<&Value>,
    public: &Value,
    private: &Value,
) -> ModResult {
    let pki_dir = match pki_dir {
        Some(v) => py_str(v),
        None => {
            let minion = join(conf_dir, "pki/minion");
            if ctx.host.is_dir(&minion) {
                minion
            } else {
                join(conf_dir, "pki")
            }
        }
    };
    ctx.host.create_dir_all(&pki_dir, 0o700)?;
    for (name, key) in [("minion.pub", public), ("minion.pem", private)] {
        let Some(text) = key.as_str() else {
            return Err(ModuleError::with_class(
                "AttributeError",
                format!("'{}' object has no attribute 'encode'", py_type(key)),
            ));
        };
        let path = join(&pki_dir, name);
        ctx.host
            .write_atomic(&path, text.as_bytes(), &WriteOpts::default())
            .map_err(|e| ModuleError::new(crate::pyerr::os_error_str(&e, &path)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
