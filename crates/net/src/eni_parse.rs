//! `/etc/network/interfaces` text → network config v1 (upstream's
//! `eni.convert_eni_data`, used by `devel net-convert -k eni`).
//!
//! Only what upstream carries into v1 survives: per stanza the method,
//! `auto`, address, netmask, gateway, broadcast, `dns-nameservers`,
//! `dns-search`, and the device's `hwaddress`; `name:N` aliases become
//! extra subnets of `name`. Bridge, bond and hook options are parsed (and
//! rejected where upstream fails on them) but dropped, as upstream does.
//!
//! Lines are split on single spaces and stripped of outer whitespace
//! only, as upstream splits them, so a tab or doubled space changes what a
//! line means in the same way.

use ci_host::Host;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Options whose first argument is stored (upstream's `NET_CONFIG_OPTIONS`).
const OPTIONS: &[&str] = &[
    "address",
    "netmask",
    "broadcast",
    "network",
    "metric",
    "gateway",
    "pointtopoint",
    "media",
    "mtu",
    "hostname",
    "leasehours",
    "leasetime",
    "vendor",
    "client",
    "bootfile",
    "server",
    "hwaddr",
    "provider",
    "frame",
    "netnum",
    "endpoint",
    "local",
    "ttl",
];
const COMMANDS: &[&str] = &["pre-up", "up", "post-up", "down", "pre-down", "post-down"];
const BRIDGE_OPTIONS: &[&str] = &[
    "bridge_ageing",
    "bridge_bridgeprio",
    "bridge_fd",
    "bridge_gcinit",
    "bridge_hello",
    "bridge_maxage",
    "bridge_maxwait",
    "bridge_stp",
];

/// Why an interfaces file could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EniParseError {
    /// Upstream's `ParserError` text.
    #[error("Interface {iface} can only be defined once. Re-defined in '{source_path}'.")]
    Redefined { iface: String, source_path: String },
    #[error("{source_path}: line {line:?}: {problem}")]
    Line {
        source_path: String,
        line: String,
        problem: String,
    },
    #[error("interface {iface}: {problem}")]
    Stanza { iface: String, problem: String },
}

#[derive(Debug, Default)]
struct Stanza {
    auto: bool,
    method: Option<String>,
    options: Map<String, Value>,
    hwaddress: Option<String>,
    nameservers: Option<Vec<String>>,
    search: Option<Vec<String>>,
}

/// Parse state across sourced files: stanzas, and their first-seen order.
#[derive(Default)]
struct Parser {
    ifaces: BTreeMap<String, Stanza>,
    order: Vec<String>,
}

fn source_name(path: Option<&str>) -> String {
    path.unwrap_or("None").to_string()
}

impl Parser {
    fn entry(&mut self, name: &str) -> &mut Stanza {
        let order = &mut self.order;
        self.ifaces.entry(name.to_string()).or_insert_with(|| {
            order.push(name.to_string());
            Stanza::default()
        })
    }

