//! The fallback config: DHCP on the NIC most likely to be connected,
//! chosen from `<root>/sys/class/net` the way upstream chooses it.

use ci_host::Host;
use serde_json::{json, Value};
use std::cmp::Ordering;
use std::collections::BTreeMap;

const SYS_CLASS_NET: &str = "/sys/class/net";
/// Preferred when it is among the equally good candidates.
const DEFAULT_PRIMARY_INTERFACE: &str = "eth0";

struct Sys<'a> {
    host: &'a Host,
}

impl Sys<'_> {
    fn path(&self, dev: &str, rel: &str) -> String {
        if rel.is_empty() {
            format!("{SYS_CLASS_NET}/{dev}")
        } else {
            format!("{SYS_CLASS_NET}/{dev}/{rel}")
        }
    }

    /// `read_sys_net_safe`: stripped contents, or `None` when unreadable.
    fn read(&self, dev: &str, rel: &str) -> Option<String> {
        self.host
            .read_to_string(self.path(dev, rel))
            .ok()
            .map(|s| s.trim().to_string())
    }

    fn read_int(&self, dev: &str, rel: &str) -> Option<i64> {
        self.read(dev, rel)?.parse().ok()
    }

    fn exists(&self, dev: &str, rel: &str) -> bool {
        self.host.exists(self.path(dev, rel))
    }

    fn devices(&self) -> Vec<String> {
        self.host.list_dir(SYS_CLASS_NET)
    }

    fn driver(&self, dev: &str) -> Option<String> {
        let link = self.host.read_link(self.path(dev, "device/driver")).ok()?;
        link.file_name().map(|n| n.to_string_lossy().into_owned())
    }

    fn master(&self, dev: &str) -> Option<String> {
        if !self.host.lexists(self.path(dev, "master")) {
            return None;
        }
        let link = self.host.read_link(self.path(dev, "master")).ok()?;
        link.file_name().map(|n| n.to_string_lossy().into_owned())
    }

    fn has_standby_feature(&self, dev: &str) -> bool {
        self.read(dev, "device/features")
            .is_some_and(|f| f.len() >= 64 && f.as_bytes().get(62) == Some(&b'1'))
    }

    fn is_netfail_master(&self, dev: &str) -> bool {
        !self.exists(dev, "master")
            && self.driver(dev).as_deref() == Some("virtio_net")
            && self.has_standby_feature(dev)
    }

    fn is_netfailover(&self, dev: &str) -> bool {
        if !self.exists(dev, "master") {
            return false;
        }
        let driver = self.driver(dev);
        if driver.as_deref() == Some("virtio_net") {
            // standby
            return self.has_standby_feature(dev);
        }
        // primary: its master is a virtio_net device with the standby bit
        self.master(dev).is_some_and(|m| {
            self.driver(&m).as_deref() == Some("virtio_net") && self.has_standby_feature(&m)
        })
    }

    fn mac(&self, dev: &str) -> Option<String> {
        let rel = if self.host.is_dir(self.path(dev, "bonding_slave")) {
            "bonding_slave/perm_hwaddr"
        } else {
            "address"
        };
        self.read(dev, rel).filter(|m| !m.is_empty())
    }

    /// upstream's `get_interfaces` with the filters the caller selects:
    /// `(name, mac, driver)`.
    fn interfaces(&self, strict: bool) -> Vec<(String, String, Option<String>)> {
        let zero_mac = vec!["00"; 16].join(":");
        let mut out = Vec::new();
        for name in self.devices() {
            if strict {
                let own = self
                    .read_int(&name, "addr_assign_type")
                    .is_none_or(|t| matches!(t, 0 | 1 | 3));
                if !own {
                    continue;
                }
            }
            if self.exists(&name, "bridge") {
                log::debug!("Ignoring bridge interface: {name}");
                continue;
            }
            if strict
                && self
                    .read(&name, "uevent")
                    .is_some_and(|u| u.lines().any(|l| l == "DEVTYPE=vlan"))
            {
                continue;
            }
            if self.exists(&name, "bonding") {
                log::debug!("Ignoring bond interface: {name}");
                continue;
            }
            if strict {
                if let Some(m) = self.master(&name) {
                    let master_ok = self.exists(&m, "bonding")
                        || self.exists(&m, "bridge")
                        || self.exists(&name, "upper_ovs-system");
                    if !master_ok {
                        continue;
                    }
                }
            }
            if self.is_netfailover(&name) {
                log::debug!("Ignoring failover interface: {name}");
                continue;
            }
            let Some(mac) = self.mac(&name) else {
                log::debug!("Ignoring interface without mac: {name}");
                continue;
            };
            if strict && name != "lo" && zero_mac.starts_with(&mac) {
                continue;
            }
            let driver = self.driver(&name);
            out.push((name, mac, driver));
        }
        // Hyper-V VFs duplicate the MAC of their synthetic hv_netvsc NIC
        // and must never be configured directly.
        let netvsc: Vec<String> = out
            .iter()
            .filter(|i| i.2.as_deref() == Some("hv_netvsc"))
            .map(|i| i.1.clone())
            .collect();
        out.retain(|i| i.2.as_deref() == Some("hv_netvsc") || !netvsc.contains(&i.1));
        out
    }
}

