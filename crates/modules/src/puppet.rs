//! `puppet`: install the puppet agent (distro packages, or puppetlabs'
//! all-in-one installer script), ask `puppet config print` where its files
//! live, merge `conf` into `puppet.conf` (a `ca_cert` goes to the SSL
//! directory instead), write `csr_attributes.yaml`, and enable, run and
//! start the agent, as upstream's module does.

mod conf;

use crate::installer as fetch;
use crate::{Ctx, ModResult, ModuleError};
use ci_distro::ServiceAction;
use ci_host::{Cmd, WriteOpts};
use ci_pyval::{cfg_bool, cfg_str, py_str, py_type};
use serde_json::Value;
use std::time::Duration;

const AIO_INSTALL_URL: &str =
    "https://raw.githubusercontent.com/puppetlabs/install-puppet/main/install.sh";
/// Tried in this order when no `package_name` is given, for installs and
/// for the service.
const PACKAGE_NAMES: [&str; 2] = ["puppet-agent", "puppet"];
const AIO_BIN: &str = "/opt/puppetlabs/bin/puppet";

pub fn handle(ctx: &Ctx) -> ModResult {
    let Some(pcfg) = ctx.get("puppet") else {
        log::debug!(
            "Skipping module named {}, no 'puppet' configuration found",
            ctx.name
        );
        return Ok(());
    };
    if !pcfg.is_object() {
        return Err(ModuleError::with_class(
            "TypeError",
            format!("argument of type '{}' is not iterable", py_type(pcfg)),
        ));
    }
    let install = cfg_bool(pcfg, "install", true);
    let version = cfg_str(pcfg, "version");
    let collection = cfg_str(pcfg, "collection");
    let install_type = cfg_str(pcfg, "install_type").unwrap_or_else(|| "packages".into());
    let cleanup = cfg_bool(pcfg, "cleanup", true);
    let mut run = cfg_bool(pcfg, "exec", false);
    let start_service = cfg_bool(pcfg, "start_service", true);
    let aio_url = cfg_str(pcfg, "aio_install_url").unwrap_or_else(|| AIO_INSTALL_URL.into());

    // The all-in-one packages live under /opt and run as root; distro
    // packages have their own user and binary on the PATH.
    let aio = install_type == "aio";
    let (user, bin) = if aio {
        ("root", AIO_BIN)
    } else {
        ("puppet", "puppet")
    };
    let package_name = cfg_str(pcfg, "package_name").or_else(|| aio.then(|| "puppet-agent".into()));
    let version_set = version.as_deref().is_some_and(|v| !v.is_empty());

    if !install && version_set {
        log::warn!("Puppet install set to false but version supplied, doing nothing.");
    } else if install {
        log::debug!(
            "Attempting to install puppet {} from {install_type}",
            if version_set {
                version.as_deref().unwrap_or("")
            } else {
                "latest"
            }
        );
        match install_type.as_str() {
            "packages" => install_packages(ctx, package_name.as_deref(), version.as_deref())?,
            "aio" => install_aio(
                ctx,
                &aio_url,
                version.as_deref(),
                collection.as_deref(),
                cleanup,
            )?,
            other => {
                log::warn!("Unknown puppet install type '{other}'");
                run = false;
            }
        }
    }

    // Upstream asks puppet for all three defaults, even those the config
    // sets, and in this order.
    let conf_default = config_value(ctx, bin, "config")?;
    let ssl_default = config_value(ctx, bin, "ssldir")?;
    let csr_default = config_value(ctx, bin, "csr_attributes")?;
    let conf_path = cfg_str(pcfg, "conf_file").unwrap_or(conf_default);
    let ssl_dir = cfg_str(pcfg, "ssl_dir").unwrap_or(ssl_default);
    let csr_path = cfg_str(pcfg, "csr_attributes_path").unwrap_or(csr_default);

    if let Some(sections) = pcfg.get("conf") {
        write_conf(ctx, sections, &conf_path, &ssl_dir, user)?;
    }
    if let Some(attrs) = pcfg.get("csr_attributes") {
        ctx.host.write_atomic(
            &csr_path,
            ci_yaml::dump(attrs).as_bytes(),
            &WriteOpts::mode(0o644),
        )?;
    }
    if start_service {
        manage_services(ctx, ServiceAction::Enable, "enable");
    }
    if run {
        log::debug!("Running puppet-agent");
        let mut argv = vec![bin.to_string(), "agent".into()];
        argv.extend(agent_args(pcfg.get("exec_args")));
        crate::pkg::run_uncaptured(ctx, &Cmd::new(argv).in_target())?;
    }
    if start_service {
        manage_services(ctx, ServiceAction::Start, "start");
    }
    Ok(())
}

