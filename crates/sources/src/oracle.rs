//! Oracle (OCI): the instance metadata service under `/opc/v2/` (header
//! `Authorization: Bearer Oracle`), falling back to `/opc/v1/`.
//!
//! `DataSourceOracle` runs in the local stage behind ephemeral networking;
//! `DataSourceOracleNet` in the network stage. The platform is detected by
//! the DMI chassis asset tag `OracleCloud.com`. `instance/` gives the
//! metadata (id, hostname, display name, availability domain, base64
//! user-data, SSH keys); `vnics/` the network config of the primary NIC
//! (unless the root is on iSCSI, where the initramfs config is used) and,
//! with `configure_secondary_nics`, the others.

use crate::context::{SourceContext, SourceOptions, Stage};
use crate::datasource::{normalize_pubkey_data, Datasource};
use crate::ephemeral::EphemeralKind;
use crate::error::SourceError;
use crate::openstack::matches_system_uuid;
use crate::openstack::reader::b64decode_lenient;
use crate::openstack::wait::{cfg_int, is_loopback_url, wait_for_url, WaitSpec};
use crate::{blob, Value};
use ci_host::Host;
use ci_pyval::{py_str, truthy};
use serde_json::{json, Map};
use std::time::{Duration, Instant};

pub const CHASSIS_ASSET_TAG: &str = "OracleCloud.com";
/// Upstream tries the IPv6 address first, then IPv4.
pub const DEFAULT_METADATA_URLS: &[&str] =
    &["http://[fd00:c1::a9fe:a9fe]", "http://169.254.169.254"];
const DEFAULT_MAX_WAIT: i64 = 30;
const DEFAULT_TIMEOUT: i64 = 5;
/// OCI uses jumbo frames inside a VCN.
const MTU: u64 = 9000;

/// Upstream `_is_platform_viable`.
pub fn is_platform_viable(host: &Host) -> bool {
    crate::dmi::read(host, "chassis-asset-tag").as_deref() == Some(CHASSIS_ASSET_TAG)
}

fn v2_headers(url: &str) -> Vec<(&'static str, &'static str)> {
    if url.contains("/opc/v2/") {
        vec![("Authorization", "Bearer Oracle")]
    } else {
        Vec::new()
    }
}

/// Everything before the version, plus the version (`.../opc/v2/`).
fn versioned_base(url: &str) -> String {
    if let Some((head, _)) = url.split_once("v2") {
        format!("{head}v2/")
    } else if let Some((head, _)) = url.split_once("v1") {
        format!("{head}v1/")
    } else {
        url.to_string()
    }
}

pub struct Oracle {
    stage: Stage,
    opts: SourceOptions,
    metadata_urls: Vec<String>,
    metadata: Value,
    userdata_raw: Option<Vec<u8>>,
    instance: Value,
    vnics: Option<Value>,
    metadata_address: Option<String>,
    system_uuid: Option<String>,
    network: Value,
}

impl Oracle {
    pub fn new(stage: Stage, opts: SourceOptions) -> Self {
        Oracle {
            stage,
            opts,
            metadata_urls: DEFAULT_METADATA_URLS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            metadata: Value::Object(Map::new()),
            userdata_raw: None,
            instance: json!({}),
            vnics: None,
            metadata_address: None,
            system_uuid: None,
            network: json!({"config": [], "version": 1}),
        }
    }

    /// Use these base URLs (`http://host[:port]`) instead of upstream's.
    pub fn with_metadata_urls<S: Into<String>>(
        mut self,
        urls: impl IntoIterator<Item = S>,
    ) -> Self {
        self.metadata_urls = urls.into_iter().map(Into::into).collect();
        self
    }

    /// The `instance/` document as served.
    pub fn instance_data(&self) -> &Value {
        &self.instance
    }

    /// The `vnics/` list, when fetched.
    pub fn vnics_data(&self) -> Option<&Value> {
        self.vnics.as_ref()
    }

