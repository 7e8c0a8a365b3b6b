//! The Azure datasource against the ci-imds Azure emulator (IMDS and the
//! wireserver on one 127.0.0.1 listener), with a recorded ephemeral network.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ci_host::Host;
use ci_imds::{Faults, Server};
use ci_sources::azure::{Azure, DhcpPolicy, ImdsPolicy, WirePolicy};
use ci_sources::ephemeral::{LeaseInfo, RecordingNet};
use ci_sources::{from_cache, Datasource, SourceContext, SourceOptions, Stage};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const VM_UUID: &str = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
const CHASSIS: &str = "7783-7084-3265-9085-8269-3286-77";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn start(faults: Faults) -> Server {
    start_seed(&fixture("azure-seed"), faults)
}

fn start_seed(dir: &Path, faults: Faults) -> Server {
    let api = ci_imds::api_for("azure", dir).unwrap();
    Server::start_api(api, faults, "127.0.0.1:0").unwrap()
}

/// An Azure-looking root: chassis tag, system UUID, two Hyper-V NICs.
fn root(ovf: Option<&str>) -> (tempfile::TempDir, Host) {
    let d = tempfile::tempdir().unwrap();
    let h = Host::new(d.path());
    common::write(
        &h,
        "/sys/class/dmi/id/chassis_asset_tag",
        &format!("{CHASSIS}\n"),
    );
    common::write(
        &h,
        "/sys/class/dmi/id/product_uuid",
        &format!("{}\n", VM_UUID.to_uppercase()),
    );
    common::write(&h, "/sys/firmware/efi/.keep", "");
    for (nic, mac) in [("eth0", "00:0d:3a:04:75:98"), ("eth1", "00:0d:3a:04:75:99")] {
        common::write(
            &h,
            &format!("/sys/class/net/{nic}/address"),
            &format!("{mac}\n"),
        );
        common::write(&h, &format!("/sys/class/net/{nic}/carrier"), "1\n");
        let drv = d.path().join("sys/bus/vmbus/drivers/hv_netvsc");
        std::fs::create_dir_all(&drv).unwrap();
        std::fs::create_dir_all(d.path().join(format!("sys/class/net/{nic}/device"))).unwrap();
        std::os::unix::fs::symlink(
            &drv,
            d.path().join(format!("sys/class/net/{nic}/device/driver")),
        )
        .unwrap();
    }
    if let Some(xml) = ovf {
        common::write(&h, "/var/lib/cloud/seed/azure/ovf-env.xml", xml);
    }
    (d, h)
}

fn ovf() -> String {
    std::fs::read_to_string(fixture("azure-ovf-env.xml")).unwrap()
}

fn net() -> RecordingNet {
    RecordingNet::new().with_lease(LeaseInfo {
        iface: "eth0".into(),
        address: Some("10.0.0.4".into()),
        routers: vec!["10.0.0.1".into()],
        dhcp_server: Some("168.63.129.16".into()),
        options: vec![
            ("unknown-245".into(), "a8:3f:81:10".into()),
            (
                "rfc3442-classless-static-routes".into(),
                "0,10,0,0,1,32,168,63,129,16,10,0,0,1,32,169,254,169,254,10,0,0,1".into(),
            ),
        ],
    })
}

fn policies() -> (ImdsPolicy, WirePolicy, DhcpPolicy) {
    (
        ImdsPolicy {
            timeout: Duration::from_millis(500),
            sec_between: Duration::from_millis(50),
            retry_deadline: Duration::from_millis(1500),
        },
        WirePolicy {
            connect_timeout: Duration::from_millis(500),
            read_timeout: Duration::from_millis(1000),
            retry_sleep: Duration::from_millis(50),
            give_up_after: Duration::from_millis(800),
        },
        DhcpPolicy {
            provisioning: Duration::from_millis(300),
            normal: Duration::from_millis(300),
            retry_sleep: Duration::from_millis(100),
        },
    )
}

fn ds(url: &str) -> Azure {
    let (i, w, d) = policies();
    Azure::new(Stage::Local, SourceOptions::default())
        .with_imds_url(url)
        .with_wireserver_url(url)
        .with_policies(i, w, d)
}

fn health_reports(server: &Server) -> Vec<String> {
    let body = ureq::get(format!("{}/_emulator/health-reports", server.url()))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    serde_json::from_str(&body).unwrap()
}

