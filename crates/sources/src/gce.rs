//! GCE: Google Compute Engine's metadata server, in the local stage
//! (GCELocal: DHCP on each candidate NIC, `ens4` first, until one reaches
//! the server) and the network stage.
//!
//! Upstream's rules: the platform is GCE when DMI `system-product-name` is
//! `Google Compute Engine`/`Google` or the serial starts `GoogleCloud-`;
//! every request carries `Metadata-Flavor: Google`; `instance/id`,
//! `instance/zone` and `instance/hostname` are required, the instance and
//! project attributes are read recursively as JSON. SSH keys come from
//! the `ssh-keys`/`sshKeys` attributes (project ones unless blocked),
//! kept only for `cloudinit` or the default user and when not expired;
//! user-data is the `user-data` attribute, base64 when
//! `user-data-encoding` says so. The host name is the first label of
//! `instance/hostname`; the region is the zone minus its last `-part`.

use crate::blob;
use crate::context::{SourceContext, SourceOptions, Stage};
use crate::datasource::{Datasource, DsHostname};
use crate::ephemeral::EphemeralKind;
use crate::error::SourceError;
use crate::url::UrlReader;
use ci_pyval::{py_str, truthy};
use serde_json::{json, Map, Value};

mod keys;
pub(crate) mod shared;

pub use keys::{has_expired, parse_public_keys};

/// Upstream `MD_V1_URL`.
pub const DEFAULT_METADATA_URL: &str = "http://metadata.google.internal/computeMetadata/v1/";
/// Sent with every request; the server refuses requests without it.
pub const FLAVOR_HEADER: (&str, &str) = ("Metadata-Flavor", "Google");
const DEFAULT_PRIMARY_INTERFACE: &str = "ens4";

pub struct Gce {
    stage: Stage,
    opts: SourceOptions,
    metadata_url: String,
    default_user: Option<String>,
    metadata: Value,
    userdata_raw: Option<Vec<u8>>,
    metadata_address: Option<String>,
    primary_nic: Option<String>,
}

/// Why [`read_md`] did not produce data (upstream's `ret["reason"]`).
struct NotFound {
    reason: String,
    platform_reports_gce: bool,
}

impl Gce {
    pub fn new(stage: Stage, opts: SourceOptions) -> Self {
        Gce {
            stage,
            opts,
            metadata_url: DEFAULT_METADATA_URL.into(),
            default_user: None,
            metadata: Value::Object(Map::new()),
            userdata_raw: None,
            metadata_address: None,
            primary_nic: None,
        }
    }

    /// Use this metadata root (ending in `/`) instead of upstream's; the
    /// config's `datasource.GCE.metadata_url` still wins.
    pub fn with_metadata_url(mut self, url: impl Into<String>) -> Self {
        self.metadata_url = url.into();
        self
    }

    /// The NIC whose DHCP lease reached the server (GCELocal).
    pub fn primary_nic(&self) -> Option<&str> {
        self.primary_nic.as_deref()
    }

    pub(crate) fn restore(
        stage: Stage,
        opts: SourceOptions,
        v: &Value,
    ) -> Result<Self, SourceError> {
        let mut ds = Gce::new(stage, opts);
        ds.metadata = match v.get("metadata") {
            Some(m @ Value::Object(_)) => m.clone(),
            _ => {
                return Err(SourceError::Cache(
                    "GCE entry: missing or bad metadata".into(),
                ))
            }
        };
        ds.userdata_raw = blob::decode(v.get("userdata_raw"))
            .map_err(|_| SourceError::Cache("GCE entry: bad userdata_raw".into()))?;
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(String::from);
        ds.default_user = s("default_user");
        ds.metadata_address = s("metadata_address");
        ds.primary_nic = s("primary_nic");
        Ok(ds)
    }

