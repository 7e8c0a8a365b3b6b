//! FreeBSD: `ifconfig_*`, routes and default routers as `/etc/rc.conf`
//! settings, plus `/etc/resolv.conf`.
//!
//! Upstream edits rc.conf in place, one `key=value` at a time; the tree
//! returned here holds the settings applied to an empty rc.conf, and
//! [`crate::write_files`] applies them to the target's existing file with
//! [`merge_rc_conf`]. Upstream renames interfaces through
//! `ifconfig_<cur>_name` when the MAC is found under another name.

use crate::files::{Files, Merge};
use crate::pyfmt::{py_str, truthy};
use crate::state::{NetworkState, Obj};
use serde_json::Value;
use std::collections::BTreeMap;

/// `shlex.quote`.
fn shell_quote(v: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if v.is_empty() {
        "''".into()
    } else if v.chars().all(safe) {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', "'\"'\"'"))
    }
}

/// Ordered rc.conf settings; setting a key again replaces it in place.
#[derive(Default)]
struct RcConf(Vec<(String, String)>);

impl RcConf {
    fn set(&mut self, key: &str, value: &str) {
        let q = shell_quote(value);
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = q,
            None => self.0.push((key.to_string(), q)),
        }
    }

    fn text(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
    }
}

/// address, prefix, mtu
type V6 = (String, String, Option<Value>);

enum V4 {
    Dhcp,
    Static(String, String, Option<Value>),
}

