//! OpenStack's two ways in: the config drive (a `config-2` filesystem or a
//! seeded copy) and the metadata service (DMI product names and chassis
//! asset tags of OpenStack clouds). A config drive wins: OpenStack is not
//! found when one is there. IBM Cloud also uses `config-2` drives.

use super::{Found, Probe};
use crate::shellish::glob_match;
use std::time::SystemTime;

const NOVA: &str = "OpenStack Nova";
const COMPUTE: &str = "OpenStack Compute";
const CONFIG_DRIVE_SEED: &str = "/var/lib/cloud/seed/config_drive";

pub(super) fn config_drive(p: &mut Probe) -> Found {
    // Version 1 drives (vfat, no label) are not looked for upstream either.
    configdrive_v2(p)
}

pub(super) fn openstack(p: &mut Probe) -> Found {
    if configdrive_v2(p) == Found::Yes {
        return Found::No;
    }
    if p.product_name_matches(NOVA)
        || p.product_name_matches(COMPUTE)
        || p.facts.pid_1_product_name == NOVA
    {
        return Found::Yes;
    }
    const TAGS: &[&str] = &[
        "OpenTelekomCloud",
        "SAP CCloud VM",
        "HUAWEICLOUD",
        "Samsung Cloud Platform",
        NOVA,
        COMPUTE,
    ];
    if TAGS.iter().any(|t| p.chassis_asset_tag_matches(t)) {
        return Found::Yes;
    }
    // Outside x86 the platform is not identified by DMI (LP: #1715241).
    if glob_match("i?86", &p.facts.uname_machine) || p.facts.uname_machine == "x86_64" {
        Found::No
    } else {
        Found::Maybe
    }
}

pub(super) fn ibm_cloud(p: &mut Probe) -> Found {
    if ibm_provisioning(p) {
        p.log
            .debug(1, "cloud-init disabled during provisioning on IBMCloud");
        return Found::No;
    }
    if is_ibm_cloud(p) {
        Found::Yes
    } else {
        Found::No
    }
}

/// Upstream `check_configdrive_v2`.
fn configdrive_v2(p: &mut Probe) -> Found {
    for dir in ["/config-drive", CONFIG_DRIVE_SEED] {
        if dated_meta_data(p, dir) {
            return Found::Yes;
        }
    }
    // SoftLayer seeds only `latest`.
    if p.host.exists(format!(
        "{CONFIG_DRIVE_SEED}/openstack/latest/meta_data.json"
    )) {
        p.log
            .debug(1, "config drive seeded directory had only 'latest'");
        return Found::Yes;
    }
    let ibm_enabled = p.dslist.iter().any(|d| d == "IBMCloud");
    p.log
        .debug(1, format!("is_ds_enabled(IBMCloud) = {ibm_enabled}."));
    if ibm_enabled && is_ibm_cloud(p) {
        return Found::No;
    }
    if p.has_label(&["CONFIG-2", "config-2"]) {
        Found::Yes
    } else {
        Found::No
    }
}

/// `DIR/openstack/2???-??-??/meta_data.json`: as the shell expands the
/// glob, only its first match (in byte order) is tested to be a file.
fn dated_meta_data(p: &Probe, dir: &str) -> bool {
    let base = format!("{dir}/openstack");
    let first = p.host.list_dir(&base).into_iter().find(|n| {
        glob_match("2???-??-??", n) && p.host.lexists(format!("{base}/{n}/meta_data.json"))
    });
    first.is_some_and(|n| p.is_file(&format!("{base}/{n}/meta_data.json")))
}

/// Upstream `is_ibm_cloud`, computed once per run.
fn is_ibm_cloud(p: &mut Probe) -> bool {
    if let Some(v) = p.ibm_cloud {
        return v;
    }
    let v = p.facts.virt == "xen"
        && (ibm_provisioning(p)
            || p.has_label(&["METADATA", "metadata"])
            || (p.facts.fs.has_uuid("9796-932E") && p.has_label(&["CONFIG-2", "config-2"])));
    p.ibm_cloud = Some(v);
    v
}

/// IBM's provisioning image runs with a provisioning config in /root; a
/// `swinstall.log` older than this boot means that was a previous boot.
fn ibm_provisioning(p: &mut Probe) -> bool {
    let pcfg = "/root/provisioningConfiguration.cfg";
    let logf = "/root/swinstall.log";
    let (spcfg, slogf) = (p.shown(pcfg), p.shown(logf));
    let mut is_prov = false;
    let mut msg = format!("config '{spcfg}' did not exist.");
    if p.is_file(pcfg) {
        msg = format!("config '{spcfg}' exists.");
        is_prov = true;
        if p.is_file(logf) {
            if newer(p, logf, "/proc/1/environ") {
                msg.push_str(&format!(" log '{slogf}' from current boot."));
            } else {
                is_prov = false;
                msg.push_str(&format!(" log '{slogf}' from previous boot."));
            }
        } else {
            msg.push_str(&format!(" log '{slogf}' did not exist."));
        }
    }
    p.log.debug(2, format!("ibm_provisioning={is_prov}: {msg}"));
    is_prov
}

/// `[ A -nt B ]` as dash evaluates it: both exist and A is newer.
fn newer(p: &Probe, a: &str, b: &str) -> bool {
    let mtime = |path: &str| -> Option<SystemTime> {
        std::fs::metadata(p.host.resolve(path))
            .and_then(|m| m.modified())
            .ok()
    };
    matches!((mtime(a), mtime(b)), (Some(x), Some(y)) if x > y)
}

#[cfg(test)]
mod tests {
    use super::super::tests::with_probe;
    use super::*;
    use crate::facts::Facts;

    #[test]
    fn openstack_is_maybe_off_x86() {
        let f = Facts {
            uname_machine: "aarch64".into(),
            ..Facts::default()
        };
        with_probe(f, |p| assert_eq!(openstack(p), Found::Maybe));
        let f = Facts {
            uname_machine: "i686".into(),
            ..Facts::default()
        };
        with_probe(f, |p| assert_eq!(openstack(p), Found::No));
    }

    #[test]
    fn pid1_product_name_counts_in_containers() {
        let f = Facts {
            uname_machine: "x86_64".into(),
            virt: "lxc".into(),
            pid_1_product_name: NOVA.into(),
            ..Facts::default()
        };
        with_probe(f, |p| assert_eq!(openstack(p), Found::Yes));
    }
}
