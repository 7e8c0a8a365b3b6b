//! AliYun: Alibaba Cloud ECS's EC2-style metadata service at
//! `100.100.100.200`, API version `2016-01-01`, in the local stage
//! (AliYunLocal: DHCP on the fallback NIC) and the network stage.
//!
//! Upstream's sequence (25.1): the platform is AliYun only when DMI
//! `system-product-name` is `Alibaba Cloud ECS`; a session token is
//! fetched with `PUT latest/api/token` (`X-aliyun-ecs-metadata-token-ttl-seconds`),
//! waiting up to `max_wait` (240 s) with `timeout` (50 s) per attempt, and
//! sent as `X-aliyun-ecs-metadata-token`; then `user-data` and
//! `vendor-data` (a 404 leaves them empty, with a warning) and the whole
//! meta-data as JSON from `meta-data/all`, falling back to crawling the
//! `meta-data/` tree. The host name is `hostname` as given; keys come from
//! `public-keys` (`openssh-key` entries); network config v2 is built from
//! `network.interfaces.macs`.

use crate::blob;
use crate::cache_entry::CacheEntry;
use crate::context::{SourceContext, SourceOptions, Stage};
use crate::datasource::{Datasource, DsHostname};
use crate::ephemeral::EphemeralKind;
use crate::error::SourceError;
use crate::gce::shared;
use ci_pyval::{py_str, truthy};
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicBool, Ordering};

mod netcfg;
mod session;

pub use netcfg::convert_network_config;
use session::Session;

/// Upstream's `metadata_urls`.
pub const DEFAULT_METADATA_URLS: &[&str] = &["http://100.100.100.200"];
pub const API_VERSION: &str = "2016-01-01";
/// DMI `system-product-name` of an ECS instance.
pub const ALIYUN_PRODUCT: &str = "Alibaba Cloud ECS";
const DEFAULT_MAX_WAIT: f64 = 240.0;
const DEFAULT_TIMEOUT: f64 = 50.0;

pub struct AliYun {
    stage: Stage,
    opts: SourceOptions,
    metadata_urls: Vec<String>,
    crawl_policy: crate::ec2::CrawlPolicy,
    is_aliyun: bool,
    metadata: Value,
    userdata_raw: Option<Vec<u8>>,
    vendordata_raw: Option<Vec<u8>>,
    metadata_address: Option<String>,
    network: Option<Value>,
    network_warned: AtomicBool,
}

impl AliYun {
    pub fn new(stage: Stage, opts: SourceOptions) -> Self {
        AliYun {
            stage,
            opts,
            metadata_urls: DEFAULT_METADATA_URLS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            crawl_policy: crate::ec2::CrawlPolicy::default(),
            is_aliyun: false,
            metadata: Value::Object(Map::new()),
            userdata_raw: None,
            vendordata_raw: None,
            metadata_address: None,
            network: None,
            network_warned: AtomicBool::new(false),
        }
    }

    /// Use these base URLs instead of upstream's (config `metadata_urls` still wins).
    pub fn with_metadata_urls<S: Into<String>>(
        mut self,
        urls: impl IntoIterator<Item = S>,
    ) -> Self {
        self.metadata_urls = urls.into_iter().map(Into::into).collect();
        self
    }

    /// Budget of each crawl request (upstream: 5 s, 5 retries, 1 s apart).
    pub fn with_crawl_policy(mut self, policy: crate::ec2::CrawlPolicy) -> Self {
        self.crawl_policy = policy;
        self
    }

    pub(crate) fn restore(
        stage: Stage,
        opts: SourceOptions,
        v: &Value,
    ) -> Result<Self, SourceError> {
        let mut ds = AliYun::new(stage, opts);
        let e = CacheEntry::new("AliYun", v);
        ds.metadata = e.metadata()?;
        ds.userdata_raw = e.blob("userdata_raw")?;
        ds.vendordata_raw = e.blob("vendordata_raw")?;
        ds.metadata_address = e.string("metadata_address");
        ds.is_aliyun = v.get("is_aliyun").is_some_and(truthy);
        ds.network = e.optional("network");
        Ok(ds)
    }

