//! `update_etc_hosts`: `manage_etc_hosts: true` renders `/etc/hosts` from
//! `hosts.<osfamily>.tmpl`; `localhost` only makes sure the local address
//! maps to `fqdn hostname`.

use crate::hostname_util::get_hostname_fqdn;
use crate::template::render_string;
use crate::{Ctx, ModResult, ModuleError};
use ci_distro::Family;
use ci_host::WriteOpts;
use ci_pyval::{py_str, translate_bool};
use serde_json::{Map, Value};

const HOSTS_FN: &str = "/etc/hosts";

pub fn handle(ctx: &Ctx) -> ModResult {
    // Upstream reads the key with `get_cfg_option_str`: `str()` of the value.
    let manage = ctx.get("manage_etc_hosts").map(py_str);
    let wants_template = manage
        .as_ref()
        .is_some_and(|m| translate_bool(&Value::String(m.clone()), &["template"]));
    if wants_template {
        if manage.as_deref() == Some("template") {
            log::warn!(
                target: "deprecated",
                "Value 'template' for key 'manage_etc_hosts' is deprecated in 22.2 and scheduled to be removed in 27.2. Use 'true' instead."
            );
        }
        let hf = get_hostname_fqdn(ctx);
        if hf.hostname.is_empty() {
            log::warn!("Option 'manage_etc_hosts' was set, but no hostname was found");
            return Ok(());
        }
        let family = osfamily(ctx);
        let text = render_hosts(ctx, &family, &hf.hostname, &hf.fqdn)?;
        ctx.host
            .write_atomic(HOSTS_FN, text.as_bytes(), &WriteOpts::mode(0o644))?;
        Ok(())
    } else if manage.as_deref() == Some("localhost") {
        let hf = get_hostname_fqdn(ctx);
        if hf.hostname.is_empty() {
            log::warn!("Option 'manage_etc_hosts' was set, but no hostname was found");
            return Ok(());
        }
        log::debug!("Managing localhost in {HOSTS_FN}");
        update_localhost(ctx, &hf.hostname, &hf.fqdn)
    } else {
        log::debug!(
            "Configuration option 'manage_etc_hosts' is not set, not managing {HOSTS_FN} in module {}",
            ctx.name
        );
        Ok(())
    }
}

/// Upstream's `distro.osfamily`, which names the hosts template.
fn osfamily(ctx: &Ctx) -> String {
    match ctx.distro.name.as_str() {
        "photon" | "mariner" | "azurelinux" | "openeuler" | "aosc" => ctx.distro.name.clone(),
        "OpenCloudOS" | "TencentOS" => "OpenCloudOS".into(),
        _ => match ctx.distro.family {
            Family::Debian => "debian".into(),
            Family::RedHat => "redhat".into(),
            Family::Suse => "suse".into(),
            Family::Arch => "arch".into(),
            Family::Alpine => "alpine".into(),
            Family::Gentoo => "gentoo".into(),
            Family::FreeBsd => "freebsd".into(),
            Family::OpenBsd => "openbsd".into(),
            Family::NetBsd => "netbsd".into(),
            Family::Other => ctx.distro.name.clone(),
        },
    }
}

/// The target's template when installed, else our built-in copy of what
/// upstream's template renders (Debian and Arch share one layout).
fn render_hosts(
    ctx: &Ctx,
    family: &str,
    hostname: &str,
    fqdn: &str,
) -> Result<String, ModuleError> {
    let tpl = ctx.paths.templates_dir.join(format!("hosts.{family}.tmpl"));
    let mut vars = Map::new();
    vars.insert("hostname".into(), Value::String(hostname.into()));
    vars.insert("fqdn".into(), Value::String(fqdn.into()));
    if ctx.host.resolve(&tpl).is_file() {
        let text = ctx.host.read_to_string(&tpl)?;
        return render_string(&text, &vars)
            .map_err(|e| ModuleError::new(format!("Failed to render {}: {e}", tpl.display())));
    }
    match family {
        "debian" | "arch" => {
            log::debug!(
                "No template found at {}; using the built-in {family} hosts layout",
                tpl.display()
            );
            Ok(builtin_hosts(family, hostname, fqdn))
        }
        _ => {
            log::warn!(
                "No template found in {} for template named hosts.{family}",
                ctx.paths.templates_dir.display()
            );
            Err(ModuleError::new(format!(
                "No hosts template could be found for distro {family}"
            )))
        }
    }
}

