//! Vultr: the metadata document `v1.json`, read in the local stage over
//! ephemeral DHCP on each candidate NIC in turn.
//!
//! Upstream's rules: detected when DMI `system-manufacturer` is `Vultr` or
//! `vultr` is a kernel command line word; requests carry
//! `Metadata-Token: cloudinit` and a `Cloud-Init/<version> - OS: <system>
//! Variant: <distro>` agent (`retries` 30, `timeout` 10 s, `wait` 5 s).
//! The instance-id is `instance-v2-id`, the region the lowercased
//! country code (else region code). User-data is `user-data` (empty means
//! none), vendor-data `vendor-data`, the host name `hostname` (`guest`
//! when empty). Network config is `cloud_interfaces` with NIC names filled
//! in, else generated from `interfaces`: the first one DHCP + SLAAC, the
//! others static unless `unconfigured`, plus Vultr's resolvers.

use crate::blob;
use crate::cache_entry::CacheEntry;
use crate::context::{SourceContext, SourceOptions, Stage};
use crate::datasource::Datasource;
use crate::ephemeral::EphemeralKind;
use crate::error::SourceError;
use crate::gce::shared;
use crate::url::UrlReader;
use ci_host::{Cmd, Host};
use ci_pyval::{py_str, truthy};
use serde_json::{json, Map, Value};

/// Upstream's `url`.
pub const DEFAULT_URL: &str = "http://169.254.169.254";
const RETRIES: u32 = 30;
const TIMEOUT: f64 = 10.0;
const WAIT: f64 = 5.0;
const NIC_SCRIPT: &str = "/opt/vultr/find_candidate_nics.sh";
const NAMESERVERS: &[&str] = &["108.61.10.10", "2001:19f0:300:1704::6"];

pub struct Vultr {
    stage: Stage,
    opts: SourceOptions,
    url: String,
    metadata: Value,
    userdata_raw: Option<Vec<u8>>,
    vendordata_raw: Option<Vec<u8>>,
    network: Option<Value>,
}

impl Vultr {
    pub fn new(stage: Stage, opts: SourceOptions) -> Self {
        Vultr {
            stage,
            opts,
            url: DEFAULT_URL.into(),
            metadata: Value::Object(Map::new()),
            userdata_raw: None,
            vendordata_raw: None,
            network: None,
        }
    }

    /// Read `<url>/v1.json` instead of upstream's (config `url` still wins).
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    pub(crate) fn restore(
        stage: Stage,
        opts: SourceOptions,
        v: &Value,
    ) -> Result<Self, SourceError> {
        let mut ds = Vultr::new(stage, opts);
        let e = CacheEntry::new("Vultr", v);
        ds.metadata = e.metadata()?;
        ds.userdata_raw = e.blob("userdata_raw")?;
        ds.vendordata_raw = e.blob("vendordata_raw")?;
        ds.network = e.optional("network");
        Ok(ds)
    }

    fn user_agent(&self, host: &Host) -> String {
        let variant = host
            .read_to_string("/etc/os-release")
            .ok()
            .and_then(|t| {
                t.lines().find_map(|l| {
                    l.strip_prefix("ID=")
                        .map(|v| v.trim().trim_matches('"').to_lowercase())
                })
            })
            .unwrap_or_else(|| "unknown".into());
        format!(
            "{} - OS: Linux Variant: {variant}",
            self.opts.http.user_agent
        )
    }
}

/// Upstream `is_vultr`.
fn is_vultr(host: &Host, cmdline: &str) -> bool {
    crate::dmi::read(host, "system-manufacturer").as_deref() == Some("Vultr")
        || cmdline.split_whitespace().any(|w| w == "vultr")
}

/// Upstream `get_interface_list`: Vultr's script when installed, else the
/// candidate NICs without `dummy` ones.
fn interface_list(host: &Host) -> Vec<String> {
    let mut ifaces = Vec::new();
    if host.exists(NIC_SCRIPT) {
        match host.run(&Cmd::new([NIC_SCRIPT]).in_target()) {
            Ok(out) => ifaces.extend(
                out.stdout_str()
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from),
            ),
            Err(e) => log::error!("find_candidate_nics script exception: {e}"),
        }
    }
    if ifaces.is_empty() {
        ifaces = shared::candidate_nics(host)
            .into_iter()
            .filter(|n| !n.contains("dummy"))
            .collect();
    }
    ifaces
}

/// Upstream `refactor_metadata`.
fn refactor(md: &mut Map<String, Value>) -> Result<(), String> {
    let need = |m: &Map<String, Value>, k: &str| m.get(k).cloned().ok_or(format!("no '{k}'"));
    let iid = need(md, "instance-v2-id")?;
    md.insert("instance-id".into(), iid);
    let hn = need(md, "hostname")?;
    md.insert("local-hostname".into(), hn);
    let region = need(md, "region")?;
    let code = region
        .get("countrycode")
        .or_else(|| region.get("regioncode"))
        .ok_or("no 'region.regioncode'")?;
    md.insert("region".into(), json!(py_str(code).to_lowercase()));
    Ok(())
}