/// Natural sort: digit runs compare as numbers, text case-insensitively.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn parts(s: &str) -> Vec<(bool, String)> {
        let mut out: Vec<(bool, String)> = Vec::new();
        for c in s.chars() {
            let digit = c.is_ascii_digit();
            match out.last_mut() {
                Some((d, text)) if *d == digit => text.push(c),
                _ => out.push((digit, c.to_string())),
            }
        }
        out
    }
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let ord = match (x.0, y.0) {
            (true, true) => {
                let nx = x.1.trim_start_matches('0');
                let ny = y.1.trim_start_matches('0');
                nx.len().cmp(&ny.len()).then_with(|| nx.cmp(ny))
            }
            // Python compares int with str by raising; upstream's key
            // lists always start with text, so mixed positions cannot
            // occur for NIC names that start with a letter.
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => x.1.to_lowercase().cmp(&y.1.to_lowercase()),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    pa.len().cmp(&pb.len())
}

/// NICs viable for networking: connected ones first, then ones that may
/// get a carrier, each group naturally sorted with `eth0` first.
pub fn find_candidate_nics(host: &Host) -> Vec<String> {
    let sys = Sys { host };
    let mut connected = Vec::new();
    let mut possibly = Vec::new();
    for (name, _, _) in sys.interfaces(false) {
        if name == "lo" {
            continue;
        }
        if name.starts_with("veth") {
            log::debug!("Ignoring veth interface: {name}");
            continue;
        }
        if sys.read_int(&name, "carrier").is_some_and(|c| c != 0) {
            connected.push(name);
            continue;
        }
        log::debug!("Interface has no carrier: {name}");
        if sys.read_int(&name, "dormant").is_some_and(|d| d != 0) {
            possibly.push(name);
            continue;
        }
        let state = sys.read(&name, "operstate").unwrap_or_default();
        if matches!(
            state.as_str(),
            "dormant" | "down" | "lowerlayerdown" | "unknown"
        ) {
            possibly.push(name);
            continue;
        }
        log::debug!("Interface ignored: {name}");
    }
    let mut out = Vec::new();
    for mut group in [connected, possibly] {
        group.sort_by(|a, b| natural_cmp(a, b));
        if let Some(pos) = group.iter().position(|n| n == DEFAULT_PRIMARY_INTERFACE) {
            let primary = group.remove(pos);
            group.insert(0, primary);
        }
        out.extend(group);
    }
    out
}

pub fn find_fallback_nic(host: &Host) -> Option<String> {
    find_candidate_nics(host).into_iter().next()
}

/// upstream's `generate_fallback_config()`.
pub fn fallback_config(host: &Host) -> Option<Value> {
    fallback_config_with(host, false)
}

/// `generate_fallback_config(config_driver=True)` adds the NIC's driver
/// to the match (some datasources ask for it).
pub fn fallback_config_with(host: &Host, config_driver: bool) -> Option<Value> {
    let sys = Sys { host };
    let nic = find_fallback_nic(host)?;
    // netfailover masters share their MAC with the slaves: match by name.
    let mut matcher = if sys.is_netfail_master(&nic) {
        json!({ "name": nic })
    } else {
        let mac = sys.read(&nic, "address").unwrap_or_default().to_lowercase();
        json!({ "macaddress": mac })
    };
    if config_driver {
        if let (Some(d), Some(m)) = (sys.driver(&nic), matcher.as_object_mut()) {
            m.insert("driver".into(), json!(d));
        }
    }
    Some(json!({
        "ethernets": {
            nic.clone(): {
                "dhcp4": true,
                "dhcp6": true,
                "set-name": nic,
                "match": matcher,
            }
        },
        "version": 2,
    }))
}

/// The distro's fallback: photon skips it unless `disable_fallback_netcfg`
/// (default true there) is false in `system_info`.
pub fn distro_fallback_config(host: &Host, distro: &str, system_info: &Value) -> Option<Value> {
    if distro == "photon" {
        let disabled = system_info
            .get("disable_fallback_netcfg")
            .is_none_or(crate::pyfmt::truthy);
        log::debug!("disable_fallback_netcfg value is: {disabled}");
        if disabled {
            log::info!(
                "Skipping generate_fallback_config. Rely on PhotonOS default network config"
            );
            return None;
        }
    }
    fallback_config(host)
}

/// MAC (lower case) → interface name, upstream's `get_interfaces_by_mac`
/// (bridges, bonds, VLANs, stolen and zero MACs excluded).
pub fn interfaces_by_mac(host: &Host) -> BTreeMap<String, String> {
    let sys = Sys { host };
    let mut out = BTreeMap::new();
    for (name, mac, _) in sys.interfaces(true) {
        out.entry(mac.to_lowercase()).or_insert(name);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec!["eth10", "ens3", "eth2", "ens10", "ENS4"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["ens3", "ENS4", "ens10", "eth2", "eth10"]);
    }
}
