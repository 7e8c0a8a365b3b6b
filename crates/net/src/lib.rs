//! Network configuration: v1/v2 parsing, the interpreted network state,
//! renderers producing file trees, and the fallback config.
//!
//! API contract (the boot and the CLI rely on it):
//! - [`parse`] takes the network-config document (with or without a
//!   top-level `network:` key) and gives `Ok(None)` for `config: disabled`.
//! - [`render`] turns a [`NetworkConfig`] into [`Files`] (target path →
//!   bytes, mode, owner) for one [`Renderer`] and distro, as upstream's
//!   renderer for that distro writes them; nothing touches the disk.
//! - [`write_files`] writes such a tree under a [`ci_host::Host`] root,
//!   merging the few files upstream edits in place (resolv.conf,
//!   `/etc/sysconfig/network`, rc.conf) with what is already there.
//! - [`fallback::fallback_config`] is upstream's DHCP-on-the-best-NIC config
//!   (from `<root>/sys/class/net`); [`fallback::distro_fallback_config`]
//!   adds photon's `disable_fallback_netcfg`; [`fallback::interfaces_by_mac`]
//!   fills [`RenderOptions::macs`].
//! - [`cmdline`] reads `network-config=` and klibc initramfs configs;
//!   [`select`] picks the renderer as upstream's `renderers.select`.
//!
//! Every renderer's output is compared byte for byte with upstream
//! 25.1.4's in `tests/conformance.rs` (fixtures from
//! `tests/regen-expected.py`).

pub mod activate;
mod bsd;
pub mod cmdline;
mod distro;
mod eni;
pub mod eni_parse;
mod error;
pub mod fallback;
mod files;
mod freebsd;
pub mod ip;
mod netbsd;
pub mod netjson;
mod netplan;
mod network_manager;
mod networkd;
mod openbsd;
pub mod pyfmt;
pub mod select;
pub mod state;
mod sysconfig;
mod uuid5;

pub use error::NetError;
pub use fallback::{fallback_config, find_fallback_nic};
pub use files::{write_files, FileEntry, Files, Merge};
pub use state::NetworkState;

use serde_json::Value;
use std::collections::BTreeMap;

/// A parsed network config: version and the config proper (v1: the
/// `config` list; v2: the whole mapping, `version` included).
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkConfig {
    pub version: u8,
    pub config: Value,
    /// Key path prefix for messages: `network` when the document was
    /// wrapped in a `network:` key, else empty.
    pub base: String,
}

/// The output formats upstream can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renderer {
    Netplan,
    Eni,
    Networkd,
    NetworkManager,
    Sysconfig,
    Freebsd,
    Netbsd,
    Openbsd,
}

impl Renderer {
    /// Upstream's name (`-O` of `devel net-convert`, `system_info.network.renderers`).
    pub fn name(self) -> &'static str {
        match self {
            Renderer::Netplan => "netplan",
            Renderer::Eni => "eni",
            Renderer::Networkd => "networkd",
            Renderer::NetworkManager => "network-manager",
            Renderer::Sysconfig => "sysconfig",
            Renderer::Freebsd => "freebsd",
            Renderer::Netbsd => "netbsd",
            Renderer::Openbsd => "openbsd",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "netplan" => Some(Renderer::Netplan),
            "eni" => Some(Renderer::Eni),
            "networkd" => Some(Renderer::Networkd),
            "network-manager" => Some(Renderer::NetworkManager),
            "sysconfig" => Some(Renderer::Sysconfig),
            "freebsd" => Some(Renderer::Freebsd),
            "netbsd" => Some(Renderer::Netbsd),
            "openbsd" => Some(Renderer::Openbsd),
            _ => None,
        }
    }
}

/// How to render: for which distro, with what knowledge of the machine.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Upstream distro name (`debian`, `ubuntu`, `rhel`, ...).
    pub distro: String,
    /// What `netplan info` reports; `devel net-convert` assumes
    /// `dhcp-use-domains` and `ipv6-mtu`.
    pub netplan_features: Vec<String>,
    /// Lower-case MAC → current interface name on the machine, used to
    /// name v2 ethernets matched by MAC without `set-name`.
    pub macs: BTreeMap<String, String>,
}

