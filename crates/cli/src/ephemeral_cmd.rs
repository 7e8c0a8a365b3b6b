//! `cloud-init devel ephemeral-net` (ours): the local stage's temporary
//! networking on its own, to check an image's DHCP client and NIC choice
//! without booting it, and to test it inside a network namespace.

use crate::args::EphemeralNetArgs;
use ci_host::Host;
use ci_sources::ephemeral::{EphemeralKind, EphemeralNet, SystemNet};
use serde_json::{json, Value};

pub fn ephemeral_net(host: &Host, a: &EphemeralNetArgs) -> i32 {
    if host.is_sandbox() {
        eprintln!(
            "Error: devel ephemeral-net changes this machine's network; it does not take --root"
        );
        return 2;
    }
    let iface = a.iface.clone();
    let kind = match a.kind.as_str() {
        "link-local4" => EphemeralKind::LinkLocal4 { iface },
        "link-local6" => EphemeralKind::LinkLocal6 { iface },
        _ => EphemeralKind::Dhcp4 { iface },
    };
    let cfg = json!({"network": {"dhcp_client_priority": a.dhcp_client}});
    // Not /run/cloud-init: this is no boot, and may run inside a test.
    let tmp = std::env::temp_dir().join(format!("cloud-init-rs-ephemeral-{}", std::process::id()));
    let net = SystemNet::new(host, &cfg).with_tmp_dir(&tmp);
    let lease = match net.bring_up(&kind) {
        Ok(l) => l,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            eprintln!("Error: {e}");
            return 1;
        }
    };
    let info = lease.info();
    let options: serde_json::Map<String, Value> = info
        .options
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let shown = json!({
        "interface": info.iface,
        "address": info.address,
        "routers": info.routers,
        "dhcp_server": info.dhcp_server,
        "options": options,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&shown).unwrap_or_default()
    );
    let code = match a.command.split_first() {
        None => 0,
        Some((prog, args)) => match std::process::Command::new(prog).args(args).status() {
            Ok(st) => st.code().unwrap_or(1),
            Err(e) => {
                eprintln!("Error: cannot run {prog}: {e}");
                127
            }
        },
    };
    // Tear down before exiting, whatever the command did.
    drop(lease);
    let _ = std::fs::remove_dir_all(&tmp);
    code
}