    fn cfg(ctx: &SourceContext) -> Value {
        let mut cfg = ctx.ds_cfg("Oracle");
        if let Value::Object(m) = &mut cfg {
            m.entry("configure_secondary_nics").or_insert(json!(false));
        }
        cfg
    }

    /// Upstream `read_opc_metadata`: `(instance url, instance JSON, vnics)`.
    fn read_opc_metadata(
        &self,
        host: &Host,
        cfg: &Value,
        fetch_vnics: bool,
    ) -> Result<Option<(String, Value, Option<Value>)>, SourceError> {
        let max_wait = cfg_int(cfg, "max_wait", DEFAULT_MAX_WAIT);
        let timeout = Duration::from_secs(
            cfg_int(cfg, "timeout", DEFAULT_TIMEOUT)
                .max(0)
                .unsigned_abs(),
        );
        let bases: Vec<&String> = self
            .metadata_urls
            .iter()
            .filter(|u| !host.is_sandbox() || is_loopback_url(u))
            .collect();
        let urls: Vec<String> = [2, 1]
            .iter()
            .flat_map(|v| {
                bases
                    .iter()
                    .map(move |b| format!("{}/opc/v{v}/instance/", b.trim_end_matches('/')))
            })
            .collect();
        log::debug!(
            "Attempting to fetch IMDS metadata from: {}",
            ci_pyval::py_list(&urls)
        );
        if urls.is_empty() {
            return Ok(None);
        }
        let start = Instant::now();
        let http = &self.opts.http;
        let spec = |urls: &[String], max_wait: i64| -> Option<(String, Vec<u8>)> {
            wait_for_url(&WaitSpec {
                urls,
                max_wait,
                timeout,
                sleep: Some(Duration::from_millis(100)),
                parallel: false,
                headers: v2_headers,
                base: http,
            })
        };
        let Some((url, body)) = spec(&urls, max_wait) else {
            log::warn!(
                "Failed to fetch IMDS metadata from any of: {}",
                urls.join(", ")
            );
            return Ok(None);
        };
        log::debug!("Successfully fetched instance metadata from IMDS at: {url}");
        let instance = parse_json(&body, &url)?;
        let mut vnics = None;
        if fetch_vnics {
            let vurl = [url.replace("instance", "vnics")];
            let left = max_wait - i64::try_from(start.elapsed().as_secs()).unwrap_or(i64::MAX);
            // A non-positive budget still makes one attempt, as upstream.
            match spec(&vurl, left) {
                Some((u, body)) => {
                    vnics = Some(parse_json(&body, &u)?);
                    log::debug!("Successfully fetched vnics metadata from IMDS at: {u}");
                }
                None => log::warn!("Failed to fetch IMDS network configuration!"),
            }
        }
        Ok(Some((url, instance, vnics)))
    }

    /// Upstream's `network_config` property, computed once.
    fn compute_network(&mut self, host: &Host, cfg: &Value) {
        let mut set_primary = false;
        if is_iscsi_root(host) {
            match ci_net::cmdline::read_initramfs_config(host) {
                Ok(Some(v)) => self.network = v,
                Ok(None) => {}
                Err(e) => log::debug!("{e}"),
            }
        }
        if !has_config(&self.network) {
            log::warn!(
                "Could not obtain network configuration from initramfs. Falling back to IMDS."
            );
            set_primary = true;
        }
        let set_secondary = cfg.get("configure_secondary_nics").is_some_and(truthy);
        if set_primary || set_secondary {
            if let Err(e) = self.add_network_from_imds(host, set_primary) {
                log::warn!("Failed to parse IMDS network configuration!");
                log::debug!("{e}");
            }
        }
        ensure_netfailover_safe(host, &mut self.network);
    }

