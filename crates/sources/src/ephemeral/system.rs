//! The real [`EphemeralNet`]: `ip` commands and the distro's DHCP client,
//! with every change recorded so the lease undoes exactly what it did.
//!
//! What it does follows upstream's ephemeral networking: DHCPv4 puts the
//! leased address on the interface (unless the client already did), brings
//! the link up, then the classless static routes, or else the router as
//! default route when there is none; IPv4 link-local picks a random
//! 169.254.x.y/16 (DigitalOcean); IPv6 link-local only brings the link up.
//! Unlike upstream, the link-local IPv4 address is removed by itself rather
//! than by flushing every address of the NIC, and IPv6 waits (briefly) for
//! the kernel's link-local address to leave the tentative state.

use super::dhcp::{self, DhcpLease};
use super::{EphemeralKind, EphemeralNet, Lease, LeaseInfo};
use crate::error::SourceError;
use ci_host::{random, Cmd, Host};
use ci_net::ip::ipv4_mask_to_prefix;
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Temporary networking on the machine the agent runs on.
pub struct SystemNet {
    host: Host,
    dhcp_priority: Vec<String>,
    tmp_dir: PathBuf,
    ipv6_settle: Duration,
}

impl SystemNet {
    /// `cfg` is the merged system config (for `network.dhcp_client_priority`).
    pub fn new(host: &Host, cfg: &Value) -> Self {
        let dhcp_priority = cfg
            .pointer("/network/dhcp_client_priority")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        SystemNet {
            host: host.clone(),
            dhcp_priority,
            tmp_dir: PathBuf::from("/run/cloud-init/tmp"),
            ipv6_settle: Duration::from_secs(3),
        }
    }