    fn parse(
        &mut self,
        host: &Host,
        contents: &str,
        src_dir: Option<&str>,
        src_path: Option<&str>,
    ) -> Result<(), EniParseError> {
        let mut current: Option<String> = None;
        for raw in contents.lines() {
            let line = raw.trim();
            if line.starts_with('#') {
                continue;
            }
            let split: Vec<&str> = line.split(' ').collect();
            let fail = |problem: String| EniParseError::Line {
                source_path: source_name(src_path),
                line: line.to_string(),
                problem,
            };
            let arg = |i: usize| {
                split
                    .get(i)
                    .copied()
                    .ok_or_else(|| fail(format!("argument {i} is missing")))
            };
            let option = split.first().copied().unwrap_or_default();
            match option {
                "source" | "source-directory" => {
                    let pattern = arg(1)?;
                    let pattern = if pattern.starts_with('/') {
                        pattern.to_string()
                    } else {
                        match src_dir {
                            Some(d) => format!("{}/{pattern}", d.trim_end_matches('/')),
                            None => {
                                return Err(fail(
                                    "a relative path needs the file's own location, \
                                     which text given directly does not have"
                                        .into(),
                                ))
                            }
                        }
                    };
                    for path in glob(host, &pattern) {
                        if option == "source" {
                            self.parse_file(host, &path)?;
                        } else {
                            let mut entries: Vec<String> = host
                                .list_dir(&path)
                                .into_iter()
                                .filter(|n| {
                                    n.bytes().all(|b| {
                                        b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
                                    }) && !n.is_empty()
                                })
                                .map(|n| format!("{}/{n}", path.trim_end_matches('/')))
                                .filter(|p| host.resolve(p).is_file())
                                .collect();
                            entries.sort();
                            for entry in entries {
                                self.parse_file(host, &entry)?;
                            }
                        }
                    }
                }
                "auto" => {
                    for name in split.iter().skip(1) {
                        self.entry(name).auto = true;
                    }
                }
                "iface" => {
                    if split.len() < 4 {
                        return Err(fail(format!(
                            "expected 'iface NAME FAMILY METHOD', got {} argument(s)",
                            split.len() - 1
                        )));
                    }
                    let name = arg(1)?;
                    let method = arg(3)?;
                    let stanza = self.entry(name);
                    if stanza.method.is_some() {
                        return Err(EniParseError::Redefined {
                            iface: name.to_string(),
                            source_path: source_name(src_path),
                        });
                    }
                    stanza.method = Some(method.to_string());
                    current = Some(name.to_string());
                }
                _ => {
                    let known = option == "hwaddress"
                        || OPTIONS.contains(&option)
                        || COMMANDS.contains(&option)
                        || option.starts_with("dns-")
                        || option.starts_with("bridge_")
                        || option.starts_with("bond-");
                    if !known {
                        continue;
                    }
                    let Some(name) = current.clone() else {
                        return Err(fail(format!("'{option}' outside any 'iface' stanza")));
                    };
                    self.option(&name, option, &split, &arg)?;
                }
            }
        }
        Ok(())
    }

    fn option<'a>(
        &mut self,
        name: &str,
        option: &str,
        split: &[&'a str],
        arg: &dyn Fn(usize) -> Result<&'a str, EniParseError>,
    ) -> Result<(), EniParseError> {
        let rest = || split.iter().skip(1).map(|s| s.to_string()).collect();
        let stanza = self.entry(name);
        if option == "hwaddress" {
            let first = arg(1)?;
            let mac = if first == "ether" { arg(2)? } else { first };
            stanza.hwaddress = Some(mac.to_string());
        } else if OPTIONS.contains(&option) {
            stanza.options.insert(option.into(), json!(arg(1)?));
        } else if option == "dns-search" {
            stanza.search = Some(rest());
        } else if option == "dns-nameservers" {
            stanza.nameservers = Some(rest());
        } else if option.starts_with("bridge_") {
            // Dropped from v1; only arity matters, as upstream indexes.
            if BRIDGE_OPTIONS.contains(&option) {
                arg(1)?;
            } else if option == "bridge_hw" {
                if arg(1)?.eq_ignore_ascii_case("mac") {
                    arg(2)?;
                }
            } else if matches!(option, "bridge_pathcost" | "bridge_portprio") {
                arg(2)?;
            }
        } else if option.starts_with("bond-") {
            arg(1)?;
        }
        Ok(())
    }

    fn parse_file(&mut self, host: &Host, path: &str) -> Result<(), EniParseError> {
        let text = host.read_to_string(path).map_err(|e| EniParseError::Line {
            source_path: path.to_string(),
            line: String::new(),
            problem: format!("cannot read: {e}"),
        })?;
        let dir = std::path::Path::new(path)
            .parent()
            .map(|p| p.display().to_string());
        self.parse(host, text.trim(), dir.as_deref(), Some(path))
    }
}

