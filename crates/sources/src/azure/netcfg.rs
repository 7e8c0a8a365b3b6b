//! Network config v2 from IMDS `network.interface` (upstream
//! `generate_network_config_from_instance_network_metadata`).

use ci_host::Host;
use ci_pyval::py_str;
use serde_json::{json, Map, Value};

/// Upstream `normalize_mac_address`: colons added to a bare 12-digit MAC, lower-cased.
pub fn normalize_mac(mac: &str) -> String {
    if mac.len() == 12 && mac.is_ascii() {
        let pairs: Vec<&str> = (0..6).filter_map(|i| mac.get(2 * i..2 * i + 2)).collect();
        return pairs.join(":").to_lowercase();
    }
    mac.to_lowercase()
}

/// `(name, mac, driver)` for every NIC with a MAC under `/sys/class/net`.
pub fn interfaces(host: &Host) -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    let mut names = host.list_dir("/sys/class/net");
    names.sort();
    for name in names {
        if name == "lo" {
            continue;
        }
        let dir = format!("/sys/class/net/{name}");
        let Ok(mac) = host.read_to_string(format!("{dir}/address")) else {
            continue;
        };
        let mac = mac.trim().to_string();
        if mac.is_empty() || mac == "00:00:00:00:00:00" {
            continue;
        }
        let driver = host
            .read_link(format!("{dir}/device/driver"))
            .ok()
            .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()));
        out.push((name, mac, driver));
    }
    out
}

/// Upstream `get_hv_netvsc_macs_normalized`.
pub fn hv_netvsc_macs(nics: &[(String, String, Option<String>)]) -> Vec<String> {
    nics.iter()
        .filter(|(_, _, d)| d.as_deref() == Some("hv_netvsc"))
        .map(|(_, m, _)| normalize_mac(m))
        .collect()
}

