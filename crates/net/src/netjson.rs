//! OpenStack `network_data.json` → network config v1 (upstream's
//! `openstack.convert_net_json`).
//!
//! `links` become devices (bonds named `bond0`, `bond1`, ... in order;
//! VLANs named `<parent>.<vlan_id>`; everything else physical), `networks`
//! become subnets of the link they name, `services` become nameserver
//! entries. Links are named through their MAC address when the document
//! gives no name, so the caller passes the machine's `{mac: name}` map.

use ci_host::Host;
use ci_pyval::py_repr;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Link types converted as physical devices without a warning.
const KNOWN_PHYSICAL_TYPES: &[&str] = &[
    "bgpovs",
    "bridge",
    "cascading",
    "dvs",
    "ethernet",
    "hw_veb",
    "hyperv",
    "ovs",
    "phy",
    "tap",
    "vhostuser",
    "vif",
];
const PHYSICAL_KEYS: &[&str] = &["name", "type", "mac_address", "subnets", "params", "mtu"];
const SUBNET_KEYS: &[&str] = &[
    "type",
    "address",
    "netmask",
    "broadcast",
    "metric",
    "gateway",
    "pointopoint",
    "scope",
    "dns_nameservers",
    "dns_search",
];
const ROUTE_KEYS: &[&str] = &["network", "destination", "netmask", "gateway", "metric"];

/// Why a `network_data.json` document could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetJsonError {
    /// A required key is absent (upstream raises `KeyError`).
    #[error("network_data.json: {what} has no '{key}' entry: {item}")]
    Missing {
        what: &'static str,
        key: String,
        item: String,
    },
    /// A link or network refers to a link id that does not exist.
    #[error("network_data.json: {what} refers to unknown link '{id}'")]
    UnknownLink { what: &'static str, id: String },
    #[error("No mac_address or name entry for {0}")]
    NoMacOrName(String),
    #[error("Unable to find a system nic for {0}")]
    NoSystemNic(String),
    #[error("network_data.json: {0} is not a mapping")]
    NotAMapping(&'static str),
}

/// What the machine's interfaces look like, read from sysfs when needed.
pub trait MacLookup {
    /// `{mac (lowercase): interface name}`.
    fn known_macs(&self) -> BTreeMap<String, String>;
    /// `{interface name: 20-byte hardware address}` for InfiniBand NICs.
    fn ib_hwaddrs(&self) -> BTreeMap<String, String>;
}

/// Fixed maps (tests, or a caller that already read sysfs).
#[derive(Debug, Clone, Default)]
pub struct StaticMacs {
    pub macs: BTreeMap<String, String>,
    pub ib: BTreeMap<String, String>,
}

impl MacLookup for StaticMacs {
    fn known_macs(&self) -> BTreeMap<String, String> {
        self.macs.clone()
    }
    fn ib_hwaddrs(&self) -> BTreeMap<String, String> {
        self.ib.clone()
    }
}

/// The interfaces under `<root>/sys/class/net`.
impl MacLookup for Host {
    fn known_macs(&self) -> BTreeMap<String, String> {
        crate::fallback::interfaces_by_mac(self)
    }

    /// Interfaces whose `type` is 32 (ARPHRD_INFINIBAND), with their address.
    fn ib_hwaddrs(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for name in self.list_dir("/sys/class/net") {
            let dir = format!("/sys/class/net/{name}");
            let is_ib = self
                .read_to_string(format!("{dir}/type"))
                .is_ok_and(|t| t.trim() == "32");
            if !is_ib {
                continue;
            }
            if let Ok(addr) = self.read_to_string(format!("{dir}/address")) {
                out.insert(name, addr.trim().to_string());
            }
        }
        out
    }
}

/// What is known about one link while names are resolved.
#[derive(Debug, Clone)]
struct LinkInfo {
    name: Option<String>,
    mac: Option<String>,
}

/// A deferred rewrite of `config[index][key]` once all names are known.
enum Update {
    BondInterfaces {
        index: usize,
        /// A list (names in order) or one id (one name, not a list).
        targets: Value,
    },
    VlanLink {
        index: usize,
        target: Value,
    },
    VlanName {
        index: usize,
        target: Value,
        vlan_id: String,
    },
}

fn get<'a>(
    item: &'a Map<String, Value>,
    what: &'static str,
    key: &str,
) -> Result<&'a Value, NetJsonError> {
    item.get(key).ok_or_else(|| NetJsonError::Missing {
        what,
        key: key.to_string(),
        item: py_repr(&Value::Object(item.clone())),
    })
}

/// A Python `"%s" % value` rendering for ids and names.
fn s(v: &Value) -> String {
    ci_pyval::py_str(v)
}

