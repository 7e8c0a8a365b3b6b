//! `/run/cloud-init/instance-data.json` (world-readable, sensitive values
//! redacted), `instance-data-sensitive.json` (root only), the `cloud-id`
//! files and `combined-cloud-config.json`: the facts jinja templates,
//! `cloud-init query` and `cloud-id` read. Keys and layout as upstream's
//! `DataSource.persist_instance_data`.

use crate::paths::Paths;
use crate::pyjson;
use ci_host::{Host, WriteOpts};
use serde_json::{json, Map, Value};
use std::path::PathBuf;

/// Replaces sensitive values in the world-readable file.
pub const REDACT_SENSITIVE_VALUE: &str = "redacted for non-root user";

/// Upstream's text under `ds._doc`.
pub const EXPERIMENTAL_TEXT: &str = "EXPERIMENTAL: The structure and format of content scoped \
under the 'ds' key may change in subsequent releases of cloud-init.";

/// `_doc` of `combined-cloud-config.json`.
pub const COMBINED_CLOUD_CONFIG_DOC: &str = "Aggregated cloud-config created by merging \
merged_system_cfg (/etc/cloud/cloud.cfg and /etc/cloud/cloud.cfg.d), metadata, vendordata and \
userdata. The combined_cloud_config represents the aggregated desired configuration acted upon \
by cloud-init.";

/// The datasource base class's `sensitive_metadata_keys` (key names or
/// `/`-paths, matched lowercased). Datasources may add their own.
pub const DEFAULT_SENSITIVE_KEYS: [&str; 10] = [
    "combined_cloud_config",
    "merged_cfg",
    "merged_system_cfg",
    "security-credentials",
    "userdata",
    "user-data",
    "user_data",
    "vendordata",
    "vendor-data",
    "ds/vendor_data",
];

/// `util.system_info()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SysInfo {
    /// `platform.platform()`, e.g. `Linux-6.1.0-28-cloud-amd64-x86_64-with-glibc2.36`.
    pub platform: String,
    /// `Linux`, `FreeBSD`, ...
    pub system: String,
    /// Kernel release.
    pub release: String,
    /// Upstream: the Python version. We have no Python; see [`SysInfo::detect`].
    pub python: String,
    /// `[system, node, release, version, machine, processor]`.
    pub uname: [String; 6],
    /// `[ID, VERSION_ID, codename]` from os-release.
    pub dist: [String; 3],
    /// `debian`, `ubuntu`, `rhel`, `suse`, `linux`, ...
    pub variant: String,
}

impl SysInfo {
    /// Facts of the running kernel (`/proc/sys/kernel/*` of this machine:
    /// under `--root` the kernel is still the one we run on) and the
    /// target's `/etc/os-release`. `python` is left empty.
    pub fn detect(host: &Host) -> SysInfo {
        let kernel = |name: &str| -> String {
            std::fs::read_to_string(format!("/proc/sys/kernel/{name}"))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let system = match kernel("ostype") {
            s if s.is_empty() => "Linux".to_string(),
            s => s,
        };
        let release = kernel("osrelease");
        let machine = std::env::consts::ARCH.to_string();
        let dist = read_os_release(host);
        let variant = variant_for(&system, &dist[0]);
        SysInfo {
            platform: format!("{system}-{release}-{machine}"),
            uname: [
                system.clone(),
                kernel("hostname"),
                release.clone(),
                kernel("version"),
                machine,
                String::new(),
            ],
            system,
            release,
            python: String::new(),
            dist,
            variant,
        }
    }

    pub fn to_value(&self) -> Value {
        json!({
            "platform": self.platform,
            "system": self.system,
            "release": self.release,
            "python": self.python,
            "uname": self.uname,
            "dist": self.dist,
            "variant": self.variant,
        })
    }
}

/// Parse shell-style `KEY=value` lines (quotes removed, `#` comments).
fn parse_os_release(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                return None;
            }
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_string(), v.replace("\\\"", "\"")))
        })
        .collect()
}

