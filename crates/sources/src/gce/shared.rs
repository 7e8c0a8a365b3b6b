//! Small pieces the GCE, DigitalOcean, Hetzner, Vultr and AliYun
//! datasources share: config numbers, the sandbox guard for metadata URLs,
//! NIC discovery under the host root, and vendor-data as bytes.

use crate::url::UrlPolicy;
#[cfg(test)]
use crate::url_ext::is_loopback_url;
pub(crate) use crate::url_ext::sandbox_allows as url_allowed;
use ci_host::Host;
use ci_pyval::py_str;
use serde_json::Value;
use std::time::Duration;

/// A number from the datasource config (`"3"`, `3`, `2.5` all accepted);
/// anything else keeps the default, with upstream's warning when `warn`.
pub(crate) fn cfg_f64(cfg: &Value, key: &str, default: f64, warn: bool) -> f64 {
    let Some(v) = cfg.get(key).filter(|v| !v.is_null()) else {
        return default;
    };
    let parsed = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    };
    parsed.unwrap_or_else(|| {
        if warn {
            log::warn!(
                "Config {key} '{}' is not an int, using default '{default}'",
                py_str(v)
            );
        }
        default
    })
}

pub(crate) fn cfg_u32(cfg: &Value, key: &str, default: u32, warn: bool) -> u32 {
    let v = cfg_f64(cfg, key, f64::from(default), warn);
    if v <= 0.0 {
        0
    } else {
        v.min(f64::from(u32::MAX)) as u32
    }
}

pub(crate) fn secs(v: f64) -> Duration {
    Duration::try_from_secs_f64(v.max(0.0)).unwrap_or(Duration::from_secs(3600))
}

/// Whole-request budget per attempt plus retries, no proxy (metadata
/// services are link-local), the rest from the caller's base policy.
pub(crate) fn policy(
    base: &UrlPolicy,
    timeout: Duration,
    retries: u32,
    sec_between: Duration,
) -> UrlPolicy {
    // A zero timeout would mean "none" to a reader; upstream's 0 means
    // "no timeout", which we still bound.
    let timeout = if timeout.is_zero() {
        base.timeout.unwrap_or(Duration::from_secs(10))
    } else {
        timeout
    };
    UrlPolicy {
        timeout: Some(timeout),
        connect_timeout: Some(timeout),
        retries,
        sec_between,
        env_proxy: false,
        ..base.clone()
    }
}

/// `[mac, name]` of the NICs upstream's `get_interfaces_by_mac` lists:
/// not loopback, bridges, bonds or VLANs; macs lowercased; first name wins.
pub(crate) fn interfaces_by_mac(host: &Host) -> Vec<(String, String)> {
    let mut names = host.list_dir("/sys/class/net");
    names.sort_by(|a, b| natural_cmp(a, b));
    crate::url_ext::macs_of(host, names)
}

/// Upstream `find_candidate_nics` (simplified): NICs with a MAC, except
/// `veth*`, naturally sorted.
pub(crate) fn candidate_nics(host: &Host) -> Vec<String> {
    let mut names: Vec<String> = interfaces_by_mac(host)
        .into_iter()
        .map(|(_, n)| n)
        .filter(|n| !n.starts_with("veth"))
        .collect();
    names.sort_by(|a, b| natural_cmp(a, b));
    names
}

/// Upstream `find_fallback_nic`: the first candidate, `eth0` preferred.
pub(crate) fn fallback_nic(host: &Host) -> Option<String> {
    let nics = candidate_nics(host);
    if nics.iter().any(|n| n == "eth0") {
        return Some("eth0".into());
    }
    nics.into_iter().next()
}

/// Upstream `natural_sort_key`: digit runs compare as numbers.
pub(crate) fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(s: &str) -> Vec<(bool, String)> {
        let mut out: Vec<(bool, String)> = Vec::new();
        for c in s.chars() {
            let d = c.is_ascii_digit();
            match out.last_mut() {
                Some((pd, cur)) if *pd == d => cur.push(c),
                _ => out.push((d, c.to_string())),
            }
        }
        out
    }
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let ord = match (x.0, y.0) {
            (true, true) => {
                let (nx, ny) = (x.1.trim_start_matches('0'), y.1.trim_start_matches('0'));
                nx.len().cmp(&ny.len()).then_with(|| nx.cmp(ny))
            }
            (false, false) => x.1.to_lowercase().cmp(&y.1.to_lowercase()),
            (true, false) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
        };
        if ord != std::cmp::Ordering::Equal {
            return ord;
        }
    }
    pa.len().cmp(&pb.len())
}

