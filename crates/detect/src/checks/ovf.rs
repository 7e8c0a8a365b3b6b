//! VMware-style platforms: OVF environments (seed dir, VMware guestinfo,
//! a small OVF CD-ROM), the VMware guestinfo datasource, and Azure (whose
//! provisioning ISO also carries an OVF environment).

use super::{alnum_lines, Found, Probe};
use crate::facts::UNAVAILABLE;
use crate::shellish::{glob_match, shell_read};
use std::io::Read;

const AZURE_CHASSIS: &str = "7783-7084-3265-9085-8269-3286-77";
const OVF_ENV_ID: &str = "http://schemas.dmtf.org/ovf/environment/1";

pub(super) fn azure(p: &mut Probe) -> Found {
    if p.chassis_asset_tag_matches(AZURE_CHASSIS) || p.seed_dir("azure", &["ovf-env.xml"]) {
        Found::Yes
    } else {
        Found::No
    }
}

pub(super) fn ovf(p: &mut Probe) -> Found {
    if p.seed_dir("ovf", &["ovf-env.xml"]) {
        return Found::Yes;
    }
    if p.facts.virt == "none" || p.chassis_asset_tag_matches(AZURE_CHASSIS) {
        return Found::No;
    }
    if guestinfo_transport(p) || has_ovf_cdrom(p) {
        Found::Yes
    } else {
        Found::No
    }
}

/// Data in the guestinfo table (or in the environment, for containers), or
/// guest customization turned on with the tools plugin installed.
pub(super) fn vmware(p: &mut Probe) -> Found {
    let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    let e = p.env;
    if set(&e.vmx_guestinfo)
        && (set(&e.vmx_guestinfo_metadata)
            || set(&e.vmx_guestinfo_userdata)
            || set(&e.vmx_guestinfo_vendordata))
    {
        return Found::Yes;
    }
    if p.facts.virt != "vmware" {
        return Found::No;
    }
    for key in ["metadata", "userdata", "vendordata"] {
        let (present, value) = guestinfo(p, key, false);
        if !present {
            // Neither tool is installed: nothing more to ask.
            return Found::No;
        }
        if value.is_some() {
            return Found::Yes;
        }
    }
    if guest_customization(p) {
        Found::Yes
    } else {
        Found::No
    }
}

/// `vmware-rpctool "info-get guestinfo.KEY"`, else the same through
/// `vmtoolsd --cmd`, keeping lines with a letter or digit. Returns whether
/// either tool could be run, and the value. `with_err` merges stderr (and
/// the shell's "not found" for a missing tool) into the value, as
/// upstream's `2>&1` variant does.
fn guestinfo(p: &Probe, key: &str, with_err: bool) -> (bool, Option<String>) {
    let query = format!("info-get guestinfo.{key}");
    let mut present = false;
    let attempts: [&[&str]; 2] = [&["vmware-rpctool", &query], &["vmtoolsd", "--cmd", &query]];
    for argv in attempts {
        let text = match p.run(argv) {
            Some((_, mut out, err)) => {
                present = true;
                if with_err {
                    out.push_str(&err);
                }
                out
            }
            None if with_err => format!("{}: not found", argv.first().unwrap_or(&"")),
            None => String::new(),
        };
        if let Some(v) = alnum_lines(&text) {
            return (present, Some(v));
        }
    }
    (present, None)
}

/// Upstream `ovf_vmware_transport_guestinfo`.
fn guestinfo_transport(p: &mut Probe) -> bool {
    if p.facts.virt != "vmware" {
        return false;
    }
    let (present, out) = guestinfo(p, "ovfEnv", true);
    if !present {
        return false;
    }
    let Some(out) = out else {
        p.log.debug(1, "Running on vmware but query returned 1: ");
        return false;
    };
    if !(out.starts_with("<?xml") || out.starts_with("<?XML")) {
        p.log
            .debug(1, format!("guestinfo.ovfEnv had non-xml content: {out}"));
        return false;
    }
    p.log.debug(1, "Found guestinfo transport.");
    true
}

/// Upstream `vmware_guest_customization`: the deployPkg plugin of
/// open-vm-tools (or vmware-tools) and `disable_vmware_customization`
/// set to false.
fn guest_customization(p: &mut Probe) -> bool {
    if p.facts.virt != "vmware" {
        return false;
    }
    let plugin = "plugins/vmsvc/libdeployPkgPlugin.so";
    let has_plugin = ["vmware-tools", "open-vm-tools"].iter().any(|pkg| {
        [
            "/usr/lib",
            "/usr/lib64",
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/usr/lib/i386-linux-gnu",
        ]
        .iter()
        .any(|pre| p.is_file(&format!("{pre}/{pkg}/{plugin}")))
    });
    if !has_plugin {
        return false;
    }
    let key = "disable_vmware_customization";
    let Some(hit) = p.config(key) else {
        return false;
    };
    // `get_value`: what follows the last colon, trimmed.
    let value = crate::shellish::trim(hit.value.rsplit(':').next().unwrap_or("")).to_string();
    if value.is_empty() {
        p.log
            .debug(1, format!("key {key} didn't have a valid value"));
        return false;
    }
    let shown = p.shown(&hit.file);
    p.log.debug(2, format!("{shown} set {key} to {value}"));
    matches!(value.as_str(), "0" | "false" | "False")
}

