//! `/etc/netplan/50-cloud-init.yaml`: v2 input verbatim, v1 converted.

use crate::distro::{DistroConfig, NETPLAN_PATH};
use crate::files::Files;
use crate::ip;
use crate::pyfmt::{is_true, py_str, truthy};
use crate::state::{NetworkState, Obj, BOND_V1_V2, BRIDGE_V1_V2};
use crate::NetworkConfig;
use ci_yaml::DumpOptions;
use serde_json::{json, Value};

/// netplan's files hold secrets (wifi passwords), so upstream makes them
/// root-only.
const MODE: u32 = 0o600;

fn dump(v: &Value) -> String {
    ci_yaml::dump_with(
        v,
        &DumpOptions {
            indent: 4,
            ..DumpOptions::default()
        },
    )
}

fn with_header(header: &str, content: &str) -> String {
    let mut out = header.to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(content);
    out
}

pub fn render_passthrough(cfg: &NetworkConfig, dcfg: &DistroConfig) -> Files {
    let content = dump(&json!({ "network": cfg.config }));
    let mut files = Files::default();
    files.add(
        NETPLAN_PATH,
        with_header(dcfg.netplan_header, &content),
        MODE,
    );
    files
}

pub fn render(ns: &NetworkState, dcfg: &DistroConfig, features: &[String]) -> Files {
    let mut files = Files::default();
    let content = render_v1(ns, features);
    files.add(
        NETPLAN_PATH,
        with_header(dcfg.netplan_header, &content),
        MODE,
    );
    files
}

