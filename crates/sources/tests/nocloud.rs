//! NoCloud and None on temp roots: seeds, identity checks, cache, search.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ci_host::Host;
use ci_sources::{
    by_name, find_source, from_cache, Datasource, Dsmode, NoCloud, SearchEvent, SourceContext,
    SourceOptions, Stage,
};
use serde_json::{json, Value};

const SEED: &str = "/var/lib/cloud/seed/nocloud";

fn seed_dir(host: &Host, md: &str) {
    common::write(host, &format!("{SEED}/meta-data"), md);
    common::write(
        host,
        &format!("{SEED}/user-data"),
        "#cloud-config\nruncmd: [ls]\n",
    );
}

#[test]
fn full_seed_dir() {
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    seed_dir(
        &host,
        "instance-id: iid-abc\nlocal-hostname: web.example.org\npublic-keys: [ssh-ed25519 AAAA k]\n",
    );
    common::write(
        &host,
        &format!("{SEED}/vendor-data"),
        "#cloud-config\nvendor: 1\n",
    );
    common::write(
        &host,
        &format!("{SEED}/network-config"),
        "network:\n  version: 2\n  ethernets:\n    eth0: {dhcp4: true}\n",
    );
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    let mut ds = NoCloud::new(Stage::Local, SourceOptions::default());
    assert!(ds.get_data(&ctx).unwrap());
    assert_eq!(ds.instance_id(), "iid-abc");
    assert_eq!(ds.local_hostname(&host).as_deref(), Some("web"));
    assert_eq!(
        ds.get_hostname(&host, true, false).hostname.as_deref(),
        Some("web.example.org")
    );
    assert_eq!(ds.public_ssh_keys(), vec!["ssh-ed25519 AAAA k"]);
    assert_eq!(
        ds.vendordata_raw(),
        Some(&b"#cloud-config\nvendor: 1\n"[..])
    );
    assert_eq!(ds.vendordata2_raw(), None);
    assert_eq!(
        ds.network_config(),
        Some(json!({"network": {"version": 2, "ethernets": {"eth0": {"dhcp4": true}}}}))
    );
    assert_eq!(ds.dsmode(), Dsmode::Net);
    assert_eq!(
        ds.display(),
        "DataSourceNoCloud [seed=/var/lib/cloud/seed/nocloud]"
    );
    assert_eq!(ds.subplatform(), "seed-dir (/var/lib/cloud/seed/nocloud)");
    assert_eq!(ds.platform_type(), "nocloud");
    assert_eq!(ds.cloud_name(), "unknown");
    assert_eq!(ds.seed(), Some(SEED));

    // Inside LXD the platform says so.
    common::write(&host, "/dev/lxd/sock", "");
    let mut ds = NoCloud::new(Stage::Local, SourceOptions::default());
    assert!(ds.get_data(&ctx).unwrap());
    assert_eq!(ds.platform_type(), "lxd");
}

#[test]
fn custom_cloud_dir_moves_the_seed_dirs() {
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    common::write(
        &host,
        "/srv/cloud/seed/nocloud-net/meta-data",
        "instance-id: moved\n",
    );
    common::write(&host, "/srv/cloud/seed/nocloud-net/user-data", "");
    let cfg = json!({"system_info": {"paths": {"cloud_dir": "/srv/cloud/"}}});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    let mut ds = NoCloud::new(Stage::Local, SourceOptions::default());
    assert!(ds.get_data(&ctx).unwrap());
    assert_eq!(
        ds.display(),
        "DataSourceNoCloud [seed=/srv/cloud/seed/nocloud-net]"
    );
}

#[test]
fn cmdline_file_seed_and_smbios_serial() {
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    common::write(
        &host,
        "/media/seed/meta-data",
        "instance-id: file-iid\nlocal-hostname: fh\nextra: 1\n",
    );
    common::write(&host, "/media/seed/user-data", "#cloud-config\n");
    common::write(
        &host,
        "/sys/class/dmi/id/product_serial",
        "ds=nocloud;h=serial-host\n",
    );
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local)
        .with_cmdline("quiet ds=nocloud;s=file:///media/seed/;i=cmd-iid;h=cmd-host");
    let mut ds = NoCloud::new(Stage::Local, SourceOptions::default());
    assert!(ds.get_data(&ctx).unwrap());
    // Serial first, then cmdline, then the seed: earlier wins each key.
    assert_eq!(ds.local_hostname(&host).as_deref(), Some("serial-host"));
    assert_eq!(ds.instance_id(), "cmd-iid");
    assert_eq!(ds.metadata()["extra"], 1);
    assert_eq!(ds.metadata()["seedfrom"], "file:///media/seed/");
    assert_eq!(ds.vendordata_raw(), None);
    assert_eq!(
        ds.display(),
        "DataSourceNoCloud [seed=dmi,cmdline,file:///media/seed/][dsmode=local]"
    );
    assert_eq!(ds.dsmode(), Dsmode::Local);
}