    /// Where the udhcpc script and lease go (default `/run/cloud-init/tmp`).
    pub fn with_tmp_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.tmp_dir = dir.into();
        self
    }

    fn err(message: impl Into<String>) -> SourceError {
        SourceError::Malformed {
            what: "ephemeral network".into(),
            message: message.into(),
        }
    }

    fn ip(&self, args: &[&str]) -> Result<String, SourceError> {
        let out = self
            .host
            .run(&Cmd::new(std::iter::once("ip").chain(args.iter().copied())))?;
        Ok(out.stdout_str())
    }

    /// Interface state as upstream's `netdev_info` sees it: up flag and IPv4s.
    fn state(&self, iface: &str) -> IfState {
        let flags = self
            .host
            .read_to_string(format!("/sys/class/net/{iface}/flags"))
            .ok()
            .and_then(|f| i64::from_str_radix(f.trim().trim_start_matches("0x"), 16).ok())
            .unwrap_or(0);
        let addrs = self
            .ip(&["-o", "-4", "addr", "show", "dev", iface])
            .map(|o| ipv4_addresses(&o))
            .unwrap_or_default();
        IfState {
            up: flags & 1 == 1,
            ipv4: addrs,
        }
    }

    fn pick_dhcp_iface(&self, iface: &Option<String>) -> Result<String, SourceError> {
        match iface {
            Some(i) => Ok(i.clone()),
            None => ci_net::find_fallback_nic(&self.host).ok_or_else(|| {
                log::debug!("Skip dhcp_discovery: Unable to find fallback nic.");
                Self::err("no fallback NIC for DHCP")
            }),
        }
    }

    fn dhcp4(&self, iface: &Option<String>) -> Result<SystemLease, SourceError> {
        let iface = self.pick_dhcp_iface(iface)?;
        let before = self.state(&iface);
        let (client, program) = dhcp::select(&self.host, &self.dhcp_priority)
            .ok_or_else(|| Self::err("no DHCP client installed (dhcpcd or udhcpc)"))?;
        let mut lease = SystemLease::new(&self.host, &iface);
        // The clients need the link up to send; undone below if it was down.
        self.ip(&["link", "set", "dev", &iface, "up"])?;
        if !before.up {
            lease.undo_last([
                "ip", "-family", "inet", "link", "set", "dev", &iface, "down",
            ]);
        }
        let got = dhcp::discover(&self.host, client, &program, &iface, &self.tmp_dir)
            .map_err(|e| Self::err(e.to_string()))?;
        lease.client_exit = got.client_exit;
        self.apply_lease(&mut lease, &before, &got.lease)?;
        Ok(lease)
    }

    /// Upstream's EphemeralIPv4Network on a lease.
    fn apply_lease(
        &self,
        lease: &mut SystemLease,
        before: &IfState,
        got: &DhcpLease,
    ) -> Result<(), SourceError> {
        let iface = lease.info.iface.clone();
        let field = |k: &str| got.get(k).filter(|v| !v.is_empty()).cloned();
        let ip = field("fixed-address").ok_or_else(|| Self::err("lease without an address"))?;
        let mask = field("subnet-mask").ok_or_else(|| Self::err("lease without a subnet mask"))?;
        let prefix = ipv4_mask_to_prefix(&mask)
            .map(u32::from)
            .ok_or_else(|| Self::err(format!("invalid prefix or netmask: {mask}")))?;
        let broadcast = field("broadcast-address").or_else(|| broadcast_of(&ip, prefix));
        log::debug!("Received dhcp lease on {iface} for {ip}/{mask}");
        let cidr = format!("{ip}/{prefix}");
        let now = self.state(&iface);
        log::debug!(
            "Attempting setup of ephemeral network on {iface} with {cidr} brd {}",
            broadcast.as_deref().unwrap_or("None")
        );
        if !now.ipv4.contains(&ip) {
            let mut args = vec!["-family", "inet", "addr", "add", &cidr];
            if let Some(b) = &broadcast {
                args.extend(["broadcast", b]);
            }
            args.extend(["dev", &iface]);
            if let Err(e) = self.ip(&args) {
                let text = e.to_string();
                if !text.contains("File exists") && !text.contains("Address already assigned") {
                    return Err(e);
                }
            }
        }
        if !now.up {
            self.ip(&["-family", "inet", "link", "set", "dev", &iface, "up"])?;
        }
        if !before.ipv4.contains(&ip) {
            lease.undo_last(["ip", "-family", "inet", "addr", "del", &cidr, "dev", &iface]);
        }
        // RFC 3442: classless static routes, when given, replace the router.
        let routes = [
            "rfc3442-classless-static-routes",
            "classless-static-routes",
            "static_routes",
            "unknown-121",
        ]
        .iter()
        .find_map(|k| field(k))
        .map(|r| static_routes(&r))
        .unwrap_or_default();
        if !routes.is_empty() {
            for (net, gw) in &routes {
                let mut args = vec!["-4", "route", "append", net.as_str()];
                let mut undo = vec!["ip", "-4", "route", "del", net.as_str()];
                if gw != "0.0.0.0" {
                    args.extend(["via", gw.as_str()]);
                    undo.extend(["via", gw.as_str()]);
                }
                args.extend(["dev", &iface]);
                undo.extend(["dev", &iface]);
                self.ip(&args)?;
                lease.undo_first(undo);
            }
        } else if let Some(router) = field("routers") {
            let existing = self.ip(&["route", "show", "0.0.0.0/0"]).unwrap_or_default();
            if existing.contains("default") {
                log::debug!(
                    "Skip ephemeral route setup. {iface} already has default route: {}",
                    existing.trim()
                );
            } else {
                self.ip(&["-4", "route", "replace", &router, "dev", &iface, "src", &ip])?;
                lease.undo_first([
                    "ip", "-4", "route", "del", &router, "dev", &iface, "src", &ip,
                ]);
                self.ip(&[
                    "-4", "route", "replace", "default", "via", &router, "dev", &iface,
                ])?;
                lease.undo_first(["ip", "-4", "route", "del", "default", "dev", &iface]);
            }
        }
        lease.info.address = Some(ip);
        lease.info.routers = field("routers").into_iter().collect();
        lease.info.dhcp_server = field("dhcp-server-identifier");
        lease.info.options = got.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        Ok(())
    }

    fn link_local4(&self, iface: &Option<String>) -> Result<SystemLease, SourceError> {
        let iface = match iface {
            Some(i) => i.clone(),
            None => lowest_physical_nic(&self.host)
                .ok_or_else(|| Self::err("no physical NIC for a link-local address"))?,
        };
        let before = self.state(&iface);
        // Upstream's range: 169.254.1.0 - 169.254.168.255.
        let pick = |lo, hi| {
            random::int_between(lo, hi)
                .map_err(|e| Self::err(format!("no link-local address for {iface}: {e}")))
        };
        let addr = format!("169.254.{}.{}/16", pick(1, 168)?, pick(0, 255)?);
        let mut lease = SystemLease::new(&self.host, &iface);
        self.ip(&["-family", "inet", "addr", "add", &addr, "dev", &iface])?;
        lease.undo_last(["ip", "-family", "inet", "addr", "del", &addr, "dev", &iface]);
        if let Err(e) = self.ip(&["link", "set", "dev", &iface, "up"]) {
            drop(lease);
            return Err(e);
        }
        if !before.up {
            lease.undo_first(["ip", "link", "set", "dev", &iface, "down"]);
        }
        log::debug!("brought device '{iface}' up with address {addr}");
        lease.info.address = addr.split('/').next().map(str::to_string);
        Ok(lease)
    }

    fn link_local6(&self, iface: &Option<String>) -> Result<SystemLease, SourceError> {
        let iface = self.pick_dhcp_iface(iface)?;
        let operstate = self
            .host
            .read_to_string(format!("/sys/class/net/{iface}/operstate"))
            .unwrap_or_default();
        if operstate.trim() != "up" {
            self.ip(&["link", "set", "dev", &iface, "up"])?;
        }
        // A tentative address cannot be used as a source yet (DAD takes about
        // a second); upstream relies on its URL retries instead.
        let deadline = Instant::now() + self.ipv6_settle;
        loop {
            let out = self
                .ip(&["-o", "-6", "addr", "show", "dev", &iface, "scope", "link"])
                .unwrap_or_default();
            if out.lines().any(|l| !l.contains("tentative")) || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Upstream leaves the link up: the network config brings it up anyway.
        Ok(SystemLease::new(&self.host, &iface))
    }
}

