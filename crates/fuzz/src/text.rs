//! Text formats: YAML, user-data (MIME, includes, archives, jinja), DHCP
//! leases, the kernel command line, Azure's XML.

use crate::lossy;
use ci_userdata::{Fetcher, ProcessOptions};
use serde_json::json;

/// YAML as `safe_load`, `safe_load_all` and with marks. Invariant: a
/// loaded document dumped and loaded again is the same value.
#[allow(clippy::panic)]
pub fn yaml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = ci_yaml::load_all(text);
    let _ = ci_yaml::load_with_marks(text);
    let Ok(value) = ci_yaml::load(text) else {
        return;
    };
    let dumped = ci_yaml::dump(&value);
    match ci_yaml::load(&dumped) {
        Ok(again) if again == value => {}
        Ok(again) => panic!("YAML round trip changed the value: {value} -> {dumped:?} -> {again}"),
        Err(e) => panic!("YAML dump of {value} does not load again: {dumped:?}: {e}"),
    }
}

/// `#include` never reaches the network from a fuzz input.
struct NoFetch;

impl Fetcher for NoFetch {
    fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        Err(format!("404 Client Error: Not Found for url: {url}"))
    }
}

fn process(raw: &[u8]) {
    let opts = ProcessOptions {
        launch_index: Some(0),
        // So `## template: jinja` parts render instead of being skipped.
        instance_data: Some(json!({
            "v1": {"instance_id": "i-fuzz", "local_hostname": "fuzz", "region": "r1"},
            "ds": {"meta_data": {"a": [1, 2], "b": {"c": "d"}}},
        })),
        ..ProcessOptions::default()
    };
    let _ = ci_userdata::process(raw, &opts, &NoFetch);
    let _ = ci_userdata::type_from_starts_with(raw);
}

/// A whole user-data blob: gzip, MIME, `#include`, `#cloud-config-archive`,
/// jsonp, boothooks, jinja, cloud-config merging.
pub fn userdata(data: &[u8]) {
    process(data);
}

/// The parts of a multipart message: the input follows the message's
/// headers and first boundary, so the fuzzer spends its time on part
/// headers, nesting and boundaries.
pub fn mime(data: &[u8]) {
    let mut raw =
        b"Content-Type: multipart/mixed; boundary=\"b\"\nMIME-Version: 1.0\n\n--b\n".to_vec();
    raw.extend_from_slice(data);
    process(&raw);
}

/// Lease text of dhcpcd (`--dumplease`) and of our udhcpc script, and raw
/// DHCP packet options.
pub fn dhcp_lease(data: &[u8]) {
    use ci_sources::ephemeral::dhcp;
    let text = lossy(data);
    let _ = dhcp::parse_dhcpcd_dump(&text, "eth0");
    let _ = dhcp::parse_udhcpc_lease(&text);
    for code in [1u8, 3, 6, 15, 51, 54, 121, 245, 255] {
        let _ = dhcp::packet_option(data, code);
    }
}

/// `/proc/cmdline` as every reader of it parses it: `ds=` for the search,
/// NoCloud's `ds=nocloud;...` seed, `network-config=`, ds-identify's policy.
pub fn kernel_cmdline(data: &[u8]) {
    use ci_sources::cmdline;
    let text = lossy(data);
    let _ = cmdline::parse_ds_name(&text);
    let _ = cmdline::parse_ds_arg(&text);
    let _ = cmdline::parse_cmdline_data("nocloud", &text);
    let _ = cmdline::nocloud_cmdline_data(&text);
    let _ = ci_sources::fuzzing::ds_name(&text);
    if let Some(v) = ci_net::cmdline::read_kernel_cmdline_config(&text) {
        let _ = ci_net::parse(&v);
    }
    let _ = ci_detect::Policy::parse(&text, &mut Vec::new());
}

/// Azure's `ovf-env.xml` (the provisioning media), and the XML parser
/// under it.
pub fn ovf_xml(data: &[u8]) {
    use ci_sources::azure::{ovf, xml};
    let _ = xml::parse(data);
    if let Ok(env) = ovf::OvfEnv::parse(data) {
        let _ = format!("{env:?}");
    }
}

/// The wireserver's GoalState. Invariant: the Ready report built from a
/// parsed GoalState is itself well-formed XML.
#[allow(clippy::panic)]
pub fn azure_goalstate(data: &[u8]) {
    use ci_sources::azure::{wire, xml};
    let Ok(gs) = wire::GoalState::parse(data) else {
        return;
    };
    let report = wire::build_report(&gs, "Ready", None);
    if let Err(e) = xml::parse(report.as_bytes()) {
        panic!("the health report for {gs:?} is not XML: {e:?}\n{report}");
    }
}
