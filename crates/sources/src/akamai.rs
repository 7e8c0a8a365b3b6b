//! Akamai (Linode): the metadata service at `169.254.169.254` and
//! `[fd00:a9fe:a9fe::1]`.
//!
//! Upstream's sequence: detect by DMI `sys_vendor` `Linode` or `Akamai`;
//! the instance-id is DMI `system-serial-number` until the service says
//! otherwise; get a token (`PUT /v1/token` with
//! `Metadata-Token-Expiry-Seconds: 300`) and send it as `Metadata-Token`
//! to `GET /v1/instance` (JSON) and `GET /v1/user-data` (base64). In the
//! local stage (AkamaiLocal) it first tries IPv6 on the NIC whose MAC has a
//! preferred prefix (link-local is enough for the IPv6 service), then
//! DHCPv4; in the network stage it tries IPv6 then IPv4 over the running
//! network. Failing every way still succeeds with the local instance-id,
//! so the instance is not taken as new on the next boot.
//!
//! Config `datasource.Akamai`: `base_urls.{ipv4,ipv6}`,
//! `paths.{token,metadata,userdata}`, `allow_local_stage`,
//! `allow_init_stage`, `allow_dhcp`, `allow_ipv4`, `allow_ipv6`,
//! `preferred_mac_prefixes`; DMI `baseboard-serial-number` flags
//! (`als=0;v6=1;pmp=f2:3,f2:4`) override it.

use crate::blob;
use crate::cache_entry::CacheEntry;
use crate::context::{SourceContext, SourceOptions, Stage};
use crate::datasource::Datasource;
use crate::ephemeral::{EphemeralKind, Lease};
use crate::error::SourceError;
use crate::url::UrlError;
use crate::url_ext::{interfaces_by_mac, reader, sandbox_allows};
use ci_pyval::{py_str, truthy};
use serde_json::{json, Map, Value};
use std::time::Duration;

pub const DEFAULT_IPV4_URL: &str = "http://169.254.169.254";
pub const DEFAULT_IPV6_URL: &str = "http://[fd00:a9fe:a9fe::1]";
const TOKEN_EXPIRY_HEADER: &str = "Metadata-Token-Expiry-Seconds";
const TOKEN_HEADER: &str = "Metadata-Token";

/// What upstream does with the requests (timeout 30 s, 2 s apart; 4
/// retries for the token, 2 for the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AkamaiPolicy {
    pub timeout: Duration,
    pub sec_between: Duration,
    pub token_retries: u32,
    pub retries: u32,
}

impl Default for AkamaiPolicy {
    fn default() -> Self {
        AkamaiPolicy {
            timeout: Duration::from_secs(30),
            sec_between: Duration::from_secs(2),
            token_retries: 4,
            retries: 2,
        }
    }
}

pub struct Akamai {
    stage: Stage,
    opts: SourceOptions,
    policy: AkamaiPolicy,
    base_urls: Option<(String, String)>,
    metadata: Value,
    userdata_raw: Option<Vec<u8>>,
}

/// Upstream's merged `ds_cfg` (DMI flags, then system config, then builtin).
#[derive(Debug, Clone, PartialEq)]
struct Cfg {
    ipv4_url: String,
    ipv6_url: String,
    token_path: String,
    metadata_path: String,
    userdata_path: String,
    allow_local_stage: bool,
    allow_init_stage: bool,
    allow_dhcp: bool,
    allow_ipv4: bool,
    allow_ipv6: bool,
    preferred_mac_prefixes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Availability {
    NotAvailable,
    Available,
    Defer,
}

impl Akamai {
    pub fn new(stage: Stage, opts: SourceOptions) -> Self {
        Akamai {
            stage,
            opts,
            policy: AkamaiPolicy::default(),
            base_urls: None,
            metadata: json!({}),
            userdata_raw: None,
        }
    }

    /// Replace the builtin `(ipv4, ipv6)` base URLs (config and DMI flags
    /// still win, as upstream's merge order says).
    pub fn with_base_urls(mut self, ipv4: impl Into<String>, ipv6: impl Into<String>) -> Self {
        self.base_urls = Some((ipv4.into(), ipv6.into()));
        self
    }

