//! Bringing rendered configuration up: upstream's network activators
//! (`ifup`, `netplan apply`, NetworkManager, networkd, `ifconfig`), chosen
//! from `system_info.network.activators` (or the default order) by what is
//! installed, with upstream's commands and their logging.

use crate::select::available;
use crate::NetError;
use ci_host::{Cmd, Host};

/// Upstream's default order.
pub const DEFAULT_PRIORITY: &[&str] =
    &["eni", "netplan", "network-manager", "networkd", "ifconfig"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activator {
    IfUpDown,
    Netplan,
    NetworkManager,
    Networkd,
    IfConfig,
}

impl Activator {
    /// Upstream's class name, for log lines.
    pub fn class_name(self) -> &'static str {
        match self {
            Activator::IfUpDown => "IfUpDownActivator",
            Activator::Netplan => "NetplanActivator",
            Activator::NetworkManager => "NetworkManagerActivator",
            Activator::Networkd => "NetworkdActivator",
            Activator::IfConfig => "IfConfigActivator",
        }
    }

    fn from_name(name: &str) -> Option<Activator> {
        match name {
            "eni" => Some(Activator::IfUpDown),
            "netplan" => Some(Activator::Netplan),
            "network-manager" => Some(Activator::NetworkManager),
            "networkd" => Some(Activator::Networkd),
            "ifconfig" => Some(Activator::IfConfig),
            _ => None,
        }
    }

    fn available(self, host: &Host) -> bool {
        match self {
            Activator::IfUpDown => available(host, "eni", ""),
            Activator::Netplan => available(host, "netplan", ""),
            Activator::NetworkManager => available(host, "network-manager", ""),
            Activator::Networkd => available(host, "networkd", ""),
            Activator::IfConfig => host.resolve("/sbin/ifconfig").is_file(),
        }
    }

    /// Bring up every interface of the applied config (`devices`: their
    /// names, in the config's order). True when every command succeeded.
    pub fn bring_up_all(self, host: &Host, devices: &[String]) -> bool {
        match self {
            Activator::Netplan => alter(host, &["netplan", "apply"], false),
            Activator::Networkd => {
                // Upstream always restarts systemd-resolved too, which fails
                // (and degrades the boot) on images without it, such as
                // Debian's with networkd alone.
                let mut cmd = vec!["systemctl", "restart", "systemd-networkd"];
                if has_unit(host, "systemd-resolved.service") {
                    cmd.push("systemd-resolved");
                }
                alter(host, &cmd, true)
            }
            Activator::NetworkManager => {
                let state = host
                    .run(
                        &Cmd::new([
                            "systemctl",
                            "show",
                            "--property=SubState",
                            "NetworkManager.service",
                        ])
                        .in_target(),
                    )
                    .map(|o| o.stdout_str().trim_end().to_string())
                    .unwrap_or_default();
                if state != "SubState=running" {
                    log::warn!("Expected NetworkManager SubState=running, but detected: {state}");
                }
                alter(
                    host,
                    &[
                        "systemctl",
                        "try-reload-or-restart",
                        "NetworkManager.service",
                    ],
                    true,
                ) && devices.iter().all(|d| nm_up(host, d))
            }
            Activator::IfUpDown => devices.iter().all(|d| alter(host, &["ifup", d], true)),
            Activator::IfConfig => devices
                .iter()
                .all(|d| alter(host, &["ifconfig", d, "up"], true)),
        }
    }
}

impl Activator {
    /// Bring one interface up (upstream's `bring_up_interface`, used for
    /// a hotplugged NIC). True when the command succeeded.
    pub fn bring_up_interface(self, host: &Host, device: &str) -> bool {
        match self {
            Activator::IfUpDown => alter(host, &["ifup", device], true),
            Activator::IfConfig => alter(host, &["ifconfig", device, "up"], true),
            Activator::NetworkManager => nm_up(host, device),
            Activator::Netplan => netplan_apply(host),
            Activator::Networkd => alter(host, &["ip", "link", "set", "dev", device, "up"], true),
        }
    }