/// Distro packages: the configured name, or the first of
/// [`PACKAGE_NAMES`] the package manager can install; a version makes the
/// entry upstream's `[name, version]`.
fn install_packages(ctx: &Ctx, name: Option<&str>, version: Option<&str>) -> ModResult {
    let entry = |n: &str| match version.filter(|v| !v.is_empty()) {
        Some(v) => serde_json::json!([n, v]),
        None => Value::String(n.to_string()),
    };
    if let Some(name) = name {
        return crate::pkg::install_package_list(ctx, &[entry(name)]);
    }
    for candidate in PACKAGE_NAMES {
        match crate::pkg::install_package_list(ctx, &[entry(candidate)]) {
            Ok(()) => return Ok(()),
            Err(e) if e.py_class() == "PackageInstallerError" => {}
            Err(e) => return Err(e),
        }
    }
    log::warn!(
        "No installable puppet package in any of: {}",
        PACKAGE_NAMES.join(", ")
    );
    Ok(())
}

/// puppetlabs' one-shot installer: fetched with 5 retries, run with `-v`,
/// `-c` and `--cleanup` as configured.
fn install_aio(
    ctx: &Ctx,
    url: &str,
    version: Option<&str>,
    collection: Option<&str>,
    cleanup: bool,
) -> ModResult {
    let mut args: Vec<String> = Vec::new();
    if let Some(v) = version {
        args.extend(["-v".into(), v.to_string()]);
    }
    if let Some(c) = collection {
        args.extend(["-c".into(), c.to_string()]);
    }
    if cleanup {
        args.push("--cleanup".into());
    }
    let script = fetch::readurl(url, 5, Duration::from_secs(1))?;
    fetch::run_blob(ctx, &script, "puppet-install", &args)
}

/// `puppet config print SETTING`, its output without trailing blanks; a
/// failure (or a missing puppet) is upstream's `ProcessExecutionError`.
fn config_value(ctx: &Ctx, bin: &str, setting: &str) -> Result<String, ModuleError> {
    let cmd = Cmd::new([bin, "config", "print", setting]).in_target();
    let out = crate::pkg::run_captured_output(ctx, &cmd)?;
    Ok(out.trim_end().to_string())
}

/// Merge `conf` into `puppet.conf`. Upstream moves the file to `.old`
/// and writes the new one after every section it handles, so `.old` ends
/// up holding the state before the last section.
fn write_conf(
    ctx: &Ctx,
    sections: &Value,
    conf_path: &str,
    ssl_dir: &str,
    user: &str,
) -> ModResult {
    let text = ctx
        .host
        .read_to_string(conf_path)
        .map_err(|e| crate::pyerr::os_error(&e, conf_path))?;
    let cleaned: Vec<&str> = text.lines().map(str::trim_start).collect();
    let mut ini = conf::Ini::parse(&cleaned.join("\n"), conf_path)?;
    let Some(sections) = sections.as_object() else {
        return Err(ModuleError::with_class(
            "AttributeError",
            format!("'{}' object has no attribute 'items'", py_type(sections)),
        ));
    };
    for (name, section) in sections {
        if name == "ca_cert" {
            write_ca_cert(ctx, ssl_dir, user, &py_str(section))?;
        } else {
            let Some(items) = section.as_object() else {
                return Err(ModuleError::with_class(
                    "AttributeError",
                    format!("'{}' object has no attribute 'items'", py_type(section)),
                ));
            };
            for (key, value) in items {
                let value = if key == "certname" {
                    expand_certname(ctx, value)?
                } else {
                    py_str(value)
                };
                ini.set(name, key, value)?;
            }
        }
        ctx.host.rename(conf_path, format!("{conf_path}.old"))?;
        ctx.host
            .write_atomic(conf_path, ini.render().as_bytes(), &WriteOpts::mode(0o644))?;
    }
    Ok(())
}

