//! VMware: metadata, user-data and vendor-data from the VM's guestinfo
//! variables (`vmware-rpctool "info-get guestinfo.metadata"`, or
//! `vmtoolsd --cmd ...`), or from `VMX_GUESTINFO_*` environment variables.
//!
//! Each value may carry an `<key>.encoding` (`base64`/`b64`,
//! `gzip+base64`/`gz+b64`). Metadata is JSON or YAML; its `network` key
//! (a mapping, or an encoded document with `network.encoding`) is the
//! network config. Keys listed in `redact` / `cleanup-guestinfo` are
//! overwritten with `---` afterwards. Guest customization (IMC,
//! `cust.cfg`) and the `wait-on-network` / IP advertising done in
//! upstream's `setup()` are not built.

use crate::blob;
use crate::context::{SourceContext, SourceOptions, Stage};
use crate::datasource::{normalize_pubkey_data, Datasource, METADATA_UNKNOWN};
use crate::error::SourceError;
use base64::Engine;
use ci_host::{Cmd, CmdError, Host};
use ci_pyval::gzip::{decompress_bounded, GzipError};
use ci_pyval::py_str;
use serde_json::{json, Map, Value};

const NOVAL: &str = "No value found";
const GUESTINFO_EMPTY_YAML_VAL: &str = "---";
const PRODUCT_UUID_FILE_PATH: &str = "/sys/class/dmi/id/product_uuid";
/// Largest decompressed value accepted.
const MAX_DECODED: u64 = 64 * 1024 * 1024;
/// Where `which` looks, inside the host root.
const PATH_DIRS: &[&str] = &[
    "/usr/local/sbin",
    "/usr/local/bin",
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    EnvVar,
    GuestInfo,
}

impl Access {
    fn as_str(self) -> &'static str {
        match self {
            Access::EnvVar => "envvar",
            Access::GuestInfo => "guestinfo",
        }
    }

    fn parse(s: &str) -> Option<Access> {
        match s {
            "envvar" => Some(Access::EnvVar),
            "guestinfo" => Some(Access::GuestInfo),
            _ => None,
        }
    }
}

/// The RPC program found and how it takes a command.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RpcTool {
    /// `vmware-rpctool "<cmd>"`.
    RpcTool(String),
    /// `vmtoolsd --cmd "<cmd>"`.
    Vmtoolsd(String),
}

impl RpcTool {
    fn path(&self) -> &str {
        match self {
            RpcTool::RpcTool(p) | RpcTool::Vmtoolsd(p) => p,
        }
    }

    fn cmd(&self, arg: &str) -> Cmd {
        match self {
            RpcTool::RpcTool(p) => Cmd::new([p.as_str(), arg]),
            RpcTool::Vmtoolsd(p) => Cmd::new([p.as_str(), "--cmd", arg]),
        }
        .in_target()
    }
}

pub struct Vmware {
    stage: Stage,
    #[allow(dead_code)]
    opts: SourceOptions,
    /// Environment to read `VMX_GUESTINFO*` from (`None`: the process's).
    env: Option<Vec<(String, String)>>,
    access: Option<Access>,
    metadata: Value,
    userdata_raw: Option<Vec<u8>>,
    vendordata_raw: Option<Vec<u8>>,
    network: Option<Value>,
}

/// A failed rpctool call, as upstream's `ProcessExecutionError`.
struct RpcError(String);

impl Vmware {
    pub fn new(stage: Stage, opts: SourceOptions) -> Self {
        Vmware {
            stage,
            opts,
            env: None,
            access: None,
            metadata: json!({}),
            userdata_raw: None,
            vendordata_raw: None,
            network: None,
        }
    }

    /// Read the `VMX_GUESTINFO*` variables from `env` instead of the process.
    pub fn with_env(mut self, env: Vec<(String, String)>) -> Self {
        self.env = Some(env);
        self
    }

    pub(crate) fn restore(
        stage: Stage,
        opts: SourceOptions,
        v: &Value,
    ) -> Result<Self, SourceError> {
        let mut ds = Vmware::new(stage, opts);
        ds.metadata = match v.get("metadata") {
            Some(m @ Value::Object(_)) => m.clone(),
            _ => {
                return Err(SourceError::Cache(
                    "VMware entry: missing or bad metadata".into(),
                ))
            }
        };
        let bad = |k: &str| SourceError::Cache(format!("VMware entry: bad {k}"));
        ds.userdata_raw = blob::decode(v.get("userdata_raw")).map_err(|_| bad("userdata_raw"))?;
        ds.vendordata_raw =
            blob::decode(v.get("vendordata_raw")).map_err(|_| bad("vendordata_raw"))?;
        ds.access = v
            .get("access")
            .and_then(Value::as_str)
            .and_then(Access::parse);
        ds.network = v.get("network").filter(|n| !n.is_null()).cloned();
        Ok(ds)
    }