    /// Bring one interface down (upstream's `bring_down_interface`).
    pub fn bring_down_interface(self, host: &Host, device: &str) -> bool {
        match self {
            Activator::IfUpDown => alter(host, &["ifdown", device], true),
            Activator::IfConfig => alter(host, &["ifconfig", device, "down"], true),
            Activator::NetworkManager => {
                alter(host, &["nmcli", "device", "disconnect", device], true)
            }
            Activator::Netplan => netplan_apply(host),
            Activator::Networkd => alter(host, &["ip", "link", "set", "dev", device, "down"], true),
        }
    }
}

/// Netplan cannot alter one interface: it applies everything.
fn netplan_apply(host: &Host) -> bool {
    log::debug!("Calling 'netplan apply' rather than altering individual interfaces");
    alter(host, &["netplan", "apply"], false)
}

/// Whether a systemd unit file is installed in the target.
fn has_unit(host: &Host, unit: &str) -> bool {
    [
        "/usr/lib/systemd/system",
        "/lib/systemd/system",
        "/etc/systemd/system",
    ]
    .iter()
    .any(|d| host.resolve(format!("{d}/{unit}")).exists())
}

/// NetworkManager: load the connection file cloud-init wrote, then bring
/// it up; if loading fails, reload all and bring the device up by name.
fn nm_up(host: &Host, device: &str) -> bool {
    let file = format!("/etc/NetworkManager/system-connections/cloud-init-{device}.nmconnection");
    if !host.resolve(&file).is_file() {
        log::warn!("Unable to find an interface config file. Unable to bring up interface.");
        return false;
    }
    if alter(host, &["nmcli", "connection", "load", &file], true) {
        alter(
            host,
            &["nmcli", "connection", "up", "filename", &file],
            true,
        )
    } else {
        alter(host, &["nmcli", "connection", "reload"], true);
        alter(host, &["nmcli", "connection", "up", "ifname", device], true)
    }
}

/// Run one command in the target; stderr is a warning (or debug), failure
/// an error with upstream's wording; never aborts the boot.
fn alter(host: &Host, argv: &[&str], warn_on_stderr: bool) -> bool {
    match host.run(&Cmd::new(argv.iter().copied()).in_target()) {
        Ok(out) => {
            let err = out.stderr_str();
            if !err.is_empty() {
                if warn_on_stderr {
                    log::warn!("Received stderr output: {err}");
                } else {
                    log::debug!("Received stderr output: {err}");
                }
            }
            true
        }
        Err(e) => {
            log::warn!("Running interface command {argv:?} failed: {e}");
            false
        }
    }
}

