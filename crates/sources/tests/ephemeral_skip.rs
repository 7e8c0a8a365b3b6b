//! Without temporary networking (the boot's placeholder), local-stage
//! datasources that need it are skipped quietly, so a later network-stage
//! search is not preceded by warnings. (With a network, each datasource's
//! own tests show the bring-up.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ci_host::Host;
use ci_sources::{find_source, SourceContext, SourceOptions, Stage};
use serde_json::json;

#[test]
fn local_network_datasources_skip_quietly_without_temporary_networking() {
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    common::write(&host, "/sys/class/dmi/id/sys_vendor", "Hetzner\n");
    common::write(&host, "/sys/class/dmi/id/product_serial", "1234\n");
    let cfg = json!({});
    let list: Vec<String> = [
        "Hetzner",
        "OpenStack",
        "Oracle",
        "UpCloud",
        "Vultr",
        "Azure",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    common::capture();
    let ctx = SourceContext::new(&host, &cfg, Stage::Local).with_cmdline("");
    let found = find_source(&ctx, &list, &SourceOptions::default(), &mut |_| {}).unwrap();
    assert!(found.is_none());
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());
    assert!(common::messages()
        .iter()
        .any(|m| m == "DataSourceHetzner needs temporary networking, which is not available in this run; skipped"));
}
