//! The interpreted network state every renderer works from, built the way
//! upstream's `NetworkStateInterpreter` builds it: v2 devices are turned
//! into v1 commands, subnets and routes are normalised (prefix, netmask),
//! and bond/bridge members get placeholders.
//!
//! Interfaces stay loosely typed (ordered JSON objects) on purpose: the
//! eni renderer prints every attribute an interface carries (bond and
//! bridge parameters, `vlan-raw-device`, even v2 `dns`), so the set of keys
//! and their insertion order are part of the output format.

use crate::error::{join, NetError};
use crate::ip;
use crate::pyfmt::{is_true, py_repr, py_str, truthy};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub type Obj = Map<String, Value>;

/// Upstream's `NetworkState`.
#[derive(Debug, Clone, Default)]
pub struct NetworkState {
    pub version: u8,
    /// v1: the `config` list; v2: the whole v2 mapping.
    pub config: Value,
    /// Keyed by v1 name or v2 device id, in insertion order.
    pub interfaces: Obj,
    pub routes: Vec<Obj>,
    pub dns_nameservers: Vec<Value>,
    pub dns_search: Vec<Value>,
    pub use_ipv6: bool,
}

impl NetworkState {
    pub fn iter_interfaces(&self) -> impl Iterator<Item = &Obj> {
        self.interfaces.values().filter_map(Value::as_object)
    }
}

/// Bond parameter names, v1 → v2.
pub const BOND_V1_V2: &[(&str, &str)] = &[
    ("bond-ad-select", "ad-select"),
    ("bond-arp-interval", "arp-interval"),
    ("bond-arp-ip-target", "arp-ip-target"),
    ("bond-arp-validate", "arp-validate"),
    ("bond-downdelay", "down-delay"),
    ("bond-fail-over-mac", "fail-over-mac-policy"),
    ("bond-lacp-rate", "lacp-rate"),
    ("bond-miimon", "mii-monitor-interval"),
    ("bond-min-links", "min-links"),
    ("bond-mode", "mode"),
    ("bond-num-grat-arp", "gratuitous-arp"),
    ("bond-primary", "primary"),
    ("bond-primary-reselect", "primary-reselect-policy"),
    ("bond-updelay", "up-delay"),
    ("bond-xmit-hash-policy", "transmit-hash-policy"),
];

/// Bridge parameter names, v1 → v2 (`None`: no v2 spelling).
pub const BRIDGE_V1_V2: &[(&str, Option<&str>)] = &[
    ("bridge_ageing", Some("ageing-time")),
    ("bridge_bridgeprio", Some("priority")),
    ("bridge_fd", Some("forward-delay")),
    ("bridge_gcint", None),
    ("bridge_hello", Some("hello-time")),
    ("bridge_maxage", Some("max-age")),
    ("bridge_maxwait", None),
    ("bridge_pathcost", Some("path-cost")),
    ("bridge_portprio", Some("port-priority")),
    ("bridge_stp", Some("stp")),
    ("bridge_waitport", None),
];

/// Keys of a v2 bond/bridge that are not bond/bridge parameters.
const V2_KEY_FILTER: &[&str] = &[
    "addresses",
    "dhcp4",
    "dhcp4-overrides",
    "dhcp6",
    "dhcp6-overrides",
    "gateway4",
    "gateway6",
    "interfaces",
    "match",
    "mtu",
    "nameservers",
    "renderer",
    "set-name",
    "wakeonlan",
    "accept-ra",
    "optional",
];

/// A v1 command failed its required-keys check: upstream logs and skips it.
struct InvalidCommand(String);

enum Fail {
    Skip(InvalidCommand),
    Fatal(NetError),
}

impl From<NetError> for Fail {
    fn from(e: NetError) -> Self {
        Fail::Fatal(e)
    }
}

fn require(cmd: &Obj, keys: &[&str]) -> Result<(), Fail> {
    let missing: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| !cmd.contains_key(*k))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let set: Vec<String> = missing.iter().map(|k| format!("'{k}'")).collect();
    let req: Vec<String> = keys.iter().map(|k| format!("'{k}'")).collect();
    Err(Fail::Skip(InvalidCommand(format!(
        "Command missing {{{}}} of required keys [{}]",
        set.join(", "),
        req.join(", ")
    ))))
}

