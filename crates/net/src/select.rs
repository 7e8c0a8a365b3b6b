//! Which renderer to use on a machine: the first one in the priority list
//! (`system_info.network.renderers`) whose tools are installed, as
//! upstream's `renderers.select` decides.

use crate::{NetError, Renderer};
use ci_host::{Cmd, Host};
use std::os::unix::fs::PermissionsExt;

/// Upstream's default order.
pub const DEFAULT_PRIORITY: &[&str] = &[
    "eni",
    "sysconfig",
    "netplan",
    "network-manager",
    "freebsd",
    "netbsd",
    "openbsd",
    "networkd",
];

/// `system_info.variant` values sysconfig is meant for.
const SYSCONFIG_VARIANTS: &[&str] = &[
    "almalinux",
    "centos",
    "cloudlinux",
    "eurolinux",
    "fedora",
    "miraclelinux",
    "openeuler",
    "OpenCloudOS",
    "openmandriva",
    "rhel",
    "rocky",
    "suse",
    "TencentOS",
    "virtuozzo",
];

fn is_exe(host: &Host, path: &str) -> bool {
    std::fs::metadata(host.resolve(path))
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// `subp.which(prog, search=dirs, target=root)`.
fn which_in(host: &Host, prog: &str, dirs: &[&str]) -> bool {
    dirs.iter().any(|d| is_exe(host, &format!("{d}/{prog}")))
}

/// `which` without a search list: `$PATH`, absolute entries only.
fn which_path(host: &Host, prog: &str) -> bool {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .map(|p| p.trim_matches('"'))
        .filter(|p| p.starts_with('/'))
        .any(|d| is_exe(host, &format!("{d}/{prog}")))
}

/// Whether `renderer` can work on this machine. `variant` is upstream's
/// `system_info.variant` (the os-release ID, `suse` for the SUSE family).
pub fn available(host: &Host, renderer: &str, variant: &str) -> bool {
    match renderer {
        "eni" => {
            ["ifquery", "ifup", "ifdown"]
                .iter()
                .all(|p| which_in(host, p, &["/sbin", "/usr/sbin"]))
                && host.resolve("/etc/network/interfaces").is_file()
        }
        "netplan" => which_in(host, "netplan", &["/usr/sbin", "/sbin"]),
        "networkd" => ["ip", "systemctl"]
            .iter()
            .all(|p| which_in(host, p, &["/usr/sbin", "/bin"])),
        "network-manager" => {
            if !which_path(host, "nmcli") {
                return false;
            }
            let systemd = std::fs::symlink_metadata(host.path("/run/systemd/system"))
                .map(|m| m.is_dir())
                .unwrap_or(false);
            !systemd
                || host
                    .run(
                        &Cmd::new(["systemctl", "is-enabled", "NetworkManager.service"])
                            .in_target(),
                    )
                    .is_ok()
        }
        "sysconfig" => {
            if !SYSCONFIG_VARIANTS.contains(&variant) {
                return false;
            }
            let scripts = ["ifup", "ifdown"]
                .iter()
                .all(|p| which_in(host, p, &["/sbin", "/usr/sbin"]))
                && [
                    "/etc/sysconfig/network-scripts/network-functions",
                    "/etc/sysconfig/config",
                ]
                .iter()
                .any(|p| host.resolve(p).is_file());
            scripts || nm_ifcfg_rh(host)
        }
        "freebsd" => matches!(variant, "freebsd" | "dragonfly"),
        "netbsd" => variant == "netbsd",
        "openbsd" => variant == "openbsd",
        _ => false,
    }
}

/// `usr/lib*/NetworkManager/*/libnm-settings-plugin-ifcfg-rh.so`.
fn nm_ifcfg_rh(host: &Host) -> bool {
    host.list_dir("/usr")
        .iter()
        .filter(|d| d.starts_with("lib"))
        .any(|lib| {
            let nm = format!("/usr/{lib}/NetworkManager");
            host.list_dir(&nm).iter().any(|v| {
                host.resolve(format!("{nm}/{v}/libnm-settings-plugin-ifcfg-rh.so"))
                    .is_file()
            })
        })
}

/// The first available renderer in `priority` (default order when
/// `None`). Error text as upstream's `RendererNotFoundError`.
pub fn select(
    host: &Host,
    priority: Option<&[String]>,
    variant: &str,
) -> Result<Renderer, NetError> {
    let names: Vec<String> = match priority {
        Some(p) => p.to_vec(),
        None => DEFAULT_PRIORITY.iter().map(|s| s.to_string()).collect(),
    };
    let unknown: Vec<&String> = names
        .iter()
        .filter(|n| !DEFAULT_PRIORITY.contains(&n.as_str()))
        .collect();
    if !unknown.is_empty() {
        return Err(NetError::invalid(
            "system_info.network.renderers",
            format!("Unknown renderers provided in priority list: {unknown:?}"),
        ));
    }
    for name in &names {
        if let Some(r) = Renderer::from_name(name).filter(|_| available(host, name, variant)) {
            return Ok(r);
        }
    }
    // Upstream's boot passes no target, so its text never names one (a
    // --root path would also end up in status.json).
    if host.is_sandbox() {
        log::debug!(
            "Looked for the renderers' tools in target={}",
            host.root().display()
        );
    }
    let list: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    Err(NetError::invalid(
        "system_info.network.renderers",
        format!(
            "No available network renderers found. Searched through list: [{}]",
            list.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn exe(root: &std::path::Path, path: &str) {
        let p = root.join(path.trim_start_matches('/'));
        if let Some(parent) = p.parent() {
            let _ = fs::create_dir_all(parent);
        }
        let _ = fs::write(&p, "#!/bin/sh\n");
        let _ = fs::set_permissions(&p, fs::Permissions::from_mode(0o755));
    }

    #[test]
    fn picks_first_available_in_priority() -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let host = Host::new(tmp.path());
        assert!(select(&host, None, "debian").is_err());
        exe(tmp.path(), "/usr/sbin/ip");
        exe(tmp.path(), "/bin/systemctl");
        assert_eq!(select(&host, None, "debian")?, Renderer::Networkd);
        exe(tmp.path(), "/usr/sbin/netplan");
        assert_eq!(select(&host, None, "ubuntu")?, Renderer::Netplan);
        for p in ["/sbin/ifquery", "/sbin/ifup", "/sbin/ifdown"] {
            exe(tmp.path(), p);
        }
        // eni also needs /etc/network/interfaces
        assert_eq!(select(&host, None, "debian")?, Renderer::Netplan);
        fs::create_dir_all(tmp.path().join("etc/network"))?;
        fs::write(tmp.path().join("etc/network/interfaces"), "")?;
        assert_eq!(select(&host, None, "debian")?, Renderer::Eni);
        let only = vec!["networkd".to_string()];
        assert_eq!(select(&host, Some(&only), "debian")?, Renderer::Networkd);
        let bad = vec!["wicked".to_string()];
        assert!(select(&host, Some(&bad), "debian").is_err());
        // sysconfig needs a sysconfig variant
        fs::create_dir_all(tmp.path().join("etc/sysconfig"))?;
        fs::write(tmp.path().join("etc/sysconfig/config"), "")?;
        let sc = vec!["sysconfig".to_string()];
        assert!(select(&host, Some(&sc), "debian").is_err());
        assert_eq!(select(&host, Some(&sc), "suse")?, Renderer::Sysconfig);
        // the BSDs go by variant alone, ahead of networkd in the default order
        let empty = tempfile::tempdir()?;
        let bare = Host::new(empty.path());
        assert_eq!(select(&bare, None, "netbsd")?, Renderer::Netbsd);
        assert_eq!(select(&bare, None, "openbsd")?, Renderer::Openbsd);
        assert_eq!(select(&bare, None, "dragonfly")?, Renderer::Freebsd);
        assert!(select(&bare, Some(&["openbsd".to_string()]), "netbsd").is_err());
        // Upstream's text, without the --root path.
        let Err(NetError::Invalid { path, msg }) = select(
            &bare,
            Some(&["eni".to_string(), "netplan".to_string()]),
            "debian",
        ) else {
            panic!("eni and netplan are not available in an empty root");
        };
        assert_eq!(path, "system_info.network.renderers");
        assert_eq!(
            msg,
            "No available network renderers found. Searched through list: ['eni', 'netplan']"
        );
        Ok(())
    }
}
