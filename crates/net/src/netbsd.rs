//! NetBSD: addresses, DHCP (dhcpcd) and the default route as `/etc/rc.conf`
//! settings, plus `/etc/resolv.conf`. IPv6 addresses and other routes are
//! not written, as upstream does not write them.
//!
//! As for FreeBSD, rc.conf is edited in place: the tree holds the settings
//! applied to an empty file and [`crate::write_files`] applies them to the
//! target's own rc.conf.

use crate::bsd::{self, V4};
use crate::files::{Files, Merge};
use crate::state::NetworkState;
use std::collections::BTreeMap;

/// Ordered rc.conf settings; setting a key again replaces it in place.
#[derive(Default)]
struct RcConf(Vec<(String, String)>);

impl RcConf {
    fn set(&mut self, key: &str, value: &str) {
        let q = bsd::shell_quote(value);
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = q,
            None => self.0.push((key.to_string(), q)),
        }
    }

    fn text(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
    }
}

pub fn render(ns: &NetworkState, macs: &BTreeMap<String, String>) -> Files {
    let settings = bsd::ipv4_settings(ns, macs);
    let mut rc = RcConf::default();
    // Upstream sets the route while collecting routes, before any
    // interface setting.
    for r in bsd::routes(ns) {
        if r.network == "0.0.0.0" {
            rc.set("defaultroute", &bsd::text_or_none(&r.gateway));
        }
    }
    let dhcp: Vec<&str> = settings
        .iter()
        .filter(|(_, v)| matches!(v, V4::Dhcp))
        .map(|(n, _)| n.as_str())
        .collect();
    if !dhcp.is_empty() {
        rc.set("dhcpcd", "YES");
        rc.set("dhcpcd_flags", &dhcp.join(" "));
    }
    for (dev, v) in &settings {
        if let V4::Static {
            address,
            netmask,
            mtu,
        } = v
        {
            let mut value = format!("{address} netmask {netmask}");
            if let Some(m) = mtu {
                value.push_str(&format!(" mtu {}", bsd::mtu_text(m)));
            }
            rc.set(&format!("ifconfig_{dev}"), &value);
        }
    }
    let mut files = Files::default();
    files.add_merged("/etc/rc.conf", rc.text(), 0o644, Merge::RcConf);
    files.add_merged(
        "/etc/resolv.conf",
        bsd::resolv_conf(ns),
        0o644,
        Merge::Resolv { header: false },
    );
    files
}
