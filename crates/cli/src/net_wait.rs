//! Waiting for the network in the network stage only when it is needed.
//!
//! Upstream orders Debian's `cloud-init-network.service` after
//! `systemd-networkd-wait-online.service`, so every boot waits for a DHCP
//! lease before creating users and host keys, and sshd waits behind that.
//! Upstream's Ubuntu units do what ours do on every distro: the stage starts
//! right after the local stage, and waits for the network itself unless the
//! local stage found the datasource and decided, from the raw user-data and
//! vendor-data, that nothing in the network stage needs the network
//! (upstream's rules, and its `/run/cloud-init/.skip-network` marker). The
//! later stages still run after `network-online.target`.

use ci_host::{Host, WriteOpts};
use ci_sources::Datasource;
use ci_state::Paths;
use serde_json::Value;
use std::cell::Cell;
use std::time::{Duration, Instant};

/// Upper bound on the wait, as `systemd-networkd-wait-online`'s default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(100);

/// Written by the local stage when the network stage need not wait.
pub(crate) const SKIP_NETWORK: &str = ".skip-network";

/// Waits at most once.
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
    pub(crate) fn ensure(&self) {
        if self.done.replace(true) || (self.host.is_sandbox() && !self.watch_sandbox) {
            return;
        }
        let started = Instant::now();
        if online(self.host) {
            log::debug!("Network already up");
            return;
        }
        log::debug!("Waiting up to {}s for the network", self.timeout.as_secs());
        while started.elapsed() < self.timeout {
            std::thread::sleep(POLL);
            if online(self.host) {
                log::info!(
                    "Network up after waiting {:.3} seconds",
                    started.elapsed().as_secs_f64()
                );
                return;
            }
        }
        log::info!(
            "No network after {} seconds; going on without it",
            self.timeout.as_secs()
        );
    }
}

/// Local stage, datasource found: log whether the network stage must wait
/// and, when it need not, leave the marker for it.
pub(crate) fn decide_network_wait(host: &Host, paths: &Paths, ds: &dyn Datasource) {
    let (wait, reason) = should_wait_on_network(ds);
    if wait {
        log::debug!(
            "Network connectivity determined necessary for cloud-init's network stage. Reason: {reason}"
        );
        return;
    }
    log::debug!(
        "Network connectivity determined unnecessary for cloud-init's network stage. Reason: {reason}"
    );
    if let Err(e) = host.write_atomic(paths.run_file(SKIP_NETWORK), b"", &WriteOpts::mode(0o644)) {
        log::warn!(
            "Failed to write {}: {e}",
            paths.run_file(SKIP_NETWORK).display()
        );
    }
}

/// Upstream's `_should_wait_on_network` over user-data, vendor-data and
/// vendor-data2, with its reasons.
pub(crate) fn should_wait_on_network(ds: &dyn Datasource) -> (bool, String) {
    let blobs = [
        ("user data", ds.userdata_raw()),
        ("vendor data", ds.vendordata_raw()),
        ("vendor data2", ds.vendordata2_raw()),
    ];
    let mut reasons = Vec::new();
    for (what, raw) in blobs {
        let (wait, reason) = should_wait_via_user_data(raw.unwrap_or_default());
        if wait {
            return (true, format!("{reason} in {what}"));
        }
        reasons.push(format!("{what}: {reason}"));
    }
    (false, reasons.join(", "))
}

/// Whether one raw user-data blob may need the network in the network
/// stage: anything but cloud-config (includes, boothooks, archives), YAML
/// that does not parse, or cloud-config with `bootcmd`, a `random_seed`
/// command, `mounts` or a `write_files` source URL.
pub(crate) fn should_wait_via_user_data(raw: &[u8]) -> (bool, &'static str) {
    let (wait, reason, warning) = user_data_verdict(raw);
    if let Some(w) = warning {
        log::warn!("{w}");
    }
    (wait, reason)
}

/// The decision, its reason and the warning to log (bad YAML).
fn user_data_verdict(raw: &[u8]) -> (bool, &'static str, Option<String>) {
    let (wait, reason) = match verdict(raw) {
        Ok(v) => v,
        Err(warning) => {
            return (
                true,
                "failed to parse user data as yaml",
                Some(format!("Unexpected failure parsing userdata: {warning}")),
            )
        }
    };
    (wait, reason, None)
}