    /// Upstream `_add_network_config_from_opc_imds`.
    fn add_network_from_imds(&mut self, host: &Host, set_primary: bool) -> Result<(), String> {
        let Some(vnics) = &self.vnics else {
            log::warn!("NIC data is UNSET but should not be");
            return Ok(());
        };
        let vnics = vnics.as_array().ok_or("vnics data is not a list")?;
        let first = vnics.first().ok_or("IndexError: list index out of range")?;
        if !set_primary && first.get("nicIndex").is_some() {
            log::warn!("VNIC metadata indicates this is a bare metal machine; skipping secondary VNIC configuration.");
            return Ok(());
        }
        let by_mac = ci_net::fallback::interfaces_by_mac(host);
        let todo: Vec<&Value> = if set_primary {
            vnics.iter().collect()
        } else {
            vnics.iter().skip(1).collect()
        };
        let mut added = Vec::new();
        for (index, vnic) in todo.into_iter().enumerate() {
            let is_primary = set_primary && index == 0;
            let mac = vnic
                .get("macAddr")
                .map(py_str)
                .ok_or("KeyError: 'macAddr'")?
                .to_lowercase();
            let private_ip = vnic.get("privateIp").filter(|v| truthy(v));
            let ipv6_first = vnic
                .get("ipv6Addresses")
                .filter(|v| truthy(v))
                .and_then(|a| a.get(0))
                .map(py_str);
            let v6_only =
                vnic.get("ipv6SubnetCidrBlock").is_some_and(truthy) && private_ip.is_none();
            let Some(name) = by_mac.get(&mac) else {
                log::warn!("Interface with MAC {mac} not found; skipping");
                continue;
            };
            let prefix = if v6_only {
                let a = ipv6_first
                    .clone()
                    .ok_or("IndexError: list index out of range")?;
                network_prefix(&a)?
            } else {
                let c = vnic
                    .get("subnetCidrBlock")
                    .map(py_str)
                    .ok_or("KeyError: 'subnetCidrBlock'")?;
                network_prefix(&c)?
            };
            let subnets = if is_primary {
                vec![json!({"type": if v6_only { "dhcp6" } else { "dhcp" }})]
            } else {
                let mut s = Vec::new();
                if let Some(ip) = private_ip {
                    s.push(
                        json!({"type": "static", "address": format!("{}/{prefix}", py_str(ip))}),
                    );
                }
                if let Some(ip6) = &ipv6_first {
                    s.push(json!({"type": "static", "address": format!("{ip6}/{prefix}")}));
                }
                s
            };
            added.push(json!({
                "name": name,
                "type": "physical",
                "mac_address": mac,
                "mtu": MTU,
                "subnets": subnets,
            }));
        }
        if let Some(Value::Array(cfg)) = self.network.get_mut("config") {
            cfg.extend(added);
        }
        Ok(())
    }

    pub(crate) fn restore(
        stage: Stage,
        opts: SourceOptions,
        v: &Value,
    ) -> Result<Self, SourceError> {
        let bad = |what: &str| SourceError::Cache(format!("Oracle entry: bad or missing {what}"));
        let mut ds = Oracle::new(stage, opts);
        ds.metadata = match v.get("metadata") {
            Some(m @ Value::Object(_)) => m.clone(),
            _ => return Err(bad("metadata")),
        };
        ds.userdata_raw = blob::decode(v.get("userdata_raw")).map_err(|_| bad("userdata_raw"))?;
        ds.instance = v.get("instance").cloned().unwrap_or_else(|| json!({}));
        ds.vnics = v.get("vnics").filter(|n| !n.is_null()).cloned();
        ds.metadata_address = v
            .get("metadata_address")
            .and_then(Value::as_str)
            .map(String::from);
        ds.system_uuid = v
            .get("system_uuid")
            .and_then(Value::as_str)
            .map(String::from);
        if let Some(n @ Value::Object(_)) = v.get("network") {
            ds.network = n.clone();
        }
        Ok(ds)
    }
}