/// Interprets a parsed config. `macs` maps lower-case MAC → current
/// interface name on the machine (upstream's `get_interfaces_by_mac`),
/// used to name v2 ethernets that match by MAC without `set-name`.
pub fn interpret(
    version: u8,
    config: &Value,
    base: &str,
    macs: &BTreeMap<String, String>,
) -> Result<NetworkState, NetError> {
    let mut it = Interp {
        ns: NetworkState {
            version,
            config: config.clone(),
            ..NetworkState::default()
        },
        dns_map: Vec::new(),
        macs,
    };
    if version == 1 {
        it.parse_v1(config, base)?;
    } else {
        it.parse_v2(config, base)?;
    }
    Ok(it.ns)
}

struct Interp<'a> {
    ns: NetworkState,
    dns_map: Vec<(String, Vec<Value>, Vec<Value>, String)>,
    macs: &'a BTreeMap<String, String>,
}

fn obj_at<'v>(v: &'v Value, path: &str) -> Result<&'v Obj, NetError> {
    v.as_object()
        .ok_or_else(|| NetError::invalid(path, format!("{} is not of type 'object'", py_repr(v))))
}

fn name_of(cmd: &Obj, key: &str, path: &str) -> Result<String, NetError> {
    match cmd.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(NetError::invalid(
            join(path, key),
            format!("{} is not of type 'string'", py_repr(other)),
        )),
        None => Err(NetError::invalid(
            path,
            format!("'{key}' is a required property"),
        )),
    }
}

fn skip_warning(cmd: &Obj, why: &InvalidCommand) {
    log::warn!(
        "Skipping invalid command: {}\n{}",
        py_repr(&Value::Object(cmd.clone())),
        why.0
    );
}

