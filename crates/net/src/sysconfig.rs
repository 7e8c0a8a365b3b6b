//! RHEL (`network-scripts/ifcfg-*`, `route-*`) and SUSE
//! (`network/ifcfg-*`) sysconfig files, with resolv.conf, the
//! NetworkManager `dns = none` drop-in and udev rename rules.
//!
//! Files are rendered fresh: upstream merges resolv.conf and
//! `/etc/sysconfig/network` with what is already on the target; the
//! caller that owns the target does that (see [`merge_existing`]).

use crate::eni::{persistent_net_rules, subnet_is_ipv6, IPV6_DYNAMIC_TYPES};
use crate::files::{Files, Merge};
use crate::ip;
use crate::pyfmt::{py_str, truthy};
use crate::state::{NetworkState, Obj};
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Rhel,
    Suse,
}

pub struct SysconfigPaths {
    pub flavor: Flavor,
    /// `ifcfg-NAME` directory.
    pub iface_dir: &'static str,
    /// route file prefixes (v4, v6) in `iface_dir`, or `None` (SUSE never
    /// gets route files from upstream).
    pub netrules: &'static str,
    pub control: &'static str,
}

const SUSE_DISTROS: &[&str] = &[
    "opensuse",
    "opensuse-leap",
    "opensuse-microos",
    "opensuse-tumbleweed",
    "sle_hpc",
    "sle-micro",
    "sles",
    "suse",
];

pub fn paths(distro: &str) -> SysconfigPaths {
    if SUSE_DISTROS.contains(&distro) {
        SysconfigPaths {
            flavor: Flavor::Suse,
            iface_dir: "/etc/sysconfig/network",
            netrules: "/etc/udev/rules.d/85-persistent-net-cloud-init.rules",
            control: "/etc/sysconfig/network/config",
        }
    } else {
        SysconfigPaths {
            flavor: Flavor::Rhel,
            iface_dir: "/etc/sysconfig/network-scripts",
            netrules: "/etc/udev/rules.d/70-persistent-net.rules",
            control: "/etc/sysconfig/network",
        }
    }
}

/// Whether upstream has a sysconfig configuration for this distro.
pub fn supports(distro: &str) -> bool {
    SUSE_DISTROS.contains(&distro)
        || matches!(
            distro,
            "rhel"
                | "centos"
                | "fedora"
                | "rocky"
                | "almalinux"
                | "amazon"
                | "cloudlinux"
                | "eurolinux"
                | "miraclelinux"
                | "openmandriva"
                | "virtuozzo"
                | "openeuler"
                | "OpenCloudOS"
                | "TencentOS"
                | "aosc"
        )
}

fn header(sep: &str) -> String {
    format!("{sep} Created by cloud-init automatically, do not edit.\n{sep}")
}

fn quote(value: &str) -> String {
    let spaced = value.chars().any(char::is_whitespace);
    if spaced && !(value.starts_with('"') && value.ends_with('"')) {
        format!("\"{value}\"")
    } else {
        value.to_string()
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        other => py_str(other),
    }
}

#[derive(Clone)]
struct IfCfg {
    name: String,
    conf: BTreeMap<String, Value>,
    routes: BTreeMap<String, Value>,
    route_idx: u32,
    default_v4: bool,
    default_v6: bool,
}

impl IfCfg {
    fn set(&mut self, k: &str, v: impl Into<Value>) {
        self.conf.insert(k.to_string(), v.into());
    }

    fn get(&self, k: &str) -> Option<&Value> {
        self.conf.get(k)
    }

    fn bootproto(&self) -> String {
        self.get("BOOTPROTO").map(py_str).unwrap_or_default()
    }

    fn set_kind(&mut self, kind: &str) {
        self.set("TYPE", kind);
    }

    fn to_text(&self) -> String {
        let mut out = header("#");
        if !self.conf.is_empty() {
            out.push('\n');
        }
        for (k, v) in &self.conf {
            if k == "TYPE" && v.as_str() == Some("Vlan") {
                continue;
            }
            out.push_str(&format!("{k}={}\n", quote(&text(v))));
        }
        out
    }

