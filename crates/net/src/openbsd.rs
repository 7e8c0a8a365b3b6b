//! OpenBSD: one `/etc/hostname.<if>` per interface with an IPv4 setting,
//! the default gateway in `/etc/mygate`, plus `/etc/resolv.conf`. Other
//! routes become `!route add` lines appended to every static interface's
//! file, as upstream writes them.
//!
//! Upstream crashes (TypeError) on a route whose mask is an integer prefix,
//! i.e. every IPv6 route; we write the prefix as text there, the way
//! upstream itself writes the `::` route it makes from a static6 gateway.

use crate::bsd::{self, V4};
use crate::files::{Files, Merge};
use crate::state::NetworkState;
use std::collections::BTreeMap;

pub fn render(ns: &NetworkState, macs: &BTreeMap<String, String>) -> Files {
    let settings = bsd::ipv4_settings(ns, macs);
    let mut files = Files::default();
    let mut extra_routes = String::new();
    for r in bsd::routes(ns) {
        let gateway = bsd::text_or_none(&r.gateway);
        if r.network == "0.0.0.0" {
            files.add("/etc/mygate", format!("{gateway}\n"), 0o644);
        } else {
            extra_routes.push_str(&format!(
                "!route add {} -netmask {} {gateway}\n",
                r.network,
                bsd::text_or_none(&r.netmask)
            ));
        }
    }
    for (dev, v) in &settings {
        let content = match v {
            V4::Dhcp => "dhcp\n".to_string(),
            V4::Static {
                address,
                netmask,
                mtu,
            } => {
                let mut c = format!("inet {address} {netmask}");
                if let Some(m) = mtu {
                    c.push_str(&format!("\nmtu {}", bsd::mtu_text(m)));
                }
                format!("{c}\n{extra_routes}")
            }
        };
        files.add(&format!("/etc/hostname.{dev}"), content, 0o644);
    }
    files.add_merged(
        "/etc/resolv.conf",
        bsd::resolv_conf(ns),
        0o644,
        Merge::Resolv { header: false },
    );
    files
}
