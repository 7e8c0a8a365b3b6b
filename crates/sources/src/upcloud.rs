//! UpCloud: one JSON document at `http://169.254.169.254/metadata/v1.json`.
//!
//! Upstream identifies the platform by DMI `sys_vendor` `UpCloud` and
//! takes the server UUID (DMI `system-uuid`) as the fallback instance-id
//! and for `check_instance_id`. UpCloudLocal (local stage) brings up DHCPv4
//! first; UpCloud (network stage) reads with the network already up. The
//! document's `network.interfaces` become a v1 network config, matched to
//! the NICs by MAC.

use crate::blob;
use crate::cache_entry::CacheEntry;
use crate::context::{SourceContext, SourceOptions, Stage};
use crate::datasource::Datasource;
use crate::ephemeral::EphemeralKind;
use crate::error::SourceError;
use crate::url_ext::{cfg_int, cfg_secs, interfaces_by_mac, reader, sandbox_allows};
use ci_pyval::{py_str, truthy};
use serde_json::{json, Map, Value};
use std::sync::Mutex;

/// Upstream's `BUILTIN_DS_CONFIG.metadata_url`.
pub const DEFAULT_METADATA_URL: &str = "http://169.254.169.254/metadata/v1.json";
const MD_RETRIES: i64 = 30;
const MD_TIMEOUT: f64 = 2.0;
const MD_WAIT_RETRY: f64 = 2.0;

pub struct UpCloud {
    stage: Stage,
    opts: SourceOptions,
    metadata_url: String,
    metadata: Value,
    metadata_full: Value,
    userdata_raw: Option<Vec<u8>>,
    vendordata_raw: Option<Vec<u8>>,
    /// `{mac: name}` seen at crawl time, for the conversion.
    nics: Vec<(String, String)>,
    network: Mutex<Option<Value>>,
}

impl UpCloud {
    pub fn new(stage: Stage, opts: SourceOptions) -> Self {
        UpCloud {
            stage,
            opts,
            metadata_url: DEFAULT_METADATA_URL.into(),
            metadata: json!({}),
            metadata_full: Value::Null,
            userdata_raw: None,
            vendordata_raw: None,
            nics: Vec::new(),
            network: Mutex::new(None),
        }
    }

    /// Replace the builtin URL (config `datasource.UpCloud.metadata_url`
    /// still wins, as in upstream's merge).
    pub fn with_metadata_url(mut self, url: impl Into<String>) -> Self {
        self.metadata_url = url.into();
        self
    }

    /// The whole document as read.
    pub fn metadata_full(&self) -> &Value {
        &self.metadata_full
    }

    pub(crate) fn restore(
        stage: Stage,
        opts: SourceOptions,
        v: &Value,
    ) -> Result<Self, SourceError> {
        let mut ds = UpCloud::new(stage, opts);
        let e = CacheEntry::new("UpCloud", v);
        ds.metadata = e.metadata()?;
        ds.metadata_full = v.get("metadata_full").cloned().unwrap_or(Value::Null);
        ds.userdata_raw = e.blob("userdata_raw")?;
        ds.vendordata_raw = e.blob("vendordata_raw")?;
        if let Some(u) = e.string("metadata_url") {
            ds.metadata_url = u;
        }
        ds.nics = v
            .get("nics")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(|p| Some((p.get(0)?.as_str()?.into(), p.get(1)?.as_str()?.into())))
                    .collect()
            })
            .unwrap_or_default();
        Ok(ds)
    }

    fn read_metadata(&self, ctx: &SourceContext, cfg: &Value) -> Result<Value, SourceError> {
        let url = &self.metadata_url;
        log::debug!("Reading UpCloud metadata from {url}");
        if !sandbox_allows(ctx.host, url) {
            return Err(SourceError::Malformed {
                what: format!("UpCloud metadata at {url}"),
                message: "not queried under a sandbox root".into(),
            });
        }
        let retries = cfg_int(cfg, "retries", MD_RETRIES).max(0);
        let r = reader(
            &self.opts.http,
            cfg_secs(cfg, "timeout", MD_TIMEOUT),
            u32::try_from(retries).unwrap_or(u32::MAX),
            cfg_secs(cfg, "wait_retry", MD_WAIT_RETRY),
        );
        let resp = r.get(url, &[])?;
        serde_json::from_slice(&resp.body).map_err(|e| SourceError::Malformed {
            what: format!("UpCloud metadata at {url}"),
            message: e.to_string(),
        })
    }
}

/// Upstream `read_sysinfo`: `(is_upcloud, server_uuid)`; an UpCloud
/// machine without a UUID is an error.
fn read_sysinfo(ctx: &SourceContext) -> Result<Option<String>, SourceError> {
    if crate::dmi::read(ctx.host, "system-manufacturer").as_deref() != Some("UpCloud") {
        return Ok(None);
    }
    match crate::dmi::read(ctx.host, "system-uuid").filter(|u| !u.is_empty()) {
        Some(u) => {
            log::debug!("system identified via SMBIOS as UpCloud server: {u}");
            Ok(Some(u))
        }
        None => {
            let msg = "system identified via SMBIOS as a UpCloud server, but did not provide an ID. Please contact support viahttps://hub.upcloud.com or via email with support@upcloud.com";
            log::error!("{msg}");
            Err(SourceError::Malformed {
                what: "UpCloud server UUID".into(),
                message: msg.into(),
            })
        }
    }
}

