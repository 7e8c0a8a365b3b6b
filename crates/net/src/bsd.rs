//! What upstream's NetBSD and OpenBSD renderers share (its `BSDRenderer`):
//! which address each interface gets, the route list, and resolv.conf.
//!
//! Only one IPv4 setting per interface survives (the last static or DHCP
//! subnet wins, in the interface's first position), as upstream keeps a
//! dict keyed by device name.

use crate::pyfmt::{py_str, truthy};
use crate::state::{NetworkState, Obj};
use serde_json::Value;
use std::collections::BTreeMap;

/// The IPv4 setting of one interface.
pub enum V4 {
    Dhcp,
    Static {
        address: String,
        netmask: String,
        mtu: Option<Value>,
    },
}

/// A route as upstream hands it to `set_route`: network, netmask (or the
/// prefix when there is no netmask), gateway; missing values are `None`.
pub struct Route {
    pub network: String,
    pub netmask: Option<Value>,
    pub gateway: Option<Value>,
}

/// `shlex.quote`, as rc.conf values are written.
pub fn shell_quote(v: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if v.is_empty() {
        "''".into()
    } else if v.chars().all(safe) {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', "'\"'\"'"))
    }
}

/// `" mtu %d"`-style rendering of an MTU: integers as integers, anything
/// else as Python prints it.
pub fn mtu_text(mtu: &Value) -> String {
    match mtu {
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) => format!("{}", f.trunc()),
            _ => n.to_string(),
        },
        other => py_str(other),
    }
}

fn subnets(iface: &Obj) -> impl Iterator<Item = &Obj> {
    iface
        .get("subnets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

/// Device name → IPv4 setting, in upstream's dict order. `macs` maps
/// lower-case MACs to the machine's interface names; these systems cannot
/// rename, so a MAC found under another name configures that name.
pub fn ipv4_settings(ns: &NetworkState, macs: &BTreeMap<String, String>) -> Vec<(String, V4)> {
    let mut out: Vec<(String, V4)> = Vec::new();
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
                    log::error!("Interface renaming is not supported on this OS");
                    name = cur.clone();
                }
            }
            Some(cur) => name = cur.clone(),
        }
        log::info!("Configuring interface {name}");
        for s in subnets(iface) {
            let setting = match s.get("type").and_then(Value::as_str) {
                Some("static") => {
                    let address = s
                        .get("address")
                        .map(py_str)
                        .unwrap_or_else(|| "None".into());
                    let Some(mask) = s.get("netmask").filter(|m| truthy(m)) else {
                        log::debug!("Skipping IP {address}, because there is no netmask");
                        continue;
                    };
                    let mtu = s
                        .get("mtu")
                        .filter(|m| truthy(m))
                        .or_else(|| iface.get("mtu"))
                        .filter(|m| truthy(m))
                        .cloned();
                    V4::Static {
                        address,
                        netmask: py_str(mask),
                        mtu,
                    }
                }
                Some("dhcp" | "dhcp4") => V4::Dhcp,
                _ => continue,
            };
            match out.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = setting,
                None => out.push((name.clone(), setting)),
            }
        }
    }
    out
}

/// The global routes, then per static subnet its gateway as a default
/// route and its own routes; entries without a network are dropped.
pub fn routes(ns: &NetworkState) -> Vec<Route> {
    let mut all: Vec<Obj> = ns.routes.clone();
    for iface in ns.iter_interfaces() {
        for s in subnets(iface) {
            let gw = s.get("gateway").filter(|g| truthy(g)).map(py_str);
            let (network, mask_key, mask) = match s.get("type").and_then(Value::as_str) {
                Some("static") => ("0.0.0.0", "netmask", "0.0.0.0"),
                Some("static6") => ("::", "prefix", "0"),
                _ => continue,
            };
            let sep = if network == "::" { ':' } else { '.' };
            let usable = gw.filter(|g| {
                let parts = g.split(sep).count();
                if sep == '.' {
                    parts == 4
                } else {
                    parts > 1
                }
            });
            if let Some(g) = usable {
                let mut r = Obj::new();
                r.insert("network".into(), network.into());
                r.insert(mask_key.into(), mask.into());
                r.insert("gateway".into(), g.into());
                all.push(r);
            }
            all.extend(
                s.get("routes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                    .cloned(),
            );
        }
    }
    all.iter()
        .filter_map(|r| {
            let Some(network) = r.get("network").filter(|n| truthy(n)).map(py_str) else {
                log::debug!("Skipping a bad route entry");
                return None;
            };
            let netmask = r
                .get("netmask")
                .filter(|m| truthy(m))
                .or_else(|| r.get("prefix"))
                .cloned();
            Some(Route {
                network,
                netmask,
                gateway: r.get("gateway").cloned(),
            })
        })
        .collect()
}

/// `str()` of an optional value, `None` when missing.
pub fn text_or_none(v: &Option<Value>) -> String {
    v.as_ref().map(py_str).unwrap_or_else(|| "None".into())
}

/// resolv.conf from the global name servers and search domains and every
/// subnet's, deduplicated, added to an empty file. Upstream goes through a
/// Python `set`, so its order varies from run to run; ours keeps the
/// config's order. Search domains stop at 6 or 256 characters, with
/// upstream's warning for each one refused.
pub fn resolv_conf(ns: &NetworkState) -> String {
    let mut servers: Vec<String> = ns.dns_nameservers.iter().map(py_str).collect();
    let mut search: Vec<String> = ns.dns_search.iter().map(py_str).collect();
    for iface in ns.iter_interfaces() {
        for s in subnets(iface) {
            if let Some(Value::Array(a)) = s.get("dns_nameservers") {
                servers.extend(a.iter().map(py_str));
            }
            if let Some(Value::Array(a)) = s.get("dns_search") {
                search.extend(a.iter().map(py_str));
            }
        }
    }
    let mut out = String::new();
    let mut seen: Vec<String> = Vec::new();
    for s in servers {
        if !seen.contains(&s) {
            out.push_str(&format!("nameserver {s}\n"));
            seen.push(s);
        }
    }
    let mut domains: Vec<String> = Vec::new();
    for d in search {
        if domains.contains(&d) {
            continue;
        }
        if domains.len() >= 6 {
            log::warn!("Failed to add search domain {d}");
            log::debug!("Adding '{d}' would go beyond the '6' maximum search domains");
            continue;
        }
        let joined_len = domains.iter().map(|x| x.len() + 1).sum::<usize>() + d.len();
        if joined_len > 256 {
            log::warn!("Failed to add search domain {d}");
            log::debug!("Adding '{d}' would go beyond the 256 maximum search list character limit");
            continue;
        }
        domains.push(d);
    }
    if !domains.is_empty() {
        out.push_str(&format!("search {}\n", domains.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_matches_shlex() {
        assert_eq!(shell_quote("eth0"), "eth0");
        assert_eq!(shell_quote("eth0 eth1"), "'eth0 eth1'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a'b"), "'a'\"'\"'b'");
    }

    #[test]
    fn mtu_prints_as_an_integer() {
        assert_eq!(mtu_text(&serde_json::json!(1500)), "1500");
        assert_eq!(mtu_text(&serde_json::json!(1500.7)), "1500");
        assert_eq!(mtu_text(&serde_json::json!("9000")), "9000");
    }
}
