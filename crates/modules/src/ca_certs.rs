//! `ca_certs`: add trusted CA certificates to the distro's store, optionally
//! disable or remove the distro's own, then rebuild the store with the
//! distro's tool.

use crate::ugutil::deprecate;
use crate::{Ctx, ModResult, ModuleError};
use ci_host::{Cmd, WriteOpts};
use ci_pyval::{py_str, py_type, truthy};
use serde_json::Value;

/// Where one distro keeps its certificates (upstream's per-distro table).
struct Store {
    /// The system store, emptied by `remove_defaults` on RHEL and Photon.
    ca_cert_path: Option<&'static str>,
    ca_cert_local_path: &'static str,
    /// `{}` is the certificate's number, from 1.
    ca_cert_filename: &'static str,
    /// The file listing the enabled system certificates.
    ca_cert_config: Option<&'static str>,
    update_cmd: &'static str,
}

impl Store {
    fn cert_file(&self, index: usize) -> String {
        let name = self.ca_cert_filename.replace("{}", &index.to_string());
        format!("{}{name}", self.ca_cert_local_path)
    }
}

fn store_for(distro: &str) -> Store {
    match distro {
        "aosc" => Store {
            ca_cert_path: Some("/etc/ssl/certs/"),
            ca_cert_local_path: "/etc/ssl/certs/",
            ca_cert_filename: "cloud-init-ca-cert-{}.pem",
            ca_cert_config: Some("/etc/ca-certificates/conf.d/cloud-init.conf"),
            update_cmd: "update-ca-bundle",
        },
        "fedora" | "rhel" | "almalinux" | "cloudlinux" => Store {
            ca_cert_path: Some("/etc/pki/ca-trust/"),
            ca_cert_local_path: "/usr/share/pki/ca-trust-source/",
            ca_cert_filename: "anchors/cloud-init-ca-cert-{}.crt",
            ca_cert_config: None,
            update_cmd: "update-ca-trust",
        },
        "opensuse"
        | "opensuse-microos"
        | "opensuse-tumbleweed"
        | "opensuse-leap"
        | "sle_hpc"
        | "sle-micro"
        | "sles" => Store {
            ca_cert_path: Some("/etc/pki/trust/"),
            ca_cert_local_path: "/usr/share/pki/trust/",
            ca_cert_filename: "anchors/cloud-init-ca-cert-{}.crt",
            ca_cert_config: None,
            update_cmd: "update-ca-certificates",
        },
        "photon" => Store {
            ca_cert_path: Some("/etc/pki/tls/certs/"),
            ca_cert_local_path: "/etc/ssl/certs/",
            ca_cert_filename: "cloud-init-ca-cert-{}.pem",
            ca_cert_config: None,
            update_cmd: "rehash_ca_certificates.sh",
        },
        // Debian, Ubuntu, Alpine and every distro upstream has no entry for.
        _ => Store {
            ca_cert_path: None,
            ca_cert_local_path: "/usr/local/share/ca-certificates/",
            ca_cert_filename: "cloud-init-ca-cert-{}.crt",
            ca_cert_config: Some("/etc/ca-certificates.conf"),
            update_cmd: "update-ca-certificates",
        },
    }
}

const HEADER: &str = "# Modified by cloud-init to deselect certs due to user-data";

pub fn handle(ctx: &Ctx) -> ModResult {
    let dashed = ctx.get("ca-certs");
    let underscored = ctx.get("ca_certs");
    if dashed.is_some() {
        deprecate("Key 'ca-certs'", "22.1", "Use 'ca_certs' instead.");
    } else if underscored.is_none() {
        log::debug!(
            "Skipping module named {}, no 'ca_certs' key in configuration",
            ctx.name
        );
        return Ok(());
    }
    if dashed.is_some() && underscored.is_some() {
        log::warn!("Found both ca-certs (deprecated) and ca_certs config keys. Ignoring ca-certs.");
    }
    let Some(cfg) = underscored.or(dashed) else {
        return Ok(());
    };
    let cfg = as_mapping(cfg)?;
    let store = store_for(&ctx.distro.name);

    if cfg.contains_key("remove-defaults") {
        deprecate(
            "Key 'remove-defaults'",
            "22.1",
            "Use 'remove_defaults' instead.",
        );
    }
    let remove = cfg
        .get("remove_defaults")
        .or_else(|| cfg.get("remove-defaults"))
        .is_some_and(truthy);
    if remove {
        log::debug!("Disabling/removing default certificates");
        disable_defaults(ctx, &store)?;
    }

    if cfg.contains_key("trusted") {
        let certs = option_list(cfg.get("trusted"));
        if !certs.is_empty() {
            log::debug!("Adding {} certificates", certs.len());
            for (i, cert) in certs.iter().enumerate() {
                ctx.host.write_atomic(
                    store.cert_file(i + 1),
                    cert.as_bytes(),
                    &WriteOpts::mode(0o644),
                )?;
            }
        }
    }

    log::debug!("Updating certificates");
    crate::pkg::run_uncaptured(ctx, &Cmd::new([store.update_cmd]).in_target())
}

