//! The distro's own sources: `sources_list` from the config or the
//! distro's template, rendered with the mirrors and release, suites in
//! `disable_suites` commented out, written as deb822
//! `<sourceparts>/<distro>.sources` (replacing the old `sources.list`), or
//! as `sources.list` when the text is in the one-line format.

use super::layouts::{self, Params};
use super::Ctx;
use crate::template::render_string;
use crate::{subp, ModResult, ModuleError};
use ci_host::{Cmd, WriteOpts};
use ci_pyval::{py_list, py_str, str_list, truthy};
use serde_json::{Map, Value};

const REDACT_PREFIX: &str = "# cloud-init disable_suites redacted: ";
const UBUNTU_SOURCES_LIST: &str =
    "# Ubuntu sources have moved to the /etc/apt/sources.list.d/ubuntu.sources
# file, which uses the deb822 format. Use deb822-formatted .sources files
# to manage package sources in the /etc/apt/sources.list.d/ directory.
# See the sources.list(5) manual page for details.
";

/// `sources.list` and the parts directory as apt is configured in the
/// target (`apt-config dump`), else apt's defaults.
fn apt_paths(ctx: &Ctx) -> (String, String) {
    let mut etc = "etc/apt".to_string();
    let mut list = "sources.list".to_string();
    let mut parts = "sources.list.d".to_string();
    let cmd = Cmd::new(["apt-config", "dump"]).in_target();
    let dump = if ctx.host.which_target("apt-config").is_some() {
        subp::run(ctx.host, &cmd, &subp::shown_list(&cmd.argv), &[0])
            .ok()
            .map(|o| o.stdout_str())
    } else {
        None
    };
    if let Some(dump) = dump {
        for line in dump.lines() {
            for (key, slot) in [
                ("Dir::Etc ", &mut etc),
                ("Dir::Etc::sourcelist ", &mut list),
                ("Dir::Etc::sourceparts ", &mut parts),
            ] {
                if let Some(pos) = line.find(key) {
                    let rest = &line[pos + key.len()..];
                    if let Some(v) = rest.strip_prefix('"') {
                        let v = v.split('"').next().unwrap_or("");
                        if !v.is_empty() {
                            *slot = v.to_string();
                        }
                    }
                }
            }
        }
    }
    (format!("/{etc}/{list}"), format!("/{etc}/{parts}/"))
}

/// Upstream's `is_deb822_sources_format`.
pub(super) fn is_deb822(text: &str) -> bool {
    if text
        .lines()
        .any(|l| l.starts_with("deb ") || l.starts_with("deb-src "))
    {
        return false;
    }
    if text.lines().any(|l| {
        ["Types: ", "Suites: ", "Components: ", "URIs: "]
            .iter()
            .any(|k| l.starts_with(k))
    }) {
        return true;
    }
    log::warn!(
        "apt.sources_list value does not match either deb822 source keys or deb/deb-src list keys. Assuming APT deb/deb-src list format."
    );
    false
}

fn render_error(e: String) -> ModuleError {
    ModuleError::with_class("KeyError", e)
}