    fn routes_text(&self, v6: bool) -> String {
        let mut out = header("#");
        if !self.routes.is_empty() {
            out.push('\n');
        }
        let mut reindex = -1;
        let get = |k: String| {
            self.routes
                .get(&k)
                .map(py_str)
                .unwrap_or_else(|| "None".into())
        };
        for key in self.routes.keys().filter(|k| k.contains("ADDRESS")) {
            let index = key.replace("ADDRESS", "");
            let address = get(key.clone());
            let gateway = get(format!("GATEWAY{index}"));
            let is_v6 = address.contains(':');
            if !v6 && !is_v6 {
                reindex += 1;
                out.push_str(&format!("ADDRESS{reindex}={}\n", quote(&address)));
                out.push_str(&format!("GATEWAY{reindex}={}\n", quote(&gateway)));
                out.push_str(&format!(
                    "NETMASK{reindex}={}\n",
                    quote(&get(format!("NETMASK{index}")))
                ));
                if let Some(m) = self.routes.get(&format!("METRIC{index}")) {
                    out.push_str(&format!("METRIC{reindex}={}\n", quote(&py_str(m))));
                }
            } else if v6 && is_v6 {
                let metric = self
                    .routes
                    .get(&format!("METRIC{index}"))
                    .map(|m| format!("metric {}", py_str(m)))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "{address}/{} via {gateway} {metric} dev {}\n",
                    get(format!("PREFIX{index}")),
                    self.name
                ));
            }
        }
        out
    }
}

fn subnets_of(iface: &Obj) -> Vec<Obj> {
    iface
        .get("subnets")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).cloned().collect())
        .unwrap_or_default()
}

fn is_default_route(route: &Obj) -> bool {
    route.get("prefix").and_then(Value::as_i64) == Some(0)
        && matches!(
            route.get("network").and_then(Value::as_str),
            Some("::" | "0.0.0.0")
        )
}

