//! `seedfrom=http://127.0.0.1:PORT/` against a local test server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ci_host::Host;
use ci_sources::url::{UrlPolicy, UrlReader};
use ci_sources::{
    find_source, Datasource, NoCloud, SearchEvent, SourceContext, SourceOptions, Stage,
};
use serde_json::json;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Serves `routes` (path → list of (status, body), the last one repeating);
/// records every requested path.
fn serve(routes: Vec<(&str, Vec<(u16, &str)>)>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let mut routes: HashMap<String, Vec<(u16, String)>> = routes
        .into_iter()
        .map(|(p, r)| {
            (
                p.to_string(),
                r.into_iter().map(|(c, b)| (c, b.to_string())).collect(),
            )
        })
        .collect();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let req = String::from_utf8_lossy(&buf).to_string();
            let path = req.split_whitespace().nth(1).unwrap_or("").to_string();
            seen2.lock().unwrap().push(path.clone());
            let (code, body) = match routes.get_mut(&path) {
                Some(list) if list.len() > 1 => list.remove(0),
                Some(list) => list[0].clone(),
                None => (404, "not found".to_string()),
            };
            let _ = write!(
                s,
                "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (base, seen)
}

fn quick() -> SourceOptions {
    SourceOptions {
        http: UrlPolicy::quick(Duration::from_secs(2)),
        ..Default::default()
    }
}

#[test]
fn network_stage_fetches_seed_over_http() {
    let (base, seen) = serve(vec![
        (
            "/meta-data",
            vec![(200, "instance-id: http-iid\nlocal-hostname: web1\n")],
        ),
        ("/user-data", vec![(200, "#cloud-config\nruncmd: [x]\n")]),
        (
            "/network-config",
            vec![(200, "version: 2\nethernets: {eth0: {dhcp4: true}}\n")],
        ),
    ]);
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    let cfg = json!({});
    let cmdline = format!("ro ds=nocloud;s={base};h=cmdhost");
    let ctx = SourceContext::new(&host, &cfg, Stage::Network).with_cmdline(cmdline);
    let mut ds = NoCloud::new(Stage::Network, quick());
    common::capture();
    assert!(ds.get_data(&ctx).unwrap());
    // Upstream's order; vendor-data 404 is tolerated.
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            "/network-config",
            "/meta-data",
            "/user-data",
            "/vendor-data"
        ]
    );
    assert_eq!(ds.instance_id(), "http-iid");
    // The cmdline wins the meta-data merge.
    assert_eq!(ds.local_hostname(&host).as_deref(), Some("cmdhost"));
    assert_eq!(
        ds.userdata_raw(),
        Some(&b"#cloud-config\nruncmd: [x]\n"[..])
    );
    assert_eq!(ds.vendordata_raw(), None);
    assert_eq!(
        ds.network_config(),
        Some(json!({"version": 2, "ethernets": {"eth0": {"dhcp4": true}}}))
    );
    assert_eq!(
        ds.display(),
        format!("DataSourceNoCloudNet [seed=cmdline,{base}]")
    );
    assert_eq!(ds.subplatform(), format!("seed-dir (cmdline,{base})"));
    assert_eq!(ds.metadata()["dsmode"], "net");
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());
    assert!(common::messages().contains(&format!("Using seeded cache data from {base}")));
}

#[test]
fn url_without_slash_gets_one_and_dmi_vars_are_substituted() {
    let (base, seen) = serve(vec![
        (
            "/node/S123/meta-data",
            vec![(200, "instance-id: dmi-iid\n")],
        ),
        ("/node/S123/user-data", vec![(200, "")]),
    ]);
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    common::write(&host, "/sys/class/dmi/id/chassis_serial", "S123\n");
    let cfg = json!({"datasource": {"NoCloud": {"seedfrom": format!("{base}node/__dmi.chassis-serial-number__")}}});
    let ctx = SourceContext::new(&host, &cfg, Stage::Network).with_cmdline("");
    let mut ds = NoCloud::new(Stage::Network, quick());
    common::capture();
    // Detected through the configured seedfrom.
    assert!(ds.get_data(&ctx).unwrap());
    assert_eq!(ds.instance_id(), "dmi-iid");
    assert!(seen
        .lock()
        .unwrap()
        .contains(&"/node/S123/meta-data".to_string()));
    assert!(common::messages().iter().any(|m| m.starts_with(
        "Machine is configured by system configuration to run on single datasource DataSourceNoCloudNet"
    )));
}

