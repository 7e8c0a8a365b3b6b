//! Clouds recognised from one or two facts: DMI strings, filesystem labels,
//! seed directories, marker files, kernel command line words.

use super::{Found, Probe};
use crate::shellish::{glob_match, shell_read};
use std::os::unix::fs::FileTypeExt;

fn found(yes: bool) -> Found {
    if yes {
        Found::Yes
    } else {
        Found::No
    }
}

pub(super) fn none(_: &mut Probe) -> Found {
    Found::No
}

pub(super) fn cloud_stack(p: &mut Probe) -> Found {
    found(p.product_name_matches("CloudStack*"))
}

pub(super) fn cloud_cix(p: &mut Probe) -> Found {
    found(p.product_name_matches("CloudCIX"))
}

pub(super) fn exoscale(p: &mut Probe) -> Found {
    found(p.product_name_matches("Exoscale*"))
}

pub(super) fn cloud_sigma(p: &mut Probe) -> Found {
    found(p.product_name_matches("CloudSigma"))
}

pub(super) fn akamai(p: &mut Probe) -> Found {
    found(p.sys_vendor_is("Linode") || p.sys_vendor_is("Akamai"))
}

pub(super) fn digital_ocean(p: &mut Probe) -> Found {
    found(p.sys_vendor_is("DigitalOcean"))
}

pub(super) fn up_cloud(p: &mut Probe) -> Found {
    found(p.sys_vendor_is("UpCloud"))
}

pub(super) fn hetzner(p: &mut Probe) -> Found {
    found(p.sys_vendor_is("Hetzner"))
}

pub(super) fn nwcs(p: &mut Probe) -> Found {
    found(p.sys_vendor_is("NWCS"))
}

pub(super) fn oracle(p: &mut Probe) -> Found {
    found(p.chassis_asset_tag_matches("OracleCloud.com"))
}

pub(super) fn gce(p: &mut Probe) -> Found {
    // The product name is not always set (LP: #1674861); the serial is.
    found(
        p.product_name_matches("Google Compute Engine")
            || p.product_serial_matches("GoogleCloud-*"),
    )
}

pub(super) fn ali_yun(p: &mut Probe) -> Found {
    found(
        p.seed_dir("AliYun", &["meta-data", "user-data"])
            || p.product_name_matches("Alibaba Cloud ECS"),
    )
}

pub(super) fn open_nebula(p: &mut Probe) -> Found {
    found(p.seed_dir("opennebula", &["meta-data"]) || p.has_label(&["CONTEXT", "CDROM"]))
}

pub(super) fn rbx_cloud(p: &mut Probe) -> Found {
    found(p.has_label(&["CLOUDMD", "cloudmd"]))
}

pub(super) fn bigstep(p: &mut Probe) -> Found {
    found(p.is_file("/var/lib/cloud/data/seed/bigstep/url"))
}

/// Upstream compares the vendor without the container guard here.
pub(super) fn scaleway(p: &mut Probe) -> Found {
    found(
        p.facts.dmi_sys_vendor == "Scaleway"
            || p.cmdline_has_word("scaleway")
            || p.is_file("/var/run/scaleway"),
    )
}

pub(super) fn vultr(p: &mut Probe) -> Found {
    found(p.sys_vendor_is("Vultr") || p.cmdline_has_word("vultr") || p.is_file("/etc/vultr"))
}

pub(super) fn smart_os(p: &mut Probe) -> Found {
    // Joyent's container platform reports this kernel version; the socket
    // guards against containers nested inside one.
    found(
        p.product_name_matches("SmartDC*")
            || (p.facts.uname_kernel_version == "BrandZ virtual linux"
                && p.host.exists("/native/.zonecontrol/metadata.sock")),
    )
}

pub(super) fn maas(p: &mut Probe) -> Found {
    if p.container() {
        return Found::No;
    }
    // The ephemeral boot environment: an iSCSI root and a config URL.
    let cmdline = &p.facts.kernel_cmdline;
    if glob_match("*cloud-config-url=*iqn.2004-05.com.ubuntu:maas*", cmdline)
        || glob_match("*iqn.2004-05.com.ubuntu:maas*cloud-config-url=*", cmdline)
    {
        return Found::Yes;
    }
    found(p.config("MAAS").is_some())
}

