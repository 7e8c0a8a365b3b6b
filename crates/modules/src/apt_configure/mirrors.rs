//! Primary and security mirrors: the `apt` config's per-arch entries
//! (`uri`, then `search`, then `search_dns`), else the distro's
//! `package_mirrors`, else upstream's Ubuntu archive defaults.
//!
//! Name resolution: a literal IP is always usable; names are looked up in
//! the target's `/etc/hosts`; under a sandbox root nothing else is asked
//! (upstream runs there without a network, where only those resolve), on a
//! real machine the system resolver is asked, guarding against resolvers
//! that answer every name.

use super::Ctx;
use crate::ModuleError;
use ci_pyval::{py_repr, py_str, str_list};
use serde_json::{Map, Value};
use std::net::{IpAddr, ToSocketAddrs};

const PRIMARY_ARCHES: &[&str] = &["amd64", "i386"];
const PORTS_ARCHES: &[&str] = &["s390x", "arm64", "armhf", "powerpc", "ppc64el", "riscv64"];

/// Upstream's `get_default_mirrors`.
pub(super) fn default_mirrors(arch: &str) -> Result<Map<String, Value>, ModuleError> {
    let (p, s) = if PRIMARY_ARCHES.contains(&arch) {
        (
            "http://archive.ubuntu.com/ubuntu/",
            "http://security.ubuntu.com/ubuntu/",
        )
    } else if PORTS_ARCHES.contains(&arch) {
        (
            "http://ports.ubuntu.com/ubuntu-ports",
            "http://ports.ubuntu.com/ubuntu-ports",
        )
    } else {
        return Err(ModuleError::with_class(
            "ValueError",
            format!("No default mirror known for arch {arch}"),
        ));
    };
    let mut m = Map::new();
    m.insert("PRIMARY".into(), Value::String(p.into()));
    m.insert("SECURITY".into(), Value::String(s.into()));
    Ok(m)
}

/// Upstream's `find_apt_mirror_info`: PRIMARY, SECURITY (and whatever the
/// distro's mirror search adds), plus MIRROR = PRIMARY.
pub(super) fn find_apt_mirror_info(
    ctx: &Ctx,
    apt: &Map<String, Value>,
    arch: &str,
) -> Result<Map<String, Value>, ModuleError> {
    let pmirror = get_mirror(ctx, apt, "primary", arch)?;
    log::debug!("got primary mirror: {}", opt_repr(&pmirror));
    let smirror = get_mirror(ctx, apt, "security", arch)?;
    log::debug!("got security mirror: {}", opt_repr(&smirror));
    let mut info = match pmirror {
        Some(p) => {
            let s = smirror.unwrap_or_else(|| p.clone());
            let mut m = Map::new();
            m.insert("PRIMARY".into(), p);
            m.insert("SECURITY".into(), s);
            m
        }
        None => {
            let ds = datasource_mirrors(ctx, arch);
            if ds.is_empty() {
                default_mirrors(arch)?
            } else {
                let mut m = ds.clone();
                let get = |k: &str| {
                    ds.get(k)
                        .cloned()
                        .ok_or_else(|| ModuleError::with_class("KeyError", ci_pyval::py_quote(k)))
                };
                m.insert("PRIMARY".into(), get("primary")?);
                m.insert("SECURITY".into(), get("security")?);
                m
            }
        }
    };
    let primary = info.get("PRIMARY").cloned().unwrap_or(Value::Null);
    info.insert("MIRROR".into(), primary);
    Ok(info)
}

fn opt_repr(v: &Option<Value>) -> String {
    v.as_ref().map(py_repr).unwrap_or_else(|| "None".into())
}

/// The entry of a mirror list for `arch`, else the last `default` one.
fn arch_entry<'a>(list: &'a [Value], arch: &str) -> Option<&'a Value> {
    let mut default = None;
    for item in list {
        let arches = str_list(item.get("arches"));
        if arches.iter().any(|a| a == arch) {
            return Some(item);
        }
        if arches.iter().any(|a| a == "default") {
            default = Some(item);
        }
    }
    default
}

fn get_mirror(
    ctx: &Ctx,
    apt: &Map<String, Value>,
    which: &str,
    arch: &str,
) -> Result<Option<Value>, ModuleError> {
    let Some(Value::Array(list)) = apt.get(which) else {
        return Ok(None);
    };
    let Some(mcfg) = arch_entry(list, arch) else {
        return Ok(None);
    };
    if let Some(uri) = mcfg.get("uri").filter(|v| !v.is_null()) {
        return Ok(Some(uri.clone()));
    }
    if let Some(search) = mcfg.get("search").filter(|v| !v.is_null()) {
        let cands = str_list(Some(search));
        if let Some(found) = search_for_mirror(ctx, &cands) {
            return Ok(Some(Value::String(found)));
        }
    }
    let dns = mcfg.get("search_dns").is_some_and(ci_pyval::truthy);
    if dns {
        return Ok(search_dns(ctx, which).map(Value::String));
    }
    Ok(None)
}