pub(super) fn generate(
    ctx: &Ctx,
    apt: &Map<String, Value>,
    release: &str,
    mirrors: &Map<String, Value>,
    keys: &Map<String, Value>,
) -> ModResult {
    let (sources_list, parts) = apt_paths(ctx);
    let deb822_file = format!("{parts}{}.sources", ctx.distro.name);
    let mut target = deb822_file.clone();

    let mut params = Map::new();
    params.insert("RELEASE".into(), Value::String(release.into()));
    params.insert("codename".into(), Value::String(release.into()));
    for (k, v) in keys {
        params.insert(k.clone(), v.clone());
    }
    for (k, v) in mirrors {
        params.insert(k.clone(), v.clone());
        params.insert(k.to_lowercase(), v.clone());
    }

    let rendered = match apt.get("sources_list").filter(|v| truthy(v)) {
        Some(t) => render_string(&py_str(t), &params).map_err(render_error)?,
        None => {
            log::info!("No custom template provided, fall back to builtin");
            match builtin(ctx, &params, release) {
                Some(r) => r?,
                None => {
                    log::warn!("No template found, not rendering {target}");
                    return Ok(());
                }
            }
        }
    };
    if !is_deb822(&rendered) {
        log::debug!(
            "Provided 'sources_list' user-data is not deb822 format, fallback to {sources_list}"
        );
        target = sources_list.clone();
    }
    let disabled = apt
        .get("disable_suites")
        .map(|v| str_list(Some(v)))
        .unwrap_or_default();
    let text = disable_suites(&disabled, &rendered, release);
    ctx.host
        .write_atomic(&target, text.as_bytes(), &WriteOpts::mode(0o644))?;
    if target == deb822_file && ctx.host.exists(&sources_list) {
        if ctx.distro.name == "ubuntu" {
            let current = ctx.host.read_to_string(&sources_list).unwrap_or_default();
            if current != UBUNTU_SOURCES_LIST {
                log::info!("Replacing {sources_list} to favor deb822 source format");
                ctx.host.write_atomic(
                    &sources_list,
                    UBUNTU_SOURCES_LIST.as_bytes(),
                    &WriteOpts::mode(0o644),
                )?;
            }
        } else {
            log::info!("Removing {sources_list} to favor deb822 source format");
            ctx.host.remove_file(&sources_list)?;
        }
    }
    Ok(())
}

/// The distro's deb822 template from the target's templates directory
/// (then the generic `sources.list`), else what upstream's shipped one
/// renders to. `None`: no template at all.
fn builtin(
    ctx: &Ctx,
    params: &Map<String, Value>,
    release: &str,
) -> Option<Result<String, ModuleError>> {
    let distro = &ctx.distro.name;
    for name in [
        format!("sources.list.{distro}.deb822"),
        "sources.list".into(),
    ] {
        let path = ctx.paths.templates_dir.join(format!("{name}.tmpl"));
        if ctx.host.resolve(&path).is_file() {
            let text = match ctx.host.read_to_string(&path) {
                Ok(t) => t,
                Err(e) => return Some(Err(e.into())),
            };
            return Some(render_string(&text, params).map_err(render_error));
        }
    }
    let get = |k: &str| params.get(k).filter(|v| truthy(v)).map(py_str);
    let mirror = get("mirror").unwrap_or_default();
    let security = get("security").unwrap_or_default();
    let primary_key = get("primary_key");
    let security_key = get("security_key");
    let p = Params {
        mirror: &mirror,
        security: &security,
        codename: release,
        primary_key: primary_key.as_deref(),
        security_key: security_key.as_deref(),
    };
    layouts::deb822(distro, &p).map(Ok)
}

/// The suite names `disable_suites` may use for the release's suites.
fn map_known_suite(suite: &str) -> String {
    match suite {
        "updates" => "$RELEASE-updates",
        "backports" => "$RELEASE-backports",
        "security" => "$RELEASE-security",
        "proposed" => "$RELEASE-proposed",
        "release" => "$RELEASE",
        other => other,
    }
    .to_string()
}

fn release_suite(suite: &str, release: &str) -> String {
    let mut vars = Map::new();
    vars.insert("RELEASE".into(), Value::String(release.into()));
    let mapped = map_known_suite(suite);
    render_string(&mapped, &vars).unwrap_or(mapped)
}

/// Upstream's `disable_suites`.
pub(super) fn disable_suites(disabled: &[String], src: &str, release: &str) -> String {
    if disabled.is_empty() {
        return src.to_string();
    }
    if is_deb822(src) {
        return disable_suites_deb822(disabled, src, release);
    }
    let mut out = src.to_string();
    for suite in disabled {
        let wanted = release_suite(suite, release);
        log::debug!("Disabling suite {} as {wanted}", map_known_suite(suite));
        let mut next = String::new();
        for line in out.split_inclusive('\n') {
            if line.starts_with('#') {
                next.push_str(line);
                continue;
            }
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() > 1 {
                let mut pcol = 2;
                if cols[1].starts_with('[') {
                    for col in &cols[1..] {
                        pcol += 1;
                        if col.ends_with(']') {
                            break;
                        }
                    }
                }
                if cols.get(pcol) == Some(&wanted.as_str()) {
                    next.push_str("# suite disabled by cloud-init: ");
                }
            }
            next.push_str(line);
        }
        out = next;
    }
    out
}

