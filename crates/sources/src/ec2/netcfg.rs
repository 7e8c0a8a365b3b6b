//! Network config v2 from `network/interfaces/macs/*`.

use super::*;

/// `{mac: name}` for the physical-looking NICs under `/sys/class/net`
/// (upstream `get_interfaces_by_mac`, simplified: loopback, bridges, bonds
/// and VLANs are skipped).
pub(super) fn interfaces_by_mac(host: &Host) -> Vec<(String, String)> {
    crate::url_ext::macs_of(host, host.list_dir("/sys/class/net"))
}

/// Upstream `convert_ec2_metadata_network_config` (v2) for the NICs present.
/// Policy routing for secondary NICs (netplan only, needs a DHCP probe) is
/// not rendered.
pub fn convert_network_config(
    net_md: &Value,
    macs_to_nics: &[(String, String)],
    full: bool,
) -> Value {
    let empty = Map::new();
    let macs_md = net_md
        .get("interfaces")
        .and_then(|i| i.get("macs"))
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let int_or_inf = |md: &Value, k: &str| -> i128 {
        md.get(k)
            .map(py_str)
            .and_then(|s| s.trim().parse::<i128>().ok())
            .unwrap_or(i128::MAX)
    };
    let mut ordered: Vec<(&String, &String, &Value)> = macs_to_nics
        .iter()
        .filter_map(|(mac, nic)| macs_md.get(mac).map(|md| (mac, nic, md)))
        .collect();
    ordered.sort_by_key(|(mac, _, md)| {
        (
            int_or_inf(md, "network-card"),
            int_or_inf(md, "device-number"),
            (*mac).clone(),
        )
    });
    let order = |mac: &str| ordered.iter().position(|(m, _, _)| *m == mac).unwrap_or(0);
    let mut ethernets = Map::new();
    if !full {
        if let Some((mac, nic, md)) = ordered.first() {
            let ipv6 = md.get("ipv6s").is_some_and(truthy);
            ethernets.insert(
                (*nic).clone(),
                json!({"dhcp4": true, "dhcp6": ipv6, "match": {"macaddress": mac}, "set-name": nic}),
            );
        }
        return json!({"version": 2, "ethernets": ethernets});
    }
    let mut macs: Vec<&(String, String)> = macs_to_nics.iter().collect();
    macs.sort();
    for (mac, nic) in macs {
        let Some(md) = macs_md.get(mac).filter(|m| truthy(m)) else {
            continue;
        };
        let idx = order(mac);
        let overrides = json!({"route-metric": (idx + 1) * 100});
        let mut dev = Map::new();
        dev.insert("dhcp4".into(), json!(true));
        dev.insert("dhcp4-overrides".into(), overrides.clone());
        dev.insert("dhcp6".into(), json!(false));
        dev.insert("match".into(), json!({"macaddress": mac.to_lowercase()}));
        dev.insert("set-name".into(), json!(nic));
        if md.get("ipv6s").is_some_and(truthy) {
            dev.insert("dhcp6".into(), json!(true));
            dev.insert("dhcp6-overrides".into(), overrides);
        }
        let addrs = secondary_addresses(md, mac);
        if !addrs.is_empty() {
            dev.insert("addresses".into(), json!(addrs));
        }
        ethernets.insert(nic.clone(), Value::Object(dev));
    }
    if ethernets.len() == 1 {
        for dev in ethernets.values_mut() {
            if let Value::Object(d) = dev {
                d.shift_remove("dhcp4-overrides");
                d.shift_remove("dhcp6-overrides");
            }
        }
    }
    json!({"version": 2, "ethernets": ethernets})
}

/// Upstream `get_secondary_addresses`: every IP after the first, with the
/// subnet's prefix (default /24 and /128).
pub(super) fn secondary_addresses(md: &Value, mac: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (ips_key, cidr_key, default) in [
        ("local-ipv4s", "subnet-ipv4-cidr-block", "24"),
        ("ipv6s", "subnet-ipv6-cidr-block", "128"),
    ] {
        let Some(ips) = md
            .get(ips_key)
            .and_then(Value::as_array)
            .filter(|a| a.len() > 1)
        else {
            continue;
        };
        let cidr = md.get(cidr_key).map(py_str);
        let prefix = match cidr.as_deref().map(|c| c.split('/').collect::<Vec<_>>()) {
            Some(parts) if parts.len() == 2 => {
                parts.get(1).map(|p| p.to_string()).unwrap_or_default()
            }
            _ => {
                let kind = if cidr_key.contains("ipv4") {
                    "ipv4"
                } else {
                    "ipv6"
                };
                log::warn!(
                    "Could not parse {cidr_key} {} for mac {mac}. {kind} network config prefix defaults to /{default}",
                    cidr.as_deref().unwrap_or("None")
                );
                default.to_string()
            }
        };
        out.extend(
            ips.iter()
                .skip(1)
                .map(|ip| format!("{}/{prefix}", py_str(ip))),
        );
    }
    out.sort();
    out
}