    pub fn with_policy(mut self, policy: AkamaiPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub(crate) fn restore(
        stage: Stage,
        opts: SourceOptions,
        v: &Value,
    ) -> Result<Self, SourceError> {
        let mut ds = Akamai::new(stage, opts);
        let e = CacheEntry::new("Akamai", v);
        ds.metadata = e.metadata()?;
        ds.userdata_raw = e.blob("userdata_raw")?;
        Ok(ds)
    }

    fn config(&self, ctx: &SourceContext) -> Cfg {
        let dmi =
            dmi_config(&crate::dmi::read(ctx.host, "baseboard-serial-number").unwrap_or_default());
        let sys = ctx.ds_cfg("Akamai");
        let (v4, v6) = self
            .base_urls
            .clone()
            .unwrap_or_else(|| (DEFAULT_IPV4_URL.into(), DEFAULT_IPV6_URL.into()));
        // mergemanydict: the first source holding a key wins; nested
        // mappings merge the same way.
        let layers = [&dmi, &sys];
        let nested = |outer: &str, inner: &str, builtin: &str| -> String {
            layers
                .iter()
                .find_map(|l| l.get(outer).and_then(|o| o.get(inner)))
                .map(py_str)
                .unwrap_or_else(|| builtin.to_string())
        };
        let flag = |k: &str| -> bool {
            layers
                .iter()
                .find_map(|l| l.get(k))
                .map(truthy)
                .unwrap_or(true)
        };
        let prefixes = match layers.iter().find_map(|l| l.get("preferred_mac_prefixes")) {
            Some(Value::Array(a)) => a.iter().map(py_str).collect(),
            Some(Value::String(s)) => s.chars().map(String::from).collect(),
            Some(_) => Vec::new(),
            None => vec!["f2:3".to_string()],
        };
        Cfg {
            ipv4_url: nested("base_urls", "ipv4", &v4),
            ipv6_url: nested("base_urls", "ipv6", &v6),
            token_path: nested("paths", "token", "/v1/token"),
            metadata_path: nested("paths", "metadata", "/v1/instance"),
            userdata_path: nested("paths", "userdata", "/v1/user-data"),
            allow_local_stage: flag("allow_local_stage"),
            allow_init_stage: flag("allow_init_stage"),
            allow_dhcp: flag("allow_dhcp"),
            allow_ipv4: flag("allow_ipv4"),
            allow_ipv6: flag("allow_ipv6"),
            preferred_mac_prefixes: prefixes,
        }
    }

    fn should_fetch(&self, cfg: &Cfg) -> Availability {
        if (!cfg.allow_ipv4 && !cfg.allow_ipv6) || (!cfg.allow_local_stage && !cfg.allow_init_stage)
        {
            log::info!("Configuration prohibits fetching metadata.");
            return Availability::NotAvailable;
        }
        if self.stage == Stage::Local {
            if !cfg.allow_local_stage {
                log::info!("Configuration prohibits local stage setup");
                return Availability::Defer;
            }
            if !cfg.allow_dhcp && !cfg.allow_ipv6 {
                log::info!("Configuration does not allow for ephemeral network setup.");
                return Availability::Defer;
            }
        } else if !cfg.allow_init_stage {
            log::info!("Configuration does not allow for init stage setup");
            return Availability::Defer;
        }
        Availability::Available
    }

    /// `(ephemeral network to bring up, use IPv6)` in upstream's order.
    fn attempts(&self, ctx: &SourceContext, cfg: &Cfg) -> Vec<(Option<EphemeralKind>, bool)> {
        let mut out = Vec::new();
        if self.stage == Stage::Local {
            let iface = interfaces_by_mac(ctx.host)
                .into_iter()
                .find(|(mac, _)| {
                    cfg.preferred_mac_prefixes
                        .iter()
                        .any(|p| mac.starts_with(p))
                })
                .map(|(_, name)| name);
            if iface.is_none() {
                log::warn!(
                    "Failed to find default interface, attempting DHCP on fallback interface"
                );
            }
            if cfg.allow_ipv6 {
                out.push((
                    Some(EphemeralKind::LinkLocal6 {
                        iface: iface.clone(),
                    }),
                    true,
                ));
            }
            if cfg.allow_ipv4 && cfg.allow_dhcp {
                out.push((Some(EphemeralKind::Dhcp4 { iface }), false));
            }
        } else {
            if cfg.allow_ipv6 {
                out.push((None, true));
            }
            if cfg.allow_ipv4 {
                out.push((None, false));
            }
        }
        out
    }

    /// Upstream `_fetch_metadata`: `Ok(true)` done (data or a non-200
    /// token answer), `Ok(false)` try the next network.
    fn fetch(&mut self, ctx: &SourceContext, cfg: &Cfg, use_v6: bool) -> bool {
        let base = if use_v6 || !cfg.allow_ipv4 {
            &cfg.ipv6_url
        } else {
            &cfg.ipv4_url
        };
        let family = if use_v6 { "6" } else { "4" };
        if !sandbox_allows(ctx.host, base) {
            return false;
        }
        match self.fetch_from(base, cfg) {
            Ok(()) => true,
            Err(e) => {
                log::warn!("Failed to retrieve metadata using IPv{family} due to {e}");
                false
            }
        }
    }

    fn fetch_from(&mut self, base: &str, cfg: &Cfg) -> Result<(), UrlError> {
        let p = &self.policy;
        let token_reader = reader(&self.opts.http, p.timeout, p.token_retries, p.sec_between);
        let data_reader = reader(&self.opts.http, p.timeout, p.retries, p.sec_between);
        let token = token_reader.put(
            &format!("{base}{}", cfg.token_path),
            &[(TOKEN_EXPIRY_HEADER, "300")],
            b"",
        )?;
        if token.code != 200 {
            log::info!("Fetching token returned {}; not fetching data", token.code);
            return Ok(());
        }
        let token = String::from_utf8_lossy(&token.body).into_owned();
        let md = data_reader.get(
            &format!("{base}{}", cfg.metadata_path),
            &[("Accept", "application/json"), (TOKEN_HEADER, &token)],
        )?;
        let md: Value = serde_json::from_slice(&md.body).map_err(|e| UrlError::Transport {
            url: format!("{base}{}", cfg.metadata_path),
            message: format!("not JSON: {e}"),
        })?;
        self.metadata = md;
        let ud = data_reader.get(
            &format!("{base}{}", cfg.userdata_path),
            &[(TOKEN_HEADER, &token)],
        )?;
        self.userdata_raw = Some(match b64decode_lenient(&ud.body) {
            Ok(d) => d,
            Err(e) => {
                log::warn!("Failed to base64 decode userdata due to {e}");
                ud.body
            }
        });
        Ok(())
    }
}

/// Upstream `get_dmi_config`: `key=value;...` flags from the baseboard
/// serial; `0`/`1` are booleans, `pmp` a comma list.
fn dmi_config(flags: &str) -> Value {
    const MAP: &[(&str, &str)] = &[
        ("als", "allow_local_stage"),
        ("ais", "allow_init_stage"),
        ("dhcp", "allow_dhcp"),
        ("v4", "allow_ipv4"),
        ("v6", "allow_ipv6"),
        ("pmp", "preferred_mac_prefixes"),
    ];
    let mut out = Map::new();
    for part in flags.split(';') {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        let key_ok = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let Some((_, name)) = MAP.iter().find(|(k, _)| key_ok && *k == key) else {
            continue;
        };
        // Python's `value in "01"` is a substring test.
        let v = if !value.is_empty() && "01".contains(value) {
            json!(value.parse::<i64>().unwrap_or(0) != 0)
        } else if key == "pmp" {
            json!(value.split(',').collect::<Vec<_>>())
        } else {
            json!(value)
        };
        out.insert((*name).into(), v);
    }
    Value::Object(out)
}

/// Python's `b64decode(s)` (validate=False): characters outside the
/// alphabet are dropped, then the padding must be right.
fn b64decode_lenient(data: &[u8]) -> Result<Vec<u8>, String> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    let kept: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        .collect();
    // Python stops at the first complete padded quantum.
    let end = kept
        .iter()
        .position(|b| *b == b'=')
        .map(|i| {
            let pad_end = (i..kept.len())
                .take_while(|j| kept.get(*j) == Some(&b'='))
                .count();
            i + pad_end
        })
        .unwrap_or(kept.len());
    let kept = kept.get(..end).unwrap_or(&kept);
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    engine
        .decode(kept)
        .map_err(|_| "Incorrect padding".to_string())
}

impl Datasource for Akamai {
    fn log_init(&self) {
        log::debug!("Setting up Akamai DataSource");
    }