/// `%f` becomes the machine's FQDN, `%i` the instance id, and the name is
/// lowercased, as puppet certificate names must be.
fn expand_certname(ctx: &Ctx, value: &Value) -> Result<String, ModuleError> {
    let Value::String(v) = value else {
        return Err(ModuleError::with_class(
            "AttributeError",
            format!("'{}' object has no attribute 'replace'", py_type(value)),
        ));
    };
    let mut v = v.clone();
    if v.contains("%f") {
        v = v.replace("%f", &fqdn(ctx));
    }
    Ok(v.replace("%i", &ctx.instance.instance_id).to_lowercase())
}

/// Python's `socket.getfqdn()`: the first name with a dot among the
/// canonical name and aliases `/etc/hosts` gives the hostname, else the
/// hostname itself.
fn fqdn(ctx: &Ctx) -> String {
    let name = crate::hostname_util::system_hostname(ctx.host);
    let hosts = ctx.host.read_to_string("/etc/hosts").unwrap_or_default();
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let names: Vec<&str> = line.split_whitespace().skip(1).collect();
        if names.contains(&name.as_str()) {
            if let Some(n) = names.iter().find(|n| n.contains('.')) {
                return n.to_string();
            }
            break;
        }
    }
    name
}

/// The puppetserver's CA certificate, in `<ssl_dir>/certs/ca.pem`, with
/// the directories owned by the puppet user.
fn write_ca_cert(ctx: &Ctx, ssl_dir: &str, user: &str, cert: &str) -> ModResult {
    let host = ctx.host;
    ensure_dir(ctx, ssl_dir, Some(0o771))?;
    let ids = owner_ids(ctx, user)?;
    host.chown(ssl_dir, Some(ids.0), Some(ids.1))?;
    let cert_dir = format!("{ssl_dir}/certs");
    ensure_dir(ctx, &cert_dir, None)?;
    host.chown(&cert_dir, Some(ids.0), Some(ids.1))?;
    let cert_path = format!("{cert_dir}/ca.pem");
    host.write_atomic(&cert_path, cert.as_bytes(), &WriteOpts::mode(0o644))?;
    host.chown(&cert_path, Some(ids.0), Some(ids.1))?;
    Ok(())
}

/// `util.ensure_dir`: created with the default mode when missing, then
/// given `mode` if one is asked for.
fn ensure_dir(ctx: &Ctx, path: &str, mode: Option<u32>) -> ModResult {
    if !ctx.host.is_dir(path) {
        ctx.host.create_dir_all(path, 0o755)?;
    }
    if let Some(m) = mode {
        ctx.host.set_mode(path, m)?;
    }
    Ok(())
}

/// `chownbyname(path, user, "root")`: both names looked up in the target
/// before anything changes, with upstream's error for an unknown one.
fn owner_ids(ctx: &Ctx, user: &str) -> Result<(u32, u32), ModuleError> {
    let uid = match ctx.host.user(user) {
        Some(u) => u.uid,
        None if user == "root" => 0,
        None => {
            return Err(ModuleError::with_class(
                "OSError",
                format!("Unknown user or group: \"getpwnam(): name not found: '{user}'\""),
            ))
        }
    };
    let gid = ctx.host.group("root").map(|g| g.gid).unwrap_or(0);
    Ok((uid, gid))
}

/// `exec_args` as a list or a whitespace-separated string; anything else
/// is warned about and the default `--test` used.
fn agent_args(v: Option<&Value>) -> Vec<String> {
    let default = vec!["--test".to_string()];
    match v {
        None => default,
        Some(Value::Array(items)) => items.iter().map(py_str).collect(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        Some(other) => {
            log::warn!(
                "Unknown type <class '{}'> provided for puppet 'exec_args' expected list, tuple, or string",
                py_type(other)
            );
            default
        }
    }
}

/// `systemctl`/`service` `action` on `puppet-agent.service`, else on
/// `puppet.service`; a warning when neither works.
fn manage_services(ctx: &Ctx, action: ServiceAction, word: &str) {
    for name in PACKAGE_NAMES {
        let service = format!("{name}.service");
        let cmd = ctx.distro.service_cmd(ctx.host, action, &service, &[]);
        if crate::pkg::run_captured(ctx, &cmd).is_ok() {
            return;
        }
    }
    log::warn!(
        "Could not '{word}' any of the following services: {}",
        PACKAGE_NAMES.join(", ")
    );
}

#[cfg(test)]
mod tests;
