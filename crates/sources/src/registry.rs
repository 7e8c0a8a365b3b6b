//! Datasource names as they appear in `datasource_list`, and the cache.

use crate::context::{SourceOptions, Stage};
use crate::datasource::Datasource;
use crate::ec2::Ec2;
use crate::error::SourceError;
use crate::nocloud::NoCloud;
use crate::none::NoneSource;
use serde_json::Value;

/// Version of the JSON written by [`Datasource::to_cache`].
pub const CACHE_FORMAT: u32 = 1;

/// Every datasource module upstream 25.1 ships (`DataSource<Name>.py`).
const UPSTREAM: &[&str] = &[
    "Akamai",
    "AliYun",
    "AltCloud",
    "Azure",
    "Bigstep",
    "CloudCIX",
    "CloudSigma",
    "CloudStack",
    "ConfigDrive",
    "DigitalOcean",
    "Ec2",
    "Exoscale",
    "GCE",
    "Hetzner",
    "IBMCloud",
    "LXD",
    "MAAS",
    "NWCS",
    "NoCloud",
    "None",
    "OVF",
    "OpenNebula",
    "OpenStack",
    "Oracle",
    "RbxCloud",
    "Scaleway",
    "SmartOS",
    "UpCloud",
    "VMware",
    "Vultr",
    "WSL",
];

/// The canonical upstream name for a `datasource_list` entry, matched
/// case-insensitively, with or without the `DataSource` prefix;
/// `nocloud-net` is NoCloud.
pub(crate) fn canonical(name: &str) -> Option<&'static str> {
    let lower = name.to_lowercase();
    let lower = if lower == "nocloud-net" {
        "nocloud"
    } else {
        lower.as_str()
    };
    let bare = lower.strip_prefix("datasource").unwrap_or(lower);
    UPSTREAM.iter().copied().find(|u| u.to_lowercase() == bare)
}

/// Whether upstream knows a datasource by this name.
pub fn is_upstream_name(name: &str) -> bool {
    canonical(name).is_some()
}

/// The datasource named `name` for `stage`, or `None` if it is unknown, not
/// built yet, or does not run in that stage (`None` only runs in the
/// network stage, as upstream's dependency lists say).
pub fn by_name(name: &str, stage: Stage, opts: &SourceOptions) -> Option<Box<dyn Datasource>> {
    match canonical(name)? {
        "NoCloud" => Some(Box::new(NoCloud::new(stage, opts.clone()))),
        "None" if stage == Stage::Network => Some(Box::new(NoneSource::new(stage))),
        "Ec2" => Some(Box::new(Ec2::new(stage, opts.clone()))),
        "GCE" => Some(Box::new(crate::gce::Gce::new(stage, opts.clone()))),
        "DigitalOcean" if stage == Stage::Local => Some(Box::new(
            crate::digitalocean::DigitalOcean::new(stage, opts.clone()),
        )),
        "Hetzner" if stage == Stage::Local => {
            Some(Box::new(crate::hetzner::Hetzner::new(stage, opts.clone())))
        }
        "Vultr" if stage == Stage::Local => {
            Some(Box::new(crate::vultr::Vultr::new(stage, opts.clone())))
        }
        "AliYun" => Some(Box::new(crate::aliyun::AliYun::new(stage, opts.clone()))),
        "Scaleway" if stage == Stage::Local => Some(Box::new(crate::scaleway::Scaleway::new(
            stage,
            opts.clone(),
        ))),
        "UpCloud" => Some(Box::new(crate::upcloud::UpCloud::new(stage, opts.clone()))),
        "Akamai" => Some(Box::new(crate::akamai::Akamai::new(stage, opts.clone()))),
        "Exoscale" if stage == Stage::Network => Some(Box::new(crate::exoscale::Exoscale::new(
            stage,
            opts.clone(),
        ))),
        "CloudStack" if stage == Stage::Network => Some(Box::new(
            crate::cloudstack::CloudStack::new(stage, opts.clone()),
        )),
        "OpenStack" => Some(Box::new(crate::openstack::OpenStack::new(
            stage,
            opts.clone(),
        ))),
        "ConfigDrive" if stage == Stage::Local => Some(Box::new(
            crate::configdrive::ConfigDrive::new(stage, opts.clone()),
        )),
        "Oracle" => Some(Box::new(crate::oracle::Oracle::new(stage, opts.clone()))),
        "Azure" if stage == Stage::Local => {
            Some(Box::new(crate::azure::Azure::new(stage, opts.clone())))
        }
        "LXD" if stage == Stage::Local => Some(Box::new(crate::lxd::Lxd::new(stage, opts.clone()))),
        "VMware" => Some(Box::new(crate::vmware::Vmware::new(stage, opts.clone()))),
        _ => None,
    }
}

/// Rebuild a datasource from [`Datasource::to_cache`] output. A cache whose
/// instance id is unusable (see [`crate::instance_id_problem`]; written by
/// an older build or edited by hand) is refused like a corrupt one, so the
/// stage searches again instead of reusing it.
pub fn from_cache(v: &Value, opts: &SourceOptions) -> Result<Box<dyn Datasource>, SourceError> {
    let ds = restore(v, opts)?;
    let iid = ds.instance_id();
    match crate::datasource::instance_id_problem(&iid) {
        Some(why) => Err(SourceError::Cache(format!(
            "cached {} has an unusable instance-id {iid:?} ({why})",
            ds.class_name()
        ))),
        None => Ok(ds),
    }
}

