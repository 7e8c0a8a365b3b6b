//! Ec2: the EC2 instance metadata service (IMDS), for AWS and EC2-alike
//! clouds. Two classes as upstream: `DataSourceEc2Local` (local stage, AWS
//! and Outscale only, inside temporary DHCPv4 + IPv6 link-local networking)
//! and `DataSourceEc2` (network stage); both have dsname `Ec2`.
//!
//! Upstream's sequence: identify the platform from DMI / `/sys/hypervisor`;
//! on AWS get an IMDSv2 token (`PUT latest/api/token`) and send it with
//! every request, elsewhere wait for `2009-04-04/meta-data/instance-id`
//! without one; probe the newest API version; then read `user-data`, crawl
//! `meta-data/` into a nested mapping and (AWS) the instance identity
//! document. Unlike upstream, the reads after the probe overlap (a few
//! workers on one kept-alive agent) and nothing is read twice.

use crate::blob;
use crate::context::{SourceContext, SourceOptions, Stage};
use crate::datasource::{Datasource, METADATA_UNKNOWN};
use crate::error::SourceError;
use crate::openstack::wait::cfg_int;
use crate::url::UrlError;
use ci_host::Host;
use ci_pyval::{py_str, truthy};
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod client;
pub(crate) mod crawl;
mod local;
mod netcfg;
mod platform;
mod tree;
mod wait;

use client::{status_error, Client};
use crawl::{maybe_b64decode, tree_of, user_data_of, Session, TokenSlot};
pub use netcfg::convert_network_config;
use netcfg::interfaces_by_mac;
pub use platform::identify_platform;
use platform::strict_mode;
use wait::{is_loopback_url, token_exception, Verdict, Waiter};

/// Upstream's default metadata addresses (`DataSourceEc2.metadata_urls`).
pub const DEFAULT_METADATA_URLS: &[&str] = &[
    "http://169.254.169.254",
    "http://[fd00:ec2::254]",
    "http://instance-data.:8773",
];
const MIN_VERSION: &str = "2009-04-04";
const EXTENDED_VERSIONS: &[&str] = &["2021-03-23", "2018-09-24", "2016-09-02"];
const TOKEN_ROUTE: &str = "latest/api/token";
const TOKEN_HEADER: &str = "X-aws-ec2-metadata-token";
const TTL_HEADER: &str = "X-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_TTL: &str = "21600";
const DEFAULT_MAX_WAIT: i64 = 240;
const DEFAULT_TIMEOUT: i64 = 50;

/// Cloud names upstream's `identify_platform` yields.
pub const CLOUD_AWS: &str = "aws";

/// Budget for the crawl requests. Upstream's EC2 helpers use 5 s, 5 retries,
/// 1 s apart whatever the datasource config says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrawlPolicy {
    pub timeout: Duration,
    pub retries: u32,
    pub sec_between: Duration,
}

impl Default for CrawlPolicy {
    fn default() -> Self {
        CrawlPolicy {
            timeout: Duration::from_secs(5),
            retries: 5,
            sec_between: Duration::from_secs(1),
        }
    }
}

pub struct Ec2 {
    stage: Stage,
    opts: SourceOptions,
    /// Replaces upstream's default address list (config `metadata_urls` still wins).
    metadata_urls: Vec<String>,
    crawl_policy: CrawlPolicy,
    cloud: Option<String>,
    metadata: Value,
    userdata_raw: Option<Vec<u8>>,
    identity: Value,
    metadata_address: Option<String>,
    api_version: Option<String>,
    network: Option<Value>,
    /// Upstream computes the network config once, so warns once.
    network_warned: AtomicBool,
    requests: Arc<AtomicUsize>,
}