fn render_v1(ns: &NetworkState, features: &[String]) -> String {
    let mut ethernets = Obj::new();
    let mut bonds = Obj::new();
    let mut bridges = Obj::new();
    let mut vlans = Obj::new();
    for config in ns.iter_interfaces() {
        let ifname = config.get("name").map(py_str).unwrap_or_default();
        let ifcfg: Obj = config
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mac_lower = || {
            ifcfg
                .get("mac_address")
                .filter(|m| truthy(m))
                .map(|m| json!(py_str(m).to_lowercase()))
        };
        match ifcfg.get("type").and_then(Value::as_str) {
            Some("physical") => {
                let mut eth = Obj::new();
                let matcher = ifcfg.get("match").cloned().or_else(|| {
                    ifcfg
                        .get("mac_address")
                        .map(|m| json!({"macaddress": py_str(m).to_lowercase()}))
                });
                if let Some(m) = matcher {
                    eth.insert("set-name".into(), json!(ifname));
                    eth.insert("match".into(), m);
                }
                extract_addresses(&ifcfg, &mut eth, &ifname, features);
                ethernets.insert(ifname, Value::Object(eth));
            }
            Some("bond") => {
                let mut bond = Obj::new();
                let mut params = Obj::new();
                for prefix in ["bond_", "bond-"] {
                    for (k, v) in ifcfg.iter().filter(|(k, _)| k.starts_with(prefix)) {
                        let dashed = k.replace('_', "-");
                        if let Some((_, v2)) = BOND_V1_V2.iter().find(|(v1, _)| *v1 == dashed) {
                            params.insert((*v2).into(), v.clone());
                        }
                    }
                }
                if !params.is_empty() {
                    bond.insert("parameters".into(), Value::Object(params));
                }
                if let Some(m) = mac_lower() {
                    bond.insert("macaddress".into(), m);
                }
                if ifcfg.get("bond-slaves").and_then(Value::as_str) == Some("none") {
                    let mut members: Vec<String> = ns
                        .interfaces
                        .iter()
                        .filter(|(_, c)| {
                            c.get("bond-master").and_then(Value::as_str) == Some(&ifname)
                        })
                        .map(|(n, _)| n.clone())
                        .collect();
                    members.sort();
                    if !members.is_empty() {
                        bond.insert("interfaces".into(), json!(members));
                    }
                }
                extract_addresses(&ifcfg, &mut bond, &ifname, features);
                bonds.insert(ifname, Value::Object(bond));
            }
            Some("bridge") => {
                let Some(ports) = ifcfg.get("bridge_ports") else {
                    log::warn!("Invalid config. The key");
                    continue;
                };
                let mut ports: Vec<String> = match ports {
                    Value::Array(a) => a.iter().map(py_str).collect(),
                    other => vec![py_str(other)],
                };
                ports.sort();
                let mut bridge = Obj::new();
                bridge.insert("interfaces".into(), json!(ports));
                let mut params = Obj::new();
                for (k, v) in ifcfg.iter().filter(|(k, _)| k.starts_with("bridge_")) {
                    let Some((_, Some(v2))) = BRIDGE_V1_V2.iter().find(|(v1, _)| v1 == k) else {
                        continue;
                    };
                    let value = if *v2 == "path-cost" || *v2 == "port-priority" {
                        port_values(v)
                    } else {
                        v.clone()
                    };
                    params.insert((*v2).into(), value);
                }
                if !params.is_empty() {
                    bridge.insert("parameters".into(), Value::Object(params));
                }
                if let Some(m) = mac_lower() {
                    bridge.insert("macaddress".into(), m);
                }
                extract_addresses(&ifcfg, &mut bridge, &ifname, features);
                bridges.insert(ifname, Value::Object(bridge));
            }
            Some("vlan") => {
                let mut vlan = Obj::new();
                vlan.insert(
                    "id".into(),
                    ifcfg.get("vlan_id").cloned().unwrap_or(Value::Null),
                );
                vlan.insert(
                    "link".into(),
                    ifcfg.get("vlan-raw-device").cloned().unwrap_or(Value::Null),
                );
                if let Some(m) = ifcfg.get("mac_address") {
                    vlan.insert("macaddress".into(), json!(py_str(m).to_lowercase()));
                }
                extract_addresses(&ifcfg, &mut vlan, &ifname, features);
                vlans.insert(ifname, Value::Object(vlan));
            }
            _ => {}
        }
    }
    if !ns.dns_nameservers.is_empty() || !ns.dns_search.is_empty() {
        let nscfg = json!({"addresses": ns.dns_nameservers, "search": ns.dns_search});
        for section in [&mut ethernets, &mut bonds, &mut bridges, &mut vlans] {
            for cfg in section.values_mut().filter_map(Value::as_object_mut) {
                if cfg.contains_key("nameservers") || !cfg.contains_key("addresses") {
                    continue;
                }
                cfg.insert("nameservers".into(), nscfg.clone());
            }
        }
    }
    let mut out = String::from("network:\n    version: 2\n");
    for (name, section) in [
        ("ethernets", ethernets),
        ("bonds", bonds),
        ("bridges", bridges),
        ("vlans", vlans),
    ] {
        if section.is_empty() {
            continue;
        }
        let text = dump(&json!({ name: section }));
        for line in text.split_inclusive('\n') {
            if !line.trim().is_empty() {
                out.push_str("    ");
            }
            out.push_str(line);
        }
    }
    out
}

/// v1 `["eth0 50", ...]` → v2 `{eth0: 50}`. A value that is already a
/// mapping (v2 input) iterates as its keys upstream, which cannot be
/// split in two; it is kept as given instead.
fn port_values(v: &Value) -> Value {
    let Value::Array(items) = v else {
        return v.clone();
    };
    let mut out = Obj::new();
    for item in items {
        let text = py_str(item);
        let mut parts = text.split_whitespace();
        if let (Some(port), Some(val), None) = (parts.next(), parts.next(), parts.next()) {
            let n = val.parse::<i64>().map_or_else(|_| json!(val), |n| json!(n));
            out.insert(port.to_string(), n);
        }
    }
    Value::Object(out)
}

fn listify(v: &Value) -> Vec<Value> {
    match v {
        Value::String(s) if !s.is_empty() => s.split(' ').map(|p| json!(p)).collect(),
        Value::Array(a) => a.clone(),
        other if !truthy(other) => Vec::new(),
        other => vec![other.clone()],
    }
}

