//! Temporary networking for local-stage datasources.
//!
//! Several clouds serve metadata only over the network, yet their
//! datasources must run in the local stage, before the network config is
//! rendered (upstream brings up DHCP on the primary NIC with dhclient, or a
//! link-local address, and tears it down afterwards). A datasource asks the
//! [`EphemeralNet`] in its [`SourceContext`](crate::SourceContext) for what it
//! needs; the returned [`Lease`] undoes everything when dropped. The boot
//! provides the real implementation; tests use [`RecordingNet`], which
//! pretends and records, so metadata URLs stay on 127.0.0.1.

use crate::error::SourceError;
use std::sync::{Arc, Mutex};

pub mod dhcp;
mod system;

pub use system::{lowest_physical_nic, SystemNet};

/// What a datasource needs brought up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EphemeralKind {
    /// DHCPv4 on `iface` (`None`: the fallback NIC, chosen as upstream does).
    Dhcp4 { iface: Option<String> },
    /// An IPv4 link-local address (169.254.0.0/16) on `iface`, with a
    /// route to 169.254.169.254, without DHCP (DigitalOcean-style clouds).
    LinkLocal4 { iface: Option<String> },
    /// IPv6 link-local only (the interface up is enough).
    LinkLocal6 { iface: Option<String> },
}

/// What bringing up the network produced (DHCP lease options and such),
/// for datasources that read them (Azure's option 245, CloudStack's server).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaseInfo {
    pub iface: String,
    pub address: Option<String>,
    pub routers: Vec<String>,
    pub dhcp_server: Option<String>,
    /// Other options as `(name or number, value)`, e.g. `("unknown-245", "a8:3f:81:10")`.
    pub options: Vec<(String, String)>,
}

/// Something that undoes a temporary network setup when dropped.
pub trait Lease {
    fn info(&self) -> &LeaseInfo;
}

/// Brings temporary networking up.
pub trait EphemeralNet: Send + Sync {
    fn bring_up(&self, kind: &EphemeralKind) -> Result<Box<dyn Lease>, SourceError>;

    /// False for the placeholder: local-stage datasources that need
    /// temporary networking are then skipped quietly (the network stage
    /// searches again) instead of failing with a warning.
    fn available(&self) -> bool {
        true
    }
}

/// Used when nothing was provided: every request fails, so local-stage
/// network datasources report "not found" and the network stage retries.
#[derive(Debug, Default)]
pub struct NoNet;

impl EphemeralNet for NoNet {
    fn available(&self) -> bool {
        false
    }

    fn bring_up(&self, kind: &EphemeralKind) -> Result<Box<dyn Lease>, SourceError> {
        Err(SourceError::Malformed {
            what: "ephemeral network".into(),
            message: format!("not available in this run ({kind:?})"),
        })
    }
}

/// Test double: succeeds (or fails when told to), records every bring-up and
/// tear-down in order.
#[derive(Debug, Clone, Default)]
pub struct RecordingNet {
    events: Arc<Mutex<Vec<String>>>,
    fail: bool,
    info: LeaseInfo,
}

impl RecordingNet {
    pub fn new() -> Self {
        RecordingNet::default()
    }

    /// A network whose bring-up always fails.
    pub fn failing() -> Self {
        RecordingNet {
            fail: true,
            ..RecordingNet::default()
        }
    }

    /// Leases report `info`.
    pub fn with_lease(mut self, info: LeaseInfo) -> Self {
        self.info = info;
        self
    }

    /// `up <kind>` and `down <iface>` lines so far.
    pub fn events(&self) -> Vec<String> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

struct RecordedLease {
    events: Arc<Mutex<Vec<String>>>,
    info: LeaseInfo,
}

impl Lease for RecordedLease {
    fn info(&self) -> &LeaseInfo {
        &self.info
    }
}

impl Drop for RecordedLease {
    fn drop(&mut self) {
        if let Ok(mut e) = self.events.lock() {
            e.push(format!("down {}", self.info.iface));
        }
    }
}

impl EphemeralNet for RecordingNet {
    fn bring_up(&self, kind: &EphemeralKind) -> Result<Box<dyn Lease>, SourceError> {
        if let Ok(mut e) = self.events.lock() {
            e.push(format!("up {kind:?}"));
        }
        if self.fail {
            return Err(SourceError::Malformed {
                what: "ephemeral network".into(),
                message: "bring-up failed (test)".into(),
            });
        }
        let mut info = self.info.clone();
        if info.iface.is_empty() {
            info.iface = match kind {
                EphemeralKind::Dhcp4 { iface }
                | EphemeralKind::LinkLocal4 { iface }
                | EphemeralKind::LinkLocal6 { iface } => {
                    iface.clone().unwrap_or_else(|| "eth0".into())
                }
            };
        }
        Ok(Box::new(RecordedLease {
            events: Arc::clone(&self.events),
            info,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recording_net_records_up_and_down() {
        let net = RecordingNet::new();
        {
            let lease = net.bring_up(&EphemeralKind::Dhcp4 { iface: None }).unwrap();
            assert_eq!(lease.info().iface, "eth0");
        }
        assert_eq!(net.events(), ["up Dhcp4 { iface: None }", "down eth0"]);
        assert!(RecordingNet::failing()
            .bring_up(&EphemeralKind::LinkLocal4 { iface: None })
            .is_err());
        assert!(NoNet
            .bring_up(&EphemeralKind::LinkLocal6 { iface: None })
            .is_err());
    }
}
