//! What datasources make of metadata-service responses.
//!
//! Fetching and decoding are interleaved inside each datasource's crawl,
//! so the targets take the decoded response where the datasource keeps it:
//! its cache entry (`obj.pkl`'s counterpart), which holds the crawled
//! metadata as the service sent it. Restoring an entry and asking the
//! datasource everything the boot asks (network config, keys, hostname,
//! ids, region) runs each cloud's conversions on fuzzed metadata. The
//! response formats that have a decoder of their own (EC2 listings, the
//! OpenStack layout, Azure IMDS network, GCE keys) have targets of their
//! own.

use crate::{empty_host, lossy};
use ci_sources::{Datasource, SourceOptions, Value};
use serde_json::json;

/// Restore `data` (a JSON object) as a cache entry of `class` and query
/// it. Invariant: an entry the datasource wrote is restored to a
/// datasource that writes the same entry.
#[allow(clippy::panic)]
pub fn datasource(class: &str, data: &[u8]) {
    let Ok(Value::Object(mut entry)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    entry.insert("format".into(), json!(ci_sources::CACHE_FORMAT));
    entry.insert("class".into(), json!(class));
    if !matches!(
        entry.get("stage").and_then(Value::as_str),
        Some("local" | "network")
    ) {
        entry.insert("stage".into(), json!("network"));
    }
    let opts = SourceOptions::default();
    let Ok(ds) = ci_sources::from_cache(&Value::Object(entry), &opts) else {
        return;
    };
    query(ds.as_ref());
    convert_network(class, ds.metadata());
    let written = ds.to_cache();
    match ci_sources::from_cache(&written, &opts) {
        Ok(again) if again.to_cache() == written => {}
        Ok(again) => panic!(
            "{class} cache entry changed on restore: {written} -> {}",
            again.to_cache()
        ),
        Err(e) => panic!("{class} cannot restore its own cache entry {written}: {e}"),
    }
}

/// Everything the boot stages and `cloud-init query` ask a datasource.
fn query(ds: &dyn Datasource) {
    let host = empty_host();
    let _ = ds.network_config();
    let _ = ds.legacy_eni();
    let _ = ds.instance_id();
    let _ = ds.get_hostname(&host, true, false);
    let _ = ds.get_hostname(&host, false, true);
    let _ = ds.local_hostname(&host);
    let _ = ds.public_ssh_keys();
    let _ = ds.platform_type();
    let _ = ds.subplatform();
    let _ = ds.cloud_name();
    let _ = ds.region();
    let _ = ds.availability_zone();
    let _ = ds.dsmode();
    let _ = ds.launch_index();
    let _ = ds.ds_config();
    let _ = ds.display();
    let _ = ds.userdata_raw();
    let _ = ds.vendordata_raw();
    let _ = ds.vendordata2_raw();
    let _ = ci_sources::normalize_pubkey_data(ds.metadata().get("public-keys"));
}

/// The NICs the converters are told the machine has: the MACs the seeds
/// use, so matching code runs too.
fn nics() -> Vec<(String, String)> {
    [
        ("06:17:04:d7:26:09", "eth0"),
        ("04:01:58:27:7f:01", "eth0"),
        ("04:01:58:27:7f:02", "eth1"),
        ("00:16:3e:00:00:01", "eth0"),
        ("56:00:03:05:3a:5c", "ens3"),
    ]
    .iter()
    .map(|(m, n)| (m.to_string(), n.to_string()))
    .collect()
}

/// The clouds whose network config is converted at crawl time (and then
/// cached converted) get their converter run on the restored metadata, as
/// a crawl of that response would.
fn convert_network(class: &str, md: &Value) {
    let nics = nics();
    let get = |k: &str| md.get(k).unwrap_or(&Value::Null);
    match class {
        "DataSourceEc2" => {
            for full in [true, false] {
                let _ = ci_sources::ec2::convert_network_config(get("network"), &nics, full);
            }
        }
        "DataSourceAliYun" => {
            for full in [true, false] {
                let _ = ci_sources::aliyun::convert_network_config(
                    get("network"),
                    &nics,
                    Some("eth0"),
                    full,
                );
            }
        }
        "DataSourceDigitalOcean" => {
            let ns = get("dns").get("nameservers").unwrap_or(&Value::Null);
            let _ = ci_sources::digitalocean::convert_network_config(get("interfaces"), ns, &nics);
        }
        "DataSourceUpCloud" => {
            let _ = ci_sources::upcloud::convert_network_config(get("network"), &nics);
        }
        "DataSourceVultr" => {
            let _ = ci_sources::vultr::generate_network_config(get("interfaces"), &nics);
        }
        _ => {}
    }
}

macro_rules! datasource_targets {
    ($($name:ident => $class:literal),* $(,)?) => {
        $(
            #[doc = concat!("A `", $class, "` cache entry; see [`datasource`].")]
            pub fn $name(data: &[u8]) {
                datasource($class, data)
            }
        )*
    };
}

datasource_targets! {
    ds_nocloud => "DataSourceNoCloud",
    ds_ec2 => "DataSourceEc2",
    ds_gce => "DataSourceGCE",
    ds_digitalocean => "DataSourceDigitalOcean",
    ds_hetzner => "DataSourceHetzner",
    ds_vultr => "DataSourceVultr",
    ds_aliyun => "DataSourceAliYun",
    ds_scaleway => "DataSourceScaleway",
    ds_upcloud => "DataSourceUpCloud",
    ds_akamai => "DataSourceAkamai",
    ds_exoscale => "DataSourceExoscale",
    ds_cloudstack => "DataSourceCloudStack",
    ds_openstack => "DataSourceOpenStack",
    ds_configdrive => "DataSourceConfigDrive",
    ds_oracle => "DataSourceOracle",
    ds_azure => "DataSourceAzure",
    ds_lxd => "DataSourceLXD",
    ds_vmware => "DataSourceVMware",
}

/// EC2's `meta-data/` listings and leaves (NUL-separated responses), then
/// the network config EC2 builds from the `network` subtree.
pub fn ec2_tree(data: &[u8]) {
    let (tree, _leaves) = ci_sources::fuzzing::ec2_tree(data);
    let Some(tree) = tree else { return };
    let net = tree.get("network").unwrap_or(&tree);
    let nics = [("06:17:04:d7:26:09".to_string(), "eth0".to_string())];
    for full in [true, false] {
        let _ = ci_sources::ec2::convert_network_config(net, &nics, full);
    }
}

/// An OpenStack/ConfigDrive layout: NUL-separated `meta_data.json`,
/// `network_data.json`, `vendor_data.json`, `vendor_data2.json`,
/// `user_data` and a `content_path` file.
pub fn openstack_layout(data: &[u8]) {
    let _ = ci_sources::fuzzing::openstack_layout(&empty_host(), data);
}

/// Azure IMDS instance metadata: its `network` section to netplan, with
/// and without secondary IPs.
pub fn azure_imds(data: &[u8]) {
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let net = doc.get("network").unwrap_or(&doc);
    let nics = [(
        "eth0".to_string(),
        "00:0d:3a:04:75:98".to_string(),
        Some("hv_netvsc".to_string()),
    )];
    for secondary in [true, false] {
        let _ = ci_sources::azure::netcfg::from_imds(net, secondary, &nics);
    }
}

/// A `cidata` vfat disk read without mounting it: the input is the start
/// of the device, the rest zeros up to 64 KiB (the committed seed is the
/// first 2.5 KiB of `mkfs.vfat -n CIDATA -C img 64 -r 16 -f 1 -s 1` with
/// `meta-data` and `user-data` copied in by `mcopy`).
pub fn fat_seed(data: &[u8]) {
    let mut dev = data.to_vec();
    if dev.len() < 64 * 1024 {
        dev.resize(64 * 1024, 0);
    }
    let names = ["meta-data", "user-data", "vendor-data", "network-config"];
    if let Ok(files) = ci_sources::fatseed::read_root_files(dev.as_slice(), &names) {
        for (name, body) in &files {
            assert!(names.contains(&name.as_str()), "{name} was not asked for");
            assert!(body.len() as u64 <= ci_sources::fatseed::MAX_FILE_BYTES);
        }
    }
}

/// GCE `ssh-keys` metadata lines, with expiry (`google-ssh` JSON comments).
pub fn gce_keys(data: &[u8]) {
    let text = lossy(data);
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let _ = ci_sources::gce::parse_public_keys(&lines, Some("ubuntu"));
    for line in &lines {
        let _ = ci_sources::gce::has_expired(line, 1_700_000_000);
    }
    let _ = ci_sources::fuzzing::cache_blob_roundtrip(data);
}