impl Ec2 {
    pub fn new(stage: Stage, opts: SourceOptions) -> Self {
        Ec2 {
            stage,
            opts,
            metadata_urls: DEFAULT_METADATA_URLS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            crawl_policy: CrawlPolicy::default(),
            cloud: None,
            metadata: Value::Object(Map::new()),
            userdata_raw: None,
            identity: Value::Object(Map::new()),
            metadata_address: None,
            api_version: None,
            network: None,
            network_warned: AtomicBool::new(false),
            requests: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Use these base URLs instead of upstream's defaults.
    pub fn with_metadata_urls<S: Into<String>>(
        mut self,
        urls: impl IntoIterator<Item = S>,
    ) -> Self {
        self.metadata_urls = urls.into_iter().map(Into::into).collect();
        self
    }

    pub fn with_crawl_policy(mut self, policy: CrawlPolicy) -> Self {
        self.crawl_policy = policy;
        self
    }

    /// HTTP requests made (every attempt, including retries).
    pub fn request_count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// The API version settled on by the probe.
    pub fn api_version(&self) -> Option<&str> {
        self.api_version.as_deref()
    }

    /// The instance identity document (AWS only; `{}` elsewhere).
    pub fn identity(&self) -> &Value {
        &self.identity
    }

    fn is_aws(&self) -> bool {
        self.cloud.as_deref() == Some(CLOUD_AWS)
    }

    pub(crate) fn restore(
        stage: Stage,
        opts: SourceOptions,
        v: &Value,
    ) -> Result<Self, SourceError> {
        let mut ds = Ec2::new(stage, opts);
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(String::from);
        ds.metadata = match v.get("metadata") {
            Some(m @ Value::Object(_)) => m.clone(),
            _ => {
                return Err(SourceError::Cache(
                    "Ec2 entry: missing or bad metadata".into(),
                ))
            }
        };
        ds.identity = v.get("identity").cloned().unwrap_or_else(|| json!({}));
        ds.userdata_raw = blob::decode(v.get("userdata_raw"))
            .map_err(|_| SourceError::Cache("Ec2 entry: bad userdata_raw".into()))?;
        ds.cloud = s("cloud");
        ds.metadata_address = s("metadata_address");
        ds.api_version = s("api_version");
        ds.network = v.get("network").filter(|n| !n.is_null()).cloned();
        Ok(ds)
    }

    fn url_params(&self, cfg: &Value) -> (i64, i64) {
        (
            cfg_int(cfg, "max_wait", DEFAULT_MAX_WAIT),
            cfg_int(cfg, "timeout", DEFAULT_TIMEOUT).max(0),
        )
    }

    /// The metadata URLs to wait on: config `metadata_urls`, else ours;
    /// under a sandbox root only loopback ones.
    fn candidate_urls(&self, host: &Host, cfg: &Value) -> Vec<String> {
        let mdurls: Vec<String> = match cfg.get("metadata_urls").and_then(Value::as_array) {
            Some(l) if !l.is_empty() => l.iter().map(py_str).collect(),
            Some(_) => {
                log::warn!("Empty metadata url list! using default list");
                self.metadata_urls.clone()
            }
            None => self.metadata_urls.clone(),
        };
        // Under a sandbox root (tests, image builds) only loopback services
        // are queried: a link-local IMDS there belongs to the build machine.
        if !host.is_sandbox() {
            return mdurls;
        }
        let (keep, dropped): (Vec<String>, Vec<String>) =
            mdurls.into_iter().partition(|u| is_loopback_url(u));
        if !dropped.is_empty() {
            log::debug!(
                "Removed the following from metadata urls: {} (not loopback, sandbox root)",
                py_list(&dropped)
            );
        }
        keep
    }

    /// Upstream `wait_for_metadata_service`: the base URL that answered.
    fn wait_for_service(&self, client: &Client, cfg: &Value, mdurls: &[String]) -> Option<Found> {
        let (max_wait, timeout) = self.url_params(cfg);
        if max_wait <= 0 || mdurls.is_empty() {
            return None;
        }
        let waiter = Waiter {
            client,
            max_wait: Duration::from_secs(max_wait.unsigned_abs()),
            timeout: Duration::from_secs(timeout.unsigned_abs()),
        };
        if self.is_aws() {
            let urls: Vec<String> = mdurls
                .iter()
                .map(|u| format!("{u}/{TOKEN_ROUTE}"))
                .collect();
            log::debug!("Fetching Ec2 IMDSv2 API Token");
            let Some((i, body)) =
                waiter.wait(&urls, "PUT", &[(TTL_HEADER, TOKEN_TTL)], token_exception)
            else {
                log::error!("Unable to get response from urls: {}", py_list(&urls));
                log::warn!("IMDS's HTTP endpoint is probably disabled");
                return None;
            };
            let base = mdurls.get(i).cloned()?;
            log::debug!("Using metadata source: '{base}'");
            return Some(Found {
                base,
                token: Some(String::from_utf8_lossy(&body).trim().to_string()),
                read: None,
            });
        }
        let urls: Vec<String> = mdurls
            .iter()
            .map(|u| format!("{u}/{MIN_VERSION}/meta-data/instance-id"))
            .collect();
        let start = Instant::now();
        let Some((i, body)) = waiter.wait(&urls, "GET", &[], |_| Verdict::Retry) else {
            log::error!(
                "Giving up on md from {} after {} seconds",
                py_list(&urls),
                start.elapsed().as_secs()
            );
            return None;
        };
        let base = mdurls.get(i).cloned()?;
        log::debug!("Using metadata source: '{base}'");
        Some(Found {
            read: urls.get(i).map(|u| (u.clone(), body)),
            base,
            token: None,
        })
    }

    /// Upstream `crawl_metadata` once the service answered: probe the
    /// version, then read user-data, meta-data and (AWS) the identity.
    fn crawl_service(&mut self, client: &Client, found: Found) -> Result<(), SourceError> {
        let session = Session {
            base: found.base.clone(),
            aws: self.is_aws(),
            token: Mutex::new(TokenSlot::new(found.token)),
            client,
            crawl: self.crawl_policy.clone(),
        };
        let (version, probed) = session.probe_version();
        let root = format!("{}/{version}", found.base);
        // Whatever the wait or the probe read under this version is not read again.
        let known = probed
            .or(found.read)
            .filter(|(url, _)| *url == format!("{root}/meta-data/instance-id"));
        let got = tree::crawl(&session, &root, self.is_aws(), known);
        let md = tree_of(&tree::meta_data_url(&root), "meta-data/", got.meta_data)?;
        let ud = user_data_of(&tree::user_data_url(&root), got.user_data);
        self.userdata_raw = Some(maybe_b64decode(ud));
        self.identity = match got.identity {
            Some(Ok(body)) => crawl::decode_leaf("document", &body),
            Some(Err(e)) if e.code() != Some(ci_http::status::NOT_FOUND) => {
                log::warn!(
                    "Failed fetching dynamic/instance-identity from url {}: {e}",
                    tree::identity_url(&root)
                );
                json!({})
            }
            _ => json!({}),
        };
        self.metadata = md;
        self.metadata_address = Some(found.base);
        self.api_version = Some(version);
        Ok(())
    }

    /// Wait for the service and crawl it over one agent; `Ok(false)` when
    /// no service answered.
    fn crawl_metadata(
        &mut self,
        ctx: &SourceContext,
        cfg: &Value,
        ipv6_only: bool,
    ) -> Result<bool, SourceError> {
        if self.url_params(cfg).0 <= 0 {
            return Ok(false);
        }
        let mut urls = self.candidate_urls(ctx.host, cfg);
        if ipv6_only {
            urls = local::prefer_ipv6(urls);
        }
        let client = Client::new(&self.opts.http, Arc::clone(&self.requests));
        let Some(found) = self.wait_for_service(&client, cfg, &urls) else {
            return Ok(false);
        };
        let base = found.base.clone();
        if let Err(e) = self.crawl_service(&client, found) {
            log::warn!("Failed reading from metadata address {base}");
            return Err(e);
        }
        Ok(true)
    }
}

/// Where the service answered, and what the wait already read there.
struct Found {
    base: String,
    token: Option<String>,
    read: Option<(String, Vec<u8>)>,
}

fn py_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

impl Datasource for Ec2 {
    fn dsname(&self) -> &'static str {
        "Ec2"
    }

    fn class_name(&self) -> &'static str {
        match self.stage {
            Stage::Local => "DataSourceEc2Local",
            Stage::Network => "DataSourceEc2",
        }
    }

