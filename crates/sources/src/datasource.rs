//! The `Datasource` trait: what every source provides, with upstream's
//! default rules as provided methods so a new cloud only overrides what
//! differs.

use crate::context::{SourceContext, Stage};
use crate::error::SourceError;
use ci_host::Host;
use ci_pyval::{py_str, truthy};
use serde_json::Value;
use std::time::Instant;

/// Upstream's placeholder for unknown cloud name / region / subplatform.
pub const METADATA_UNKNOWN: &str = "unknown";

/// When user-data is processed (upstream `dsmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dsmode {
    Local,
    Net,
    Disabled,
    Pass,
}

impl Dsmode {
    pub fn as_str(self) -> &'static str {
        match self {
            Dsmode::Local => "local",
            Dsmode::Net => "net",
            Dsmode::Disabled => "disabled",
            Dsmode::Pass => "pass",
        }
    }

    pub fn parse(s: &str) -> Option<Dsmode> {
        match s {
            "local" => Some(Dsmode::Local),
            "net" => Some(Dsmode::Net),
            "disabled" => Some(Dsmode::Disabled),
            "pass" => Some(Dsmode::Pass),
            _ => None,
        }
    }

    /// Upstream's `_determine_dsmode`: the first non-null candidate; one
    /// that is not in `valid` warns and yields `default`.
    pub fn determine(candidates: &[Option<&Value>], default: Dsmode, valid: &[Dsmode]) -> Dsmode {
        for c in candidates.iter().flatten() {
            if c.is_null() {
                continue;
            }
            let s = py_str(c);
            return match Dsmode::parse(&s).filter(|m| valid.contains(m)) {
                Some(m) => m,
                None => {
                    log::warn!("invalid dsmode '{s}', using default={}", default.as_str());
                    default
                }
            };
        }
        default
    }
}

/// A host name as a datasource reports it (upstream `DataSourceHostname`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsHostname {
    pub hostname: Option<String>,
    /// True only when the name is the system's default `localhost`.
    pub is_default: bool,
}

/// One datasource. Implementations fill their data in [`Datasource::crawl`];
/// everything else has upstream's default behaviour.
pub trait Datasource: Send {
    /// Upstream `dsname`: the `datasource.<dsname>` config key (`NoCloud`, `None`).
    fn dsname(&self) -> &'static str;

    /// Upstream class name (`DataSourceNoCloud`, `DataSourceNoCloudNet`,
    /// `DataSourceNone`), used in log lines and event names.
    fn class_name(&self) -> &'static str;

    /// The stage this instance was built for.
    fn stage(&self) -> Stage;

    /// What upstream's class does when it is instantiated (its `__init__`
    /// logging, DigitalOcean's deprecation notice). Constructors here stay
    /// silent, because the search builds every candidate up front to list
    /// them; it calls this only when it reaches the datasource, which is when
    /// upstream would construct it.
    fn log_init(&self) {}

    /// Gather the data (upstream `_get_data`): `Ok(false)` means "not this
    /// datasource"; `Err` means it was meant to be but failed.
    fn crawl(&mut self, ctx: &SourceContext) -> Result<bool, SourceError>;

    /// Whether this platform is detected (upstream `ds_detect`); only asked
    /// when neither the cmdline nor a one-item `datasource_list` forces it.
    fn ds_detect(&self, _ctx: &SourceContext) -> bool {
        true
    }

    /// Upstream `override_ds_detect`: `ds=<dsname>` on the cmdline or
    /// `datasource_list: [<dsname>]`.
    fn override_ds_detect(&self, ctx: &SourceContext) -> bool {
        let cmdline_ds = crate::cmdline::ds_name_logged(&ctx.cmdline).unwrap_or_default();
        if self.dsname().to_lowercase() == cmdline_ds.to_lowercase() {
            log::debug!(
                "Kernel command line set to use a single datasource {}.",
                self.display()
            );
            return true;
        }
        let single = ctx
            .config
            .get("datasource_list")
            .and_then(Value::as_array)
            .is_some_and(|l| {
                l.len() == 1 && l.first().and_then(Value::as_str) == Some(self.dsname())
            });
        if single {
            log::debug!(
                "Datasource list set to use a single datasource {}.",
                self.display()
            );
        }
        single
    }