    fn env_var(&self, name: &str) -> Option<String> {
        match &self.env {
            Some(e) => e.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()),
            None => std::env::var(name).ok(),
        }
    }

    /// Upstream `guestinfo_envvar_get_value` + decoding.
    fn envvar(&self, key: &str) -> Result<Option<String>, String> {
        let get = |k: &str| {
            let v = self.env_var(&envvar_key_name(k)).unwrap_or_default();
            handle_returned_val(k, &v)
        };
        let Some(val) = get(key) else {
            return Ok(None);
        };
        let enc = get(&format!("{key}.encoding"));
        decode(&envvar_key_name(key), enc.as_deref(), &val).map(Some)
    }

    fn envvar_data(&self) -> Result<[Option<String>; 3], String> {
        if self.env_var("VMX_GUESTINFO").unwrap_or_default().is_empty() {
            return Ok([None, None, None]);
        }
        Ok([
            self.envvar("metadata")?,
            self.envvar("userdata")?,
            self.envvar("vendordata")?,
        ])
    }

    /// Upstream `guestinfo_get_value`.
    fn guestinfo_value(host: &Host, tool: &RpcTool, key: &str) -> Result<Option<String>, RpcError> {
        log::debug!("Getting guestinfo value for key {key}");
        let cmd = tool.cmd(&format!("info-get {}", guestinfo_key_name(key)));
        match host.runner().execute(host, &cmd) {
            Ok(out) if out.status == 0 => {
                let stdout = out.stdout_str();
                if out.stderr_str().trim() == NOVAL {
                    log::debug!("No value found for key {key}");
                } else if stdout.is_empty() {
                    log::error!("Failed to get guestinfo value for key {key}");
                }
                Ok(handle_returned_val(key, &stdout))
            }
            Ok(out) if out.stderr_str().trim() == NOVAL => {
                log::debug!("No value found for key {key}");
                Ok(None)
            }
            Ok(out) => {
                let e = CmdError::Failed {
                    cmd: cmd.display(),
                    status: out.status,
                    stderr: out.stderr_str().trim().to_string(),
                };
                log::warn!("Failed to get guestinfo value for key {key}: {e}");
                Err(RpcError(e.to_string()))
            }
            Err(e) => {
                log::warn!(
                    "Unexpected error while trying to get guestinfo value for key {key}: {e}"
                );
                Err(RpcError(e.to_string()))
            }
        }
    }

    /// Upstream `guestinfo` (value + encoding).
    fn guestinfo(host: &Host, tool: &RpcTool, key: &str) -> Result<Option<String>, RpcError> {
        let Some(val) = Self::guestinfo_value(host, tool, key)? else {
            return Ok(None);
        };
        let enc = Self::guestinfo_value(host, tool, &format!("{key}.encoding"))?;
        decode(&guestinfo_key_name(key), enc.as_deref(), &val)
            .map(Some)
            .map_err(RpcError)
    }

    fn query_guestinfo(host: &Host, tool: &RpcTool) -> Result<[Option<String>; 3], RpcError> {
        log::info!("query guestinfo with {}", tool.path());
        Ok([
            Self::guestinfo(host, tool, "metadata")?,
            Self::guestinfo(host, tool, "userdata")?,
            Self::guestinfo(host, tool, "vendordata")?,
        ])
    }

    /// Upstream `get_guestinfo_data_fn`: vmware-rpctool first, vmtoolsd as fallback.
    fn guestinfo_data(host: &Host) -> (Option<RpcTool>, [Option<String>; 3]) {
        let vmtoolsd = which(host, "vmtoolsd");
        let rpctool = which(host, "vmware-rpctool");
        if let Some(p) = &rpctool {
            log::debug!("discovered vmware-rpctool: {p}");
        }
        if let Some(p) = &vmtoolsd {
            log::debug!("discovered vmtoolsd: {p}");
        }
        let tool = match (&rpctool, &vmtoolsd) {
            (Some(p), _) => RpcTool::RpcTool(p.clone()),
            (None, Some(p)) => RpcTool::Vmtoolsd(p.clone()),
            (None, None) => {
                log::debug!("no rpctool discovered");
                return (None, [None, None, None]);
            }
        };
        match Self::query_guestinfo(host, &tool) {
            Ok(d) => (Some(tool), d),
            Err(RpcError(e)) => {
                log::warn!("Failed to query guestinfo with {}: {e}", tool.path());
                let Some(vt) = vmtoolsd.filter(|_| matches!(tool, RpcTool::RpcTool(_))) else {
                    if matches!(tool, RpcTool::RpcTool(_)) {
                        log::info!("vmtoolsd fallback option not present");
                    }
                    return (Some(tool), [None, None, None]);
                };
                log::info!("fallback to vmtoolsd");
                let tool = RpcTool::Vmtoolsd(vt);
                match Self::query_guestinfo(host, &tool) {
                    Ok(d) => (Some(tool), d),
                    Err(_) => {
                        log::warn!("Failed to query guestinfo with {}: {e}", tool.path());
                        (Some(tool), [None, None, None])
                    }
                }
            }
        }
    }

    /// Upstream `guestinfo_set_value`.
    fn guestinfo_set(host: &Host, tool: &RpcTool, key: &str, value: &str) -> bool {
        let value = if value.is_empty() { " " } else { value };
        log::debug!("Setting guestinfo key={key} to value={value}");
        let cmd = tool.cmd(&format!("info-set {} {value}", guestinfo_key_name(key)));
        match host.run(&cmd) {
            Ok(_) => true,
            Err(e) => {
                log::warn!("Failed to set guestinfo key={key} to value={value}: {e}");
                false
            }
        }
    }

    /// Upstream `redact_keys` / `guestinfo_redact_keys`.
    fn redact(&self, host: &Host, tool: Option<&RpcTool>) {
        let keys = self
            .metadata
            .get("redact")
            .or_else(|| self.metadata.get("cleanup-guestinfo"));
        let (Some(keys), Some(Access::GuestInfo), Some(tool)) = (keys, self.access, tool) else {
            return;
        };
        if !ci_pyval::truthy(keys) {
            return;
        }
        let keys: Vec<String> = match keys {
            Value::Array(a) => a.iter().map(py_str).collect(),
            other => vec![py_str(other)],
        };
        for key in keys {
            let name = guestinfo_key_name(&key);
            log::info!("clearing {name}");
            if !Self::guestinfo_set(host, tool, &key, GUESTINFO_EMPTY_YAML_VAL) {
                log::error!("failed to clear {name}");
            }
            log::info!("clearing {name}.encoding");
            if !Self::guestinfo_set(host, tool, &format!("{key}.encoding"), "") {
                log::error!("failed to clear {name}.encoding");
            }
        }
    }
}

