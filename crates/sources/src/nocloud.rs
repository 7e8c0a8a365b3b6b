//! NoCloud: data from the kernel command line / SMBIOS serial, seed
//! directories, the system config, a `cidata` disk, or a `seedfrom` URL.
//!
//! Upstream merges meta-data first-found-wins in this order: SMBIOS serial,
//! kernel cmdline, seed dir, `datasource.NoCloud` config, labelled disk,
//! then what `seedfrom` serves, then defaults. User-data, vendor-data and
//! network-config are replaced by each later source that has them.

use crate::blob;
use crate::cmdline::nocloud_cmdline_data;
use crate::context::{SourceContext, SourceOptions, Stage};
use crate::datasource::{Datasource, Dsmode, METADATA_UNKNOWN};
use crate::deprecate::deprecate;
use crate::devices::{read_fat_seed, with_mounted, BlockDevices};
use crate::error::SourceError;
use crate::merge::merge_into;
use crate::seed::{read_seed_dir, read_seed_dir_in, read_seeded};
use crate::url::UrlReader;
use crate::yamlblob::load_dict;
use crate::Value;
use ci_pyval::{py_str, truthy};
use serde_json::{json, Map};
use std::collections::BTreeMap;
use std::path::Path;

const REQUIRED: &[&str] = &["user-data", "meta-data"];
const OPTIONAL: &[&str] = &["vendor-data", "network-config"];
const LOCAL_SEEDS: &[&str] = &["/", "file://"];
const NET_SEEDS: &[&str] = &["http://", "https://", "ftp://", "ftps://"];

pub struct NoCloud {
    stage: Stage,
    opts: SourceOptions,
    seed: Option<String>,
    dsmode: Dsmode,
    metadata: Value,
    userdata_raw: Option<Vec<u8>>,
    vendordata_raw: Option<Vec<u8>>,
    network_config: Option<Value>,
    network_eni: Option<String>,
    platform_type: Option<String>,
    seed_dirs: Vec<String>,
}

/// The data gathered so far (upstream's `mydata`).
struct Gathered {
    meta: Map<String, Value>,
    user: Option<Vec<u8>>,
    vendor: Option<Vec<u8>>,
    network: Option<Value>,
}

impl Gathered {
    /// Upstream `_merge_new_seed`: meta-data merged under what is already
    /// there; network-config replaced when the new one is non-empty;
    /// user-data and vendor-data replaced when present.
    fn merge_files(&mut self, files: &BTreeMap<String, Vec<u8>>, origin: &str) {
        if let Some(md) = files.get("meta-data") {
            if let Some(Value::Object(m)) = load_dict(md, &format!("{origin}/meta-data")) {
                merge_into(&mut self.meta, &m);
            }
        }
        if let Some(nc) = files.get("network-config").filter(|b| !b.is_empty()) {
            self.network = load_dict(nc, &format!("{origin}/network-config"));
        }
        if let Some(ud) = files.get("user-data") {
            self.user = Some(ud.clone());
        }
        if let Some(vd) = files.get("vendor-data") {
            self.vendor = Some(vd.clone());
        }
    }

    /// The same merge for `datasource.NoCloud` config values, which are
    /// already loaded (strings are YAML/raw text, mappings used as is).
    fn merge_cfg(&mut self, cfg: &Value) {
        match cfg.get("meta-data") {
            Some(Value::Object(m)) => merge_into(&mut self.meta, m),
            Some(Value::String(s)) => {
                if let Some(Value::Object(m)) =
                    load_dict(s.as_bytes(), "datasource.NoCloud.meta-data")
                {
                    merge_into(&mut self.meta, &m);
                }
            }
            _ => {}
        }
        match cfg.get("network-config") {
            Some(Value::String(s)) if !s.is_empty() => {
                self.network = load_dict(s.as_bytes(), "datasource.NoCloud.network-config");
            }
            Some(v @ Value::Object(m)) if !m.is_empty() => self.network = Some(v.clone()),
            _ => {}
        }
        if let Some(ud) = cfg.get("user-data") {
            self.user = cfg_blob(ud);
        }
        if let Some(vd) = cfg.get("vendor-data") {
            self.vendor = cfg_blob(vd);
        }
    }
}