    /// Detect (unless overridden) and crawl, logging as upstream's `get_data`.
    fn get_data(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        let start = Instant::now();
        let result = if self.override_ds_detect(ctx) {
            self.crawl(ctx)
        } else if self.ds_detect(ctx) {
            log::debug!("Detected {}", self.display());
            self.crawl(ctx)
        } else {
            log::debug!("Did not detect {}", self.display());
            Ok(false)
        };
        log::debug!(
            "Getting metadata took {:.3} seconds",
            start.elapsed().as_secs_f64()
        );
        result
    }

    /// The metadata mapping (`{}` before a successful crawl).
    fn metadata(&self) -> &Value;

    fn userdata_raw(&self) -> Option<&[u8]>;

    fn vendordata_raw(&self) -> Option<&[u8]> {
        None
    }

    fn vendordata2_raw(&self) -> Option<&[u8]> {
        None
    }

    /// Network configuration from the datasource (v1 or v2, possibly
    /// wrapped in `network:`), if any.
    fn network_config(&self) -> Option<Value> {
        None
    }

    /// Legacy ENI text (`network-interfaces` in NoCloud meta-data) that the
    /// caller converts when [`Datasource::network_config`] is `None`.
    fn legacy_eni(&self) -> Option<&str> {
        None
    }

    /// Upstream `get_instance_id`: `str(metadata['instance-id'])` or `iid-datasource`.
    fn instance_id(&self) -> String {
        match self.metadata().get("instance-id") {
            Some(v) => py_str(v),
            None => "iid-datasource".into(),
        }
    }

    /// Upstream `get_hostname(fqdn, resolve_ip=False, metadata_only)`.
    fn get_hostname(&self, host: &Host, fqdn: bool, metadata_only: bool) -> DsHostname {
        default_hostname(host, self.metadata(), fqdn, metadata_only)
    }

    /// The short host name (`get_hostname().hostname`).
    fn local_hostname(&self, host: &Host) -> Option<String> {
        self.get_hostname(host, false, false).hostname
    }

    fn public_ssh_keys(&self) -> Vec<String> {
        normalize_pubkey_data(self.metadata().get("public-keys"))
    }

    /// Upstream `platform_type`: the lowercased dsname unless overridden.
    fn platform_type(&self) -> String {
        self.dsname().to_lowercase()
    }

    /// `metadata (<address>)` when the source has a metadata address, else `unknown`.
    fn subplatform(&self) -> String {
        match self.metadata_address() {
            Some(a) => format!("metadata ({a})"),
            None => METADATA_UNKNOWN.into(),
        }
    }

    fn metadata_address(&self) -> Option<&str> {
        None
    }

    /// Upstream `cloud_name`: a string `cloud-name` from metadata, else
    /// [`Datasource::default_cloud_name`]; lowercased.
    fn cloud_name(&self) -> String {
        match self.metadata().get("cloud-name") {
            Some(Value::String(s)) if !s.is_empty() => s.to_lowercase(),
            Some(v) if truthy(v) => {
                log::debug!(
                    "Ignoring metadata provided key cloud-name: non-string type <class '{}'>",
                    ci_pyval::py_type(v)
                );
                self.default_cloud_name().to_lowercase()
            }
            _ => self.default_cloud_name().to_lowercase(),
        }
    }

    /// Upstream `_get_cloud_name`: the dsname unless the source knows better.
    fn default_cloud_name(&self) -> String {
        self.dsname().to_string()
    }

    fn region(&self) -> Option<String> {
        self.metadata()
            .get("region")
            .filter(|v| !v.is_null())
            .map(py_str)
    }

