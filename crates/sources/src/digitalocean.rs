//! DigitalOcean: the droplet metadata document `metadata/v1.json`, read in
//! the local stage over an IPv4 link-local address.
//!
//! Upstream's rules: the platform is DigitalOcean when DMI
//! `system-manufacturer` says so, the droplet id is the DMI serial (a
//! missing one is fatal); with `use_ip4LL` (default) a link-local address
//! is put on the physical NIC with the lowest ifindex while the document
//! is read (`retries` 30, `timeout` 2 s, `wait_retry` 2 s). The instance-id
//! is `droplet_id`, the host name `hostname`, the zone `region`; network
//! config (v1) comes from `interfaces` (first public NIC named eth0, first
//! private eth1, anchor addresses without gateway) and `dns.nameservers`.
//! Upstream deprecated this datasource in 23.2 in favour of ConfigDrive and
//! says so whenever it is instantiated.

use crate::blob;
use crate::cache_entry::CacheEntry;
use crate::context::{SourceContext, SourceOptions, Stage};
use crate::datasource::Datasource;
use crate::ephemeral::EphemeralKind;
use crate::error::SourceError;
use crate::gce::shared;
use crate::url::UrlReader;
use ci_host::Host;
use ci_pyval::{py_str, truthy};
use serde_json::{json, Map, Value};

/// Upstream's `metadata_url`.
pub const DEFAULT_METADATA_URL: &str = "http://169.254.169.254/metadata/v1.json";
const MD_RETRIES: u32 = 30;
const MD_TIMEOUT: f64 = 2.0;
const MD_WAIT_RETRY: f64 = 2.0;

pub struct DigitalOcean {
    stage: Stage,
    opts: SourceOptions,
    metadata_url: String,
    metadata: Value,
    metadata_full: Value,
    userdata_raw: Option<Vec<u8>>,
    vendordata_raw: Option<Vec<u8>>,
    metadata_address: Option<String>,
    network: Option<Value>,
    network_error: Option<String>,
}

/// Upstream's notice, logged when the class is instantiated or unpickled
/// (once per process, like every deprecation).
fn deprecation_notice() {
    crate::deprecate::deprecate(
        "DataSourceDigitalOcean",
        "23.2",
        "Deprecated in favour of DataSourceConfigDrive.",
    )
}

impl DigitalOcean {
    pub fn new(stage: Stage, opts: SourceOptions) -> Self {
        DigitalOcean {
            stage,
            opts,
            metadata_url: DEFAULT_METADATA_URL.into(),
            metadata: Value::Object(Map::new()),
            metadata_full: Value::Null,
            userdata_raw: None,
            vendordata_raw: None,
            metadata_address: None,
            network: None,
            network_error: None,
        }
    }

    /// Read this URL instead of upstream's (config `metadata_url` still wins).
    pub fn with_metadata_url(mut self, url: impl Into<String>) -> Self {
        self.metadata_url = url.into();
        self
    }

    /// The whole metadata document as served.
    pub fn metadata_full(&self) -> &Value {
        &self.metadata_full
    }

    pub(crate) fn restore(
        stage: Stage,
        opts: SourceOptions,
        v: &Value,
    ) -> Result<Self, SourceError> {
        // Upstream repeats the notice when it unpickles the datasource.
        deprecation_notice();
        let mut ds = DigitalOcean::new(stage, opts);
        let e = CacheEntry::new("DigitalOcean", v);
        ds.metadata = e.metadata()?;
        ds.metadata_full = v.get("metadata_full").cloned().unwrap_or(Value::Null);
        ds.userdata_raw = e.blob("userdata_raw")?;
        ds.vendordata_raw = e.blob("vendordata_raw")?;
        ds.metadata_address = e.string("metadata_address");
        ds.network = e.optional("network");
        ds.network_error = e.string("network_error");
        Ok(ds)
    }
}

/// Upstream `read_sysinfo`: `(is DigitalOcean, droplet id)`.
fn read_sysinfo(host: &Host) -> Result<Option<String>, SourceError> {
    if crate::dmi::read(host, "system-manufacturer").as_deref() != Some("DigitalOcean") {
        return Ok(None);
    }
    match crate::dmi::read(host, "system-serial-number").filter(|s| !s.is_empty()) {
        Some(id) => {
            log::debug!("system identified via SMBIOS as DigitalOcean Droplet: {id}");
            Ok(Some(id))
        }
        None => {
            let msg = "system identified via SMBIOS as a DigitalOcean Droplet, but did not provide an ID. Please file a support ticket at: https://cloud.digitalocean.com/support/tickets/new";
            log::error!("{msg}");
            Err(SourceError::Malformed {
                what: "DigitalOcean".into(),
                message: msg.into(),
            })
        }
    }
}