/// Upstream `convert_to_network_config_v1`; a NIC in the document that is
/// not on this machine is an error, as upstream.
pub fn convert_network_config(
    config: &Value,
    nics: &[(String, String)],
) -> Result<Value, SourceError> {
    let dns = config.get("dns");
    let mut out = Vec::new();
    let empty = Vec::new();
    let ifaces = config
        .get("interfaces")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    for raw in ifaces {
        let mac = raw.get("mac").map(py_str).unwrap_or_else(|| "None".into());
        let Some((_, name)) = nics.iter().find(|(m, _)| *m == mac) else {
            return Err(SourceError::Malformed {
                what: "UpCloud network metadata".into(),
                message: format!(
                    "Did not find network interface on system with mac '{mac}'. Cannot apply configuration: {}",
                    py_str(raw)
                ),
            });
        };
        log::debug!(
            "Found {} interface '{name}' with address '{mac}' (index {})",
            raw.get("type").map(py_str).unwrap_or_default(),
            raw.get("index").map(py_str).unwrap_or_default()
        );
        let subnets: Vec<Value> = raw
            .get("ip_addresses")
            .and_then(Value::as_array)
            .unwrap_or(&empty)
            .iter()
            .map(|ip| subnet(ip, dns))
            .collect();
        out.push(json!({"type": "physical", "name": name, "mac_address": mac, "subnets": subnets}));
    }
    if let Some(d) = dns.filter(|d| truthy(d)) {
        log::debug!("Setting DNS nameservers to {}", py_str(d));
        out.push(json!({"type": "nameserver", "address": d}));
    }
    Ok(json!({"version": 1, "config": out}))
}

fn subnet(ip: &Value, dns: Option<&Value>) -> Value {
    let v6 = ip.get("family").and_then(Value::as_str) == Some("IPv6");
    if ip.get("dhcp").is_some_and(truthy) {
        // UpCloud hands out IPv6 by SLAAC.
        let t = if v6 { "ipv6_dhcpv6-stateless" } else { "dhcp" };
        return json!({ "type": t });
    }
    let mut sub = Map::new();
    sub.insert("type".into(), json!(if v6 { "static6" } else { "static" }));
    sub.insert("control".into(), json!("auto"));
    sub.insert(
        "address".into(),
        ip.get("address").cloned().unwrap_or(Value::Null),
    );
    if let Some(g) = ip.get("gateway").filter(|g| truthy(g)) {
        sub.insert("gateway".into(), g.clone());
    }
    if let Some((_, mask)) = ip
        .get("network")
        .and_then(Value::as_str)
        .and_then(|n| n.split_once('/'))
    {
        let mask = mask.split('/').next().unwrap_or(mask);
        sub.insert("netmask".into(), json!(mask));
    }
    if let Some(d) = ip.get("dns").filter(|d| truthy(d)) {
        if dns != Some(d) {
            sub.insert("dns_nameservers".into(), d.clone());
        }
    }
    Value::Object(sub)
}

impl Datasource for UpCloud {
    fn needs_ephemeral_net(&self) -> bool {
        self.stage == Stage::Local
    }

