//! OpenStack: the Nova metadata service (`/openstack/<version>/...` plus
//! the EC2-compatible `latest/meta-data/`).
//!
//! Two classes as upstream: `DataSourceOpenStackLocal` runs in the local
//! stage behind ephemeral DHCP on the fallback NIC; `DataSourceOpenStack`
//! runs in the network stage. Both detect the platform from DMI (product
//! name `OpenStack Nova`/`OpenStack Compute`, or a known chassis asset
//! tag), wait for the service, read the newest known version's files and
//! convert `network_data.json` to network config v1. The layout reader is
//! shared with ConfigDrive ([`reader`]).

use crate::blob;
use crate::context::{SourceContext, SourceOptions, Stage};
use crate::datasource::{normalize_pubkey_data, Datasource, Dsmode};
use crate::ephemeral::EphemeralKind;
use crate::error::SourceError;
use ci_pyval::py_str;
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};

pub(crate) mod ec2md;
pub(crate) mod reader;
pub(crate) mod wait;

use reader::{vendordata_blobs, Crawled, HttpBackend, OsError};
use wait::{cfg_int, is_loopback_url, WaitSpec};

pub const DEFAULT_IID: &str = "iid-dsopenstack";
pub const DMI_PRODUCT_NAMES: &[&str] = &["OpenStack Nova", "OpenStack Compute"];
pub const DMI_ASSET_TAGS: &[&str] = &[
    "OpenStack Nova",
    "OpenStack Compute",
    "HUAWEICLOUD",
    "OpenTelekomCloud",
    "Samsung Cloud Platform",
    "SAP CCloud VM",
];
/// Upstream's class defaults (`url_max_wait = -1`: one round of attempts).
const DEFAULT_MAX_WAIT: i64 = -1;
const DEFAULT_TIMEOUT: i64 = 10;
const DEFAULT_RETRIES: i64 = 5;
const DEFAULT_SEC_BETWEEN: i64 = 1;

pub struct OpenStack {
    stage: Stage,
    opts: SourceOptions,
    /// Replaces upstream's default addresses (config `metadata_urls` still wins).
    metadata_urls: Option<Vec<String>>,
    dsmode: Dsmode,
    version: Option<u8>,
    metadata: Value,
    userdata_raw: Option<Vec<u8>>,
    vendordata_raw: Option<Vec<u8>>,
    vendordata2_raw: Option<Vec<u8>>,
    ec2_metadata: Value,
    network_json: Option<Value>,
    network: Option<Value>,
    metadata_address: Option<String>,
}

/// The upstream-compatible network-stage `datasource.OpenStack` knobs.
struct UrlParams {
    max_wait: i64,
    timeout: Duration,
    retries: u32,
    sec_between: Duration,
}

fn url_params(cfg: &Value) -> UrlParams {
    let secs = |n: i64| Duration::from_secs(n.max(0).unsigned_abs());
    UrlParams {
        max_wait: cfg_int(cfg, "max_wait", DEFAULT_MAX_WAIT),
        timeout: secs(cfg_int(cfg, "timeout", DEFAULT_TIMEOUT).max(0)),
        retries: u32::try_from(cfg_int(cfg, "retries", DEFAULT_RETRIES).max(0)).unwrap_or(0),
        sec_between: secs(cfg_int(cfg, "sec_between_retries", DEFAULT_SEC_BETWEEN)),
    }
}

/// Upstream `ds_detect` for OpenStack (also used when Oracle is listed).
pub(crate) fn detect_openstack(ctx: &SourceContext) -> bool {
    let arch = std::env::consts::ARCH;
    if arch != "x86_64" && arch != "x86" {
        // Non-Intel CPUs don't report DMI product names reliably.
        return true;
    }
    let dmi = |k: &str| crate::dmi::read(ctx.host, k);
    if dmi("system-product-name").is_some_and(|p| DMI_PRODUCT_NAMES.contains(&p.as_str())) {
        return true;
    }
    if dmi("chassis-asset-tag").is_some_and(|t| DMI_ASSET_TAGS.contains(&t.as_str())) {
        return true;
    }
    let accept_oracle = ctx
        .config
        .get("datasource_list")
        .and_then(Value::as_array)
        .is_some_and(|l| l.iter().any(|d| d.as_str() == Some("Oracle")));
    if accept_oracle && crate::oracle::is_platform_viable(ctx.host) {
        return true;
    }
    pid1_product_name(ctx) == Some("OpenStack Nova".into())
}