fn has_default_route(ns: &NetworkState) -> bool {
    ns.routes.iter().any(is_default_route)
        || ns.iter_interfaces().any(|i| {
            subnets_of(i).iter().any(|s| {
                s.get("routes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                    .any(is_default_route)
            })
        })
}

fn render_subnets(c: &mut IfCfg, subnets: &[Obj], has_default: bool, flavor: Flavor) {
    let suse = flavor == Flavor::Suse;
    if suse {
        c.set("BOOTPROTO", "static");
        if c.conf.contains_key("BRIDGE") {
            c.set("BOOTPROTO", "dhcp");
            c.conf.remove("BRIDGE");
        }
    } else {
        c.set("BOOTPROTO", "none");
    }
    let suse_dhcp6 = |c: &mut IfCfg, mode: &str| {
        let bp = c.bootproto();
        c.set(
            "BOOTPROTO",
            if bp == "dhcp4" || bp == "dhcp" {
                "dhcp"
            } else {
                "dhcp6"
            },
        );
        c.set("DHCLIENT6_MODE", mode);
    };
    for subnet in subnets {
        let ty = subnet.get("type").map(py_str).unwrap_or_default();
        let v6 = subnet_is_ipv6(subnet);
        let mut mtu_key = "MTU";
        match ty.as_str() {
            "dhcp6" | "ipv6_dhcpv6-stateful" => {
                if suse {
                    suse_dhcp6(c, "managed");
                } else if ty == "ipv6_dhcpv6-stateful" {
                    c.set("DHCPV6C", true);
                    c.set("IPV6INIT", true);
                    c.set("IPV6_AUTOCONF", false);
                    c.set("IPV6_FAILURE_FATAL", true);
                } else {
                    c.set("IPV6INIT", true);
                    c.set("DHCPV6C", true);
                }
            }
            "ipv6_dhcpv6-stateless" => {
                if suse {
                    suse_dhcp6(c, "info");
                } else {
                    c.set("IPV6INIT", true);
                    c.set("IPV6_AUTOCONF", true);
                    c.set("DHCPV6C", true);
                    c.set("DHCPV6C_OPTIONS", "-S");
                }
            }
            "ipv6_slaac" => {
                if suse {
                    suse_dhcp6(c, "info");
                } else {
                    c.set("IPV6INIT", true);
                    c.set("IPV6_AUTOCONF", true);
                }
            }
            "dhcp4" | "dhcp" => {
                let before = c.bootproto();
                c.set("BOOTPROTO", "dhcp");
                if suse && before != "dhcp6" && before != "dhcp" {
                    c.set("BOOTPROTO", "dhcp4");
                }
            }
            "static" | "static6" => {
                if v6 && !suse {
                    mtu_key = "IPV6_MTU";
                    c.set("IPV6INIT", true);
                }
                if let Some(mtu) = subnet.get("mtu") {
                    if let Some(cur) = c.get(mtu_key).filter(|cur| *cur != mtu) {
                        log::warn!(
                            "Network config: ignoring {} device-level mtu:{} because ipv4 subnet-level mtu:{} provided.",
                            c.name,
                            py_str(cur),
                            py_str(mtu)
                        );
                    }
                    if !(v6 && suse) {
                        c.set(mtu_key, mtu.clone());
                    }
                }
                if v6 && !suse {
                    c.set("IPV6_FORCE_ACCEPT_RA", false);
                    c.set("IPV6_AUTOCONF", false);
                }
            }
            "manual" => {
                if !suse {
                    let has = c.conf.contains_key(mtu_key);
                    c.set("ONBOOT", has);
                }
            }
            // Upstream raises ValueError("Unknown subnet type ...");
            // leaving the interface at its defaults is the sane reading.
            other => log::warn!(
                "Unknown subnet type '{other}' found for interface '{}'",
                c.name
            ),
        }
        if subnet.get("control").and_then(Value::as_str) == Some("manual") {
            if suse {
                c.set("STARTMODE", "manual");
            } else {
                c.set("ONBOOT", false);
            }
        }
    }
    let (mut v4_index, mut v6_index) = (-1, -1);
    for subnet in subnets {
        let ty = subnet.get("type").map(py_str).unwrap_or_default();
        let v6 = subnet_is_ipv6(subnet);
        if let Some(metric) = subnet.get("metric") {
            if flavor == Flavor::Rhel {
                let key = if v6 {
                    "IPV6_ROUTE_METRIC"
                } else {
                    "IPV4_ROUTE_METRIC"
                };
                c.set(key, metric.clone());
            }
        }
        if ty == "dhcp" || ty == "dhcp4" {
            if !suse && has_default && c.bootproto() != "none" {
                c.set("DHCLIENT_SET_DEFAULT_ROUTE", false);
            }
            continue;
        }
        if IPV6_DYNAMIC_TYPES.contains(&ty.as_str()) || (ty != "static" && ty != "static6") {
            continue;
        }
        let address = subnet.get("address").map(py_str).unwrap_or_default();
        let prefix = subnet.get("prefix").cloned().unwrap_or(Value::Null);
        if v6 {
            v6_index += 1;
            let cidr = format!("{address}/{}", py_str(&prefix));
            match (v6_index, suse) {
                (0, true) => c.set("IPADDR6", cidr),
                (0, false) => c.set("IPV6ADDR", cidr),
                (1, true) => c.set("IPADDR6_1", cidr),
                (1, false) => c.set("IPV6ADDR_SECONDARIES", cidr),
                (n, true) => c.set(&format!("IPADDR6_{n}"), cidr),
                (_, false) => {
                    let cur = c
                        .get("IPV6ADDR_SECONDARIES")
                        .map(py_str)
                        .unwrap_or_default();
                    c.set("IPV6ADDR_SECONDARIES", format!("{cur} {cidr}"));
                }
            }
        } else {
            v4_index += 1;
            let suff = if v4_index == 0 {
                String::new()
            } else {
                v4_index.to_string()
            };
            c.set(&format!("IPADDR{suff}"), address);
            let p = prefix
                .as_u64()
                .and_then(|p| u8::try_from(p).ok())
                .unwrap_or(32);
            c.set(&format!("NETMASK{suff}"), ip::prefix_to_ipv4_mask(p));
        }
        if !suse {
            if let Some(gw) = subnet.get("gateway") {
                c.set("DEFROUTE", true);
                if ip::is_ipv6_address(&py_str(gw)) {
                    c.set("IPV6_DEFAULTGW", gw.clone());
                } else {
                    c.set("GATEWAY", gw.clone());
                }
            }
            if let Some(Value::Array(s)) = subnet.get("dns_search") {
                let joined: Vec<String> = s.iter().map(py_str).collect();
                c.set("DOMAIN", joined.join(" "));
            }
            if let Some(Value::Array(ns)) = subnet.get("dns_nameservers") {
                for (i, n) in ns.iter().take(3).enumerate() {
                    c.set(&format!("DNS{}", i + 1), n.clone());
                }
            }
        }
    }
}

fn render_subnet_routes(c: &mut IfCfg, subnets: &[Obj], flavor: Flavor) {
    if flavor == Flavor::Suse {
        return;
    }
    for subnet in subnets {
        let ty = subnet.get("type").map(py_str).unwrap_or_default();
        for route in subnet
            .get("routes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
        {
            let gw = route.get("gateway").map(py_str).unwrap_or_default();
            let is_v6 = subnet.get("ipv6").is_some_and(truthy) || ip::is_ipv6_address(&gw);
            if is_default_route(route) && !IPV6_DYNAMIC_TYPES.contains(&ty.as_str()) {
                c.set("DEFROUTE", true);
                let bp = c.bootproto();
                if bp == "dhcp" || bp == "dhcp4" {
                    c.set("DHCLIENT_SET_DEFAULT_ROUTE", true);
                }
                if let Some(g) = route.get("gateway") {
                    if is_v6 {
                        c.set("IPV6_DEFAULTGW", g.clone());
                        c.default_v6 = true;
                    } else {
                        c.set("GATEWAY", g.clone());
                        c.default_v4 = true;
                    }
                }
                if let Some(m) = route.get("metric") {
                    let key = if subnet_is_ipv6(subnet) {
                        "IPV6_ROUTE_METRIC"
                    } else {
                        "IPV4_ROUTE_METRIC"
                    };
                    c.set(key, m.clone());
                }
            } else {
                for (old, new) in [
                    ("gateway", "GATEWAY"),
                    ("metric", "METRIC"),
                    ("prefix", "PREFIX"),
                    ("netmask", "NETMASK"),
                    ("network", "ADDRESS"),
                ] {
                    if let Some(v) = route.get(old) {
                        c.routes.insert(format!("{new}{}", c.route_idx), v.clone());
                    }
                }
                c.route_idx += 1;
            }
        }
    }
}

fn bonding_opts(c: &mut IfCfg, iface: &Obj, flavor: Flavor) {
    const OPTS: &[(&str, &str)] = &[
        ("bond_mode", "mode"),
        ("bond_xmit_hash_policy", "xmit_hash_policy"),
        ("bond_miimon", "miimon"),
        ("bond_min_links", "min_links"),
        ("bond_arp_interval", "arp_interval"),
        ("bond_arp_ip_target", "arp_ip_target"),
        ("bond_arp_validate", "arp_validate"),
        ("bond_ad_select", "ad_select"),
        ("bond_num_grat_arp", "num_grat_arp"),
        ("bond_downdelay", "downdelay"),
        ("bond_updelay", "updelay"),
        ("bond_lacp_rate", "lacp_rate"),
        ("bond_fail_over_mac", "fail_over_mac"),
        ("bond_primary", "primary"),
        ("bond_primary_reselect", "primary_reselect"),
    ];
    let mut opts = Vec::new();
    for (key, opt) in OPTS {
        for k in [key.to_string(), key.replace('_', "-")] {
            if let Some(v) = iface.get(&k) {
                let v = match v {
                    Value::Array(a) => a.iter().map(py_str).collect::<Vec<_>>().join(" "),
                    other => py_str(other),
                };
                opts.push(format!("{opt}={v}"));
                break;
            }
        }
    }
    if !opts.is_empty() {
        let key = if flavor == Flavor::Suse {
            "BONDING_MODULE_OPTS"
        } else {
            "BONDING_OPTS"
        };
        c.set(key, opts.join(" "));
    }
}

fn key_of(iface: &Obj) -> String {
    iface
        .get("config_id")
        .filter(|v| truthy(v))
        .or_else(|| iface.get("name"))
        .map(py_str)
        .unwrap_or_default()
}

struct Tree {
    cfgs: Vec<(String, IfCfg)>,
}

impl Tree {
    fn get_mut(&mut self, key: &str) -> Option<&mut IfCfg> {
        self.cfgs.iter_mut().find(|(k, _)| k == key).map(|(_, c)| c)
    }
}

fn of_type<'a>(ns: &'a NetworkState, ty: &'a str) -> impl Iterator<Item = &'a Obj> + 'a {
    ns.iter_interfaces()
        .filter(move |i| i.get("type").and_then(Value::as_str) == Some(ty))
}

fn name_of(iface: &Obj) -> String {
    iface.get("name").map(py_str).unwrap_or_default()
}

fn build(ns: &NetworkState, flavor: Flavor) -> Tree {
    let suse = flavor == Flavor::Suse;
    let mut tree = Tree { cfgs: Vec::new() };
    for iface in ns.iter_interfaces() {
        let ty = iface.get("type").and_then(Value::as_str).unwrap_or("");
        if ty == "loopback" {
            continue;
        }
        let name = name_of(iface);
        let mut c = IfCfg {
            name: name.clone(),
            conf: BTreeMap::new(),
            routes: BTreeMap::new(),
            route_idx: 1,
            default_v4: false,
            default_v6: false,
        };
        if !suse {
            c.set("DEVICE", name);
            c.set("TYPE", "Ethernet");
        }
        // flavor defaults, then the interface's own settings
        if suse {
            c.set("BOOTPROTO", "static");
            c.set("STARTMODE", "auto");
        } else {
            c.set("ONBOOT", true);
            c.set("USERCTL", false);
            c.set("BOOTPROTO", "none");
        }
        if let Some(mac) = iface.get("mac_address").filter(|v| !v.is_null()) {
            if ty == "physical" || ty == "infiniband" {
                c.set(if suse { "LLADDR" } else { "HWADDR" }, mac.clone());
            }
        }
        if let Some(mtu) = iface.get("mtu").filter(|v| !v.is_null()) {
            c.set("MTU", mtu.clone());
        }
        if let Some(ra) = iface.get("accept-ra").filter(|v| !v.is_null()) {
            if !suse {
                c.set("IPV6_FORCE_ACCEPT_RA", ra.clone());
            }
        }
        if iface.get("wakeonlan").is_some_and(truthy) && ty == "physical" {
            c.set("ETHTOOL_OPTS", "wol g");
        }
        let key = key_of(iface);
        match tree.get_mut(&key) {
            Some(slot) => *slot = c,
            None => tree.cfgs.push((key, c)),
        }
    }
    let has_default = has_default_route(ns);
    let subnets_and_routes = |c: &mut IfCfg, iface: &Obj| {
        let subnets = subnets_of(iface);
        render_subnets(c, &subnets, has_default, flavor);
        render_subnet_routes(c, &subnets, flavor);
    };
    for iface in of_type(ns, "physical") {
        if let Some(c) = tree.get_mut(&key_of(iface)) {
            subnets_and_routes(c, iface);
        }
    }
    for iface in of_type(ns, "bond") {
        let name = name_of(iface);
        let Some(c) = tree.get_mut(&name) else {
            continue;
        };
        bonding_opts(c, iface, flavor);
        c.set("BONDING_MASTER", true);
        if !suse {
            c.set_kind("Bond");
        }
        if let Some(mac) = iface.get("mac_address").filter(|m| truthy(m)) {
            c.set(if suse { "LLADDR" } else { "MACADDR" }, mac.clone());
        }
        subnets_and_routes(c, iface);
        let mut slaves: Vec<String> = ns
            .iter_interfaces()
            .filter(|s| s.get("bond-master").is_some_and(truthy))
            .filter(|s| s.get("bond-master").map(py_str).as_deref() == Some(name.as_str()))
            .map(name_of)
            .collect();
        slaves.sort();
        for (i, slave) in slaves.iter().enumerate() {
            let key = if suse {
                format!("BONDING_SLAVE_{i}")
            } else {
                format!("BONDING_SLAVE{i}")
            };
            if let Some(c) = tree.get_mut(&name) {
                c.set(&key, slave.clone());
            }
            if let Some(sc) = tree.get_mut(slave) {
                if suse {
                    sc.set("BOOTPROTO", "none");
                    sc.set("STARTMODE", "hotplug");
                } else {
                    sc.set("MASTER", name.clone());
                    sc.set("SLAVE", true);
                }
            }
        }
    }
    for iface in of_type(ns, "vlan") {
        let name = name_of(iface);
        let Some(c) = tree.get_mut(&name) else {
            continue;
        };
        if suse {
            if let Some(id) = iface.get("vlan_id").filter(|v| truthy(v)) {
                c.set("VLAN_ID", id.clone());
            }
            // upstream slices at rfind('.'), which is -1 without a dot
            let dev = match name.rfind('.') {
                Some(p) => name[..p].to_string(),
                None => {
                    let mut s = name.clone();
                    s.pop();
                    s
                }
            };
            c.set("ETHERDEVICE", dev);
        } else {
            c.set("VLAN", true);
            c.set_kind("Vlan");
            c.set(
                "PHYSDEV",
                iface.get("vlan-raw-device").cloned().unwrap_or(Value::Null),
            );
        }
        subnets_and_routes(c, iface);
    }
    for iface in of_type(ns, "bridge") {
        let name = name_of(iface);
        let ports: Vec<String> = iface
            .get("bridge_ports")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(py_str).collect())
            .unwrap_or_default();
        let Some(c) = tree.get_mut(&name) else {
            continue;
        };
        if !suse {
            c.set_kind("Bridge");
        }
        let map: &[(&str, &str)] = if suse {
            &[
                ("bridge_stp", "BRIDGE_STP"),
                ("bridge_ageing", "BRIDGE_AGEINGTIME"),
                ("bridge_bridgeprio", "BRIDGE_PRIORITY"),
            ]
        } else {
            &[
                ("bridge_stp", "STP"),
                ("bridge_ageing", "AGEING"),
                ("bridge_bridgeprio", "PRIO"),
            ]
        };
        for (old, new) in map {
            if let Some(v) = iface.get(*old) {
                c.set(new, v.clone());
            }
        }
        if suse {
            if let Some(stp) = c.get("BRIDGE_STP").cloned() {
                c.set("BRIDGE_STP", if truthy(&stp) { "on" } else { "off" });
            }
        }
        if let Some(mac) = iface.get("mac_address").filter(|m| truthy(m)) {
            c.set(if suse { "LLADDRESS" } else { "MACADDR" }, mac.clone());
        }
        if suse && !ports.is_empty() {
            c.set("BRIDGE_PORTS", ports.join(" "));
        }
        for port in &ports {
            if let Some(pc) = tree.get_mut(port) {
                pc.set("BRIDGE", if suse { json!("yes") } else { json!(name) });
            }
        }
        if let Some(c) = tree.get_mut(&name) {
            subnets_and_routes(c, iface);
        }
    }
    for iface in of_type(ns, "infiniband") {
        let Some(c) = tree.get_mut(&name_of(iface)) else {
            continue;
        };
        c.set_kind("InfiniBand");
        subnets_and_routes(c, iface);
    }
    tree
}