fn cfg_blob(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone().into_bytes()),
        other => Some(other.to_string().into_bytes()),
    }
}

impl NoCloud {
    pub fn new(stage: Stage, opts: SourceOptions) -> Self {
        NoCloud {
            stage,
            opts,
            seed: None,
            dsmode: Dsmode::Net,
            metadata: Value::Object(Map::new()),
            userdata_raw: None,
            vendordata_raw: None,
            network_config: None,
            network_eni: None,
            platform_type: None,
            seed_dirs: Vec::new(),
        }
    }

    /// The sources that contributed, comma-joined (`cmdline,/var/lib/cloud/seed/nocloud`).
    pub fn seed(&self) -> Option<&str> {
        self.seed.as_deref()
    }

    fn supported_seeds(&self) -> &'static [&'static str] {
        match self.stage {
            Stage::Local => LOCAL_SEEDS,
            Stage::Network => NET_SEEDS,
        }
    }

    fn seed_dirs_for(ctx: &SourceContext) -> Vec<String> {
        let base = ctx.seed_dir();
        vec![format!("{base}/nocloud"), format!("{base}/nocloud-net")]
    }

    fn log_unusable_seedfrom(&self, seedfrom: &str) {
        let starts = format!(
            "({})",
            self.supported_seeds()
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        match self.stage {
            Stage::Local => log::info!(
                "{} only uses seeds starting with {starts} - will try to use {seedfrom} in the network stage.",
                self.display()
            ),
            Stage::Network => log::warn!(
                "{} only uses seeds starting with {starts} - {seedfrom} is not valid.",
                self.display()
            ),
        }
    }

    /// The `cidata` disk: vfat/iso9660 devices carrying the label, highest name first.
    fn label_devices(ctx: &SourceContext, label: &str) -> Result<Vec<String>, SourceError> {
        let probe = BlockDevices::probe(ctx.host)?;
        let mut fs = probe.with("TYPE=vfat");
        fs.extend(probe.with("TYPE=iso9660"));
        let mut labelled = probe.with(&format!("LABEL={}", label.to_uppercase()));
        labelled.extend(probe.with(&format!("LABEL={}", label.to_lowercase())));
        labelled.extend(probe.with(&format!("LABEL_FATBOOT={label}")));
        let mut devs: Vec<String> = fs.into_iter().filter(|d| labelled.contains(d)).collect();
        devs.sort();
        devs.dedup();
        devs.reverse();
        Ok(devs)
    }

    /// Try each labelled device; the first valid seed is merged.
    fn gather_from_disk(
        &self,
        ctx: &SourceContext,
        label: &str,
        data: &mut Gathered,
        found: &mut Vec<String>,
    ) -> Result<(), SourceError> {
        for dev in Self::label_devices(ctx, label)? {
            log::debug!("Attempting to use data from {dev}");
            let read = match read_fat_seed(ctx.host, &dev, REQUIRED, OPTIONAL) {
                Some(files) => Ok(Ok(files)),
                None => with_mounted(ctx.host, &dev, |dir: &Path| {
                    read_seed_dir(dir, REQUIRED, OPTIONAL)
                }),
            };
            match read {
                Ok(Ok(Some(files))) => {
                    data.merge_files(&files, &dev);
                    log::debug!("Using data from {dev}");
                    found.push(dev);
                    break;
                }
                Ok(Ok(None)) => {
                    log::warn!("device {dev} with label={label} not a valid seed.");
                }
                Ok(Err(e)) => return Err(e),
                Err(e) => {
                    log::warn!("Failed to mount {dev} when looking for data");
                    log::debug!("{e}");
                }
            }
        }
        Ok(())
    }
}