fn parse_json(body: &[u8], url: &str) -> Result<Value, SourceError> {
    serde_json::from_slice(body).map_err(|e| SourceError::Malformed {
        what: url.to_string(),
        message: format!("not JSON: {e}"),
    })
}

fn has_config(net: &Value) -> bool {
    net.get("config").is_some_and(truthy)
}

/// Upstream's klibc source is applicable when any `/run/net-*.conf` exists.
fn is_iscsi_root(host: &Host) -> bool {
    host.list_dir("/run")
        .iter()
        .any(|n| (n.starts_with("net-") || n.starts_with("net6-")) && n.ends_with(".conf"))
}

/// Upstream `is_netfail_master`: no `master`, driver `virtio_net`, and
/// the VIRTIO_NET_F_STANDBY feature bit (62) set.
fn is_netfail_master(host: &Host, dev: &str) -> bool {
    let dir = format!("/sys/class/net/{dev}");
    if host.exists(format!("{dir}/master")) {
        return false;
    }
    let driver = host
        .read_link(format!("{dir}/device/driver"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    if driver.as_deref() != Some("virtio_net") {
        return false;
    }
    host.read_to_string(format!("{dir}/device/features"))
        .is_ok_and(|f| {
            let f = f.trim();
            f.len() >= 64 && f.as_bytes().get(62) == Some(&b'1')
        })
}

/// Upstream `_ensure_netfailover_safe` (v1): a netfailover master shares
/// its MAC with the devices it fails over to, so it must not be matched
/// by MAC.
fn ensure_netfailover_safe(host: &Host, net: &mut Value) {
    let Some(Value::Array(cfg)) = net.get_mut("config") else {
        return;
    };
    let by_mac = ci_net::fallback::interfaces_by_mac(host);
    for dev in cfg.iter_mut() {
        let Value::Object(d) = dev else { continue };
        if d.get("type").and_then(Value::as_str) != Some("physical") {
            continue;
        }
        let Some(name) = d
            .get("mac_address")
            .and_then(Value::as_str)
            .and_then(|m| by_mac.get(m))
        else {
            continue;
        };
        if is_netfail_master(host, name) {
            d.shift_remove("mac_address");
        }
    }
}

/// `ipaddress.ip_network(text).prefixlen` (strict: host bits must be zero).
fn network_prefix(text: &str) -> Result<u8, String> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (text, None),
    };
    let ip: std::net::IpAddr = addr.parse().map_err(|_| {
        format!("ValueError: '{text}' does not appear to be an IPv4 or IPv6 network")
    })?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len: u8 = match prefix {
        None => max,
        Some(p) => p
            .parse()
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| format!("NetmaskValueError: '{p}' is not a valid netmask"))?,
    };
    let host_bits_set = match ip {
        std::net::IpAddr::V4(a) => {
            let v = u32::from(a);
            len < 32 && v & (u32::MAX >> len) != 0
        }
        std::net::IpAddr::V6(a) => {
            let v = u128::from(a);
            len < 128 && v & (u128::MAX >> len) != 0
        }
    };
    if host_bits_set {
        return Err(format!("ValueError: {text} has host bits set"));
    }
    Ok(len)
}

impl Datasource for Oracle {
    fn needs_ephemeral_net(&self) -> bool {
        self.stage == Stage::Local
    }