/// Upstream `has_ovf_cdrom`: an iso9660 device that looks like an OVF
/// transport CD.
fn has_ovf_cdrom(p: &mut Probe) -> bool {
    let devs = p.facts.fs.iso9660_devs.clone();
    if devs.starts_with(&format!("{UNAVAILABLE}:")) || devs.is_empty() {
        return false;
    }
    let mut toks: Vec<&str> = devs.split(',').collect();
    // The shell's field splitting drops one trailing empty field.
    if toks.last() == Some(&"") {
        toks.pop();
    }
    toks.into_iter().any(|tok| {
        let dev = tok.split('=').next().unwrap_or(tok);
        let label = tok.split_once('=').map_or(tok, |(_, l)| l);
        is_cdrom_ovf(p, dev, label)
    })
}

fn is_cdrom_ovf(p: &mut Probe, dev: &str, label: &str) -> bool {
    if !(glob_match("/dev/sr[0-9]", dev) || glob_match("/dev/hd[a-z]", dev)) {
        p.log.debug(1, format!("skipping iso dev {dev}"));
        return false;
    }
    p.log.debug(1, format!("got label={label}"));
    if matches!(
        label,
        "OVF-TRANSPORT" | "ovf-transport" | "OVFENV" | "ovfenv" | "OVF ENV" | "ovf env"
    ) {
        return true;
    }
    if matches!(label, "config-2" | "CONFIG-2" | "cidata" | "CIDATA")
        || label.starts_with("rd_rdfe_stable")
    {
        return false;
    }
    let name = dev.rsplit('/').next().unwrap_or(dev);
    let sfile = format!("/sys/class/block/{name}/size");
    if !p.is_file(&sfile) {
        return false;
    }
    let (size, ok) = match p.host.read(&sfile) {
        Ok(b) => shell_read(&String::from_utf8_lossy(&b)),
        Err(_) => (String::new(), false),
    };
    if !ok {
        let shown = p.shown(&sfile);
        p.log.warn(format!("failed reading from {shown}"));
        return false;
    }
    // 512-byte sectors; an OVF transport CD is small.
    let mb = size.parse::<i64>().unwrap_or(0) / 2048;
    if mb >= 10 {
        p.log.debug(
            2,
            format!("{dev}: size {mb}MB is considered too large for OVF"),
        );
        return false;
    }
    device_mentions_ovf_env(p, dev)
}

/// `grep -q -i` for the OVF environment namespace in the device (at most
/// 10 MB, as checked above); `.` in the pattern matches any byte but a
/// newline, as in the regular expression.
fn device_mentions_ovf_env(p: &Probe, dev: &str) -> bool {
    let mut data = Vec::new();
    let read = std::fs::File::open(p.host.resolve(dev))
        .and_then(|f| f.take(10 * 1024 * 1024).read_to_end(&mut data));
    if read.is_err() {
        return false;
    }
    let pat = OVF_ENV_ID.as_bytes();
    data.windows(pat.len()).any(|w| {
        w.iter().zip(pat).all(|(c, q)| {
            if *q == b'.' {
                *c != b'\n'
            } else {
                c.eq_ignore_ascii_case(q)
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::with_probe;
    use super::*;
    use crate::facts::Facts;
    use crate::Env;

    #[test]
    fn vmware_env_transport_needs_data() {
        let f = Facts::default();
        let d = tempfile::tempdir().unwrap();
        let h = ci_host::Host::new(d.path());
        let mut env = Env {
            vmx_guestinfo: Some("1".into()),
            ..Env::default()
        };
        let (files, list) = (Vec::new(), Vec::new());
        let mut log = crate::log::DiLog::new(1);
        let mut p = Probe::new(&h, &env, &f, &files, &list, &mut log);
        assert_eq!(vmware(&mut p), Found::No);
        env.vmx_guestinfo_userdata = Some("I2Nsb3VkLWNvbmZpZw==".into());
        let mut p = Probe::new(&h, &env, &f, &files, &list, &mut log);
        assert_eq!(vmware(&mut p), Found::Yes);
    }

    #[test]
    fn ovf_skips_bare_metal_and_azure() {
        let f = Facts {
            virt: "none".into(),
            ..Facts::default()
        };
        with_probe(f, |p| assert_eq!(ovf(p), Found::No));
        let f = Facts {
            virt: "microsoft".into(),
            dmi_chassis_asset_tag: AZURE_CHASSIS.into(),
            ..Facts::default()
        };
        with_probe(f, |p| {
            assert_eq!(ovf(p), Found::No);
            assert_eq!(azure(p), Found::Yes);
        });
    }
}