fn subnet_is_ipv6(subnet: &Obj) -> bool {
    crate::eni::subnet_is_ipv6(subnet)
}

fn extract_addresses(config: &Obj, entry: &mut Obj, ifname: &str, features: &[String]) {
    let mut addresses = Vec::new();
    let mut routes = Vec::new();
    let mut nameservers = Vec::new();
    let mut search = Vec::new();
    let subnets = config
        .get("subnets")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for subnet in subnets.iter().filter_map(Value::as_object) {
        let ty = subnet.get("type").map(py_str).unwrap_or_default();
        if ty.starts_with("dhcp") {
            let key = if ty == "dhcp" {
                "dhcp4".to_string()
            } else {
                ty
            };
            entry.insert(key, json!(true));
        } else if crate::eni::IPV6_DYNAMIC_TYPES.contains(&ty.as_str()) {
            entry.insert("dhcp6".into(), json!(true));
        } else if ty == "static" || ty == "static6" {
            let mut addr = subnet
                .get("address")
                .map(py_str)
                .unwrap_or_else(|| "None".into());
            if let Some(p) = subnet.get("prefix") {
                addr = format!("{addr}/{}", py_str(p));
            }
            if let Some(gw) = subnet.get("gateway").filter(|g| truthy(g)) {
                let mut r = Obj::new();
                r.insert("via".into(), gw.clone());
                r.insert("to".into(), json!("default"));
                if ip::gateway_needs_onlink(&py_str(gw), &addr) {
                    r.insert("on-link".into(), json!(true));
                }
                routes.push(Value::Object(r));
            }
            if let Some(ns) = subnet.get("dns_nameservers") {
                nameservers.extend(listify(ns));
            }
            if let Some(s) = subnet.get("dns_search") {
                search.extend(listify(s));
            }
            if let Some(mtu) = subnet.get("mtu") {
                let key = if subnet_is_ipv6(subnet) && features.iter().any(|f| f == "ipv6-mtu") {
                    "ipv6-mtu"
                } else {
                    "mtu"
                };
                entry.insert(key.into(), mtu.clone());
            }
            for route in subnet
                .get("routes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
            {
                let to = format!(
                    "{}/{}",
                    route
                        .get("network")
                        .map(py_str)
                        .unwrap_or_else(|| "None".into()),
                    route
                        .get("prefix")
                        .map(py_str)
                        .unwrap_or_else(|| "None".into())
                );
                let mut r = Obj::new();
                r.insert(
                    "via".into(),
                    route.get("gateway").cloned().unwrap_or(Value::Null),
                );
                r.insert("to".into(), json!(to));
                if let Some(m) = route.get("metric") {
                    r.insert("metric".into(), m.clone());
                }
                routes.push(Value::Object(r));
            }
            addresses.push(json!(addr));
        }
    }
    if let Some(mtu) = config.get("mtu") {
        match entry.get("mtu") {
            Some(current) if truthy(current) && current != mtu => log::warn!(
                "Network config: ignoring {ifname} device-level mtu:{} because ipv4 subnet-level mtu:{} provided.",
                py_str(mtu),
                py_str(current)
            ),
            _ => {
                entry.insert("mtu".into(), mtu.clone());
            }
        }
    }
    if !addresses.is_empty() {
        entry.insert("addresses".into(), Value::Array(addresses));
    }
    if !routes.is_empty() {
        entry.insert("routes".into(), Value::Array(routes));
    }
    if !nameservers.is_empty() {
        entry.insert("nameservers".into(), json!({"addresses": nameservers}));
    }
    if !search.is_empty() {
        let mut ns = entry
            .get("nameservers")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        ns.insert("search".into(), Value::Array(search));
        entry.insert("nameservers".into(), Value::Object(ns));
    }
    if let Some(ra) = config.get("accept-ra").filter(|v| !v.is_null()) {
        entry.insert("accept-ra".into(), json!(is_true(ra)));
    }
}