/// Upstream's `search_for_mirror_dns`: `<distro>-mirror` (or
/// `<distro>-security-mirror`) in the host's domain, `.localdomain`, and
/// bare.
fn search_dns(ctx: &Ctx, which: &str) -> Option<String> {
    let label = if which == "primary" {
        "mirror"
    } else {
        "security-mirror"
    };
    let fqdn = crate::hostname_util::get_hostname_fqdn(ctx).fqdn;
    let domain = fqdn.split('.').skip(1).collect::<Vec<_>>().join(".");
    let mut doms = Vec::new();
    if !domain.is_empty() {
        doms.push(format!(".{domain}"));
    }
    doms.push(".localdomain".into());
    doms.push(String::new());
    let distro = &ctx.distro.name;
    let cands: Vec<String> = doms
        .iter()
        .map(|d| format!("http://{distro}-{label}{d}/{distro}"))
        .collect();
    search_for_mirror(ctx, &cands)
}

/// Upstream's `search_for_mirror`: the first candidate whose host resolves.
pub(super) fn search_for_mirror(ctx: &Ctx, cands: &[String]) -> Option<String> {
    log::debug!(
        "search for mirror in candidates: '{}'",
        py_repr(&Value::from(cands.to_vec()))
    );
    let found = cands.iter().find(|c| resolvable(ctx, c)).cloned();
    if let Some(f) = &found {
        log::debug!("found working mirror: '{f}'");
    }
    found
}

/// The host part of a URL: `netloc` without user info and port.
fn url_host(url: &str) -> (String, String) {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or("");
    let netloc = rest.split(['/', '?', '#']).next().unwrap_or("").to_string();
    let hostport = netloc.rsplit('@').next().unwrap_or("");
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next().unwrap_or("").to_string()
    } else {
        hostport.split(':').next().unwrap_or("").to_string()
    };
    (netloc, host.to_lowercase())
}

fn resolvable(ctx: &Ctx, url: &str) -> bool {
    let (netloc, host) = url_host(url);
    if netloc.trim_matches(['[', ']']).parse::<IpAddr>().is_ok() {
        return true;
    }
    if host.is_empty() {
        return false;
    }
    // A numeric host with a port still "resolves" without any lookup.
    if host.parse::<IpAddr>().is_ok() {
        return true;
    }
    if in_target_hosts(ctx, &host) {
        return true;
    }
    if ctx.host.is_sandbox() {
        return false;
    }
    let Some(addr) = lookup(&host) else {
        return false;
    };
    // A resolver that answers names that cannot exist redirects: its
    // answer means nothing.
    let bad: Vec<IpAddr> = ["does-not-exist.example.com.", "example.invalid."]
        .iter()
        .filter_map(|n| lookup(n))
        .collect();
    !bad.contains(&addr)
}

fn lookup(name: &str) -> Option<IpAddr> {
    (name, 0u16)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .map(|a| a.ip())
}

fn in_target_hosts(ctx: &Ctx, host: &str) -> bool {
    let text = ctx.host.read_to_string("/etc/hosts").unwrap_or_default();
    text.lines().any(|l| {
        let l = l.split('#').next().unwrap_or("");
        let mut words = l.split_whitespace();
        words.next().is_some() && words.any(|w| w.eq_ignore_ascii_case(host.trim_end_matches('.')))
    })
}

/// The distro's `package_mirrors` for `arch`: failsafe entries, replaced
/// by the first resolvable `search` candidate (templates filled with the
/// datasource's availability zone and region).
fn datasource_mirrors(ctx: &Ctx, arch: &str) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(Value::Array(list)) = ctx.distro.system_info.get("package_mirrors") else {
        return out;
    };
    let Some(info) = arch_entry(list, arch) else {
        return out;
    };
    if let Some(Value::Object(fs)) = info.get("failsafe") {
        for (k, v) in fs {
            out.insert(k.clone(), v.clone());
        }
    }
    let subst = substitutions(ctx);
    if let Some(Value::Object(search)) = info.get("search") {
        for (name, list) in search {
            let cands: Vec<String> = str_list(Some(list))
                .iter()
                .filter_map(|t| fill(t, &subst))
                .filter_map(|m| sanitize_mirror_url(&m))
                .collect();
            if let Some(found) = search_for_mirror(ctx, &cands) {
                out.insert(name.clone(), Value::String(found));
            }
        }
    }
    log::debug!(
        "filtered distro mirror info: {}",
        py_repr(&Value::Object(out.clone()))
    );
    out
}