fn verdict(raw: &[u8]) -> Result<(bool, &'static str), String> {
    if raw.is_empty() {
        return Ok((false, "no configuration found"));
    }
    // Only the head decides the type: the blob may be large or binary.
    let stripped = raw.trim_ascii();
    let head = stripped.get(..42).unwrap_or(stripped);
    if ci_userdata::type_from_starts_with(head) != Some("text/cloud-config") {
        return Ok((true, "non-cloud-config user data found"));
    }
    let text = std::str::from_utf8(raw).map_err(|e| e.to_string())?;
    let parsed = ci_yaml::load(text).map_err(|e| e.pyyaml_text_named(text, "<byte string>"))?;
    let Value::Object(cfg) = parsed else {
        return Ok((true, "parsed config not in cloud-config format"));
    };
    let remote_source = |item: &Value| {
        item.get("source")
            .and_then(|s| s.get("uri"))
            .and_then(Value::as_str)
            .is_some_and(|u| !u.is_empty() && !u.starts_with('/') && !u.starts_with("file:"))
    };
    if let Some(Value::Array(files)) = cfg.get("write_files") {
        if files.iter().any(remote_source) {
            return Ok((true, "write_files with source uri found"));
        }
    }
    if cfg.get("bootcmd").is_some_and(ci_pyval::truthy) {
        return Ok((true, "bootcmd found"));
    }
    if cfg
        .get("random_seed")
        .and_then(|r| r.get("command"))
        .is_some_and(ci_pyval::truthy)
    {
        return Ok((true, "random_seed command found"));
    }
    if cfg.get("mounts").is_some_and(ci_pyval::truthy) {
        return Ok((true, "mounts found"));
    }
    Ok((
        false,
        "cloud-config does not contain network requiring elements",
    ))
}

/// Whether the machine looks online, from `/proc/net`.
pub(crate) fn online(host: &Host) -> bool {
    let v4 = host
        .read_to_string("/proc/net/route")
        .map(|t| has_v4_route(&t))
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

/// `/proc/net/route`: `Iface Destination Gateway Flags ...`, hex fields in
/// host byte order. Online is an UP route on a non-loopback interface other
/// than the zeroconf one: the default route, or the subnet route of a configured
/// address (what `systemd-networkd-wait-online` accepts as "configured";
/// some networks, QEMU's restricted user networking among them, hand out an
/// address without a router).
fn has_v4_route(text: &str) -> bool {
    text.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let [iface, dest, _gw, flags, _refcnt, _use, _metric, mask, ..] = f.as_slice() else {
            return false;
        };
        let up = u32::from_str_radix(flags, 16).is_ok_and(|x| x & 1 == 1);
        // The zeroconf route 169.254.0.0/16 (avahi, a DigitalOcean-style
        // temporary address) is no network; /proc prints host byte order.
        let zeroconf = matches!(
            (*dest, *mask),
            ("0000FEA9", "0000FFFF") | ("A9FE0000", "FFFF0000")
        );
        *iface != "lo" && up && !zeroconf
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
        assert!(!has_v4_route(ROUTE_HEAD));
        // An address's subnet route counts (10.0.2.0/24 on ens3)...
        let subnet =
            format!("{ROUTE_HEAD}ens3\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n");
        assert!(has_v4_route(&subnet));
        // ...the zeroconf one (169.254.0.0/16) or one on lo does not.
        let ll =
            format!("{ROUTE_HEAD}ens3\t0000FEA9\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n");
        assert!(!has_v4_route(&ll));
        let lo = format!("{ROUTE_HEAD}lo\t0000007F\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n");
        assert!(!has_v4_route(&lo));
        let def =
            format!("{ROUTE_HEAD}ens3\t00000000\t0202000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n");
        assert!(has_v4_route(&def));
        let down =
            format!("{ROUTE_HEAD}ens3\t00000000\t0202000A\t0002\t0\t0\t100\t00000000\t0\t0\t0\n");
        assert!(!has_v4_route(&down));
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
        w.ensure();
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
        w.ensure();
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
        w.ensure();
        assert!(t.elapsed() >= Duration::from_millis(300));
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    /// Upstream's verdicts (tests/regen-should-wait.py).
    #[test]
    fn user_data_verdicts_match_upstream() {
        let cases: Vec<serde_json::Value> =
            serde_json::from_str(include_str!("../tests/fixtures/should-wait.json")).unwrap();
        assert!(cases.len() > 20);
        for c in cases {
            let raw = c["raw"].as_str().unwrap();
            let (wait, reason, warning) = user_data_verdict(raw.as_bytes());
            assert_eq!(wait, c["wait"], "{raw:?}");
            assert_eq!(reason, c["reason"], "{raw:?}");
            let want: Vec<String> = serde_json::from_value(c["warnings"].clone()).unwrap();
            let got: Vec<String> = warning.into_iter().collect();
            assert_eq!(got, want, "{raw:?}");
        }
    }

    #[test]
    fn sandbox_never_waits() {
        let d = tempfile::tempdir().unwrap();
        let host = Host::new(d.path());
        let w = NetWait::new(&host);
        let t = Instant::now();
        w.ensure();
        assert!(t.elapsed() < Duration::from_secs(1));
        assert!(!online(&host));
    }
}