/// Upstream `convert_network_configuration`: DigitalOcean `interfaces` and
/// name servers to network config v1, for the NICs present (`[mac, name]`).
pub fn convert_network_config(
    interfaces: &Value,
    nameservers: &Value,
    nics: &[(String, String)],
) -> Result<Value, String> {
    let mut configs: Vec<Value> = Vec::new();
    let Value::Object(groups) = interfaces else {
        return Err(format!("interfaces is not a mapping: {interfaces}"));
    };
    for (group, list) in groups {
        let nic = list
            .as_array()
            .and_then(|l| l.first())
            .ok_or_else(|| format!("interfaces.{group} has no interface"))?;
        log::debug!("considering {nic}");
        let mac = nic.get("mac").map(py_str).unwrap_or_else(|| "None".into());
        let Some((_, sysfs_name)) = nics.iter().find(|(m, _)| *m == mac) else {
            return Err(format!(
                "Did not find network interface on system with mac '{mac}'. Cannot apply configuration: {nic}"
            ));
        };
        let nic_type = nic
            .get("type")
            .map(py_str)
            .unwrap_or_else(|| "unknown".into());
        let if_name = match nic_type.as_str() {
            "public" => "eth0".to_string(),
            "private" => "eth1".to_string(),
            _ => sysfs_name.clone(),
        };
        if if_name != *sysfs_name {
            log::debug!(
                "Found {nic_type} interface '{mac}' on '{sysfs_name}', assigned name of '{if_name}'"
            );
        } else {
            log::debug!("Found interface '{mac}' on '{sysfs_name}', which is not a public or private interface. Using default system naming.");
        }
        let mut subnets = Vec::new();
        for netdef in ["ipv4", "ipv6", "anchor_ipv4", "anchor_ipv6"] {
            let Some(raw) = nic.get(netdef).filter(|r| truthy(r)) else {
                continue;
            };
            let get = |k: &str| raw.get(k).cloned().unwrap_or(Value::Null);
            let ip = get("ip_address");
            let mut sub = Map::new();
            sub.insert("type".into(), json!("static"));
            sub.insert("control".into(), json!("auto"));
            sub.insert("address".into(), ip.clone());
            sub.insert("gateway".into(), get("gateway"));
            if py_str(&ip).contains(':') {
                sub.insert(
                    "address".into(),
                    json!(format!("{}/{}", py_str(&ip), py_str(&get("cidr")))),
                );
            } else {
                sub.insert("netmask".into(), get("netmask"));
            }
            if nic_type != "public" || netdef.contains("anchor") {
                sub.shift_remove("gateway");
            }
            subnets.push(Value::Object(sub));
        }
        let ncfg = json!({
            "type": "physical",
            "mac_address": mac,
            "name": if_name,
            "subnets": subnets,
        });
        log::debug!("nic '{if_name}' configuration: {ncfg}");
        configs.push(ncfg);
    }
    if truthy(nameservers) {
        log::debug!("added dns servers: {nameservers}");
        configs.push(json!({"type": "nameserver", "address": nameservers}));
    }
    Ok(json!({"version": 1, "config": configs}))
}

impl Datasource for DigitalOcean {
    fn log_init(&self) {
        deprecation_notice();
    }

    fn needs_ephemeral_net(&self) -> bool {
        self.stage == Stage::Local
    }

