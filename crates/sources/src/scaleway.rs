//! Scaleway: the instance metadata API at `169.254.42.42` (or
//! `[fd00:42::42]` on IPv6-only instances), local stage only.
//!
//! Upstream's sequence: bring up DHCPv4 on the fallback NIC (if that fails,
//! an IPv6 link-local network), wait up to `max_wait` for one of the base
//! URLs, read `conf?format=json` (the metadata mapping), then
//! `user_data/cloud-init` and `vendor_data/cloud-init`, which the real API
//! only serves to a source port below 1024 (proof the client is root) and
//! answers 404 when unset. Detection: DMI `sys_vendor` Scaleway,
//! `/var/run/scaleway`, or `scaleway` anywhere on the kernel command line.

use crate::blob;
use crate::cache_entry::CacheEntry;
use crate::context::{SourceContext, SourceOptions, Stage};
use crate::datasource::{Datasource, DsHostname};
use crate::ephemeral::EphemeralKind;
use crate::error::SourceError;
use crate::url::UrlError;
use crate::url_ext::{cfg_int, get_from_port, reader, sandbox_allows, wait_for_url, SourcePort};
use ci_host::Host;
use ci_pyval::py_str;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// Upstream's `DS_BASE_URLS`.
pub const DEFAULT_BASE_URLS: &[&str] = &["http://169.254.42.42", "http://[fd00:42::42]"];
const DEF_RETRIES: i64 = 3;
const DEF_MAX_WAIT: i64 = 2;
const DEF_TIMEOUT: i64 = 10;
/// Route upstream forces towards the metadata API on the DHCP address.
const MD_ROUTE_VIA: &str = "62.210.0.1";
const AUTHORIZED_KEY: &str = "AUTHORIZED_KEY=";

pub struct Scaleway {
    stage: Stage,
    opts: SourceOptions,
    base_urls: Vec<String>,
    /// `None`: when running as root on the real root (a sandbox root
    /// never reaches the real API, and only root may bind below 1024).
    privileged_port: Option<bool>,
    retry_pause: Duration,
    metadata: Value,
    userdata_raw: Option<Vec<u8>>,
    vendordata_raw: Option<Vec<u8>>,
    /// The DHCPv4 address the ephemeral lease got (upstream `ephemeral_fixed_address`).
    fixed_address: Option<String>,
    /// The NIC brought up (upstream's `distro.fallback_interface`).
    iface: Option<String>,
    has_ipv4: bool,
}

impl Scaleway {
    pub fn new(stage: Stage, opts: SourceOptions) -> Self {
        Scaleway {
            stage,
            opts,
            base_urls: DEFAULT_BASE_URLS.iter().map(|s| s.to_string()).collect(),
            privileged_port: None,
            retry_pause: Duration::from_secs(5),
            metadata: json!({}),
            userdata_raw: None,
            vendordata_raw: None,
            fixed_address: None,
            iface: None,
            has_ipv4: true,
        }
    }

    /// Use these base URLs instead of upstream's (config `metadata_urls`
    /// are still appended, as upstream).
    pub fn with_metadata_urls<S: Into<String>>(
        mut self,
        urls: impl IntoIterator<Item = S>,
    ) -> Self {
        self.base_urls = urls.into_iter().map(Into::into).collect();
        self
    }

    /// Whether user-data and vendor-data requests leave from a port below
    /// 1024 (default: when running as root on the real root directory).
    pub fn with_privileged_port(mut self, on: bool) -> Self {
        self.privileged_port = Some(on);
        self
    }

    /// Pause between user-data attempts (upstream: 5 s).
    pub fn with_retry_pause(mut self, pause: Duration) -> Self {
        self.retry_pause = pause;
        self
    }