fn render_dns(ns: &NetworkState) -> Option<String> {
    let mut nameservers: Vec<String> = Vec::new();
    let mut search: Vec<String> = Vec::new();
    let push_unique = |list: &mut Vec<String>, items: &[Value]| {
        for v in items {
            let s = py_str(v);
            if !list.contains(&s) {
                list.push(s);
            }
        }
    };
    for iface in ns.iter_interfaces() {
        for s in subnets_of(iface) {
            if let Some(Value::Array(a)) = s.get("dns_nameservers") {
                nameservers.extend(a.iter().map(py_str));
            }
            if let Some(Value::Array(a)) = s.get("dns_search") {
                search.extend(a.iter().map(py_str));
            }
        }
        if let Some(dns) = iface.get("dns") {
            if let Some(Value::Array(a)) = dns.get("nameservers") {
                push_unique(&mut nameservers, a);
            }
            if let Some(Value::Array(a)) = dns.get("search") {
                push_unique(&mut search, a);
            }
        }
    }
    push_unique(&mut nameservers, &ns.dns_nameservers);
    push_unique(&mut search, &ns.dns_search);
    if nameservers.is_empty() && search.is_empty() {
        return None;
    }
    let mut out = header(";");
    out.push('\n');
    let mut seen = Vec::new();
    for n in nameservers {
        if !seen.contains(&n) {
            out.push_str(&format!("nameserver {n}\n"));
            seen.push(n);
        }
    }
    let mut domains: Vec<String> = Vec::new();
    for d in search {
        if domains.contains(&d) {
            continue;
        }
        // resolv.conf allows 6 search domains and 256 characters; upstream
        // raises past that, we keep what fits.
        let candidate = if domains.is_empty() {
            d.len()
        } else {
            domains.join(" ").len() + 1 + d.len()
        };
        if domains.len() >= 6 || candidate > 256 {
            log::warn!("Not adding search domain {d}: resolv.conf search list is full");
            continue;
        }
        domains.push(d);
    }
    if !domains.is_empty() {
        out.push_str(&format!("search {}\n", domains.join(" ")));
    }
    Some(out)
}

