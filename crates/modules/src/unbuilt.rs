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
//! | `apt_configure` | `apt` is exactly `{preserve_sources_list: <not false>}`, no v1/v2 `apt_*` keys, and no proxy or `conf` file from an earlier run to delete; or no `apt` config and neither `apt-get` nor `apt` in the target | with no `apt` config and apt present, sources.list is regenerated; any other `apt` key is a request |

use crate::registry::ModuleSpec;
use crate::runner::StageEnv;
use ci_pyval::{is_false, truthy};
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

pub(crate) fn judge(spec: &ModuleSpec, env: &StageEnv, _args: &[String]) -> Verdict {
    let cfg = env.cfg;
    match spec.name {
        "apt_configure" => apt_configure(env),
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

#[cfg(test)]
mod tests;
