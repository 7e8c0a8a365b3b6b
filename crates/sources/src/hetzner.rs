//! Hetzner Cloud: the YAML metadata document `hetzner/v1/metadata` and the
//! raw `hetzner/v1/userdata`, read in the local stage over ephemeral DHCP.
//!
//! Upstream's rules: the platform is Hetzner when DMI `system-manufacturer`
//! says so; the DMI serial must exist and equal the metadata `instance-id`.
//! `retries` 60, `timeout` 2 s, `wait_retry` 2 s. User-data is base64-decoded
//! when it is valid base64; vendor-data is `vendor_data`; network config
//! is the metadata's `network-config` as given.

use crate::blob;
use crate::cache_entry::CacheEntry;
use crate::context::{SourceContext, SourceOptions, Stage};
use crate::datasource::Datasource;
use crate::ec2::crawl::maybe_b64decode;
use crate::ephemeral::EphemeralKind;
use crate::error::SourceError;
use crate::gce::shared;
use crate::url::UrlReader;
use ci_host::Host;
use ci_pyval::{py_str, truthy};
use serde_json::{json, Map, Value};

/// Upstream's `BASE_URL_V1`.
pub const DEFAULT_BASE_URL: &str = "http://169.254.169.254/hetzner/v1";
const MD_RETRIES: u32 = 60;
const MD_TIMEOUT: f64 = 2.0;
const MD_WAIT_RETRY: f64 = 2.0;

pub struct Hetzner {
    stage: Stage,
    opts: SourceOptions,
    base_url: String,
    metadata: Value,
    metadata_full: Value,
    userdata_raw: Option<Vec<u8>>,
    vendordata_raw: Option<Vec<u8>>,
    metadata_address: Option<String>,
}

impl Hetzner {
    pub fn new(stage: Stage, opts: SourceOptions) -> Self {
        Hetzner {
            stage,
            opts,
            base_url: DEFAULT_BASE_URL.into(),
            metadata: Value::Object(Map::new()),
            metadata_full: Value::Null,
            userdata_raw: None,
            vendordata_raw: None,
            metadata_address: None,
        }
    }

    /// Use `<base>/metadata` and `<base>/userdata` instead of upstream's
    /// (config `metadata_url` / `userdata_url` still win).
    pub fn with_base_url(mut self, base: impl Into<String>) -> Self {
        self.base_url = base.into().trim_end_matches('/').to_string();
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
        let mut ds = Hetzner::new(stage, opts);
        let e = CacheEntry::new("Hetzner", v);
        ds.metadata = e.metadata()?;
        ds.metadata_full = v.get("metadata_full").cloned().unwrap_or(Value::Null);
        ds.userdata_raw = e.blob("userdata_raw")?;
        ds.vendordata_raw = e.blob("vendordata_raw")?;
        ds.metadata_address = e.string("metadata_address");
        Ok(ds)
    }
}

/// Upstream `get_hcloud_data`: the DMI serial when this is Hetzner Cloud.
fn hcloud_serial(host: &Host) -> Result<Option<String>, SourceError> {
    if crate::dmi::read(host, "system-manufacturer").as_deref() != Some("Hetzner") {
        return Ok(None);
    }
    match crate::dmi::read(host, "system-serial-number").filter(|s| !s.is_empty()) {
        Some(s) => {
            log::debug!("Running on Hetzner Cloud: serial={s}");
            Ok(Some(s))
        }
        None => Err(SourceError::Malformed {
            what: "Hetzner".into(),
            message: "Hetzner Cloud detected, but no serial found".into(),
        }),
    }
}

fn cfg_url(cfg: &Value, key: &str, default: String) -> String {
    cfg.get(key)
        .filter(|v| !v.is_null())
        .map(py_str)
        .unwrap_or(default)
}

impl Datasource for Hetzner {
    fn needs_ephemeral_net(&self) -> bool {
        self.stage == Stage::Local
    }

    fn dsname(&self) -> &'static str {
        "Hetzner"
    }

    fn class_name(&self) -> &'static str {
        "DataSourceHetzner"
    }

    fn stage(&self) -> Stage {
        self.stage
    }

    fn crawl(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        let Some(serial) = hcloud_serial(ctx.host)? else {
            return Ok(false);
        };
        let cfg = ctx.ds_cfg("Hetzner");
        let md_url = cfg_url(&cfg, "metadata_url", format!("{}/metadata", self.base_url));
        let ud_url = cfg_url(&cfg, "userdata_url", format!("{}/userdata", self.base_url));
        if !shared::url_allowed(ctx.host, &md_url) || !shared::url_allowed(ctx.host, &ud_url) {
            return Ok(false);
        }
        let reader = UrlReader::new(shared::policy(
            &self.opts.http,
            shared::secs(shared::cfg_f64(&cfg, "timeout", MD_TIMEOUT, false)),
            shared::cfg_u32(&cfg, "retries", MD_RETRIES, false),
            shared::secs(shared::cfg_f64(&cfg, "wait_retry", MD_WAIT_RETRY, false)),
        ));
        // Upstream checks its fixed address; ours is the constructor's base.
        let check = format!("{}/metadata/instance-id", self.base_url);
        let lease = if shared::url_allowed(ctx.host, &check)
            && shared::imds_reachable(&self.opts.http, &check, &[])
        {
            None
        } else {
            Some(
                ctx.net
                    .bring_up(&EphemeralKind::Dhcp4 {
                        iface: shared::fallback_nic(ctx.host),
                    })
                    .inspect_err(|e| log::error!("Bailing, DHCP Exception: {e}"))?,
            )
        };
        let md_body = reader.get(&md_url, &[])?.body;
        let ud = reader.get(&ud_url, &[])?.body;
        drop(lease);
        let md = match ci_yaml::load(&String::from_utf8_lossy(&md_body)) {
            Ok(v @ Value::Object(_)) => v,
            Ok(other) => {
                return Err(SourceError::Malformed {
                    what: format!("Hetzner metadata ({md_url})"),
                    message: format!("not a YAML mapping: {other}"),
                })
            }
            Err(e) => {
                return Err(SourceError::Malformed {
                    what: format!("Hetzner metadata ({md_url})"),
                    message: e.to_string(),
                })
            }
        };
        let required = |k: &str| {
            md.get(k).cloned().ok_or_else(|| SourceError::Malformed {
                what: format!("Hetzner metadata ({md_url})"),
                message: format!("no '{k}'"),
            })
        };
        let mut m = Map::new();
        m.insert("instance-id".into(), required("instance-id")?);
        m.insert("local-hostname".into(), required("hostname")?);
        let opt = |k: &str| md.get(k).cloned().unwrap_or(Value::Null);
        m.insert("network-config".into(), opt("network-config"));
        m.insert("public-keys".into(), opt("public-keys"));
        self.userdata_raw = Some(maybe_b64decode(ud));
        self.vendordata_raw = shared::vendordata_bytes(md.get("vendor_data"));
        self.metadata = Value::Object(m);
        self.metadata_full = md;
        self.metadata_address = Some(md_url);
        if self.instance_id() != serial {
            return Err(SourceError::Malformed {
                what: "Hetzner".into(),
                message: "SMBIOS serial does not match instance ID from metadata".into(),
            });
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

    /// Upstream raises when the metadata has no `network-config`; we
    /// report it and let the fallback config apply.
    fn network_config(&self) -> Option<Value> {
        match self.metadata.get("network-config") {
            Some(n) if truthy(n) => Some(n.clone()),
            _ => {
                log::error!("Hetzner network config: Unable to get meta-data from server....");
                None
            }
        }
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
        })
    }
}
