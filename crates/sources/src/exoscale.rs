//! Exoscale: a CloudStack-derived EC2-style service at
//! `http://169.254.169.254/1.0/` and its password server on port 8080.
//!
//! Upstream's sequence (network stage): detected when DMI `product_name`
//! starts with `Exoscale`; wait up to 120 s for `1.0/meta-data/instance-id`
//! (every failed try logged as critical), read `1.0/user-data` and the
//! `1.0/meta-data/` tree, then ask `<metadata_url>:8080/1.0/` for a pending
//! password (`DomU_Request: send_my_password`, acknowledged with
//! `saved_password`). A password becomes datasource config: `ssh_pwauth:
//! true`, `password`, `chpasswd: {expire: false}` (the default user's).
//!
//! Config `datasource.Exoscale`: `metadata_url`, `api_version`,
//! `password_server_port`, `timeout`, `retries`.

use crate::blob;
use crate::cache_entry::CacheEntry;
use crate::cloudstack::crawl;
use crate::context::{SourceContext, SourceOptions, Stage};
use crate::datasource::Datasource;
use crate::error::SourceError;
use crate::password_server::{fetch_password, password_config, Flavor};
use crate::url_ext::{cfg_int, cfg_secs, reader, sandbox_allows, wait_for_url};
use ci_pyval::py_str;
use serde_json::{json, Value};
use std::time::Duration;

pub const DEFAULT_METADATA_URL: &str = "http://169.254.169.254";
const API_VERSION: &str = "1.0";
const PASSWORD_SERVER_PORT: i64 = 8080;
const URL_TIMEOUT: f64 = 10.0;
const URL_RETRIES: i64 = 6;
const URL_MAX_WAIT: Duration = Duration::from_secs(120);
const DMI_NAME: &str = "Exoscale";

pub struct Exoscale {
    stage: Stage,
    opts: SourceOptions,
    metadata_url: String,
    password_url: Option<String>,
    max_wait: Duration,
    sec_between: Duration,
    metadata: Value,
    userdata_raw: Option<Vec<u8>>,
    api_version: Option<String>,
    extra_config: Value,
}

impl Exoscale {
    pub fn new(stage: Stage, opts: SourceOptions) -> Self {
        Exoscale {
            stage,
            opts,
            metadata_url: DEFAULT_METADATA_URL.into(),
            password_url: None,
            max_wait: URL_MAX_WAIT,
            sec_between: Duration::from_secs(1),
            metadata: json!({}),
            userdata_raw: None,
            api_version: None,
            extra_config: json!({}),
        }
    }

    /// Replace the builtin metadata URL (config `metadata_url` still wins).
    pub fn with_metadata_url(mut self, url: impl Into<String>) -> Self {
        self.metadata_url = url.into();
        self
    }

    /// The password server's URL instead of `<metadata_url>:<port>/<ver>/`.
    pub fn with_password_url(mut self, url: impl Into<String>) -> Self {
        self.password_url = Some(url.into());
        self
    }

    /// How long to wait for the service (upstream: 120 s) and between retries (1 s).
    pub fn with_wait(mut self, max_wait: Duration, sec_between: Duration) -> Self {
        self.max_wait = max_wait;
        self.sec_between = sec_between;
        self
    }

    /// The config the datasource contributes (upstream `get_config_obj`).
    pub fn config_obj(&self) -> &Value {
        &self.extra_config
    }

    pub(crate) fn restore(
        stage: Stage,
        opts: SourceOptions,
        v: &Value,
    ) -> Result<Self, SourceError> {
        let mut ds = Exoscale::new(stage, opts);
        let e = CacheEntry::new("Exoscale", v);
        ds.metadata = e.metadata()?;
        ds.userdata_raw = e.blob("userdata_raw")?;
        ds.extra_config = v.get("config").cloned().unwrap_or_else(|| json!({}));
        ds.api_version = e.string("api_version");
        Ok(ds)
    }
}

impl Datasource for Exoscale {
    fn log_init(&self) {
        log::debug!("Initializing the Exoscale datasource");
    }

    fn ds_config(&self) -> Option<Value> {
        let cfg = self.config_obj();
        (cfg.is_object() && cfg.as_object().is_some_and(|m| !m.is_empty())).then(|| cfg.clone())
    }

    fn dsname(&self) -> &'static str {
        "Exoscale"
    }

    fn class_name(&self) -> &'static str {
        "DataSourceExoscale"
    }

    fn stage(&self) -> Stage {
        self.stage
    }

    fn ds_detect(&self, ctx: &SourceContext) -> bool {
        crate::dmi::read(ctx.host, "system-product-name").is_some_and(|p| p.starts_with(DMI_NAME))
    }

    fn crawl(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        let cfg = ctx.ds_cfg("Exoscale");
        let base = cfg
            .get("metadata_url")
            .map(py_str)
            .unwrap_or_else(|| self.metadata_url.clone());
        let version = cfg
            .get("api_version")
            .map(py_str)
            .unwrap_or_else(|| API_VERSION.into());
        let port = cfg_int(&cfg, "password_server_port", PASSWORD_SERVER_PORT);
        let timeout = cfg_secs(&cfg, "timeout", URL_TIMEOUT);
        let retries = u32::try_from(cfg_int(&cfg, "retries", URL_RETRIES).max(0)).unwrap_or(0);

        let probe = format!("{base}/{version}/meta-data/instance-id");
        let ready = sandbox_allows(ctx.host, &base)
            && wait_for_url(
                &self.opts.http,
                std::slice::from_ref(&probe),
                self.max_wait,
                timeout,
                |m| log::error!("{m}"),
            )
            .is_some();
        if !ready {
            log::error!("Unable to get response from metadata service");
            return Ok(false);
        }
        let r = reader(&self.opts.http, timeout, retries, self.sec_between);
        self.userdata_raw = Some(crawl::user_data(&r, &base, &version));
        self.metadata = crawl::meta_data(&r, &base, &version);
        self.api_version = Some(version.clone());

        let pw_url = self
            .password_url
            .clone()
            .unwrap_or_else(|| format!("{base}:{port}/{version}/"));
        let password = match fetch_password(&r, &pw_url, Flavor::Exoscale) {
            Ok(p) => p,
            Err(e) => {
                log::warn!("failed to read from password server url {base}:{port} ({e})");
                None
            }
        };
        // Upstream merges its own extra_config over the password config.
        let mut merged = password
            .as_deref()
            .map(password_config)
            .unwrap_or_else(|| json!({}));
        if let (Value::Object(m), Value::Object(own)) = (&mut merged, &self.extra_config) {
            for (k, v) in own {
                m.insert(k.clone(), v.clone());
            }
        }
        self.extra_config = merged;
        Ok(true)
    }

    fn metadata(&self) -> &Value {
        &self.metadata
    }

    fn userdata_raw(&self) -> Option<&[u8]> {
        self.userdata_raw.as_deref()
    }

    fn to_cache(&self) -> Value {
        json!({
            "format": crate::CACHE_FORMAT,
            "class": self.class_name(),
            "dsname": self.dsname(),
            "stage": self.stage.as_cache_str(),
            "metadata": self.metadata,
            "userdata_raw": blob::encode(self.userdata_raw.as_deref()),
            "config": self.extra_config,
            "api_version": self.api_version,
        })
    }
}