fn list<'a>(doc: &'a Map<String, Value>, key: &str) -> Vec<&'a Map<String, Value>> {
    match doc.get(key) {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    }
}

fn filtered(item: &Map<String, Value>, keys: &[&str]) -> Map<String, Value> {
    item.iter()
        .filter(|(k, _)| keys.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Convert one `network_data.json` document. `Ok(None)` for JSON `null`.
pub fn convert_net_json(
    net_json: &Value,
    macs: &dyn MacLookup,
) -> Result<Option<Value>, NetJsonError> {
    let doc = match net_json {
        Value::Null => return Ok(None),
        Value::Object(m) => m,
        _ => return Err(NetJsonError::NotAMapping("the document")),
    };
    let links = list(doc, "links");
    let networks = list(doc, "networks");
    let services = list(doc, "services");

    let mut config: Vec<Map<String, Value>> = Vec::new();
    let mut info: Vec<(Value, LinkInfo)> = Vec::new();
    let mut updates: Vec<Update> = Vec::new();
    let mut bond_number = 0usize;

    for link in &links {
        let mut cfg = filtered(link, PHYSICAL_KEYS);
        let id = get(link, "link", "id")?.clone();
        let link_type = s(get(link, "link", "type")?);
        let link_mac = link
            .get("ethernet_mac_address")
            .filter(|v| ci_pyval::truthy(v))
            .map(|v| s(v).to_lowercase());
        let mut cur = LinkInfo {
            name: cfg.get("name").filter(|v| !v.is_null()).map(s),
            mac: link_mac.clone(),
        };

        let mut subnets = Vec::new();
        for network in &networks {
            let nlink = get(network, "network", "link")?;
            if *nlink != id {
                continue;
            }
            subnets.push(convert_network(network, &mut cfg)?);
        }
        cfg.insert("subnets".into(), Value::Array(subnets));

        match link_type.as_str() {
            "bond" => {
                if let Some(mac) = &link_mac {
                    cfg.insert("mac_address".into(), json!(mac));
                }
                let mut params = Map::new();
                for (k, v) in link.iter() {
                    if k == "bond_links" || !k.starts_with("bond") {
                        continue;
                    }
                    let suffix = k.split_once("bond_").map_or(k.as_str(), |(_, r)| r);
                    params.insert(format!("bond-{suffix}"), v.clone());
                }
                let name = format!("bond{bond_number}");
                bond_number += 1;
                let targets = get(link, "link", "bond_links")?.clone();
                updates.push(Update::BondInterfaces {
                    index: config.len(),
                    targets,
                });
                cfg.insert("params".into(), Value::Object(params));
                cfg.insert("name".into(), json!(name));
                cur.name = Some(name);
            }
            "vlan" => {
                let parent = get(link, "link", "vlan_link")?.clone();
                let vlan_id = get(link, "link", "vlan_id")?.clone();
                let vlan_mac = get(link, "link", "vlan_mac_address")?.clone();
                let name = format!("{}.{}", s(&parent), s(&vlan_id));
                cfg.insert("name".into(), json!(name));
                cfg.insert("vlan_id".into(), vlan_id.clone());
                cfg.insert("mac_address".into(), vlan_mac.clone());
                updates.push(Update::VlanLink {
                    index: config.len(),
                    target: parent.clone(),
                });
                updates.push(Update::VlanName {
                    index: config.len(),
                    target: parent,
                    vlan_id: s(&vlan_id),
                });
                cur.mac = (!vlan_mac.is_null()).then(|| s(&vlan_mac));
                cur.name = Some(name);
            }
            other => {
                if !KNOWN_PHYSICAL_TYPES.contains(&other) {
                    log::warn!("Unknown network_data link type ({other}); treating as physical");
                }
                cfg.insert("type".into(), json!("physical"));
                cfg.insert(
                    "mac_address".into(),
                    link_mac.clone().map(Value::String).unwrap_or(Value::Null),
                );
            }
        }
        config.push(cfg);
        match info.iter_mut().find(|(k, _)| *k == id) {
            Some(slot) => slot.1 = cur,
            None => info.push((id, cur)),
        }
    }

    let need_names: Vec<usize> = config
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            d.get("type").and_then(Value::as_str) == Some("physical") && !d.contains_key("name")
        })
        .map(|(i, _)| i)
        .collect();

    if !need_names.is_empty() || !updates.is_empty() {
        let known = macs.known_macs();
        for (_, li) in info.iter_mut() {
            if li.name.is_some() {
                continue;
            }
            if let Some(n) = li.mac.as_ref().and_then(|m| known.get(m)) {
                li.name = Some(n.clone());
            }
        }
        for i in need_names {
            let Some(d) = config.get_mut(i) else { continue };
            let repr = py_repr(&Value::Object(d.clone()));
            let mac = match d.get("mac_address") {
                Some(m) if ci_pyval::truthy(m) => s(m),
                _ => return Err(NetJsonError::NoMacOrName(repr)),
            };
            let Some(name) = known.get(&mac) else {
                return Err(NetJsonError::NoSystemNic(repr));
            };
            d.insert("name".into(), json!(name));
        }
        let name_of = |target: &Value, what: &'static str| -> Result<String, NetJsonError> {
            info.iter()
                .find(|(k, _)| k == target)
                .map(|(_, li)| li.name.clone().unwrap_or_else(|| "None".into()))
                .ok_or_else(|| NetJsonError::UnknownLink {
                    what,
                    id: s(target),
                })
        };
        for up in updates {
            match up {
                Update::BondInterfaces { index, targets } => {
                    let names = match &targets {
                        Value::Array(a) => Value::Array(
                            a.iter()
                                .map(|t| name_of(t, "bond_links").map(Value::String))
                                .collect::<Result<Vec<_>, _>>()?,
                        ),
                        one => Value::String(name_of(one, "bond_links")?),
                    };
                    if let Some(c) = config.get_mut(index) {
                        c.insert("bond_interfaces".into(), names);
                    }
                }
                Update::VlanLink { index, target } => {
                    let name = name_of(&target, "vlan_link")?;
                    if let Some(c) = config.get_mut(index) {
                        c.insert("vlan_link".into(), json!(name));
                    }
                }
                Update::VlanName {
                    index,
                    target,
                    vlan_id,
                } => {
                    let name = name_of(&target, "vlan_link")?;
                    if let Some(c) = config.get_mut(index) {
                        c.insert("name".into(), json!(format!("{name}.{vlan_id}")));
                    }
                }
            }
        }
    }

    // InfiniBand NICs are named in network_data.json by a 6-byte MAC; the
    // device itself needs its full 20-byte address.
    let ib = macs.ib_hwaddrs();
    if !ib.is_empty() {
        for cfg in config.iter_mut() {
            let Some(addr) = cfg
                .get("name")
                .and_then(Value::as_str)
                .and_then(|n| ib.get(n))
            else {
                continue;
            };
            let addr = addr.clone();
            cfg.insert("mac_address".into(), json!(addr));
            cfg.insert("type".into(), json!("infiniband"));
        }
    }

    let mut out: Vec<Value> = config.into_iter().map(Value::Object).collect();
    for service in services {
        let mut cfg = service.clone();
        cfg.insert("type".into(), json!("nameserver"));
        out.push(Value::Object(cfg));
    }
    Ok(Some(json!({"version": 1, "config": out})))
}