/// On LXD VMs the agent's socket comes later than the generator; the board
/// name is there from the start.
pub(super) fn lxd(p: &mut Probe) -> Found {
    let sock = std::fs::metadata(p.host.resolve("/dev/lxd/sock"));
    if sock.is_ok_and(|m| m.file_type().is_socket()) {
        return Found::Yes;
    }
    found(matches!(p.facts.virt.as_str(), "kvm" | "qemu") && p.facts.dmi_board_name == "LXD")
}

pub(super) fn nocloud(p: &mut Probe) -> Found {
    if format!(" {} ", p.facts.dmi_product_serial).contains(" ds=nocloud") {
        return Found::Yes;
    }
    let seed = ["meta-data", "user-data"];
    for d in ["nocloud", "nocloud-net"] {
        if p.seed_dir(d, &seed) || p.writable_seed_dir(d, &seed) {
            return Found::Yes;
        }
    }
    if p.has_label(&["cidata", "CIDATA"]) {
        return Found::Yes;
    }
    if p.config("NoCloud").is_some()
        && ((p.config("user-data").is_some() && p.config("meta-data").is_some())
            || p.config("seedfrom").is_some())
    {
        return Found::Yes;
    }
    Found::No
}

/// Upstream quotes its case patterns here, so the cloud type must equal
/// the bracketed pattern text itself; real RHEV/vSphere names never match.
/// Kept as upstream behaves (AltCloud is never found in practice).
pub(super) fn alt_cloud(p: &mut Probe) -> Found {
    const RHEV: &str = "[Rr][Hh][Ee][Vv]";
    const VSPHERE: &str = "[Vv][Ss][Pp][Hh][Ee][Rr][Ee]";
    let info = "/etc/sysconfig/cloud-info";
    let ctype = if p.is_file(info) {
        p.host
            .read(info)
            .map(|b| shell_read(&String::from_utf8_lossy(&b)).0)
            .unwrap_or_default()
    } else {
        p.facts.dmi_product_name.clone()
    };
    let present = match ctype.as_str() {
        RHEV => probe_floppy(p),
        VSPHERE => is_block(p, "/dev/disk/by-label/CDROM"),
        _ => false,
    };
    if present {
        Found::Maybe
    } else {
        Found::No
    }
}

fn is_block(p: &Probe, path: &str) -> bool {
    std::fs::metadata(p.host.resolve(path)).is_ok_and(|m| m.file_type().is_block_device())
}

fn probe_floppy(p: &mut Probe) -> bool {
    const FLOPPY: &str = "/dev/floppy";
    if !is_block(p, FLOPPY) {
        return false;
    }
    if !matches!(p.run(&["modprobe", "-b", "floppy"]), Some((0, _, _))) {
        return false;
    }
    let exists = format!("--exit-if-exists={FLOPPY}");
    if let Some((st, _, _)) = p.run(&["udevadm", "settle", &exists]) {
        if st != 0 {
            return false;
        }
    }
    is_block(p, FLOPPY)
}

#[cfg(test)]
mod tests {
    use super::super::tests::with_probe;
    use super::*;
    use crate::facts::Facts;

    #[test]
    fn scaleway_ignores_the_container_guard() {
        let f = Facts {
            dmi_sys_vendor: "Scaleway".into(),
            virt: "lxc".into(),
            ..Facts::default()
        };
        with_probe(f, |p| assert_eq!(scaleway(p), Found::Yes));
    }

    #[test]
    fn vultr_and_scaleway_cmdline_words() {
        let f = Facts {
            kernel_cmdline: "ro vultr quiet".into(),
            ..Facts::default()
        };
        with_probe(f, |p| {
            assert_eq!(vultr(p), Found::Yes);
            assert_eq!(scaleway(p), Found::No);
        });
        let f = Facts {
            kernel_cmdline: "ro vultr=1".into(),
            ..Facts::default()
        };
        with_probe(f, |p| assert_eq!(vultr(p), Found::No));
    }

    #[test]
    fn maas_ephemeral_cmdline() {
        let f = Facts {
            kernel_cmdline:
                "iscsi_target_name=iqn.2004-05.com.ubuntu:maas:x cloud-config-url=http://m/".into(),
            ..Facts::default()
        };
        with_probe(f, |p| assert_eq!(maas(p), Found::Yes));
    }

    #[test]
    fn alt_cloud_needs_the_literal_pattern_text() {
        let f = Facts {
            dmi_product_name: "RHEV".into(),
            ..Facts::default()
        };
        with_probe(f, |p| assert_eq!(alt_cloud(p), Found::No));
    }
}