/// The first available activator in `priority` (default order when `None`).
pub fn select(host: &Host, priority: Option<&[String]>) -> Result<Activator, NetError> {
    let names: Vec<String> = match priority {
        Some(p) => p.to_vec(),
        None => DEFAULT_PRIORITY.iter().map(|s| s.to_string()).collect(),
    };
    let unknown: Vec<&String> = names
        .iter()
        .filter(|n| Activator::from_name(n).is_none())
        .collect();
    if !unknown.is_empty() {
        return Err(NetError::invalid(
            "system_info.network.activators",
            format!("Unknown activators provided in priority list: {unknown:?}"),
        ));
    }
    let found = names
        .iter()
        .filter_map(|n| Activator::from_name(n))
        .find(|a| a.available(host));
    match found {
        Some(a) => {
            let list: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
            log::debug!(
                "Using selected activator: <class 'cloudinit.net.activators.{}'> from priority: [{}]",
                a.class_name(),
                list.join(", ")
            );
            Ok(a)
        }
        None => {
            let target = if host.is_sandbox() {
                format!(" in target={}", host.root().display())
            } else {
                String::new()
            };
            let list: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
            Err(NetError::invalid(
                "system_info.network.activators",
                format!(
                    "No available network activators found{target}. Searched through list: [{}]",
                    list.join(", ")
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ci_host::RecordingRunner;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

    fn exe(root: &std::path::Path, path: &str) {
        let p = root.join(path.trim_start_matches('/'));
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn selection_follows_priority_and_availability() {
        let d = tempfile::tempdir().unwrap();
        let host = Host::new(d.path());
        let e = select(&host, None).unwrap_err().to_string();
        assert!(
            e.contains("No available network activators found in target="),
            "{e}"
        );
        assert!(e.ends_with("Searched through list: ['eni', 'netplan', 'network-manager', 'networkd', 'ifconfig']"), "{e}");
        exe(d.path(), "/usr/sbin/ip");
        exe(d.path(), "/bin/systemctl");
        assert_eq!(select(&host, None).unwrap(), Activator::Networkd);
        exe(d.path(), "/usr/sbin/netplan");
        assert_eq!(select(&host, None).unwrap(), Activator::Netplan);
        let only = vec!["networkd".to_string()];
        assert_eq!(select(&host, Some(&only)).unwrap(), Activator::Networkd);
        let bad = vec!["wicked".to_string()];
        let e = select(&host, Some(&bad)).unwrap_err().to_string();
        assert!(
            e.contains("Unknown activators provided in priority list: [\"wicked\"]"),
            "{e}"
        );
    }

    #[test]
    fn commands_as_upstream() {
        let d = tempfile::tempdir().unwrap();
        let rec = Arc::new(RecordingRunner::new());
        let host = Host::with_runner(d.path(), rec.clone());
        let devs = vec!["eth0".to_string(), "eth1".to_string()];
        assert!(Activator::Netplan.bring_up_all(&host, &devs));
        assert!(Activator::Networkd.bring_up_all(&host, &devs));
        assert!(Activator::IfUpDown.bring_up_all(&host, &devs));
        assert!(Activator::IfConfig.bring_up_all(&host, &devs));
        // With systemd-resolved installed, it is restarted too.
        let units = d.path().join("usr/lib/systemd/system");
        fs::create_dir_all(&units).unwrap();
        fs::write(units.join("systemd-resolved.service"), "").unwrap();
        assert!(Activator::Networkd.bring_up_all(&host, &devs));
        assert_eq!(
            rec.lines(),
            [
                "netplan apply",
                "systemctl restart systemd-networkd",
                "ifup eth0",
                "ifup eth1",
                "ifconfig eth0 up",
                "ifconfig eth1 up",
                "systemctl restart systemd-networkd systemd-resolved",
            ]
        );
    }

    #[test]
    fn one_interface_up_and_down() {
        let d = tempfile::tempdir().unwrap();
        let rec = Arc::new(RecordingRunner::new());
        let host = Host::with_runner(d.path(), rec.clone());
        for a in [
            Activator::IfUpDown,
            Activator::IfConfig,
            Activator::Netplan,
            Activator::Networkd,
            Activator::NetworkManager,
        ] {
            if a != Activator::NetworkManager {
                assert!(a.bring_up_interface(&host, "eth1"));
            }
            assert!(a.bring_down_interface(&host, "eth1"));
        }
        assert_eq!(
            rec.lines(),
            [
                "ifup eth1",
                "ifdown eth1",
                "ifconfig eth1 up",
                "ifconfig eth1 down",
                "netplan apply",
                "netplan apply",
                "ip link set dev eth1 up",
                "ip link set dev eth1 down",
                "nmcli device disconnect eth1",
            ]
        );
    }

    #[test]
    fn network_manager_loads_our_connection_files() {
        let d = tempfile::tempdir().unwrap();
        let rec = Arc::new(RecordingRunner::new());
        rec.answer("systemctl", 0, b"SubState=running\n");
        let host = Host::with_runner(d.path(), rec.clone());
        let nm = d.path().join("etc/NetworkManager/system-connections");
        fs::create_dir_all(&nm).unwrap();
        fs::write(nm.join("cloud-init-eth0.nmconnection"), "").unwrap();
        assert!(Activator::NetworkManager.bring_up_all(&host, &["eth0".to_string()]));
        let joined = rec.lines().join("\n");
        assert!(joined.contains("systemctl try-reload-or-restart NetworkManager.service"));
        assert!(joined.contains("nmcli connection load /etc/NetworkManager/system-connections/cloud-init-eth0.nmconnection"));
        assert!(joined.contains("nmcli connection up filename /etc/NetworkManager/system-connections/cloud-init-eth0.nmconnection"));
        // No connection file for a device: not brought up.
        assert!(!Activator::NetworkManager.bring_up_all(&host, &["eth9".to_string()]));
    }
}