fn ctx<'a>(h: &'a Host, cfg: &'a Value, net: &'a RecordingNet) -> SourceContext<'a> {
    SourceContext::new(h, cfg, Stage::Local)
        .with_cmdline("")
        .with_net(net)
}

#[test]
fn ovf_imds_and_report_ready() {
    common::capture();
    let server = start(Faults::default());
    let (_d, h) = root(Some(&ovf()));
    let cfg = json!({});
    let net = net();
    let c = ctx(&h, &cfg, &net);
    let mut s = ds(&server.url());
    assert!(s.ds_detect(&c));
    assert!(s.get_data(&c).unwrap());
    assert_eq!(net.events(), ["up Dhcp4 { iface: None }", "down eth0"]);
    assert_eq!(s.instance_id(), VM_UUID);
    assert_eq!(s.cloud_name(), "azure");
    assert_eq!(s.platform_type(), "azure");
    assert_eq!(s.subplatform(), "seed-dir (/var/lib/cloud/seed/azure)");
    assert_eq!(
        s.display(),
        "DataSourceAzure [seed=/var/lib/cloud/seed/azure]"
    );
    assert_eq!(s.region().as_deref(), Some("westeurope"));
    assert_eq!(s.availability_zone().as_deref(), Some("1"));
    // IMDS computerName wins over the OVF HostName.
    assert_eq!(s.local_hostname(&h).as_deref(), Some("vm-imds"));
    assert_eq!(
        s.userdata_raw().unwrap(),
        b"#cloud-config\nruncmd: [echo from-ovf]\n"
    );
    assert_eq!(
        s.public_ssh_keys(),
        ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0 imds@key"]
    );
    let cfgobj = s.config_obj();
    assert_eq!(
        cfgobj["system_info"]["default_user"],
        json!({"name": "imdsadmin"})
    );
    assert_eq!(cfgobj["ssh_pwauth"], json!(false));
    assert_eq!(s.metadata()["imds"]["compute"]["vmId"], VM_UUID);
    assert_eq!(s.metadata()["local-hostname"], "vm-imds");
    assert_eq!(
        s.network_config().unwrap(),
        json!({"version": 2, "ethernets": {
            "eth0": {"dhcp4": true, "dhcp4-overrides": {"route-metric": 100}, "dhcp6": false,
                     "addresses": ["10.0.0.5/24"],
                     "match": {"macaddress": "00:0d:3a:04:75:98", "driver": "hv_netvsc"}, "set-name": "eth0"},
            "eth1": {"dhcp4": true, "dhcp4-overrides": {"route-metric": 200, "use-dns": false},
                     "dhcp6": true, "dhcp6-overrides": {"route-metric": 200, "use-dns": false},
                     "match": {"macaddress": "00:0d:3a:04:75:99", "driver": "hv_netvsc"}, "set-name": "eth1"}
        }})
    );
    // Exactly one goal-state fetch and one Ready report, with its ids.
    assert!(s.reported_ready());
    assert_eq!(server.count("GET", "/machine/"), 1);
    assert_eq!(server.count("POST", "/machine"), 1);
    let reports = health_reports(&server);
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert!(r.contains("<State>Ready</State>"), "{r}");
    assert!(
        r.contains("<GoalStateIncarnation>1</GoalStateIncarnation>"),
        "{r}"
    );
    assert!(
        r.contains(&format!("<InstanceId>{VM_UUID}._azure-vm</InstanceId>")),
        "{r}"
    );
    assert!(
        r.contains("<ContainerId>b3a0d1b2-0000-4000-8000-00000000c0de</ContainerId>"),
        "{r}"
    );
    assert!(!r.contains("<Details>"), "{r}");
    // The extended API was asked for, once, with the Metadata header (the emulator
    // answers 400 without it).
    assert_eq!(server.count("GET", "/metadata/instance"), 1);
    assert!(common::warnings().is_empty(), "{:?}", common::warnings());
    // Restored from the cache, it still answers the same.
    let back = from_cache(&s.to_cache(), &SourceOptions::default()).unwrap();
    assert_eq!(back.instance_id(), VM_UUID);
    assert_eq!(back.network_config(), s.network_config());
    assert_eq!(back.userdata_raw(), s.userdata_raw());
    assert_eq!(back.subplatform(), s.subplatform());
    server.shutdown();
}

