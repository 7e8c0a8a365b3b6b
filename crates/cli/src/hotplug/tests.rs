use super::*;
use ci_host::RecordingRunner;
use std::sync::Arc;

fn host() -> (tempfile::TempDir, Host, Arc<RecordingRunner>) {
    let d = tempfile::tempdir().unwrap();
    let rec = Arc::new(RecordingRunner::new());
    let host = Host::with_runner(d.path(), rec.clone());
    (d, host, rec)
}

const MAC: &str = "52:54:00:aa:bb:cc";

fn v1_with(mac: &str) -> Value {
    json!({"version": 1, "config": [
        {"type": "physical", "name": "eth0", "mac_address": "52:54:00:00:00:01",
         "subnets": [{"type": "dhcp"}]},
        {"type": "physical", "name": "eth1", "mac_address": mac,
         "subnets": [{"type": "dhcp"}]},
    ]})
}

#[test]
fn the_device_is_named_by_its_sysfs_path_and_mac() {
    let (_d, host, _) = host();
    host.write_atomic(
        "/sys/class/net/eth1/address",
        format!("{MAC}\n").as_bytes(),
        &WriteOpts::mode(0o644),
    )
    .unwrap();
    let ev = NetEvent::new(&host, "/devices/pci0000:00/0000:00:05.0/net/eth1", "add");
    assert_eq!(ev.name, "eth1");
    assert_eq!(ev.id(), MAC);
    // Unreadable address: upstream's read_sys_net_safe gives False.
    let ev = NetEvent::new(&host, "/devices/virtual/net/veth9", "add");
    assert_eq!(ev.name, "veth9");
    assert_eq!(ev.id(), "False");
}

#[test]
fn detection_compares_presence_with_the_action() {
    let (_d, host, _) = host();
    host.write_atomic(
        "/sys/class/net/eth1/address",
        MAC.as_bytes(),
        &WriteOpts::mode(0o644),
    )
    .unwrap();
    let with = v1_with(MAC);
    let without = v1_with("52:54:00:99:99:99");
    let add = NetEvent::new(&host, "/x/net/eth1", "add");
    assert!(add.detect(Some(&with)).is_ok());
    assert_eq!(
        add.detect(Some(&without)).unwrap_err(),
        format!("Failed to detect {MAC} in updated metadata")
    );
    assert!(add.detect(None).is_err());
    let remove = NetEvent::new(&host, "/x/net/eth1", "remove");
    assert!(remove.detect(Some(&without)).is_ok());
    assert!(remove.detect(Some(&with)).is_err());
}

#[test]
fn the_device_alone_is_brought_up_or_down() {
    let (_d, host, rec) = host();
    let add = NetEvent::new(&host, "/x/net/eth1", "add");
    add.activate(ci_net::activate::Activator::IfUpDown).unwrap();
    let remove = NetEvent::new(&host, "/x/net/eth1", "remove");
    remove
        .activate(ci_net::activate::Activator::Networkd)
        .unwrap();
    assert_eq!(rec.lines(), ["ifup eth1", "ip link set dev eth1 down"]);
    rec.answer("ifup", 1, b"");
    assert_eq!(
        add.activate(ci_net::activate::Activator::IfUpDown)
            .unwrap_err(),
        "Failed to bring up device: /x/net/eth1"
    );
}

#[test]
fn enabled_file_reading_as_upstream() {
    let (_d, host, _) = host();
    let f = std::path::Path::new("/var/lib/cloud/hotplug.enabled");
    assert_eq!(read_enabled_file(&host, f), json!({"scopes": []}));
    host.write_atomic(f, b"{\"other\": 1}", &WriteOpts::mode(0o640))
        .unwrap();
    assert_eq!(
        read_enabled_file(&host, f),
        json!({"other": 1, "scopes": []})
    );
    host.write_atomic(f, b"not json", &WriteOpts::mode(0o640))
        .unwrap();
    assert_eq!(read_enabled_file(&host, f), json!({"scopes": []}));
}

#[test]
fn every_attempt_fails_then_the_last_error_is_returned() {
    let (_d, host, rec) = host();
    let cfg = json!({});
    let ctx = SourceContext::new(&host, &cfg, DsStage::Network);
    let mut ds: Box<dyn Datasource> = Box::new(ci_sources::NoneSource::new(DsStage::Network));
    let ev = NetEvent::new(&host, "/x/net/eth1", "add");
    let paths = Paths::default().with_instance("iid-none");
    let waits = Waits::none();
    assert_eq!(waits.attempts.len(), 5);
    let e = try_hotplug(&ev, &ctx, &mut ds, &cfg, &paths, &waits.attempts).unwrap_err();
    // The None source has no network config: the device is never found,
    // nothing is rendered or brought up, the cache is not written.
    assert_eq!(e, "Failed to detect False in updated metadata");
    assert!(rec.lines().is_empty());
    assert!(!host.exists("/var/lib/cloud/instances/iid-none/obj.json"));
}