fn restore(v: &Value, opts: &SourceOptions) -> Result<Box<dyn Datasource>, SourceError> {
    let format = v.get("format").and_then(Value::as_u64);
    if format != Some(u64::from(CACHE_FORMAT)) {
        return Err(SourceError::Cache(format!(
            "unsupported cache format {}",
            v.get("format")
                .map(|f| f.to_string())
                .unwrap_or_else(|| "(missing)".into())
        )));
    }
    let stage = v
        .get("stage")
        .and_then(Value::as_str)
        .and_then(Stage::from_cache_str)
        .ok_or_else(|| SourceError::Cache("bad or missing stage".into()))?;
    match v.get("class").and_then(Value::as_str) {
        Some("DataSourceNoCloud") | Some("DataSourceNoCloudNet") => {
            Ok(Box::new(NoCloud::restore(stage, opts.clone(), v)?))
        }
        Some("DataSourceEc2") | Some("DataSourceEc2Local") => {
            Ok(Box::new(Ec2::restore(stage, opts.clone(), v)?))
        }
        Some("DataSourceGCE") | Some("DataSourceGCELocal") => {
            Ok(Box::new(crate::gce::Gce::restore(stage, opts.clone(), v)?))
        }
        Some("DataSourceDigitalOcean") => Ok(Box::new(crate::digitalocean::DigitalOcean::restore(
            stage,
            opts.clone(),
            v,
        )?)),
        Some("DataSourceHetzner") => Ok(Box::new(crate::hetzner::Hetzner::restore(
            stage,
            opts.clone(),
            v,
        )?)),
        Some("DataSourceVultr") => Ok(Box::new(crate::vultr::Vultr::restore(
            stage,
            opts.clone(),
            v,
        )?)),
        Some("DataSourceAliYun") | Some("DataSourceAliYunLocal") => Ok(Box::new(
            crate::aliyun::AliYun::restore(stage, opts.clone(), v)?,
        )),
        Some("DataSourceScaleway") => Ok(Box::new(crate::scaleway::Scaleway::restore(
            stage,
            opts.clone(),
            v,
        )?)),
        Some("DataSourceUpCloud") | Some("DataSourceUpCloudLocal") => Ok(Box::new(
            crate::upcloud::UpCloud::restore(stage, opts.clone(), v)?,
        )),
        Some("DataSourceAkamai") | Some("DataSourceAkamaiLocal") => Ok(Box::new(
            crate::akamai::Akamai::restore(stage, opts.clone(), v)?,
        )),
        Some("DataSourceExoscale") => Ok(Box::new(crate::exoscale::Exoscale::restore(
            stage,
            opts.clone(),
            v,
        )?)),
        Some("DataSourceCloudStack") => Ok(Box::new(crate::cloudstack::CloudStack::restore(
            stage,
            opts.clone(),
            v,
        )?)),
        Some("DataSourceOpenStack") | Some("DataSourceOpenStackLocal") => Ok(Box::new(
            crate::openstack::OpenStack::restore(stage, opts.clone(), v)?,
        )),
        Some("DataSourceConfigDrive") => Ok(Box::new(crate::configdrive::ConfigDrive::restore(
            stage,
            opts.clone(),
            v,
        )?)),
        Some("DataSourceOracle") | Some("DataSourceOracleNet") => Ok(Box::new(
            crate::oracle::Oracle::restore(stage, opts.clone(), v)?,
        )),
        Some("DataSourceAzure") => Ok(Box::new(crate::azure::Azure::restore(
            stage,
            opts.clone(),
            v,
        )?)),
        Some("DataSourceLXD") => Ok(Box::new(crate::lxd::Lxd::restore(stage, opts.clone(), v)?)),
        Some("DataSourceVMware") => Ok(Box::new(crate::vmware::Vmware::restore(
            stage,
            opts.clone(),
            v,
        )?)),
        Some("DataSourceNone") => Ok(Box::new(NoneSource::restore(stage, v)?)),
        other => Err(SourceError::Cache(format!(
            "unknown datasource class {}",
            other.unwrap_or("(missing)")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let o = SourceOptions::default();
        for n in [
            "NoCloud",
            "nocloud",
            "NOCLOUD",
            "nocloud-net",
            "NoCloud-Net",
            "DataSourceNoCloud",
        ] {
            let ds = by_name(n, Stage::Local, &o).unwrap();
            assert_eq!(ds.dsname(), "NoCloud", "{n}");
            assert_eq!(ds.class_name(), "DataSourceNoCloud");
        }
        assert_eq!(
            by_name("nocloud", Stage::Network, &o).unwrap().class_name(),
            "DataSourceNoCloudNet"
        );
        assert!(by_name("None", Stage::Local, &o).is_none());
        assert_eq!(
            by_name("none", Stage::Network, &o).unwrap().class_name(),
            "DataSourceNone"
        );
        assert_eq!(
            by_name("Ec2", Stage::Local, &o).unwrap().class_name(),
            "DataSourceEc2Local"
        );
        assert_eq!(
            by_name("ec2", Stage::Network, &o).unwrap().class_name(),
            "DataSourceEc2"
        );
        assert!(is_upstream_name("ec2"));
        assert!(!is_upstream_name("NoCloudNet"));
        assert!(by_name("Bogus", Stage::Local, &o).is_none());
    }
}