/// The module's config must be a mapping; anything else fails where
/// upstream's code does, with Python's error.
fn as_mapping(cfg: &Value) -> Result<&serde_json::Map<String, Value>, ModuleError> {
    match cfg {
        Value::Object(m) => Ok(m),
        Value::String(_) | Value::Array(_) => Err(ModuleError::with_class(
            "AttributeError",
            format!("'{}' object has no attribute 'get'", py_type(cfg)),
        )),
        _ => Err(ModuleError::with_class(
            "TypeError",
            format!("argument of type '{}' is not iterable", py_type(cfg)),
        )),
    }
}

/// Upstream's `get_cfg_option_list`: a list's items, a scalar as one item,
/// null as none.
fn option_list(v: Option<&Value>) -> Vec<String> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().map(py_str).collect(),
        Some(other) => vec![py_str(other)],
    }
}

/// Upstream's `disable_default_ca_certs`: RHEL and Photon delete the system
/// store; Alpine, AOSC, Debian and Ubuntu deselect every listed
/// certificate (Debian and Ubuntu also tell debconf not to trust new ones).
fn disable_defaults(ctx: &Ctx, store: &Store) -> ModResult {
    match ctx.distro.name.as_str() {
        "rhel" | "photon" => remove_store(ctx, store),
        name @ ("alpine" | "aosc" | "debian" | "ubuntu") => {
            deselect_all(ctx, store)?;
            if matches!(name, "debian" | "ubuntu") {
                let cmd = Cmd::new(["debconf-set-selections", "-"])
                    .stdin("ca-certificates ca-certificates/trust_new_crts select no")
                    .in_target();
                crate::pkg::run_captured_tuple(ctx, &cmd)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Prefix every enabled entry of the certificate list with `!`, with
/// upstream's header once before the first one it changes.
fn deselect_all(ctx: &Ctx, store: &Store) -> ModResult {
    let Some(path) = store.ca_cert_config else {
        return Ok(());
    };
    if !ctx.host.exists(path) {
        return Ok(());
    }
    let text = ctx.host.read_to_string(path)?;
    if text.is_empty() {
        return Ok(());
    }
    let mut out: Vec<String> = Vec::new();
    let mut header = false;
    for line in text.lines() {
        if line == HEADER {
            header = true;
            out.push(line.to_string());
        } else if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            out.push(line.to_string());
        } else {
            if !header {
                out.push(HEADER.to_string());
                header = true;
            }
            out.push(format!("!{line}"));
        }
    }
    let content = out.join("\n") + "\n";
    ctx.host
        .write_atomic(path, content.as_bytes(), &WriteOpts::mode(0o644))?;
    Ok(())
}

/// Upstream's `remove_default_ca_certs`: empty the system store and the
/// local one.
fn remove_store(ctx: &Ctx, store: &Store) -> ModResult {
    let Some(system) = store.ca_cert_path else {
        return Ok(());
    };
    log::debug!("Deleting system CA certificates");
    empty_dir(ctx, system)?;
    empty_dir(ctx, store.ca_cert_local_path)
}

/// `util.delete_dir_contents`: a missing directory is an error.
fn empty_dir(ctx: &Ctx, dir: &str) -> ModResult {
    let entries =
        std::fs::read_dir(ctx.host.resolve(dir)).map_err(|e| crate::pyerr::os_error(&e, dir))?;
    for entry in entries.flatten() {
        let target = format!(
            "{}/{}",
            dir.trim_end_matches('/'),
            entry.file_name().to_string_lossy()
        );
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir {
            ctx.host.remove_dir_all(&target)?;
        } else {
            ctx.host.remove_file(&target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
