//! ECS `network.interfaces.macs` → network config v2 (upstream
//! `convert_ecs_metadata_network_config`).

use crate::gce::shared::natural_cmp;
use serde_json::{json, Map, Value};

/// `nics` are the `[mac, name]` pairs present; `fallback_nic` the primary
/// NIC; `full` configures every NIC known to the metadata with route
/// metrics, otherwise only the primary one.
pub fn convert_network_config(
    network_md: &Value,
    nics: &[(String, String)],
    fallback_nic: Option<&str>,
    full: bool,
) -> Result<Value, String> {
    let macs = network_md
        .get("interfaces")
        .and_then(|i| i.get("macs"))
        .ok_or("network metadata has no interfaces.macs")?;
    let mut ethernets = Map::new();
    let has_v6 = |md: &Value| md.get("ipv6s").is_some_and(ci_pyval::truthy);
    if !full {
        // Upstream keeps the last NIC when none is the fallback one.
        let (mac, name) = nics
            .iter()
            .find(|(_, n)| Some(n.as_str()) == fallback_nic)
            .or(nics.last())
            .ok_or("no network interfaces")?;
        let md = macs
            .get(mac)
            .ok_or(format!("no metadata for the primary NIC {mac}"))?;
        ethernets.insert(
            name.clone(),
            json!({"dhcp4": true, "dhcp6": has_v6(md), "match": {"macaddress": mac.to_lowercase()}, "set-name": name}),
        );
        return Ok(json!({"version": 2, "ethernets": ethernets}));
    }
    let mut present: Vec<(&String, &String, &Value)> = nics
        .iter()
        .filter_map(|(mac, name)| {
            macs.get(mac)
                .filter(|m| ci_pyval::truthy(m))
                .map(|md| (name, mac, md))
        })
        .collect();
    present.sort_by(|a, b| natural_cmp(a.0, b.0));
    let single = present.len() == 1;
    for (idx, (name, mac, md)) in present.into_iter().enumerate() {
        let metric = json!({"route-metric": (idx + 1) * 100});
        let mut dev = Map::new();
        dev.insert("dhcp4".into(), json!(true));
        if !single {
            dev.insert("dhcp4-overrides".into(), metric.clone());
        }
        dev.insert("dhcp6".into(), json!(false));
        dev.insert("match".into(), json!({"macaddress": mac.to_lowercase()}));
        dev.insert("set-name".into(), json!(name));
        if has_v6(md) {
            dev.insert("dhcp6".into(), json!(true));
            if !single {
                dev.insert("dhcp6-overrides".into(), metric);
            }
        }
        ethernets.insert(name.clone(), Value::Object(dev));
    }
    Ok(json!({"version": 2, "ethernets": ethernets}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_nics_and_primary_only() {
        let md = json!({"interfaces": {"macs": {
            "00:16:3e:00:00:01": {"ipv6s": ["2408::1"]},
            "00:16:3e:00:00:02": {"vpc-id": "v"}
        }}});
        let nics = vec![
            ("00:16:3e:00:00:02".to_string(), "eth1".to_string()),
            ("00:16:3e:00:00:01".to_string(), "eth0".to_string()),
        ];
        let full = convert_network_config(&md, &nics, Some("eth0"), true).unwrap();
        assert_eq!(
            serde_json::to_string(&full).unwrap(),
            serde_json::to_string(&json!({"version": 2, "ethernets": {
                "eth0": {"dhcp4": true, "dhcp4-overrides": {"route-metric": 100}, "dhcp6": true,
                         "match": {"macaddress": "00:16:3e:00:00:01"}, "set-name": "eth0",
                         "dhcp6-overrides": {"route-metric": 100}},
                "eth1": {"dhcp4": true, "dhcp4-overrides": {"route-metric": 200}, "dhcp6": false,
                         "match": {"macaddress": "00:16:3e:00:00:02"}, "set-name": "eth1"}
            }}))
            .unwrap()
        );
        let primary = convert_network_config(&md, &nics, Some("eth0"), false).unwrap();
        assert_eq!(
            primary["ethernets"]["eth0"],
            json!({"dhcp4": true, "dhcp6": true, "match": {"macaddress": "00:16:3e:00:00:01"}, "set-name": "eth0"})
        );
        let one = convert_network_config(&md, &nics[1..], Some("eth0"), true).unwrap();
        assert_eq!(
            one["ethernets"]["eth0"],
            json!({"dhcp4": true, "dhcp6": true, "match": {"macaddress": "00:16:3e:00:00:01"}, "set-name": "eth0"})
        );
    }
}