fn nm_dns_none(ns: &NetworkState) -> bool {
    let mut iface_dns = false;
    for iface in ns.iter_interfaces() {
        if subnets_of(iface)
            .iter()
            .any(|s| s.contains_key("dns_nameservers") || s.contains_key("dns_search"))
        {
            iface_dns = true;
        }
        if !iface_dns {
            if let Some(dns) = iface.get("dns") {
                let has = dns.get("nameservers").is_some_and(truthy)
                    || dns.get("search").is_some_and(truthy);
                if has {
                    iface_dns = true;
                    break;
                }
            }
        }
    }
    !ns.dns_nameservers.is_empty() || !ns.dns_search.is_empty() || iface_dns
}

pub fn render(ns: &NetworkState, distro: &str) -> Files {
    let p = paths(distro);
    let tree = build(ns, p.flavor);
    let mut files = Files::default();
    for (_, c) in &tree.cfgs {
        if !c.conf.is_empty() {
            files.add(
                &format!("{}/ifcfg-{}", p.iface_dir, c.name),
                c.to_text(),
                0o644,
            );
        }
        if !c.routes.is_empty() {
            let (v4, v6) = match p.flavor {
                Flavor::Rhel => (
                    format!("{}/route-{}", p.iface_dir, c.name),
                    format!("{}/route6-{}", p.iface_dir, c.name),
                ),
                Flavor::Suse => (
                    format!("{}/ifroute-{}", p.iface_dir, c.name),
                    format!("{}/ifroute-{}", p.iface_dir, c.name),
                ),
            };
            if !files.0.contains_key(&v4) {
                files.add(&v4, c.routes_text(false), 0o644);
            }
            if !files.0.contains_key(&v6) {
                files.add(&v6, c.routes_text(true), 0o644);
            }
        }
    }
    if let Some(resolv) = render_dns(ns) {
        files.add_merged(
            "/etc/resolv.conf",
            resolv,
            0o644,
            Merge::Resolv { header: true },
        );
    }
    if nm_dns_none(ns) {
        files.add(
            "/etc/NetworkManager/conf.d/99-cloud-init.conf",
            format!("{}\n[main]\ndns = none\n", header("#")),
            0o644,
        );
    }
    files.add(p.netrules, persistent_net_rules(ns), 0o644);
    if p.control.ends_with("network") {
        let mut lines = vec![header("#"), "NETWORKING=yes".to_string()];
        if ns.use_ipv6 {
            lines.push("NETWORKING_IPV6=yes".into());
            lines.push("IPV6_AUTOCONF=no".into());
        }
        files.add_merged(
            p.control,
            lines.join("\n") + "\n",
            0o644,
            Merge::SysconfigNetwork,
        );
    }
    files
}

