//! Reading the OpenStack metadata layout (upstream's `BaseReader.read_v2`,
//! `ConfigDriveReader.read_v1`) from the metadata service or a config
//! drive directory.
//!
//! Layout: `openstack/` lists (or holds) dated versions; the newest one we
//! know that is present is used, else `latest`. Under it:
//! `meta_data.json` (required), `user_data`, `vendor_data.json`,
//! `vendor_data2.json`, `network_data.json`; `meta_data.json` may point to
//! more files (`files[].content_path`, `network_config.content_path`)
//! below `openstack/`.

pub(crate) use crate::ec2::crawl::combine_url;
use crate::url::{UrlError, UrlPolicy, UrlReader};
use base64::Engine;
use ci_host::Host;
use ci_pyval::py_str;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub(crate) const OS_LATEST: &str = "latest";
/// Chronological; newest is tried first.
pub(crate) const OS_VERSIONS: &[&str] = &[
    "2012-08-10",
    "2013-04-04",
    "2013-10-17",
    "2015-10-15",
    "2016-06-30",
    "2016-10-06",
    "2017-02-22",
    "2018-08-27",
];

/// Why a location could not be read (upstream `NonReadable` /
/// `BrokenMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OsError {
    /// Not this kind of location (the mandatory file is missing).
    NonReadable(String),
    /// It is one, but its content is bad.
    Broken(String),
}

impl std::fmt::Display for OsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OsError::NonReadable(m) | OsError::Broken(m) => f.write_str(m),
        }
    }
}

/// What a location holds (upstream's `results` dict).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Crawled {
    pub version: u8,
    pub metadata: Map<String, Value>,
    pub userdata: Option<Vec<u8>>,
    pub vendordata: Option<Value>,
    pub vendordata2: Option<Value>,
    pub networkdata: Option<Value>,
    /// ENI text named by `meta_data.json`'s `network_config`.
    pub network_config: Option<String>,
    pub files: BTreeMap<String, Vec<u8>>,
    pub dsmode: Option<Value>,
    pub ec2_metadata: Value,
}

/// Where the layout is read from.
pub(crate) trait Backend {
    fn base(&self) -> &str;
    /// `base` joined with `parts`.
    fn join(&self, parts: &[&str]) -> String;
    /// Read one location; `Err` is upstream's `IOError`.
    fn read(&self, path: &str) -> Result<Vec<u8>, String>;
    fn versions(&self) -> Result<Vec<String>, String>;
    fn ec2_metadata(&self) -> Result<Value, OsError>;
}

/// Upstream `_find_working_version`.
pub(crate) fn find_working_version(b: &dyn Backend) -> String {
    let available = match b.versions() {
        Ok(v) => v,
        Err(e) => {
            log::debug!(
                "Unable to read openstack versions from {} due to: {e}",
                b.base()
            );
            Vec::new()
        }
    };
    let selected = OS_VERSIONS
        .iter()
        .rev()
        .find(|v| available.iter().any(|a| a == *v))
        .copied()
        .unwrap_or(OS_LATEST);
    log::debug!(
        "Selected version '{selected}' from {}",
        ci_pyval::py_list(&available)
    );
    selected.to_string()
}

/// `util.load_json`: the mapping (or, with `any`, also a list or string).
fn load_json(blob: &[u8], any: bool) -> Result<Value, String> {
    let text = std::str::from_utf8(blob).map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let ok = match &v {
        Value::Object(_) => true,
        Value::Array(_) | Value::String(_) => any,
        _ => false,
    };
    if !ok {
        return Err(format!(
            "Decoded JSON is not one of the allowed root types: got <class '{}'>",
            ci_pyval::py_type(&v)
        ));
    }
    Ok(v)
}