    /// `availability-zone`, `availability_zone`, then `placement.availability-zone`.
    fn availability_zone(&self) -> Option<String> {
        let md = self.metadata();
        let top = md
            .get("availability-zone")
            .or_else(|| md.get("availability_zone"));
        if let Some(v) = top.filter(|v| truthy(v)) {
            return Some(py_str(v));
        }
        md.get("placement")
            .and_then(|p| p.get("availability-zone"))
            .filter(|v| !v.is_null())
            .map(py_str)
    }

    fn dsmode(&self) -> Dsmode {
        Dsmode::Net
    }

    /// Upstream `str(ds)`, written to status.json and `instances/<iid>/datasource`.
    fn display(&self) -> String {
        self.class_name().to_string()
    }

    /// Quick local check that the cached instance is still this one
    /// (upstream `check_instance_id`); `false` means "search again".
    fn check_instance_id(&self, _ctx: &SourceContext) -> bool {
        false
    }

    /// Whether a cached instance of this source may be restored when no
    /// source is found in the local stage.
    fn check_if_fallback_is_allowed(&self) -> bool {
        false
    }

    fn launch_index(&self) -> Option<Value> {
        self.metadata().get("launch-index").cloned()
    }

    /// Whether this instance brings up temporary networking to crawl
    /// (local-stage variants of network datasources).
    fn needs_ephemeral_net(&self) -> bool {
        false
    }

    /// The datasource's own configuration, merged into the system config
    /// below user-data (upstream's `get_config_obj`): Azure's default user
    /// and `ssh_pwauth`, the password the CloudStack/Exoscale password
    /// server gave, ...
    fn ds_config(&self) -> Option<Value> {
        None
    }

    /// Network update events (`boot-new-instance`, `boot`, `boot-legacy`,
    /// `hotplug`) this source can refresh its metadata for (upstream's
    /// `supported_update_events[NETWORK]`).
    fn supported_update_events(&self) -> &'static [&'static str] {
        &["boot-new-instance", "boot", "boot-legacy", "hotplug"]
    }

    /// The events enabled when the user's `updates` does not say
    /// (upstream's `default_update_events[NETWORK]`).
    fn default_update_events(&self) -> &'static [&'static str] {
        &["boot-new-instance"]
    }

    /// Rules put between the action check and the hook's `RUN` in the
    /// hotplug udev rule (upstream's `extra_hotplug_udev_rules`), to limit
    /// the hook to the platform's own NICs.
    fn extra_hotplug_udev_rules(&self) -> Option<&'static str> {
        None
    }

    /// Upstream's `hotplug_retry_settings` with `force_retry`: handle a
    /// hotplug event again every `.0` until `.1` has passed, for metadata
    /// services that publish a new NIC late. `None`: handle it once.
    fn hotplug_retry_settings(&self) -> Option<(std::time::Duration, std::time::Duration)> {
        None
    }

    /// Whether a hotplug event applies the refreshed config without first
    /// finding the device's MAC in it (upstream's `skip_hotplug_detect`).
    fn skip_hotplug_detect(&self) -> bool {
        false
    }

    /// Serialisable state, restored with [`crate::from_cache`].
    fn to_cache(&self) -> Value;
}

/// Longest file name Linux filesystems take (`NAME_MAX`), in bytes.
const NAME_MAX: usize = 255;

/// Why `iid` cannot be this instance's id, or `None` when it can.
///
/// Per-instance state lives in `/var/lib/cloud/instances/<iid>` (a `/` in the
/// id is stored as `_`, as upstream does). Upstream accepts any id, so an
/// empty, `.` or `..` id puts that state straight into `instances/` or into
/// `/var/lib/cloud`, shared by every instance and mixed with the global
/// state. Such an id, one that is only whitespace (it reads back as empty
/// from `data/instance-id`), one with a NUL (no path can hold it) and one too
/// long for a directory name make the datasource fail instead. Surrounding
/// whitespace is kept, as upstream keeps it.
pub fn instance_id_problem(iid: &str) -> Option<&'static str> {
    let on_disk = iid.replace('/', "_");
    if iid.is_empty() {
        Some("it is empty")
    } else if iid.trim().is_empty() {
        Some("it is only whitespace")
    } else if iid.contains('\0') {
        Some("it contains a NUL character")
    } else if on_disk == "." || on_disk == ".." {
        Some("it would name the instances directory itself or its parent")
    } else if on_disk.len() > NAME_MAX {
        Some("it is longer than 255 bytes, too long for a directory name")
    } else {
        None
    }
}