    fn stage(&self) -> Stage {
        self.stage
    }

    fn needs_ephemeral_net(&self) -> bool {
        self.stage == Stage::Local
    }

    fn crawl(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        let cloud = identify_platform(ctx.host);
        self.cloud = Some(cloud.to_string());
        if self.stage == Stage::Local && !local::LOCAL_CLOUDS.contains(&cloud) {
            log::debug!("{}", local::unsupported_message(cloud));
            return Ok(false);
        }
        let cfg = ctx.ds_cfg("Ec2");
        let mode = strict_mode(cfg.get("strict_id"));
        log::debug!("strict_mode: {mode}, cloud_name={cloud} cloud_platform=ec2");
        if mode == "true" && cloud == METADATA_UNKNOWN {
            return Ok(false);
        }
        let found = if self.stage == Stage::Local {
            if cfg!(target_os = "freebsd") {
                log::debug!("FreeBSD doesn't support running dhclient with -sf");
                return Ok(false);
            }
            let Some(net) = local::Ephemeral::bring_up(ctx.host, ctx.net) else {
                return Ok(false);
            };
            let r = self.crawl_metadata(ctx, &cfg, net.ipv6_only());
            if matches!(r, Ok(true)) {
                log::debug!("Crawled metadata service{}", net.state_msg());
            }
            // Torn down right after the last request, before converting.
            drop(net);
            r?
        } else {
            self.crawl_metadata(ctx, &cfg, false)?
        };
        if !found {
            return Ok(false);
        }
        let full = cfg
            .get("apply_full_imds_network_config")
            .map(truthy)
            .unwrap_or(true);
        self.network = match self.metadata.get("network") {
            Some(n @ Value::Object(_)) => Some(convert_network_config(
                n,
                &interfaces_by_mac(ctx.host),
                full,
            )),
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

    /// AWS: the identity document's `instanceId`, else meta-data `instance-id`.
    fn instance_id(&self) -> String {
        let md = self
            .metadata
            .get("instance-id")
            .map(py_str)
            .unwrap_or_default();
        if self.is_aws() {
            if let Some(i) = self.identity.get("instanceId") {
                return py_str(i);
            }
        }
        md
    }

    fn platform_type(&self) -> String {
        "ec2".into()
    }

    fn metadata_address(&self) -> Option<&str> {
        self.metadata_address.as_deref()
    }

    fn default_cloud_name(&self) -> String {
        self.cloud
            .clone()
            .unwrap_or_else(|| METADATA_UNKNOWN.into())
    }

    fn availability_zone(&self) -> Option<String> {
        let placement = self
            .metadata
            .get("placement")
            .and_then(|p| p.get("availability-zone"))
            .map(py_str);
        // Upstream evaluates the placement fallback first: without it the
        // zone is unknown even when the identity document has one.
        let placement = placement?;
        if self.is_aws() {
            if let Some(az) = self.identity.get("availabilityZone") {
                return Some(py_str(az));
            }
        }
        Some(placement)
    }

    /// AWS: the identity document's region, else the zone minus its last letter.
    fn region(&self) -> Option<String> {
        let az = self.availability_zone();
        let trimmed = || {
            az.as_ref().filter(|a| !a.is_empty()).map(|a| {
                let mut s = a.clone();
                s.pop();
                s
            })
        };
        if self.is_aws() {
            return match self.identity.get("region").filter(|r| truthy(r)) {
                Some(r) => Some(py_str(r)),
                None => trimmed(),
            };
        }
        az.map(|a| {
            let mut s = a;
            s.pop();
            s
        })
    }

    fn launch_index(&self) -> Option<Value> {
        self.metadata.get("ami-launch-index").cloned()
    }

    fn default_update_events(&self) -> &'static [&'static str] {
        &["boot-new-instance", "hotplug"]
    }

    fn extra_hotplug_udev_rules(&self) -> Option<&'static str> {
        // Only NICs with EC2's drivers run the hook, not docker's veths
        // (upstream LP: #1946003).
        Some("\nENV{ID_NET_DRIVER}==\"vif|ena|ixgbevf\", GOTO=\"cloudinit_hook\"\nGOTO=\"cloudinit_end\"\n")
    }