    fn read_with_dhcp(
        &mut self,
        ctx: &SourceContext,
        address: &str,
        reader: &UrlReader,
    ) -> Result<Result<Fetched, NotFound>, SourceError> {
        let mut nics = shared::candidate_nics(ctx.host);
        if let Some(pos) = nics.iter().position(|n| n == DEFAULT_PRIMARY_INTERFACE) {
            let n = nics.remove(pos);
            nics.insert(0, n);
        }
        log::debug!("Looking for the primary NIC in: {}", py_list(&nics));
        if nics.is_empty() {
            return Err(SourceError::Malformed {
                what: "GCELocal".into(),
                message: "The instance has to have at least one candidate NIC".into(),
            });
        }
        // Upstream's result stays empty (logged at debug level) until a
        // NIC's read returns one.
        let mut last = NotFound {
            reason: "no candidate NIC reached the metadata server".into(),
            platform_reports_gce: false,
        };
        for nic in nics {
            let lease = match ctx.net.bring_up(&EphemeralKind::Dhcp4 {
                iface: Some(nic.clone()),
            }) {
                Ok(l) => l,
                Err(_) => {
                    log::debug!("Unable to obtain a DHCP lease for {nic}");
                    continue;
                }
            };
            let ret = read_md(ctx, address, reader);
            drop(lease);
            match ret {
                Ok(Ok(f)) => {
                    log::debug!("Primary NIC found: {nic}.");
                    self.primary_nic = Some(nic);
                    return Ok(Ok(f));
                }
                Ok(Err(nf)) => last = nf,
                Err(e) => log::debug!("Error fetching IMD with candidate NIC {nic}: {e}"),
            }
        }
        Ok(Err(last))
    }
}

/// What a successful `read_md` returns.
struct Fetched {
    metadata: Value,
    userdata: Option<Vec<u8>>,
}

/// Upstream `platform_reports_gce`.
pub fn platform_reports_gce(host: &ci_host::Host) -> bool {
    let pname = crate::dmi::read(host, "system-product-name")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "N/A".into());
    if pname == "Google Compute Engine" || pname == "Google" {
        return true;
    }
    let serial = crate::dmi::read(host, "system-serial-number")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "N/A".into());
    if serial.starts_with("GoogleCloud-") {
        return true;
    }
    log::debug!("Not running on google cloud. product-name={pname} serial={serial}");
    false
}

/// Upstream `util.is_resolvable_url`; non-loopback addresses under a
/// sandbox root count as unresolvable.
fn resolvable(host: &ci_host::Host, url: &str) -> bool {
    if !shared::url_allowed(host, url) {
        return false;
    }
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let hostport = rest.split('/').next().unwrap_or_default();
    let with_port = if hostport
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !hostport.ends_with(']')
    {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    use std::net::ToSocketAddrs;
    with_port
        .to_socket_addrs()
        .map(|mut a| a.next().is_some())
        .unwrap_or(false)
}

/// One metadata value (upstream `GoogleMetadataFetcher.get_value`).
fn get_value(reader: &UrlReader, address: &str, path: &str, recursive: bool) -> Option<String> {
    let mut url = format!("{address}{path}");
    if recursive {
        url.push_str("/?recursive=True");
    }
    match reader.get(&url, &[FLAVOR_HEADER]) {
        Ok(r) => Some(String::from_utf8_lossy(&r.body).into_owned()),
        Err(e) => {
            log::debug!("url {path} raised exception {e}");
            None
        }
    }
}

/// Upstream `read_md`.
fn read_md(
    ctx: &SourceContext,
    address: &str,
    reader: &UrlReader,
) -> Result<Result<Fetched, NotFound>, SourceError> {
    let not_found = |reason: String| {
        Ok(Err(NotFound {
            reason,
            platform_reports_gce: true,
        }))
    };
    if !platform_reports_gce(ctx.host) {
        return Ok(Err(NotFound {
            reason: "Not running on GCE.".into(),
            platform_reports_gce: false,
        }));
    }
    if !resolvable(ctx.host, address) {
        log::debug!("{address} is not resolvable");
        return not_found(format!("address \"{address}\" is not resolvable"));
    }
    // (our key, path, required, recursive)
    const URL_MAP: &[(&str, &str, bool, bool)] = &[
        ("instance-id", "instance/id", true, false),
        ("availability-zone", "instance/zone", true, false),
        ("local-hostname", "instance/hostname", true, false),
        ("instance-data", "instance/attributes", false, true),
        ("project-data", "project/attributes", false, true),
    ];
    let mut md = Map::new();
    for (key, path, required, recursive) in URL_MAP {
        let value = get_value(reader, address, path, *recursive);
        if *required && value.is_none() {
            return not_found(format!("required key {key} returned nothing. not GCE"));
        }
        md.insert(
            key.to_string(),
            value.map(Value::String).unwrap_or(Value::Null),
        );
    }
    let attrs = |key: &str| -> Result<Map<String, Value>, SourceError> {
        let text = md
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        match serde_json::from_str::<Value>(text.unwrap_or("{}")) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Ok(Map::new()),
            Err(e) => Err(SourceError::Malformed {
                what: format!("GCE {key} ({address})"),
                message: format!("not JSON: {e}"),
            }),
        }
    };
    let instance = attrs("instance-data")?;
    let project = attrs("project-data")?;
    let attr = |m: &Map<String, Value>, k: &str| m.get(k).filter(|v| truthy(v)).map(py_str);
    let mut valid = vec![attr(&instance, "sshKeys"), attr(&instance, "ssh-keys")];
    let block = instance
        .get("block-project-ssh-keys")
        .map(py_str)
        .unwrap_or_default()
        .to_lowercase();
    if block != "true" && attr(&instance, "sshKeys").is_none() {
        valid.push(attr(&project, "ssh-keys"));
        valid.push(attr(&project, "sshKeys"));
    }
    let joined = valid.into_iter().flatten().collect::<Vec<_>>().join("\n");
    let keys: Vec<Value> = joined.lines().map(|l| json!(l)).collect();
    md.insert("public-keys-data".into(), Value::Array(keys));
    if let Some(Value::String(z)) = md.get("availability-zone") {
        if !z.is_empty() {
            let last = z.rsplit('/').next().unwrap_or_default().to_string();
            md.insert("availability-zone".into(), json!(last));
        }
    }
    let userdata = match instance.get("user-data") {
        None => None,
        Some(ud) => {
            let raw = py_str(ud).into_bytes();
            match instance.get("user-data-encoding") {
                Some(Value::String(e)) if e == "base64" => {
                    Some(b64decode_lenient(&raw).map_err(|m| SourceError::Malformed {
                        what: format!("GCE user-data ({address})"),
                        message: m,
                    })?)
                }
                Some(e) if truthy(e) => {
                    log::warn!("unknown user-data-encoding: {}, ignoring", py_str(e));
                    Some(raw)
                }
                _ => Some(raw),
            }
        }
    };
    Ok(Ok(Fetched {
        metadata: Value::Object(md),
        userdata,
    }))
}