    fn dsname(&self) -> &'static str {
        "DigitalOcean"
    }

    fn class_name(&self) -> &'static str {
        "DataSourceDigitalOcean"
    }

    fn stage(&self) -> Stage {
        self.stage
    }

    fn crawl(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        let Some(droplet_id) = read_sysinfo(ctx.host)? else {
            return Ok(false);
        };
        log::info!("Running on DigitalOcean. droplet_id={droplet_id}");
        let cfg = ctx.ds_cfg("DigitalOcean");
        let url = cfg
            .get("metadata_url")
            .filter(|v| !v.is_null())
            .map(py_str)
            .unwrap_or_else(|| self.metadata_url.clone());
        if !shared::url_allowed(ctx.host, &url) {
            return Ok(false);
        }
        let retries = shared::cfg_u32(&cfg, "retries", MD_RETRIES, false);
        let timeout = shared::cfg_f64(&cfg, "timeout", MD_TIMEOUT, false);
        let wait = shared::cfg_f64(&cfg, "wait_retry", MD_WAIT_RETRY, false);
        let use_ll = cfg.get("use_ip4LL").map(truthy).unwrap_or(true);
        let lease = if use_ll {
            let nic = crate::ephemeral::lowest_physical_nic(ctx.host);
            if let Some(n) = &nic {
                log::debug!("selected interface '{n}' for reading metadata");
            }
            let Some(nic) = nic else {
                return Err(SourceError::Malformed {
                    what: "DigitalOcean".into(),
                    message: "unable to find interfaces to access themeta-data server. This droplet is broken.".into(),
                });
            };
            match ctx.net.bring_up(&EphemeralKind::LinkLocal4 {
                iface: Some(nic.clone()),
            }) {
                Ok(l) => Some(l),
                Err(e) => {
                    log::warn!("ip4LL address assignment of '169.254.0.0/16' to '{nic}' failed. Droplet networking will be broken");
                    return Err(e);
                }
            }
        } else {
            None
        };
        let reader = UrlReader::new(shared::policy(
            &self.opts.http,
            shared::secs(timeout),
            retries,
            shared::secs(wait),
        ));
        let resp = reader.get(&url, &[])?;
        let md: Value = serde_json::from_slice(&resp.body).map_err(|e| SourceError::Malformed {
            what: format!("DigitalOcean metadata ({url})"),
            message: format!("not JSON: {e}"),
        })?;
        if lease.is_some() {
            log::debug!("cleaning up ipv4LL address");
        }
        drop(lease);
        let get = |k: &str| md.get(k).cloned();
        let mut m = Map::new();
        m.insert(
            "instance-id".into(),
            get("droplet_id").unwrap_or_else(|| json!(droplet_id)),
        );
        m.insert(
            "local-hostname".into(),
            get("hostname").unwrap_or_else(|| json!(droplet_id)),
        );
        m.insert(
            "interfaces".into(),
            get("interfaces").unwrap_or(Value::Null),
        );
        m.insert(
            "public-keys".into(),
            get("public_keys").unwrap_or(Value::Null),
        );
        m.insert(
            "availability_zone".into(),
            get("region").unwrap_or_else(|| json!("default")),
        );
        self.vendordata_raw = shared::vendordata_bytes(md.get("vendor_data"));
        self.userdata_raw = md
            .get("user_data")
            .filter(|u| !u.is_null())
            .map(|u| py_str(u).into_bytes());
        self.metadata = Value::Object(m);
        // Upstream converts on first use in this boot; the NICs are known now.
        let interfaces = self
            .metadata
            .get("interfaces")
            .cloned()
            .unwrap_or(Value::Null);
        log::debug!("{interfaces}");
        let conv = if !truthy(&interfaces) {
            Err("Unable to get meta-data from server....".to_string())
        } else {
            match md.get("dns").and_then(|d| d.get("nameservers")) {
                Some(ns) => {
                    convert_network_config(&interfaces, ns, &shared::interfaces_by_mac(ctx.host))
                }
                None => Err("metadata has no dns.nameservers".to_string()),
            }
        };
        match conv {
            Ok(n) => self.network = Some(n),
            Err(e) => self.network_error = Some(e),
        }
        self.metadata_full = md;
        self.metadata_address = Some(url);
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

    /// Upstream raises here when the document had no usable interfaces;
    /// we report the error and let the fallback config apply.
    fn network_config(&self) -> Option<Value> {
        if let Some(e) = &self.network_error {
            log::error!("DigitalOcean network config: {e}");
        }
        self.network.clone()
    }

    fn metadata_address(&self) -> Option<&str> {
        self.metadata_address.as_deref()
    }

    fn check_instance_id(&self, ctx: &SourceContext) -> bool {
        shared::id_matches_dmi(ctx.host, &self.instance_id(), "system-serial-number")
    }

    fn to_cache(&self) -> Value {
        json!({
            "format": crate::CACHE_FORMAT,
            "class": self.class_name(),
            "dsname": self.dsname(),
            "stage": self.stage.as_cache_str(),
            "metadata": self.metadata,
            "metadata_full": self.metadata_full,
            "userdata_raw": blob::encode(self.userdata_raw.as_deref()),
            "vendordata_raw": blob::encode(self.vendordata_raw.as_deref()),
            "metadata_address": self.metadata_address,
            "network": self.network,
            "network_error": self.network_error,
        })
    }
}