fn guestinfo_key_name(key: &str) -> String {
    format!("guestinfo.{key}")
}

fn envvar_key_name(key: &str) -> String {
    format!("vmx.{}", guestinfo_key_name(key))
        .to_uppercase()
        .replace('.', "_")
}

/// Upstream `handle_returned_guestinfo_val`: trailing space stripped; empty
/// or `---` is no value.
fn handle_returned_val(key: &str, val: &str) -> Option<String> {
    let v = val.trim_end();
    if v.is_empty() || v == GUESTINFO_EMPTY_YAML_VAL {
        log::debug!("No value found for key {key}");
        return None;
    }
    Some(v.to_string())
}

/// Python's lenient `b64decode`: characters outside the alphabet are dropped.
fn b64decode(data: &str) -> Result<Vec<u8>, String> {
    let clean: String = data
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean.as_bytes())
        .map_err(|e| format!("Error('Incorrect padding or invalid base64: {e}')"))
}

/// Upstream `decode`: the value as text, after its encoding.
fn decode(key: &str, enc: Option<&str>, data: &str) -> Result<String, String> {
    log::debug!(
        "Getting encoded data for key={key}, enc={}",
        enc.unwrap_or("None")
    );
    let raw: Vec<u8> = match enc {
        Some(e @ ("gzip+base64" | "gz+b64")) => {
            log::debug!("Decoding {e} format {key}");
            let bytes = b64decode(data)?;
            // Not gzip after all: upstream keeps the decoded bytes.
            match decompress_bounded(&bytes, MAX_DECODED) {
                Ok(out) => out,
                Err(GzipError::OverBound) => {
                    return Err(format!(
                        "{key} decompresses to more than {} MiB (bound MAX_DECODED)",
                        MAX_DECODED >> 20
                    ))
                }
                Err(GzipError::NotGzip(_) | GzipError::Corrupt(_)) => bytes,
            }
        }
        Some(e @ ("base64" | "b64")) => {
            log::debug!("Decoding {e} format {key}");
            b64decode(data)?
        }
        _ => {
            log::debug!("Plain-text data {key}");
            return Ok(data.to_string());
        }
    };
    String::from_utf8(raw)
        .map_err(|e| format!("UnicodeDecodeError('utf-8' codec can't decode: {e})"))
}

