//! `locale`: set the system locale. Debian regenerates it with
//! `locale-gen` and records it with `update-locale`; RHEL and SUSE write
//! `LANG=` into their locale file.

use crate::hostname_util::uses_systemd;
use crate::{Ctx, ModResult, ModuleError};
use ci_distro::Family;
use ci_host::{Cmd, Host};
use ci_pyval::{is_false, py_str};
use serde_json::Value;

const DEBIAN_LOCALE_FN: &str = "/etc/default/locale";

pub fn handle(ctx: &Ctx) -> ModResult {
    let locale = match ctx.args.first() {
        Some(a) => a.clone(),
        None => match ctx.get("locale") {
            Some(v) => py_str(v),
            None => default_locale(ctx),
        },
    };
    if is_false(&Value::String(locale.clone())) {
        log::debug!(
            "Skipping module named {}, disabled by config: {locale}",
            ctx.name
        );
        return Ok(());
    }
    log::debug!("Setting locale to {locale}");
    let out_fn = ctx.get("locale_configfile").map(py_str);
    apply_locale(ctx, &locale, out_fn.as_deref())
}

/// Upstream's `cloud.get_locale()`: the distro's current setting, else its
/// default (`C.UTF-8` on Debian and Alpine, `en_US.UTF-8` elsewhere).
fn default_locale(ctx: &Ctx) -> String {
    match ctx.distro.family {
        Family::Debian => read_debian_locale(ctx.host).unwrap_or_else(|| "C.UTF-8".into()),
        Family::RedHat | Family::Suse => {
            crate::sysconfig::read_key(ctx.host, redhat_locale_fn(ctx), "LANG")
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "en_US.UTF-8".into())
        }
        Family::Alpine => "C.UTF-8".into(),
        _ => "en_US.UTF-8".into(),
    }
}

fn redhat_locale_fn(ctx: &Ctx) -> &'static str {
    match (ctx.distro.family, uses_systemd(ctx.host)) {
        (_, true) => "/etc/locale.conf",
        (Family::Suse, false) => "/etc/sysconfig/language",
        _ => "/etc/sysconfig/i18n",
    }
}

/// `LANG` from `/etc/default/locale` (shell syntax), if set.
fn read_debian_locale(host: &Host) -> Option<String> {
    let text = host.read_to_string(DEBIAN_LOCALE_FN).ok()?;
    let mut val = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        if let Some((k, v)) = line.split_once('=') {
            if k.trim() == "LANG" {
                let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
                val = Some(v.to_string());
            }
        }
    }
    val.filter(|v| !v.is_empty())
}

fn apply_locale(ctx: &Ctx, locale: &str, out_fn: Option<&str>) -> ModResult {
    if locale.is_empty() {
        return Err(ModuleError::new("Failed to provide locale value."));
    }
    match ctx.distro.family {
        Family::Debian => apply_debian(ctx, locale, out_fn.unwrap_or(DEBIAN_LOCALE_FN)),
        Family::RedHat | Family::Suse => {
            let path = out_fn.unwrap_or(redhat_locale_fn(ctx));
            crate::sysconfig::update(ctx.host, path, "LANG", locale, ctx.version)?;
            Ok(())
        }
        Family::Arch => families::arch(ctx, locale, out_fn),
        Family::Alpine => families::alpine(ctx, locale, out_fn),
        Family::Gentoo => families::gentoo(ctx),
        Family::FreeBsd => families::freebsd(ctx, locale),
        Family::OpenBsd | Family::NetBsd => {
            log::debug!("Cannot set the locale.");
            Ok(())
        }
        Family::Other => {
            log::warn!(
                "Setting the locale on {} is not supported by cloud-init-rs yet; locale {locale} was not applied",
                ctx.distro.name
            );
            Ok(())
        }
    }
}

/// Upstream's Debian `apply_locale`: regenerate when the requested locale
/// differs from the system's (or nothing is recorded yet), then record it.
fn apply_debian(ctx: &Ctx, locale: &str, out_fn: &str) -> ModResult {
    let system = read_debian_locale(ctx.host);
    let distro_locale = system.clone().unwrap_or_else(|| "C.UTF-8".into());
    let conf_exists = ctx.host.exists(out_fn);
    let unset = system.is_none();
    if unset {
        log::debug!(
            "System locale not found in {DEBIAN_LOCALE_FN}. Assuming system locale is C.UTF-8 based on hardcoded default"
        );
    } else {
        log::debug!("System locale set to {distro_locale} via {DEBIAN_LOCALE_FN}");
    }
    let need_regen = locale.to_lowercase() != distro_locale.to_lowercase() || !conf_exists || unset;
    let need_conf = !conf_exists || need_regen || unset;
    if need_regen {
        if ["c", "c.utf-8", "posix"].contains(&locale.to_lowercase().as_str()) {
            log::debug!("LANG={locale} does not require rengeneration");
        } else {
            require_tool(ctx.host, "locale-gen")?;
            log::debug!("Generating locales for {locale}");
            crate::runparts::run_passthrough(
                ctx.host,
                &Cmd::new(["locale-gen", locale]).in_target(),
            )?;
        }
    } else {
        log::debug!(
            "System has 'LANG={distro_locale}' requested '{locale}', skipping regeneration."
        );
    }
    if need_conf {
        log::debug!("Updating {out_fn} with locale setting LANG={locale}");
        require_tool(ctx.host, "update-locale")?;
        crate::runparts::run_passthrough(
            ctx.host,
            &Cmd::new([
                "update-locale".to_string(),
                format!("--locale-file={out_fn}"),
                format!("LANG={locale}"),
            ])
            .in_target(),
        )?;
    }
    Ok(())
}

/// Upstream installs the `locales` package when a tool is missing; we do
/// not install packages, so a missing tool is an error naming the package.
fn require_tool(host: &Host, prog: &str) -> ModResult {
    let found = crate::runparts::target_which(host, prog).is_some();
    if found {
        Ok(())
    } else {
        Err(ModuleError::new(format!(
            "{prog} not found in the target's PATH; install the 'locales' package (cloud-init-rs does not install it)"
        )))
    }
}

mod families;

#[cfg(test)]
mod tests;
