//! The search and the cache refuse instance ids that cannot name an
//! instance directory, and datasources only log what upstream's `__init__`
//! logs when the search actually reaches them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ci_host::Host;
use ci_sources::{
    by_name, find_source, from_cache, EventResult, NoCloud, SearchEvent, SourceContext,
    SourceOptions, Stage,
};
use serde_json::json;

const SEED: &str = "/var/lib/cloud/seed/nocloud";

/// Upstream's default `datasource_list` (Debian's too, with no generator
/// narrowing it).
const FULL_LIST: &[&str] = &[
    "NoCloud",
    "ConfigDrive",
    "LXD",
    "OpenNebula",
    "DigitalOcean",
    "Azure",
    "AltCloud",
    "VMware",
    "OVF",
    "MAAS",
    "GCE",
    "OpenStack",
    "AliYun",
    "Vultr",
    "Ec2",
    "CloudSigma",
    "CloudStack",
    "SmartOS",
    "Bigstep",
    "Scaleway",
    "Hetzner",
    "IBMCloud",
    "Oracle",
    "Exoscale",
    "RbxCloud",
    "UpCloud",
    "NWCS",
    "Akamai",
    "WSL",
    "CloudCIX",
    "None",
];

const DO_DEPRECATION: &str = "DataSourceDigitalOcean is deprecated";

fn seeded(meta_data: &str) -> (tempfile::TempDir, Host) {
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    common::write(&host, &format!("{SEED}/meta-data"), meta_data);
    common::write(&host, &format!("{SEED}/user-data"), "#cloud-config\n{}\n");
    (d, host)
}

