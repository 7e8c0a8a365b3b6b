//! What the module learns from the target: whether apt is there at all,
//! the release codename and the dpkg architecture.

use crate::subp;
use crate::{Ctx, ModuleError};
use ci_host::Cmd;

/// Upstream's `_should_configure_on_empty_apt`: why an empty `apt` config
/// means nothing to do, if it does.
pub(super) fn nothing_to_configure(ctx: &Ctx) -> Option<&'static str> {
    if system_is_snappy(ctx) {
        return Some("system is snappy.");
    }
    if ctx.host.which_target("apt-get").is_none() && ctx.host.which_target("apt").is_none() {
        return Some("no apt commands.");
    }
    None
}

fn system_is_snappy(ctx: &Ctx) -> bool {
    let os_release = ctx
        .host
        .read_to_string("/etc/os-release")
        .unwrap_or_default();
    let core = os_release.lines().any(|l| {
        l.strip_prefix("ID=").is_some_and(|v| {
            v.trim()
                .trim_matches(['"', '\''])
                .eq_ignore_ascii_case("ubuntu-core")
        })
    });
    if core || ctx.host.kernel_cmdline().contains("snap_core=") {
        return true;
    }
    let channel = ctx
        .host
        .read_to_string("/etc/system-image/channel.ini")
        .unwrap_or_default();
    channel.to_lowercase().contains("ubuntu-core") || ctx.host.is_dir("/etc/system-image/config.d/")
}

/// The release codename, from `lsb_release --all` in the target as
/// upstream asks it. A target without `lsb_release` (it is only pulled in
/// by upstream's package) gets the codename from os-release instead of
/// upstream's "UNAVAILABLE" and warning.
pub(super) fn codename(ctx: &Ctx) -> String {
    if ctx.host.which_target("lsb_release").is_none() {
        let text = ctx
            .host
            .read_to_string("/etc/os-release")
            .unwrap_or_default();
        let code = os_release_value(&text, "VERSION_CODENAME")
            .or_else(|| os_release_value(&text, "UBUNTU_CODENAME"))
            .unwrap_or_else(|| "UNAVAILABLE".into());
        log::debug!("No lsb_release in the target; release codename {code} from os-release");
        return code;
    }
    let cmd = Cmd::new(["lsb_release", "--all"]).in_target();
    match subp::run(ctx.host, &cmd, &subp::shown_list(&cmd.argv), &[0]) {
        Ok(out) => {
            let mut found: Vec<(&str, String)> = Vec::new();
            let stdout = out.stdout_str();
            for line in stdout.lines() {
                let (name, val) = line.split_once(':').unwrap_or((line, ""));
                let field = match name {
                    "Codename" => "codename",
                    "Description" => "description",
                    "Distributor ID" => "id",
                    "Release" => "release",
                    _ => continue,
                };
                found.push((field, val.trim().to_string()));
            }
            let missing: Vec<&str> = ["codename", "description", "id", "release"]
                .into_iter()
                .filter(|f| !found.iter().any(|(k, _)| k == f))
                .collect();
            if !missing.is_empty() {
                log::warn!(
                    "Missing fields in lsb_release --all output: {}",
                    missing.join(",")
                );
            }
            found
                .into_iter()
                .rev()
                .find(|(k, _)| *k == "codename")
                .map(|(_, v)| v)
                .unwrap_or_default()
        }
        Err(e) => {
            log::warn!("Unable to get lsb_release --all: {e}");
            "UNAVAILABLE".into()
        }
    }
}

fn os_release_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(key)
                .and_then(|r| r.strip_prefix('='))
                .map(|v| v.trim().trim_matches(['"', '\'']).to_string())
        })
        .filter(|v| !v.is_empty())
}

/// `dpkg --print-architecture` in the target; a failure is the module's.
pub(super) fn dpkg_architecture(ctx: &Ctx) -> Result<String, ModuleError> {
    let cmd = Cmd::new(["dpkg", "--print-architecture"]).in_target();
    subp::run(ctx.host, &cmd, &subp::shown_list(&cmd.argv), &[0])
        .map(|o| o.stdout_str().trim().to_string())
        .map_err(|e| ModuleError::with_class("ProcessExecutionError", e.text))
}

/// Upstream's `get_installed_packages`: names `dpkg-query --list` shows
/// as installed or held, without the architecture qualifier.
pub(super) fn installed_packages(ctx: &Ctx) -> Result<Vec<String>, ModuleError> {
    let cmd = Cmd::new(["dpkg-query", "--list"]).in_target();
    let out = subp::run(ctx.host, &cmd, &subp::shown_list(&cmd.argv), &[0])
        .map_err(|e| ModuleError::with_class("ProcessExecutionError", e.text))?;
    let mut pkgs = Vec::new();
    for line in out.stdout_str().lines() {
        let mut words = line.split_whitespace();
        let (Some(state), Some(pkg), Some(_)) = (words.next(), words.next(), words.next()) else {
            continue;
        };
        if state.starts_with("hi") || state.starts_with("ii") {
            let name = pkg.split(':').next().unwrap_or(pkg).to_string();
            if !pkgs.contains(&name) {
                pkgs.push(name);
            }
        }
    }
    Ok(pkgs)
}
