//! CloudStack: the virtual router serves an EC2-style tree at
//! `http://<router>/latest/` and the password server on `<router>:8080`.
//!
//! Upstream's sequence (network stage only): find the router (see
//! [`router`]); a seed in `<seed_dir>/cs/` wins if present; else wait up
//! to `max_wait` for `latest/meta-data/instance-id`, read `latest/user-data`
//! and the `latest/meta-data/` tree, then ask the password server for a
//! pending password, which becomes datasource config (`ssh_pwauth`,
//! `password`, `chpasswd.expire: false`). The instance-id is meta-data
//! `instance-id` (the VM's UUID, also served as `vm-id`), the zone
//! `availability-zone`; an FQDN takes the DHCP domain name when the
//! metadata host name has none.

pub(crate) mod crawl;
mod router;

use crate::blob;
use crate::context::{SourceContext, SourceOptions, Stage};
use crate::datasource::{Datasource, DsHostname};
use crate::error::SourceError;
use crate::password_server::{fetch_password, password_config, Flavor};
use crate::url_ext::{cfg_int, reader, sandbox_allows, wait_for_url};
use ci_host::Host;
use ci_pyval::py_str;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const API_VERSION: &str = "latest";
const URL_MAX_WAIT: i64 = 120;
const URL_TIMEOUT: i64 = 50;
const PASSWORD_PORT: u16 = 8080;

/// Request budgets: upstream's EC2 helpers use 5 s and 5 retries 1 s
/// apart; its password client runs `wget --tries 3 --timeout 20`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudStackPolicy {
    pub timeout: Duration,
    pub retries: u32,
    pub sec_between: Duration,
    pub password_timeout: Duration,
    pub password_retries: u32,
}

impl Default for CloudStackPolicy {
    fn default() -> Self {
        CloudStackPolicy {
            timeout: Duration::from_secs(5),
            retries: 5,
            sec_between: Duration::from_secs(1),
            password_timeout: Duration::from_secs(20),
            password_retries: 2,
        }
    }
}

pub struct CloudStack {
    stage: Stage,
    opts: SourceOptions,
    policy: CloudStackPolicy,
    vr_override: Option<String>,
    metadata_port: Option<u16>,
    password_url: Option<String>,
    vr_addr: Option<String>,
    metadata_address: Option<String>,
    metadata: Value,
    userdata_raw: Option<Vec<u8>>,
    cfg: Value,
}

impl CloudStack {
    pub fn new(stage: Stage, opts: SourceOptions) -> Self {
        CloudStack {
            stage,
            opts,
            policy: CloudStackPolicy::default(),
            vr_override: None,
            metadata_port: None,
            password_url: None,
            vr_addr: None,
            metadata_address: None,
            metadata: json!({}),
            userdata_raw: None,
            cfg: json!({}),
        }
    }

    /// Use this router address instead of looking it up.
    pub fn with_router(mut self, addr: impl Into<String>) -> Self {
        self.vr_override = Some(addr.into());
        self
    }

    /// Metadata on `<router>:port` instead of port 80.
    pub fn with_metadata_port(mut self, port: u16) -> Self {
        self.metadata_port = Some(port);
        self
    }

    /// The password server's URL instead of `http://<router>:8080/`.
    pub fn with_password_url(mut self, url: impl Into<String>) -> Self {
        self.password_url = Some(url.into());
        self
    }

    pub fn with_policy(mut self, policy: CloudStackPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The config the datasource contributes (upstream `get_config_obj`):
    /// the password settings when the password server had one, else `{}`.
    pub fn config_obj(&self) -> &Value {
        &self.cfg
    }

    pub(crate) fn restore(
        stage: Stage,
        opts: SourceOptions,
        v: &Value,
    ) -> Result<Self, SourceError> {
        let mut ds = CloudStack::new(stage, opts);
        let bad = |what: &str| SourceError::Cache(format!("CloudStack entry: bad {what}"));
        ds.metadata = match v.get("metadata") {
            Some(m @ Value::Object(_)) => m.clone(),
            _ => return Err(bad("metadata")),
        };
        ds.userdata_raw = blob::decode(v.get("userdata_raw")).map_err(|_| bad("userdata_raw"))?;
        ds.cfg = v.get("config").cloned().unwrap_or_else(|| json!({}));
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(String::from);
        ds.vr_addr = s("vr_addr");
        ds.metadata_address = s("metadata_address");
        Ok(ds)
    }

    fn read_seed(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        let dir = format!("{}/cs", ctx.seed_dir());
        let md_path = format!("{dir}/meta-data");
        let (Ok(Some(md)), Ok(Some(ud))) = (
            ctx.host.read_optional(&md_path),
            ctx.host.read_optional(format!("{dir}/user-data")),
        ) else {
            return Ok(false);
        };
        let md =
            ci_yaml::load(&String::from_utf8_lossy(&md)).map_err(|e| SourceError::Malformed {
                what: md_path.clone(),
                message: e.to_string(),
            })?;
        self.metadata = if md.is_object() { md } else { json!({}) };
        self.userdata_raw = Some(ud);
        log::debug!("Using seeded cloudstack data from: {dir}");
        Ok(true)
    }

    fn wait_for_service(&self, ctx: &SourceContext, address: &str) -> bool {
        let cfg = ctx.ds_cfg("CloudStack");
        let max_wait = cfg_int(&cfg, "max_wait", URL_MAX_WAIT);
        let timeout = cfg_int(&cfg, "timeout", URL_TIMEOUT).max(0);
        if max_wait <= 0 {
            return false;
        }
        let urls = vec![crawl::combine_url(address, "latest/meta-data/instance-id")];
        if !sandbox_allows(ctx.host, address) {
            return false;
        }
        let start = Instant::now();
        let found = wait_for_url(
            &self.opts.http,
            &urls,
            Duration::from_secs(max_wait.unsigned_abs()),
            Duration::from_secs(timeout.unsigned_abs()),
            |m| log::warn!("{m}"),
        );
        match found {
            Some(u) => {
                log::debug!("Using metadata source: '{u}'");
                true
            }
            None => {
                log::error!(
                    "Giving up on waiting for the metadata from ['{}'] after {} seconds",
                    urls.join("', '"),
                    start.elapsed().as_secs()
                );
                false
            }
        }
    }
}

impl Datasource for CloudStack {
    fn ds_config(&self) -> Option<Value> {
        let cfg = self.config_obj();
        (cfg.is_object() && cfg.as_object().is_some_and(|m| !m.is_empty())).then(|| cfg.clone())
    }

