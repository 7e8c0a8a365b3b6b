//! `apt_configure`: apt's sources, keys, mirrors, proxies and debconf
//! answers, as upstream 25.1.4's `cc_apt_configure` (with Debian's
//! `generate_mirrorlists` patch).
//!
//! The config is first brought to the `apt:` form (v1 `apt_sources` lists
//! and v2 top-level `apt_*` keys are converted, with upstream's deprecation
//! messages). Then, in upstream's order: debconf selections; the release
//! and architecture; the primary and security mirrors; the packages the
//! config needs (gnupg, software-properties-common); unless
//! `preserve_sources_list`, the mirror keys, the distro's sources file
//! (deb822 `<distro>.sources`, or `sources.list` for a one-line-style
//! `sources_list`) and the renaming of cached lists; the proxy and `conf`
//! files; last the `sources` entries, their keys and an `apt-get update`.
//! Every command runs inside the target.

mod aptconf;
mod convert;
mod debconf;
mod facts;
mod keys;
mod layouts;
mod mirrors;
mod repomatch;
mod sources;
mod sources_list;

use crate::{Ctx, ModResult, ModuleError};
use ci_pyval::{is_false, is_true, py_repr, py_type, truthy};
use serde_json::{Map, Value};

use keys::Gpg;

/// `add_apt_repo_match`'s default: `XXX:YYY` sources (`ppa:`,
/// `cloud-archive:`) go to add-apt-repository.
const ADD_APT_REPO_MATCH: &str = r"^[\w-]+:\w";

pub fn handle(ctx: &Ctx) -> ModResult {
    let mut cfg = match ctx.cfg {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    convert::to_v3(&mut cfg)?;
    let apt = match cfg.get("apt") {
        None => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            return Err(ModuleError::with_class(
                "ValueError",
                format!(
                    "Expected dictionary for 'apt' config, found <class '{}'>",
                    py_type(other)
                ),
            ))
        }
    };
    debconf::apply(ctx, &apt)?;
    let mut gpg = Gpg::new(ctx);
    let res = apply_apt(ctx, apt, &mut gpg);
    gpg.cleanup();
    res
}

fn apply_apt(ctx: &Ctx, mut apt: Map<String, Value>, gpg: &mut Gpg) -> ModResult {
    if apt.is_empty() {
        if let Some(why) = facts::nothing_to_configure(ctx) {
            log::debug!("Nothing to do: No apt config and {why}");
            return Ok(());
        }
    }
    log::debug!(
        "handling apt config: {}",
        py_repr(&Value::Object(apt.clone()))
    );

    let release = facts::codename(ctx);
    let arch = facts::dpkg_architecture(ctx)?;
    let mut mirrors = mirrors::find_apt_mirror_info(ctx, &apt, &arch)?;
    log::debug!(
        "Apt Mirror info: {}",
        py_repr(&Value::Object(mirrors.clone()))
    );

    let pattern = match apt.get("add_apt_repo_match") {
        None => Some(ADD_APT_REPO_MATCH.to_string()),
        Some(v) if truthy(v) => Some(ci_pyval::py_str(v)),
        Some(_) => None,
    };
    let matcher = match pattern {
        Some(p) => Some(repomatch::Matcher::new(&p).map_err(|e| {
            ModuleError::with_class("re.error", format!("add_apt_repo_match {p:?}: {e}"))
        })?),
        None => None,
    };
    ensure_dependencies(ctx, &apt, matcher.as_ref())?;

    let preserve = apt
        .get("preserve_sources_list")
        .cloned()
        .unwrap_or(Value::Bool(false));
    if apt.get("generate_mirrorlists").is_some_and(is_true) {
        sources_list::generate_mirrorlists(ctx, &mirrors)?;
    } else if is_false(&preserve) {
        let keys = keys::add_mirror_keys(ctx, &mut apt, gpg)?;
        sources_list::generate(ctx, &apt, &release, &mirrors, &keys)?;
        mirrors::rename_apt_lists(ctx, &mirrors, &arch)?;
    }

    if let Err(e) = aptconf::apply(ctx, &apt) {
        log::error!("Failed to apply proxy or apt config info:");
        log::debug!("{e}");
    }

    if let Some(srcs) = apt.get("sources").cloned() {
        mirrors.insert("RELEASE".into(), Value::String(release.clone()));
        let primary = mirrors.get("PRIMARY").cloned().unwrap_or(Value::Null);
        mirrors.insert("MIRROR".into(), primary);
        sources::add_apt_sources(ctx, srcs, gpg, mirrors, matcher.as_ref())?;
    }
    Ok(())
}

/// Upstream's `_ensure_dependencies`: gnupg when a key is to be added,
/// software-properties-common when a source goes to add-apt-repository,
/// installed in one go when the target lacks the command.
fn ensure_dependencies(
    ctx: &Ctx,
    apt: &Map<String, Value>,
    matcher: Option<&repomatch::Matcher>,
) -> ModResult {
    let has_key = |v: &Value| v.get("key").is_some() || v.get("keyid").is_some();
    let mut needs_gpg = false;
    let mut needs_aar = false;
    let preserve = apt
        .get("preserve_sources_list")
        .cloned()
        .unwrap_or(Value::Bool(false));
    if is_false(&preserve) {
        for which in ["primary", "security"] {
            if let Some(Value::Array(items)) = apt.get(which) {
                needs_gpg |= items.iter().any(has_key);
            }
        }
    }
    if let Some(Value::Object(srcs)) = apt.get("sources") {
        for ent in srcs.values() {
            needs_gpg |= has_key(ent);
            let source = ent.get("source").map(ci_pyval::py_str).unwrap_or_default();
            if let Some(m) = matcher {
                needs_aar |= m.is_match(&source);
            }
        }
    }
    let mut missing = Vec::new();
    if needs_aar && ctx.host.which_target("add-apt-repository").is_none() {
        missing.push("software-properties-common".to_string());
    }
    if needs_gpg && ctx.host.which_target("gpg").is_none() {
        missing.push("gnupg".to_string());
    }
    missing.sort();
    if !missing.is_empty() {
        crate::pkg::install_packages(ctx, &missing)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