impl EphemeralNet for SystemNet {
    fn bring_up(&self, kind: &EphemeralKind) -> Result<Box<dyn Lease>, SourceError> {
        let lease = match kind {
            EphemeralKind::Dhcp4 { iface } => self.dhcp4(iface),
            EphemeralKind::LinkLocal4 { iface } => self.link_local4(iface),
            EphemeralKind::LinkLocal6 { iface } => self.link_local6(iface),
        };
        match lease {
            Ok(l) => Ok(Box::new(l)),
            Err(e) => {
                log::debug!("ephemeral network ({kind:?}) failed: {e}");
                Err(e)
            }
        }
    }
}

#[derive(Debug, Default)]
struct IfState {
    up: bool,
    ipv4: Vec<String>,
}

/// Undoes, in order, what was done; runs when dropped, also after a
/// partial bring-up failed.
struct SystemLease {
    host: Host,
    info: LeaseInfo,
    undo: Vec<Vec<String>>,
    /// The DHCP client still stopping; waited for before the tear-down.
    client_exit: Option<std::thread::JoinHandle<()>>,
}

impl SystemLease {
    fn new(host: &Host, iface: &str) -> Self {
        SystemLease {
            host: host.clone(),
            info: LeaseInfo {
                iface: iface.to_string(),
                ..LeaseInfo::default()
            },
            undo: Vec::new(),
            client_exit: None,
        }
    }