    fn crawl_service(&mut self, ctx: &SourceContext) -> bool {
        let cfg = ctx.ds_cfg("AliYun");
        let urls: Vec<String> = match cfg.get("metadata_urls").and_then(Value::as_array) {
            Some(l) => l.iter().map(py_str).collect(),
            None => self.metadata_urls.clone(),
        };
        if urls.is_empty() {
            log::warn!("IMDS's HTTP endpoint is probably disabled");
            return false;
        }
        let urls: Vec<String> = urls
            .into_iter()
            .filter(|u| shared::url_allowed(ctx.host, u))
            .collect();
        if urls.is_empty() {
            return false;
        }
        let max_wait = shared::cfg_f64(&cfg, "max_wait", DEFAULT_MAX_WAIT, true);
        let timeout = shared::cfg_f64(&cfg, "timeout", DEFAULT_TIMEOUT, true).max(0.0);
        let Some((base, token)) = session::fetch_token(&self.opts.http, &urls, max_wait, timeout)
        else {
            log::warn!("IMDS's HTTP endpoint is probably disabled");
            return false;
        };
        log::debug!("Using metadata source: '{base}'");
        let sess = Session::new(&self.opts.http, &base, token, &self.crawl_policy);
        let ud = sess.item("user-data");
        let vd = sess.item("vendor-data");
        let md = match sess.meta_all() {
            Ok(m) => m,
            Err(e) => {
                log::warn!("Faild read json meta-data from {base} fall back directory tree style");
                log::debug!("meta-data/all: {e}");
                sess.meta_tree()
            }
        };
        self.metadata = md;
        self.userdata_raw = Some(ud);
        self.vendordata_raw = Some(vd);
        self.metadata_address = Some(base);
        true
    }
}

/// Upstream `parse_public_keys`.
pub fn parse_public_keys(public_keys: &Value) -> Vec<String> {
    let mut keys = Vec::new();
    let Value::Object(m) = public_keys else {
        return keys;
    };
    let add = |keys: &mut Vec<String>, v: &Value| match v {
        Value::String(s) => keys.push(s.trim().to_string()),
        Value::Array(a) => keys.extend(a.iter().map(py_str)),
        _ => {}
    };
    for body in m.values() {
        match body {
            Value::Object(b) => {
                if let Some(k) = b.get("openssh-key") {
                    add(&mut keys, k);
                }
            }
            other => add(&mut keys, other),
        }
    }
    keys
}

impl Datasource for AliYun {
    fn needs_ephemeral_net(&self) -> bool {
        self.stage == Stage::Local
    }

    fn dsname(&self) -> &'static str {
        "AliYun"
    }

    fn class_name(&self) -> &'static str {
        match self.stage {
            Stage::Local => "DataSourceAliYunLocal",
            Stage::Network => "DataSourceAliYun",
        }
    }

    fn stage(&self) -> Stage {
        self.stage
    }

    fn crawl(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        self.is_aliyun =
            crate::dmi::read(ctx.host, "system-product-name").as_deref() == Some(ALIYUN_PRODUCT);
        if !self.is_aliyun {
            return Ok(false);
        }
        let found = if self.stage == Stage::Local {
            let Ok(lease) = ctx.net.bring_up(&EphemeralKind::Dhcp4 {
                iface: shared::fallback_nic(ctx.host),
            }) else {
                return Ok(false);
            };
            let found = self.crawl_service(ctx);
            log::debug!("Crawled metadata service");
            drop(lease);
            found
        } else {
            self.crawl_service(ctx)
        };
        if !found {
            return Ok(false);
        }
        let full = ctx
            .ds_cfg("AliYun")
            .get("apply_full_imds_network_config")
            .map(truthy)
            .unwrap_or(true);
        self.network = match self.metadata.get("network") {
            Some(n @ Value::Object(_)) => convert_network_config(
                n,
                &shared::interfaces_by_mac(ctx.host),
                shared::fallback_nic(ctx.host).as_deref(),
                full,
            )
            .map_err(|e| log::warn!("AliYun network config: {e}"))
            .ok(),
            _ => None,
        };
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
        if self.network.is_none() && !self.network_warned.swap(true, Ordering::SeqCst) {
            let net = self
                .metadata
                .get("network")
                .map(py_str)
                .unwrap_or_else(|| "None".into());
            log::warn!("Metadata 'network' key not valid: {net}.");
        }
        self.network.clone()
    }

    fn get_hostname(&self, _host: &ci_host::Host, _fqdn: bool, _md_only: bool) -> DsHostname {
        match self.metadata.get("hostname").filter(|h| !h.is_null()) {
            Some(h) => DsHostname {
                hostname: Some(py_str(h)),
                is_default: false,
            },
            None => DsHostname {
                hostname: Some("localhost.localdomain".into()),
                is_default: true,
            },
        }
    }

    fn public_ssh_keys(&self) -> Vec<String> {
        parse_public_keys(self.metadata.get("public-keys").unwrap_or(&json!({})))
    }

    fn platform_type(&self) -> String {
        "aliyun".into()
    }

    fn metadata_address(&self) -> Option<&str> {
        self.metadata_address.as_deref()
    }

    /// Upstream refreshes the network config on every boot here.
    fn default_update_events(&self) -> &'static [&'static str] {
        &["boot-new-instance", "boot"]
    }

    fn default_cloud_name(&self) -> String {
        if self.is_aliyun {
            "aliyun".into()
        } else {
            "NO_ALIYUN_METADATA".into()
        }
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
            "metadata_address": self.metadata_address,
            "is_aliyun": self.is_aliyun,
            "network": self.network,
        })
    }
}