#[test]
fn malformed_meta_data_warns_naming_the_file() {
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    seed_dir(&host, "instance-id: [oops\n");
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    let mut ds = NoCloud::new(Stage::Local, SourceOptions::default());
    common::capture();
    // As upstream: a WARNING (degraded boot), and the seed is used with defaults.
    assert!(ds.get_data(&ctx).unwrap());
    assert_eq!(ds.instance_id(), "nocloud");
    let w = common::warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with(
            "Failed loading yaml blob from /var/lib/cloud/seed/nocloud/meta-data. Invalid format at line"
        ),
        "{}",
        w[0]
    );
}

#[test]
fn unreadable_seed_is_an_error_naming_the_path() {
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    // A file where the seed directory should be.
    common::write(&host, SEED, "not a dir");
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    let err = NoCloud::new(Stage::Local, SourceOptions::default())
        .get_data(&ctx)
        .unwrap_err();
    assert_eq!(err.reason(), "read-failed");
    assert!(
        err.to_string().contains("/var/lib/cloud/seed/nocloud/"),
        "{err}"
    );
}

#[test]
fn check_instance_id_follows_cmdline_then_seed() {
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    seed_dir(&host, "instance-id: iid-1\n");
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    let mut ds = NoCloud::new(Stage::Local, SourceOptions::default());
    assert!(ds.get_data(&ctx).unwrap());
    assert!(ds.check_instance_id(&ctx));

    // A new seed on the next boot: the cache no longer matches.
    seed_dir(&host, "instance-id: iid-2\n");
    assert!(!ds.check_instance_id(&ctx));
    // The cmdline i= is consulted first.
    let ctx2 = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("ds=nocloud;i=iid-1");
    assert!(ds.check_instance_id(&ctx2));
    // Restored from the cache, the check behaves the same.
    let back = from_cache(&ds.to_cache(), &SourceOptions::default()).unwrap();
    assert!(!back.check_instance_id(&ctx));
    assert!(back.check_instance_id(&ctx2));
    // No seed left at all: "search again".
    std::fs::remove_dir_all(host.path(SEED)).unwrap();
    assert!(!back.check_instance_id(&ctx));
}

#[test]
fn cache_keeps_binary_user_data_and_rejects_garbage() {
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    common::write(&host, &format!("{SEED}/meta-data"), "instance-id: bin\n");
    host.write_atomic(
        format!("{SEED}/user-data"),
        &[0x1f, 0x8b, 0x08, 0x00, 0xff],
        &ci_host::WriteOpts::default(),
    )
    .unwrap();
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    let mut ds = NoCloud::new(Stage::Local, SourceOptions::default());
    assert!(ds.get_data(&ctx).unwrap());
    let cache = ds.to_cache();
    assert_eq!(cache["class"], "DataSourceNoCloud");
    assert_eq!(cache["userdata_raw"], json!({"hex": "1f8b0800ff"}));
    let back = from_cache(&cache, &SourceOptions::default()).unwrap();
    assert_eq!(
        back.userdata_raw(),
        Some(&[0x1f, 0x8b, 0x08, 0x00, 0xff][..])
    );
    assert_eq!(back.vendordata_raw(), Some(&b""[..]));
    assert_eq!(back.stage(), Stage::Local);
    // Survives a trip through text.
    let text = serde_json::to_string(&cache).unwrap();
    let again = from_cache(
        &serde_json::from_str(&text).unwrap(),
        &SourceOptions::default(),
    )
    .unwrap();
    assert_eq!(again.to_cache(), cache);

    for bad in [
        json!({}),
        json!({"format": 99, "class": "DataSourceNoCloud", "stage": "local"}),
        json!({"format": 1, "class": "DataSourceEc2", "stage": "local"}),
        json!({"format": 1, "class": "DataSourceNoCloud", "stage": "local", "dsmode": "net"}),
        json!({"format": 1, "class": "DataSourceNoCloud", "stage": "sideways"}),
    ] {
        let e = from_cache(&bad, &SourceOptions::default()).err().unwrap();
        assert_eq!(e.reason(), "bad-cache", "{bad}");
    }
}

#[test]
fn legacy_eni_is_kept_raw() {
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    seed_dir(
        &host,
        "instance-id: e\nnetwork-interfaces: |\n  auto eth0\n  iface eth0 inet dhcp\n",
    );
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    let mut ds = NoCloud::new(Stage::Local, SourceOptions::default());
    assert!(ds.get_data(&ctx).unwrap());
    assert_eq!(ds.network_config(), None);
    common::capture();
    assert_eq!(ds.legacy_eni(), Some("auto eth0\niface eth0 inet dhcp\n"));
    assert_eq!(common::records()[0].1, "DEPRECATED:lifecycle.py");
    // A network-config file takes precedence over the ENI text.
    common::write(
        &host,
        &format!("{SEED}/network-config"),
        "version: 1\nconfig: []\n",
    );
    let mut ds = NoCloud::new(Stage::Local, SourceOptions::default());
    assert!(ds.get_data(&ctx).unwrap());
    assert_eq!(ds.legacy_eni(), None);
}

