//! Modules known to the registry but not built yet: would upstream's module
//! have changed anything on this machine with this config?
//!
//! Upstream writes a module's semaphore whenever it runs the module, even
//! when the module finds nothing to do. Where upstream's module would have
//! done nothing, the runner does what upstream does (events, semaphore,
//! success). Where it would have done something, no semaphore is written,
//! so that a later version that has the module still does the work after
//! an upgrade; when that work was asked for by the config, it is also warned
//! about.
//!
//! Each module below was checked against upstream 25.1.4's `cc_<name>.py`.
//! A module is only judged idle under the conditions listed; anything else
//! (including every module not in this table) counts as work left undone.
//! Modules with activate keys only get here when one of their keys is set
//! (a request for work, not listed below), or under `single`, where
//! upstream runs them regardless and they find nothing to do.
//!
//! | module | idle when | work otherwise |
//! |---|---|---|
//! | `growpart` | `growpart.mode` is false/`off`; or `/etc/growroot-disabled` exists and `ignore_growroot_disabled` is false; or `devices` is empty | the default `mode: auto` grows the root partition |
//! | `resizefs` | `resize_rootfs` (or the module argument) is not a true value (`noblock` counts as true) | by default the root filesystem is resized |
//! | `mounts` | no `mounts`, `swap` or `device_aliases`, and the datasource cannot name `ephemeral0`/`swap` devices (only Ec2, Azure, OpenStack, ConfigDrive and Joyent can) | fstab entries for the ephemeral disk and swap, `mount -a` |
//! | `apt_configure` | `apt` is exactly `{preserve_sources_list: <not false>}`, no v1/v2 `apt_*` keys, and no proxy or `conf` file from an earlier run to delete; or no `apt` config and neither `apt-get` nor `apt` in the target | with no `apt` config and apt present, sources.list is regenerated; any other `apt` key is a request |
//! | `byobu` | no module argument and `byobu_by_default` absent or empty | installs/enables byobu |
//! | `reset_rmc` | the datasource is `None`, or `/opt/rsct/install/bin` is not a directory | resets the RSCT node id |
//! | `install_hotplug` | `updates` does not ask for network hotplug, the datasource does not enable it by default (Ec2 does), no `hotplug.enabled` file, and no hotplug udev rule installed to remove | installs or removes the udev rule |

use crate::registry::ModuleSpec;
use crate::runner::StageEnv;
use ci_pyval::{is_false, py_str, translate_bool, truthy};
use serde_json::Value;

/// What upstream's module would have done here.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Nothing: run it as a no-op (the reason is logged at debug).
    Idle(String),
    /// The config asks for work we cannot do yet: warn, no semaphore.
    Asked,
    /// Upstream would change the machine without being asked: no
    /// semaphore (the reason is logged at info).
    WouldWork(String),
}

/// Datasources whose `device_name_to_device` can map `ephemeral0`/`swap`.
const DEVICE_NAMING_SOURCES: &[&str] = &["Ec2", "Azure", "OpenStack", "ConfigDrive", "Joyent"];

/// `mounts` entries, a swap file, or aliases that turn the default
/// `ephemeral0`/`swap` names into real devices.
const MOUNTS_KEYS: &[&str] = &["mounts", "swap", "device_aliases"];

/// Top-level keys of apt's v1/v2 formats that upstream moves under `apt`.
const APT_LEGACY_KEYS: &[&str] = &[
    "apt_sources",
    "apt_mirror",
    "apt_mirror_search",
    "apt_mirror_search_dns",
    "apt_proxy",
    "apt_http_proxy",
    "apt_ftp_proxy",
    "apt_https_proxy",
    "apt_preserve_sources_list",
    "apt_custom_sources_list",
    "add_apt_repo_match",
];
const APT_PROXY_FILE: &str = "/etc/apt/apt.conf.d/90cloud-init-aptproxy";
const APT_CONFIG_FILE: &str = "/etc/apt/apt.conf.d/94cloud-init-config";
const RSCT_PATH: &str = "/opt/rsct/install/bin";
const HOTPLUG_RULE: &str = "/etc/udev/rules.d/90-cloud-init-hook-hotplug.rules";

pub(crate) fn judge(spec: &ModuleSpec, env: &StageEnv, args: &[String]) -> Verdict {
    let cfg = env.cfg;
    match spec.name {
        "growpart" => growpart(env),
        "resizefs" => resizefs(cfg, args),
        "mounts" => mounts(env),
        "apt_configure" => apt_configure(env),
        "byobu" => byobu(cfg, args),
        "reset_rmc" => reset_rmc(env),
        "install_hotplug" => install_hotplug(env),
        // Upstream only runs these without their keys under `single`, and
        // then the module finds nothing to do.
        _ if !spec.activate_keys.is_empty() => {
            if spec.activate_keys.iter().any(|k| cfg.get(*k).is_some()) {
                Verdict::Asked
            } else {
                Verdict::Idle("no applicable config".into())
            }
        }
        _ if spec.watched_keys.iter().any(|k| cfg.get(*k).is_some()) => Verdict::Asked,
        _ => Verdict::WouldWork("its behaviour without config is not analysed".into()),
    }
}

