//! Which EC2-alike this is (upstream `identify_platform`) and the
//! `strict_id` setting.

use super::*;

/// Upstream `parse_strict_mode`: `true`, `false`, `warn[,sleep]`;
/// anything else warns and means `warn`.
pub(super) fn strict_mode(v: Option<&Value>) -> &'static str {
    let s = match v {
        Some(Value::Bool(true)) => return "true",
        Some(Value::Bool(false)) => return "false",
        Some(v) if truthy(v) => py_str(v),
        _ => return "warn",
    };
    let (mode, sleep) = s.split_once(',').unwrap_or((s.as_str(), ""));
    let mode = match mode {
        "true" => "true",
        "false" => "false",
        "warn" => "warn",
        _ => {
            log::warn!(
                "Invalid mode '{mode}' in strict_id setting '{s}': Expected one of 'true', 'false', 'warn'."
            );
            return "warn";
        }
    };
    if !sleep.is_empty() && sleep.parse::<i64>().is_err() {
        log::warn!("Invalid sleep '{sleep}' in strict_id setting '{s}': not an integer");
        return "warn";
    }
    mode
}

/// Upstream `identify_platform`, from DMI and `/sys/hypervisor/uuid`.
pub fn identify_platform(host: &Host) -> &'static str {
    let hv = host
        .read_to_string("/sys/hypervisor/uuid")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let dmi = |k: &str| crate::dmi::read(host, k).unwrap_or_default().to_lowercase();
    let uuid = hv
        .map(|s| s.to_lowercase())
        .unwrap_or_else(|| dmi("system-uuid"));
    if uuid.starts_with("ec2") || swapped_uuid_is_ec2(&uuid) {
        return CLOUD_AWS;
    }
    if dmi("system-serial-number").ends_with(".brightbox.com") {
        return "brightbox";
    }
    if dmi("chassis-asset-tag").ends_with(".zstack.io") {
        return "zstack";
    }
    let vendor = dmi("system-manufacturer");
    if vendor == "e24cloud" {
        return "e24cloud";
    }
    if dmi("system-product-name") == "3ds outscale vm" && vendor == "3ds outscale" {
        return "outscale";
    }
    METADATA_UNKNOWN
}

/// The other-endian form: `uuid.UUID(s).bytes_le.hex()` starts with `ec2`.
pub(super) fn swapped_uuid_is_ec2(uuid: &str) -> bool {
    let s = uuid
        .trim_start_matches("urn:uuid:")
        .trim_matches(|c| c == '{' || c == '}');
    let hex: String = s.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return false;
    }
    let b = |i: usize| hex.get(i..i + 2).unwrap_or_default();
    format!("{}{}{}{}", b(6), b(4), b(2), b(0)).starts_with("ec2")
}