/// One `networks` entry as a subnet of its link; IPv6 entries also set the
/// link's `accept-ra`.
fn convert_network(
    network: &Map<String, Value>,
    cfg: &mut Map<String, Value>,
) -> Result<Value, NetJsonError> {
    let mut subnet = filtered(network, SUBNET_KEYS);
    let routes_in: Vec<&Map<String, Value>> = match network.get("routes") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    };
    let routes: Vec<Value> = routes_in
        .iter()
        .map(|r| Value::Object(filtered(r, ROUTE_KEYS)))
        .collect();
    if !routes.is_empty() {
        subnet.insert("routes".into(), Value::Array(routes));
    }
    let ntype = s(get(network, "network", "type")?);
    match ntype.as_str() {
        "ipv4_dhcp" => {
            subnet.insert("type".into(), json!("dhcp4"));
        }
        "ipv6_dhcp" => {
            subnet.insert("type".into(), json!("dhcp6"));
        }
        "ipv6_slaac" | "ipv6_dhcpv6-stateless" | "ipv6_dhcpv6-stateful" => {
            subnet.insert("type".into(), json!(ntype));
        }
        "ipv4" | "static" => {
            subnet.insert("type".into(), json!("static"));
            subnet.insert(
                "address".into(),
                network.get("ip_address").cloned().unwrap_or(Value::Null),
            );
        }
        "ipv6" | "static6" => {
            cfg.insert("accept-ra".into(), json!(false));
            subnet.insert("type".into(), json!("static6"));
            subnet.insert(
                "address".into(),
                network.get("ip_address").cloned().unwrap_or(Value::Null),
            );
        }
        _ => {}
    }

    // Route-specific nameservers first, then the network's own.
    let mut dns: Vec<Value> = Vec::new();
    for route in &routes_in {
        if let Some(Value::Array(svcs)) = route.get("services") {
            for svc in svcs.iter().filter_map(Value::as_object) {
                if svc.get("type").and_then(Value::as_str) == Some("dns") {
                    dns.push(get(svc, "service", "address")?.clone());
                }
            }
        }
    }
    if let Some(Value::Array(svcs)) = network.get("services") {
        for svc in svcs.iter().filter_map(Value::as_object) {
            if svc.get("type").and_then(Value::as_str) != Some("dns") {
                continue;
            }
            let addr = get(svc, "service", "address")?;
            if !dns.contains(addr) {
                dns.push(addr.clone());
            }
        }
    }
    if !dns.is_empty() {
        subnet.insert("dns_nameservers".into(), Value::Array(dns));
    }
    if ntype == "ipv6_dhcpv6-stateful" || ntype == "ipv6_dhcp" {
        cfg.insert("accept-ra".into(), json!(true));
    }
    if ntype == "ipv4" {
        subnet.insert("ipv4".into(), json!(true));
    }
    if ntype == "ipv6" {
        subnet.insert("ipv6".into(), json!(true));
    }
    Ok(Value::Object(subnet))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn macs(pairs: &[(&str, &str)]) -> StaticMacs {
        StaticMacs {
            macs: pairs
                .iter()
                .map(|(m, n)| (m.to_string(), n.to_string()))
                .collect(),
            ib: BTreeMap::new(),
        }
    }

    #[test]
    fn null_is_none_and_non_mapping_is_error() {
        assert_eq!(convert_net_json(&Value::Null, &macs(&[])), Ok(None));
        assert!(convert_net_json(&json!([1]), &macs(&[])).is_err());
    }

    #[test]
    fn physical_named_by_mac() {
        let doc = json!({
            "links": [{"id": "tap1", "type": "phy", "ethernet_mac_address": "FA:16:3E:00:00:01", "mtu": 1450}],
            "networks": [{"id": "n0", "link": "tap1", "type": "ipv4", "ip_address": "10.0.0.5",
                          "netmask": "255.255.255.0", "gateway": "10.0.0.1",
                          "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.0.1",
                                      "services": [{"type": "dns", "address": "8.8.8.8"}]}]}],
            "services": [{"type": "dns", "address": "1.1.1.1"}]
        });
        let out = convert_net_json(&doc, &macs(&[("fa:16:3e:00:00:01", "ens3")]))
            .unwrap()
            .unwrap();
        assert_eq!(
            out,
            json!({"version": 1, "config": [
                {"type": "physical", "mtu": 1450, "name": "ens3", "mac_address": "fa:16:3e:00:00:01",
                 "subnets": [{"type": "static", "netmask": "255.255.255.0", "gateway": "10.0.0.1",
                              "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.0.1"}],
                              "address": "10.0.0.5", "dns_nameservers": ["8.8.8.8"], "ipv4": true}]},
                {"type": "nameserver", "address": "1.1.1.1"}
            ]})
        );
    }

    #[test]
    fn unknown_mac_and_missing_mac_are_errors() {
        let doc = json!({"links": [{"id": "a", "type": "phy", "ethernet_mac_address": "aa:bb:cc:dd:ee:ff"}]});
        let e = convert_net_json(&doc, &macs(&[])).unwrap_err();
        assert!(matches!(e, NetJsonError::NoSystemNic(_)), "{e}");
        assert!(e
            .to_string()
            .starts_with("Unable to find a system nic for {"));
        let doc = json!({"links": [{"id": "a", "type": "phy"}]});
        let e = convert_net_json(&doc, &macs(&[])).unwrap_err();
        assert!(matches!(e, NetJsonError::NoMacOrName(_)), "{e}");
        let doc = json!({"links": [{"type": "phy"}]});
        assert!(matches!(
            convert_net_json(&doc, &macs(&[])),
            Err(NetJsonError::Missing { .. })
        ));
    }

    #[test]
    fn infiniband_gets_full_address() {
        let doc = json!({"links": [{"id": "a", "type": "phy", "ethernet_mac_address": "aa:bb:cc:dd:ee:ff"}]});
        let mut m = macs(&[("aa:bb:cc:dd:ee:ff", "ib0")]);
        m.ib.insert(
            "ib0".into(),
            "a0:00:02:20:fe:80:00:00:00:00:00:00:aa:bb:cc:dd:ee:ff:00:01".into(),
        );
        let out = convert_net_json(&doc, &m).unwrap().unwrap();
        assert_eq!(out["config"][0]["type"], "infiniband");
        assert_eq!(
            out["config"][0]["mac_address"],
            "a0:00:02:20:fe:80:00:00:00:00:00:00:aa:bb:cc:dd:ee:ff:00:01"
        );
    }
}