    pub(crate) fn restore(
        stage: Stage,
        opts: SourceOptions,
        v: &Value,
    ) -> Result<Self, SourceError> {
        let mut ds = Scaleway::new(stage, opts);
        let e = CacheEntry::new("Scaleway", v);
        ds.metadata = e.metadata()?;
        ds.userdata_raw = e.blob("userdata_raw")?;
        ds.vendordata_raw = e.blob("vendordata_raw")?;
        ds.fixed_address = e.string("ephemeral_fixed_address");
        ds.iface = e.string("iface");
        ds.has_ipv4 = v.get("has_ipv4").and_then(Value::as_bool).unwrap_or(true);
        Ok(ds)
    }

    /// One network attempt: find the API, read everything.
    fn crawl_here(&mut self, ctx: &SourceContext, cfg: &Value) -> Result<bool, SourceError> {
        let max_wait = Duration::from_secs(cfg_int(cfg, "max_wait", DEF_MAX_WAIT).max(0) as u64);
        let timeout = Duration::from_secs(cfg_int(cfg, "timeout", DEF_TIMEOUT).max(0) as u64);
        let retries = cfg_int(cfg, "retries", DEF_RETRIES).max(0);
        let mut urls = self.base_urls.clone();
        if let Some(extra) = cfg.get("metadata_urls").and_then(Value::as_array) {
            urls.extend(extra.iter().map(py_str));
        }
        urls.retain(|u| sandbox_allows(ctx.host, u));
        let found = if urls.is_empty() {
            None
        } else {
            wait_for_url(&self.opts.http, &urls, max_wait, timeout, |m| {
                log::debug!("{m}")
            })
        };
        let Some(base) = found else {
            log::debug!(
                "Unable to reach api-metadata at {} after {} seconds",
                py_list(&urls),
                max_wait.as_secs()
            );
            return Ok(false);
        };
        log::debug!("{base} is reachable");
        let md_url = format!("{base}/conf?format=json");
        let resp = reader(
            &self.opts.http,
            timeout,
            retries.try_into().unwrap_or(u32::MAX),
            Duration::from_secs(1),
        )
        .get(&md_url, &[])?;
        self.metadata = serde_json::from_slice(&resp.body).map_err(|e| SourceError::Malformed {
            what: format!("Scaleway metadata at {md_url}"),
            message: e.to_string(),
        })?;
        self.userdata_raw = self.data_api(
            ctx.host,
            "user-data",
            &format!("{base}/user_data/cloud-init"),
            retries,
            timeout,
        )?;
        self.vendordata_raw = self.data_api(
            ctx.host,
            "vendor-data",
            &format!("{base}/vendor_data/cloud-init"),
            retries,
            timeout,
        )?;
        Ok(true)
    }

    /// Upstream `query_data_api`: ports 1, 2, ... in order (`retries - 1`
    /// of them, at least one), each bound by `ci_http` on the unspecified
    /// address of the API's family; any failure (a busy port, a refusal,
    /// a 429) warns, waits and moves to the next port; 404 means unset.
    fn data_api(
        &self,
        host: &Host,
        what: &str,
        url: &str,
        retries: i64,
        timeout: Duration,
    ) -> Result<Option<Vec<u8>>, SourceError> {
        let last_port = retries.max(2);
        let mut last: Option<UrlError> = None;
        for port in 1..last_port {
            log::debug!("Trying to get {what} data (bind on port {port})...");
            let privileged = self
                .privileged_port
                .unwrap_or_else(|| Host::running_as_root() && !host.is_sandbox());
            let source = if privileged {
                SourcePort::Privileged(u16::try_from(port).unwrap_or(1023).min(1023))
            } else {
                SourcePort::Any
            };
            match get_from_port(&self.opts.http, url, source, timeout) {
                Ok(data) => {
                    log::debug!("{what}-data downloaded");
                    return Ok(data);
                }
                Err(e) => {
                    log::warn!("Error while trying to get {what} data: {e}");
                    std::thread::sleep(self.retry_pause);
                    last = Some(e);
                }
            }
        }
        Err(last
            .map(SourceError::Url)
            .unwrap_or_else(|| SourceError::Malformed {
                what: format!("Scaleway {what}"),
                message: "no attempt made".into(),
            }))
    }