pub fn render(ns: &NetworkState, macs: &BTreeMap<String, String>) -> Files {
    let mut rc = RcConf::default();
    let mut v4: Vec<(String, V4)> = Vec::new();
    let mut v6: Vec<(String, V6)> = Vec::new();
    fn put<T>(list: &mut Vec<(String, T)>, k: &str, v: T) {
        match list.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = v,
            None => list.push((k.to_string(), v)),
        }
    }
    for iface in ns.iter_interfaces() {
        let mut name = iface.get("name").map(py_str).unwrap_or_default();
        let is_lo = name
            .strip_prefix("lo")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if is_lo {
            continue;
        }
        let mac = iface.get("mac_address").filter(|m| truthy(m)).map(py_str);
        match mac.as_ref().and_then(|m| macs.get(&m.to_lowercase())) {
            None => log::info!(
                "Cannot find any device with MAC {}",
                mac.as_deref().unwrap_or("None")
            ),
            Some(cur) if !name.is_empty() => {
                if *cur != name {
                    log::info!("netif service will rename interface {cur} to {name}");
                    rc.set(&format!("ifconfig_{cur}_name"), &name);
                }
            }
            Some(cur) => name = cur.clone(),
        }
        log::info!("Configuring interface {name}");
        let subnets: Vec<Obj> = iface
            .get("subnets")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_object).cloned().collect())
            .unwrap_or_default();
        let mtu_of = |s: &Obj| {
            s.get("mtu")
                .filter(|m| truthy(m))
                .or_else(|| iface.get("mtu"))
                .cloned()
        };
        for s in &subnets {
            match s.get("type").and_then(Value::as_str) {
                Some("static") => {
                    let Some(mask) = s.get("netmask").filter(|m| truthy(m)) else {
                        continue;
                    };
                    let addr = s.get("address").map(py_str).unwrap_or_default();
                    put(&mut v4, &name, V4::Static(addr, py_str(mask), mtu_of(s)));
                }
                Some("static6") => {
                    let Some(prefix) = s.get("prefix").filter(|p| truthy(p)) else {
                        continue;
                    };
                    let addr = s.get("address").map(py_str).unwrap_or_default();
                    put(&mut v6, &name, (addr, py_str(prefix), mtu_of(s)));
                }
                Some("dhcp" | "dhcp4") => put(&mut v4, &name, V4::Dhcp),
                _ => {}
            }
        }
    }
    // Routes go first: upstream sets them before writing interfaces.
    let mut routes: Vec<Obj> = ns.routes.clone();
    for iface in ns.iter_interfaces() {
        for s in iface
            .get("subnets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
        {
            let gw = s.get("gateway").filter(|g| truthy(g)).map(py_str);
            match s.get("type").and_then(Value::as_str) {
                Some("static") => {
                    if let Some(g) = gw.filter(|g| g.split('.').count() == 4) {
                        let mut r = Obj::new();
                        r.insert("network".into(), "0.0.0.0".into());
                        r.insert("netmask".into(), "0.0.0.0".into());
                        r.insert("gateway".into(), g.into());
                        routes.push(r);
                    }
                }
                Some("static6") => {
                    if let Some(g) = gw.filter(|g| g.split(':').count() > 1) {
                        let mut r = Obj::new();
                        r.insert("network".into(), "::".into());
                        r.insert("prefix".into(), "0".into());
                        r.insert("gateway".into(), g.into());
                        routes.push(r);
                    }
                }
                _ => continue,
            }
            routes.extend(
                s.get("routes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                    .cloned(),
            );
        }
    }
    let (mut names4, mut names6, mut cpt) = (String::new(), String::new(), 0);
    for r in &routes {
        let Some(network) = r.get("network").filter(|n| truthy(n)).map(py_str) else {
            log::debug!("Skipping a bad route entry");
            continue;
        };
        let mask = r
            .get("netmask")
            .filter(|m| truthy(m))
            .or_else(|| r.get("prefix"))
            .map(py_str)
            .unwrap_or_else(|| "None".into());
        let gw = r
            .get("gateway")
            .map(py_str)
            .unwrap_or_else(|| "None".into());
        if network == "0.0.0.0" {
            rc.set("defaultrouter", &gw);
        } else if network == "::" {
            rc.set("ipv6_defaultrouter", &gw);
        } else {
            let rname = format!("net{cpt}");
            if network.contains(':') {
                rc.set(
                    &format!("ipv6_route_{rname}"),
                    &format!("-net {network}/{mask} {gw}"),
                );
                names6 = format!("{names6} {rname}");
                rc.set("ipv6_static_routes", names6.trim());
            } else {
                rc.set(
                    &format!("route_{rname}"),
                    &format!("-net {network} -netmask {mask} {gw}"),
                );
                names4 = format!("{names4} {rname}");
                rc.set("static_routes", names4.trim());
            }
            cpt += 1;
        }
    }
    let mtu_suffix = |m: &Option<Value>| match m.as_ref().filter(|m| truthy(m)) {
        Some(m) => format!(" mtu {}", py_str(m)),
        None => String::new(),
    };
    for (dev, cfg) in &v4 {
        let value = match cfg {
            V4::Dhcp => "DHCP".to_string(),
            V4::Static(addr, mask, mtu) => format!("inet {addr} netmask {mask}{}", mtu_suffix(mtu)),
        };
        rc.set(&format!("ifconfig_{dev}"), &value);
    }
    for (dev, (addr, prefix, mtu)) in &v6 {
        rc.set(
            &format!("ifconfig_{dev}_ipv6"),
            &format!("inet6 {addr}/{prefix}{}", mtu_suffix(mtu)),
        );
    }
    let mut files = Files::default();
    files.add_merged("/etc/rc.conf", rc.text(), 0o644, Merge::RcConf);
    files.add_merged(
        "/etc/resolv.conf",
        resolv(ns),
        0o644,
        Merge::Resolv { header: false },
    );
    files
}

/// Name servers and search domains from the global config and every
/// static subnet. Upstream iterates a Python `set` here, so its order
/// changes from run to run; ours keeps the config's order.
fn resolv(ns: &NetworkState) -> String {
    let mut servers: Vec<String> = ns.dns_nameservers.iter().map(py_str).collect();
    let mut search: Vec<String> = ns.dns_search.iter().map(py_str).collect();
    for iface in ns.iter_interfaces() {
        for s in iface
            .get("subnets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
        {
            if let Some(Value::Array(a)) = s.get("dns_nameservers") {
                servers.extend(a.iter().map(py_str));
            }
            if let Some(Value::Array(a)) = s.get("dns_search") {
                search.extend(a.iter().map(py_str));
            }
        }
    }
    let mut out = String::new();
    let mut seen = Vec::new();
    for s in servers {
        if !seen.contains(&s) {
            out.push_str(&format!("nameserver {s}\n"));
            seen.push(s);
        }
    }
    let mut domains: Vec<String> = Vec::new();
    for d in search {
        if !domains.contains(&d) && domains.len() < 6 {
            domains.push(d);
        }
    }
    if !domains.is_empty() {
        out.push_str(&format!("search {}\n", domains.join(" ")));
    }
    out
}

/// Applies rendered `key=value` lines to an existing rc.conf the way
/// upstream's `set_rc_config_value` does: a matching key is replaced in
/// place, anything else is appended.
pub fn merge_rc_conf(fresh: &str, existing: &str) -> String {
    let mut lines: Vec<String> = existing.lines().map(String::from).collect();
    for setting in fresh.lines() {
        let Some((key, value)) = setting.split_once('=') else {
            continue;
        };
        let mut done = false;
        for line in lines.iter_mut() {
            if let Some((k, _)) = line.split_once('=') {
                if k == key {
                    *line = format!("{k}={value}");
                    done = true;
                }
            }
        }
        if !done {
            lines.push(format!("{key}={value}"));
        }
    }
    if lines.is_empty() {
        return existing.to_string();
    }
    lines.join("\n") + "\n"
}
