//! Network config from the kernel command line (`network-config=`) and
//! from klibc's initramfs (`/run/net-*.conf`, `/run/net6-*.conf`).

use crate::error::NetError;
use base64::Engine;
use ci_host::Host;
use ci_pyval::gzip::{decompress_bounded, GzipError};
use serde_json::{json, Map, Value};

/// `network-config=<base64 of YAML, maybe gzipped>` (the last one wins),
/// or `network-config=disabled`. `None` when absent or unusable, as
/// upstream.
pub fn read_kernel_cmdline_config(cmdline: &str) -> Option<Value> {
    let data = cmdline
        .split_whitespace()
        .filter_map(|t| t.strip_prefix("network-config="))
        .next_back()?;
    if data.is_empty() {
        return None;
    }
    if data == "disabled" {
        return Some(json!({"config": "disabled"}));
    }
    // Python's b64decode drops characters outside the alphabet.
    let cleaned: String = data
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .collect();
    let Ok(blob) = base64::engine::general_purpose::STANDARD.decode(cleaned.as_bytes()) else {
        log::error!(
            "Expected base64 encoded kernel command line parameter network-config. Ignoring network-config={data}."
        );
        return None;
    };
    let text = match gunzip_or_raw(blob) {
        Ok(t) => t,
        Err(e) => {
            log::error!("{e}. Ignoring kernel command line parameter network-config.");
            return None;
        }
    };
    let value = ci_yaml::load(&String::from_utf8_lossy(&text)).ok()?;
    value.is_object().then_some(value)
}

/// Largest decompressed `network-config=` value. A kernel command line is
/// a few KiB, and no network config comes near 1 MiB of YAML.
pub const MAX_CMDLINE_NETWORK_CONFIG_BYTES: u64 = 1024 * 1024;

/// The gunzipped blob, or the blob itself when it is not gzip; `Err` when
/// it inflates past [`MAX_CMDLINE_NETWORK_CONFIG_BYTES`].
fn gunzip_or_raw(blob: Vec<u8>) -> Result<Vec<u8>, String> {
    match decompress_bounded(&blob, MAX_CMDLINE_NETWORK_CONFIG_BYTES) {
        Ok(out) => Ok(out),
        Err(GzipError::OverBound) => Err(format!(
            "network-config decompresses to more than {} MiB (bound MAX_CMDLINE_NETWORK_CONFIG_BYTES)",
            MAX_CMDLINE_NETWORK_CONFIG_BYTES >> 20
        )),
        Err(GzipError::NotGzip(_) | GzipError::Corrupt(_)) => Ok(blob),
    }
}