/// Python's lenient `base64.b64decode`: characters outside the alphabet
/// are dropped; a bad length is an error.
pub(crate) fn b64decode_lenient(s: &str) -> Result<Vec<u8>, String> {
    let clean: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '+' || *c == '/' || *c == '=')
        .collect();
    let body = clean.trim_end_matches('=');
    if body.contains('=') || body.len() % 4 == 1 {
        return Err("Incorrect padding".into());
    }
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(body)
        .map_err(|e| e.to_string())
}

/// Bytes in metadata the way upstream's JSON dump shows them: text when it
/// is UTF-8, else `ci-b64:<base64>`.
pub(crate) fn bytes_value(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => json!(s),
        Err(_) => json!(format!(
            "ci-b64:{}",
            base64::engine::general_purpose::STANDARD.encode(b)
        )),
    }
}

fn read_content_path(b: &dyn Backend, item: &Value) -> Result<Vec<u8>, String> {
    let path = item.get("content_path").map(py_str).unwrap_or_default();
    let path = path.trim_start_matches('/');
    let pieces: Vec<&str> = path.split('/').collect();
    if pieces.iter().all(|p| p.is_empty()) {
        return Err(format!(
            "Item {} has no valid content path",
            ci_pyval::py_repr(item)
        ));
    }
    let mut all = vec!["openstack"];
    all.extend(pieces);
    b.read(&b.join(&all))
}

/// Upstream `read_v2`.
pub(crate) fn read_v2(b: &dyn Backend) -> Result<Crawled, OsError> {
    let version = find_working_version(b);
    let mut out = Crawled {
        version: 2,
        userdata: Some(Vec::new()),
        ..Crawled::default()
    };
    let file = |name: &str| b.join(&["openstack", &version, name]);

    let md_path = file("meta_data.json");
    let md_blob = b.read(&md_path).map_err(|e| {
        log::debug!("Failed reading mandatory path {md_path} due to: {e}");
        OsError::NonReadable(format!("Missing mandatory path: {md_path}"))
    })?;
    let broken =
        |path: &str, e: String| OsError::Broken(format!("Failed to process path {path}: {e}"));
    let mut metadata = match load_json(&md_blob, false).map_err(|e| broken(&md_path, e))? {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let optional = |name: &str| -> Option<(String, Vec<u8>)> {
        let path = file(name);
        match b.read(&path) {
            Ok(d) => Some((path, d)),
            Err(e) => {
                log::debug!("Failed reading optional path {path} due to: {e}");
                None
            }
        }
    };
    if let Some((_, ud)) = optional("user_data") {
        out.userdata = Some(ud);
    }
    for (name, slot) in [
        ("vendor_data.json", &mut out.vendordata),
        ("vendor_data2.json", &mut out.vendordata2),
        ("network_data.json", &mut out.networkdata),
    ] {
        if let Some((path, blob)) = optional(name) {
            *slot = Some(load_json(&blob, true).map_err(|e| broken(&path, e))?);
        }
    }

    if let Some(seed) = metadata.get("random_seed").cloned() {
        let decoded = match &seed {
            Value::String(s) => b64decode_lenient(s),
            other => Err(format!(
                "argument should be a bytes-like object or ASCII string, not '{}'",
                ci_pyval::py_type(other)
            )),
        }
        .map_err(|e| OsError::Broken(format!("Badly formatted metadata random_seed entry: {e}")))?;
        metadata.insert("random_seed".into(), bytes_value(&decoded));
    }

    if let Some(Value::Array(items)) = metadata.get("files") {
        for item in items {
            let Some(path) = item.get("path") else {
                continue;
            };
            let path = py_str(path);
            let data = read_content_path(b, item).map_err(|e| {
                OsError::Broken(format!("Failed to read provided file {path}: {e}"))
            })?;
            out.files.insert(path, data);
        }
    }

    if let Some(item) = metadata
        .get("network_config")
        .filter(|v| ci_pyval::truthy(v))
    {
        let content = read_content_path(b, item)
            .map_err(|e| OsError::Broken(format!("Failed to read network configuration: {e}")))?;
        out.network_config = Some(String::from_utf8_lossy(&content).into_owned());
    }

    out.dsmode = metadata.get("meta").and_then(|m| m.get("dsmode")).cloned();
    out.ec2_metadata = b.ec2_metadata()?;

    for (target, source, required) in [
        ("local-hostname", "hostname", false),
        ("instance-id", "uuid", true),
    ] {
        match metadata.get(source).cloned() {
            Some(v) => {
                metadata.insert(target.into(), v);
            }
            None if required => {
                return Err(OsError::Broken(format!("No '{source}' entry in metadata")))
            }
            None => {}
        }
    }
    out.metadata = metadata;
    Ok(out)
}

/// A crawl's vendor-data and vendor-data2 as blobs; content
/// [`convert_vendordata`] rejects is warned about and dropped, not fatal.
pub(crate) fn vendordata_blobs(
    vendordata: Option<&Value>,
    vendordata2: Option<&Value>,
) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let convert = |v: Option<&Value>, name: &str| {
        convert_vendordata(v, true).unwrap_or_else(|e| {
            log::warn!("Invalid content in {name}: {e}");
            None
        })
    };
    let first = convert(vendordata, "vendor-data");
    let second = convert(vendordata2, "vendor-data2");
    (first, second)
}