/// `product_name` in PID 1's environment.
fn pid1_product_name(ctx: &SourceContext) -> Option<String> {
    let env = ctx.host.read("/proc/1/environ").ok()?;
    env.split(|b| *b == 0)
        .filter_map(|kv| std::str::from_utf8(kv).ok())
        .find_map(|kv| kv.strip_prefix("product_name=").map(String::from))
}

/// Upstream `instance_id_matches_system_uuid`.
pub(crate) fn matches_system_uuid(host: &ci_host::Host, iid: &str) -> bool {
    if iid.is_empty() {
        return false;
    }
    match crate::dmi::read(host, "system-uuid") {
        Some(u) if !u.is_empty() => u.to_lowercase() == iid.to_lowercase(),
        _ => false,
    }
}

impl OpenStack {
    pub fn new(stage: Stage, opts: SourceOptions) -> Self {
        OpenStack {
            stage,
            opts,
            metadata_urls: None,
            dsmode: Dsmode::Net,
            version: None,
            metadata: Value::Object(Map::new()),
            userdata_raw: None,
            vendordata_raw: None,
            vendordata2_raw: None,
            ec2_metadata: json!({}),
            network_json: None,
            network: None,
            metadata_address: None,
        }
    }

    /// Use these base URLs instead of upstream's defaults.
    pub fn with_metadata_urls<S: Into<String>>(
        mut self,
        urls: impl IntoIterator<Item = S>,
    ) -> Self {
        self.metadata_urls = Some(urls.into_iter().map(Into::into).collect());
        self
    }

    /// The EC2-compatible metadata read alongside (`{}` when unavailable).
    pub fn ec2_metadata(&self) -> &Value {
        &self.ec2_metadata
    }

    /// `network_data.json` as served.
    pub fn network_json(&self) -> Option<&Value> {
        self.network_json.as_ref()
    }

    fn default_urls(&self, iface: Option<&str>) -> Vec<String> {
        if let Some(u) = &self.metadata_urls {
            return u.clone();
        }
        let iface = iface.unwrap_or("eth0");
        vec![
            format!("http://[fe80::a9fe:a9fe%25{iface}]"),
            "http://169.254.169.254".into(),
        ]
    }

    /// Upstream `wait_for_metadata_service`: the base URL that answered.
    fn wait_for_service(
        &self,
        ctx: &SourceContext,
        cfg: &Value,
        iface: Option<&str>,
    ) -> Option<String> {
        let defaults = self.default_urls(iface);
        let mut urls: Vec<String> = match cfg.get("metadata_urls") {
            Some(Value::Array(l)) => l.iter().map(py_str).collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => defaults.clone(),
        };
        if urls.is_empty() {
            log::warn!("Empty metadata url list! using default list");
            urls = defaults;
        }
        if ctx.host.is_sandbox() {
            let (keep, dropped): (Vec<String>, Vec<String>) =
                urls.into_iter().partition(|u| is_loopback_url(u));
            if !dropped.is_empty() {
                log::debug!(
                    "Removed the following from metadata urls: {} (not loopback, sandbox root)",
                    ci_pyval::py_list(&dropped)
                );
            }
            urls = keep;
        }
        if urls.is_empty() {
            return None;
        }
        let md_urls: Vec<String> = urls
            .iter()
            .map(|u| reader::combine_url(u, "openstack"))
            .collect();
        let p = url_params(cfg);
        let start = Instant::now();
        let found = wait::wait_for_url(&WaitSpec {
            urls: &md_urls,
            max_wait: p.max_wait,
            timeout: p.timeout,
            sleep: None,
            parallel: true,
            headers: wait::no_headers,
            base: &self.opts.http,
        });
        match found {
            Some((url, _)) => {
                let i = md_urls.iter().position(|u| *u == url)?;
                let base = urls.get(i).cloned()?;
                log::debug!("Using metadata source: '{base}'");
                Some(base)
            }
            None => {
                log::debug!(
                    "Giving up on OpenStack md from {} after {} seconds",
                    ci_pyval::py_list(&md_urls),
                    start.elapsed().as_secs()
                );
                None
            }
        }
    }

