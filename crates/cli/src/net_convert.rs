//! `cloud-init devel net-convert`.

use crate::cmds::not_yet;
use ci_host::Host;
/// `devel net-convert`: read a network config, render it for a distro into
/// DIR as a target root. Owners (networkd's `systemd-network`) are looked up
/// on this machine, as upstream chowns with the machine's user database.
pub(crate) fn net_convert(a: &crate::args::NetConvertArgs) -> i32 {
    if a.kind != "yaml" {
        return not_yet(&format!("devel net-convert -k {}", a.kind));
    }
    let shown = a.network_data.display();
    let text = match std::fs::read_to_string(&a.network_data) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("Error: cannot read {shown}: {e}");
            return 1;
        }
    };
    let doc = match ci_yaml::load(&text) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("Error: {shown} is not valid YAML: {e}");
            return 1;
        }
    };
    let parsed = match ci_net::parse(&doc) {
        Ok(Some(p)) => p,
        Ok(None) => {
            eprintln!("Network config is disabled in {shown}; nothing to write");
            return 0;
        }
        Err(e) => {
            eprintln!("Error: invalid network config in {shown}: {e}");
            return 1;
        }
    };
    let Some(renderer) = ci_net::Renderer::from_name(&a.output_kind) else {
        return not_yet(&format!("devel net-convert -O {}", a.output_kind));
    };
    let mut opts = ci_net::RenderOptions::new(&a.distro);
    opts.netplan_features = vec!["dhcp-use-domains".into(), "ipv6-mtu".into()];
    for m in &a.macs {
        if let Some((name, mac)) = m.split_once(',') {
            opts.macs.insert(mac.to_lowercase(), name.to_string());
        }
    }
    let mut files = match ci_net::render(&parsed, renderer, &opts) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("Error: {e}");
            return 1;
        }
    };
    let here = Host::new("/");
    for f in files.0.values_mut() {
        if let Some((u, g)) = f.owner.take() {
            match here.resolve_owner(&format!("{u}:{g}")) {
                Ok((uid, gid)) => {
                    let num = |v: Option<u32>| v.map(|n| n.to_string()).unwrap_or_default();
                    f.owner = Some((num(uid), num(gid)));
                }
                Err(name) => {
                    eprintln!("Error: unknown user or group {name:?} on this machine");
                    return 1;
                }
            }
        }
    }
    let out = Host::new(&a.directory);
    if let Err(e) = ci_net::write_files(&out, &files) {
        eprintln!("Error: {e}");
        return 1;
    }
    eprintln!("Read input format '{}' from '{shown}'.", a.kind);
    let mut dir = a.directory.display().to_string();
    if !dir.ends_with('/') {
        dir.push('/');
    }
    eprintln!("Wrote output format '{}' to '{dir}'\n", a.output_kind);
    0
}
