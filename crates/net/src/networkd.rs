//! systemd-networkd `.network` files, one per interface.
//!
//! Upstream 25.1.4 writes no `.netdev` files: bonds, bridges and VLANs get
//! a `.network` file only, and so do we, to stay byte-identical.

use crate::files::Files;
use crate::ip;
use crate::pyfmt::{py_str, truthy};
use crate::state::{NetworkState, Obj};
use crate::NetError;
use serde_json::Value;
use std::collections::BTreeMap;

const NETWORK_DIR: &str = "/etc/systemd/network/";
const OWNER: &str = "systemd-network";

/// One file's sections; entries kept sorted and unique as upstream does.
#[derive(Default)]
struct Conf {
    sections: BTreeMap<&'static str, Vec<String>>,
    routes: BTreeMap<String, Vec<String>>,
}

impl Conf {
    fn add(&mut self, sec: &'static str, key: &str, val: &str) {
        let entries = self.sections.entry(sec).or_default();
        let line = format!("{key}={val}");
        if !entries.contains(&line) {
            entries.push(line);
            entries.sort();
        }
    }

    fn add_route(&mut self, rid: &str, key: &str, val: &str) {
        let entries = self.routes.entry(rid.to_string()).or_default();
        let line = format!("{key}={val}");
        if !entries.contains(&line) {
            entries.push(line);
            entries.sort();
        }
    }

    fn finish(&self) -> String {
        let mut out = String::new();
        // Section names sort as: Address, DHCPv4, DHCPv6, Link, Match,
        // Network, Route.
        let mut names: Vec<&str> = self.sections.keys().copied().collect();
        if !self.routes.is_empty() {
            names.push("Route");
        }
        names.sort();
        for name in names {
            match name {
                "Address" => {
                    for e in self.sections.get("Address").into_iter().flatten() {
                        out.push_str(&format!("[Address]\n{e}\n\n"));
                    }
                }
                "Route" => {
                    for entries in self.routes.values() {
                        out.push_str("[Route]\n");
                        for e in entries {
                            out.push_str(e);
                            out.push('\n');
                        }
                        out.push('\n');
                    }
                }
                other => {
                    let Some(entries) = self.sections.get(other).filter(|e| !e.is_empty()) else {
                        continue;
                    };
                    out.push_str(&format!("[{other}]\n"));
                    for e in entries {
                        out.push_str(e);
                        out.push('\n');
                    }
                    out.push('\n');
                }
            }
        }
        out
    }
}

fn parse_route(conf: &mut Conf, rid: &str, route: &Obj) {
    let prefix = route
        .get("prefix")
        .map(|p| format!("/{}", py_str(p)))
        .unwrap_or_default();
    for (k, v) in route {
        let key = match k.as_str() {
            "gateway" => "Gateway",
            "network" => "Destination",
            "metric" => "Metric",
            _ => continue,
        };
        let mut val = py_str(v);
        if k == "network" {
            val.push_str(&prefix);
        }
        conf.add_route(rid, key, &val);
    }
}

fn list_text(v: &Value) -> String {
    match v {
        Value::Array(a) => a.iter().map(py_str).collect::<Vec<_>>().join(" "),
        other => py_str(other),
    }
}

