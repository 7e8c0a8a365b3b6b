//! `apk_configure`: writes Alpine's `/etc/apk/repositories` from
//! `apk_repos.alpine_repo` (main, optionally community and edge testing, on
//! a mirror) and `apk_repos.local_repo_base_url`, unless
//! `preserve_repositories` is set.

use crate::{Ctx, ModResult, ModuleError};
use ci_host::WriteOpts;
use ci_pyval::{cfg_bool, py_str, py_type, truthy};
use serde_json::Value;

const REPO_FILE: &str = "/etc/apk/repositories";
/// The mirror used when `base_url` is not given.
const DEFAULT_MIRROR: &str = "https://alpine.global.ssl.fastly.net/alpine";

pub fn handle(ctx: &Ctx) -> ModResult {
    let name = ctx.name;
    let section = match ctx.get("apk_repos") {
        Some(v) if truthy(v) => v,
        _ => {
            log::debug!("Skipping module named {name}, no 'apk_repos' section found");
            return Ok(());
        }
    };
    let Value::Object(_) = section else {
        return Err(no_get(section));
    };
    if cfg_bool(section, "preserve_repositories", false) {
        log::debug!("Skipping module named {name}, 'preserve_repositories' is set");
        return Ok(());
    }
    let alpine_repo = match section.get("alpine_repo") {
        Some(v) if truthy(v) => v,
        _ => {
            log::debug!("Skipping module named {name}, no 'alpine_repo' configuration found");
            return Ok(());
        }
    };
    let Value::Object(_) = alpine_repo else {
        return Err(no_get(alpine_repo));
    };
    let version = match alpine_repo.get("version") {
        Some(v) if truthy(v) => v,
        _ => {
            log::debug!("Skipping module named {name}, 'version' not specified in alpine_repo");
            return Ok(());
        }
    };
    let local_repo = section
        .get("local_repo_base_url")
        .cloned()
        .unwrap_or_else(|| Value::String(String::new()));
    let text = repositories(alpine_repo, version, &local_repo);
    // Upstream renders through a temporary template file in root's tmp
    // directory, which it creates world-writable and leaves behind.
    let tmp_dir = ctx.paths.run_dir.join("tmp");
    if !ctx.host.is_dir(&tmp_dir) {
        ctx.host.create_dir_all(&tmp_dir, 0o755)?;
        ctx.host.set_mode(&tmp_dir, 0o1777)?;
    }
    log::debug!("Generating Alpine repository configuration file: {REPO_FILE}");
    ctx.host
        .write_atomic(REPO_FILE, text.as_bytes(), &WriteOpts::mode(0o644))?;
    Ok(())
}

fn no_get(v: &Value) -> ModuleError {
    ModuleError::with_class(
        "AttributeError",
        format!("'{}' object has no attribute 'get'", py_type(v)),
    )
}

/// The file upstream's template renders: a fixed comment header, the main
/// repository, community and edge testing when enabled (testing with a
/// warning on a non-edge release), then the local repository if one is set.
fn repositories(alpine_repo: &Value, version: &Value, local_repo: &Value) -> String {
    let base = alpine_repo
        .get("base_url")
        .map(py_str)
        .unwrap_or_else(|| DEFAULT_MIRROR.to_string());
    let version_text = py_str(version);
    let enabled = |key: &str| alpine_repo.get(key).is_some_and(truthy);
    let mut out = String::from(
        "#\n# Created by cloud-init\n#\n# This file is written on first boot of an instance\n#\n\n",
    );
    out.push_str(&format!("{base}/{version_text}/main\n"));
    if enabled("community_enabled") {
        out.push_str(&format!("{base}/{version_text}/community\n"));
    }
    if enabled("testing_enabled") {
        // The template compares the value with the text 'edge'.
        if version.as_str() != Some("edge") {
            out.push_str(
                "#\n# Testing - using with non-Edge installation may cause problems!\n#\n",
            );
        }
        out.push_str(&format!("{base}/edge/testing\n"));
    }
    out.push('\n');
    if local_repo.as_str() != Some("") {
        out.push_str(&format!(
            "#\n# Local repo\n#\n{}/{version_text}\n\n",
            py_str(local_repo)
        ));
    }
    out
}

#[cfg(test)]
mod tests;