/// Upstream `sources.convert_vendordata`: a string or list is used as is
/// (a list becomes a `#cloud-config-archive`, which our user-data
/// processing reads part by part), a mapping contributes its `cloud-init`
/// value.
pub(crate) fn convert_vendordata(
    v: Option<&Value>,
    recurse: bool,
) -> Result<Option<Vec<u8>>, String> {
    let Some(v) = v.filter(|v| ci_pyval::truthy(v)) else {
        return Ok(None);
    };
    match v {
        Value::String(s) => Ok(Some(s.clone().into_bytes())),
        Value::Array(_) => Ok(Some(format!("#cloud-config-archive\n{v}\n").into_bytes())),
        Value::Object(m) if recurse => convert_vendordata(m.get("cloud-init"), false),
        Value::Object(_) => Err("vendordata['cloud-init'] cannot be dict".into()),
        other => Err(format!(
            "Unknown data type for vendordata: <class '{}'>",
            ci_pyval::py_type(other)
        )),
    }
}

/// The metadata service over HTTP.
pub(crate) struct HttpBackend {
    pub base: String,
    pub reader: UrlReader,
    pub retries: u32,
    pub sec_between: Duration,
}

impl HttpBackend {
    pub(crate) fn new(
        base: &str,
        policy: &UrlPolicy,
        timeout: Duration,
        retries: u32,
        sec_between: Duration,
    ) -> Self {
        HttpBackend {
            base: base.to_string(),
            reader: UrlReader::new(super::wait::attempt_policy(policy, timeout)),
            retries,
            sec_between,
        }
    }

    /// `readurl` with upstream's `should_retry_cb`: 4xx other than 408 and
    /// 429 fail at once.
    fn get(&self, url: &str) -> Result<Vec<u8>, UrlError> {
        let mut attempt = 0u32;
        loop {
            let err = match self.reader.get(url, &[]) {
                Ok(r) => return Ok(r.body),
                Err(e) => e,
            };
            let retry = match err.code() {
                Some(c) if c >= 400 => ci_http::status::OPENSTACK_RETRY_CODES.contains(&c),
                _ => true,
            };
            attempt += 1;
            if !retry || attempt > self.retries {
                return Err(err);
            }
            if !self.sec_between.is_zero() {
                std::thread::sleep(self.sec_between);
            }
        }
    }
}

impl Backend for HttpBackend {
    fn base(&self) -> &str {
        &self.base
    }

    fn join(&self, parts: &[&str]) -> String {
        parts
            .iter()
            .fold(self.base.clone(), |acc, p| combine_url(&acc, p))
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        self.get(path).map_err(|e| e.to_string())
    }