fn parse_subnets(iface: &Obj, conf: &mut Conf) -> &'static str {
    let mut dhcp = "no";
    let mut rid = 0;
    for e in iface
        .get("subnets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
    {
        match e.get("type").and_then(Value::as_str) {
            Some("dhcp4" | "dhcp") => {
                dhcp = match dhcp {
                    "no" => "ipv4",
                    "ipv6" => "yes",
                    d => d,
                }
            }
            Some("dhcp6") => {
                dhcp = match dhcp {
                    "no" => "ipv6",
                    "ipv4" => "yes",
                    d => d,
                }
            }
            _ => {}
        }
        for route in e
            .get("routes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
        {
            parse_route(conf, &format!("r{rid}"), route);
            rid += 1;
        }
        let Some(address) = e.get("address") else {
            continue;
        };
        let mut addr = py_str(address);
        if let Some(p) = e.get("prefix") {
            addr = format!("{addr}/{}", py_str(p));
        }
        for (k, v) in e {
            match k.as_str() {
                "address" => conf.add("Address", "Address", &addr),
                "gateway" => {
                    let gw = py_str(v);
                    let id = format!("a{rid}");
                    conf.add_route(&id, "Gateway", &gw);
                    if ip::gateway_needs_onlink(&gw, &addr) {
                        conf.add_route(&id, "GatewayOnLink", "yes");
                    }
                    rid += 1;
                }
                "dns_nameservers" => conf.add("Network", "DNS", &list_text(v)),
                "dns_search" => conf.add("Network", "Domains", &list_text(v)),
                _ => {}
            }
        }
    }
    conf.add("Network", "DHCP", dhcp);
    if let Some(Value::Bool(ra)) = iface.get("accept-ra") {
        conf.add(
            "Network",
            "IPv6AcceptRA",
            if *ra { "True" } else { "False" },
        );
    }
    dhcp
}

fn parse_dns(iface: &Obj, conf: &mut Conf, ns: &NetworkState) {
    let (search, nameservers) = match iface.get("dns").filter(|d| truthy(d)) {
        Some(dns) => (
            dns.get("search").cloned().unwrap_or(Value::Null),
            dns.get("nameservers").cloned().unwrap_or(Value::Null),
        ),
        None if ns.version == 1 => (
            Value::Array(ns.dns_search.clone()),
            Value::Array(ns.dns_nameservers.clone()),
        ),
        None => return,
    };
    if truthy(&search) {
        conf.add("Network", "Domains", &list_text(&search));
    }
    if truthy(&nameservers) {
        conf.add("Network", "DNS", &list_text(&nameservers));
    }
}

fn dhcp_domain(device: &Obj, conf: &mut Conf) {
    for (item, section) in [("dhcp4domain", "DHCPv4"), ("dhcp6domain", "DHCPv6")] {
        let Some(v) = device.get(item) else { continue };
        let text = py_str(v).to_lowercase();
        let ret = match text.as_str() {
            "true" | "1" | "on" | "yes" | "y" => "yes".to_string(),
            "false" | "0" | "off" | "no" | "n" => "no".to_string(),
            "route" => text.clone(),
            _ => {
                log::warn!("Invalid dhcp4domain value - {text}");
                "no".to_string()
            }
        };
        conf.add(section, "UseDomains", &ret);
    }
}

fn dhcp_overrides(conf: &mut Conf, device: &Obj, dhcp: &str, version: &str) {
    let mut map = vec![
        ("UseDNS", "use-dns"),
        ("UseDomains", "use-domains"),
        ("UseHostname", "use-hostname"),
        ("UseNTP", "use-ntp"),
    ];
    if version == "4" {
        map.extend([
            ("SendHostname", "send-hostname"),
            ("Hostname", "hostname"),
            ("RouteMetric", "route-metric"),
            ("UseMTU", "use-mtu"),
            ("UseRoutes", "use-routes"),
        ]);
    }
    let Some(overrides) = device.get(&format!("dhcp{version}-overrides")) else {
        return;
    };
    if dhcp != "yes" && dhcp != format!("ipv{version}") {
        return;
    }
    let section = if version == "4" { "DHCPv4" } else { "DHCPv6" };
    for (key, v2) in map {
        if let Some(v) = overrides.get(v2) {
            conf.add(section, key, &py_str(v));
        }
    }
}

pub fn render(ns: &NetworkState) -> Result<Files, NetError> {
    // Insertion-ordered: a later interface with the same name replaces
    // the earlier file's content, as upstream's dict update does.
    let mut out: Vec<(String, String)> = Vec::new();
    let empty = Obj::new();
    let ethernets = ns
        .config
        .get("ethernets")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for iface in ns.iter_interfaces() {
        let mut conf = Conf::default();
        for (key, sec_key) in [
            ("name", "Name"),
            ("driver", "Driver"),
            ("mac_address", "MACAddress"),
        ] {
            if let Some(v) = iface.get(key).filter(|v| truthy(v)) {
                conf.add("Match", sec_key, &py_str(v));
            }
        }
        let link = iface.get("name").map(py_str).unwrap_or_default();
        if let Some(mtu) = iface.get("mtu").filter(|v| truthy(v)) {
            conf.add("Link", "MTUBytes", &py_str(mtu));
        }
        if iface.get("optional").is_some_and(truthy) {
            conf.add("Link", "RequiredForOnline", "no");
        }
        let dhcp = parse_subnets(iface, &mut conf);
        parse_dns(iface, &mut conf, ns);
        for (rid, route) in ns.routes.iter().enumerate() {
            parse_route(&mut conf, &format!("c{rid}"), route);
        }
        if ns.version == 2 {
            let mut name = link.clone();
            for (dev_name, dev_cfg) in ethernets {
                if let Some(set_name) = dev_cfg.get("set-name") {
                    if py_str(set_name) == link {
                        name = dev_name.clone();
                        break;
                    }
                }
            }
            if let Some(device) = ethernets.get(&name).and_then(Value::as_object) {
                dhcp_domain(device, &mut conf);
                for version in ["4", "6"] {
                    let has_domain = device.contains_key(&format!("dhcp{version}domain"));
                    let has_override = device
                        .get(&format!("dhcp{version}-overrides"))
                        .is_some_and(|o| o.get("use-domains").is_some());
                    if has_domain && has_override {
                        return Err(NetError::invalid(
                            format!("ethernets.{name}"),
                            format!(
                                "{name} has both dhcp{version}domain and dhcp{version}-overrides.use-domains configured. Use one"
                            ),
                        ));
                    }
                    dhcp_overrides(&mut conf, device, dhcp, version);
                }
            }
        }
        let text = conf.finish();
        match out.iter_mut().find(|(l, _)| *l == link) {
            Some(slot) => slot.1 = text,
            None => out.push((link, text)),
        }
    }
    let mut files = Files::default();
    for (link, text) in out {
        files.add_owned(
            &format!("{NETWORK_DIR}10-cloud-init-{link}.network"),
            text,
            0o644,
            OWNER,
        );
    }
    Ok(files)
}