impl Datasource for NoCloud {
    fn dsname(&self) -> &'static str {
        "NoCloud"
    }

    fn class_name(&self) -> &'static str {
        match self.stage {
            Stage::Local => "DataSourceNoCloud",
            Stage::Network => "DataSourceNoCloudNet",
        }
    }

    fn stage(&self) -> Stage {
        self.stage
    }

    /// Only the network-stage class detects: `ds=nocloud-net` on the
    /// cmdline, `nocloud`/`nocloud-net` in the SMBIOS serial, or a
    /// configured `seedfrom`.
    fn ds_detect(&self, ctx: &SourceContext) -> bool {
        if self.stage == Stage::Local {
            return true;
        }
        let deprecated = || {
            deprecate(
                "The 'nocloud-net' datasource name",
                "24.1",
                "Use 'nocloud' instead, which uses the seedfrom protocolscheme (http// or file://) to decide how to run.",
            )
        };
        if crate::cmdline::ds_name_logged(&ctx.cmdline).as_deref() == Some("nocloud-net") {
            deprecated();
            return true;
        }
        let serial = crate::dmi::read(ctx.host, "system-serial-number").unwrap_or_default();
        let serial_ds = crate::cmdline::ds_name_logged(&serial)
            .unwrap_or_default()
            .to_lowercase();
        if serial_ds == "nocloud" || serial_ds == "nocloud-net" {
            log::debug!(
                "Machine is configured by dmi serial number to run on single datasource {}.",
                self.display()
            );
            if serial_ds == "nocloud-net" {
                deprecated();
            }
            return true;
        }
        let cfg_seedfrom = ctx
            .config
            .get("datasource")
            .and_then(|d| d.get("NoCloud"))
            .and_then(|n| n.get("seedfrom"))
            .is_some_and(truthy);
        if cfg_seedfrom {
            log::debug!(
                "Machine is configured by system configuration to run on single datasource {}.",
                self.display()
            );
        }
        cfg_seedfrom
    }

    fn crawl(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        let host = ctx.host;
        let ds_cfg = ctx.ds_cfg("NoCloud");
        self.seed_dirs = Self::seed_dirs_for(ctx);
        let mut found: Vec<String> = Vec::new();
        let mut data = Gathered {
            meta: Map::new(),
            user: Some(Vec::new()),
            vendor: Some(Vec::new()),
            network: None,
        };

        if let Some(serial) =
            crate::dmi::read(host, "system-serial-number").filter(|s| !s.is_empty())
        {
            if let Some(md) = nocloud_cmdline_data(&serial) {
                found.push("dmi".into());
                merge_into(&mut data.meta, &md);
            }
        }
        if let Some(md) = nocloud_cmdline_data(&ctx.cmdline) {
            found.push("cmdline".into());
            merge_into(&mut data.meta, &md);
        }

        for dir in &self.seed_dirs {
            if let Some(files) = read_seed_dir_in(host, dir, REQUIRED, OPTIONAL)? {
                log::debug!("Using seeded data from {dir}");
                data.merge_files(&files, dir);
                found.push(dir.clone());
                break;
            }
        }

        // A configured seedfrom beats one from a seed dir, not one from the
        // cmdline or serial (those were merged first and win the merge anyway).
        if let Some(sf) = ds_cfg.get("seedfrom").filter(|v| truthy(v)) {
            found.push("ds_config_seedfrom".into());
            data.meta.insert("seedfrom".into(), sf.clone());
        }

        if ds_cfg.get("user-data").is_some() && ds_cfg.get("meta-data").is_some() {
            data.merge_cfg(&ds_cfg);
            found.push("ds_config".into());
        }

        let label = match ds_cfg.get("fs_label") {
            None => Some("cidata".to_string()),
            Some(Value::Null) => None,
            Some(v) => Some(py_str(v)),
        };
        if let Some(label) = label {
            if label.to_lowercase() != "cidata" {
                deprecate(
                    "Custom fs_label keys",
                    "24.3",
                    "This key isn't supported by ds-identify.",
                );
            }
            if self.opts.devices.enabled(host) {
                self.gather_from_disk(ctx, &label, &mut data, &mut found)?;
            } else {
                log::debug!(
                    "Searching for a filesystem labelled {label} skipped for --root {}",
                    host.root().display()
                );
            }
        }

        if found.is_empty() {
            return Ok(false);
        }

        if let Some(sf) = data.meta.get("seedfrom").cloned() {
            let seedfrom = match &sf {
                Value::String(s) => s.clone(),
                other => py_str(other),
            };
            if !self
                .supported_seeds()
                .iter()
                .any(|p| seedfrom.starts_with(p))
            {
                self.log_unusable_seedfrom(&seedfrom);
                return Ok(false);
            }
            let seedfrom = crate::dmi::sub_dmi_vars(host, &seedfrom);
            let reader = UrlReader::new(self.opts.http.clone().trusting(host));
            let seeded = read_seeded(host, &reader, &seedfrom, "")?;
            log::debug!("Using seeded cache data from {seedfrom}");
            if let Value::Object(m) = &seeded.meta_data {
                merge_into(&mut data.meta, m);
            }
            data.user = seeded.user_data;
            data.vendor = seeded.vendor_data;
            data.network = seeded.network_config;
            found.push(seedfrom);
        }

        let defaults = json!({"instance-id": "nocloud", "dsmode": self.dsmode.as_str()});
        if let Value::Object(d) = &defaults {
            merge_into(&mut data.meta, d);
        }

        self.dsmode = Dsmode::determine(
            &[data.meta.get("dsmode")],
            Dsmode::Net,
            &[Dsmode::Disabled, Dsmode::Local, Dsmode::Net],
        );
        if self.dsmode == Dsmode::Disabled {
            log::debug!(
                "{}: not claiming datasource, dsmode={}",
                self.display(),
                self.dsmode.as_str()
            );
            return Ok(false);
        }

        self.seed = Some(found.join(","));
        self.network_eni = match data.meta.get("network-interfaces") {
            None | Some(Value::Null) => None,
            Some(v) => Some(py_str(v)),
        };
        self.metadata = Value::Object(data.meta);
        self.userdata_raw = data.user;
        self.vendordata_raw = data.vendor;
        self.network_config = data.network;
        self.platform_type = Some(if host.exists("/dev/lxd/sock") {
            "lxd".into()
        } else {
            "nocloud".into()
        });
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
        self.network_config.clone()
    }

    /// ENI text from meta-data `network-interfaces`, used only when no
    /// network-config was given (upstream converts it; deprecated in 24.3).
    fn legacy_eni(&self) -> Option<&str> {
        if self.network_config.is_some() {
            return None;
        }
        let eni = self.network_eni.as_deref()?;
        deprecate(
            "Eni network configuration in NoCloud",
            "24.3",
            "You can use network v1 or network v2 instead",
        );
        Some(eni)
    }

    fn platform_type(&self) -> String {
        self.platform_type
            .clone()
            .unwrap_or_else(|| "nocloud".into())
    }

    /// `config-disk (<seed>)` when the seed starts with `/dev`, else `seed-dir (<seed>)`.
    fn subplatform(&self) -> String {
        let seed = self.seed.as_deref().unwrap_or_default();
        let kind = if seed.starts_with("/dev") {
            "config-disk"
        } else {
            "seed-dir"
        };
        format!("{kind} ({seed})")
    }

    fn default_cloud_name(&self) -> String {
        METADATA_UNKNOWN.into()
    }

    fn dsmode(&self) -> Dsmode {
        self.dsmode
    }

    /// `DataSourceNoCloud [seed=...][dsmode=...]`: the class name, a space,
    /// then the seed and a non-`net` dsmode (the space stays when both are absent).
    fn display(&self) -> String {
        let mut s = format!("{} ", self.class_name());
        if let Some(seed) = self.seed.as_deref().filter(|s| !s.is_empty()) {
            s.push_str(&format!("[seed={seed}]"));
        }
        if self.dsmode != Dsmode::Net {
            s.push_str(&format!("[dsmode={}]", self.dsmode.as_str()));
        }
        s
    }

    /// The instance-id from the cmdline, or else from the first seed dir
    /// whose meta-data has one, must equal the cached one.
    fn check_instance_id(&self, ctx: &SourceContext) -> bool {
        let current = self.instance_id();
        if current.is_empty() {
            return false;
        }
        let dirs = if self.seed_dirs.is_empty() {
            Self::seed_dirs_for(ctx)
        } else {
            self.seed_dirs.clone()
        };
        // Upstream compares the raw value: `instance-id: 123` never matches "123".
        quick_read_instance_id(ctx, &dirs).is_some_and(|quick| quick == Value::String(current))
    }

    fn to_cache(&self) -> Value {
        json!({
            "format": crate::CACHE_FORMAT,
            "class": self.class_name(),
            "dsname": self.dsname(),
            "stage": self.stage.as_cache_str(),
            "seed": self.seed,
            "dsmode": self.dsmode.as_str(),
            "metadata": self.metadata,
            "userdata_raw": blob::encode(self.userdata_raw.as_deref()),
            "vendordata_raw": blob::encode(self.vendordata_raw.as_deref()),
            "network_config": self.network_config,
            "network_eni": self.network_eni,
            "platform_type": self.platform_type,
            "seed_dirs": self.seed_dirs,
        })
    }
}

