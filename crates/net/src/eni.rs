//! ifupdown's `/etc/network/interfaces` format, plus the udev rules that
//! pin interface names to MACs.

use crate::distro::DistroConfig;
use crate::files::Files;
use crate::ip;
use crate::pyfmt::{py_str, truthy};
use crate::state::{NetworkState, Obj};
use serde_json::{json, Value};

pub const IPV6_DYNAMIC_TYPES: &[&str] = &[
    "dhcp6",
    "ipv6_slaac",
    "ipv6_dhcpv6-stateless",
    "ipv6_dhcpv6-stateful",
];

pub const NETRULES_PATH: &str = "/etc/udev/rules.d/70-persistent-net.rules";

/// upstream's `subnet_is_ipv6`.
pub fn subnet_is_ipv6(subnet: &Obj) -> bool {
    let ty = subnet.get("type").map(py_str).unwrap_or_default();
    if ty.ends_with('6') || IPV6_DYNAMIC_TYPES.contains(&ty.as_str()) {
        return true;
    }
    ty == "static"
        && subnet
            .get("address")
            .is_some_and(|a| ip::is_ipv6_address(&py_str(a)))
}

pub fn render(ns: &NetworkState, dcfg: &DistroConfig) -> Files {
    let mut files = Files::default();
    let mut content = dcfg.eni_header.to_string();
    content.push_str(&render_interfaces(ns));
    files.add(dcfg.eni_path, content, 0o644);
    files.add(NETRULES_PATH, persistent_net_rules(ns), 0o644);
    files
}

/// One udev rule per physical interface that has a name and a MAC.
pub fn persistent_net_rules(ns: &NetworkState) -> String {
    let mut out = String::new();
    for iface in ns.iter_interfaces() {
        if iface.get("type").and_then(Value::as_str) != Some("physical") {
            continue;
        }
        let (Some(name), Some(mac)) = (
            iface.get("name"),
            iface.get("mac_address").filter(|m| truthy(m)),
        ) else {
            continue;
        };
        let driver = iface
            .get("driver")
            .filter(|d| truthy(d))
            .map_or_else(|| "?*".to_string(), py_str);
        out.push_str(&format!(
            "SUBSYSTEM==\"net\", ACTION==\"add\", DRIVERS==\"{driver}\", ATTR{{address}}==\"{}\", NAME=\"{}\"\n",
            py_str(mac),
            py_str(name)
        ));
    }
    out
}

fn type_order(ty: &str) -> u8 {
    match ty {
        "loopback" => 0,
        "physical" => 1,
        "infiniband" => 2,
        "bond" => 3,
        "bridge" => 4,
        "vlan" => 5,
        // Upstream raises KeyError on other types (bridge-port
        // placeholders have none); last is a sane place for them.
        _ => 6,
    }
}

fn render_interfaces(ns: &NetworkState) -> String {
    let mut lo = json!({
        "name": "lo",
        "type": "physical",
        "inet": "inet",
        "subnets": [{"type": "loopback", "control": "auto"}],
    });
    for iface in ns.iter_interfaces() {
        if iface.get("name").and_then(Value::as_str) == Some("lo") {
            lo = Value::Object(iface.clone());
        }
    }
    if let Some(first) = lo
        .get_mut("subnets")
        .and_then(Value::as_array_mut)
        .and_then(|s| s.first_mut())
        .and_then(Value::as_object_mut)
    {
        if !ns.dns_nameservers.is_empty() {
            first.insert(
                "dns_nameservers".into(),
                json!(join_values(&ns.dns_nameservers)),
            );
        }
        if !ns.dns_search.is_empty() {
            first.insert("dns_search".into(), json!(join_values(&ns.dns_search)));
        }
    }
    let mut sections: Vec<Vec<String>> = Vec::new();
    if let Some(lo) = lo.as_object() {
        sections.extend(render_iface(lo));
    }
    let mut others: Vec<&Obj> = ns.iter_interfaces().collect();
    others.sort_by_key(|i| {
        (
            type_order(i.get("type").and_then(Value::as_str).unwrap_or("")),
            i.get("name").map(py_str).unwrap_or_default(),
        )
    });
    for iface in others {
        if iface.get("name").and_then(Value::as_str) == Some("lo") {
            continue;
        }
        sections.extend(render_iface(iface));
    }
    for route in &ns.routes {
        sections.push(render_route(route, ""));
    }
    let blocks: Vec<String> = sections.iter().map(|s| s.join("\n")).collect();
    blocks.join("\n\n") + "\n"
}

