//! `cloud-init devel net-convert`.
//!
//! Inputs: `yaml` (network config v1/v2), `eni` (an interfaces file, read
//! as upstream's `convert_eni_data` reads it), `network_data.json`
//! (OpenStack) and `azure-imds` (the IMDS instance document, its
//! `network` key). Like upstream, the machine this runs on answers the
//! look-ups the conversions make: interface names by MAC (v2 matches,
//! unnamed OpenStack links unless `-m name,mac` gives them; `-m` is used
//! for network_data.json only, as upstream uses it), InfiniBand addresses,
//! Azure NIC drivers, and owners to chown to.

use crate::cmds::not_yet;
use ci_host::Host;
use ci_net::netjson::{MacLookup, StaticMacs};
use serde_json::Value;

/// Reads the input as its kind says and converts it to a network-config
/// document; `Err` is the message to print.
fn load(
    kind: &str,
    text: &str,
    shown: &str,
    macs: &[String],
    here: &Host,
) -> Result<Value, String> {
    let json = || -> Result<Value, String> {
        serde_json::from_str(text).map_err(|e| format!("{shown} is not valid JSON: {e}"))
    };
    match kind {
        "yaml" => ci_yaml::load(text).map_err(|e| format!("{shown} is not valid YAML: {e}")),
        "eni" => ci_net::eni_parse::convert_eni_data(here, text)
            .map_err(|e| format!("cannot parse {shown} as an interfaces file: {e}")),
        "network_data.json" => {
            let doc = json()?;
            let converted = if macs.is_empty() {
                ci_net::netjson::convert_net_json(&doc, here)
            } else {
                let mut known = StaticMacs {
                    ib: here.ib_hwaddrs(),
                    ..StaticMacs::default()
                };
                for m in macs {
                    let (name, mac) = m
                        .split_once(',')
                        .ok_or_else(|| format!("-m {m}: expected name,mac"))?;
                    known.macs.insert(mac.to_string(), name.to_string());
                }
                ci_net::netjson::convert_net_json(&doc, &known)
            };
            match converted {
                Ok(Some(v1)) => Ok(v1),
                Ok(None) => Err(format!("{shown} holds no network data (null)")),
                Err(e) => Err(format!("cannot convert {shown}: {e}")),
            }
        }
        "azure-imds" => {
            let doc = json()?;
            let network = doc
                .get("network")
                .ok_or_else(|| format!("{shown} has no 'network' key"))?;
            let nics = ci_sources::azure::netcfg::interfaces(here);
            ci_sources::azure::netcfg::from_imds(network, true, &nics)
                .map_err(|e| format!("cannot convert {shown}: {e}"))
        }
        other => Err(format!("unknown input kind {other}")),
    }
}

/// `devel net-convert`: read a network config, render it for a distro into
/// DIR as a target root. Owners (networkd's `systemd-network`) are looked up
/// on this machine, as upstream chowns with the machine's user database.
pub(crate) fn net_convert(a: &crate::args::NetConvertArgs) -> i32 {
    if a.kind == "vmware-imc" {
        return not_yet(&format!("devel net-convert -k {}", a.kind));
    }
    let shown = a.network_data.display().to_string();
    let text = match std::fs::read_to_string(&a.network_data) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("Error: cannot read {shown}: {e}");
            return 1;
        }
    };
    let here = Host::new("/");
    let doc = match load(&a.kind, &text, &shown, &a.macs, &here) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("Error: {e}");
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
    opts.macs = ci_net::fallback::interfaces_by_mac(&here);
    let mut files = match ci_net::render(&parsed, renderer, &opts) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("Error: {e}");
            return 1;
        }
    };
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
    let mut dir = a.directory.display().to_string();
    if !dir.ends_with('/') {
        dir.push('/');
    }
    // Upstream reports before it writes.
    eprintln!("Read input format '{}' from '{shown}'.", a.kind);
    eprintln!("Wrote output format '{}' to '{dir}'\n", a.output_kind);
    let out = Host::new(&a.directory);
    if let Err(e) = ci_net::write_files(&out, &files) {
        eprintln!("Error: {e}");
        return 1;
    }
    0
}