    fn undo_last<'a>(&mut self, argv: impl IntoIterator<Item = &'a str>) {
        self.undo
            .push(argv.into_iter().map(str::to_string).collect());
    }

    fn undo_first<'a>(&mut self, argv: impl IntoIterator<Item = &'a str>) {
        self.undo
            .insert(0, argv.into_iter().map(str::to_string).collect());
    }
}

impl Lease for SystemLease {
    fn info(&self) -> &LeaseInfo {
        &self.info
    }
}

impl Drop for SystemLease {
    fn drop(&mut self) {
        if let Some(exit) = self.client_exit.take() {
            let _ = exit.join();
        }
        for argv in self.undo.drain(..) {
            if let Err(e) = self.host.run(&Cmd::new(argv)) {
                log::debug!("ephemeral network tear-down step failed: {e}");
            }
        }
    }
}

/// `inet A/P` addresses of `ip -o -4 addr show` output, without the prefix.
fn ipv4_addresses(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            words.find(|w| *w == "inet")?;
            words.next()?.split('/').next().map(str::to_string)
        })
        .collect()
}

fn broadcast_of(ip: &str, prefix: u32) -> Option<String> {
    let a: std::net::Ipv4Addr = ip.parse().ok()?;
    let host_bits = u32::MAX.checked_shr(prefix).unwrap_or(0);
    Some(std::net::Ipv4Addr::from(u32::from(a) | host_bits).to_string())
}

/// `dest/len gw dest/len gw ...` pairs (dhcpcd's and udhcpc's format).
fn static_routes(text: &str) -> Vec<(String, String)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if !words.len().is_multiple_of(2) {
        log::warn!("Malformed classless static routes: [{text}]");
    }
    words
        .chunks_exact(2)
        .filter_map(|c| match c {
            [n, g] => Some((n.to_string(), g.to_string())),
            _ => None,
        })
        .collect()
}