fn join_values(values: &[Value]) -> String {
    values.iter().map(py_str).collect::<Vec<_>>().join(" ")
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Array(a) => join_values(a),
        other => py_str(other),
    }
}

fn render_iface(src: &Obj) -> Vec<Vec<String>> {
    let mut iface = src.clone();
    iface.shift_remove("config_id");
    let subnets: Vec<Obj> = iface
        .get("subnets")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).cloned().collect())
        .unwrap_or_default();
    let accept_ra = iface.shift_remove("accept-ra").filter(|v| !v.is_null());
    let wol = iface.shift_remove("wakeonlan");
    if wol.as_ref().is_some_and(truthy) {
        // "g": wake on the magic packet.
        iface.insert("ethernet-wol".into(), json!("g"));
    }
    let ra_flag = |ra: &Value| json!(if truthy(ra) { "1" } else { "0" });
    let name = iface.get("name").map(py_str).unwrap_or_default();
    let mut sections: Vec<Vec<String>> = Vec::new();
    if subnets.is_empty() {
        let mut lines = Vec::new();
        if iface.contains_key("bond-master") || iface.contains_key("bond-slaves") {
            lines.push(format!("auto {name}"));
        }
        lines.push(format!(
            "iface {name} {} {}",
            iface.get("inet").map(py_str).unwrap_or_default(),
            iface.get("mode").map(py_str).unwrap_or_default()
        ));
        lines.extend(iface_attrs(&iface, 0, None));
        sections.push(lines);
        return sections;
    }
    for (index, subnet) in subnets.iter().enumerate() {
        let ty = subnet.get("type").map(py_str).unwrap_or_default();
        let v6 = subnet_is_ipv6(subnet);
        let ipv4_mtu = if v6 { None } else { subnet.get("mtu").cloned() };
        iface.insert("index".into(), json!(index));
        iface.insert("mode".into(), json!(ty));
        iface.insert(
            "control".into(),
            subnet
                .get("control")
                .cloned()
                .unwrap_or_else(|| json!("auto")),
        );
        iface.insert("inet".into(), json!(if v6 { "inet6" } else { "inet" }));
        match ty.as_str() {
            "dhcp4" | "dhcp6" | "ipv6_dhcpv6-stateful" => {
                iface.insert("mode".into(), json!("dhcp"));
                if let Some(ra) = &accept_ra {
                    iface.insert("accept_ra".into(), ra_flag(ra));
                }
            }
            "ipv6_dhcpv6-stateless" => {
                iface.insert("mode".into(), json!("auto"));
                iface.insert("dhcp".into(), json!("1"));
            }
            "ipv6_slaac" => {
                iface.insert("mode".into(), json!("auto"));
                iface.insert("dhcp".into(), json!("0"));
            }
            _ if v6 => {
                iface.insert("mode".into(), json!("static"));
                if let Some(ra) = &accept_ra {
                    iface.insert("accept_ra".into(), ra_flag(ra));
                }
            }
            _ => {}
        }
        // Older ifupdown rejects a second `auto IFACE` line.
        let auto_line = format!("auto {name}");
        if sections.iter().flatten().any(|l| l.contains(&auto_line)) {
            iface.insert("control".into(), json!("alias"));
        }
        let mut lines = start_entry(&iface);
        lines.extend(subnet_lines(subnet));
        lines.extend(iface_attrs(&iface, index, ipv4_mtu.as_ref()));
        for route in subnet
            .get("routes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
        {
            lines.extend(render_route(route, "    "));
        }
        sections.push(lines);
    }
    sections
}

fn start_entry(iface: &Obj) -> Vec<String> {
    let name = iface.get("name").map(py_str).unwrap_or_default();
    let control = iface.get("control").map(py_str).unwrap_or_default();
    let verb = match control.as_str() {
        "auto" => "auto".to_string(),
        "hotplug" => "allow-hotplug".to_string(),
        other => format!("# control-{other}"),
    };
    vec![
        format!("{verb} {name}"),
        format!(
            "iface {name} {} {}",
            iface.get("inet").map(py_str).unwrap_or_default(),
            iface.get("mode").map(py_str).unwrap_or_default()
        ),
    ]
}

