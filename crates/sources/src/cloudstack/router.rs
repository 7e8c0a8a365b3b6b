//! Where CloudStack's metadata server (the virtual router) is, looked up
//! as upstream does: the `data-server` DNS name, then systemd-networkd's
//! leases (`SERVER_ADDRESS`), then the newest dhclient lease
//! (`dhcp-server-identifier`), then the default gateway. The DHCP domain
//! name for the FQDN comes from the same leases.

use ci_host::Host;
use std::net::ToSocketAddrs;

const NETWORKD_LEASES: &str = "/run/systemd/netif/leases";
/// Distro lease directories (Debian/Alpine/Amazon: /var/lib/dhcp;
/// NetworkManager-managed dhclient), then upstream's fallback directory.
const DHCLIENT_DIRS: &[&str] = &[
    "/var/lib/dhcp",
    "/var/lib/NetworkManager",
    "/var/lib/dhclient",
];

/// The address of the virtual router, or `None`.
pub(crate) fn vr_address(host: &Host) -> Option<String> {
    if let Some(a) = data_server(host) {
        log::debug!("Found metadata server '{a}' via data-server DNS entry");
        return Some(a);
    }
    if let Some(a) = networkd_option(host, "SERVER_ADDRESS") {
        log::debug!("Found SERVER_ADDRESS '{a}' via networkd_leases");
        return Some(a);
    }
    if let Some(a) = dhclient_option(host, "dhcp-server-identifier") {
        log::debug!("Found SERVER_ADDRESS '{a}' via dhclient");
        return Some(a);
    }
    log::debug!("No DHCP found, using default gateway");
    default_gateway(host)
}

/// The DHCP domain name (networkd's `DOMAINNAME`, dhclient's `domain-name`).
pub(crate) fn domain_name(host: &Host) -> Option<String> {
    log::debug!("Try obtaining domain name from networkd leases");
    if let Some(d) = networkd_option(host, "DOMAINNAME") {
        return Some(d);
    }
    log::debug!("Could not obtain FQDN from networkd leases. Falling back to ISC dhclient");
    let d = dhclient_option(host, "domain-name");
    if d.is_none() {
        log::debug!("No dhcp leases found");
    }
    d
}

/// The `data-server` name in DNS. Not asked under a sandbox root: the
/// answer would describe the machine running the tests.
fn data_server(host: &Host) -> Option<String> {
    if host.is_sandbox() {
        return None;
    }
    match ("data-server", 80).to_socket_addrs() {
        Ok(mut addrs) => addrs.next().map(|a| a.ip().to_string()),
        Err(_) => {
            log::debug!("DNS Entry data-server not found");
            None
        }
    }
}

/// The first lease (by file name) under networkd's lease directory with `key`.
fn networkd_option(host: &Host, key: &str) -> Option<String> {
    for name in host.list_dir(NETWORKD_LEASES) {
        let Ok(text) = host.read_to_string(format!("{NETWORKD_LEASES}/{name}")) else {
            continue;
        };
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                let v = v.trim();
                if k.trim() == key && !v.is_empty() {
                    return Some(v.to_string());
                }
            }
        }
    }
    None
}

fn is_lease_file(dir: &str, name: &str) -> bool {
    let lease_ext = name.ends_with(".lease") || name.ends_with(".leases");
    if dir == "/var/lib/dhclient" {
        lease_ext && name.len() > ".lease".len()
    } else {
        lease_ext && name.contains("dhclient")
    }
}

/// `key` from the newest lease of the newest dhclient lease file.
fn dhclient_option(host: &Host, key: &str) -> Option<String> {
    for dir in DHCLIENT_DIRS {
        let newest = host
            .list_dir(dir)
            .into_iter()
            .filter(|n| is_lease_file(dir, n))
            .filter_map(|n| {
                let path = format!("{dir}/{n}");
                let mtime = std::fs::metadata(host.resolve(&path))
                    .and_then(|m| m.modified())
                    .ok()?;
                Some((mtime, path))
            })
            .max_by_key(|(m, _)| *m);
        let Some((_, path)) = newest else {
            continue;
        };
        let text = host.read_to_string(&path).ok()?;
        return parse_leases(&text)
            .into_iter()
            .rev()
            .find_map(|l| l.into_iter().find(|(k, v)| k == key && !v.is_empty()))
            .map(|(_, v)| v);
    }
    None
}

/// dhclient's `lease { ... }` blocks as `(option, value)` lists, oldest first.
fn parse_leases(text: &str) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("lease {") {
        let body = rest.get(start + "lease {".len()..).unwrap_or_default();
        let Some(end) = body.find("}\n") else {
            break;
        };
        let block = body.get(..end).unwrap_or_default();
        let mut opts = Vec::new();
        for stmt in block.split(';') {
            let line = stmt.trim().replace('"', "").replace("option ", "");
            if line.is_empty() {
                continue;
            }
            let (k, v) = line.split_once(' ').unwrap_or((line.as_str(), ""));
            opts.push((k.to_string(), v.to_string()));
        }
        out.push(opts);
        rest = body.get(end + 2..).unwrap_or_default();
    }
    out
}

/// The gateway of the default route in `/proc/net/route`.
fn default_gateway(host: &Host) -> Option<String> {
    let text = host.read_to_string("/proc/net/route").ok()?;
    for line in text.lines() {
        let items: Vec<&str> = line.split('\t').collect();
        if items.get(1) == Some(&"00000000") {
            let gw = u32::from_str_radix(items.get(2)?.trim(), 16).ok()?;
            let ip = std::net::Ipv4Addr::from(gw.to_le_bytes());
            log::debug!("Found default route, gateway is {ip}");
            return Some(ip.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use ci_host::WriteOpts;

    fn write(h: &Host, p: &str, c: &str) {
        h.write_atomic(p, c.as_bytes(), &WriteOpts::default())
            .unwrap();
    }

    #[test]
    fn finds_router_in_order() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        assert_eq!(vr_address(&h), None);
        write(
            &h,
            "/proc/net/route",
            "Iface\tDestination\tGateway\tFlags\neth0\t00000000\t0101A8C0\t0003\n",
        );
        assert_eq!(vr_address(&h).as_deref(), Some("192.168.1.1"));
        write(
            &h,
            "/var/lib/dhcp/dhclient.eth0.leases",
            "lease {\n  interface \"eth0\";\n  option dhcp-server-identifier 10.0.0.1;\n  option domain-name \"old.example\";\n}\nlease {\n  interface \"eth0\";\n  option dhcp-server-identifier 10.0.0.2;\n  option domain-name \"cs.example\";\n}\n",
        );
        assert_eq!(vr_address(&h).as_deref(), Some("10.0.0.2"));
        assert_eq!(domain_name(&h).as_deref(), Some("cs.example"));
        write(
            &h,
            "/run/systemd/netif/leases/2",
            "# This is private data. Do not parse.\nADDRESS=10.0.0.5\nSERVER_ADDRESS=10.0.0.9\nDOMAINNAME=nd.example\n",
        );
        assert_eq!(vr_address(&h).as_deref(), Some("10.0.0.9"));
        assert_eq!(domain_name(&h).as_deref(), Some("nd.example"));
    }
}