fn list(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn constructing_any_datasource_logs_nothing() {
    // The search builds every candidate to list them before trying any;
    // a constructor that logs would speak for datasources never tried.
    for stage in [Stage::Local, Stage::Network] {
        common::capture();
        let built = FULL_LIST
            .iter()
            .filter_map(|n| by_name(n, stage, &SourceOptions::default()))
            .count();
        assert!(built > 10, "{stage:?}: only {built} datasources built");
        assert_eq!(common::records(), vec![], "{stage:?}");
    }
}

#[test]
fn full_list_nocloud_boot_has_no_digitalocean_deprecation() {
    let (_d, host) = seeded("instance-id: iid-clean\n");
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    common::capture();
    let ds = find_source(
        &ctx,
        &list(FULL_LIST),
        &SourceOptions::default(),
        &mut |_| {},
    )
    .unwrap()
    .unwrap();
    assert_eq!(ds.dsname(), "NoCloud");
    let msgs = common::messages();
    assert!(
        msgs.iter().any(|m| m
            .starts_with("Searching for local data source in: ['DataSourceNoCloud', ")
            && m.contains("'DataSourceDigitalOcean'")),
        "{msgs:#?}"
    );
    assert_eq!(common::warnings(), Vec::<String>::new());
}

#[test]
fn digitalocean_deprecation_when_reached_or_restored() {
    // No NoCloud seed: the search goes on to DigitalOcean, which is then
    // instantiated upstream, with its notice.
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    common::capture();
    let none = find_source(
        &ctx,
        &list(&["NoCloud", "DigitalOcean"]),
        &SourceOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert!(none.is_none());
    let recs = common::records();
    let seeing = recs
        .iter()
        .position(|(_, _, m)| m.contains("Seeing if we can get any data from <class 'cloudinit.sources.DataSourceDigitalOcean"))
        .expect("DigitalOcean tried");
    let notice = recs.iter().position(|(l, t, m)| {
        *l == log::Level::Warn && t == "DEPRECATED:lifecycle.py" && m.starts_with(DO_DEPRECATION)
    });
    let notice = notice.expect("DigitalOcean's notice once it is tried");
    assert!(notice > seeing, "{recs:#?}");

    // Restoring it from the cache is instantiating it too (upstream's
    // `_unpickle`); the notice is not repeated in the same process.
    let cache = by_name("DigitalOcean", Stage::Local, &SourceOptions::default())
        .unwrap()
        .to_cache();
    common::capture();
    from_cache(&cache, &SourceOptions::default()).unwrap();
    assert_eq!(common::records(), vec![]);
    // A fresh stage (thread) restoring it logs the notice.
    let fresh = std::thread::spawn(move || {
        common::capture();
        from_cache(&cache, &SourceOptions::default()).unwrap();
        common::warnings()
    })
    .join()
    .unwrap();
    assert_eq!(fresh.len(), 1, "{fresh:#?}");
    assert!(fresh[0].starts_with(DO_DEPRECATION), "{fresh:#?}");
}

#[test]
fn bad_instance_ids_fail_the_datasource() {
    for iid_yaml in ["\"\"", "\".\"", "\"..\"", "\"   \"", "\"i-1\\0\""] {
        let (_d, host) = seeded(&format!("instance-id: {iid_yaml}\n"));
        let cfg = json!({});
        // Network stage (`ds=nocloud` makes NoCloudNet crawl the seed): the
        // search falls through to None, as upstream does when a datasource
        // fails.
        let ctx = SourceContext::new(&host, &cfg, Stage::Network).with_cmdline("ds=nocloud");
        common::capture();
        let mut events = Vec::new();
        let ds = find_source(
            &ctx,
            &list(&["NoCloud", "None"]),
            &SourceOptions::default(),
            &mut |e| events.push(e.clone()),
        )
        .unwrap()
        .unwrap();
        assert_eq!(ds.dsname(), "None", "{iid_yaml}");
        let warnings = common::warnings();
        assert_eq!(warnings.len(), 1, "{iid_yaml}: {warnings:#?}");
        let w = &warnings[0];
        assert!(
            w.starts_with("Ignoring datasource DataSourceNoCloudNet [seed=")
                && w.contains("its instance-id \"")
                && w.contains("is unusable ("),
            "{iid_yaml}: {w}"
        );
        assert_eq!(
            events[1],
            SearchEvent::Finish {
                name: "search-NoCloudNet".into(),
                result: EventResult::Fail,
                message: "no network data found from DataSourceNoCloudNet".into()
            },
            "{iid_yaml}"
        );
        // Nothing written by the search itself.
        assert!(!host.exists("/var/lib/cloud/instances"));
    }
}

#[test]
fn bad_instance_id_in_local_stage_is_not_found() {
    let (_d, host) = seeded("instance-id: ..\n");
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    common::capture();
    let found = find_source(
        &ctx,
        &list(FULL_LIST),
        &SourceOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert!(found.is_none());
    assert!(common::warnings()
        .iter()
        .any(|w| w.contains("DataSourceNoCloud") && w.contains("\"..\"")));
}

#[test]
fn cache_with_bad_instance_id_is_refused() {
    let (_d, host) = seeded("instance-id: i-good\n");
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    let mut ds = NoCloud::new(Stage::Local, SourceOptions::default());
    assert!(ci_sources::Datasource::get_data(&mut ds, &ctx).unwrap());
    let cache = ci_sources::Datasource::to_cache(&ds);
    assert!(from_cache(&cache, &SourceOptions::default()).is_ok());
    let text = serde_json::to_string(&cache).unwrap();
    assert!(text.contains("i-good"));
    for bad in ["", ".", ".."] {
        let v: serde_json::Value =
            serde_json::from_str(&text.replace("\"i-good\"", &format!("\"{bad}\""))).unwrap();
        let e = from_cache(&v, &SourceOptions::default()).err().unwrap();
        assert!(
            e.to_string()
                .contains(&format!("unusable instance-id \"{bad}\"")),
            "{bad:?}: {e}"
        );
    }
}

#[test]
fn a_deprecation_is_logged_once_per_search() {
    // Every datasource tried reads the cmdline (upstream
    // `override_ds_detect`); upstream logs the `ci.ds=` notice once.
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("ci.ds=Ec2");
    common::capture();
    let found = find_source(
        &ctx,
        &list(&["NoCloud", "ConfigDrive", "LXD"]),
        &SourceOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    assert!(found.is_none());
    let notices: Vec<_> = common::records()
        .into_iter()
        .filter(|(_, t, m)| t == "DEPRECATED:lifecycle.py" && m.contains("ci.ds=Ec2"))
        .collect();
    assert_eq!(notices.len(), 1, "{notices:#?}");
}
