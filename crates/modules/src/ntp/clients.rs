//! Upstream's NTP client table: what each client is called, where its
//! configuration goes and which service runs it, with each distro's
//! differences, and each distro's order of preference.

use ci_distro::{Distro, Family};
use ci_host::Host;
use serde_json::{json, Map, Value};

/// The base configuration of every client upstream knows.
fn base() -> Value {
    json!({
        "chrony": {
            "check_exe": "chronyd",
            "confpath": "/etc/chrony.conf",
            "packages": ["chrony"],
            "service_name": "chrony",
            "template_name": "chrony.conf.{distro}",
            "template": null,
        },
        "ntp": {
            "check_exe": "ntpd",
            "confpath": "/etc/ntp.conf",
            "packages": ["ntp"],
            "service_name": "ntp",
            "template_name": "ntp.conf.{distro}",
            "template": null,
        },
        "ntpdate": {
            "check_exe": "ntpdate",
            "confpath": "/etc/ntp.conf",
            "packages": ["ntpdate"],
            "service_name": "ntpdate",
            "template_name": "ntp.conf.{distro}",
            "template": null,
        },
        "openntpd": {
            "check_exe": "ntpd",
            "confpath": "/etc/ntpd.conf",
            "packages": [],
            "service_name": "ntpd",
            "template_name": "ntpd.conf.{distro}",
            "template": null,
        },
        "systemd-timesyncd": {
            "check_exe": "/lib/systemd/systemd-timesyncd",
            "confpath": "/etc/systemd/timesyncd.conf.d/cloud-init.conf",
            "packages": [],
            "service_name": "systemd-timesyncd",
            "template_name": "timesyncd.conf",
            "template": null,
        },
    })
}

/// Per-distro changes to [`base`], keyed by upstream's distro name.
fn overrides(distro: &str) -> Value {
    let usr_timesyncd = json!({
        "check_exe": "/usr/lib/systemd/systemd-timesyncd",
        "confpath": "/etc/systemd/timesyncd.conf",
    });
    match distro {
        "alpine" => json!({
            "chrony": {"confpath": "/etc/chrony/chrony.conf", "service_name": "chronyd"},
            "ntp": {"confpath": "/etc/ntp.conf", "packages": [], "service_name": "ntpd"},
        }),
        "aosc" => json!({"systemd-timesyncd": usr_timesyncd}),
        "azurelinux" | "mariner" => json!({
            "chrony": {"service_name": "chronyd"},
            "systemd-timesyncd": usr_timesyncd,
        }),
        "centos" | "rhel" | "almalinux" | "cloudlinux" | "rocky" => json!({
            "ntp": {"service_name": "ntpd"},
            "chrony": {"service_name": "chronyd"},
        }),
        "cos" => json!({
            "chrony": {"service_name": "chronyd", "confpath": "/etc/chrony/chrony.conf"},
        }),
        "debian" | "ubuntu" => json!({
            "chrony": {"confpath": "/etc/chrony/chrony.conf"},
        }),
        "freebsd" => json!({
            "ntp": {
                "confpath": "/etc/ntp.conf",
                "service_name": "ntpd",
                "template_name": "ntp.conf.{distro}",
            },
            "chrony": {
                "confpath": "/usr/local/etc/chrony.conf",
                "packages": ["chrony"],
                "service_name": "chronyd",
                "template_name": "chrony.conf.{distro}",
            },
            "openntpd": {
                "check_exe": "/usr/local/sbin/ntpd",
                "confpath": "/usr/local/etc/ntp.conf",
                "packages": ["openntpd"],
                "service_name": "openntpd",
                "template_name": "ntpd.conf.openbsd",
            },
        }),
        "openmandriva" => json!({
            "chrony": {"service_name": "chronyd"},
            "ntp": {"confpath": "/etc/ntp.conf", "service_name": "ntpd"},
            "systemd-timesyncd": {"check_exe": "/lib/systemd/systemd-timesyncd"},
        }),
        "opensuse"
        | "opensuse-microos"
        | "opensuse-tumbleweed"
        | "opensuse-leap"
        | "sles"
        | "sle_hpc"
        | "sle-micro" => json!({
            "chrony": {"service_name": "chronyd"},
            "ntp": {"confpath": "/etc/ntp.conf", "service_name": "ntpd"},
            "systemd-timesyncd": {"check_exe": "/usr/lib/systemd/systemd-timesyncd"},
        }),
        "photon" => json!({
            "chrony": {"service_name": "chronyd"},
            "ntp": {"service_name": "ntpd", "confpath": "/etc/ntp.conf"},
            "systemd-timesyncd": usr_timesyncd,
        }),
        _ => json!({}),
    }
}

/// Upstream's `distro_ntp_client_configs`: the base table with the distro's
/// changes merged in.
pub fn distro_clients(distro: &str) -> Map<String, Value> {
    let Value::Object(mut table) = base() else {
        return Map::new();
    };
    if let Value::Object(over) = overrides(distro) {
        for (client, changes) in over {
            if let (Some(Value::Object(cfg)), Value::Object(changes)) =
                (table.get_mut(&client), changes)
            {
                cfg.extend(changes);
            }
        }
    }
    table
}

/// Upstream's `mergemanydict([distro_cfg, user_cfg], reverse=True)`: the
/// user's keys win, mappings merge key by key, the rest fills in.
pub fn merge_user(user: &Value, distro_cfg: &Map<String, Value>) -> Map<String, Value> {
    let mut out = match user {
        Value::Object(m) if !m.is_empty() => m.clone(),
        _ => Map::new(),
    };
    fill(&mut out, distro_cfg);
    out
}

fn fill(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        match (into.get_mut(k), v) {
            (None, _) => {
                into.insert(k.clone(), v.clone());
            }
            (Some(Value::Object(a)), Value::Object(b)) => fill(a, b),
            _ => {}
        }
    }
}

/// The distro's clients in order of preference (upstream's
/// `preferred_ntp_clients`).
pub fn preferred(distro: &Distro, host: &Host) -> Vec<&'static str> {
    const DEFAULT: [&str; 4] = ["chrony", "systemd-timesyncd", "ntp", "ntpdate"];
    match distro.family {
        Family::Alpine => vec!["chrony", "ntp"],
        Family::Suse if distro.name.starts_with("opensuse") || distro.name.starts_with("sle") => {
            suse_preferred(host)
        }
        _ => DEFAULT.to_vec(),
    }
}

/// SUSE releases from 15 on (not openSUSE 42) prefer chrony; older ones ntp.
/// Upstream reads the running system's release; ours reads the target's
/// `/etc/os-release`, and an unreadable release counts as a current one.
fn suse_preferred(host: &Host) -> Vec<&'static str> {
    let text = host.read_to_string("/etc/os-release").unwrap_or_default();
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_string())
            .unwrap_or_default()
    };
    let name = field("NAME");
    let major = field("VERSION_ID")
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    let modern = match major {
        Some(v) => v >= 15 && !(name.contains("openSUSE") && v == 42),
        None => true,
    };
    if modern {
        vec!["chrony", "systemd-timesyncd", "ntp"]
    } else {
        vec!["ntp", "systemd-timesyncd", "chrony"]
    }
}
