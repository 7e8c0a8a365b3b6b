//! Waiting for the network inside the network stage, only when needed.
//!
//! Upstream orders `cloud-init-network.service` after
//! `systemd-networkd-wait-online.service`, so every boot waits for a DHCP
//! lease before creating users and host keys, and sshd waits behind that.
//! Most of that stage needs no network when the datasource was found in the
//! local stage. Our unit drops that ordering; instead the stage waits here,
//! once, right before the first thing that does need the network: a
//! datasource search, a user-data include, or a module that may reach out
//! (`bootcmd`, `mounts`). The later stages still run after
//! `network-online.target`, as upstream's.

use ci_host::Host;
use std::cell::Cell;
use std::time::{Duration, Instant};

/// Upper bound on the wait, as `systemd-networkd-wait-online`'s default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(100);

/// Modules of the network stage that may use the network when configured.
pub(crate) const NETWORK_MODULES: &[&str] = &["bootcmd", "mounts"];

/// Waits at most once per stage.
pub(crate) struct NetWait<'a> {
    host: &'a Host,
    timeout: Duration,
    done: Cell<bool>,
    /// Tests watch a fake `/proc` under a sandbox root.
    watch_sandbox: bool,
}

impl<'a> NetWait<'a> {
    pub(crate) fn new(host: &'a Host) -> Self {
        NetWait {
            host,
            timeout: DEFAULT_TIMEOUT,
            done: Cell::new(false),
            watch_sandbox: false,
        }
    }

    /// Block until the machine has a usable network (a default route or a
    /// global address on a non-loopback interface) or the timeout passes.
    /// Under `--root DIR` the network is this machine's, never waited for.
    pub(crate) fn ensure(&self, why: &str) {
        if self.done.replace(true) || (self.host.is_sandbox() && !self.watch_sandbox) {
            return;
        }
        let started = Instant::now();
        if online(self.host) {
            log::debug!("Network already up before {why}");
            return;
        }
        log::debug!(
            "Waiting up to {}s for the network before {why}",
            self.timeout.as_secs()
        );
        while started.elapsed() < self.timeout {
            std::thread::sleep(POLL);
            if online(self.host) {
                log::info!(
                    "Network up after {:.3} seconds (waited before {why})",
                    started.elapsed().as_secs_f64()
                );
                return;
            }
        }
        log::info!(
            "No network after {} seconds; going on with {why}",
            self.timeout.as_secs()
        );
    }
}

/// Whether the machine looks online, from `/proc/net`.
pub(crate) fn online(host: &Host) -> bool {
    let v4 = host
        .read_to_string("/proc/net/route")
        .map(|t| has_v4_default(&t))
        .unwrap_or(false);
    v4 || host
        .read_to_string("/proc/net/ipv6_route")
        .map(|t| has_v6_default(&t))
        .unwrap_or(false)
        || host
            .read_to_string("/proc/net/if_inet6")
            .map(|t| has_v6_global(&t))
            .unwrap_or(false)
}

/// `/proc/net/route`: `Iface Destination Gateway Flags ...`, hex fields; a
/// default route has destination 0 and the UP flag (0x1).
fn has_v4_default(text: &str) -> bool {
    text.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        matches!(f.as_slice(), [iface, dest, _gw, flags, ..]
            if *iface != "lo" && *dest == "00000000"
                && u32::from_str_radix(flags, 16).is_ok_and(|x| x & 1 == 1))
    })
}

/// `/proc/net/ipv6_route`: destination, prefix length, ..., device last;
/// `::/0` on a non-loopback device.
fn has_v6_default(text: &str) -> bool {
    text.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() >= 10
            && f.first().is_some_and(|d| d.chars().all(|c| c == '0'))
            && f.get(1) == Some(&"00")
            && f.last().is_some_and(|dev| *dev != "lo")
    })
}

/// `/proc/net/if_inet6`: address, index, prefix, scope, flags, device; scope
/// 00 is global.
fn has_v6_global(text: &str) -> bool {
    text.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        matches!(f.as_slice(), [_addr, _idx, _plen, "00", _flags, dev] if *dev != "lo")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE_HEAD: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

    #[test]
    fn v4_default_route() {
        let none =
            format!("{ROUTE_HEAD}ens3\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");
        assert!(!has_v4_default(&none));
        let def =
            format!("{ROUTE_HEAD}ens3\t00000000\t0202000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n");
        assert!(has_v4_default(&def));
        let down =
            format!("{ROUTE_HEAD}ens3\t00000000\t0202000A\t0002\t0\t0\t100\t00000000\t0\t0\t0\n");
        assert!(!has_v4_default(&down));
    }

    #[test]
    fn v6_routes_and_addresses() {
        let lo_only = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n";
        assert!(!has_v6_default(lo_only));
        let def = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     ens3\n";
        assert!(has_v6_default(def));
        let link_local = "fe80000000000000505400fffe123456 02 40 20 80     ens3\n";
        assert!(!has_v6_global(link_local));
        let global = "20010db8000000000000000000000001 02 40 00 00     ens3\n";
        assert!(has_v6_global(global));
    }

    #[test]
    fn waits_until_a_route_appears_then_never_again() {
        let d = tempfile::tempdir().unwrap();
        let host = Host::new(d.path());
        host.write_atomic(
            "/proc/net/route",
            ROUTE_HEAD.as_bytes(),
            &Default::default(),
        )
        .unwrap();
        let w = NetWait {
            timeout: Duration::from_secs(20),
            watch_sandbox: true,
            ..NetWait::new(&host)
        };
        let later = host.clone();
        let up = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(400));
            let def = format!(
                "{ROUTE_HEAD}ens3\t00000000\t0202000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
            );
            later
                .write_atomic("/proc/net/route", def.as_bytes(), &Default::default())
                .unwrap();
        });
        let t = Instant::now();
        w.ensure("a test");
        let waited = t.elapsed();
        up.join().unwrap();
        assert!(waited >= Duration::from_millis(350), "{waited:?}");
        assert!(waited < Duration::from_secs(10), "{waited:?}");
        assert!(online(&host));
        // Once per stage: the second call returns at once even offline.
        host.write_atomic(
            "/proc/net/route",
            ROUTE_HEAD.as_bytes(),
            &Default::default(),
        )
        .unwrap();
        let t = Instant::now();
        w.ensure("again");
        assert!(t.elapsed() < Duration::from_millis(50));
    }

    #[test]
    fn gives_up_at_the_timeout() {
        let d = tempfile::tempdir().unwrap();
        let host = Host::new(d.path());
        let w = NetWait {
            timeout: Duration::from_millis(300),
            watch_sandbox: true,
            ..NetWait::new(&host)
        };
        let t = Instant::now();
        w.ensure("a test");
        assert!(t.elapsed() >= Duration::from_millis(300));
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn sandbox_never_waits() {
        let d = tempfile::tempdir().unwrap();
        let host = Host::new(d.path());
        let w = NetWait::new(&host);
        let t = Instant::now();
        w.ensure("a test");
        assert!(t.elapsed() < Duration::from_secs(1));
        assert!(!online(&host));
    }
}
