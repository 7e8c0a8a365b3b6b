//! ConfigDrive: OpenStack's metadata on a disk labelled `config-2` (or in
//! the seed directory `<cloud_dir>/seed/config_drive`, or `/config-drive`),
//! local stage only.
//!
//! The drive holds the same `openstack/<version>/` tree as the metadata
//! service, plus `ec2/latest/meta-data.json` and `content/` files named by
//! `meta_data.json`; pre-2012 drives (`meta.js`, ...) are read too. Files
//! listed in `meta_data.json` (nova's file injection) are written on a new
//! instance, as upstream does.

use crate::blob;
use crate::context::{SourceContext, SourceOptions, Stage};
use crate::datasource::{Datasource, Dsmode};
use crate::devices::{with_mounted, BlockDevices};
use crate::error::SourceError;
use crate::openstack::reader::{
    read_config_drive, read_config_drive_in, vendordata_blobs, Crawled, OsError,
};
use crate::openstack::{convert_network, matches_system_uuid, public_keys};
use ci_host::{Host, WriteOpts};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

pub const DEFAULT_IID: &str = "iid-dsconfigdrive";
const FS_TYPES: &[&str] = &["vfat", "iso9660"];
const LABEL_TYPES: &[&str] = &["config-2", "CONFIG-2"];

pub struct ConfigDrive {
    stage: Stage,
    opts: SourceOptions,
    source: Option<String>,
    dsmode: Dsmode,
    version: Option<u8>,
    metadata: Value,
    userdata_raw: Option<Vec<u8>>,
    vendordata_raw: Option<Vec<u8>>,
    vendordata2_raw: Option<Vec<u8>>,
    ec2_metadata: Value,
    network_json: Option<Value>,
    network_eni: Option<String>,
    network: Option<Value>,
}

impl ConfigDrive {
    pub fn new(stage: Stage, opts: SourceOptions) -> Self {
        ConfigDrive {
            stage,
            opts,
            source: None,
            dsmode: Dsmode::Net,
            version: None,
            metadata: Value::Object(Map::new()),
            userdata_raw: None,
            vendordata_raw: None,
            vendordata2_raw: None,
            ec2_metadata: json!({}),
            network_json: None,
            network_eni: None,
            network: None,
        }
    }

    /// Where the data came from: a device (`/dev/sr0`) or a directory.
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    pub fn ec2_metadata(&self) -> &Value {
        &self.ec2_metadata
    }

    /// Upstream `find_candidate_devs`: labelled devices first, then
    /// unpartitioned vfat/iso9660 ones, each group highest name first.
    fn candidate_devs(host: &Host) -> Result<Vec<String>, SourceError> {
        let probe = BlockDevices::probe(host)?;
        let mut by_fstype: Vec<String> = Vec::new();
        for t in FS_TYPES {
            by_fstype.extend(probe.with(&format!("TYPE={t}")));
        }
        let mut by_label: Vec<String> = Vec::new();
        for l in LABEL_TYPES {
            by_label.extend(probe.with(&format!("LABEL={l}")));
        }
        by_fstype.sort();
        by_fstype.reverse();
        by_label.sort();
        by_label.reverse();
        let mut candidates = by_label.clone();
        candidates.extend(by_fstype.into_iter().filter(|d| !by_label.contains(d)));
        let devices: Vec<String> = candidates
            .into_iter()
            .filter(|d| by_label.contains(d) || !is_partition(host, d))
            .collect();
        log::debug!("devices={}", ci_pyval::py_list(&devices));
        Ok(devices)
    }

