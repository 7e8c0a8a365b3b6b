//! LXD: instance data from the devlxd API on the unix socket `/dev/lxd/sock`
//! (local stage).
//!
//! Upstream reads `/1.0/meta-data` (YAML), walks `/1.0/config` (every key,
//! `cloud-init.*` and legacy `user.*` ones promoted to user-data,
//! vendor-data and network-config, `cloud-init.*` winning) and
//! `/1.0/devices`. Without a network-config key the network config is the
//! v1 fallback: DHCP on the first connected NIC.

use crate::blob;
use crate::context::{SourceContext, SourceOptions, Stage};
use crate::datasource::Datasource;
use crate::error::SourceError;
use crate::yamlblob::load_dict;
use ci_host::{Cmd, Host};
use serde_json::{json, Map, Value};
use std::os::unix::fs::FileTypeExt;
use std::time::Duration;

mod http;

pub const LXD_SOCKET_PATH: &str = "/dev/lxd/sock";
pub const LXD_SOCKET_API_VERSION: &str = "1.0";
/// Attempts when devlxd answers 500 (upstream: 30, 0.1 s apart).
const RETRIES_ON_500: u32 = 30;

/// Config keys promoted to top-level data, as upstream's `CONFIG_KEY_ALIASES`.
const CONFIG_KEY_ALIASES: &[(&str, &str)] = &[
    ("cloud-init.user-data", "user-data"),
    ("cloud-init.network-config", "network-config"),
    ("cloud-init.vendor-data", "vendor-data"),
    ("user.user-data", "user-data"),
    ("user.network-config", "network-config"),
    ("user.vendor-data", "vendor-data"),
];

pub struct Lxd {
    stage: Stage,
    #[allow(dead_code)]
    opts: SourceOptions,
    /// The socket, as a path inside the host root.
    socket: String,
    timeout: Duration,
    retry_sleep: Duration,
    metadata: Value,
    /// Upstream's `_crawled_metadata` (config keys, devices, raw texts).
    crawled: Value,
    userdata_raw: Option<Vec<u8>>,
    vendordata_raw: Option<Vec<u8>>,
    network: Option<Value>,
}

fn invalid(message: String) -> SourceError {
    SourceError::Malformed {
        what: "LXD".into(),
        message,
    }
}

impl Lxd {
    pub fn new(stage: Stage, opts: SourceOptions) -> Self {
        Lxd {
            stage,
            opts,
            socket: LXD_SOCKET_PATH.into(),
            timeout: Duration::from_secs(10),
            retry_sleep: Duration::from_millis(100),
            metadata: json!({}),
            crawled: json!({}),
            userdata_raw: None,
            vendordata_raw: None,
            network: None,
        }
    }

    /// Another socket path (inside the host root) and per-request timeout.
    pub fn with_socket(mut self, path: impl Into<String>, timeout: Duration) -> Self {
        self.socket = path.into();
        self.timeout = timeout;
        self
    }

    /// Pause between retries of a 500 answer (upstream: 0.1 s).
    pub fn with_retry_sleep(mut self, d: Duration) -> Self {
        self.retry_sleep = d;
        self
    }

    /// The raw crawl (`_metadata_api_version`, `meta-data`, `config`, `devices`, ...).
    pub fn crawled(&self) -> &Value {
        &self.crawled
    }

    pub(crate) fn restore(
        stage: Stage,
        opts: SourceOptions,
        v: &Value,
    ) -> Result<Self, SourceError> {
        let mut ds = Lxd::new(stage, opts);
        ds.metadata = match v.get("metadata") {
            Some(m @ Value::Object(_)) => m.clone(),
            _ => {
                return Err(SourceError::Cache(
                    "LXD entry: missing or bad metadata".into(),
                ))
            }
        };
        let bad = |k: &str| SourceError::Cache(format!("LXD entry: bad {k}"));
        ds.userdata_raw = blob::decode(v.get("userdata_raw")).map_err(|_| bad("userdata_raw"))?;
        ds.vendordata_raw =
            blob::decode(v.get("vendordata_raw")).map_err(|_| bad("vendordata_raw"))?;
        ds.crawled = v.get("crawled").cloned().unwrap_or_else(|| json!({}));
        ds.network = v.get("network").filter(|n| !n.is_null()).cloned();
        Ok(ds)
    }