    /// Upstream `_crawl_metadata`; `Err` carries the message upstream logs.
    fn crawl_metadata(
        &mut self,
        ctx: &SourceContext,
        cfg: &Value,
        iface: Option<&str>,
    ) -> Result<Crawled, String> {
        let base = self
            .wait_for_service(ctx, cfg, iface)
            .ok_or_else(|| "No active metadata service found".to_string())?;
        self.metadata_address = Some(base.clone());
        let p = url_params(cfg);
        let backend = HttpBackend::new(&base, &self.opts.http, p.timeout, p.retries, p.sec_between);
        match reader::read_v2(&backend) {
            Ok(c) => Ok(c),
            Err(OsError::NonReadable(m)) => Err(m),
            Err(OsError::Broken(m)) => {
                log::debug!("{m}");
                Err(format!("Broken metadata address {base}"))
            }
        }
    }

    fn adopt(&mut self, ctx: &SourceContext, cfg: &Value, results: Crawled) -> bool {
        self.dsmode = Dsmode::determine(
            &[results.dsmode.as_ref()],
            Dsmode::Net,
            &[Dsmode::Disabled, Dsmode::Local, Dsmode::Net],
        );
        if self.dsmode == Dsmode::Disabled {
            return false;
        }
        let mut md = results.metadata;
        md.entry("instance-id")
            .or_insert_with(|| json!(DEFAULT_IID));
        self.metadata = Value::Object(md);
        self.ec2_metadata = results.ec2_metadata;
        self.network_json = results.networkdata;
        self.userdata_raw = results.userdata;
        self.version = Some(results.version);
        (self.vendordata_raw, self.vendordata2_raw) =
            vendordata_blobs(results.vendordata.as_ref(), results.vendordata2.as_ref());
        self.network = if ci_pyval::is_false(
            cfg.get("apply_network_config")
                .unwrap_or(&Value::Bool(true)),
        ) {
            None
        } else {
            convert_network(ctx.host, self.network_json.as_ref())
        };
        true
    }

    pub(crate) fn restore(
        stage: Stage,
        opts: SourceOptions,
        v: &Value,
    ) -> Result<Self, SourceError> {
        let bad =
            |what: &str| SourceError::Cache(format!("OpenStack entry: bad or missing {what}"));
        let mut ds = OpenStack::new(stage, opts);
        ds.metadata = match v.get("metadata") {
            Some(m @ Value::Object(_)) => m.clone(),
            _ => return Err(bad("metadata")),
        };
        ds.dsmode = v
            .get("dsmode")
            .and_then(Value::as_str)
            .and_then(Dsmode::parse)
            .ok_or_else(|| bad("dsmode"))?;
        ds.version = v
            .get("version")
            .and_then(Value::as_u64)
            .and_then(|n| u8::try_from(n).ok());
        ds.userdata_raw = blob::decode(v.get("userdata_raw")).map_err(|_| bad("userdata_raw"))?;
        ds.vendordata_raw =
            blob::decode(v.get("vendordata_raw")).map_err(|_| bad("vendordata_raw"))?;
        ds.vendordata2_raw =
            blob::decode(v.get("vendordata2_raw")).map_err(|_| bad("vendordata2_raw"))?;
        ds.ec2_metadata = v.get("ec2_metadata").cloned().unwrap_or_else(|| json!({}));
        ds.network_json = v.get("network_json").filter(|n| !n.is_null()).cloned();
        ds.network = v.get("network").filter(|n| !n.is_null()).cloned();
        ds.metadata_address = v
            .get("metadata_address")
            .and_then(Value::as_str)
            .map(String::from);
        Ok(ds)
    }
}

