//! Ec2Local: the local-stage crawl inside temporary networking (upstream's
//! `DataSourceEc2Local` with `EphemeralIPNetwork(ipv4=True, ipv6=True)`).

use crate::ephemeral::{EphemeralKind, EphemeralNet, Lease};
use ci_host::Host;

/// The clouds upstream crawls in the local stage.
pub(super) const LOCAL_CLOUDS: &[&str] = &["aws", "outscale"];

/// Upstream's refusal, with its Python tuple spelling.
pub(super) fn unsupported_message(cloud: &str) -> String {
    let list: Vec<String> = LOCAL_CLOUDS.iter().map(|c| format!("'{c}'")).collect();
    format!(
        "Local Ec2 mode only supported on ({}), not {cloud}",
        list.join(", ")
    )
}

/// The leases held while crawling; dropping this tears them down, IPv6
/// first (the reverse of bring-up, as upstream's exit stack).
pub(super) struct Ephemeral {
    v6: Option<Box<dyn Lease>>,
    v4: Option<Box<dyn Lease>>,
}

impl Ephemeral {
    /// DHCPv4, then the IPv6 link; either may fail, not both.
    pub(super) fn bring_up(host: &Host, net: &dyn EphemeralNet) -> Option<Ephemeral> {
        let nic = || ci_net::find_fallback_nic(host).unwrap_or_else(|| "None".into());
        let attempt = |kind: EphemeralKind, version: &str| match net.bring_up(&kind) {
            Ok(lease) => {
                log::debug!(
                    "Successfully brought up {} for ephemeral {version} networking.",
                    lease.info().iface
                );
                Some(lease)
            }
            Err(e) => {
                log::debug!(
                    "Failed to bring up {} for ephemeral {version} networking.",
                    nic()
                );
                log::debug!("{e}");
                None
            }
        };
        log::debug!("No connectivity to IMDS, attempting DHCP setup.");
        let v4 = attempt(EphemeralKind::Dhcp4 { iface: None }, "ipv4");
        let v6 = attempt(EphemeralKind::LinkLocal6 { iface: None }, "ipv6");
        if v4.is_none() && v6.is_none() {
            log::error!("Failed to bring up EphemeralIPNetwork. Datasource setup cannot continue");
            return None;
        }
        Some(Ephemeral { v6, v4 })
    }

    /// Only the IPv6 link is up: the IPv4 metadata address is unreachable.
    pub(super) fn ipv6_only(&self) -> bool {
        self.v4.is_none()
    }

    /// Upstream's `state_msg` suffix for "Crawled metadata service".
    pub(super) fn state_msg(&self) -> &'static str {
        if self.v6.is_some() {
            " using link-local ipv6"
        } else {
            ""
        }
    }
}

impl Drop for Ephemeral {
    fn drop(&mut self) {
        drop(self.v6.take());
        drop(self.v4.take());
    }
}

/// With only IPv6, try IPv6-literal addresses first (upstream races them
/// all; our wait is serial, and an IPv4 address would cost its timeout).
pub(super) fn prefer_ipv6(urls: Vec<String>) -> Vec<String> {
    let (v6, rest): (Vec<String>, Vec<String>) = urls
        .into_iter()
        .partition(|u| u.trim_start_matches("http://").starts_with('['));
    v6.into_iter().chain(rest).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_order() {
        assert_eq!(
            unsupported_message("unknown"),
            "Local Ec2 mode only supported on ('aws', 'outscale'), not unknown"
        );
        let urls = vec![
            "http://169.254.169.254".to_string(),
            "http://[fd00:ec2::254]".to_string(),
            "http://instance-data.:8773".to_string(),
        ];
        assert_eq!(
            prefer_ipv6(urls),
            [
                "http://[fd00:ec2::254]",
                "http://169.254.169.254",
                "http://instance-data.:8773"
            ]
        );
    }
}