/// Upstream `determine_device_driver_for_mac`.
fn driver_for_mac(nics: &[(String, String, Option<String>)], mac: &str) -> Option<String> {
    let drivers: Vec<Option<&str>> = nics
        .iter()
        .filter(|(_, m, _)| normalize_mac(m) == mac)
        .map(|(_, _, d)| d.as_deref())
        .collect();
    if drivers.contains(&Some("hv_netvsc")) {
        return Some("hv_netvsc".into());
    }
    let repr = format!(
        "[{}]",
        drivers
            .iter()
            .map(|d| d.map(|s| format!("'{s}'")).unwrap_or_else(|| "None".into()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let [only] = drivers.as_slice() {
        log::debug!("Assuming driver for interface with mac={mac} drivers={repr}");
        return only.map(String::from);
    }
    log::warn!("Unable to specify driver for interface with mac={mac} drivers={repr}");
    None
}

/// Convert IMDS `network` to v2. `Err` when the document lacks what upstream
/// indexes unconditionally (`interface`, `macAddress`, `subnet[0]`).
pub fn from_imds(
    network: &Value,
    secondary_ips: bool,
    nics: &[(String, String, Option<String>)],
) -> Result<Value, String> {
    let ifaces = network
        .get("interface")
        .and_then(Value::as_array)
        .ok_or_else(|| "KeyError('interface')".to_string())?;
    let mut ethernets = Map::new();
    for (idx, intf) in ifaces.iter().enumerate() {
        let nicname = format!("eth{idx}");
        let mut overrides = Map::new();
        overrides.insert("route-metric".into(), json!((idx + 1) * 100));
        if idx > 0 {
            overrides.insert("use-dns".into(), json!(false));
        }
        let mut dev = Map::new();
        dev.insert("dhcp4".into(), json!(true));
        dev.insert("dhcp4-overrides".into(), Value::Object(overrides.clone()));
        dev.insert("dhcp6".into(), json!(false));
        let mut has_ip = false;
        for addr_type in ["ipv4", "ipv6"] {
            let addresses: Vec<Value> = intf
                .get(addr_type)
                .and_then(|a| a.get("ipAddress"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if addresses.is_empty() {
                log::debug!("No {addr_type} addresses found for: {}", py_str(intf));
                continue;
            }
            has_ip = true;
            let default_prefix = if addr_type == "ipv4" {
                "24"
            } else {
                dev.insert("dhcp6".into(), json!(true));
                dev.insert("dhcp6-overrides".into(), Value::Object(overrides.clone()));
                "128"
            };
            if !secondary_ips {
                continue;
            }
            for addr in addresses.iter().skip(1) {
                let prefix = intf
                    .get(addr_type)
                    .and_then(|a| a.get("subnet"))
                    .and_then(Value::as_array)
                    .and_then(|s| s.first())
                    .ok_or_else(|| format!("KeyError('subnet') in {addr_type}"))?
                    .get("prefix")
                    .map(py_str)
                    .unwrap_or_else(|| default_prefix.to_string());
                let ip = addr
                    .get("privateIpAddress")
                    .map(py_str)
                    .ok_or_else(|| "KeyError('privateIpAddress')".to_string())?;
                let list = dev
                    .entry("addresses")
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(a) = list {
                    a.push(json!(format!("{ip}/{prefix}")));
                }
            }
        }
        if has_ip {
            let mac = intf
                .get("macAddress")
                .map(py_str)
                .ok_or_else(|| "KeyError('macAddress')".to_string())?;
            let mac = normalize_mac(&mac);
            let mut m = Map::new();
            m.insert("macaddress".into(), json!(mac));
            if let Some(d) = driver_for_mac(nics, &mac) {
                m.insert("driver".into(), json!(d));
            }
            dev.insert("match".into(), Value::Object(m));
            dev.insert("set-name".into(), json!(nicname));
            ethernets.insert(nicname, Value::Object(dev));
            continue;
        }
        log::debug!("No configuration for: {nicname} (has_ip_address=False)");
    }
    Ok(json!({"version": 2, "ethernets": ethernets}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_nics_secondary_ips() {
        let net = json!({"interface": [
            {"macAddress": "000D3A047598", "ipv4": {"ipAddress": [
                {"privateIpAddress": "10.0.0.4", "publicIpAddress": "1.2.3.4"},
                {"privateIpAddress": "10.0.0.5"}], "subnet": [{"address": "10.0.0.0", "prefix": "24"}]},
             "ipv6": {"ipAddress": [{"privateIpAddress": "fd00::4"}, {"privateIpAddress": "fd00::5"}], "subnet": [{"prefix": "64"}]}},
            {"macAddress": "000D3A047599", "ipv4": {"ipAddress": [{"privateIpAddress": "10.0.1.4"}], "subnet": [{"prefix": "24"}]}},
            {"macAddress": "000D3A04759A", "ipv4": {"ipAddress": []}}
        ]});
        let nics = vec![
            (
                "eth0".to_string(),
                "00:0d:3a:04:75:98".to_string(),
                Some("hv_netvsc".to_string()),
            ),
            (
                "enP1".to_string(),
                "00:0d:3a:04:75:98".to_string(),
                Some("mlx5_core".to_string()),
            ),
        ];
        let cfg = from_imds(&net, true, &nics).unwrap();
        assert_eq!(
            cfg,
            json!({"version": 2, "ethernets": {
                "eth0": {"dhcp4": true, "dhcp4-overrides": {"route-metric": 100}, "dhcp6": true,
                         "dhcp6-overrides": {"route-metric": 100},
                         "addresses": ["10.0.0.5/24", "fd00::5/64"],
                         "match": {"macaddress": "00:0d:3a:04:75:98", "driver": "hv_netvsc"}, "set-name": "eth0"},
                "eth1": {"dhcp4": true, "dhcp4-overrides": {"route-metric": 200, "use-dns": false}, "dhcp6": false,
                         "match": {"macaddress": "00:0d:3a:04:75:99"}, "set-name": "eth1"}
            }})
        );
        assert!(from_imds(&json!({}), true, &nics).is_err());
    }
}