fn substitutions(ctx: &Ctx) -> Vec<(String, String)> {
    let md = &ctx.instance.metadata;
    let mut subst = Vec::new();
    let az = md
        .get("availability-zone")
        .or_else(|| md.get("availability_zone"))
        .filter(|v| ci_pyval::truthy(v))
        .or_else(|| md.get("placement").and_then(|p| p.get("availability-zone")))
        .map(py_str)
        .filter(|s| !s.is_empty());
    if let Some(az) = az {
        subst.push(("availability_zone".into(), az.clone()));
        if ctx.instance.datasource_name == "Ec2" && is_ec2_zone(&az) {
            subst.push(("ec2_region".into(), az[..az.len() - 1].to_string()));
        }
    }
    if let Some(region) = md.get("region").map(py_str).filter(|s| !s.is_empty()) {
        subst.push(("region".into(), region));
    }
    subst
}

/// `^[a-z][a-z]-(?:[a-z]+-)+[0-9][a-z]$`, as `us-east-1b`.
pub(super) fn is_ec2_zone(az: &str) -> bool {
    let parts: Vec<&str> = az.split('-').collect();
    let lower = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
    let n = parts.len();
    n >= 3
        && parts[0].len() == 2
        && lower(parts[0])
        && parts[1..n - 1].iter().all(|p| lower(p))
        && parts[n - 1].len() == 2
        && parts[n - 1].as_bytes()[0].is_ascii_digit()
        && parts[n - 1].as_bytes()[1].is_ascii_lowercase()
}

/// Python's `tmpl % subst` for `%(name)s` templates; a missing name skips
/// the template.
pub(super) fn fill(tmpl: &str, subst: &[(String, String)]) -> Option<String> {
    let mut out = String::new();
    let mut rest = tmpl;
    while let Some(i) = rest.find("%(") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find(")s")?;
        let name = &after[..end];
        let (_, v) = subst.iter().find(|(k, _)| k == name)?;
        out.push_str(v);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Some(out)
}

/// Upstream's `_sanitize_mirror_url`: hostname labels may only hold
/// letters, digits and `-` (others become `-`), and must not start or
/// end with `-`; an unusable host drops the candidate.
pub(super) fn sanitize_mirror_url(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let (netloc, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = match netloc.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (netloc, None),
    };
    let mut labels = Vec::new();
    for label in host.split('.') {
        let clean: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        let clean = clean.trim_matches('-').to_string();
        if clean.is_empty() {
            return None;
        }
        labels.push(clean);
    }
    let mut out = format!("{scheme}://{}", labels.join("."));
    if let Some(p) = port {
        out.push(':');
        out.push_str(p);
    }
    out.push_str(path);
    Some(out)
}

/// Upstream's `mirrorurl_to_apt_fileprefix`.
pub(super) fn apt_file_prefix(mirror: &str) -> String {
    let s = mirror.strip_suffix('/').unwrap_or(mirror);
    let s = s.split_once("://").map(|(_, r)| r).unwrap_or(s);
    s.replace('/', "_")
}

/// Upstream's `rename_apt_lists`: lists cached for the default (Ubuntu)
/// mirrors are renamed to the new mirror's prefix.
pub(super) fn rename_apt_lists(
    ctx: &Ctx,
    mirrors: &Map<String, Value>,
    arch: &str,
) -> Result<(), ModuleError> {
    const LISTS: &str = "/var/lib/apt/lists";
    for (name, old) in default_mirrors(arch)? {
        let Some(new) = mirrors.get(&name).filter(|v| ci_pyval::truthy(v)) else {
            continue;
        };
        let old_prefix = apt_file_prefix(&py_str(&old));
        let new_prefix = apt_file_prefix(&py_str(new));
        if old_prefix == new_prefix {
            continue;
        }
        let head = format!("{old_prefix}_");
        for entry in ctx.host.list_dir(LISTS) {
            let Some(tail) = entry.strip_prefix(&old_prefix) else {
                continue;
            };
            if !entry.starts_with(&head) {
                continue;
            }
            let from = format!("{LISTS}/{entry}");
            let to = format!("{LISTS}/{new_prefix}{tail}");
            log::debug!("Renaming apt list {from} to {to}");
            if let Err(e) = ctx.host.rename(&from, &to) {
                log::warn!("Failed to rename apt list:");
                log::debug!("{e}");
            }
        }
    }
    Ok(())
}