fn disable_suites_deb822(disabled: &[String], src: &str, release: &str) -> String {
    let names: Vec<String> = disabled.iter().map(|s| release_suite(s, release)).collect();
    log::debug!(
        "Disabling suites {} as {}",
        py_list(disabled),
        py_list(&names)
    );
    let mut out: Vec<String> = Vec::new();
    let mut entry = String::new();
    for line in src.lines() {
        if line.starts_with('#') {
            if entry.is_empty() {
                out.push(line.to_string());
            } else {
                entry.push_str(line);
                entry.push('\n');
            }
            continue;
        }
        if line.trim().is_empty() {
            if !entry.is_empty() {
                out.push(close_entry(&entry));
                entry.clear();
            }
            out.push(line.to_string());
            continue;
        }
        if !line.starts_with("Suites:") {
            entry.push_str(line);
            entry.push('\n');
            continue;
        }
        let mut new_line = line.to_string();
        let orig: Vec<&str> = line.split_whitespace().skip(1).collect();
        let kept: Vec<&str> = orig
            .iter()
            .copied()
            .filter(|s| !names.iter().any(|n| n == s))
            .collect();
        if kept != orig {
            entry.push_str(REDACT_PREFIX);
            entry.push_str(line);
            entry.push('\n');
            new_line = format!("Suites: {}", kept.join(" "));
        }
        entry.push_str(&new_line);
        entry.push('\n');
    }
    if !entry.is_empty() {
        out.push(close_entry(&entry));
    }
    out.join("\n")
}

/// An entry left with no suite is commented out whole, its original
/// `Suites:` line restored.
fn close_entry(entry: &str) -> String {
    let has_suite = entry.split('\n').skip(1).any(|l| {
        l.strip_prefix("Suites:")
            .and_then(|r| r.strip_prefix([' ', '\t']))
            .is_some_and(|r| {
                r.trim_start_matches([' ', '\t'])
                    .starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '-')
            })
    });
    if has_suite {
        return entry.to_string();
    }
    let mut kept = String::new();
    // Upstream drops every "\nSuites:..." line (the first line has no
    // newline before it and stays).
    for (i, l) in entry.split_inclusive('\n').enumerate() {
        if i > 0 && l.starts_with("Suites:") {
            continue;
        }
        kept.push_str(&l.replacen(REDACT_PREFIX, "", usize::MAX));
    }
    let mut s = String::from("## Entry disabled by cloud-init, due to disable_suites\n");
    for l in kept.split_inclusive('\n') {
        if l.trim().is_empty() {
            s.push_str(l);
        } else {
            s.push_str("# disabled by cloud-init: ");
            s.push_str(l);
        }
    }
    s
}

/// Debian's `generate_mirrorlists`: one apt-transport-mirror list per
/// mirror under `/etc/apt/mirrors`.
pub(super) fn generate_mirrorlists(ctx: &Ctx, mirrors: &Map<String, Value>) -> ModResult {
    let distro = &ctx.distro.name;
    let get = |k: &str| {
        mirrors
            .get(k)
            .map(py_str)
            .ok_or_else(|| ModuleError::with_class("KeyError", ci_pyval::py_quote(k)))
    };
    let primary = get("PRIMARY")?;
    let security = get("SECURITY")?;
    ctx.host.create_dir_all("/etc/apt/mirrors", 0o755)?;
    ctx.host.write_atomic(
        format!("/etc/apt/mirrors/{distro}.list"),
        format!("{primary}\n").as_bytes(),
        &WriteOpts::mode(0o644),
    )?;
    ctx.host.write_atomic(
        format!("/etc/apt/mirrors/{distro}-security.list"),
        format!("{security}\n").as_bytes(),
        &WriteOpts::mode(0o644),
    )?;
    Ok(())
}