    /// Upstream's `network_config` from the crawled metadata.
    fn build_network(&self) -> Value {
        let iface = self.iface.clone().unwrap_or_else(|| "eth0".into());
        let md = &self.metadata;
        let private_ip = md.get("private_ip").unwrap_or(&Value::Null);
        if private_ip.is_null() {
            let mut cfg = Map::new();
            let empty = Vec::new();
            let ips = md
                .get("public_ips")
                .and_then(Value::as_array)
                .unwrap_or(&empty);
            for ip in ips {
                let field = |k: &str| ip.get(k).map(py_str).unwrap_or_else(|| "None".into());
                let address = ip.get("address").map(py_str);
                if address.is_some() && address == self.fixed_address {
                    cfg.insert("dhcp4".into(), json!(true));
                    push(
                        &mut cfg,
                        "routes",
                        json!({"on-link": true, "to": "169.254.42.42/32", "via": MD_ROUTE_VIA}),
                    );
                } else {
                    push(
                        &mut cfg,
                        "addresses",
                        json!(format!("{}/{}", field("address"), field("netmask"))),
                    );
                    if ip.get("family").and_then(Value::as_str) == Some("inet6") {
                        push(
                            &mut cfg,
                            "routes",
                            json!({"via": ip.get("gateway").cloned().unwrap_or(Value::Null), "to": "::/0"}),
                        );
                    }
                }
            }
            let mut eth = Map::new();
            eth.insert(iface, Value::Object(cfg));
            return json!({"version": 2, "ethernets": eth});
        }
        let mut subnets = vec![json!({"type": "dhcp4"})];
        if let Some(v6) = md.get("ipv6").filter(|v| ci_pyval::truthy(v)) {
            let f = |k: &str| v6.get(k).map(py_str).unwrap_or_else(|| "None".into());
            subnets.push(json!({
                "type": "static",
                "address": f("address"),
                "netmask": f("netmask"),
                "routes": [{"network": "::", "prefix": "0", "gateway": f("gateway")}],
            }));
        }
        json!({"version": 1, "config": [{"type": "physical", "name": iface, "subnets": subnets}]})
    }
}

fn push(cfg: &mut Map<String, Value>, key: &str, item: Value) {
    match cfg.get_mut(key) {
        Some(Value::Array(a)) => a.push(item),
        _ => {
            cfg.insert(key.into(), json!([item]));
        }
    }
}

fn py_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", inner.join(", "))
}

impl Datasource for Scaleway {
    fn needs_ephemeral_net(&self) -> bool {
        self.stage == Stage::Local
    }

    fn dsname(&self) -> &'static str {
        "Scaleway"
    }

    fn class_name(&self) -> &'static str {
        "DataSourceScaleway"
    }

    fn stage(&self) -> Stage {
        self.stage
    }

    fn ds_detect(&self, ctx: &SourceContext) -> bool {
        crate::dmi::read(ctx.host, "system-manufacturer").as_deref() == Some("Scaleway")
            || ctx.host.exists("/var/run/scaleway")
            || ctx.cmdline.contains("scaleway")
    }

    fn crawl(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        let cfg = ctx.ds_cfg("Scaleway");
        if self.has_ipv4 {
            match ctx.net.bring_up(&EphemeralKind::Dhcp4 { iface: None }) {
                Ok(lease) => {
                    self.iface = Some(lease.info().iface.clone());
                    if self.crawl_here(ctx, &cfg)? {
                        self.fixed_address = lease.info().address.clone();
                        set(&mut self.metadata, "net_in_use", "ipv4");
                        return Ok(true);
                    }
                    // Upstream logs the (empty) ConnectionError at WARNING.
                    log::warn!("");
                    self.has_ipv4 = false;
                }
                Err(e) => {
                    log::warn!("{e}");
                    self.has_ipv4 = false;
                }
            }
        }
        let lease = match ctx.net.bring_up(&EphemeralKind::LinkLocal6 { iface: None }) {
            Ok(l) => l,
            Err(e) => {
                log::debug!("IPv6 ephemeral network failed: {e}");
                return Ok(false);
            }
        };
        self.iface = Some(lease.info().iface.clone());
        if !self.crawl_here(ctx, &cfg)? {
            return Ok(false);
        }
        set(&mut self.metadata, "net_in_use", "ipv6");
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
        let cfg = self.build_network();
        log::debug!("network_config : {cfg}");
        Some(cfg)
    }

    fn instance_id(&self) -> String {
        self.metadata.get("id").map(py_str).unwrap_or_default()
    }

    fn get_hostname(&self, _host: &Host, _fqdn: bool, _metadata_only: bool) -> DsHostname {
        DsHostname {
            hostname: self.metadata.get("hostname").map(py_str),
            is_default: false,
        }
    }

    fn public_ssh_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .metadata
            .get("ssh_public_keys")
            .and_then(Value::as_array)
            .map(|l| l.iter().filter_map(|k| k.get("key")).map(py_str).collect())
            .unwrap_or_default();
        if let Some(tags) = self.metadata.get("tags").and_then(Value::as_array) {
            for tag in tags.iter().filter_map(Value::as_str) {
                if let Some(k) = tag.strip_prefix(AUTHORIZED_KEY) {
                    keys.push(k.replace('_', " "));
                }
            }
        }
        keys
    }

    fn region(&self) -> Option<String> {
        None
    }

    fn availability_zone(&self) -> Option<String> {
        None
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
            "ephemeral_fixed_address": self.fixed_address,
            "iface": self.iface,
            "has_ipv4": self.has_ipv4,
        })
    }
}