    fn needs_ephemeral_net(&self) -> bool {
        self.stage == Stage::Local
    }

    fn dsname(&self) -> &'static str {
        "Akamai"
    }

    fn class_name(&self) -> &'static str {
        match self.stage {
            Stage::Local => "DataSourceAkamaiLocal",
            Stage::Network => "DataSourceAkamai",
        }
    }

    fn stage(&self) -> Stage {
        self.stage
    }

    fn crawl(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        log::debug!("Getting data from Akamai DataSource");
        let vendor = crate::dmi::read(ctx.host, "system-manufacturer");
        if !matches!(vendor.as_deref(), Some("Linode") | Some("Akamai")) {
            log::info!("Not running on Akamai, not running.");
            return Ok(false);
        }
        let local_id = crate::dmi::read(ctx.host, "system-serial-number");
        self.metadata = json!({ "instance-id": local_id });
        let cfg = self.config(ctx);
        match self.should_fetch(&cfg) {
            Availability::Available => {}
            Availability::NotAvailable => {
                log::info!("Metadata is not available, returning local data only.");
                return Ok(true);
            }
            Availability::Defer => {
                log::info!(
                    "Configured not to fetch data at this stage; waiting for a later stage."
                );
                return Ok(false);
            }
        }
        for (net, use_v6) in self.attempts(ctx, &cfg) {
            let lease: Option<Box<dyn Lease>> = match net {
                Some(kind) => match ctx.net.bring_up(&kind) {
                    Ok(l) => Some(l),
                    // Upstream's context manager raises out of _get_data.
                    Err(e) => return Err(e),
                },
                None => None,
            };
            let done = self.fetch(ctx, &cfg, use_v6);
            drop(lease);
            if done {
                let id = self
                    .metadata
                    .get("id")
                    .cloned()
                    .unwrap_or_else(|| json!(local_id));
                if let Value::Object(m) = &mut self.metadata {
                    m.insert("instance-id".into(), id);
                }
                return Ok(true);
            }
        }
        log::warn!("Failed to contact metadata service, falling back to local metadata only.");
        Ok(true)
    }

    fn metadata(&self) -> &Value {
        &self.metadata
    }

    fn userdata_raw(&self) -> Option<&[u8]> {
        self.userdata_raw.as_deref()
    }

    fn check_instance_id(&self, ctx: &SourceContext) -> bool {
        let iid = self.instance_id();
        !iid.is_empty()
            && iid != "None"
            && crate::dmi::read(ctx.host, "system-serial-number")
                .filter(|u| !u.is_empty())
                .is_some_and(|u| u.to_lowercase() == iid.to_lowercase())
    }

    fn to_cache(&self) -> Value {
        json!({
            "format": crate::CACHE_FORMAT,
            "class": self.class_name(),
            "dsname": self.dsname(),
            "stage": self.stage.as_cache_str(),
            "metadata": self.metadata,
            "userdata_raw": blob::encode(self.userdata_raw.as_deref()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dmi_flags() {
        assert_eq!(
            dmi_config("als=0;v6=1;pmp=f2:3,f2:4;bogus=1;dhcp=01"),
            json!({"allow_local_stage": false, "allow_ipv6": true,
                   "preferred_mac_prefixes": ["f2:3", "f2:4"], "allow_dhcp": true})
        );
        assert_eq!(dmi_config(""), json!({}));
    }

    #[test]
    fn lenient_base64() {
        assert_eq!(
            b64decode_lenient(b"I2Nsb3VkLWNvbmZpZwo=").unwrap(),
            b"#cloud-config\n"
        );
        assert_eq!(
            b64decode_lenient(b"I2Nsb3Vk\nLWNvbmZpZwo=\n").unwrap(),
            b"#cloud-config\n"
        );
        assert_eq!(b64decode_lenient(b"").unwrap(), b"");
        assert!(b64decode_lenient(b"#cloud-config\n").is_err());
    }
}