impl NoCloud {
    pub(crate) fn restore(
        stage: Stage,
        opts: SourceOptions,
        v: &Value,
    ) -> Result<Self, SourceError> {
        let bad = |what: &str| SourceError::Cache(format!("NoCloud entry: bad or missing {what}"));
        let opt_str = |k: &str| -> Result<Option<String>, SourceError> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(bad(k)),
            }
        };
        let mut ds = NoCloud::new(stage, opts);
        ds.seed = opt_str("seed")?;
        ds.dsmode = opt_str("dsmode")?
            .as_deref()
            .and_then(Dsmode::parse)
            .ok_or_else(|| bad("dsmode"))?;
        ds.metadata = match v.get("metadata") {
            Some(m @ Value::Object(_)) => m.clone(),
            _ => return Err(bad("metadata")),
        };
        ds.userdata_raw = blob::decode(v.get("userdata_raw")).map_err(|_| bad("userdata_raw"))?;
        ds.vendordata_raw =
            blob::decode(v.get("vendordata_raw")).map_err(|_| bad("vendordata_raw"))?;
        ds.network_config = v.get("network_config").filter(|n| !n.is_null()).cloned();
        ds.network_eni = opt_str("network_eni")?;
        ds.platform_type = opt_str("platform_type")?;
        ds.seed_dirs = match v.get("seed_dirs") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        };
        Ok(ds)
    }
}

/// Upstream `_quick_read_instance_id`: cmdline `i=`, else the first seed
/// dir meta-data carrying `instance-id` (as loaded, not stringified).
fn quick_read_instance_id(ctx: &SourceContext, dirs: &[String]) -> Option<Value> {
    if let Some(iid) =
        nocloud_cmdline_data(&ctx.cmdline).and_then(|m| m.get("instance-id").cloned())
    {
        return Some(iid);
    }
    for dir in dirs {
        let Ok(Some(files)) = read_seed_dir_in(ctx.host, dir, &["meta-data"], &[]) else {
            continue;
        };
        let md = files
            .get("meta-data")
            .and_then(|b| load_dict(b, &format!("{dir}/meta-data")));
        if let Some(iid) = md.as_ref().and_then(|m| m.get("instance-id")) {
            return Some(iid.clone());
        }
    }
    None
}