/// `which`: the first executable `name` in the usual PATH dirs of the root.
fn which(host: &Host, name: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    PATH_DIRS.iter().map(|d| format!("{d}/{name}")).find(|p| {
        std::fs::metadata(host.resolve(p))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Upstream `is_vmware_platform`.
fn is_vmware_platform(host: &Host) -> bool {
    match crate::dmi::read(host, "system-product-name") {
        None => {
            log::debug!("No system-product-name found");
            false
        }
        Some(p) if !p.to_lowercase().contains("vmware") => {
            log::debug!("Not a VMware platform");
            false
        }
        Some(_) => true,
    }
}

/// Upstream `load_json_or_yaml`: JSON mapping first, then a YAML mapping, else `{}`.
fn load_json_or_yaml(data: Option<&str>) -> Map<String, Value> {
    let Some(text) = data.filter(|d| !d.is_empty()) else {
        return Map::new();
    };
    if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(text) {
        return m;
    }
    match crate::yamlblob::load_dict(text.as_bytes(), "VMware guestinfo") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Upstream `process_metadata`: `network` (+ `network.encoding`) becomes `{"config": ...}`.
fn process_metadata(mut data: Map<String, Value>) -> Result<Map<String, Value>, String> {
    if data.is_empty() {
        return Ok(data);
    }
    let network = data.remove("network");
    let enc = data.remove("network.encoding");
    if let Some(net) = network.filter(ci_pyval::truthy) {
        let config = match net {
            Value::Object(m) => {
                log::debug!("network data copied to 'config' key");
                Value::Object(m)
            }
            other => {
                let text = py_str(&other);
                log::debug!("network data to be decoded {text}");
                let enc = enc.as_ref().map(py_str);
                let dec = decode("metadata.network", enc.as_deref(), &text)?;
                Value::Object(load_json_or_yaml(Some(&dec)))
            }
        };
        let network = json!({"config": config});
        log::debug!("network data {}", ci_pyval::py_repr(&network));
        data.insert("network".into(), network);
    }
    Ok(data)
}

impl Datasource for Vmware {
    fn dsname(&self) -> &'static str {
        "VMware"
    }

    fn class_name(&self) -> &'static str {
        "DataSourceVMware"
    }

    fn stage(&self) -> Stage {
        self.stage
    }

    fn crawl(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        let malformed = |message: String| SourceError::Malformed {
            what: "VMware".into(),
            message,
        };
        let mut data = [None, None, None];
        let mut tool = None;
        let env = self.envvar_data().map_err(malformed)?;
        if env.iter().any(Option::is_some) {
            self.access = Some(Access::EnvVar);
            data = env;
        } else if is_vmware_platform(ctx.host) {
            let (t, d) = Self::guestinfo_data(ctx.host);
            tool = t;
            if d.iter().any(Option::is_some) {
                self.access = Some(Access::GuestInfo);
                data = d;
            }
        }
        let Some(access) = self.access else {
            log::debug!("failed to find a valid data access method");
            return Ok(false);
        };
        log::info!("using data access method {}", self.subplatform());
        let _ = access;
        let [md, ud, vd] = data;
        let mut metadata = process_metadata(load_json_or_yaml(md.as_deref())).map_err(malformed)?;
        self.userdata_raw = ud.map(String::into_bytes);
        self.vendordata_raw = vd.map(String::into_bytes);
        self.network = match metadata.get("network") {
            Some(n) => {
                log::debug!("using metadata network config");
                n.get("config").cloned()
            }
            None => {
                log::debug!("using fallback network config");
                ci_net::fallback_config(ctx.host)
            }
        };
        if !metadata.contains_key("instance-id") {
            // Upstream reads the file (and fails without it) on first use.
            match ctx.host.read_to_string(PRODUCT_UUID_FILE_PATH) {
                Ok(u) => {
                    metadata.insert("instance-id".into(), json!(u.trim_end().to_lowercase()));
                }
                Err(e) => {
                    return Err(SourceError::Read {
                        path: PRODUCT_UUID_FILE_PATH.into(),
                        message: e.to_string(),
                    })
                }
            }
        }
        self.metadata = Value::Object(metadata);
        self.redact(ctx.host, tool.as_ref());
        let any = self.metadata.as_object().is_some_and(|m| !m.is_empty())
            || self.userdata_raw.as_ref().is_some_and(|u| !u.is_empty())
            || self.vendordata_raw.as_ref().is_some_and(|v| !v.is_empty());
        Ok(any)
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

    fn public_ssh_keys(&self) -> Vec<String> {
        for k in [
            "public-keys-data",
            "public_keys_data",
            "public-keys",
            "public_keys",
        ] {
            if let Some(v) = self.metadata.get(k) {
                return normalize_pubkey_data(Some(v));
            }
        }
        Vec::new()
    }

    fn platform_type(&self) -> String {
        "vmware".into()
    }

    fn subplatform(&self) -> String {
        match self.access {
            Some(Access::EnvVar) => format!("envvar ({})", envvar_key_name("metadata")),
            Some(Access::GuestInfo) => format!("guestinfo ({})", guestinfo_key_name("metadata")),
            None => METADATA_UNKNOWN.into(),
        }
    }

    fn display(&self) -> String {
        format!(
            "{} [seed={}]",
            self.class_name(),
            self.access.map(Access::as_str).unwrap_or("None")
        )
    }

    fn to_cache(&self) -> Value {
        json!({
            "format": crate::CACHE_FORMAT,
            "class": self.class_name(),
            "dsname": self.dsname(),
            "stage": self.stage.as_cache_str(),
            "metadata": self.metadata,
            "access": self.access.map(Access::as_str),
            "userdata_raw": blob::encode(self.userdata_raw.as_deref()),
            "vendordata_raw": blob::encode(self.vendordata_raw.as_deref()),
            "network": self.network,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn decodings() {
        assert_eq!(decode("k", None, "plain").unwrap(), "plain");
        assert_eq!(decode("k", Some("b64"), "aGk=\n").unwrap(), "hi");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"zipped").unwrap();
        let enc = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        assert_eq!(decode("k", Some("gzip+base64"), &enc).unwrap(), "zipped");
        assert_eq!(decode("k", Some("gz+b64"), "aGk=").unwrap(), "hi");
        assert!(decode("k", Some("base64"), "aGk").is_err());
        assert_eq!(
            envvar_key_name("metadata.encoding"),
            "VMX_GUESTINFO_METADATA_ENCODING"
        );
        assert_eq!(handle_returned_val("k", "---\n"), None);
        assert_eq!(handle_returned_val("k", "x \n").as_deref(), Some("x"));
    }

    #[test]
    fn metadata_processing() {
        let md = load_json_or_yaml(Some(
            "{\"instance-id\": \"i\", \"network\": {\"version\": 2}}",
        ));
        let p = process_metadata(md).unwrap();
        assert_eq!(
            Value::Object(p),
            json!({"instance-id": "i", "network": {"config": {"version": 2}}})
        );
        let md = load_json_or_yaml(Some(
            "instance-id: i\nnetwork: dmVyc2lvbjogMQo=\nnetwork.encoding: base64\n",
        ));
        let p = process_metadata(md).unwrap();
        assert_eq!(
            Value::Object(p),
            json!({"instance-id": "i", "network": {"config": {"version": 1}}})
        );
        assert!(load_json_or_yaml(Some("[1, 2]")).is_empty());
    }
}

#[cfg(test)]
mod decode_bound_tests {
    use super::*;
    use base64::Engine;

    fn gz_b64_zeros(n: u64) -> String {
        base64::engine::general_purpose::STANDARD.encode(ci_pyval::gzip::repeated(b'a', n))
    }

    #[test]
    fn gzip_values_are_bounded() {
        let e = decode("userdata", Some("gz+b64"), &gz_b64_zeros(MAX_DECODED + 1)).unwrap_err();
        assert!(e.contains("bound MAX_DECODED"), "{e}");
        assert!(e.starts_with("userdata "), "{e}");
        let ok = decode("userdata", Some("gz+b64"), &gz_b64_zeros(MAX_DECODED)).unwrap();
        assert_eq!(ok.len() as u64, MAX_DECODED);
    }
}
