//! `install_hotplug`: the udev rule that hands network add/remove events to
//! `cloud-init devel hotplug-hook`, installed when the datasource supports
//! network hotplug and the config (or `hotplug.enabled`) enables it, and
//! removed again when it no longer is.

use crate::subp;
use crate::{Ctx, HotplugFacts, ModResult, ModuleError};
use ci_host::{Host, WriteOpts};
use serde_json::Value;

/// Sorted after `80-net-setup-link.rules`, which sets the `ID_NET_DRIVER`
/// some datasources' extra rules match on.
pub const RULE_PATH: &str = "/etc/udev/rules.d/90-cloud-init-hook-hotplug.rules";

/// Where the hook script lives: upstream prefers the libexec directory and
/// falls back to `/usr/lib/cloud-init` (Debian's layout, and ours).
const LIBEXEC_DIRS: [&str; 2] = ["/usr/libexec/cloud-init", "/usr/lib/cloud-init"];

pub fn handle(ctx: &Ctx) -> ModResult {
    for w in &ctx.instance.hotplug.event_warnings {
        log::warn!("{w}");
    }
    install(ctx.host, &ctx.instance.hotplug, user_asked(ctx.cfg))
}

/// `updates.network.when` names `hotplug` (upstream checks only that key
/// path; the datasource's defaults and `hotplug.enabled` do not count).
fn user_asked(cfg: &Value) -> bool {
    cfg.get("updates")
        .and_then(|u| u.get("network"))
        .and_then(|n| n.get("when"))
        .is_some_and(|w| match w {
            Value::Array(a) => a.iter().any(|e| e.as_str() == Some("hotplug")),
            Value::String(s) => s.contains("hotplug"),
            Value::Object(m) => m.contains_key("hotplug"),
            _ => false,
        })
}

/// Upstream's `install_hotplug`: also what `hotplug-hook enable` runs, with
/// `asked` true.
pub fn install(host: &Host, facts: &HotplugFacts, asked: bool) -> ModResult {
    if !(facts.supported && facts.enabled) {
        if host.exists(RULE_PATH) {
            log::debug!("Uninstalling hotplug, not enabled");
            host.remove_file(RULE_PATH)?;
            reload_rules(host)?;
        } else if asked {
            log::warn!(
                "Hotplug is unsupported by current datasource. Udev rules will NOT be installed."
            );
        } else {
            log::debug!("Skipping hotplug install, not enabled");
        }
        return Ok(());
    }
    if host.which_target("udevadm").is_none() {
        log::debug!("Skipping hotplug install, udevadm not found");
        return Ok(());
    }
    let libexec = if host.exists(LIBEXEC_DIRS[0]) {
        LIBEXEC_DIRS[0]
    } else {
        LIBEXEC_DIRS[1]
    };
    log::info!("Installing hotplug.");
    host.write_atomic(
        RULE_PATH,
        rule(facts.extra_udev_rules.as_deref(), libexec).as_bytes(),
        &WriteOpts::mode(0o644),
    )?;
    reload_rules(host)
}

/// The rule: anything but add/remove ends; the datasource's extra rules may
/// jump past the hook (`GOTO="cloudinit_end"`) for devices it does not own.
fn rule(extra: Option<&str>, libexec: &str) -> String {
    let extra = match extra {
        Some(e) if !e.is_empty() => format!("\n{e}"),
        _ => String::new(),
    };
    format!(
        "# Installed by cloud-init due to network hotplug userdata\n\
         ACTION!=\"add|remove\", GOTO=\"cloudinit_end\"{extra}\n\
         LABEL=\"cloudinit_hook\"\n\
         SUBSYSTEM==\"net\", RUN+=\"{libexec}/hook-hotplug\"\n\
         LABEL=\"cloudinit_end\"\n"
    )
}

fn reload_rules(host: &Host) -> ModResult {
    let argv: Vec<String> = ["udevadm", "control", "--reload-rules"]
        .map(String::from)
        .to_vec();
    subp::capture(host, &argv, &subp::shown_list(&argv), None, &[0])
        .map(|_| ())
        .map_err(|e| ModuleError::with_class("ProcessExecutionError", e.text))
}

#[cfg(test)]
mod tests;