/// Vendor-data a metadata document carries, as the raw bytes the
/// vendor-data processing reads: text as is, a `{"cloud-init": ...}`
/// mapping as its text, a list as its items joined by newlines (upstream
/// `convert_vendordata`, flattened), anything else as JSON.
pub(crate) fn vendordata_bytes(v: Option<&Value>) -> Option<Vec<u8>> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s.clone().into_bytes()),
        Value::Object(m) => match m.get("cloud-init") {
            Some(inner) => vendordata_bytes(Some(inner)),
            None => Some(Value::Object(m.clone()).to_string().into_bytes()),
        },
        Value::Array(a) => {
            let parts: Vec<Vec<u8>> = a.iter().filter_map(|i| vendordata_bytes(Some(i))).collect();
            Some(parts.join(&b"\n"[..]))
        }
        other => Some(other.to_string().into_bytes()),
    }
}

/// Upstream `instance_id_matches_system_uuid`: case-insensitive equality
/// with a DMI field.
pub(crate) fn id_matches_dmi(host: &Host, instance_id: &str, field: &str) -> bool {
    if instance_id.is_empty() {
        return false;
    }
    match crate::dmi::read(host, field) {
        Some(v) if !v.is_empty() => v.to_lowercase() == instance_id.to_lowercase(),
        _ => false,
    }
}

/// Upstream's connectivity check before ephemeral DHCP
/// (`connectivity_urls_data`): one GET, 5 s; a non-empty 2xx answer means
/// the network is already up and DHCP is skipped.
pub(crate) fn imds_reachable(base: &UrlPolicy, url: &str, headers: &[(&str, &str)]) -> bool {
    let t = Duration::from_secs(5);
    let reader = crate::url::UrlReader::new(policy(base, t, 0, Duration::ZERO));
    match reader.get(url, headers) {
        Ok(r) if !r.body.is_empty() => {
            log::debug!("Skip ephemeral DHCP setup, instance has connectivity to {url}");
            true
        }
        Ok(r) => {
            log::debug!(
                "Failed to reach IMDS without ephemeral network setup: empty response [{}]",
                r.code
            );
            false
        }
        Err(e) => {
            log::debug!("Failed to reach IMDS without ephemeral network setup: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn natural_order() {
        let mut v = vec!["eth10", "eth2", "ens4", "eth1"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["ens4", "eth1", "eth2", "eth10"]);
    }

    #[test]
    fn config_numbers() {
        let c = json!({"a": "3", "b": 2.5, "c": "x", "d": null});
        assert_eq!(cfg_f64(&c, "a", 1.0, false), 3.0);
        assert_eq!(cfg_f64(&c, "b", 1.0, false), 2.5);
        assert_eq!(cfg_f64(&c, "c", 1.0, false), 1.0);
        assert_eq!(cfg_f64(&c, "d", 7.0, false), 7.0);
        assert_eq!(cfg_u32(&json!({"r": -2}), "r", 5, false), 0);
    }

    #[test]
    fn vendordata_shapes() {
        assert_eq!(vendordata_bytes(Some(&json!("#x"))).unwrap(), b"#x");
        assert_eq!(
            vendordata_bytes(Some(&json!({"cloud-init": "#c"}))).unwrap(),
            b"#c"
        );
        assert_eq!(vendordata_bytes(Some(&json!(["a", "b"]))).unwrap(), b"a\nb");
        assert!(vendordata_bytes(Some(&Value::Null)).is_none());
        assert!(vendordata_bytes(None).is_none());
    }

    #[test]
    fn loopback() {
        assert!(is_loopback_url("http://127.0.0.1:9/x"));
        assert!(!is_loopback_url("http://169.254.169.254/metadata/v1.json"));
        assert!(!is_loopback_url(
            "http://metadata.google.internal/computeMetadata/v1/"
        ));
    }
}