/// `fnmatch` for one path component: `*`, `?` and `[...]` (no hidden
/// files for a leading wildcard, as `glob` skips them).
fn component_matches(pattern: &[char], name: &[char]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some('*'), _) => {
            component_matches(pattern.get(1..).unwrap_or_default(), name)
                || (!name.is_empty()
                    && component_matches(pattern, name.get(1..).unwrap_or_default()))
        }
        (Some('?'), Some(_)) => component_matches(
            pattern.get(1..).unwrap_or_default(),
            name.get(1..).unwrap_or_default(),
        ),
        (Some('['), Some(c)) => {
            let Some(end) = pattern
                .iter()
                .skip(2)
                .position(|&p| p == ']')
                .map(|p| p + 2)
            else {
                return *c == '['
                    && component_matches(
                        pattern.get(1..).unwrap_or_default(),
                        name.get(1..).unwrap_or_default(),
                    );
            };
            let class = pattern.get(1..end).unwrap_or_default();
            let (negate, class) = match class.first() {
                Some('!') => (true, class.get(1..).unwrap_or_default()),
                _ => (false, class),
            };
            let mut hit = false;
            let mut i = 0;
            while let Some(&lo) = class.get(i) {
                if class.get(i + 1) == Some(&'-') && class.get(i + 2).is_some() {
                    let hi = class.get(i + 2).copied().unwrap_or(lo);
                    hit |= lo <= *c && *c <= hi;
                    i += 3;
                } else {
                    hit |= lo == *c;
                    i += 1;
                }
            }
            hit != negate
                && component_matches(
                    pattern.get(end + 1..).unwrap_or_default(),
                    name.get(1..).unwrap_or_default(),
                )
        }
        (Some(p), Some(c)) if p == c => component_matches(
            pattern.get(1..).unwrap_or_default(),
            name.get(1..).unwrap_or_default(),
        ),
        _ => false,
    }
}

/// The existing paths an absolute `glob` pattern names, sorted (upstream's
/// order is the directory's, which is arbitrary).
fn glob(host: &Host, pattern: &str) -> Vec<String> {
    let mut found = vec![String::new()];
    for part in pattern.split('/').filter(|p| !p.is_empty()) {
        let wild = part.contains(['*', '?', '[']);
        let mut next = Vec::new();
        for base in &found {
            if wild {
                let pat: Vec<char> = part.chars().collect();
                let mut names: Vec<String> = host
                    .list_dir(if base.is_empty() { "/" } else { base })
                    .into_iter()
                    .filter(|n| !n.starts_with('.') || part.starts_with('.'))
                    .filter(|n| component_matches(&pat, &n.chars().collect::<Vec<_>>()))
                    .collect();
                names.sort();
                next.extend(names.into_iter().map(|n| format!("{base}/{n}")));
            } else {
                next.push(format!("{base}/{part}"));
            }
        }
        found = next;
    }
    found
        .into_iter()
        .filter(|p| !p.is_empty() && std::fs::symlink_metadata(host.path(p)).is_ok())
        .collect()
}

