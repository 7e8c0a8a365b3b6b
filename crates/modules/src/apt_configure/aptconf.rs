//! The proxy and `conf` snippets in `/etc/apt/apt.conf.d`; a snippet whose
//! setting is gone from the config is removed.

use super::Ctx;
use ci_host::WriteOpts;
use ci_pyval::{py_str, truthy};
use serde_json::{Map, Value};

pub(super) const PROXY_FILE: &str = "/etc/apt/apt.conf.d/90cloud-init-aptproxy";
pub(super) const CONFIG_FILE: &str = "/etc/apt/apt.conf.d/94cloud-init-config";

pub(super) fn apply(ctx: &Ctx, apt: &Map<String, Value>) -> std::io::Result<()> {
    let forms = [
        ("proxy", "http"),
        ("http_proxy", "http"),
        ("ftp_proxy", "ftp"),
        ("https_proxy", "https"),
    ];
    let lines: Vec<String> = forms
        .iter()
        .filter_map(|(key, scheme)| {
            apt.get(*key)
                .filter(|v| truthy(v))
                .map(|v| format!("Acquire::{scheme}::Proxy \"{}\";", py_str(v)))
        })
        .collect();
    if !lines.is_empty() {
        log::debug!("write apt proxy info to {PROXY_FILE}");
        let text = lines.join("\n") + "\n";
        ctx.host
            .write_atomic(PROXY_FILE, text.as_bytes(), &WriteOpts::mode(0o644))?;
    } else if ctx.host.resolve(PROXY_FILE).is_file() {
        ctx.host.remove_file(PROXY_FILE)?;
        log::debug!("no apt proxy configured, removed {PROXY_FILE}");
    }

    match apt.get("conf").filter(|v| truthy(v)) {
        Some(conf) => {
            log::debug!("write apt config info to {CONFIG_FILE}");
            ctx.host.write_atomic(
                CONFIG_FILE,
                py_str(conf).as_bytes(),
                &WriteOpts::mode(0o644),
            )?;
        }
        None if ctx.host.resolve(CONFIG_FILE).is_file() => {
            ctx.host.remove_file(CONFIG_FILE)?;
            log::debug!("no apt config configured, removed {CONFIG_FILE}");
        }
        None => {}
    }
    Ok(())
}