/// The keys of an OpenStack tree: version 1 (the ConfigDrive v1 layout)
/// names them `public-keys`, later versions `public_keys`.
pub(crate) fn public_keys(metadata: &Value, version: Option<u8>) -> Vec<String> {
    let key = if version == Some(1) {
        "public-keys"
    } else {
        "public_keys"
    };
    normalize_pubkey_data(metadata.get(key))
}

/// `network_data.json` → v1, naming links by the MACs under `/sys/class/net`.
/// A document that cannot be converted gives no network config.
pub(crate) fn convert_network(host: &ci_host::Host, net_json: Option<&Value>) -> Option<Value> {
    let nj = net_json?;
    log::debug!("network config provided via network_json");
    match ci_net::netjson::convert_net_json(nj, host) {
        Ok(v) => v,
        Err(e) => {
            log::warn!("Failed to convert network_data.json to network config: {e}");
            None
        }
    }
}

impl Datasource for OpenStack {
    fn needs_ephemeral_net(&self) -> bool {
        self.stage == Stage::Local
    }

    fn dsname(&self) -> &'static str {
        "OpenStack"
    }

    fn class_name(&self) -> &'static str {
        match self.stage {
            Stage::Local => "DataSourceOpenStackLocal",
            Stage::Network => "DataSourceOpenStack",
        }
    }

    fn stage(&self) -> Stage {
        self.stage
    }

    fn ds_detect(&self, ctx: &SourceContext) -> bool {
        detect_openstack(ctx)
    }

    fn crawl(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        let cfg = ctx.ds_cfg("OpenStack");
        let results = if self.stage == Stage::Local {
            let iface = ci_net::find_fallback_nic(ctx.host);
            // The boot's ephemeral network picks the fallback NIC itself.
            let lease = match ctx.net.bring_up(&EphemeralKind::Dhcp4 { iface: None }) {
                Ok(l) => l,
                Err(e) => {
                    log::warn!("{e}");
                    return Ok(false);
                }
            };
            let iface = Some(lease.info().iface.clone())
                .filter(|i| !i.is_empty())
                .or(iface);
            let r = self.crawl_metadata(ctx, &cfg, iface.as_deref());
            drop(lease);
            r
        } else {
            let iface = ci_net::find_fallback_nic(ctx.host);
            self.crawl_metadata(ctx, &cfg, iface.as_deref())
        };
        match results {
            Ok(r) => Ok(self.adopt(ctx, &cfg, r)),
            Err(msg) => {
                log::warn!("{msg}");
                Ok(false)
            }
        }
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

    fn vendordata2_raw(&self) -> Option<&[u8]> {
        self.vendordata2_raw.as_deref()
    }

    fn network_config(&self) -> Option<Value> {
        self.network.clone()
    }

    fn public_ssh_keys(&self) -> Vec<String> {
        public_keys(&self.metadata, self.version)
    }

    fn platform_type(&self) -> String {
        "openstack".into()
    }

    fn metadata_address(&self) -> Option<&str> {
        self.metadata_address.as_deref()
    }

    fn dsmode(&self) -> Dsmode {
        self.dsmode
    }

    fn display(&self) -> String {
        format!(
            "{} [{},ver={}]",
            self.class_name(),
            self.dsmode.as_str(),
            self.version
                .map(|v| v.to_string())
                .unwrap_or_else(|| "None".into())
        )
    }

    fn check_instance_id(&self, ctx: &SourceContext) -> bool {
        matches_system_uuid(ctx.host, &self.instance_id())
    }

    fn to_cache(&self) -> Value {
        json!({
            "format": crate::CACHE_FORMAT,
            "class": self.class_name(),
            "dsname": self.dsname(),
            "stage": self.stage.as_cache_str(),
            "dsmode": self.dsmode.as_str(),
            "version": self.version,
            "metadata": self.metadata,
            "userdata_raw": blob::encode(self.userdata_raw.as_deref()),
            "vendordata_raw": blob::encode(self.vendordata_raw.as_deref()),
            "vendordata2_raw": blob::encode(self.vendordata2_raw.as_deref()),
            "ec2_metadata": self.ec2_metadata,
            "network_json": self.network_json,
            "network": self.network,
            "metadata_address": self.metadata_address,
        })
    }
}