fn set(md: &mut Value, key: &str, v: &str) {
    if let Value::Object(m) = md {
        m.insert(key.into(), json!(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(md: Value, fixed: Option<&str>) -> Scaleway {
        let mut d = Scaleway::new(Stage::Local, SourceOptions::default());
        d.metadata = md;
        d.fixed_address = fixed.map(String::from);
        d.iface = Some("ens2".into());
        d
    }

    #[test]
    fn network_new_style() {
        let d = ds(
            json!({"private_ip": null, "public_ips": [
                {"address": "51.1.2.3", "netmask": "32", "family": "inet", "gateway": "62.210.0.1"},
                {"address": "2001:bc8::1", "netmask": "64", "family": "inet6", "gateway": "2001:bc8::"},
                {"address": "51.9.9.9", "netmask": "32", "family": "inet", "gateway": null}
            ]}),
            Some("51.1.2.3"),
        );
        assert_eq!(
            d.build_network(),
            json!({"version": 2, "ethernets": {"ens2": {
                "dhcp4": true,
                "routes": [{"on-link": true, "to": "169.254.42.42/32", "via": "62.210.0.1"},
                           {"via": "2001:bc8::", "to": "::/0"}],
                "addresses": ["2001:bc8::1/64", "51.9.9.9/32"]
            }}})
        );
    }

    #[test]
    fn network_legacy_and_keys() {
        let d = ds(
            json!({"private_ip": "10.1.1.1", "ipv6": {"address": "2001::2", "netmask": "127", "gateway": "2001::1"},
                   "ssh_public_keys": [{"key": "ssh-rsa A a@b", "fingerprint": "x"}],
                   "tags": ["web", "AUTHORIZED_KEY=ssh-ed25519_BBB_me@x"], "hostname": "sw-1", "id": "abc"}),
            None,
        );
        assert_eq!(
            d.build_network(),
            json!({"version": 1, "config": [{"type": "physical", "name": "ens2", "subnets": [
                {"type": "dhcp4"},
                {"type": "static", "address": "2001::2", "netmask": "127",
                 "routes": [{"network": "::", "prefix": "0", "gateway": "2001::1"}]}]}]})
        );
        assert_eq!(
            d.public_ssh_keys(),
            vec!["ssh-rsa A a@b", "ssh-ed25519 BBB me@x"]
        );
        assert_eq!(d.instance_id(), "abc");
        let no_v6 = ds(json!({"private_ip": "10.1.1.1", "ipv6": null}), None);
        assert_eq!(
            no_v6.build_network()["config"][0]["subnets"],
            json!([{"type": "dhcp4"}])
        );
    }
}
