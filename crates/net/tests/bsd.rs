//! NetBSD and OpenBSD with the machine's NICs known: a NIC whose MAC is
//! found under another name is configured under that name (these systems
//! cannot rename), as upstream does (tests/bsd-macs, from
//! tests/regen-bsd-macs.py with the oracle).

use ci_net::{parse, render, RenderOptions, Renderer};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

fn tree(dir: &Path, base: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            tree(&p, base, out);
        } else if let Ok(rel) = p.strip_prefix(base) {
            out.insert(
                format!("/{}", rel.display()),
                fs::read(&p).unwrap_or_default(),
            );
        }
    }
}

#[test]
fn bsd_renderers_configure_nics_under_their_current_names() -> Result<(), Box<dyn std::error::Error>>
{
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bsd-macs");
    let doc = ci_yaml::load(&fs::read_to_string(dir.join("input.yaml"))?)?;
    let cfg = parse(&doc)?.ok_or("config disabled")?;
    for (renderer, name) in [(Renderer::Netbsd, "netbsd"), (Renderer::Openbsd, "openbsd")] {
        let mut opts = RenderOptions::new(name);
        for line in fs::read_to_string(dir.join("macs.txt"))?.lines() {
            if let Some((nic, mac)) = line.split_once(' ') {
                opts.macs.insert(mac.to_lowercase(), nic.to_string());
            }
        }
        let got: BTreeMap<String, Vec<u8>> = render(&cfg, renderer, &opts)?
            .iter()
            .map(|(p, f)| (p.clone(), f.content.clone()))
            .collect();
        let mut want = BTreeMap::new();
        tree(&dir.join(name), &dir.join(name), &mut want);
        assert!(!want.is_empty(), "no fixture for {name}");
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{name}"
        );
        for (path, bytes) in &want {
            assert_eq!(
                String::from_utf8_lossy(&got[path]),
                String::from_utf8_lossy(bytes),
                "{name} {path}"
            );
        }
    }
    Ok(())
}

/// NetBSD's settings are applied to the target's own rc.conf, a key at a
/// time (NetBSD's rc.conf has `if` blocks, kept as they are).
#[test]
fn netbsd_edits_the_existing_rc_conf() -> Result<(), Box<dyn std::error::Error>> {
    let doc = serde_json::json!({"version": 1, "config": [
        {"type": "physical", "name": "wm0", "subnets": [
            {"type": "static", "address": "10.0.0.2/24", "gateway": "10.0.0.1"}]},
        {"type": "physical", "name": "wm1", "subnets": [{"type": "dhcp"}]}]});
    let cfg = parse(&doc)?.ok_or("config disabled")?;
    let files = render(&cfg, Renderer::Netbsd, &RenderOptions::new("netbsd"))?;
    let tmp = tempfile::tempdir()?;
    fs::create_dir_all(tmp.path().join("etc"))?;
    fs::write(
        tmp.path().join("etc/rc.conf"),
        "if [ -r /etc/defaults/rc.conf ]; then\n\t. /etc/defaults/rc.conf\nfi\nhostname=box\nifconfig_wm0=up\n",
    )?;
    ci_net::write_files(&ci_host::Host::new(tmp.path()), &files)?;
    assert_eq!(
        fs::read_to_string(tmp.path().join("etc/rc.conf"))?,
        "if [ -r /etc/defaults/rc.conf ]; then\n\t. /etc/defaults/rc.conf\nfi\nhostname=box\n\
         ifconfig_wm0='10.0.0.2 netmask 255.255.255.0'\ndefaultroute=10.0.0.1\ndhcpcd=YES\n\
         dhcpcd_flags=wm1\n"
    );
    Ok(())
}