fn malformed(message: String) -> SourceError {
    SourceError::Malformed {
        what: "Vultr metadata".into(),
        message,
    }
}

/// Upstream `generate_network_config` for the NICs present (`[mac, name]`).
pub fn generate_network_config(
    interfaces: &Value,
    nics: &[(String, String)],
) -> Result<Value, String> {
    let list = interfaces.as_array().ok_or("'interfaces' is not a list")?;
    let mut config = vec![json!({"type": "nameserver", "address": NAMESERVERS})];
    for (i, iface) in list.iter().enumerate() {
        if i > 0 && iface.get("unconfigured").is_some_and(truthy) {
            continue;
        }
        config.push(generate_interface(iface, i == 0, nics)?);
    }
    Ok(json!({"version": 1, "config": config}))
}

fn generate_interface(
    iface: &Value,
    primary: bool,
    nics: &[(String, String)],
) -> Result<Value, String> {
    let mac = iface
        .get("mac")
        .map(py_str)
        .ok_or("interface without 'mac'")?;
    let name = nics
        .iter()
        .find(|(m, _)| *m == mac)
        .map(|(_, n)| n.clone())
        .ok_or(format!("Interface: {mac} could not be found on the system"))?;
    let mut cfg = Map::new();
    cfg.insert("name".into(), json!(name));
    cfg.insert("type".into(), json!("physical"));
    cfg.insert("mac_address".into(), json!(mac));
    let field = |v: &Value, path: &[&str]| -> Result<Value, String> {
        path.iter()
            .try_fold(v, |cur, k| cur.get(*k))
            .cloned()
            .ok_or(format!("interface {mac}: no '{}'", path.join(".")))
    };
    let mut subnets = if primary {
        cfg.insert("accept-ra".into(), json!(1));
        vec![
            json!({"type": "dhcp", "control": "auto"}),
            json!({"type": "ipv6_slaac", "control": "auto"}),
        ]
    } else {
        vec![json!({
            "type": "static",
            "control": "auto",
            "address": field(iface, &["ipv4", "address"])?,
            "netmask": field(iface, &["ipv4", "netmask"])?,
        })]
    };
    // Holds the key's place: Python keeps the position of first insertion.
    cfg.insert("subnets".into(), Value::Null);
    for k in ["mtu", "accept-ra"] {
        if let Some(v) = iface.get(k) {
            cfg.insert(k.into(), v.clone());
        }
    }
    if let (Some(routes), Some(Value::Object(first))) = (iface.get("routes"), subnets.first_mut()) {
        first.insert("routes".into(), routes.clone());
    }
    let additional = |fam: &str| -> Result<Vec<Value>, String> {
        match field(iface, &[fam, "additional"])? {
            Value::Array(a) => Ok(a),
            other => Err(format!("interface {mac}: {fam}.additional is {other}")),
        }
    };
    for add in additional("ipv4")? {
        let mut s = Map::new();
        s.insert("type".into(), json!("static"));
        s.insert("control".into(), json!("auto"));
        s.insert("address".into(), field(&add, &["address"])?);
        s.insert("netmask".into(), field(&add, &["netmask"])?);
        if let Some(r) = add.get("routes") {
            s.insert("routes".into(), r.clone());
        }
        subnets.push(Value::Object(s));
    }
    for add in additional("ipv6")? {
        let mut s = Map::new();
        s.insert("type".into(), json!("static6"));
        s.insert("control".into(), json!("auto"));
        let addr = format!(
            "{}/{}",
            py_str(&field(&add, &["network"])?),
            py_str(&field(&add, &["prefix"])?)
        );
        s.insert("address".into(), json!(addr));
        if let Some(r) = add.get("routes") {
            s.insert("routes".into(), r.clone());
        }
        subnets.push(Value::Object(s));
    }
    cfg.insert("subnets".into(), Value::Array(subnets));
    Ok(Value::Object(cfg))
}

/// Upstream `add_interface_names`: name each physical entry by its MAC.
fn add_interface_names(netcfg: &mut Value, nics: &[(String, String)]) -> Result<(), String> {
    let entries = netcfg
        .get_mut("config")
        .and_then(Value::as_array_mut)
        .ok_or("cloud_interfaces has no 'config' list")?;
    for entry in entries {
        if entry.get("type").and_then(Value::as_str) != Some("physical") {
            continue;
        }
        let mac = entry.get("mac_address").map(py_str).unwrap_or_default();
        let name = nics
            .iter()
            .find(|(m, _)| *m == mac)
            .map(|(_, n)| n.clone())
            .ok_or(format!("Interface: {mac} could not be found on the system"))?;
        if let Value::Object(m) = entry {
            m.insert("name".into(), json!(name));
        }
    }
    Ok(())
}

impl Datasource for Vultr {
    fn needs_ephemeral_net(&self) -> bool {
        self.stage == Stage::Local
    }