    fn dsname(&self) -> &'static str {
        "Oracle"
    }

    fn class_name(&self) -> &'static str {
        match self.stage {
            Stage::Local => "DataSourceOracle",
            Stage::Network => "DataSourceOracleNet",
        }
    }

    fn stage(&self) -> Stage {
        self.stage
    }

    fn ds_detect(&self, ctx: &SourceContext) -> bool {
        is_platform_viable(ctx.host)
    }

    fn crawl(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        let host = ctx.host;
        self.system_uuid = crate::dmi::read(host, "system-uuid").map(|u| u.to_lowercase());
        let cfg = Self::cfg(ctx);
        let fetch_primary = !is_iscsi_root(host);
        let fetch_secondary = cfg.get("configure_secondary_nics").is_some_and(truthy);
        let fetched = if self.stage == Stage::Local {
            // Upstream brings up IPv4 and IPv6 on the fallback NIC; the
            // boot's ephemeral network picks that NIC itself.
            let lease = match ctx.net.bring_up(&EphemeralKind::Dhcp4 { iface: None }) {
                Ok(l) => l,
                Err(e) => {
                    log::warn!("{e}");
                    return Ok(false);
                }
            };
            let r = self.read_opc_metadata(host, &cfg, fetch_primary || fetch_secondary);
            drop(lease);
            r?
        } else {
            self.read_opc_metadata(host, &cfg, fetch_primary || fetch_secondary)?
        };
        let Some((url, data, vnics)) = fetched else {
            return Ok(false);
        };
        self.metadata_address = Some(versioned_base(&url));
        let field = |k: &str| {
            data.get(k).cloned().ok_or_else(|| SourceError::Malformed {
                what: url.clone(),
                message: format!("instance data has no '{k}'"),
            })
        };
        let mut md = Map::new();
        md.insert("availability-zone".into(), field("ociAdName")?);
        md.insert("instance-id".into(), field("id")?);
        md.insert("launch-index".into(), json!(0));
        md.insert("local-hostname".into(), field("hostname")?);
        md.insert("name".into(), field("displayName")?);
        self.userdata_raw = None;
        if let Some(m) = data.get("metadata") {
            if let Some(ud) = m.get("user_data").filter(|u| truthy(u)) {
                let decoded =
                    b64decode_lenient(&py_str(ud)).map_err(|e| SourceError::Malformed {
                        what: format!("{url} metadata.user_data"),
                        message: e,
                    })?;
                self.userdata_raw = Some(decoded);
            }
            md.insert(
                "public_keys".into(),
                m.get("ssh_authorized_keys").cloned().unwrap_or(Value::Null),
            );
        }
        self.metadata = Value::Object(md);
        self.instance = data;
        self.vnics = vnics;
        self.network = json!({"config": [], "version": 1});
        self.compute_network(host, &cfg);
        Ok(true)
    }

    fn metadata(&self) -> &Value {
        &self.metadata
    }

    fn userdata_raw(&self) -> Option<&[u8]> {
        self.userdata_raw.as_deref()
    }

    fn network_config(&self) -> Option<Value> {
        Some(self.network.clone())
    }

    fn public_ssh_keys(&self) -> Vec<String> {
        normalize_pubkey_data(self.metadata.get("public_keys"))
    }

    fn platform_type(&self) -> String {
        "oracle".into()
    }

    fn metadata_address(&self) -> Option<&str> {
        self.metadata_address.as_deref()
    }

    /// The DMI system UUID differs from the instance id but lives as long.
    fn check_instance_id(&self, ctx: &SourceContext) -> bool {
        matches_system_uuid(ctx.host, self.system_uuid.as_deref().unwrap_or_default())
    }

    fn to_cache(&self) -> Value {
        json!({
            "format": crate::CACHE_FORMAT,
            "class": self.class_name(),
            "dsname": self.dsname(),
            "stage": self.stage.as_cache_str(),
            "metadata": self.metadata,
            "userdata_raw": blob::encode(self.userdata_raw.as_deref()),
            "instance": self.instance,
            "vnics": self.vnics,
            "metadata_address": self.metadata_address,
            "system_uuid": self.system_uuid,
            "network": self.network,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_as_ipaddress() {
        assert_eq!(network_prefix("10.0.0.0/24"), Ok(24));
        assert_eq!(network_prefix("2001:db8::5"), Ok(128));
        assert!(network_prefix("10.0.0.5/24").is_err());
        assert!(network_prefix("bogus").is_err());
        assert_eq!(
            versioned_base("http://169.254.169.254/opc/v2/instance/"),
            "http://169.254.169.254/opc/v2/"
        );
    }
}