#[test]
fn imds_only_warns_and_uses_imds_user_data() {
    common::capture();
    let server = start(Faults::default());
    let (_d, h) = root(None);
    let cfg = json!({});
    let net = net();
    let c = ctx(&h, &cfg, &net);
    let mut s = ds(&server.url());
    assert!(s.get_data(&c).unwrap());
    assert_eq!(s.subplatform(), "imds (IMDS)");
    assert_eq!(
        s.userdata_raw().unwrap(),
        b"#cloud-config\nruncmd: [echo from-imds]\n"
    );
    assert_eq!(
        s.config_obj()["system_info"]["default_user"]["name"],
        "imdsadmin"
    );
    let ovf = String::from_utf8(s.provisioning_ovf().unwrap().to_vec()).unwrap();
    assert!(
        ovf.contains("<ns1:UserName>imdsadmin</ns1:UserName>"),
        "{ovf}"
    );
    assert_eq!(
        common::warnings(),
        ["Unable to find provisioning media, falling back to IMDS metadata. Be aware that IMDS metadata does not support admin passwords or custom-data (user-data only)."]
    );
    assert_eq!(health_reports(&server).len(), 1);
}

#[test]
fn old_imds_falls_back_to_2019_api() {
    common::capture();
    let seed = tempfile::tempdir().unwrap();
    let md = std::fs::read_to_string(fixture("azure-seed/meta-data")).unwrap();
    std::fs::write(
        seed.path().join("meta-data"),
        format!("{md}imds-api-versions: [2019-06-01]\n"),
    )
    .unwrap();
    let server = start_seed(seed.path(), Faults::default());
    let (_d, h) = root(Some(&ovf()));
    let cfg = json!({});
    let net = net();
    let mut s = ds(&server.url());
    assert!(s.get_data(&ctx(&h, &cfg, &net)).unwrap());
    assert_eq!(s.region().as_deref(), Some("westeurope"));
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths.iter().filter(|p| *p == "/metadata/instance").count(),
        2
    );
    assert!(
        common::warnings().contains(&"Falling back to IMDS api-version: 2019-06-01".to_string())
    );
}

#[test]
fn imds_5xx_is_retried() {
    let server = start(Faults {
        fail_first: 2,
        fail_status: 500,
        ..Faults::default()
    });
    let (_d, h) = root(Some(&ovf()));
    let cfg = json!({});
    let net = net();
    let mut s = ds(&server.url());
    assert!(s.get_data(&ctx(&h, &cfg, &net)).unwrap());
    assert_eq!(server.count("GET", "/metadata/instance"), 3);
    assert_eq!(s.region().as_deref(), Some("westeurope"));
}

/// A broken IMDS with the OVF present: IMDS is given up within its budget
/// and the failure is posted to the fabric, which (as upstream) counts as
/// the negotiation: no Ready report, no wireserver keys; the OVF still
/// provisions.
fn imds_broken_but_ovf(faults: Faults, expect_reason: &str) {
    common::capture();
    let server = start(faults);
    let (_d, h) = root(Some(&ovf()));
    let cfg = json!({});
    let net = net();
    let mut s = ds(&server.url());
    let t = Instant::now();
    assert!(s.get_data(&ctx(&h, &cfg, &net)).unwrap());
    // IMDS deadline 1.5 s + one 0.5 s attempt + wireserver round trips.
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(s.imds(), &json!({}));
    assert_eq!(s.region(), None);
    assert_eq!(s.local_hostname(&h).as_deref(), Some("vm-ovf"));
    assert!(s.public_ssh_keys().is_empty());
    assert!(!s.reported_ready());
    assert_eq!(
        s.config_obj()["system_info"]["default_user"]["name"],
        "ovfadmin"
    );
    assert_eq!(s.config_obj()["ssh_pwauth"], json!(false));
    let reports = health_reports(&server);
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(
        reports[0].contains("<State>NotReady</State>"),
        "{}",
        reports[0]
    );
    assert!(reports[0].contains(expect_reason), "{}", reports[0]);
    let w = common::warnings();
    assert!(
        w.iter()
            .any(|m| m.starts_with("Ignoring IMDS metadata due to:")),
        "{w:?}"
    );
    assert!(
        w.iter().any(
            |m| m.starts_with("Azure datasource failure occurred: result=error|reason=")
                && m.contains(expect_reason)
        ),
        "{w:?}"
    );
    server.shutdown();
}