#[test]
fn missing_meta_data_is_an_error_and_search_goes_on() {
    let (base, seen) = serve(vec![("/user-data", vec![(200, "x")])]);
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Network)
        .with_cmdline(format!("ds=nocloud;s={base}"));
    let mut opts = quick();
    opts.http.retries = 2;
    let mut ds = NoCloud::new(Stage::Network, opts.clone());
    let err = ds.get_data(&ctx).unwrap_err();
    assert_eq!(err.reason(), "url-not-found");
    assert!(err.to_string().contains(&format!(
        "404 Client Error: Not Found for url: {base}meta-data"
    )));
    // 1 try + 2 retries for meta-data, after the (also retried) network-config.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.iter().filter(|p| *p == "/meta-data").count(), 3);
    assert_eq!(seen.iter().filter(|p| *p == "/network-config").count(), 3);

    // Through find_source: the failure is a WARNING, then None is found.
    common::capture();
    let mut events = Vec::new();
    let list = vec!["NoCloud".to_string(), "None".to_string()];
    let found = find_source(&ctx, &list, &opts, &mut |e| events.push(e.clone()))
        .unwrap()
        .unwrap();
    assert_eq!(found.class_name(), "DataSourceNone");
    assert_eq!(
        common::warnings(),
        vec!["Getting data from <class 'cloudinit.sources.DataSourceNoCloud.DataSourceNoCloudNet'> failed"]
    );
    assert_eq!(
        events,
        vec![
            SearchEvent::Start {
                name: "search-NoCloudNet".into(),
                description: "searching for network data from DataSourceNoCloudNet".into()
            },
            SearchEvent::Finish {
                name: "search-NoCloudNet".into(),
                result: ci_sources::EventResult::Fail,
                message: "no network data found from DataSourceNoCloudNet".into()
            },
            SearchEvent::Start {
                name: "search-None".into(),
                description: "searching for network data from DataSourceNone".into()
            },
            SearchEvent::Finish {
                name: "search-None".into(),
                result: ci_sources::EventResult::Success,
                message: "found network data from DataSourceNone".into()
            },
        ]
    );
    let msgs = common::messages();
    assert!(msgs.contains(
        &"Searching for network data source in: ['DataSourceNoCloudNet', 'DataSourceNone']"
            .to_string()
    ));
    assert!(msgs.contains(
        &"Seeing if we can get any data from <class 'cloudinit.sources.DataSourceNone.DataSourceNone'>".to_string()
    ));
}

#[test]
fn retries_until_the_server_answers() {
    let (base, seen) = serve(vec![
        (
            "/meta-data",
            vec![(500, "busy"), (200, "instance-id: later\n")],
        ),
        ("/user-data", vec![(200, "ud")]),
    ]);
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    let reader = UrlReader::new(UrlPolicy {
        retries: 1,
        ..UrlPolicy::quick(Duration::from_secs(2))
    });
    let seeded = ci_sources::seed::read_seeded(&host, &reader, &base, "").unwrap();
    assert_eq!(seeded.meta_data, json!({"instance-id": "later"}));
    assert_eq!(seeded.user_data.as_deref(), Some(&b"ud"[..]));
    assert_eq!(seeded.network_config, None);
    assert_eq!(
        seen.lock()
            .unwrap()
            .iter()
            .filter(|p| *p == "/meta-data")
            .count(),
        2
    );

    // With no retries the 500 is the answer.
    let (base, _) = serve(vec![("/meta-data", vec![(500, "busy")])]);
    let reader = UrlReader::new(UrlPolicy::quick(Duration::from_secs(2)));
    let err = ci_sources::seed::read_seeded(&host, &reader, &base, "").unwrap_err();
    assert_eq!(err.code(), Some(500));
    assert_eq!(err.reason(), "url-status");
}

#[test]
fn connection_refused_fails_within_budget() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Network)
        .with_cmdline(format!("ds=nocloud;s=http://127.0.0.1:{port}/"));
    let mut opts = quick();
    opts.http.retries = 2;
    opts.http.sec_between = Duration::from_millis(50);
    let mut ds = NoCloud::new(Stage::Network, opts);
    let start = Instant::now();
    let err = ds.get_data(&ctx).unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(err.reason(), "url-unreachable");
    assert!(err
        .to_string()
        .contains(&format!("http://127.0.0.1:{port}/meta-data")));
}

#[test]
fn local_stage_leaves_http_seeds_to_the_network_stage() {
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, Stage::Local)
        .with_cmdline("ds=nocloud;s=http://127.0.0.1:9/");
    let mut ds = NoCloud::new(Stage::Local, quick());
    common::capture();
    assert!(!ds.get_data(&ctx).unwrap());
    assert!(common::warnings().is_empty());
    assert!(common::messages().contains(
        &"DataSourceNoCloud  only uses seeds starting with ('/', 'file://') - will try to use http://127.0.0.1:9/ in the network stage.".to_string()
    ));
}