/// Upstream keeps the unrelated lines of an existing
/// `/etc/sysconfig/network`.
pub fn merge_network(fresh: &str, existing: &str) -> String {
    let hdr = header("#");
    let hdr_lines: Vec<&str> = hdr.lines().collect();
    let mut out = fresh.trim_end_matches('\n').to_string();
    for line in existing.lines() {
        let ours = ["NETWORKING", "NETWORKING_IPV6", "IPV6_AUTOCONF"]
            .iter()
            .any(|s| line.contains(s));
        if !ours && !hdr_lines.contains(&line) {
            out.push('\n');
            out.push_str(line);
        }
    }
    out + "\n"
}

enum ResolvLine {
    Verbatim(String),
    Opt(String, String, String),
}

/// Upstream edits an existing resolv.conf in place: other lines stay,
/// name servers and search domains not yet present are added (the
/// options then move to the end), and the header goes first.
pub fn merge_resolv(fresh: &str, existing: &str, with_header: bool) -> String {
    let mut lines: Vec<ResolvLine> = Vec::new();
    for line in existing.lines() {
        let cut = line.find([';', '#']).unwrap_or(line.len());
        let (head, tail) = line.split_at(cut);
        let head_trim = head.trim_start();
        match head_trim.split_once(char::is_whitespace) {
            Some((opt, val)) if !head.trim().is_empty() => lines.push(ResolvLine::Opt(
                opt.to_string(),
                val.trim_start().to_string(),
                tail.to_string(),
            )),
            _ => lines.push(ResolvLine::Verbatim(line.to_string())),
        }
    }
    let values = |lines: &[ResolvLine], opt: &str| -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| match l {
                ResolvLine::Opt(o, v, _) if o == opt => Some(v.clone()),
                _ => None,
            })
            .collect()
    };
    for l in fresh.lines() {
        if let Some(ns) = l.strip_prefix("nameserver ") {
            let mut cur = values(&lines, "nameserver");
            if cur.iter().any(|c| c == ns) {
                continue;
            }
            cur.push(ns.to_string());
            lines.retain(|l| !matches!(l, ResolvLine::Opt(o, _, _) if o == "nameserver"));
            lines.extend(
                cur.into_iter()
                    .map(|n| ResolvLine::Opt("nameserver".into(), n, String::new())),
            );
        } else if let Some(domains) = l.strip_prefix("search ") {
            for d in domains.split_whitespace() {
                let mut cur: Vec<String> = values(&lines, "search")
                    .iter()
                    .flat_map(|s| s.split_whitespace().map(String::from).collect::<Vec<_>>())
                    .collect();
                if cur.iter().any(|c| c == d) || cur.len() >= 6 {
                    continue;
                }
                cur.push(d.to_string());
                lines.retain(|l| !matches!(l, ResolvLine::Opt(o, _, _) if o == "search"));
                lines.push(ResolvLine::Opt(
                    "search".into(),
                    cur.join(" "),
                    String::new(),
                ));
            }
        }
    }
    let mut body = String::new();
    for l in &lines {
        match l {
            ResolvLine::Verbatim(t) => body.push_str(t),
            ResolvLine::Opt(o, v, tail) => body.push_str(&format!("{o} {v}{tail}")),
        }
        body.push('\n');
    }
    let hdr = header(";");
    if !with_header || body.starts_with(&hdr) {
        body
    } else {
        format!("{hdr}\n{body}")
    }
}
