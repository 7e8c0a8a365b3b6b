//! `resolv_conf`: write the resolver configuration from `resolv_conf` when
//! `manage_resolv_conf` is true. Most distros get `/etc/resolv.conf`;
//! Photon, Mariner, Azure Linux and AOSC keep DNS in systemd-resolved's
//! `/etc/systemd/resolved.conf`, in that file's own layout.
//!
//! The output is what upstream's `resolv.conf.tmpl` and
//! `systemd.resolved.conf.tmpl` render for the same keys (checked against
//! the oracle in the tests); we render it ourselves rather than shipping
//! the templates.

use crate::{Ctx, ModResult, ModuleError};
use ci_host::WriteOpts;
use ci_pyval::{cfg_bool, py_str, py_type};
use serde_json::{Map, Value};

const RESOLV_CONF: &str = "/etc/resolv.conf";
const RESOLVED_CONF: &str = "/etc/systemd/resolved.conf";

const HEADER: &str = "# Your system has been configured with 'manage-resolv-conf' set to true.\n\
# As a result, cloud-init has written this file with configuration data\n\
# that it has been provided. Cloud-init, by default, will write this file\n\
# a single time (PER_ONCE).\n\
#\n";

pub fn handle(ctx: &Ctx) -> ModResult {
    if ctx.get("manage_resolv_conf").is_none() {
        log::debug!(
            "Skipping module named {}, no 'manage_resolv_conf' key in configuration",
            ctx.name
        );
        return Ok(());
    }
    if !cfg_bool(ctx.cfg, "manage_resolv_conf", false) {
        log::debug!(
            "Skipping module named {}, 'manage_resolv_conf' present but set to False",
            ctx.name
        );
        return Ok(());
    }
    let Some(params) = ctx.get("resolv_conf") else {
        log::warn!("manage_resolv_conf True but no parameters provided!");
        return Ok(());
    };
    let target = resolve_conf_fn(&ctx.distro.name);
    let tmpl = if target == RESOLVED_CONF {
        "systemd.resolved.conf"
    } else {
        "resolv.conf"
    };
    let params = ResolvParams::from_value(params)?;
    log::debug!(
        "Writing resolv.conf from template {}",
        ctx.paths
            .templates_dir
            .join(format!("{tmpl}.tmpl"))
            .display()
    );
    let text = if target == RESOLVED_CONF {
        render_resolved(&params)
    } else {
        render_resolv(&params)
    };
    write_through(ctx, target, text.as_bytes())
}

/// Upstream's `distro.resolve_conf_fn`.
fn resolve_conf_fn(distro: &str) -> &'static str {
    match distro {
        "photon" | "mariner" | "azurelinux" | "aosc" => RESOLVED_CONF,
        _ => RESOLV_CONF,
    }
}

/// Upstream's `util.write_file`: an existing symlink (a resolver's stub
/// link, say) is written through inside the root, and the file ends up 0644.
fn write_through(ctx: &Ctx, path: &str, data: &[u8]) -> ModResult {
    let real = ctx.host.canonical(path)?;
    ctx.host
        .write_atomic(&real, data, &WriteOpts::mode(0o644))?;
    Ok(())
}

/// The `resolv_conf` mapping as the templates see it: lists are rendered
/// item by item, options split into bare flags (`true`), dropped ones
/// (`false`) and `key:value` pairs.
#[derive(Debug, Default)]
struct ResolvParams {
    nameservers: Option<Vec<String>>,
    searchdomains: Option<Vec<String>>,
    domain: Option<String>,
    sortlist: Option<Vec<String>>,
    flags: Vec<String>,
    /// Sorted by key, as the template sorts them.
    options: Vec<(String, String)>,
}

impl ResolvParams {
    fn from_value(v: &Value) -> Result<Self, ModuleError> {
        let map = match v {
            Value::Object(m) => m,
            // Upstream tests `"options" in params` first, then calls `.get`.
            Value::Array(_) | Value::String(_) => {
                return Err(ModuleError::with_class(
                    "AttributeError",
                    format!("'{}' object has no attribute 'get'", py_type(v)),
                ))
            }
            other => {
                return Err(ModuleError::with_class(
                    "TypeError",
                    format!("argument of type '{}' is not iterable", py_type(other)),
                ))
            }
        };
        let mut p = ResolvParams {
            nameservers: iter_items(map, "nameservers")?,
            searchdomains: iter_items(map, "searchdomains")?,
            domain: map.get("domain").map(py_str),
            sortlist: iter_items(map, "sortlist")?,
            ..Default::default()
        };
        match map.get("options") {
            None => {}
            Some(Value::Object(opts)) => {
                let mut pairs = Vec::new();
                for (k, v) in opts {
                    match v {
                        Value::Bool(true) => p.flags.push(k.clone()),
                        Value::Bool(false) => {}
                        other => pairs.push((k.clone(), py_str(other))),
                    }
                }
                pairs.sort();
                p.options = pairs;
            }
            Some(other) => {
                return Err(ModuleError::with_class(
                    "AttributeError",
                    format!("'{}' object has no attribute 'items'", py_type(other)),
                ))
            }
        }
        Ok(p)
    }
}

/// What a Jinja `for` loop over `map[key]` yields, as text: list items,
/// a string's characters, a mapping's keys.
fn iter_items(map: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>, ModuleError> {
    let Some(v) = map.get(key) else {
        return Ok(None);
    };
    let items = match v {
        Value::Array(a) => a.iter().map(py_str).collect(),
        Value::String(s) => s.chars().map(String::from).collect(),
        Value::Object(m) => m.keys().cloned().collect(),
        other => {
            return Err(ModuleError::with_class(
                "TypeError",
                format!("'{}' object is not iterable", py_type(other)),
            ))
        }
    };
    Ok(Some(items))
}

/// Each item followed by one space, as the templates' loops write them.
fn spaced(items: &[String]) -> String {
    items.iter().map(|i| format!("{i} ")).collect()
}

fn render_resolv(p: &ResolvParams) -> String {
    let mut out = String::from(HEADER);
    if let Some(ns) = &p.nameservers {
        for s in ns {
            out.push_str(&format!("nameserver {s}\n"));
        }
        out.push('\n');
    }
    if let Some(sd) = &p.searchdomains {
        out.push_str(&format!("search {}\n", spaced(sd)));
    }
    if let Some(d) = &p.domain {
        out.push_str(&format!("domain {d}\n"));
    }
    if let Some(sl) = &p.sortlist {
        out.push_str(&format!("\nsortlist {}", spaced(sl)));
    }
    out.push('\n');
    if !p.flags.is_empty() || !p.options.is_empty() {
        out.push_str("options");
        for f in &p.flags {
            out.push_str(&format!(" {f}"));
        }
        for (k, v) in &p.options {
            out.push_str(&format!(" {k}:{v}"));
        }
        out.push('\n');
    }
    out
}

fn render_resolved(p: &ResolvParams) -> String {
    let mut out = format!("{HEADER}[Resolve]\nLLMNR=false\n");
    if let Some(ns) = &p.nameservers {
        out.push_str(&format!("DNS={}", spaced(ns)));
    }
    out.push('\n');
    if let Some(sd) = &p.searchdomains {
        out.push_str(&format!("Domains={}", spaced(sd)));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests;