impl Interp<'_> {
    fn parse_v1(&mut self, config: &Value, base: &str) -> Result<(), NetError> {
        let cpath = join(base, "config");
        let items = config
            .as_array()
            .ok_or_else(|| NetError::invalid(&cpath, "is not of type 'array'"))?;
        for (i, item) in items.iter().enumerate() {
            let path = join(&cpath, i);
            let cmd = obj_at(item, &path)?;
            let ty = match cmd.get("type") {
                Some(Value::String(t)) => t.as_str(),
                Some(other) => {
                    return Err(NetError::invalid(
                        join(&path, "type"),
                        format!("{} is not of type 'string'", py_repr(other)),
                    ))
                }
                None => return Err(NetError::invalid(&path, "'type' is a required property")),
            };
            let res = match ty {
                "physical" | "loopback" | "infiniband" => {
                    require(cmd, &["name"]).and_then(|_| Ok(self.physical(cmd, &path)?))
                }
                "bond" => self.bond(cmd, &path),
                "bridge" => self.bridge(cmd, &path),
                "vlan" => self.vlan(cmd, &path),
                "nameserver" => self.nameserver(cmd, &path),
                "route" => self.route(cmd, &path),
                other => {
                    return Err(NetError::invalid(
                        join(&path, "type"),
                        format!("No handler found for  command '{other}'"),
                    ))
                }
            };
            match res {
                Ok(()) => {}
                Err(Fail::Skip(why)) => skip_warning(cmd, &why),
                Err(Fail::Fatal(e)) => return Err(e),
            }
        }
        for (iface, nameservers, search, path) in std::mem::take(&mut self.dns_map) {
            let Some(Value::Object(entry)) = self.ns.interfaces.get_mut(&iface) else {
                return Err(NetError::invalid(
                    join(&path, "interface"),
                    format!(
                        "Nameserver specified for interface {iface}, but interface {iface} does not exist!"
                    ),
                ));
            };
            entry.insert(
                "dns".into(),
                json!({"nameservers": nameservers, "search": search}),
            );
        }
        Ok(())
    }

    fn parse_v2(&mut self, config: &Value, base: &str) -> Result<(), NetError> {
        let top = obj_at(config, base)?;
        for (section, devices) in top {
            if section == "version" || section == "renderer" {
                continue;
            }
            let path = join(base, section);
            let devs = match section.as_str() {
                "ethernets" | "bonds" | "bridges" | "vlans" | "wifis" => obj_at(devices, &path)?,
                other => {
                    return Err(NetError::invalid(
                        path,
                        format!("No handler found for command '{other}'"),
                    ))
                }
            };
            for (id, dev) in devs {
                obj_at(dev, &join(&path, id))?;
            }
            match section.as_str() {
                "ethernets" => self.ethernets(devs, &path)?,
                "bonds" => self.bond_bridge(devs, "bond", &path)?,
                "bridges" => self.bond_bridge(devs, "bridge", &path)?,
                "vlans" => self.vlans(devs, &path)?,
                _ => log::warn!(
                    "Wifi configuration is only available to distros with netplan rendering support."
                ),
            }
            if let Err(why) = self.v2_common(devs) {
                skip_warning(devs, &why);
            }
        }
        Ok(())
    }

    fn physical(&mut self, cmd: &Obj, path: &str) -> Result<(), NetError> {
        let name = name_of(cmd, "name", path)?;
        let mut iface = self
            .ns
            .interfaces
            .get(&name)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(params) = cmd.get("params").and_then(Value::as_object) {
            for (k, v) in params {
                iface.insert(k.clone(), v.clone());
            }
        }
        let subnets = normalize_subnets(cmd.get("subnets"), &join(path, "subnets"))?;
        if !self.ns.use_ipv6 {
            for s in &subnets {
                let ty = s.get("type").map(py_str).unwrap_or_default();
                let addr = s.get("address").map(py_str).unwrap_or_default();
                if ty.ends_with('6') || ip::is_ipv6_address(&addr) {
                    self.ns.use_ipv6 = true;
                    break;
                }
            }
        }
        let flag = |k: &str| match cmd.get(k) {
            None | Some(Value::Null) => Value::Null,
            Some(v) => Value::Bool(is_true(v)),
        };
        let get = |k: &str| cmd.get(k).cloned().unwrap_or(Value::Null);
        let updates = [
            ("config_id", get("config_id")),
            ("name", get("name")),
            ("type", get("type")),
            ("mac_address", get("mac_address")),
            ("inet", json!("inet")),
            ("mode", json!("manual")),
            ("mtu", get("mtu")),
            ("address", Value::Null),
            ("gateway", Value::Null),
            (
                "subnets",
                Value::Array(subnets.into_iter().map(Value::Object).collect()),
            ),
            ("accept-ra", flag("accept-ra")),
            ("wakeonlan", flag("wakeonlan")),
            ("optional", flag("optional")),
        ];
        for (k, v) in updates {
            iface.insert(k.into(), v);
        }
        let key = match cmd.get("config_id") {
            Some(v) => py_str(v),
            None => name,
        };
        self.ns.interfaces.insert(key, Value::Object(iface));
        Ok(())
    }

    fn iface_mut(&mut self, name: &str) -> Option<&mut Obj> {
        self.ns
            .interfaces
            .get_mut(name)
            .and_then(Value::as_object_mut)
    }

    fn vlan(&mut self, cmd: &Obj, path: &str) -> Result<(), Fail> {
        require(cmd, &["name", "vlan_id", "vlan_link"])?;
        self.physical(cmd, path)?;
        let name = name_of(cmd, "name", path)?;
        if let Some(iface) = self.iface_mut(&name) {
            iface.insert(
                "vlan-raw-device".into(),
                cmd.get("vlan_link").cloned().unwrap_or(Value::Null),
            );
            iface.insert(
                "vlan_id".into(),
                cmd.get("vlan_id").cloned().unwrap_or(Value::Null),
            );
        }
        Ok(())
    }

    fn bond(&mut self, cmd: &Obj, path: &str) -> Result<(), Fail> {
        require(cmd, &["name", "bond_interfaces", "params"])?;
        self.physical(cmd, path)?;
        let name = name_of(cmd, "name", path)?;
        let params = cmd
            .get("params")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(iface) = self.iface_mut(&name) {
            for (k, v) in &params {
                iface.insert(k.clone(), v.clone());
            }
            iface.insert("bond-slaves".into(), json!("none"));
        }
        let members = string_list(cmd.get("bond_interfaces"), &join(path, "bond_interfaces"))?;
        for member in members {
            if !self.ns.interfaces.contains_key(&member) {
                // Upstream's placeholder for a member not (yet) declared.
                let mut ph = Obj::new();
                ph.insert("name".into(), json!(member));
                ph.insert("type".into(), json!("bond"));
                self.physical(&ph, path)?;
            }
            if let Some(m) = self.iface_mut(&member) {
                m.insert("bond-master".into(), json!(name));
                for (k, v) in &params {
                    m.insert(k.clone(), v.clone());
                }
            }
        }
        Ok(())
    }

    fn bridge(&mut self, cmd: &Obj, path: &str) -> Result<(), Fail> {
        require(cmd, &["name", "bridge_interfaces"])?;
        let ports_value = cmd.get("bridge_interfaces").cloned().unwrap_or(Value::Null);
        let ports = string_list(Some(&ports_value), &join(path, "bridge_interfaces"))?;
        for port in &ports {
            if !self.ns.interfaces.contains_key(port) {
                let mut ph = Obj::new();
                ph.insert("name".into(), json!(port));
                self.physical(&ph, path)?;
            }
        }
        self.physical(cmd, path)?;
        let name = name_of(cmd, "name", path)?;
        let Some(iface) = self.iface_mut(&name) else {
            return Ok(());
        };
        iface.insert("bridge_ports".into(), ports_value);
        if let Some(params) = cmd.get("params").and_then(Value::as_object) {
            for (k, v) in params {
                iface.insert(k.clone(), v.clone());
            }
        }
        if let Some(stp) = iface.get("bridge_stp").cloned() {
            let b = match &stp {
                Value::Null | Value::Bool(_) => None,
                Value::String(s) if s == "on" || s == "1" => Some(true),
                Value::String(s) if s == "off" || s == "0" => Some(false),
                Value::Number(n) if n.as_i64() == Some(1) => Some(true),
                Value::Number(n) if n.as_i64() == Some(0) => Some(false),
                other => {
                    return Err(Fail::Fatal(NetError::invalid(
                        join(path, "params.bridge_stp"),
                        format!(
                            "Cannot convert bridge_stp value ({}) to boolean",
                            py_str(other)
                        ),
                    )))
                }
            };
            if let Some(b) = b {
                iface.insert("bridge_stp".into(), Value::Bool(b));
            }
        }
        Ok(())
    }

    fn nameserver(&mut self, cmd: &Obj, path: &str) -> Result<(), Fail> {
        require(cmd, &["address"])?;
        let (ns, search) = parse_dns(cmd);
        if let Some(iface) = cmd.get("interface") {
            self.dns_map
                .retain(|(name, ..)| name.as_str() != py_str(iface).as_str());
            self.dns_map
                .push((py_str(iface), ns, search, path.to_string()));
        } else {
            self.ns.dns_nameservers.extend(ns);
            self.ns.dns_search.extend(search);
        }
        Ok(())
    }

    fn route(&mut self, cmd: &Obj, path: &str) -> Result<(), Fail> {
        require(cmd, &["destination"])?;
        let r = normalize_route(cmd, path)?;
        self.ns.routes.push(r);
        Ok(())
    }

    fn ethernets(&mut self, devs: &Obj, path: &str) -> Result<(), NetError> {
        for (id, dev) in devs {
            let dpath = join(path, id);
            let cfg = obj_at(dev, &dpath)?;
            let empty = Obj::new();
            let matcher = cfg
                .get("match")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            let mac = matcher.get("macaddress").cloned().unwrap_or(Value::Null);
            let mut cmd = Obj::new();
            cmd.insert("config_id".into(), json!(id));
            cmd.insert("type".into(), json!("physical"));
            cmd.insert("mac_address".into(), mac.clone());
            let mut name = id.clone();
            match cfg.get("set-name") {
                Some(v) if truthy(v) => name = py_str(v),
                _ => {
                    if truthy(&mac) && !self.macs.is_empty() {
                        if let Some(found) = self.macs.get(&py_str(&mac).to_lowercase()) {
                            name = found.clone();
                        }
                    }
                }
            }
            cmd.insert("name".into(), json!(name));
            if let Some(driver) = matcher.get("driver").filter(|d| truthy(d)) {
                cmd.insert("params".into(), json!({"driver": driver}));
            }
            for key in ["mtu", "match", "wakeonlan", "accept-ra", "optional"] {
                if let Some(v) = cfg.get(key) {
                    cmd.insert(key.into(), v.clone());
                }
            }
            warn_deprecated_gateways(cfg);
            let subnets = v2_to_v1_ipcfg(self, cfg, &dpath)?;
            if !subnets.is_empty() {
                cmd.insert("subnets".into(), Value::Array(subnets));
            }
            self.physical(&cmd, &dpath)?;
        }
        Ok(())
    }

    fn vlans(&mut self, devs: &Obj, path: &str) -> Result<(), NetError> {
        for (id, dev) in devs {
            let dpath = join(path, id);
            let cfg = obj_at(dev, &dpath)?;
            let mut cmd = Obj::new();
            cmd.insert("type".into(), json!("vlan"));
            cmd.insert("name".into(), json!(id));
            cmd.insert(
                "vlan_id".into(),
                cfg.get("id").cloned().unwrap_or(Value::Null),
            );
            cmd.insert(
                "vlan_link".into(),
                cfg.get("link").cloned().unwrap_or(Value::Null),
            );
            if let Some(mtu) = cfg.get("mtu") {
                cmd.insert("mtu".into(), mtu.clone());
            }
            warn_deprecated_gateways(cfg);
            let subnets = v2_to_v1_ipcfg(self, cfg, &dpath)?;
            if !subnets.is_empty() {
                cmd.insert("subnets".into(), Value::Array(subnets));
            }
            match self.vlan(&cmd, &dpath) {
                Ok(()) => {}
                Err(Fail::Skip(why)) => skip_warning(&cmd, &why),
                Err(Fail::Fatal(e)) => return Err(e),
            }
        }
        Ok(())
    }

    fn bond_bridge(&mut self, devs: &Obj, kind: &str, path: &str) -> Result<(), NetError> {
        for (id, dev) in devs {
            let dpath = join(path, id);
            let cfg = obj_at(dev, &dpath)?;
            let mut params = cfg
                .get("parameters")
                .filter(|_| !V2_KEY_FILTER.contains(&"parameters"))
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            // netplan accepts both spellings; upstream keeps the new one.
            if let Some(v) = params.shift_remove("gratuitious-arp") {
                if truthy(&v) {
                    params.insert("gratuitous-arp".into(), v);
                }
            }
            let mut v1_params = Obj::new();
            for (k, v) in params {
                let v1 = if kind == "bond" {
                    BOND_V1_V2
                        .iter()
                        .find(|(_, v2)| *v2 == k)
                        .map(|(v1, _)| *v1)
                } else {
                    BRIDGE_V1_V2
                        .iter()
                        .find(|(_, v2)| *v2 == Some(k.as_str()))
                        .map(|(v1, _)| *v1)
                };
                match v1 {
                    Some(v1) => {
                        v1_params.insert(v1.into(), v);
                    }
                    // Upstream dies with a KeyError here; dropping the
                    // unknown parameter keeps the rest of the config.
                    None => log::warn!(
                        "Ignoring unknown {kind} parameter {k} in {}",
                        join(&dpath, "parameters")
                    ),
                }
            }
            let mut cmd = Obj::new();
            cmd.insert("type".into(), json!(kind));
            cmd.insert("name".into(), json!(id));
            cmd.insert(
                format!("{kind}_interfaces"),
                cfg.get("interfaces").cloned().unwrap_or(Value::Null),
            );
            cmd.insert("params".into(), Value::Object(v1_params));
            if let Some(mtu) = cfg.get("mtu") {
                cmd.insert("mtu".into(), mtu.clone());
            }
            warn_deprecated_gateways(cfg);
            let subnets = v2_to_v1_ipcfg(self, cfg, &dpath)?;
            if !subnets.is_empty() {
                cmd.insert("subnets".into(), Value::Array(subnets));
            }
            let res = if kind == "bond" {
                self.bond(&cmd, &dpath)
            } else {
                self.bridge(&cmd, &dpath)
            };
            match res {
                Ok(()) => {}
                Err(Fail::Skip(why)) => skip_warning(&cmd, &why),
                Err(Fail::Fatal(e)) => return Err(e),
            }
        }
        Ok(())
    }

    /// Per-device `nameservers` become the interface's `dns`. A device
    /// with search domains but no addresses fails upstream's required-key
    /// check, which abandons the rest of the section's DNS too.
    fn v2_common(&mut self, devs: &Obj) -> Result<(), InvalidCommand> {
        for (id, dev) in devs {
            let Some(ns) = dev.get("nameservers") else {
                continue;
            };
            let search = ns.get("search").filter(|v| truthy(v));
            let addrs = ns.get("addresses").filter(|v| truthy(v));
            let mut cmd = Obj::new();
            cmd.insert("type".into(), json!("nameserver"));
            if let Some(s) = search {
                cmd.insert("search".into(), s.clone());
            }
            let Some(a) = addrs else {
                return Err(InvalidCommand(
                    "Command missing {'address'} of required keys ['address']".into(),
                ));
            };
            cmd.insert("address".into(), a.clone());
            let (nameservers, search) = parse_dns(&cmd);
            if let Some(iface) = self.iface_mut(id) {
                iface.insert(
                    "dns".into(),
                    json!({"nameservers": nameservers, "search": search}),
                );
            }
        }
        Ok(())
    }
}