/// POSIX `shlex.split(text, comments=True)`.
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    cur.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => match chars.peek() {
                            Some(&n) if matches!(n, '\\' | '"' | '$' | '`' | '\n') => {
                                cur.push(n);
                                chars.next();
                            }
                            _ => cur.push('\\'),
                        },
                        other => cur.push(other),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    if n != '\n' {
                        cur.push(n);
                    }
                }
            }
            '#' if !in_word => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            other => {
                in_word = true;
                cur.push(other);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// `util.load_shell_content`: `KEY=value` words, empty values dropped.
fn shell_content(text: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for w in shell_words(text) {
        if let Some((k, v)) = w.split_once('=') {
            if !v.is_empty() {
                out.insert(k.to_string(), json!(v));
            }
        }
    }
    out
}

fn klibc_entry(
    content: &str,
    macs: &Map<String, Value>,
    file: &str,
) -> Result<(String, Map<String, Value>), NetError> {
    let data = shell_content(content);
    let name = data
        .get("DEVICE")
        .or_else(|| data.get("DEVICE6"))
        .and_then(Value::as_str)
        .ok_or_else(|| NetError::invalid(file, "no 'DEVICE' or 'DEVICE6' entry in data"))?
        .to_string();
    let get = |k: &str| data.get(k).and_then(Value::as_str);
    let mut proto = get("PROTO")
        .or_else(|| get("IPV6PROTO"))
        .unwrap_or("")
        .to_string();
    if proto.is_empty() {
        proto = if get("filename").is_some() {
            "dhcp"
        } else {
            "none"
        }
        .into();
    }
    if proto == "static" || proto == "off" {
        proto = "none".into();
    }
    if !matches!(proto.as_str(), "none" | "dhcp" | "dhcp6") {
        return Err(NetError::invalid(
            format!("{file}: PROTO"),
            format!("Unexpected value for PROTO: {proto}"),
        ));
    }
    let mut iface = Map::new();
    iface.insert("type".into(), json!("physical"));
    iface.insert("name".into(), json!(name));
    // key order as upstream builds it (it shows in network-config.json)
    iface.insert("subnets".into(), json!([]));
    let mut subnets = Vec::new();
    if let Some(mac) = macs.get(&name) {
        iface.insert("mac_address".into(), mac.clone());
    }
    for pre in ["IPV4", "IPV6"] {
        let Some(addr) = get(&format!("{pre}ADDR")) else {
            continue;
        };
        let mut cur = get(&format!("{pre}PROTO")).unwrap_or(&proto).to_string();
        if cur == "none" {
            cur = "static".into();
        }
        let mut subnet = Map::new();
        subnet.insert("type".into(), json!(cur));
        subnet.insert("control".into(), json!("manual"));
        if cur == "static" {
            subnet.insert("address".into(), json!(addr));
        }
        for key in ["NETMASK", "BROADCAST", "GATEWAY"] {
            if let Some(v) = get(&format!("{pre}{key}")) {
                subnet.insert(key.to_lowercase(), json!(v));
            }
        }
        let dns: Vec<Value> = ["DNS0", "DNS1"]
            .iter()
            .filter_map(|k| get(&format!("{pre}{k}")))
            .filter(|ns| !ns.trim_matches([':', '.', '0']).is_empty())
            .map(|ns| json!(ns))
            .collect();
        if !dns.is_empty() {
            subnet.insert("dns_nameservers".into(), Value::Array(dns));
            if let Some(search) = get("DOMAINSEARCH").filter(|s| !s.is_empty()) {
                let parts: Vec<Value> = if search.contains(',') {
                    search.split(',').map(|s| json!(s)).collect()
                } else {
                    search.split_whitespace().map(|s| json!(s)).collect()
                };
                subnet.insert("dns_search".into(), Value::Array(parts));
            }
        }
        subnets.push(Value::Object(subnet));
    }
    iface.insert("subnets".into(), Value::Array(subnets));
    Ok((name, iface))
}

/// Upstream's `read_initramfs_config`: a v1 config from klibc's files when
/// they exist and `ip=`/`ip6=` is on the command line (or open-iscsi is in
/// use), else `None`.
pub fn read_initramfs_config(host: &Host) -> Result<Option<Value>, NetError> {
    let mut files: Vec<String> = host
        .list_dir("/run")
        .into_iter()
        .filter(|n| (n.starts_with("net-") || n.starts_with("net6-")) && n.ends_with(".conf"))
        .map(|n| format!("/run/{n}"))
        .collect();
    files.sort_by_key(|f| !f.starts_with("/run/net-"));
    if files.is_empty() {
        return Ok(None);
    }
    let cmdline = host.kernel_cmdline();
    let applicable = shell_words(&cmdline)
        .iter()
        .any(|w| w.starts_with("ip=") || w.starts_with("ip6="))
        || host.exists("/run/initramfs/open-iscsi.interface");
    if !applicable {
        return Ok(None);
    }
    let mut macs = Map::new();
    for dev in host.list_dir("/sys/class/net") {
        if let Ok(mac) = host.read_to_string(format!("/sys/class/net/{dev}/address")) {
            let mac = mac.trim();
            if !mac.is_empty() {
                macs.insert(dev, json!(mac));
            }
        }
    }
    let mut entries: Vec<Map<String, Value>> = Vec::new();
    for file in &files {
        let text = host.read_to_string(file).map_err(|source| NetError::Io {
            path: file.clone(),
            source,
        })?;
        let (name, entry) = klibc_entry(&text, &macs, file)?;
        match entries
            .iter_mut()
            .find(|e| e.get("name") == Some(&json!(name)))
        {
            Some(prev) => {
                if prev.get("mac_address") != entry.get("mac_address") {
                    return Err(NetError::invalid(
                        file.as_str(),
                        format!("device '{name}' was defined multiple times but had differing mac addresses"),
                    ));
                }
                let more = entry
                    .get("subnets")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if let Some(Value::Array(s)) = prev.get_mut("subnets") {
                    s.extend(more);
                }
            }
            None => entries.push(entry),
        }
    }
    Ok(Some(json!({
        "config": entries.into_iter().map(Value::Object).collect::<Vec<_>>(),
        "version": 1,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn cmdline_gzip_is_bounded() {
        let gz_of = |n: usize| {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            let mut text = String::from("version: 2\n#");
            text.push_str(&" ".repeat(n - text.len()));
            gz.write_all(text.as_bytes()).unwrap();
            gz.finish().unwrap()
        };
        let limit = MAX_CMDLINE_NETWORK_CONFIG_BYTES as usize;
        let e = gunzip_or_raw(gz_of(limit + 1)).unwrap_err();
        assert!(e.contains("bound MAX_CMDLINE_NETWORK_CONFIG_BYTES"), "{e}");
        let b64 = base64::engine::general_purpose::STANDARD.encode(gz_of(limit + 1));
        assert_eq!(
            read_kernel_cmdline_config(&format!("network-config={b64}")),
            None
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(gz_of(limit));
        assert_eq!(
            read_kernel_cmdline_config(&format!("network-config={b64}")),
            Some(json!({"version": 2}))
        );
    }

    #[test]
    fn cmdline_plain_gzip_and_disabled() {
        let yaml = "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n";
        let b64 = base64::engine::general_purpose::STANDARD.encode(yaml);
        let got = read_kernel_cmdline_config(&format!("ro network-config={b64} quiet"));
        assert_eq!(
            got,
            Some(json!({"version": 2, "ethernets": {"eth0": {"dhcp4": true}}}))
        );

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let _ = gz.write_all(yaml.as_bytes());
        let packed = gz.finish().unwrap_or_default();
        let b64 = base64::engine::general_purpose::STANDARD.encode(packed);
        assert_eq!(
            read_kernel_cmdline_config(&format!("network-config={b64}")),
            got
        );
        assert_eq!(
            read_kernel_cmdline_config("network-config=disabled"),
            Some(json!({"config": "disabled"}))
        );
        assert_eq!(read_kernel_cmdline_config("root=/dev/sda1"), None);
        assert_eq!(read_kernel_cmdline_config("network-config=!!!"), None);
    }

    #[test]
    fn shell_words_like_shlex() {
        assert_eq!(
            shell_words("A='x y' B=\"q\\\"z\" C=1 # tail\nD=2"),
            ["A=x y", "B=q\"z", "C=1", "D=2"]
        );
    }

    #[test]
    fn klibc_static_entry() -> Result<(), NetError> {
        let text = "DEVICE='eth0'\nPROTO='none'\nIPV4ADDR='192.168.122.89'\n\
                    IPV4BROADCAST='192.168.122.255'\nIPV4NETMASK='255.255.255.0'\n\
                    IPV4GATEWAY='192.168.122.1'\nIPV4DNS0='192.168.122.1'\nIPV4DNS1='0.0.0.0'\n\
                    DOMAINSEARCH='foo.com'\n";
        let mut macs = Map::new();
        macs.insert("eth0".into(), json!("52:54:00:00:00:01"));
        let (name, entry) = klibc_entry(text, &macs, "/run/net-eth0.conf")?;
        assert_eq!(name, "eth0");
        assert_eq!(
            Value::Object(entry),
            json!({"type": "physical", "name": "eth0", "mac_address": "52:54:00:00:00:01",
                "subnets": [{"type": "static", "control": "manual", "address": "192.168.122.89",
                    "netmask": "255.255.255.0", "broadcast": "192.168.122.255",
                    "gateway": "192.168.122.1", "dns_nameservers": ["192.168.122.1"],
                    "dns_search": ["foo.com"]}]})
        );
        Ok(())
    }
}
