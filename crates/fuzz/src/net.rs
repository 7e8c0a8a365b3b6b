//! Network configuration: v1, v2, ENI, `network_data.json`, and the
//! renderers every parsed config reaches.

use crate::{empty_host, lossy};
use ci_net::{NetworkConfig, RenderOptions, Renderer};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Each renderer with the distro it is used for.
const RENDERERS: &[(Renderer, &str)] = &[
    (Renderer::Netplan, "ubuntu"),
    (Renderer::Eni, "debian"),
    (Renderer::Networkd, "debian"),
    (Renderer::NetworkManager, "fedora"),
    (Renderer::Sysconfig, "rhel"),
    (Renderer::Freebsd, "freebsd"),
    (Renderer::Netbsd, "netbsd"),
    (Renderer::Openbsd, "openbsd"),
];

fn macs() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("52:54:00:12:34:00".to_string(), "eth0".to_string()),
        ("fa:16:3e:00:00:01".to_string(), "ens3".to_string()),
    ])
}

/// Parse, interpret and render with every renderer.
fn parse_and_render(doc: &Value) {
    let Ok(Some(cfg)) = ci_net::parse(doc) else {
        return;
    };
    render_all(&cfg);
}

fn render_all(cfg: &NetworkConfig) {
    let _ = cfg.state(&macs());
    for (renderer, distro) in RENDERERS {
        let mut opts = RenderOptions::new(distro);
        opts.macs = macs();
        let _ = ci_net::render(cfg, *renderer, &opts);
    }
}

fn yaml_doc(data: &[u8]) -> Option<Value> {
    ci_yaml::load(std::str::from_utf8(data).ok()?).ok()
}

/// A network-config document, made version 1: a list is its `config`, a
/// mapping gets `version: 1`.
pub fn netcfg_v1(data: &[u8]) {
    let doc = match yaml_doc(data) {
        Some(Value::Array(items)) => json!({"version": 1, "config": items}),
        Some(Value::Object(mut m)) => {
            m.insert("version".into(), json!(1));
            Value::Object(m)
        }
        _ => return,
    };
    parse_and_render(&doc);
}

/// A network-config document, made version 2.
pub fn netcfg_v2(data: &[u8]) {
    let Some(Value::Object(mut m)) = yaml_doc(data) else {
        return;
    };
    m.insert("version".into(), json!(2));
    parse_and_render(&Value::Object(m));
}

/// `/etc/network/interfaces` text, converted to v1 and rendered.
pub fn eni(data: &[u8]) {
    let host = empty_host();
    if let Ok(v1) = ci_net::eni_parse::convert_eni_data(&host, &lossy(data)) {
        parse_and_render(&v1);
    }
}

/// OpenStack's `network_data.json`, converted to v1 and rendered.
pub fn network_data_json(data: &[u8]) {
    let Ok(doc) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let lookup = ci_net::netjson::StaticMacs {
        macs: macs(),
        ib: BTreeMap::new(),
    };
    if let Ok(Some(v1)) = ci_net::netjson::convert_net_json(&doc, &lookup) {
        parse_and_render(&v1);
    }
}