    fn versions(&self) -> Result<Vec<String>, String> {
        let body = self.read(&self.join(&["openstack"]))?;
        let text = String::from_utf8(body).map_err(|e| e.to_string())?;
        Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect())
    }

    /// The EC2-compatible `latest/meta-data/` tree; any failure gives `{}`
    /// with upstream's warning.
    fn ec2_metadata(&self) -> Result<Value, OsError> {
        let url = self.join(&["latest", "meta-data/"]);
        match crate::openstack::ec2md::materialize(&url, &|u| self.get(u)) {
            Ok(Value::Object(m)) => Ok(Value::Object(m)),
            Ok(_) => Ok(json!({})),
            Err(e) => {
                log::warn!("Failed fetching meta-data/ from url {url}");
                log::debug!("{e}");
                Ok(json!({}))
            }
        }
    }
}

/// A config drive's files (a mounted disk or a seed directory), read
/// through a [`Host`] so that links resolve inside its root: the target's
/// root for a seed directory, the disk itself for a mounted one.
pub(crate) struct DirBackend {
    pub host: Host,
    /// The directory as a path of `host`.
    pub dir: String,
    /// How the directory is named in messages (the target path).
    pub shown: String,
}

impl DirBackend {
    fn path(&self, shown: &str) -> String {
        let rel = shown
            .strip_prefix(&self.shown)
            .unwrap_or(shown)
            .trim_start_matches('/');
        format!("{}/{rel}", self.dir.trim_end_matches('/'))
    }
}

impl Backend for DirBackend {
    fn base(&self) -> &str {
        &self.shown
    }

    fn join(&self, parts: &[&str]) -> String {
        let mut p = self.shown.trim_end_matches('/').to_string();
        for part in parts {
            if part.starts_with('/') {
                p = part.to_string();
            } else {
                p = format!("{p}/{part}");
            }
        }
        p
    }

    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        match self.host.read_optional(self.path(path)) {
            Ok(Some(data)) => Ok(data),
            Ok(None) => Err(format!("[Errno 2] No such file or directory: '{path}'")),
            Err(e) => Err(format!("{path}: {e}")),
        }
    }

    fn versions(&self) -> Result<Vec<String>, String> {
        let dir = self.path(&format!("{}/openstack", self.shown));
        if !self.host.is_dir(&dir) {
            return Err(format!(
                "{}: No such file or directory",
                self.host.path(&dir).display()
            ));
        }
        // Sorted already.
        Ok(self.host.list_dir(&dir))
    }

    fn ec2_metadata(&self) -> Result<Value, OsError> {
        let shown = self.join(&["ec2", "latest", "meta-data.json"]);
        let blob = match self.host.read_optional(self.path(&shown)) {
            Ok(Some(blob)) => blob,
            Ok(None) => return Ok(json!({})),
            Err(e) => {
                return Err(OsError::Broken(format!(
                    "Failed to process path {shown}: {e}"
                )))
            }
        };
        load_json(&blob, false)
            .map_err(|e| OsError::Broken(format!("Failed to process path {shown}: {e}")))
    }
}