    fn dsname(&self) -> &'static str {
        "Vultr"
    }

    fn class_name(&self) -> &'static str {
        "DataSourceVultr"
    }

    fn stage(&self) -> Stage {
        self.stage
    }

    fn ds_detect(&self, ctx: &SourceContext) -> bool {
        is_vultr(ctx.host, &ctx.cmdline)
    }

    fn crawl(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        log::debug!("Machine is a Vultr instance");
        let cfg = ctx.ds_cfg("Vultr");
        let base = cfg
            .get("url")
            .filter(|v| !v.is_null())
            .map(py_str)
            .unwrap_or_else(|| self.url.clone());
        let url = format!("{base}/v1.json");
        if !shared::url_allowed(ctx.host, &url) {
            return Ok(false);
        }
        let agent = cfg
            .get("user-agent")
            .filter(|v| !v.is_null())
            .map(py_str)
            .unwrap_or_else(|| self.user_agent(ctx.host));
        let mut policy = shared::policy(
            &self.opts.http,
            shared::secs(shared::cfg_f64(&cfg, "timeout", TIMEOUT, false)),
            shared::cfg_u32(&cfg, "retries", RETRIES, false),
            shared::secs(shared::cfg_f64(&cfg, "wait", WAIT, false)),
        );
        policy.user_agent = agent;
        let reader = UrlReader::new(policy);
        let mut last = SourceError::Malformed {
            what: "Vultr".into(),
            message: "Failed to DHCP".into(),
        };
        let mut found = None;
        for iface in interface_list(ctx.host) {
            let attempt = if shared::imds_reachable(&self.opts.http, &base, &[]) {
                Ok(None)
            } else {
                ctx.net
                    .bring_up(&EphemeralKind::Dhcp4 {
                        iface: Some(iface.clone()),
                    })
                    .map(Some)
            }
            .and_then(|lease| {
                let body = reader.get(&url, &[("Metadata-Token", "cloudinit")])?.body;
                drop(lease);
                let mut md = match serde_json::from_slice::<Value>(&body) {
                    Ok(Value::Object(m)) => m,
                    Ok(_) => return Err(malformed(format!("{url}: not a JSON object"))),
                    Err(e) => return Err(malformed(format!("{url}: not JSON: {e}"))),
                };
                refactor(&mut md).map_err(malformed)?;
                Ok(md)
            });
            match attempt {
                Ok(md) => {
                    found = Some(md);
                    break;
                }
                Err(e) => {
                    log::error!("DHCP Exception: {e}");
                    last = e;
                }
            }
        }
        let Some(mut md) = found else {
            return Err(last);
        };
        let nics = shared::interfaces_by_mac(ctx.host);
        let netcfg = match md.get("cloud_interfaces") {
            Some(ci) => {
                let mut ci = ci.clone();
                add_interface_names(&mut ci, &nics).map_err(malformed)?;
                md.insert("cloud_interfaces".into(), ci.clone());
                ci
            }
            None => generate_network_config(md.get("interfaces").unwrap_or(&Value::Null), &nics)
                .map_err(malformed)?,
        };
        let need = |k: &str| md.get(k).cloned().ok_or(malformed(format!("no '{k}'")));
        let vendor = need("vendor-data")?;
        let user = need("user-data")?;
        if md.get("local-hostname").and_then(Value::as_str) == Some("") {
            md.insert("local-hostname".into(), json!("guest"));
        }
        self.vendordata_raw = shared::vendordata_bytes(Some(&vendor));
        self.userdata_raw = match user {
            Value::String(s) if s.is_empty() => None,
            Value::Null => None,
            other => Some(py_str(&other).into_bytes()),
        };
        self.network = Some(netcfg);
        let md = Value::Object(md);
        log::debug!(
            "SUBID: {}",
            md.get("instance-id").map(py_str).unwrap_or_default()
        );
        log::debug!(
            "Hostname: {}",
            md.get("local-hostname").map(py_str).unwrap_or_default()
        );
        self.metadata = md;
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

    fn network_config(&self) -> Option<Value> {
        self.network.clone()
    }

    /// Upstream compares the DMI serial (the SUBID) with the DMI system
    /// UUID, and never matches on bare metal.
    fn check_instance_id(&self, ctx: &SourceContext) -> bool {
        if !is_vultr(ctx.host, &ctx.cmdline) {
            return false;
        }
        if crate::dmi::read(ctx.host, "system-manufacturer").as_deref() != Some("Vultr") {
            return false;
        }
        let subid = crate::dmi::read(ctx.host, "system-serial-number").unwrap_or_default();
        shared::id_matches_dmi(ctx.host, &subid, "system-uuid")
    }

    fn launch_index(&self) -> Option<Value> {
        None
    }

    fn to_cache(&self) -> Value {
        json!({
            "format": crate::CACHE_FORMAT,
            "class": self.class_name(),
            "dsname": self.dsname(),
            "stage": self.stage.as_cache_str(),
            "metadata": self.metadata,
            "userdata_raw": blob::encode(self.userdata_raw.as_deref()),
            "vendordata_raw": blob::encode(self.vendordata_raw.as_deref()),
            "network": self.network,
        })
    }
}