    fn find(&self, ctx: &SourceContext) -> Result<Option<(String, Crawled)>, SourceError> {
        let host = ctx.host;
        let seed = format!("{}/config_drive", ctx.seed_dir());
        for sdir in [seed.as_str(), "/config-drive"] {
            if !host.is_dir(sdir) {
                continue;
            }
            match read_config_drive_in(host, sdir) {
                Ok(r) => return Ok(Some((sdir.to_string(), r))),
                Err(OsError::NonReadable(e)) => {
                    log::warn!("Failed reading config drive from {sdir}");
                    log::debug!("{e}");
                }
                Err(OsError::Broken(e)) => {
                    return Err(SourceError::Malformed {
                        what: sdir.to_string(),
                        message: e,
                    })
                }
            }
        }
        if !self.opts.devices.enabled(host) {
            log::debug!(
                "Searching for a config drive device skipped for --root {}",
                host.root().display()
            );
            return Ok(None);
        }
        for dev in Self::candidate_devs(host)? {
            let read = with_mounted(host, &dev, |dir: &Path| {
                read_config_drive(dir, &dir.display().to_string())
            });
            match read {
                Ok(Ok(r)) => return Ok(Some((dev, r))),
                Ok(Err(OsError::NonReadable(_))) => {}
                Ok(Err(OsError::Broken(e))) => {
                    log::warn!("Broken config drive: {dev}");
                    log::debug!("{e}");
                }
                Err(e) => log::debug!("{e}"),
            }
        }
        Ok(None)
    }

    pub(crate) fn restore(
        stage: Stage,
        opts: SourceOptions,
        v: &Value,
    ) -> Result<Self, SourceError> {
        let bad =
            |what: &str| SourceError::Cache(format!("ConfigDrive entry: bad or missing {what}"));
        let mut ds = ConfigDrive::new(stage, opts);
        ds.metadata = match v.get("metadata") {
            Some(m @ Value::Object(_)) => m.clone(),
            _ => return Err(bad("metadata")),
        };
        ds.dsmode = v
            .get("dsmode")
            .and_then(Value::as_str)
            .and_then(Dsmode::parse)
            .ok_or_else(|| bad("dsmode"))?;
        ds.source = v.get("source").and_then(Value::as_str).map(String::from);
        ds.version = v
            .get("version")
            .and_then(Value::as_u64)
            .and_then(|n| u8::try_from(n).ok());
        ds.userdata_raw = blob::decode(v.get("userdata_raw")).map_err(|_| bad("userdata_raw"))?;
        ds.vendordata_raw =
            blob::decode(v.get("vendordata_raw")).map_err(|_| bad("vendordata_raw"))?;
        ds.vendordata2_raw =
            blob::decode(v.get("vendordata2_raw")).map_err(|_| bad("vendordata2_raw"))?;
        ds.ec2_metadata = v.get("ec2_metadata").cloned().unwrap_or_else(|| json!({}));
        ds.network_json = v.get("network_json").filter(|n| !n.is_null()).cloned();
        ds.network_eni = v
            .get("network_eni")
            .and_then(Value::as_str)
            .map(String::from);
        ds.network = v.get("network").filter(|n| !n.is_null()).cloned();
        Ok(ds)
    }
}

/// `util.is_partition`: the kernel lists a `partition` attribute.
fn is_partition(host: &Host, dev: &str) -> bool {
    let name = dev.rsplit('/').next().unwrap_or(dev);
    host.exists(format!("/sys/class/block/{name}/partition"))
}

/// Upstream `get_previous_iid`: the instance-id of the last boot.
fn previous_iid(ctx: &SourceContext) -> Option<String> {
    ctx.host
        .read_to_string(format!("{}/data/instance-id", ctx.cloud_dir()))
        .ok()
        .map(|s| s.trim_end_matches('\n').to_string())
}

/// Upstream `write_injected_files`: each file under the root, mode 0660.
fn write_injected_files(host: &Host, files: &BTreeMap<String, Vec<u8>>) {
    if files.is_empty() {
        return;
    }
    log::debug!("Writing {} injected files", files.len());
    for (name, content) in files {
        let name = if name.starts_with('/') {
            name.clone()
        } else {
            format!("/{name}")
        };
        if let Err(e) = host.write_atomic(&name, content, &WriteOpts::mode(0o660)) {
            log::warn!("Failed writing file: {name}");
            log::debug!("{e}");
        }
    }
}