/// Byte for byte what upstream's `hosts.debian.tmpl` / `hosts.arch.tmpl`
/// render to (checked against the oracle in the tests).
pub(crate) fn builtin_hosts(family: &str, hostname: &str, fqdn: &str) -> String {
    format!(
        "# Your system has configured 'manage_etc_hosts' as True.\n\
         # As a result, if you wish for changes to this file to persist\n\
         # then you will need to either\n\
         # a.) make changes to the master file in /etc/cloud/templates/hosts.{family}.tmpl\n\
         # b.) change or remove the value of 'manage_etc_hosts' in\n\
         #     /etc/cloud/cloud.cfg or cloud-config from user-data\n\
         #\n\
         127.0.1.1 {fqdn} {hostname}\n\
         127.0.0.1 localhost\n\
         \n\
         # The following lines are desirable for IPv6 capable hosts\n\
         ::1 localhost ip6-localhost ip6-loopback\n\
         ff02::1 ip6-allnodes\n\
         ff02::2 ip6-allrouters\n\
         \n"
    )
}

/// One parsed `/etc/hosts` line, kept as upstream's `HostsConf` keeps it.
enum HostsLine {
    Verbatim(String),
    Entry { pieces: Vec<String>, tail: String },
}

fn parse_hosts(text: &str) -> Vec<HostsLine> {
    text.lines()
        .map(|line| {
            let stripped = line.trim();
            if stripped.is_empty() {
                return HostsLine::Verbatim(line.to_string());
            }
            let (head, tail) = match stripped.find('#') {
                Some(i) => (&stripped[..i], &stripped[i..]),
                None => (stripped, ""),
            };
            if head.is_empty() {
                return HostsLine::Verbatim(line.to_string());
            }
            HostsLine::Entry {
                pieces: head.split_whitespace().map(str::to_string).collect(),
                tail: tail.to_string(),
            }
        })
        .collect()
}

fn render_hosts_conf(lines: &[HostsLine]) -> String {
    let mut out = String::new();
    for l in lines {
        match l {
            HostsLine::Verbatim(s) => out.push_str(s),
            HostsLine::Entry { pieces, tail } => {
                out.push_str(&pieces.join("\t"));
                out.push_str(tail);
            }
        }
        out.push('\n');
    }
    out
}

/// Upstream's `distro.update_etc_hosts`: make sure the local address maps
/// to `fqdn hostname`, moving that address's lines to the end when adding.
fn update_localhost(ctx: &Ctx, hostname: &str, fqdn: &str) -> ModResult {
    let local_ip = match ctx.distro.family {
        _ if ctx.distro.name == "photon" => "127.0.1.1",
        Family::Debian | Family::Alpine | Family::Suse => "127.0.1.1",
        _ => "127.0.0.1",
    };
    let existing = ctx.host.read_optional(HOSTS_FN)?;
    let header = match &existing {
        Some(_) => None,
        None => Some(format!(
            "# Added by cloud-init v. {} on {}",
            ctx.version,
            ci_state::timefmt::rfc2822(ci_state::timefmt::now_epoch())
        )),
    };
    let text = existing
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let mut lines = parse_hosts(&text);
    let prev: Vec<Vec<String>> = lines
        .iter()
        .filter_map(|l| match l {
            HostsLine::Entry { pieces, .. }
                if pieces.first().map(String::as_str) == Some(local_ip) =>
            {
                Some(pieces[1..].to_vec())
            }
            _ => None,
        })
        .collect();
    let present = prev.iter().any(|e| {
        e.first().map(String::as_str) == Some(fqdn) && e[1..].iter().any(|a| a == hostname)
    });
    if present {
        return Ok(());
    }
    if !prev.is_empty() {
        lines.retain(|l| match l {
            HostsLine::Entry { pieces, .. } => pieces.first().map(String::as_str) != Some(local_ip),
            HostsLine::Verbatim(_) => true,
        });
    }
    let mut entries = prev;
    entries.push(vec![fqdn.to_string(), hostname.to_string()]);
    for e in entries.into_iter().filter(|e| !e.is_empty()) {
        let mut pieces = vec![local_ip.to_string()];
        pieces.extend(e);
        lines.push(HostsLine::Entry {
            pieces,
            tail: String::new(),
        });
    }
    let mut out = String::new();
    if let Some(h) = header {
        out.push_str(&h);
        out.push('\n');
    }
    out.push_str(&render_hosts_conf(&lines));
    out.push('\n');
    ctx.host
        .write_atomic(HOSTS_FN, out.as_bytes(), &WriteOpts::mode(0o644))?;
    Ok(())
}

#[cfg(test)]
mod tests;