const SUBNET_KEYS: &[&str] = &[
    "address",
    "netmask",
    "broadcast",
    "metric",
    "gateway",
    "pointopoint",
    "mtu",
    "scope",
    "dns_search",
    "dns_nameservers",
];

fn subnet_lines(subnet: &Obj) -> Vec<String> {
    let mut out = Vec::new();
    for (key, value) in subnet {
        if key == "netmask" || !SUBNET_KEYS.contains(&key.as_str()) {
            continue;
        }
        let text = if key == "address" {
            format!(
                "{}/{}",
                py_str(value),
                subnet
                    .get("prefix")
                    .map(py_str)
                    .unwrap_or_else(|| "None".into())
            )
        } else if truthy(value) {
            value_text(value)
        } else {
            continue;
        };
        out.push(format!("    {} {}", key.replace('_', "-"), text));
    }
    out.sort();
    out
}

const IGNORED_ATTRS: &[&str] = &[
    "control",
    "device_id",
    "driver",
    "index",
    "inet",
    "mode",
    "name",
    "subnets",
    "type",
];
const MULTILINE_ATTRS: &[&str] = &["bridge_pathcost", "bridge_portprio", "bridge_waitport"];

fn iface_attrs(iface: &Obj, index: usize, ipv4_mtu: Option<&Value>) -> Vec<String> {
    // Extra addresses of an interface are aliases; attributes belong to the
    // first stanza only.
    if index != 0 {
        return Vec::new();
    }
    let ty = iface.get("type").map(py_str).unwrap_or_default();
    let keep_mac = matches!(ty.as_str(), "bond" | "bridge" | "infiniband" | "vlan");
    let mut out = Vec::new();
    for (key, value) in iface {
        let value = match value {
            Value::Bool(b) => json!(if *b { "on" } else { "off" }),
            other => other.clone(),
        };
        if !truthy(&value) || IGNORED_ATTRS.contains(&key.as_str()) {
            continue;
        }
        if key == "mac_address" && !keep_mac {
            continue;
        }
        let shown = if key == "mac_address" {
            "hwaddress"
        } else {
            key.as_str()
        };
        if key == "mtu" {
            if let Some(sub_mtu) = ipv4_mtu.filter(|m| truthy(m)) {
                if *sub_mtu != value {
                    log::warn!(
                        "Network config: ignoring {} device-level mtu:{} because ipv4 subnet-level mtu:{} provided.",
                        iface.get("name").map(py_str).unwrap_or_default(),
                        py_str(&value),
                        py_str(sub_mtu)
                    );
                }
                continue;
            }
        }
        if MULTILINE_ATTRS.contains(&key.as_str()) {
            let items: Vec<String> = match &value {
                Value::Array(a) => a.iter().map(py_str).collect(),
                Value::Object(m) => m.keys().cloned().collect(),
                Value::String(s) => s.chars().map(String::from).collect(),
                other => vec![py_str(other)],
            };
            for v in items {
                out.push(format!("    {shown} {v}"));
            }
            continue;
        }
        out.push(format!("    {shown} {}", value_text(&value)));
    }
    out.sort();
    out
}

fn render_route(route: &Obj, indent: &str) -> Vec<String> {
    let network = route.get("network").map(py_str).unwrap_or_default();
    let netmask = route.get("netmask").map(py_str).unwrap_or_default();
    let prefix = route.get("prefix").and_then(Value::as_i64);
    let default_gw = if network == "0.0.0.0" && netmask == "0.0.0.0" {
        " default"
    } else if network == "::" && prefix == Some(0) {
        " -A inet6 default"
    } else {
        ""
    };
    let mut line = String::new();
    if default_gw.is_empty() && route.contains_key("network") {
        if network.contains(':') {
            line.push_str(" -A inet6");
        } else if prefix == Some(32) {
            line.push_str(" -host");
        } else {
            line.push_str(" -net");
        }
        if let Some(p) = route.get("prefix") {
            line.push_str(&format!(" {network}/{}", py_str(p)));
        }
    }
    let gateway = route
        .get("gateway")
        .map(py_str)
        .unwrap_or_else(|| "None".into());
    line.push_str(&format!("{default_gw} gw {gateway}"));
    if let Some(m) = route.get("metric") {
        line.push_str(&format!(" metric {}", py_str(m)));
    }
    vec![
        format!("{indent}post-up route add{line} || true"),
        format!("{indent}pre-down route del{line} || true"),
    ]
}