/// Converts interfaces-file text to a v1 document (`{"version": 1,
/// "config": [...]}`). Files named by `source`/`source-directory` with
/// absolute paths are read under `host`'s root.
pub fn convert_eni_data(host: &Host, text: &str) -> Result<Value, EniParseError> {
    let mut parser = Parser::default();
    parser.parse(host, text, None, None)?;
    let mut devs: Vec<(String, Map<String, Value>)> = Vec::new();
    for (name, data) in parser
        .order
        .iter()
        .filter_map(|n| parser.ifaces.get(n).map(|d| (n, d)))
    {
        let devname = name.split(':').next().unwrap_or_default().to_string();
        if !devs.iter().any(|(n, _)| *n == devname) {
            let dtype = if devname == "lo" {
                "loopback"
            } else {
                "physical"
            };
            let mut dev = Map::new();
            dev.insert("type".into(), json!(dtype));
            dev.insert("name".into(), json!(devname));
            dev.insert("subnets".into(), json!([]));
            if let Some(mac) = &data.hwaddress {
                dev.insert("mac_address".into(), json!(mac));
            }
            devs.push((devname.clone(), dev));
        }
        let stanza_err = |problem: &str| EniParseError::Stanza {
            iface: name.clone(),
            problem: problem.to_string(),
        };
        let Some(method) = &data.method else {
            return Err(stanza_err("named by 'auto' but has no 'iface' line"));
        };
        let mut subnet = Map::new();
        subnet.insert("_orig_eni_name".into(), json!(name));
        subnet.insert("type".into(), json!(method));
        let control = if data.auto { "auto" } else { "manual" };
        subnet.insert("control".into(), json!(control));
        if method == "static" {
            let Some(addr) = data.options.get("address") else {
                return Err(stanza_err("method static without an 'address'"));
            };
            subnet.insert("address".into(), addr.clone());
        }
        for key in ["netmask", "gateway", "broadcast"] {
            if let Some(v) = data.options.get(key) {
                subnet.insert(key.into(), v.clone());
            }
        }
        if let Some(ns) = data.nameservers.as_ref().filter(|v| !v.is_empty()) {
            subnet.insert("dns_nameservers".into(), json!(ns));
        }
        if let Some(s) = data.search.as_ref().filter(|v| !v.is_empty()) {
            subnet.insert("dns_search".into(), json!(s));
        }
        if let Some(Value::Array(subnets)) = devs
            .iter_mut()
            .find(|(n, _)| *n == devname)
            .and_then(|(_, d)| d.get_mut("subnets"))
        {
            subnets.push(Value::Object(subnet));
        }
    }
    devs.sort_by(|a, b| a.0.cmp(&b.0));
    let config: Vec<Value> = devs.into_iter().map(|(_, d)| Value::Object(d)).collect();
    Ok(json!({"version": 1, "config": config}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_fnmatch() {
        let m = |p: &str, n: &str| {
            component_matches(
                &p.chars().collect::<Vec<_>>(),
                &n.chars().collect::<Vec<_>>(),
            )
        };
        assert!(m("*", "eth0"));
        assert!(m("*.cfg", "a.cfg"));
        assert!(!m("*.cfg", "a.cfgx"));
        assert!(m("eth?", "eth1"));
        assert!(m("[a-c]x", "bx"));
        assert!(!m("[!a-c]x", "bx"));
        assert!(!m("eth?", "eth"));
    }

    #[test]
    fn sourced_files_are_read_under_the_root() -> Result<(), Box<dyn std::error::Error>> {
        let tmp = tempfile::tempdir()?;
        let d = tmp.path().join("etc/network/interfaces.d");
        std::fs::create_dir_all(&d)?;
        std::fs::write(d.join("eth1"), "auto eth1\niface eth1 inet dhcp\n")?;
        std::fs::write(d.join("skip.cfg"), "iface eth9 inet dhcp\n")?;
        std::fs::write(d.join("a.cfg"), "iface eth2 inet manual\n")?;
        let host = Host::new(tmp.path());
        let v1 = convert_eni_data(
            &host,
            "source-directory /etc/network/interfaces.d\nsource /etc/network/interfaces.d/*.cfg\n",
        )?;
        let names: Vec<&str> = v1["config"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["name"].as_str())
            .collect();
        // source-directory skips names with a dot; source's glob does not
        assert_eq!(names, ["eth1", "eth2", "eth9"]);
        assert!(convert_eni_data(&host, "source interfaces.d/*\n").is_err());
        Ok(())
    }

    #[test]
    fn stanza_errors_name_the_interface() {
        let host = Host::new("/nonexistent");
        let twice = "iface eth0 inet dhcp\niface eth0 inet dhcp\n";
        assert_eq!(
            convert_eni_data(&host, twice).map_err(|e| e.to_string()),
            Err("Interface eth0 can only be defined once. Re-defined in 'None'.".into())
        );
        assert!(convert_eni_data(&host, "address 1.2.3.4\n").is_err());
        assert!(convert_eni_data(&host, "auto eth0\n").is_err());
        assert!(convert_eni_data(&host, "iface eth0 inet static\n").is_err());
    }
}