    fn hotplug_retry_settings(&self) -> Option<(std::time::Duration, std::time::Duration)> {
        // A new NIC can reach IMDS after its udev event: retry every 5 s for 30 s.
        Some((
            std::time::Duration::from_secs(5),
            std::time::Duration::from_secs(30),
        ))
    }

    fn to_cache(&self) -> Value {
        json!({
            "format": crate::CACHE_FORMAT,
            "class": self.class_name(),
            "dsname": self.dsname(),
            "stage": self.stage.as_cache_str(),
            "metadata": self.metadata,
            "identity": self.identity,
            "userdata_raw": blob::encode(self.userdata_raw.as_deref()),
            "cloud": self.cloud,
            "metadata_address": self.metadata_address,
            "api_version": self.api_version,
            "network": self.network,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::crawl::{decode_leaf, parse_listing};
    use super::platform::swapped_uuid_is_ec2;
    use super::*;

    #[test]
    fn listing_parse() {
        let (leaves, children) = parse_listing(
            "ami-id\nblock-device-mapping/\n0=mykey\niam/\nsecurity-credentials/\n\nami-id\n",
        );
        assert_eq!(
            leaves,
            vec![
                ("ami-id".to_string(), "ami-id".to_string()),
                ("mykey".to_string(), "0/openssh-key".to_string())
            ]
        );
        assert_eq!(children, vec!["block-device-mapping", "iam"]);
    }

    #[test]
    fn leaf_decoding() {
        assert_eq!(decode_leaf("f", b""), json!(""));
        assert_eq!(decode_leaf("f", b"a\nb"), json!(["a", "b"]));
        assert_eq!(decode_leaf("f", b"{\"a\": 1}"), json!({"a": 1}));
        assert_eq!(decode_leaf("f", b"{broken}"), json!("{broken}"));
        assert_eq!(decode_leaf("f", b"plain"), json!("plain"));
    }

    #[test]
    fn b64_and_strict() {
        // Upstream quirk: short plain words that happen to be base64 decode.
        assert_eq!(maybe_b64decode(b"dGVzdA==".to_vec()), b"test");
        assert_eq!(
            maybe_b64decode(b"#cloud-config\n".to_vec()),
            b"#cloud-config\n"
        );
        assert_eq!(maybe_b64decode(b"abc".to_vec()), b"abc");
        assert_eq!(strict_mode(Some(&json!(true))), "true");
        assert_eq!(strict_mode(None), "warn");
        assert_eq!(strict_mode(Some(&json!("false,5"))), "false");
        assert_eq!(strict_mode(Some(&json!("bogus"))), "warn");
    }

    #[test]
    fn uuid_endianness() {
        assert!(swapped_uuid_is_ec2("45e12aec-dcd1-b213-94ed-012345abcdef"));
        assert!(!swapped_uuid_is_ec2("ec2e1916-9099-7caf-fd21-012345abcdef"));
        assert!(!swapped_uuid_is_ec2("nonsense"));
    }

    #[test]
    fn loopback_urls() {
        assert!(is_loopback_url("http://127.0.0.1:8080"));
        assert!(is_loopback_url("http://[::1]:80/x"));
        assert!(is_loopback_url("http://localhost"));
        assert!(!is_loopback_url("http://169.254.169.254"));
        assert!(!is_loopback_url("http://[fd00:ec2::254]"));
        assert!(!is_loopback_url("http://instance-data.:8773"));
    }

    #[test]
    fn cfg_ints() {
        let cfg = json!({"max_wait": "3", "timeout": 1.7, "retries": "x"});
        assert_eq!(cfg_int(&cfg, "max_wait", 240), 3);
        assert_eq!(cfg_int(&cfg, "timeout", 50), 1);
        assert_eq!(cfg_int(&cfg, "retries", 5), 5);
        assert_eq!(cfg_int(&cfg, "absent", 7), 7);
    }

    #[test]
    fn network_two_nics() {
        let md = json!({"interfaces": {"macs": {
            "0a:00:00:00:00:01": {"device-number": "0", "local-ipv4s": ["10.0.0.5", "10.0.0.6"],
                                   "subnet-ipv4-cidr-block": "10.0.0.0/20", "ipv6s": "2600::1"},
            "0a:00:00:00:00:02": {"device-number": "1", "local-ipv4s": "10.0.1.5"}
        }}});
        let nics = vec![
            ("0a:00:00:00:00:02".to_string(), "eth1".to_string()),
            ("0a:00:00:00:00:01".to_string(), "eth0".to_string()),
            ("0a:00:00:00:00:09".to_string(), "docker0".to_string()),
        ];
        let cfg = convert_network_config(&md, &nics, true);
        assert_eq!(
            cfg,
            json!({"version": 2, "ethernets": {
                "eth0": {"dhcp4": true, "dhcp4-overrides": {"route-metric": 100}, "dhcp6": true,
                         "match": {"macaddress": "0a:00:00:00:00:01"}, "set-name": "eth0",
                         "dhcp6-overrides": {"route-metric": 100}, "addresses": ["10.0.0.6/20"]},
                "eth1": {"dhcp4": true, "dhcp4-overrides": {"route-metric": 200}, "dhcp6": false,
                         "match": {"macaddress": "0a:00:00:00:00:02"}, "set-name": "eth1"}
            }})
        );
        let primary = convert_network_config(&md, &nics, false);
        assert_eq!(
            primary["ethernets"]["eth0"],
            json!({"dhcp4": true, "dhcp6": true, "match": {"macaddress": "0a:00:00:00:00:01"}, "set-name": "eth0"})
        );
    }
}