    /// Upstream `_do_request`: retry a 500, log, and (when `raise`) refuse non-2xx.
    fn request(
        &self,
        host: &Host,
        route: &str,
        raise: bool,
    ) -> Result<(u16, Vec<u8>), SourceError> {
        let sock = host.resolve(&self.socket);
        let url = format!("http://lxd{route}");
        let mut left = RETRIES_ON_500;
        let (code, body) = loop {
            let (code, body) = http::get(&sock, route, self.timeout).map_err(invalid)?;
            if ci_http::status::LXD_RETRY_CODES.contains(&code) && left > 0 {
                std::thread::sleep(self.retry_sleep);
                log::warn!("[GET] [HTTP:{code}] {url}, retrying {left} more time(s)");
                left -= 1;
                continue;
            }
            break (code, body);
        };
        log::debug!("[GET] [HTTP:{code}] {url}");
        if raise && !(200..300).contains(&code) {
            return Err(invalid(format!(
                "Invalid HTTP response [{code}] from {url}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        Ok((code, body))
    }

    /// Upstream `_get_json_response`: `{}` for a non-2xx answer.
    fn json(&self, host: &Host, route: &str, raise: bool) -> Result<Value, SourceError> {
        let (code, body) = self.request(host, route, raise)?;
        let url = format!("http://lxd{route}");
        let text = String::from_utf8_lossy(&body);
        if !(200..300).contains(&code) {
            log::debug!("Skipping {url} on [HTTP:{code}]:{text}");
            return Ok(json!({}));
        }
        serde_json::from_slice(&body).map_err(|_| {
            invalid(format!(
                "Unable to process LXD config at {url}. Expected JSON but found: {text}"
            ))
        })
    }

    /// Upstream `read_metadata` (all keys, or meta-data only).
    fn read_metadata(&self, host: &Host, all: bool) -> Result<Map<String, Value>, SourceError> {
        let v = LXD_SOCKET_API_VERSION;
        let mut md = Map::new();
        md.insert("_metadata_api_version".into(), json!(v));
        let (_, body) = self.request(host, &format!("/{v}/meta-data"), true)?;
        md.insert("meta-data".into(), json!(String::from_utf8_lossy(&body)));
        if !all {
            return Ok(md);
        }
        let mut config = Map::new();
        let routes = self.json(host, &format!("/{v}/config"), true)?;
        let mut routes: Vec<String> = match routes {
            Value::Array(a) => a
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect(),
            _ => Vec::new(),
        };
        routes.sort();
        for route in routes {
            let url = format!("http://lxd{route}");
            let (code, body) = self.request(host, &route, false)?;
            let text = String::from_utf8_lossy(&body).into_owned();
            if !(200..300).contains(&code) {
                log::debug!("Skipping {url} on [HTTP:{code}]:{text}");
                continue;
            }
            let key = route.rsplit('/').next().unwrap_or_default().to_string();
            config.insert(key.clone(), json!(text));
            if let Some((_, alias)) = CONFIG_KEY_ALIASES.iter().find(|(k, _)| *k == key) {
                if md.contains_key(*alias) {
                    log::warn!(
                        "Ignoring LXD config {key} in favor of {} value.",
                        key.replacen("user", "cloud-init", 1)
                    );
                } else {
                    md.insert((*alias).to_string(), json!(text));
                }
            }
        }
        md.insert("config".into(), Value::Object(config));
        let devices = self.json(host, &format!("/{v}/devices"), false)?;
        if devices.as_object().is_some_and(|d| !d.is_empty()) {
            md.insert("devices".into(), devices);
        }
        Ok(md)
    }
}

/// Upstream `_raw_instance_data_to_dict` for a text value.
fn to_dict(kind: &str, text: Option<&Value>) -> Result<Map<String, Value>, SourceError> {
    let Some(text) = text else {
        return Ok(Map::new());
    };
    if let Value::Object(m) = text {
        return Ok(m.clone());
    }
    let s = text.as_str().unwrap_or_default();
    match load_dict(s.as_bytes(), &format!("LXD {kind}")) {
        Some(Value::Object(m)) => Ok(m),
        _ => Err(invalid(format!(
            "Invalid {kind} format. Expected YAML but found: {s}"
        ))),
    }
}

/// Upstream `generate_network_config`: v1 DHCP on the fallback NIC, or the
/// platform's default NIC name when none is found.
fn fallback_network(host: &Host) -> Value {
    let nic = match ci_net::find_fallback_nic(host) {
        Some(n) => {
            log::debug!("LXD datasource generating network from discovered active device: {n}");
            n
        }
        None => {
            let n = default_interface_name(host);
            log::debug!(
                "LXD datasource generating network from systemd-detect-virt platform default device: {n}"
            );
            n
        }
    };
    json!({"version": 1, "config": [
        {"type": "physical", "name": nic, "subnets": [{"type": "dhcp", "control": "auto"}]}
    ]})
}

/// Upstream `_get_fallback_interface_name`: VMs name their NIC by slot.
fn default_interface_name(host: &Host) -> String {
    let out = match host
        .runner()
        .execute(host, &Cmd::new(["systemd-detect-virt"]))
    {
        Ok(o) => o,
        Err(ci_host::CmdError::Spawn { .. }) => return "eth0".into(),
        Err(e) => {
            log::warn!("Unable to run systemd-detect-virt: {e}. Rendering default network config.");
            return "eth0".into();
        }
    };
    if matches!(out.stdout_str().trim(), "kvm" | "qemu") {
        return match std::env::consts::ARCH {
            "powerpc64" => "enp0s5",
            "s390x" => "enc9",
            _ => "enp5s0",
        }
        .into();
    }
    "eth0".into()
}

impl Datasource for Lxd {
    /// LXD's metadata does not list a hot-added NIC's MAC; upstream applies
    /// the refreshed config without looking for it.
    fn skip_hotplug_detect(&self) -> bool {
        true
    }

    fn dsname(&self) -> &'static str {
        "LXD"
    }

    fn class_name(&self) -> &'static str {
        "DataSourceLXD"
    }

    fn stage(&self) -> Stage {
        self.stage
    }

    fn ds_detect(&self, ctx: &SourceContext) -> bool {
        match std::fs::symlink_metadata(ctx.host.path(&self.socket)) {
            Err(_) => {
                log::warn!("{} does not exist.", self.socket);
                false
            }
            Ok(m) if !m.file_type().is_socket() => {
                log::warn!("{} is not a socket", self.socket);
                false
            }
            Ok(_) => true,
        }
    }

    fn crawl(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        let crawled = self.read_metadata(ctx.host, true)?;
        let mut metadata = to_dict("meta-data", crawled.get("meta-data"))?;
        if let Some(user_md) = crawled
            .get("config")
            .and_then(|c| c.get("user.meta-data"))
            .filter(|v| ci_pyval::truthy(v))
        {
            metadata.extend(to_dict("user.meta-data", Some(user_md))?);
        }
        let bytes = |k: &str| {
            crawled
                .get(k)
                .and_then(Value::as_str)
                .map(|s| s.as_bytes().to_vec())
        };
        self.userdata_raw = bytes("user-data");
        self.vendordata_raw = bytes("vendor-data");
        let provided = match crawled.get("network-config") {
            Some(nc) => Some(to_dict("network-config", Some(nc))?),
            None => None,
        };
        self.network = match provided {
            Some(nc) => {
                log::debug!("LXD datasource using provided network config");
                Some(Value::Object(nc))
            }
            None => {
                if crawled.get("devices").is_none() {
                    log::debug!("LXD datasource generating network config using fallback.");
                }
                Some(fallback_network(ctx.host))
            }
        };
        self.metadata = Value::Object(metadata);
        self.crawled = Value::Object(crawled);
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

    fn platform_type(&self) -> String {
        "lxd".into()
    }

    fn subplatform(&self) -> String {
        format!("LXD socket API v. {LXD_SOCKET_API_VERSION} ({LXD_SOCKET_PATH})")
    }

    /// Upstream: ask devlxd for meta-data again and compare instance-ids.
    fn check_instance_id(&self, ctx: &SourceContext) -> bool {
        let Ok(md) = self.read_metadata(ctx.host, false) else {
            return false;
        };
        let Ok(fresh) = to_dict("meta-data", md.get("meta-data")) else {
            return false;
        };
        fresh.get("instance-id") == self.metadata.get("instance-id")
    }

    fn to_cache(&self) -> Value {
        json!({
            "format": crate::CACHE_FORMAT,
            "class": self.class_name(),
            "dsname": self.dsname(),
            "stage": self.stage.as_cache_str(),
            "metadata": self.metadata,
            "crawled": self.crawled,
            "userdata_raw": blob::encode(self.userdata_raw.as_deref()),
            "vendordata_raw": blob::encode(self.vendordata_raw.as_deref()),
            "network": self.network,
        })
    }
}