/// Upstream's `get_link_local_nic`: the physical NIC with the lowest ifindex.
pub fn lowest_physical_nic(host: &Host) -> Option<String> {
    host.list_dir("/sys/class/net")
        .into_iter()
        .filter(|n| host.exists(format!("/sys/class/net/{n}/device")))
        .filter_map(|n| {
            let idx = host
                .read_to_string(format!("/sys/class/net/{n}/ifindex"))
                .ok()?
                .trim()
                .parse::<i64>()
                .ok()?;
            Some((idx, n))
        })
        .min()
        .map(|(_, n)| n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ci_host::RecordingRunner;
    use std::sync::Arc;

    #[test]
    fn masks_and_broadcasts() {
        assert_eq!(ipv4_mask_to_prefix("255.255.255.0"), Some(24));
        assert_eq!(ipv4_mask_to_prefix("255.255.240.0"), Some(20));
        assert_eq!(ipv4_mask_to_prefix("0.0.0.0"), Some(0));
        assert_eq!(ipv4_mask_to_prefix("16"), Some(16));
        assert_eq!(ipv4_mask_to_prefix("255.0.255.0"), None);
        assert_eq!(ipv4_mask_to_prefix("33"), None);
        assert_eq!(broadcast_of("10.1.2.3", 20).as_deref(), Some("10.1.15.255"));
        assert_eq!(broadcast_of("10.1.2.3", 32).as_deref(), Some("10.1.2.3"));
    }

    #[test]
    fn parses_ip_output_and_routes() {
        let out = "2: eth0    inet 10.0.2.15/24 brd 10.0.2.255 scope global eth0\\       valid_lft forever\n\
                   2: eth0    inet 169.254.3.4/16 scope link eth0\n";
        assert_eq!(ipv4_addresses(out), ["10.0.2.15", "169.254.3.4"]);
        assert_eq!(
            static_routes("169.254.169.254/32 10.0.0.1 0.0.0.0/0 0.0.0.0"),
            [
                ("169.254.169.254/32".to_string(), "10.0.0.1".to_string()),
                ("0.0.0.0/0".to_string(), "0.0.0.0".to_string())
            ]
        );
    }

    /// A lease with a router on a link that was down: address, link, routes,
    /// then the exact reverse on drop.
    #[test]
    fn applies_lease_and_undoes_in_order() {
        let dir = std::env::temp_dir().join(format!("cirs-eph-{}", std::process::id()));
        let rec = Arc::new(RecordingRunner::new());
        let host = Host::with_runner(&dir, rec.clone());
        let net = SystemNet::new(&host, &Value::Null);
        let mut got = DhcpLease::new();
        got.insert("fixed-address".into(), "10.0.0.5".into());
        got.insert("subnet-mask".into(), "255.255.255.0".into());
        got.insert("routers".into(), "10.0.0.1".into());
        let mut lease = SystemLease::new(&host, "eth0");
        net.apply_lease(&mut lease, &IfState::default(), &got)
            .unwrap();
        assert_eq!(lease.info.address.as_deref(), Some("10.0.0.5"));
        drop(lease);
        let lines = rec.lines();
        let done: Vec<&str> = lines
            .iter()
            .map(String::as_str)
            .filter(|l| !l.contains(" show"))
            .collect();
        assert_eq!(
            done,
            [
                "ip -family inet addr add 10.0.0.5/24 broadcast 10.0.0.255 dev eth0",
                "ip -family inet link set dev eth0 up",
                "ip -4 route replace 10.0.0.1 dev eth0 src 10.0.0.5",
                "ip -4 route replace default via 10.0.0.1 dev eth0",
                "ip -4 route del default dev eth0",
                "ip -4 route del 10.0.0.1 dev eth0 src 10.0.0.5",
                "ip -family inet addr del 10.0.0.5/24 dev eth0",
            ]
        );
    }

    #[test]
    fn static_routes_replace_router() {
        let rec = Arc::new(RecordingRunner::new());
        let host = Host::with_runner("/nonexistent-cirs", rec.clone());
        let net = SystemNet::new(&host, &Value::Null);
        let mut got = DhcpLease::new();
        got.insert("fixed-address".into(), "10.0.0.5".into());
        got.insert("subnet-mask".into(), "24".into());
        got.insert("routers".into(), "10.0.0.1".into());
        got.insert(
            "static_routes".into(),
            "169.254.169.254/32 10.0.0.1 0.0.0.0/0 10.0.0.1".into(),
        );
        let before = IfState {
            up: true,
            ipv4: vec!["10.0.0.5".into()],
        };
        let mut lease = SystemLease::new(&host, "eth0");
        net.apply_lease(&mut lease, &before, &got).unwrap();
        drop(lease);
        let lines = rec.lines();
        assert!(!lines.iter().any(|l| l.contains("replace")), "{lines:?}");
        assert!(
            lines.contains(&"ip -4 route append 169.254.169.254/32 via 10.0.0.1 dev eth0".into())
        );
        // The address was there before: it stays.
        assert!(!lines.iter().any(|l| l.contains("addr del")), "{lines:?}");
        let dels: Vec<&String> = lines.iter().filter(|l| l.contains("route del")).collect();
        assert_eq!(
            dels,
            [
                "ip -4 route del 0.0.0.0/0 via 10.0.0.1 dev eth0",
                "ip -4 route del 169.254.169.254/32 via 10.0.0.1 dev eth0"
            ]
        );
    }

    #[test]
    fn bad_lease_is_an_error() {
        let rec = Arc::new(RecordingRunner::new());
        let host = Host::with_runner("/nonexistent-cirs", rec);
        let net = SystemNet::new(&host, &Value::Null);
        let mut got = DhcpLease::new();
        got.insert("fixed-address".into(), "10.0.0.5".into());
        got.insert("subnet-mask".into(), "255.0.255.0".into());
        let mut lease = SystemLease::new(&host, "eth0");
        let e = net
            .apply_lease(&mut lease, &IfState::default(), &got)
            .unwrap_err();
        assert!(e.to_string().contains("invalid prefix or netmask"), "{e}");
    }
}