    fn dsname(&self) -> &'static str {
        "CloudStack"
    }

    fn class_name(&self) -> &'static str {
        "DataSourceCloudStack"
    }

    fn stage(&self) -> Stage {
        self.stage
    }

    fn crawl(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        let vr = match self.vr_override.clone() {
            Some(v) => Some(v),
            None => router::vr_address(ctx.host),
        };
        let Some(vr) = vr else {
            return Err(SourceError::Malformed {
                what: "CloudStack".into(),
                message: "No virtual router found!".into(),
            });
        };
        let address = match self.metadata_port {
            Some(p) => format!("http://{vr}:{p}/"),
            None => format!("http://{vr}/"),
        };
        self.vr_addr = Some(vr.clone());
        self.metadata_address = Some(address.clone());
        if self.read_seed(ctx)? {
            return Ok(true);
        }
        if !self.wait_for_service(ctx, &address) {
            return Ok(false);
        }
        let start = Instant::now();
        let p = &self.policy;
        let r = reader(&self.opts.http, p.timeout, p.retries, p.sec_between);
        self.userdata_raw = Some(crawl::user_data(&r, &address, API_VERSION));
        self.metadata = crawl::meta_data(&r, &address, API_VERSION);
        log::debug!(
            "Crawl of metadata service took {} seconds",
            start.elapsed().as_secs()
        );
        let pw_url = self
            .password_url
            .clone()
            .unwrap_or_else(|| format!("http://{vr}:{PASSWORD_PORT}/"));
        let pr = reader(
            &self.opts.http,
            p.password_timeout,
            p.password_retries,
            Duration::ZERO,
        );
        match fetch_password(&pr, &pw_url, Flavor::CloudStack) {
            Ok(Some(pw)) => self.cfg = password_config(&pw),
            Ok(None) => {}
            Err(e) => {
                log::warn!("Failed to fetch password from virtual router {vr}");
                log::debug!("{e}");
            }
        }
        Ok(true)
    }

    fn metadata(&self) -> &Value {
        &self.metadata
    }

    fn userdata_raw(&self) -> Option<&[u8]> {
        self.userdata_raw.as_deref()
    }

    /// Meta-data `instance-id`; upstream fails without one, we fall back
    /// to `vm-id`, which CloudStack serves with the same value.
    fn instance_id(&self) -> String {
        self.metadata
            .get("instance-id")
            .or_else(|| self.metadata.get("vm-id"))
            .map(py_str)
            .unwrap_or_default()
    }

    fn get_hostname(&self, host: &Host, fqdn: bool, metadata_only: bool) -> DsHostname {
        let md_host = DefaultRules(&self.metadata).get_hostname(host, fqdn, metadata_only);
        let Some(name) = md_host.hostname.clone() else {
            return md_host;
        };
        if fqdn && !name.contains('.') {
            log::debug!("FQDN requested");
            if let Some(domain) = router::domain_name(host) {
                let full = format!("{name}.{domain}");
                log::debug!("Obtained the following FQDN: {full}");
                return DsHostname {
                    hostname: Some(full),
                    is_default: md_host.is_default,
                };
            }
            log::debug!(
                "Could not determine domain name for FQDN. Fall back to hostname as an FQDN: {fqdn}"
            );
        }
        md_host
    }

    fn metadata_address(&self) -> Option<&str> {
        self.metadata_address.as_deref()
    }

    fn availability_zone(&self) -> Option<String> {
        self.metadata.get("availability-zone").map(py_str)
    }

    fn to_cache(&self) -> Value {
        json!({
            "format": crate::CACHE_FORMAT,
            "class": self.class_name(),
            "dsname": self.dsname(),
            "stage": self.stage.as_cache_str(),
            "metadata": self.metadata,
            "userdata_raw": blob::encode(self.userdata_raw.as_deref()),
            "config": self.cfg,
            "vr_addr": self.vr_addr,
            "metadata_address": self.metadata_address,
        })
    }
}

/// The trait's default rules over a metadata mapping, for overrides that
/// start from upstream's parent-class answer.
struct DefaultRules<'a>(&'a Value);

impl Datasource for DefaultRules<'_> {
    fn dsname(&self) -> &'static str {
        "CloudStack"
    }
    fn class_name(&self) -> &'static str {
        "DataSourceCloudStack"
    }
    fn stage(&self) -> Stage {
        Stage::Network
    }
    fn crawl(&mut self, _ctx: &SourceContext) -> Result<bool, SourceError> {
        Ok(false)
    }
    fn metadata(&self) -> &Value {
        self.0
    }
    fn userdata_raw(&self) -> Option<&[u8]> {
        None
    }
    fn to_cache(&self) -> Value {
        Value::Null
    }
}