#[test]
fn imds_not_found_until_deadline() {
    imds_broken_but_ovf(
        Faults {
            not_found: vec!["instance".into()],
            ..Faults::default()
        },
        "reason=http error 404 querying IMDS",
    );
}

#[test]
fn imds_slow_times_out() {
    imds_broken_but_ovf(
        Faults {
            hang: vec!["instance".into()],
            ..Faults::default()
        },
        "read timeout querying IMDS",
    );
}

#[test]
fn imds_truncated_body_is_retried_then_ignored() {
    imds_broken_but_ovf(
        Faults {
            truncate: vec!["instance".into()],
            ..Faults::default()
        },
        "querying IMDS",
    );
}

#[test]
fn everything_slow_is_bounded() {
    // A delay beyond the per-request timeout on every request: IMDS and
    // the wireserver both time out, all within the budgets.
    common::capture();
    let server = start(Faults {
        delay: Duration::from_millis(1200),
        ..Faults::default()
    });
    let (_d, h) = root(Some(&ovf()));
    let cfg = json!({});
    let net = net();
    let mut s = ds(&server.url());
    let t = Instant::now();
    assert!(s.get_data(&ctx(&h, &cfg, &net)).unwrap());
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    assert!(!s.reported_ready());
    assert!(common::warnings().iter().any(|m| m.starts_with(
        "Error communicating with Azure fabric; You may experience connectivity issues:"
    )));
}

#[test]
fn bad_ovf_reports_failure_and_is_not_found() {
    common::capture();
    let server = start(Faults::default());
    let (_d, h) = root(Some("<Environment>\n  <wa:Broken>"));
    let cfg = json!({});
    let net = net();
    let mut s = ds(&server.url());
    assert!(!s.get_data(&ctx(&h, &cfg, &net)).unwrap());
    let reports = health_reports(&server);
    assert_eq!(reports.len(), 1, "{reports:?}");
    let r = &reports[0];
    assert!(r.contains("<State>NotReady</State>"), "{r}");
    assert!(
        r.contains("<SubStatus>ProvisioningFailed</SubStatus>"),
        "{r}"
    );
    assert!(
        r.contains("<Description>result=error|reason=error parsing ovf-env.xml: unbound prefix: line 2, column 2|agent=Cloud-Init/"),
        "{r}"
    );
    assert!(
        r.contains("|documentation_url=https://aka.ms/linuxprovisioningerror</Description>"),
        "{r}"
    );
    // The failure was reported over a fresh lease, torn down afterwards.
    assert_eq!(net.events(), ["up Dhcp4 { iface: None }", "down eth0"]);
    assert_eq!(server.count("GET", "/metadata/instance"), 0);
}

#[test]
fn no_ovf_and_no_imds_is_not_found() {
    common::capture();
    let server = start(Faults {
        not_found: vec!["instance".into()],
        ..Faults::default()
    });
    let (_d, h) = root(None);
    let cfg = json!({});
    let net = net();
    let mut s = ds(&server.url());
    let t = Instant::now();
    assert!(!s.get_data(&ctx(&h, &cfg, &net)).unwrap());
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let reports = health_reports(&server);
    // IMDS failure first, then "No OVF or IMDS available" (an unhandled exception upstream).
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(
        reports[1].contains("reason=unhandled exception|agent="),
        "{}",
        reports[1]
    );
    assert!(
        reports[1].contains("No OVF or IMDS available"),
        "{}",
        reports[1]
    );
}

#[test]
fn dhcp_failure_still_provisions_from_ovf() {
    common::capture();
    let server = start(Faults::default());
    let (_d, h) = root(Some(&ovf()));
    let cfg = json!({});
    let net = RecordingNet::failing();
    let mut s = ds(&server.url());
    let t = Instant::now();
    assert!(s.get_data(&ctx(&h, &cfg, &net)).unwrap());
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert!(!s.reported_ready());
    assert_eq!(server.requests().len(), 0);
    assert_eq!(s.local_hostname(&h).as_deref(), Some("vm-ovf"));
    assert!(net.events().len() >= 2, "{:?}", net.events());
    assert!(common::warnings().contains(&"Failed to obtain DHCP lease (iface=None)".to_string()));
}