/// Upstream `read_v1`: the pre-2012 layout (`meta.js`,
/// `etc/network/interfaces`, `root/.ssh/authorized_keys`).
pub(crate) fn read_v1(b: &DirBackend) -> Result<Crawled, OsError> {
    let names = [
        "etc/network/interfaces",
        "meta.js",
        "root/.ssh/authorized_keys",
    ];
    let found: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| b.host.exists(b.path(&format!("{}/{n}", b.shown))))
        .collect();
    if found.is_empty() {
        return Err(OsError::NonReadable(format!("{}: no files found", b.shown)));
    }
    let read = |name: &str| -> Result<Option<Vec<u8>>, OsError> {
        if !found.contains(&name) {
            return Ok(None);
        }
        let shown = b.join(&[name]);
        b.read(&shown)
            .map(Some)
            .map_err(|_| OsError::Broken(format!("Failed to read: {shown}")))
    };
    let mut md = Map::new();
    let eni = read("etc/network/interfaces")?;
    md.insert(
        "network_config".into(),
        json!(eni
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default()),
    );
    let meta_js = match read("meta.js")? {
        Some(blob) => load_json(&blob, false).map_err(|e| {
            OsError::Broken(format!(
                "Failed to process path {}: {e}",
                b.join(&["meta.js"])
            ))
        })?,
        None => json!({}),
    };
    md.insert("meta_js".into(), meta_js.clone());
    let keys = read("root/.ssh/authorized_keys")?;
    let keys_text = keys
        .as_deref()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .unwrap_or_default();
    md.insert("authorized_keys".into(), json!(keys_text));
    let keydata = match meta_js.get("public-keys") {
        Some(v) => py_str(v),
        None => keys_text,
    };
    if !keydata.is_empty() {
        let lines: Vec<Value> = keydata
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| json!(l))
            .collect();
        md.insert("public-keys".into(), Value::Array(lines));
    }
    if let Some(iid) = meta_js.get("instance-id") {
        md.insert("instance-id".into(), iid.clone());
    }
    Ok(Crawled {
        version: 1,
        metadata: md,
        dsmode: meta_js.get("dsmode").cloned(),
        userdata: Some(
            meta_js
                .get("user-data")
                .map(|u| py_str(u).into_bytes())
                .unwrap_or_default(),
        ),
        ..Crawled::default()
    })
}

/// Upstream `read_config_drive`: v2, then v1; the last "not readable"
/// error when neither is there.
/// A mounted config drive at `dir` on this machine; links resolve inside it.
pub(crate) fn read_config_drive(dir: &Path, shown: &str) -> Result<Crawled, OsError> {
    read_drive(&DirBackend {
        host: Host::new(dir),
        dir: "/".to_string(),
        shown: shown.to_string(),
    })
}

/// A config drive directory of the target (`/var/lib/cloud/seed/config_drive`);
/// links resolve inside the target's root.
pub(crate) fn read_config_drive_in(host: &Host, dir: &str) -> Result<Crawled, OsError> {
    read_drive(&DirBackend {
        host: host.clone(),
        dir: dir.to_string(),
        shown: dir.to_string(),
    })
}

fn read_drive(b: &DirBackend) -> Result<Crawled, OsError> {
    match read_v2(b) {
        Ok(c) => Ok(c),
        Err(OsError::NonReadable(_)) => read_v1(b),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendordata_conversion() {
        assert_eq!(convert_vendordata(None, true), Ok(None));
        assert_eq!(convert_vendordata(Some(&json!("")), true), Ok(None));
        assert_eq!(
            convert_vendordata(Some(&json!("#cloud-config\n")), true),
            Ok(Some(b"#cloud-config\n".to_vec()))
        );
        assert_eq!(
            convert_vendordata(Some(&json!({"cloud-init": "x", "other": 1})), true),
            Ok(Some(b"x".to_vec()))
        );
        assert_eq!(convert_vendordata(Some(&json!({"a": 1})), true), Ok(None));
        assert!(convert_vendordata(Some(&json!({"cloud-init": {"a": 1}})), true).is_err());
        assert!(convert_vendordata(Some(&json!(5)), true).is_err());
        let l = convert_vendordata(Some(&json!(["#cloud-config\n{}"])), true)
            .unwrap()
            .unwrap();
        assert!(l.starts_with(b"#cloud-config-archive\n"));
    }

    #[test]
    fn lenient_base64() {
        assert_eq!(b64decode_lenient("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(b64decode_lenient("aGVs\nbG8=").unwrap(), b"hello");
        assert!(b64decode_lenient("a").is_err());
        assert_eq!(bytes_value(&[0xff, 0x00]), json!("ci-b64:/wA="));
    }
}