/// `util.get_linux_distro()` from `<root>/etc/os-release`:
/// `[ID, VERSION_ID, codename]` (`rhel` reported as `redhat`).
pub fn read_os_release(host: &Host) -> [String; 3] {
    let text = host.read_to_string("/etc/os-release").unwrap_or_default();
    let kv = parse_os_release(&text);
    let get = |k: &str| {
        kv.iter()
            .rev()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut name = get("ID");
    let version = get("VERSION_ID");
    let flavor = if name.contains("sles") || name.contains("suse") {
        std::env::consts::ARCH.to_string()
    } else if name == "alpine" || name == "photon" || name == "virtuozzo" {
        get("PRETTY_NAME")
    } else {
        let c = get("VERSION_CODENAME");
        if c.is_empty() {
            // `VERSION="12 (bookworm)"` style.
            let v = get("VERSION");
            v.split_once(" (")
                .and_then(|(_, rest)| rest.split_once(')'))
                .map(|(c, _)| c.to_string())
                .unwrap_or_default()
        } else {
            c
        }
    };
    if name == "rhel" {
        name = "redhat".into();
    }
    [name, version, flavor]
}

/// `util._get_variant`.
pub fn variant_for(system: &str, distro: &str) -> String {
    let system = system.to_lowercase();
    if system == "linux" {
        let d = distro.to_lowercase();
        return match d.as_str() {
            "almalinux" | "alpine" | "aosc" | "arch" | "azurelinux" | "centos" | "cloudlinux"
            | "debian" | "eurolinux" | "fedora" | "mariner" | "miraclelinux" | "openeuler"
            | "opencloudos" | "openmandriva" | "photon" | "rhel" | "rocky" | "suse"
            | "tencentos" | "virtuozzo" => d,
            "ubuntu" | "linuxmint" | "mint" => "ubuntu".into(),
            "redhat" => "rhel".into(),
            "opensuse"
            | "opensuse-leap"
            | "opensuse-microos"
            | "opensuse-tumbleweed"
            | "sle_hpc"
            | "sle-micro"
            | "sles" => "suse".into(),
            _ => "linux".into(),
        };
    }
    match system.as_str() {
        "windows" | "darwin" | "freebsd" | "netbsd" | "openbsd" | "dragonfly" => system,
        _ => "unknown".into(),
    }
}

/// `sources.canonical_cloud_id`: `aws-china`/`aws-gov`/`azure-china` by
/// region prefix, else the cloud name unless `unknown`, else the platform.
pub fn canonical_cloud_id(
    cloud_name: Option<&str>,
    region: Option<&str>,
    platform: &str,
) -> String {
    let cloud = cloud_name.filter(|s| !s.is_empty()).unwrap_or("unknown");
    let region = region.filter(|s| !s.is_empty()).unwrap_or("unknown");
    if region != "unknown" {
        for (prefix, id, cloud_ok) in [
            ("cn-", "aws-china", "aws"),
            ("us-gov-", "aws-gov", "aws"),
            ("china", "azure-china", "azure"),
        ] {
            if region.starts_with(prefix) && cloud == cloud_ok {
                return id.to_string();
            }
        }
    }
    if cloud != "unknown" {
        cloud.to_string()
    } else {
        platform.to_string()
    }
}

/// What the chosen datasource knows, for instance-data.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceFacts {
    /// Lowercase cloud name (`aws`, `nocloud`, metadata `cloud-name`, ...).
    pub cloud_name: String,
    /// `platform_type` (`ec2`, `nocloud`, `none`, ...).
    pub platform: String,
    /// `seed-dir (/var/lib/cloud/seed/nocloud)`, `metadata (http://...)`, ...
    pub subplatform: String,
    pub region: Option<String>,
    pub availability_zone: Option<String>,
    pub instance_id: String,
    pub local_hostname: Option<String>,
    pub public_ssh_keys: Vec<String>,
    /// The `ds` object without `_doc`: `{"meta_data": {...}}` plus
    /// `network_json`/`ec2_metadata`, or a crawler's raw data. Binary values
    /// as `ci-b64:<base64>` strings (listed in `base64_encoded_keys`, prefix stripped).
    pub ds: Value,
    /// The system config (`/etc/cloud` + runtime + cmdline), without `_doc`.
    pub merged_system_cfg: Value,
    pub sys_info: SysInfo,
    /// Keys or `/`-paths to redact; [`DEFAULT_SENSITIVE_KEYS`] unless the datasource adds some.
    pub sensitive_keys: Vec<String>,
}

impl InstanceFacts {
    pub fn cloud_id(&self) -> String {
        canonical_cloud_id(
            Some(&self.cloud_name),
            self.region.as_deref(),
            &self.platform,
        )
    }