/// Upstream `normalize_pubkey_data`: a string is split into lines, a list
/// is kept, a mapping contributes the non-empty keys of each value
/// (string or list).
pub fn normalize_pubkey_data(data: Option<&Value>) -> Vec<String> {
    let Some(data) = data.filter(|d| truthy(d)) else {
        return Vec::new();
    };
    match data {
        Value::String(s) => py_splitlines(s),
        Value::Array(a) => a.iter().map(py_str).collect(),
        Value::Object(m) => {
            let mut keys = Vec::new();
            for klist in m.values() {
                match klist {
                    Value::String(s) if !s.is_empty() => keys.push(s.clone()),
                    Value::Array(a) => keys.extend(a.iter().filter(|k| truthy(k)).map(py_str)),
                    _ => {}
                }
            }
            keys
        }
        _ => Vec::new(),
    }
}

/// `str.splitlines()` for the common line breaks.
fn py_splitlines(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(std::mem::take(&mut cur));
            }
            '\n' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}'
            | '\u{2029}' => {
                out.push(std::mem::take(&mut cur));
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn default_hostname(host: &Host, md: &Value, fqdn: bool, metadata_only: bool) -> DsHostname {
    const DEFDOMAIN: &str = "localdomain";
    const DEFHOST: &str = "localhost";
    let mut is_default = false;
    let lhost = md.get("local-hostname").filter(|v| truthy(v)).map(py_str);
    let toks: Vec<String> = match lhost {
        None => {
            if metadata_only {
                return DsHostname {
                    hostname: None,
                    is_default,
                };
            }
            let hostname = system_hostname(host);
            if hostname == DEFHOST {
                is_default = true;
            }
            let hosts_fqdn = fqdn_from_hosts(host, &hostname);
            match hosts_fqdn {
                Some(f) if f.find('.').is_some_and(|i| i > 0) => split_dots(&f),
                _ if hostname.find('.').is_some_and(|i| i > 0) => split_dots(&hostname),
                _ if !hostname.is_empty() => vec![hostname, DEFDOMAIN.into()],
                _ => vec![DEFHOST.into(), DEFDOMAIN.into()],
            }
        }
        Some(l) if l.parse::<std::net::Ipv4Addr>().is_ok() => {
            vec![format!("ip-{}", l.replace('.', "-"))]
        }
        Some(l) => split_dots(&l),
    };
    let (mut hostname, domain) = match toks.split_first() {
        Some((h, rest)) if !rest.is_empty() => (h.clone(), rest.join(".")),
        Some((h, _)) => (h.clone(), DEFDOMAIN.to_string()),
        None => (String::new(), DEFDOMAIN.to_string()),
    };
    if fqdn && domain != DEFDOMAIN {
        hostname = format!("{hostname}.{domain}");
    }
    DsHostname {
        hostname: Some(hostname),
        is_default,
    }
}

fn split_dots(s: &str) -> Vec<String> {
    s.split('.').map(String::from).collect()
}

/// The system's current host name: the kernel's on the running system,
/// `<root>/etc/hostname` under a sandbox root.
fn system_hostname(host: &Host) -> String {
    let from = if host.is_sandbox() {
        "/etc/hostname"
    } else {
        "/proc/sys/kernel/hostname"
    };
    host.read_to_string(from)
        .ok()
        .and_then(|s| s.lines().next().map(|l| l.trim().to_string()))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Upstream `get_fqdn_from_hosts`: the canonical name of the first
/// `/etc/hosts` line listing `hostname` as an alias.
fn fqdn_from_hosts(host: &Host, hostname: &str) -> Option<String> {
    let text = host.read_to_string("/etc/hosts").ok()?;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        let toks: Vec<&str> = line.split_whitespace().collect();
        if toks.len() < 3 {
            continue;
        }
        if toks.iter().skip(2).any(|t| *t == hostname) {
            return toks.get(1).map(|s| s.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn instance_ids_that_cannot_name_a_directory() {
        let long = "i".repeat(256);
        for (iid, why) in [
            ("", "empty"),
            (" \t\n", "only whitespace"),
            (".", "instances directory itself"),
            ("..", "instances directory itself or its parent"),
            ("i-1\0", "NUL"),
            (long.as_str(), "longer than 255 bytes"),
        ] {
            let got = instance_id_problem(iid).unwrap_or_default();
            assert!(got.contains(why), "{iid:?}: {got:?}");
        }
        // `/` is stored as `_`, so none of these leave instances/.
        for iid in [
            "i-0123",
            "../x",
            "/",
            "./.",
            "a/..",
            " i-1 ",
            "None",
            &"i".repeat(255),
        ] {
            assert_eq!(instance_id_problem(iid), None, "{iid:?}");
        }
    }

    #[test]
    fn pubkeys_normalised_as_upstream() {
        assert_eq!(
            normalize_pubkey_data(Some(&json!("a\nb\n"))),
            vec!["a", "b"]
        );
        assert_eq!(
            normalize_pubkey_data(Some(&json!(["a", "b"]))),
            vec!["a", "b"]
        );
        // Oracle: {"k1": ["a", "", "b"], "k2": "c"} → ['a', 'b', 'c'].
        assert_eq!(
            normalize_pubkey_data(Some(&json!({"k1": ["a", "", "b"], "k2": "c"}))),
            vec!["a", "b", "c"]
        );
        assert!(normalize_pubkey_data(Some(&json!(""))).is_empty());
        assert!(normalize_pubkey_data(None).is_empty());
    }

    #[test]
    fn hostname_rules() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let hn = |md: Value, fqdn: bool| default_hostname(&h, &md, fqdn, false);
        assert_eq!(
            hn(json!({"local-hostname": "h1"}), false)
                .hostname
                .as_deref(),
            Some("h1")
        );
        // Oracle: local-hostname 10.1.2.3 → ip-10-1-2-3.
        assert_eq!(
            hn(json!({"local-hostname": "10.1.2.3"}), false)
                .hostname
                .as_deref(),
            Some("ip-10-1-2-3")
        );
        assert_eq!(
            hn(json!({"local-hostname": "a.example.com"}), false)
                .hostname
                .as_deref(),
            Some("a")
        );
        assert_eq!(
            hn(json!({"local-hostname": "a.example.com"}), true)
                .hostname
                .as_deref(),
            Some("a.example.com")
        );
        // No metadata and no /etc/hostname in the root: localhost, flagged default.
        let r = hn(json!({}), true);
        assert_eq!(
            r,
            DsHostname {
                hostname: Some("localhost".into()),
                is_default: true
            }
        );
        assert_eq!(default_hostname(&h, &json!({}), false, true).hostname, None);
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        std::fs::write(d.path().join("etc/hostname"), "box\n").unwrap();
        std::fs::write(d.path().join("etc/hosts"), "127.0.1.1 box.lan box # me\n").unwrap();
        assert_eq!(hn(json!({}), true).hostname.as_deref(), Some("box.lan"));
        assert_eq!(hn(json!({}), false).hostname.as_deref(), Some("box"));
    }

    #[test]
    fn dsmode_determination() {
        let v = json!("local");
        assert_eq!(
            Dsmode::determine(
                &[None, Some(&v)],
                Dsmode::Net,
                &[Dsmode::Local, Dsmode::Net, Dsmode::Disabled]
            ),
            Dsmode::Local
        );
        let bad = json!("bogus");
        assert_eq!(
            Dsmode::determine(&[Some(&bad)], Dsmode::Net, &[Dsmode::Local, Dsmode::Net]),
            Dsmode::Net
        );
        assert_eq!(
            Dsmode::determine(&[Some(&Value::Null)], Dsmode::Net, &[]),
            Dsmode::Net
        );
    }
}