    fn dsname(&self) -> &'static str {
        "UpCloud"
    }

    fn class_name(&self) -> &'static str {
        match self.stage {
            Stage::Local => "DataSourceUpCloudLocal",
            Stage::Network => "DataSourceUpCloud",
        }
    }

    fn stage(&self) -> Stage {
        self.stage
    }

    fn crawl(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        let Some(server_uuid) = read_sysinfo(ctx)? else {
            return Ok(false);
        };
        log::info!("Running on UpCloud. server_uuid={server_uuid}");
        let cfg = ctx.ds_cfg("UpCloud");
        if let Some(u) = cfg.get("metadata_url").filter(|u| !u.is_null()) {
            self.metadata_url = py_str(u);
        }
        let md = if self.stage == Stage::Local {
            log::debug!("Finding a fallback NIC");
            let lease = match ctx.net.bring_up(&EphemeralKind::Dhcp4 { iface: None }) {
                Ok(l) => l,
                Err(e) => {
                    log::warn!("{e}");
                    return Ok(false);
                }
            };
            log::debug!(
                "Discovering metadata via DHCP interface {}",
                lease.info().iface
            );
            self.read_metadata(ctx, &cfg)?
        } else {
            log::debug!("Discovering metadata without DHCP-configured networking");
            self.read_metadata(ctx, &cfg)?
        };
        let get = |k: &str| md.get(k).cloned().unwrap_or(Value::Null);
        self.metadata = json!({
            "instance-id": md.get("instance_id").cloned().unwrap_or(json!(server_uuid)),
            "local-hostname": get("hostname"),
            "network": get("network"),
            "public-keys": get("public_keys"),
            "availability_zone": md.get("region").cloned().unwrap_or(json!("default")),
        });
        self.vendordata_raw = text_blob(md.get("vendor_data"));
        self.userdata_raw = text_blob(md.get("user_data"));
        self.metadata_full = md;
        self.nics = interfaces_by_mac(ctx.host);
        if let Ok(mut n) = self.network.lock() {
            *n = None;
        }
        Ok(true)
    }

    fn metadata(&self) -> &Value {
        &self.metadata
    }

    fn userdata_raw(&self) -> Option<&[u8]> {
        self.userdata_raw.as_deref()
    }

    fn vendordata_raw(&self) -> Option<&[u8]> {
        self.vendordata_raw.as_deref()
    }

    /// Upstream raises when the document has no network; we log that and
    /// offer none, so the fallback config applies.
    fn network_config(&self) -> Option<Value> {
        if let Some(n) = self.network.lock().ok().and_then(|n| n.clone()) {
            return Some(n);
        }
        let raw = self.metadata.get("network").filter(|n| truthy(n));
        let Some(raw) = raw else {
            log::error!("Unable to get network meta-data from server....");
            return None;
        };
        match convert_network_config(raw, &self.nics) {
            Ok(cfg) => {
                if let Ok(mut n) = self.network.lock() {
                    *n = Some(cfg.clone());
                }
                Some(cfg)
            }
            Err(e) => {
                log::error!("{e}");
                None
            }
        }
    }

    fn metadata_address(&self) -> Option<&str> {
        Some(&self.metadata_url)
    }

    fn check_instance_id(&self, ctx: &SourceContext) -> bool {
        let iid = self.instance_id();
        !iid.is_empty()
            && crate::dmi::read(ctx.host, "system-uuid")
                .filter(|u| !u.is_empty())
                .is_some_and(|u| u.to_lowercase() == iid.to_lowercase())
    }

    fn to_cache(&self) -> Value {
        json!({
            "format": crate::CACHE_FORMAT,
            "class": self.class_name(),
            "dsname": self.dsname(),
            "stage": self.stage.as_cache_str(),
            "metadata": self.metadata,
            "metadata_full": self.metadata_full,
            "metadata_url": self.metadata_url,
            "userdata_raw": blob::encode(self.userdata_raw.as_deref()),
            "vendordata_raw": blob::encode(self.vendordata_raw.as_deref()),
            "nics": self.nics.iter().map(|(m, n)| json!([m, n])).collect::<Vec<_>>(),
        })
    }
}

/// User-data and vendor-data are JSON strings in the document (`null`
/// when unset); anything else is kept as its JSON text.
fn text_blob(v: Option<&Value>) -> Option<Vec<u8>> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s.clone().into_bytes()),
        other => Some(other.to_string().into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_interfaces() {
        let net = json!({"interfaces": [
            {"index": 1, "mac": "32:d5:ba:4a:36:e7", "type": "public", "ip_addresses": [
                {"address": "94.237.105.53", "dhcp": true, "dns": ["94.237.127.9"], "family": "IPv4",
                 "gateway": "94.237.104.1", "network": "94.237.104.0/22"},
                {"address": "94.237.105.50", "dhcp": false, "dns": [], "family": "IPv4", "floating": true,
                 "gateway": "", "network": "94.237.105.50/32"}]},
            {"index": 2, "mac": "32:d5:ba:4a:63:e7", "type": "public", "ip_addresses": [
                {"address": "2a04::e7", "dhcp": false, "dns": ["2a04::53"], "family": "IPv6",
                 "gateway": "2a04::1", "network": "2a04::/64"},
                {"address": "2a04::e8", "dhcp": true, "family": "IPv6", "network": "2a04::/64"}]}
        ], "dns": ["94.237.127.9", "94.237.40.9"]});
        let nics = vec![
            ("32:d5:ba:4a:36:e7".to_string(), "eth0".to_string()),
            ("32:d5:ba:4a:63:e7".to_string(), "eth1".to_string()),
        ];
        let cfg = convert_network_config(&net, &nics).unwrap();
        assert_eq!(
            cfg,
            json!({"version": 1, "config": [
                {"type": "physical", "name": "eth0", "mac_address": "32:d5:ba:4a:36:e7", "subnets": [
                    {"type": "dhcp"},
                    {"type": "static", "control": "auto", "address": "94.237.105.50", "netmask": "32"}]},
                {"type": "physical", "name": "eth1", "mac_address": "32:d5:ba:4a:63:e7", "subnets": [
                    {"type": "static6", "control": "auto", "address": "2a04::e7", "gateway": "2a04::1",
                     "netmask": "64", "dns_nameservers": ["2a04::53"]},
                    {"type": "ipv6_dhcpv6-stateless"}]},
                {"type": "nameserver", "address": ["94.237.127.9", "94.237.40.9"]}
            ]})
        );
        let e = convert_network_config(&net, &nics[..1]).unwrap_err();
        assert!(e
            .to_string()
            .contains("Did not find network interface on system with mac '32:d5:ba:4a:63:e7'"));
    }
}