impl Datasource for ConfigDrive {
    fn dsname(&self) -> &'static str {
        "ConfigDrive"
    }

    fn class_name(&self) -> &'static str {
        "DataSourceConfigDrive"
    }

    fn stage(&self) -> Stage {
        self.stage
    }

    fn crawl(&mut self, ctx: &SourceContext) -> Result<bool, SourceError> {
        let Some((found, results)) = self.find(ctx)? else {
            return Ok(false);
        };
        let mut md = results.metadata.clone();
        md.entry("instance-id")
            .or_insert_with(|| json!(DEFAULT_IID));
        let ds_cfg = ctx.ds_cfg("ConfigDrive");
        let pass = json!("pass");
        self.dsmode = Dsmode::determine(
            &[
                results.dsmode.as_ref(),
                ds_cfg.get("dsmode"),
                (results.version == 1).then_some(&pass),
            ],
            Dsmode::Net,
            &[Dsmode::Disabled, Dsmode::Local, Dsmode::Net],
        );
        if self.dsmode == Dsmode::Disabled {
            return Ok(false);
        }
        let cur_iid = md
            .get("instance-id")
            .map(ci_pyval::py_str)
            .unwrap_or_default();
        if previous_iid(ctx).as_deref() != Some(cur_iid.as_str()) {
            write_injected_files(ctx.host, &results.files);
        }
        if self.dsmode == Dsmode::Pass {
            log::debug!(
                "{}: not claiming datasource, dsmode={}",
                self.display(),
                self.dsmode.as_str()
            );
            return Ok(false);
        }
        self.source = Some(found);
        self.metadata = Value::Object(md);
        self.ec2_metadata = results.ec2_metadata;
        self.userdata_raw = results.userdata;
        self.version = Some(results.version);
        (self.vendordata_raw, self.vendordata2_raw) =
            vendordata_blobs(results.vendordata.as_ref(), results.vendordata2.as_ref());
        self.network_eni = results.network_config;
        self.network_json = results.networkdata;
        self.network = convert_network(ctx.host, self.network_json.as_ref());
        if self.network.is_none() && self.network_eni.is_none() {
            log::debug!("no network configuration available");
        }
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

    fn vendordata2_raw(&self) -> Option<&[u8]> {
        self.vendordata2_raw.as_deref()
    }

    fn network_config(&self) -> Option<Value> {
        self.network.clone()
    }

    fn legacy_eni(&self) -> Option<&str> {
        if self.network.is_some() || self.network_json.is_some() {
            return None;
        }
        let eni = self.network_eni.as_deref()?;
        log::debug!("network config provided via converted eni data");
        crate::deprecate::deprecate(
            "Eni network configuration in ConfigDrive",
            "24.3",
            "You can use openstack's network configuration format instead",
        );
        Some(eni)
    }

    fn public_ssh_keys(&self) -> Vec<String> {
        public_keys(&self.metadata, self.version)
    }

    fn subplatform(&self) -> String {
        let src = self.source.as_deref().unwrap_or_default();
        let kind = if src.starts_with("/dev") {
            "config-disk"
        } else {
            "seed-dir"
        };
        format!("{kind} ({src})")
    }

    fn dsmode(&self) -> Dsmode {
        self.dsmode
    }

    fn display(&self) -> String {
        format!(
            "{} [{},ver={}][source={}]",
            self.class_name(),
            self.dsmode.as_str(),
            self.version
                .map(|v| v.to_string())
                .unwrap_or_else(|| "None".into()),
            self.source.as_deref().unwrap_or("None")
        )
    }

    fn check_instance_id(&self, ctx: &SourceContext) -> bool {
        matches_system_uuid(ctx.host, &self.instance_id())
    }

    fn to_cache(&self) -> Value {
        json!({
            "format": crate::CACHE_FORMAT,
            "class": self.class_name(),
            "dsname": self.dsname(),
            "stage": self.stage.as_cache_str(),
            "dsmode": self.dsmode.as_str(),
            "source": self.source,
            "version": self.version,
            "metadata": self.metadata,
            "userdata_raw": blob::encode(self.userdata_raw.as_deref()),
            "vendordata_raw": blob::encode(self.vendordata_raw.as_deref()),
            "vendordata2_raw": blob::encode(self.vendordata2_raw.as_deref()),
            "ec2_metadata": self.ec2_metadata,
            "network_json": self.network_json,
            "network_eni": self.network_eni,
            "network": self.network,
        })
    }
}