/// Python's `base64.b64decode(s)` (non-validating): characters outside
/// the alphabet are dropped, then the padding must be right.
fn b64decode_lenient(data: &[u8]) -> Result<Vec<u8>, String> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    let kept: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        .collect();
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
    );
    engine
        .decode(&kept)
        .map_err(|e| format!("bad base64 user-data: {e}"))
}

/// The default user's name as upstream's `normalize_users_groups` +
/// `extract_default` find it: only when `users` names `default` (or the
/// legacy `user` key is set), from `user` over `system_info.default_user`.
pub(crate) fn default_user_name(config: &Value) -> Option<String> {
    let old_user = match config.get("user") {
        Some(Value::String(s)) if !s.is_empty() => Some(Some(s.clone())),
        Some(Value::Object(m)) if !m.is_empty() => Some(m.get("name").map(py_str)),
        _ => None,
    };
    let wants_default = old_user.is_some()
        || match config.get("users") {
            Some(Value::Array(a)) => a.iter().any(|u| match u {
                Value::String(s) => s == "default",
                Value::Object(m) => m.get("name").and_then(Value::as_str) == Some("default"),
                _ => false,
            }),
            Some(Value::String(s)) => s.split(',').any(|p| p.trim() == "default"),
            Some(Value::Object(m)) => m.get("default").is_some_and(truthy),
            _ => false,
        };
    if !wants_default {
        return None;
    }
    old_user.flatten().or_else(|| {
        config
            .get("system_info")
            .and_then(|s| s.get("default_user"))
            .and_then(|d| d.get("name"))
            .map(py_str)
    })
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

impl Datasource for Gce {
    fn needs_ephemeral_net(&self) -> bool {
        self.stage == Stage::Local
    }

    fn dsname(&self) -> &'static str {
        "GCE"
    }

    fn class_name(&self) -> &'static str {
        match self.stage {
            Stage::Local => "DataSourceGCELocal",
            Stage::Network => "DataSourceGCE",
        }
    }

    fn stage(&self) -> Stage {
        self.stage
    }

    fn crawl(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        let cfg = ctx.ds_cfg("GCE");
        let address = cfg
            .get("metadata_url")
            .filter(|v| !v.is_null())
            .map(py_str)
            .unwrap_or_else(|| self.metadata_url.clone());
        let timeout = shared::cfg_f64(&cfg, "timeout", 10.0, true).max(0.0);
        let retries = shared::cfg_u32(&cfg, "retries", 5, true);
        let between = shared::cfg_f64(&cfg, "sec_between_retries", 1.0, true);
        let reader = UrlReader::new(shared::policy(
            &self.opts.http,
            shared::secs(timeout),
            retries,
            shared::secs(between),
        ));
        self.default_user = default_user_name(ctx.config);
        // Upstream checks the platform inside each DHCP attempt; checking
        // first spares a non-GCE machine the DHCP round, with the same result.
        let ret = if self.stage == Stage::Local && platform_reports_gce(ctx.host) {
            self.read_with_dhcp(ctx, &address, &reader)?
        } else {
            read_md(ctx, &address, &reader)?
        };
        match ret {
            Ok(f) => {
                self.metadata = f.metadata;
                self.userdata_raw = f.userdata;
                self.metadata_address = Some(address);
                Ok(true)
            }
            Err(nf) => {
                if nf.platform_reports_gce {
                    log::warn!("{}", nf.reason);
                } else {
                    log::debug!("{}", nf.reason);
                }
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

    fn instance_id(&self) -> String {
        self.metadata
            .get("instance-id")
            .map(py_str)
            .unwrap_or_default()
    }

    /// GCE's names are long FQDNs; upstream keeps only the first label.
    fn get_hostname(&self, _host: &ci_host::Host, _fqdn: bool, _md_only: bool) -> DsHostname {
        DsHostname {
            hostname: self
                .metadata
                .get("local-hostname")
                .filter(|v| !v.is_null())
                .map(|h| py_str(h).split('.').next().unwrap_or_default().to_string()),
            is_default: false,
        }
    }

    fn public_ssh_keys(&self) -> Vec<String> {
        let data: Vec<String> = match self.metadata.get("public-keys-data") {
            Some(Value::Array(a)) => a.iter().map(py_str).collect(),
            _ => Vec::new(),
        };
        parse_public_keys(&data, self.default_user.as_deref())
    }

    fn platform_type(&self) -> String {
        "gce".into()
    }

    fn metadata_address(&self) -> Option<&str> {
        self.metadata_address.as_deref()
    }

    fn availability_zone(&self) -> Option<String> {
        self.metadata
            .get("availability-zone")
            .filter(|v| !v.is_null())
            .map(py_str)
    }

    fn region(&self) -> Option<String> {
        self.availability_zone().map(|z| match z.rsplit_once('-') {
            Some((r, _)) => r.to_string(),
            None => z,
        })
    }

    fn launch_index(&self) -> Option<Value> {
        None
    }

    /// Upstream refreshes the network config on every boot here.
    fn default_update_events(&self) -> &'static [&'static str] {
        &["boot-new-instance", "boot"]
    }

    fn to_cache(&self) -> Value {
        json!({
            "format": crate::CACHE_FORMAT,
            "class": self.class_name(),
            "dsname": self.dsname(),
            "stage": self.stage.as_cache_str(),
            "metadata": self.metadata,
            "userdata_raw": blob::encode(self.userdata_raw.as_deref()),
            "default_user": self.default_user,
            "metadata_address": self.metadata_address,
            "primary_nic": self.primary_nic,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_user_rules() {
        let su = json!({"default_user": {"name": "ubuntu"}});
        assert_eq!(
            default_user_name(&json!({"users": ["default"], "system_info": su})).as_deref(),
            Some("ubuntu")
        );
        assert_eq!(default_user_name(&json!({"system_info": su})), None);
        assert_eq!(
            default_user_name(&json!({"user": "bob", "system_info": su})).as_deref(),
            Some("bob")
        );
        assert_eq!(
            default_user_name(&json!({"users": "default,x", "system_info": su})).as_deref(),
            Some("ubuntu")
        );
    }

    #[test]
    fn lenient_base64() {
        assert_eq!(b64decode_lenient(b"aGk=\n").unwrap(), b"hi");
        assert!(b64decode_lenient(b"aGk").is_err());
    }
}