    /// The `v1` object (both spellings of the hyphenated keys).
    pub fn v1(&self) -> Value {
        let si = &self.sys_info;
        json!({
            "_beta_keys": ["subplatform"],
            "availability-zone": self.availability_zone,
            "availability_zone": self.availability_zone,
            "cloud_id": self.cloud_id(),
            "cloud-name": self.cloud_name,
            "cloud_name": self.cloud_name,
            "distro": si.dist[0],
            "distro_version": si.dist[1],
            "distro_release": si.dist[2],
            "platform": self.platform,
            "public_ssh_keys": self.public_ssh_keys,
            "python_version": si.python,
            "instance-id": self.instance_id,
            "instance_id": self.instance_id,
            "kernel_release": si.uname[2],
            "local-hostname": self.local_hostname,
            "local_hostname": self.local_hostname,
            "machine": si.uname[4],
            "region": self.region,
            "subplatform": self.subplatform,
            "system_platform": si.platform,
            "variant": si.variant,
        })
    }

    /// The unprocessed document (before base64/sensitive processing).
    pub fn raw_document(&self) -> Value {
        let mut ds = match &self.ds {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        ds.insert("_doc".into(), json!(EXPERIMENTAL_TEXT));
        let with_doc = |doc: &str| {
            let mut m = match &self.merged_system_cfg {
                Value::Object(m) => m.clone(),
                _ => Map::new(),
            };
            m.insert("_doc".into(), json!(doc));
            Value::Object(m)
        };
        json!({
            "ds": ds,
            "merged_cfg": with_doc("DEPRECATED: Use merged_system_cfg. Will be dropped from 24.1"),
            "merged_system_cfg": with_doc(
                "Merged cloud-init system config from /etc/cloud/cloud.cfg and /etc/cloud/cloud.cfg.d/"
            ),
            "sys_info": self.sys_info.to_value(),
            "v1": self.v1(),
        })
    }

    /// (sensitive document, redacted document).
    pub fn documents(&self) -> (Value, Value) {
        let keys: Vec<String> = self
            .sensitive_keys
            .iter()
            .map(|k| k.to_lowercase())
            .collect();
        // Upstream processes the document as it reads back from JSON, where
        // bytes (YAML `!!binary` in meta-data) have become `ci-b64:` text.
        let processed = match ci_yaml::binary::to_ci_b64(&self.raw_document()) {
            Value::Object(m) => Value::Object(process_instance_metadata(&m, "", &keys)),
            other => other,
        };
        let redacted = redact_sensitive_keys(&processed);
        (processed, redacted)
    }
}

/// `process_instance_metadata`: strip `ci-b64:` prefixes and list those
/// paths in `base64_encoded_keys`; list sensitive paths in
/// `sensitive_keys` (both sorted, at the top level).
pub fn process_instance_metadata(
    md: &Map<String, Value>,
    key_path: &str,
    sensitive: &[String],
) -> Map<String, Value> {
    let mut out = md.clone();
    let mut b64: Vec<String> = Vec::new();
    let mut sens: Vec<String> = Vec::new();
    for (key, val) in md {
        let sub = if key_path.is_empty() {
            key.clone()
        } else {
            format!("{key_path}/{key}")
        };
        if sensitive.contains(&key.to_lowercase()) || sensitive.contains(&sub.to_lowercase()) {
            sens.push(sub.clone());
        }
        match val {
            Value::String(s) if s.starts_with("ci-b64:") => {
                b64.push(sub.clone());
                out.insert(key.clone(), json!(s.replace("ci-b64:", "")));
            }
            Value::Object(inner) => {
                let mut r = process_instance_metadata(inner, &sub, sensitive);
                b64.extend(take_strings(r.remove("base64_encoded_keys")));
                sens.extend(take_strings(r.remove("sensitive_keys")));
                out.insert(key.clone(), Value::Object(r));
            }
            _ => {}
        }
    }
    b64.sort();
    sens.sort();
    out.insert("base64_encoded_keys".into(), json!(b64));
    out.insert("sensitive_keys".into(), json!(sens));
    out
}

fn take_strings(v: Option<Value>) -> Vec<String> {
    match v {
        Some(Value::Array(a)) => a
            .into_iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// `redact_sensitive_keys`: replace each `sensitive_keys` path's value by
/// [`REDACT_SENSITIVE_VALUE`] (paths whose parent was already redacted are skipped).
pub fn redact_sensitive_keys(md: &Value) -> Value {
    let paths: Vec<String> = md
        .get("sensitive_keys")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut out = md.clone();
    for path in paths {
        let parts: Vec<&str> = path.split('/').collect();
        let Some((last, parents)) = parts.split_last() else {
            continue;
        };
        // Upstream descends only through dicts and skips parts equal to the
        // leaf name; find that route on a shared borrow first.
        let mut route: Vec<&str> = Vec::new();
        let mut cur = &out;
        for p in parents {
            if p == last {
                continue;
            }
            if let Some(next) = cur.get(*p).filter(|v| v.is_object()) {
                route.push(p);
                cur = next;
            }
        }
        let pointer: String = route
            .iter()
            .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
            .collect();
        if let Some(Value::Object(m)) = out.pointer_mut(&pointer) {
            if m.contains_key(*last) {
                m.insert((*last).to_string(), json!(REDACT_SENSITIVE_VALUE));
            }
        }
    }
    out
}

#[derive(Debug, thiserror::Error)]
pub enum InstanceDataError {
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn write(host: &Host, path: PathBuf, body: &str, mode: u32) -> Result<(), InstanceDataError> {
    host.write_atomic(&path, body.as_bytes(), &WriteOpts::mode(mode))
        .map_err(|source| InstanceDataError::Write { path, source })
}

/// Write both instance-data files and the cloud-id file and link; returns the cloud id.
pub fn persist(
    host: &Host,
    paths: &Paths,
    facts: &InstanceFacts,
) -> Result<String, InstanceDataError> {
    let (sensitive, redacted) = facts.documents();
    let cloud_id = facts.cloud_id();
    write_cloud_id(host, paths, &cloud_id)?;
    write(
        host,
        paths.run_file("instance-data-sensitive.json"),
        &(pyjson::json_dumps(&sensitive) + "\n"),
        0o600,
    )?;
    write(
        host,
        paths.run_file("instance-data.json"),
        &(pyjson::json_dumps(&redacted) + "\n"),
        0o644,
    )?;
    Ok(cloud_id)
}

/// `/run/cloud-init/cloud-id-<id>` (`<id>\n`) and the `cloud-id` link to it
/// (absolute target); a previous target with another id is removed.
pub fn write_cloud_id(host: &Host, paths: &Paths, cloud_id: &str) -> Result<(), InstanceDataError> {
    let link = paths.run_file("cloud-id");
    let target = paths.run_file(&format!("cloud-id-{cloud_id}"));
    write(host, target.clone(), &format!("{cloud_id}\n"), 0o644)?;
    let previous = if host.lexists(&link) {
        host.read_link(&link).ok().map(|p| {
            if p.is_absolute() {
                p
            } else {
                paths.run_dir.join(p)
            }
        })
    } else {
        None
    };
    host.symlink(&target, &link)
        .map_err(|source| InstanceDataError::Write { path: link, source })?;
    if let Some(prev) = previous {
        if prev != target {
            let _ = host.remove_file(prev);
        }
    }
    Ok(())
}

/// The feature flags upstream exposes (`cloudinit.features`), with the
/// values of the Debian 25.1.4 package the oracle runs.
pub fn upstream_features() -> Value {
    json!({
        "ALLOW_EC2_MIRRORS_ON_NON_AWS_INSTANCE_TYPES": false,
        "APT_DEB822_SOURCE_LIST_FILE": true,
        "DEPRECATION_INFO_BOUNDARY": "devel",
        "ERROR_ON_USER_DATA_FAILURE": true,
        "EXPIRE_APPLIES_TO_HASHED_USERS": true,
        "MANUAL_NETWORK_WAIT": true,
        "NETPLAN_CONFIG_ROOT_READ_ONLY": true,
        "NOCLOUD_SEED_URL_APPEND_FORWARD_SLASH": true,
    })
}

/// After user-data is consumed: write `combined-cloud-config.json` (0600;
/// the merged config plus `_doc`, `system_info`, `features`) and add
/// `system_info` and `features` to instance-data-sensitive.json. A missing
/// or broken sensitive file gives upstream's warning and is left alone.
pub fn write_combined_cloud_config(
    host: &Host,
    paths: &Paths,
    merged_cfg: &Value,
    system_info: &Value,
    features: &Value,
) -> Result<(), InstanceDataError> {
    let mut combined = match merged_cfg {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    combined.insert("_doc".into(), json!(COMBINED_CLOUD_CONFIG_DOC));
    combined.insert("system_info".into(), system_info.clone());
    combined.insert("features".into(), features.clone());
    write(
        host,
        paths.run_file("combined-cloud-config.json"),
        &(pyjson::json_dumps(&Value::Object(combined)) + "\n"),
        0o600,
    )?;
    let sens_path = paths.run_file("instance-data-sensitive.json");
    let shown = sens_path.display().to_string();
    let text = match host.read_to_string(&sens_path) {
        Ok(t) => t,
        Err(e) => {
            log::warn!(
                "Skipping write of system_info/features to {shown}. Unable to read file: {e}"
            );
            return Ok(());
        }
    };
    let mut doc = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => m,
        Ok(_) => {
            log::warn!(
                "Skipping write of system_info/features to {shown}. Invalid JSON found: not an object"
            );
            return Ok(());
        }
        Err(e) => {
            log::warn!(
                "Skipping write of system_info/features to {shown}. Invalid JSON found: {e}"
            );
            return Ok(());
        }
    };
    doc.insert("system_info".into(), system_info.clone());
    doc.insert("features".into(), features.clone());
    write(
        host,
        sens_path,
        &(pyjson::json_dumps(&Value::Object(doc)) + "\n"),
        0o600,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_ids() {
        assert_eq!(
            canonical_cloud_id(Some("aws"), Some("cn-north-1"), "ec2"),
            "aws-china"
        );
        assert_eq!(
            canonical_cloud_id(Some("aws"), Some("us-gov-east-1"), "ec2"),
            "aws-gov"
        );
        assert_eq!(
            canonical_cloud_id(Some("azure"), Some("chinaeast"), "azure"),
            "azure-china"
        );
        assert_eq!(canonical_cloud_id(Some("gce"), Some("cn-x"), "gce"), "gce");
        assert_eq!(canonical_cloud_id(Some("unknown"), None, "lxd"), "lxd");
        assert_eq!(canonical_cloud_id(None, Some("cn-x"), "ec2"), "ec2");
        assert_eq!(canonical_cloud_id(Some(""), Some(""), "none"), "none");
    }

    #[test]
    fn os_release_and_variant() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        h.write_atomic(
            "/etc/os-release",
            b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\n",
            &WriteOpts::default(),
        )
        .unwrap();
        assert_eq!(
            read_os_release(&h),
            ["debian".to_string(), "12".into(), "bookworm".into()]
        );
        assert_eq!(variant_for("Linux", "linuxmint"), "ubuntu");
        assert_eq!(variant_for("Linux", "redhat"), "rhel");
        assert_eq!(variant_for("Linux", "gentoo"), "linux");
        assert_eq!(variant_for("FreeBSD", "freebsd"), "freebsd");
        let si = SysInfo::detect(&h);
        assert_eq!(si.dist[0], "debian");
        assert_eq!(si.variant, "debian");
        assert_eq!(si.uname[4], std::env::consts::ARCH);
    }

    #[test]
    fn bytes_in_meta_data_are_listed_as_base64_keys() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let facts = InstanceFacts {
            cloud_name: "nocloud".into(),
            platform: "nocloud".into(),
            subplatform: "seed-dir (/var/lib/cloud/seed/nocloud)".into(),
            region: None,
            availability_zone: None,
            instance_id: "i-1".into(),
            local_hostname: None,
            public_ssh_keys: Vec::new(),
            ds: json!({"meta_data": {"blob": ci_yaml::binary::encode(&[0xff]),
                                     "list": [ci_yaml::binary::encode(b"hi")]}}),
            merged_system_cfg: json!({}),
            sys_info: SysInfo::detect(&h),
            sensitive_keys: Vec::new(),
        };
        let (sensitive, _) = facts.documents();
        // As upstream's process_instance_metadata leaves b'\xff' and [b'hi'].
        assert_eq!(sensitive["ds"]["meta_data"]["blob"], json!("/w=="));
        assert_eq!(sensitive["ds"]["meta_data"]["list"], json!(["ci-b64:aGk="]));
        assert_eq!(
            sensitive["base64_encoded_keys"],
            json!(["ds/meta_data/blob"])
        );
    }

    #[test]
    fn redaction_follows_paths() {
        let md = json!({"a": {"userdata": "x", "b": {"token": 1}}, "merged_cfg": {"userdata": 2}});
        let keys: Vec<String> = vec!["userdata".into(), "merged_cfg".into(), "a/b/token".into()];
        let p = Value::Object(process_instance_metadata(
            md.as_object().unwrap(),
            "",
            &keys,
        ));
        assert_eq!(
            p["sensitive_keys"],
            json!([
                "a/b/token",
                "a/userdata",
                "merged_cfg",
                "merged_cfg/userdata"
            ])
        );
        let r = redact_sensitive_keys(&p);
        assert_eq!(r["a"]["userdata"], json!(REDACT_SENSITIVE_VALUE));
        assert_eq!(r["a"]["b"]["token"], json!(REDACT_SENSITIVE_VALUE));
        assert_eq!(r["merged_cfg"], json!(REDACT_SENSITIVE_VALUE));
    }
}