impl RenderOptions {
    pub fn new(distro: &str) -> Self {
        RenderOptions {
            distro: distro.to_string(),
            ..RenderOptions::default()
        }
    }
}

/// Parses a network-config document. `Ok(None)` means networking
/// configuration is disabled (`config: disabled`).
pub fn parse(doc: &Value) -> Result<Option<NetworkConfig>, NetError> {
    let (inner, base) = match doc.get("network") {
        Some(inner) => (inner, "network"),
        None => (doc, ""),
    };
    let Some(map) = inner.as_object() else {
        return Err(NetError::invalid(
            base,
            format!("{} is not of type 'object'", pyfmt::py_repr(inner)),
        ));
    };
    if map.get("config").and_then(Value::as_str) == Some("disabled") {
        return Ok(None);
    }
    let vpath = error::join(base, "version");
    let version = match map.get("version") {
        Some(Value::Number(n)) if n.as_i64() == Some(1) => 1,
        Some(Value::Number(n)) if n.as_i64() == Some(2) => 2,
        Some(other) => {
            return Err(NetError::invalid(
                vpath,
                format!("{} is not one of [1, 2]", pyfmt::py_repr(other)),
            ))
        }
        None => {
            return Err(NetError::invalid(base, "'version' is a required property"));
        }
    };
    let config = if version == 1 {
        match map.get("config") {
            Some(c @ Value::Array(_)) => c.clone(),
            Some(other) => {
                return Err(NetError::invalid(
                    error::join(base, "config"),
                    format!("{} is not of type 'array'", pyfmt::py_repr(other)),
                ))
            }
            None => return Err(NetError::invalid(base, "'config' is a required property")),
        }
    } else {
        inner.clone()
    };
    let cfg = NetworkConfig {
        version,
        config,
        base: base.to_string(),
    };
    // Interpreting once surfaces structural errors at parse time, with
    // their key paths, instead of at render time.
    cfg.state(&BTreeMap::new())?;
    Ok(Some(cfg))
}

impl NetworkConfig {
    /// The interpreted state (upstream's `parse_net_config_data`).
    pub fn state(&self, macs: &BTreeMap<String, String>) -> Result<NetworkState, NetError> {
        state::interpret(self.version, &self.config, &self.base, macs)
    }
}

/// Renders a config for one renderer and distro.
pub fn render(
    cfg: &NetworkConfig,
    renderer: Renderer,
    opts: &RenderOptions,
) -> Result<Files, NetError> {
    let dcfg = distro::configs(&opts.distro);
    match renderer {
        // v2 goes to netplan verbatim, uninterpreted, as upstream does.
        Renderer::Netplan if cfg.version == 2 => Ok(netplan::render_passthrough(cfg, &dcfg)),
        Renderer::Netplan => {
            let ns = cfg.state(&opts.macs)?;
            Ok(netplan::render(&ns, &dcfg, &opts.netplan_features))
        }
        Renderer::Eni => Ok(eni::render(&cfg.state(&opts.macs)?, &dcfg)),
        Renderer::Networkd => networkd::render(&cfg.state(&opts.macs)?),
        Renderer::NetworkManager => Ok(network_manager::render(&cfg.state(&opts.macs)?)),
        // Upstream has no sysconfig layout for other distros (net-convert
        // dies with an AttributeError there).
        Renderer::Sysconfig if !sysconfig::supports(&opts.distro) => Err(NetError::Unsupported {
            renderer: renderer.name().into(),
            distro: opts.distro.clone(),
        }),
        Renderer::Sysconfig => Ok(sysconfig::render(&cfg.state(&opts.macs)?, &opts.distro)),
        Renderer::Freebsd => Ok(freebsd::render(&cfg.state(&opts.macs)?, &opts.macs)),
        Renderer::Netbsd => Ok(netbsd::render(&cfg.state(&opts.macs)?, &opts.macs)),
        Renderer::Openbsd => Ok(openbsd::render(&cfg.state(&opts.macs)?, &opts.macs)),
    }
}