fn warn_deprecated_gateways(cfg: &Obj) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static LOGGED: AtomicBool = AtomicBool::new(false);
    if (cfg.contains_key("gateway4") || cfg.contains_key("gateway6"))
        && !LOGGED.swap(true, Ordering::Relaxed)
    {
        log::warn!(
            target: "DEPRECATED:lifecycle.py",
            "The use of `gateway4` and `gateway6` is deprecated in 22.4 and scheduled to be \
             removed in 27.4. For more info check out: \
             https://docs.cloud-init.io/en/latest/topics/network-config-format-v2.html"
        );
    }
}

fn string_list(v: Option<&Value>, path: &str) -> Result<Vec<String>, NetError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.iter().map(py_str).collect()),
        Some(other) => Err(NetError::invalid(
            path,
            format!("{} is not of type 'array'", py_repr(other)),
        )),
    }
}

fn parse_dns(cmd: &Obj) -> (Vec<Value>, Vec<Value>) {
    let listify = |v: Option<&Value>| match v {
        None => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(other) => vec![other.clone()],
    };
    (listify(cmd.get("address")), listify(cmd.get("search")))
}

/// v2 addressing (`dhcp4`, `addresses`, gateways, `routes`) as v1 subnets.
fn v2_to_v1_ipcfg(it: &mut Interp, cfg: &Obj, path: &str) -> Result<Vec<Value>, NetError> {
    let overrides = |key: &str, subnet: &mut Obj| {
        if let Some(m) = cfg.get(key).and_then(|o| o.get("route-metric")) {
            subnet.insert("metric".into(), m.clone());
        }
    };
    let mut subnets: Vec<Obj> = Vec::new();
    if cfg.get("dhcp4").is_some_and(truthy) {
        let mut s = Obj::new();
        s.insert("type".into(), json!("dhcp4"));
        overrides("dhcp4-overrides", &mut s);
        subnets.push(s);
    }
    if cfg.get("dhcp6").is_some_and(truthy) {
        let mut s = Obj::new();
        s.insert("type".into(), json!("dhcp6"));
        it.ns.use_ipv6 = true;
        overrides("dhcp6-overrides", &mut s);
        subnets.push(s);
    }
    let (mut gw4_used, mut gw6_used) = (false, false);
    let mut nameservers = Obj::new();
    let addresses = match cfg.get("addresses") {
        None => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(other) => {
            return Err(NetError::invalid(
                join(path, "addresses"),
                format!("{} is not of type 'array'", py_repr(other)),
            ))
        }
    };
    for (i, address) in addresses.into_iter().enumerate() {
        let text = py_str(&address);
        if !ip::is_ip_network(&text) {
            return Err(NetError::invalid(
                join(&join(path, "addresses"), i),
                format!("Address {text} is not a valid ip address"),
            ));
        }
        let mut s = Obj::new();
        s.insert("type".into(), json!("static"));
        s.insert("address".into(), address.clone());
        if text.contains(':') {
            if let (Some(gw), false) = (cfg.get("gateway6"), gw6_used) {
                gw6_used = true;
                s.insert("gateway".into(), gw.clone());
            }
        } else if let (Some(gw), false) = (cfg.get("gateway4"), gw4_used) {
            gw4_used = true;
            s.insert("gateway".into(), gw.clone());
        }
        if let (Some(ns), true) = (cfg.get("nameservers"), nameservers.is_empty()) {
            if let Some(a) = ns.get("addresses").filter(|v| truthy(v)) {
                nameservers.insert("dns_nameservers".into(), a.clone());
            }
            if let Some(sd) = ns.get("search").filter(|v| truthy(v)) {
                nameservers.insert("dns_search".into(), sd.clone());
            }
            for (k, v) in &nameservers {
                s.insert(k.clone(), v.clone());
            }
        }
        subnets.push(s);
    }
    let mut routes = Vec::new();
    if let Some(list) = cfg.get("routes") {
        let rpath = join(path, "routes");
        let items = list.as_array().ok_or_else(|| {
            NetError::invalid(&rpath, format!("{} is not of type 'array'", py_repr(list)))
        })?;
        for (i, route) in items.iter().enumerate() {
            let ipath = join(&rpath, i);
            let r = obj_at(route, &ipath)?;
            let via = r.get("via").cloned().unwrap_or(Value::Null);
            let mut to = r.get("to").cloned().unwrap_or(Value::Null);
            // Upstream cannot interpret netplan's `to: default` outside
            // netplan (ValueError); it means the default route of the
            // gateway's family.
            if to.as_str() == Some("default") {
                let v6 = py_str(&via).contains(':');
                to = json!(if v6 { "::/0" } else { "0.0.0.0/0" });
            }
            let mut v1 = Obj::new();
            v1.insert("destination".into(), to);
            v1.insert("gateway".into(), via);
            v1.insert(
                "metric".into(),
                r.get("metric").cloned().unwrap_or(Value::Null),
            );
            v1.insert("mtu".into(), r.get("mtu").cloned().unwrap_or(Value::Null));
            routes.push(Value::Object(normalize_route(&v1, &ipath).map_err(
                |e| match e {
                    NetError::Invalid { msg, .. } => NetError::invalid(join(&ipath, "to"), msg),
                    other => other,
                },
            )?));
        }
    }
    if let (Some(first), false) = (subnets.first_mut(), routes.is_empty()) {
        first.insert("routes".into(), Value::Array(routes));
    }
    Ok(subnets.into_iter().map(Value::Object).collect())
}