fn growpart(env: &StageEnv) -> Verdict {
    let given = env.cfg.get("growpart");
    let default = serde_json::json!({"mode": "auto", "devices": ["/"]});
    let mycfg = given.unwrap_or(&default);
    let Some(m) = mycfg.as_object() else {
        return Verdict::Asked;
    };
    let mode = m.get("mode").cloned().unwrap_or(Value::from("auto"));
    if is_false(&mode) {
        return Verdict::Idle(format!("growpart disabled: mode={}", py_str(&mode)));
    }
    let ignore = m
        .get("ignore_growroot_disabled")
        .cloned()
        .unwrap_or(Value::Bool(false));
    if is_false(&ignore) && env.host.resolve("/etc/growroot-disabled").is_file() {
        return Verdict::Idle("growpart disabled: /etc/growroot-disabled exists".into());
    }
    if matches!(m.get("devices"), Some(Value::Array(d)) if d.is_empty()) {
        return Verdict::Idle("growpart: empty device list".into());
    }
    match given {
        Some(_) => Verdict::Asked,
        None => Verdict::WouldWork("upstream grows the root partition by default".into()),
    }
}

fn resizefs(cfg: &Value, args: &[String]) -> Verdict {
    let value = match args.first() {
        Some(a) => Some(Value::String(a.clone())),
        None => cfg.get("resize_rootfs").map(|v| Value::String(py_str(v))),
    };
    match value {
        Some(v) if !translate_bool(&v, &["noblock"]) => Verdict::Idle("resizing disabled".into()),
        Some(_) => Verdict::Asked,
        None => Verdict::WouldWork("upstream resizes the root filesystem by default".into()),
    }
}

fn mounts(env: &StageEnv) -> Verdict {
    if MOUNTS_KEYS.iter().any(|k| env.cfg.get(*k).is_some()) {
        return Verdict::Asked;
    }
    let ds = env.instance.datasource_name.as_str();
    if DEVICE_NAMING_SOURCES.contains(&ds) {
        return Verdict::WouldWork(format!(
            "datasource {ds} may name an ephemeral or swap device for fstab"
        ));
    }
    Verdict::Idle("no mount configuration and no ephemeral or swap device named".into())
}

fn apt_configure(env: &StageEnv) -> Verdict {
    let cfg = env.cfg;
    let legacy = APT_LEGACY_KEYS
        .iter()
        .any(|k| cfg.get(*k).is_some_and(|v| !v.is_null() && v != ""));
    if legacy {
        return Verdict::Asked;
    }
    let apt = cfg.get("apt");
    if !apt.is_some_and(truthy) {
        let found = ["apt-get", "apt"]
            .iter()
            .find_map(|p| crate::runparts::target_which(env.host, p));
        return match found {
            Some(p) => Verdict::WouldWork(format!(
                "with no apt config and {p} present upstream writes sources.list"
            )),
            None => Verdict::Idle("no apt config and no apt commands".into()),
        };
    }
    let Some(Value::Object(m)) = apt else {
        return Verdict::Asked;
    };
    let only_preserve = m
        .iter()
        .all(|(k, v)| k == "preserve_sources_list" && !is_false(v));
    if !only_preserve {
        return Verdict::Asked;
    }
    for f in [APT_PROXY_FILE, APT_CONFIG_FILE] {
        if env.host.resolve(f).is_file() {
            return Verdict::WouldWork(format!("upstream removes {f}"));
        }
    }
    Verdict::Idle("sources.list preserved, no proxy or apt config".into())
}

fn byobu(cfg: &Value, args: &[String]) -> Verdict {
    let value = match args.first() {
        Some(a) => a.clone(),
        None => cfg.get("byobu_by_default").map(py_str).unwrap_or_default(),
    };
    if value.is_empty() {
        Verdict::Idle("no 'byobu' values found".into())
    } else {
        Verdict::Asked
    }
}

fn reset_rmc(env: &StageEnv) -> Verdict {
    if env.instance.datasource_name == "None" {
        return Verdict::Idle("platform is none".into());
    }
    if !env.host.resolve(RSCT_PATH).is_dir() {
        return Verdict::Idle(format!("{RSCT_PATH} not present"));
    }
    Verdict::WouldWork("RSCT is installed; upstream resets its node id".into())
}

fn install_hotplug(env: &StageEnv) -> Verdict {
    let asked = env
        .cfg
        .get("updates")
        .and_then(|u| u.get("network"))
        .and_then(|n| n.get("when"))
        .and_then(Value::as_array)
        .is_some_and(|w| w.iter().any(|e| e == "hotplug"));
    if asked {
        return Verdict::Asked;
    }
    if env.instance.datasource_name == "Ec2" {
        return Verdict::WouldWork("Ec2 enables network hotplug by default".into());
    }
    let enabled_file = env.paths.cloud_dir.join("hotplug.enabled");
    if env.host.resolve(&enabled_file).exists() {
        return Verdict::WouldWork(format!("{} exists", enabled_file.display()));
    }
    if env.host.resolve(HOTPLUG_RULE).exists() {
        return Verdict::WouldWork(format!("upstream removes {HOTPLUG_RULE}"));
    }
    Verdict::Idle("hotplug not enabled".into())
}

#[cfg(test)]
mod tests;