#[test]
fn detection_and_instance_id_checks() {
    let (_d, h) = root(None);
    let cfg = json!({});
    let net = net();
    let c = ctx(&h, &cfg, &net);
    let s = ds("http://127.0.0.1:9");
    assert!(s.ds_detect(&c));
    common::write(&h, "/sys/class/dmi/id/chassis_asset_tag", "other\n");
    assert!(!s.ds_detect(&c));
    common::write(&h, "/var/lib/cloud/seed/azure/ovf-env.xml", &ovf());
    assert!(s.ds_detect(&c));

    // check_instance_id: case-insensitive against the DMI UUID.
    let cached = json!({"format": 1, "class": "DataSourceAzure", "stage": "local",
        "metadata": {"instance-id": VM_UUID}, "userdata_raw": null, "cfg": {}, "seed": "IMDS"});
    let back = from_cache(&cached, &SourceOptions::default()).unwrap();
    assert!(back.check_instance_id(&c));
    common::write(
        &h,
        "/sys/class/dmi/id/product_uuid",
        "11111111-2222-3333-4444-555555555555\n",
    );
    assert!(!back.check_instance_id(&c));
}

#[test]
fn previous_byte_swapped_instance_id_is_kept() {
    let server = start(Faults::default());
    let (_d, h) = root(Some(&ovf()));
    // A gen1 VM (no EFI) whose previous boot stored the swapped UUID.
    std::fs::remove_dir_all(h.path("/sys/firmware/efi")).unwrap();
    common::write(
        &h,
        "/var/lib/cloud/data/instance-id",
        "3d2c1b0a-5f4e-6b4a-8c7d-9e0f1a2b3c4d\n",
    );
    let cfg = json!({});
    let net = net();
    let mut s = ds(&server.url());
    assert!(s.get_data(&ctx(&h, &cfg, &net)).unwrap());
    assert_eq!(s.instance_id(), "3d2c1b0a-5f4e-6b4a-8c7d-9e0f1a2b3c4d");
    // Another previous id: the system UUID wins.
    common::write(&h, "/var/lib/cloud/data/instance-id", "something-else\n");
    let mut s = ds(&server.url());
    assert!(s.get_data(&ctx(&h, &cfg, &net)).unwrap());
    assert_eq!(s.instance_id(), VM_UUID);
}

#[test]
fn network_config_can_be_disabled_and_secondary_ips_skipped() {
    let server = start(Faults::default());
    let (_d, h) = root(Some(&ovf()));
    let cfg = json!({"datasource": {"Azure": {"apply_network_config_for_secondary_ips": false}}});
    let net = net();
    let mut s = ds(&server.url());
    assert!(s.get_data(&ctx(&h, &cfg, &net)).unwrap());
    let nc = s.network_config().unwrap();
    assert_eq!(nc["ethernets"]["eth0"].get("addresses"), None);
    let cfg = json!({"datasource": {"Azure": {"apply_network_config": false}}});
    let mut s = ds(&server.url());
    assert!(s.get_data(&ctx(&h, &cfg, &net)).unwrap());
    // The fallback: the first NIC, DHCP, matched by MAC and driver.
    let nc = s.network_config().unwrap();
    assert_eq!(nc["ethernets"]["eth0"]["match"]["driver"], "hv_netvsc");
    assert_eq!(nc["ethernets"].as_object().unwrap().len(), 1);
}

#[test]
fn no_ephemeral_network_at_all_does_not_retry() {
    common::capture();
    let server = start(Faults::default());
    let (_d, h) = root(Some(&ovf()));
    let cfg = json!({});
    // A context without `with_net`: nothing can bring a network up.
    let c = SourceContext::new(&h, &cfg, Stage::Local).with_cmdline("");
    let (i, w, _) = policies();
    let mut s = Azure::new(Stage::Local, SourceOptions::default())
        .with_imds_url(server.url())
        .with_wireserver_url(server.url())
        .with_policies(i, w, DhcpPolicy::default());
    let t = Instant::now();
    assert!(s.get_data(&c).unwrap());
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(s.local_hostname(&h).as_deref(), Some("vm-ovf"));
    assert_eq!(server.requests().len(), 0);
    assert!(common::warnings().contains(&"dhclient executable not found".to_string()));
}