#[test]
fn find_source_local_stage_logs_and_events() {
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    seed_dir(&host, "instance-id: found\n");
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    let list: Vec<String> = ["Ec2", "Bogus", "NoCloud", "None"]
        .map(String::from)
        .to_vec();
    common::capture();
    let mut events = Vec::new();
    let ds = find_source(&ctx, &list, &SourceOptions::default(), &mut |e| {
        events.push(e.clone())
    })
    .unwrap()
    .unwrap();
    assert_eq!(ds.instance_id(), "found");
    let msgs = common::messages();
    for expected in [
        "Looking for data source in: ['Ec2', 'Bogus', 'NoCloud', 'None'], via packages ['', 'cloudinit.sources'] that matches dependencies ['FILESYSTEM']",
        "Searching for local data source in: ['DataSourceEc2Local', 'DataSourceNoCloud']",
        "DataSourceEc2Local needs temporary networking, which is not available in this run; skipped",
        "Seeing if we can get any data from <class 'cloudinit.sources.DataSourceNoCloud.DataSourceNoCloud'>",
        "Detected DataSourceNoCloud ",
        "Using seeded data from /var/lib/cloud/seed/nocloud",
    ] {
        assert!(msgs.iter().any(|m| m == expected), "missing {expected:?} in {msgs:#?}");
    }
    assert!(msgs.iter().any(|m| m.starts_with("Getting metadata took ")));
    // An unknown name is upstream's ERROR; a known-but-absent one is not.
    assert_eq!(
        common::warnings(),
        vec!["Could not import DataSourceBogus. Does the DataSource exist and is it importable?"]
    );
    assert_eq!(
        events,
        vec![
            SearchEvent::Start {
                name: "search-Ec2Local".into(),
                description: "searching for local data from DataSourceEc2Local".into()
            },
            SearchEvent::Finish {
                name: "search-Ec2Local".into(),
                result: ci_sources::EventResult::Success,
                message: "no local data found from DataSourceEc2Local".into()
            },
            SearchEvent::Start {
                name: "search-NoCloud".into(),
                description: "searching for local data from DataSourceNoCloud".into()
            },
            SearchEvent::Finish {
                name: "search-NoCloud".into(),
                result: ci_sources::EventResult::Success,
                message: "found local data from DataSourceNoCloud".into()
            },
        ]
    );

    // Nothing in the local stage: None is not a local datasource.
    let empty = tempfile::tempdir().unwrap();
    let host = Host::new(empty.path());
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    let mut events = Vec::new();
    let list = vec!["NoCloud".to_string(), "None".to_string()];
    assert!(
        find_source(&ctx, &list, &SourceOptions::default(), &mut |e| events
            .push(e.clone()))
        .unwrap()
        .is_none()
    );
    assert_eq!(events.len(), 2);
    assert_eq!(
        ci_sources::not_found_message(&["DataSourceNoCloud".to_string()]),
        "Did not find any data source, searched classes: (DataSourceNoCloud)"
    );
}

#[test]
fn none_datasource_from_config() {
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    let cfg = json!({"datasource": {"None": {
        "userdata_raw": "#cloud-config\nhostname: fallback\n",
        "metadata": {"local-hostname": "nonehost", "instance-id": "ignored"}
    }}});
    let ctx = SourceContext::new(&host, &cfg, Stage::Network).with_cmdline("");
    let list = vec!["NoCloud".to_string(), "None".to_string()];
    let ds = find_source(&ctx, &list, &SourceOptions::default(), &mut |_| {})
        .unwrap()
        .unwrap();
    assert_eq!(ds.dsname(), "None");
    assert_eq!(ds.display(), "DataSourceNone");
    assert_eq!(ds.instance_id(), "iid-datasource-none");
    assert_eq!(
        ds.userdata_raw(),
        Some(&b"#cloud-config\nhostname: fallback\n"[..])
    );
    assert_eq!(ds.local_hostname(&host).as_deref(), Some("nonehost"));
    assert_eq!(ds.subplatform(), "config");
    assert_eq!(ds.platform_type(), "none");
    assert_eq!(ds.cloud_name(), "none");
    assert_eq!(ds.network_config(), None);
    let back = from_cache(&ds.to_cache(), &SourceOptions::default()).unwrap();
    assert_eq!(back.metadata(), ds.metadata());
    assert_eq!(back.userdata_raw(), ds.userdata_raw());

    // Without config: empty user-data and metadata.
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Network).with_cmdline("");
    let mut ds = by_name("None", Stage::Network, &SourceOptions::default()).unwrap();
    assert!(ds.get_data(&ctx).unwrap());
    assert_eq!(ds.userdata_raw(), Some(&b""[..]));
    assert_eq!(ds.metadata(), &Value::Object(Default::default()));
}