pub(crate) fn normalize_subnets(v: Option<&Value>, path: &str) -> Result<Vec<Obj>, NetError> {
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(other) if !truthy(other) => return Ok(Vec::new()),
        Some(other) => {
            return Err(NetError::invalid(
                path,
                format!("{} is not of type 'array'", py_repr(other)),
            ))
        }
    };
    items
        .iter()
        .enumerate()
        .map(|(i, s)| normalize_subnet(s, &join(path, i)))
        .collect()
}

fn normalize_subnet(v: &Value, path: &str) -> Result<Obj, NetError> {
    let subnet = obj_at(v, path)?;
    let ty = match subnet.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(other) => {
            return Err(NetError::invalid(
                join(path, "type"),
                format!("{} is not of type 'string'", py_repr(other)),
            ))
        }
        None => return Err(NetError::invalid(path, "'type' is a required property")),
    };
    let mut normal: Obj = subnet
        .iter()
        .filter(|(_, v)| truthy(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if ty == "static" || ty == "static6" {
        let net = normalize_net_keys(&normal, &["address", "ip_address"], path)?;
        for (k, v) in net {
            normal.insert(k, v);
        }
    }
    let mut routes = Vec::new();
    if let Some(list) = subnet.get("routes").filter(|r| !r.is_null()) {
        let rpath = join(path, "routes");
        let items = list.as_array().ok_or_else(|| {
            NetError::invalid(&rpath, format!("{} is not of type 'array'", py_repr(list)))
        })?;
        for (i, r) in items.iter().enumerate() {
            let ipath = join(&rpath, i);
            routes.push(Value::Object(normalize_route(obj_at(r, &ipath)?, &ipath)?));
        }
    }
    normal.insert("routes".into(), Value::Array(routes));
    for key in ["dns_search", "dns_nameservers"] {
        if let Some(v) = normal.get(key) {
            if !v.is_array() {
                let Value::String(s) = v else {
                    return Err(NetError::invalid(
                        join(path, key),
                        format!("{} is not of type 'string' or 'array'", py_repr(v)),
                    ));
                };
                let parts: Vec<Value> = s.split_whitespace().map(|p| json!(p)).collect();
                normal.insert(key.into(), Value::Array(parts));
            }
        }
    }
    Ok(normal)
}

/// Python's `v or v == 0`.
fn kept(v: &Value) -> bool {
    truthy(v) || matches!(v, Value::Bool(false)) || v.as_f64() == Some(0.0)
}

fn normalize_net_keys(network: &Obj, address_keys: &[&str], path: &str) -> Result<Obj, NetError> {
    let mut net: Obj = network
        .iter()
        .filter(|(_, v)| kept(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let Some(addr_key) = address_keys
        .iter()
        .find(|k| net.get(**k).is_some_and(truthy))
        .copied()
    else {
        let msg = format!(
            "No config network address keys [{}] found in {}",
            address_keys.join(","),
            py_repr(&Value::Object(network.clone()))
        );
        log::error!("{msg}");
        return Err(NetError::invalid(join(path, address_keys[0]), msg));
    };
    let addr = net.get(addr_key).map(py_str).unwrap_or_default();
    let bad = || {
        log::error!("Address {addr} is not a valid ip network");
        NetError::invalid(
            join(path, addr_key),
            format!("Address {addr} is not a valid ip address"),
        )
    };
    if !ip::is_ip_network(&addr) {
        return Err(bad());
    }
    let v6 = ip::is_ipv6_network(&addr);
    let netmask = net.get("netmask").filter(|v| truthy(v)).map(py_str);
    let prefix: i64 = if let Some((addr_part, mask)) = addr.split_once('/') {
        net.insert(addr_key.into(), json!(addr_part));
        let p = if v6 {
            ip::ipv6_mask_to_prefix(mask)
        } else {
            ip::ipv4_mask_to_prefix(mask)
        };
        i64::from(p.ok_or_else(bad)?)
    } else if let Some(p) = net.get("prefix") {
        py_str(p).trim().parse::<i64>().map_err(|_| {
            NetError::invalid(
                join(path, "prefix"),
                format!("invalid literal for int() with base 10: {}", py_repr(p)),
            )
        })?
    } else if let Some(mask) = netmask {
        let p = if v6 {
            ip::ipv6_mask_to_prefix(&mask)
        } else {
            ip::ipv4_mask_to_prefix(&mask)
        };
        i64::from(p.ok_or_else(|| {
            NetError::invalid(
                join(path, "netmask"),
                format!("{mask} is not a valid netmask"),
            )
        })?)
    } else if v6 {
        64
    } else {
        24
    };
    if let Some(old) = net.get("prefix") {
        if py_str(old) != prefix.to_string() {
            log::warn!(
                "Overwriting existing 'prefix' with '{prefix}' in network info: {}",
                py_repr(&Value::Object(net.clone()))
            );
        }
    }
    net.insert("prefix".into(), json!(prefix));
    if v6 {
        net.shift_remove("netmask");
    } else {
        let p = u8::try_from(prefix.clamp(0, 32)).unwrap_or(32);
        net.insert("netmask".into(), json!(ip::prefix_to_ipv4_mask(p)));
    }
    Ok(net)
}

pub(crate) fn normalize_route(route: &Obj, path: &str) -> Result<Obj, NetError> {
    let mut normal: Obj = route
        .iter()
        .filter(|(_, v)| !v.is_null() && v.as_str() != Some(""))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(dest) = normal.get("destination").cloned() {
        normal.insert("network".into(), dest);
        normal.shift_remove("destination");
    }
    let net = normalize_net_keys(&normal, &["network", "destination"], path)?;
    for (k, v) in net {
        normal.insert(k, v);
    }
    if let Some(metric) = normal.get("metric").filter(|m| truthy(m)).cloned() {
        let n = match &metric {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
            Value::Bool(b) => Some(i64::from(*b)),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        let n = n.ok_or_else(|| {
            NetError::invalid(
                join(path, "metric"),
                format!("Route config metric {} is not an integer", py_str(&metric)),
            )
        })?;
        normal.insert("metric".into(), json!(n));
    }
    Ok(normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1(cfg: Value) -> Result<NetworkState, NetError> {
        interpret(1, &cfg, "", &BTreeMap::new())
    }

    #[test]
    fn static_subnet_gets_prefix_and_netmask() -> Result<(), NetError> {
        let ns = v1(json!([{"type": "physical", "name": "eth0",
            "subnets": [{"type": "static", "address": "10.0.0.5/16"}]}]))?;
        let s = &ns.interfaces["eth0"]["subnets"][0];
        assert_eq!(s["address"], "10.0.0.5");
        assert_eq!(s["prefix"], 16);
        assert_eq!(s["netmask"], "255.255.0.0");
        Ok(())
    }

    #[test]
    fn bad_address_names_the_path() {
        let err = v1(json!([{"type": "physical", "name": "eth0",
            "subnets": [{"type": "static", "address": "10.0.0.500"}]}]));
        let Err(NetError::Invalid { path, msg }) = err else {
            unreachable!("expected an error, got {err:?}")
        };
        assert_eq!(path, "config.0.subnets.0.address");
        assert!(msg.contains("10.0.0.500"), "{msg}");
    }

    #[test]
    fn bond_members_get_master_and_params() -> Result<(), NetError> {
        let ns = v1(
            json!([{"type": "bond", "name": "bond0", "bond_interfaces": ["eth9"],
            "params": {"bond-mode": "active-backup"}}]),
        )?;
        assert_eq!(ns.interfaces["eth9"]["bond-master"], "bond0");
        assert_eq!(ns.interfaces["eth9"]["type"], "bond");
        assert_eq!(ns.interfaces["bond0"]["bond-slaves"], "none");
        Ok(())
    }

    #[test]
    fn v2_default_route_is_understood() -> Result<(), NetError> {
        let cfg = json!({"version": 2, "ethernets": {"eth0": {"addresses": ["2001:db8::5/64"],
            "routes": [{"to": "default", "via": "2001:db8::1"}]}}});
        let ns = interpret(2, &cfg, "", &BTreeMap::new())?;
        let r = &ns.interfaces["eth0"]["subnets"][0]["routes"][0];
        assert_eq!(r["network"], "::");
        assert_eq!(r["prefix"], 0);
        Ok(())
    }

    #[test]
    fn unknown_interface_for_nameserver_is_an_error() {
        let err = v1(json!([{"type": "nameserver", "address": "1.1.1.1", "interface": "eth7"}]));
        assert!(
            matches!(err, Err(NetError::Invalid { ref path, .. }) if path == "config.0.interface")
        );
    }
}
