//! Ec2: a seed directory, or a platform that says it is EC2 (AWS and the
//! EC2-compatible clouds upstream knows by DMI). Anything else is decided
//! by `strict_id`: `true` (the default) says not found, `false`/`warn`
//! say maybe and pass the setting on to cloud-init.

use super::{Found, Probe};
use crate::cfg::{check_config, CLOUD_CFG, CLOUD_CFG_D, DI_CFG};
use crate::shellish::{glob_match, read_first_line, shell_read, trim, unquote};

const STRICT_DEFAULT: &str = "true";
const STRICT_KEY: &str = "ci.datasource.ec2.strict_id";
const UNKNOWN: &str = "Unknown";

pub(super) fn ec2(p: &mut Probe) -> Found {
    if p.seed_dir("ec2", &["meta-data", "user-data"]) {
        return Found::Yes;
    }
    if p.container() {
        return Found::No;
    }
    let platform = identify_platform(p);
    p.log.debug(1, format!("ec2 platform is '{platform}'."));
    if platform != UNKNOWN {
        return Found::Yes;
    }
    let mut strict = read_strict_setting(p);
    let valid = matches!(strict.as_str(), "true" | "false" | "warn")
        || strict
            .strip_prefix("warn,")
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()));
    if !valid {
        p.log.warn(format!(
            "datasource/Ec2/strict_id was set to invalid '{strict}'. using '{STRICT_DEFAULT}'"
        ));
        strict = STRICT_DEFAULT.into();
    }
    p.excfg = format!("datasource: {{Ec2: {{strict_id: \"{strict}\"}}}}");
    if strict == "true" {
        Found::No
    } else {
        Found::Maybe
    }
}

/// Upstream `ec2_identify_platform`.
fn identify_platform(p: &Probe) -> &'static str {
    let f = p.facts;
    if glob_match("*.brightbox.com", &f.dmi_product_serial) {
        return "Brightbox";
    }
    if glob_match("*.zstack.io", &f.dmi_chassis_asset_tag) {
        return "ZStack";
    }
    if f.dmi_sys_vendor == "e24cloud" {
        return "E24cloud";
    }
    if f.dmi_product_name == "3DS Outscale VM" && f.dmi_sys_vendor == "3DS Outscale" {
        return "Outscale";
    }
    // Xen instances: /sys/hypervisor/uuid starts with "ec2".
    if let Ok(b) = p.host.read("/sys/hypervisor/uuid") {
        let (uuid, ok) = shell_read(&String::from_utf8_lossy(&b));
        if ok && uuid.starts_with("ec2") {
            return "AWS";
        }
    }
    // Nitro: the DMI UUID starts with EC2, or is byte-swapped (45E12AEC-...).
    let first = f
        .dmi_product_uuid
        .split('-')
        .next()
        .unwrap_or(&f.dmi_product_uuid);
    if glob_match("[Ee][Cc]2*", first) || glob_match("*2[0-9a-fA-F][Ee][Cc]", first) {
        return "AWS";
    }
    UNKNOWN
}

/// Upstream `ec2_read_strict_setting`: the kernel command line, then
/// `strict_id` in cloud.cfg or a cloud.cfg.d file named like `*ec2*.cfg`,
/// then ds-identify.cfg, then the default.
fn read_strict_setting(p: &mut Probe) -> String {
    let cmdline = &p.facts.kernel_cmdline;
    let needle = format!("{STRICT_KEY}=");
    if format!(" {cmdline} ").contains(&format!(" {needle}")) {
        // The value after the last occurrence, up to the next blank.
        let val = cmdline.rsplit(&needle).next().unwrap_or("");
        let val = val.split(' ').next().unwrap_or("");
        return if val.is_empty() {
            STRICT_DEFAULT.into()
        } else {
            val.into()
        };
    }
    let mut files = vec![CLOUD_CFG.to_string()];
    files.extend(
        p.host
            .list_dir(CLOUD_CFG_D)
            .into_iter()
            .filter(|n| !n.starts_with('.') && glob_match("*[Ee][Cc]2*.cfg", n))
            .map(|n| format!("{CLOUD_CFG_D}/{n}")),
    );
    if let Some(hit) = check_config(p.host, &files, "strict_id") {
        let shown = p.shown(&hit.file);
        p.log
            .debug(2, format!("{shown} set strict_id to {}", hit.value));
        return hit.value;
    }
    if p.host.resolve(DI_CFG).is_file() {
        // Once the file exists, upstream's lookup always answers: the value
        // or, when the key is absent or empty, the default.
        let val = p
            .host
            .read(DI_CFG)
            .map(|b| di_cfg_value(&String::from_utf8_lossy(&b), STRICT_KEY))
            .unwrap_or_default();
        return if val.is_empty() {
            STRICT_DEFAULT.into()
        } else {
            val
        };
    }
    STRICT_DEFAULT.into()
}

/// `_read_config KEY < ds-identify.cfg`: the first line whose trimmed key
/// equals `key`; its value trimmed and unquoted.
fn di_cfg_value(text: &str, key: &str) -> String {
    // `while read line` stops before a last line without a newline.
    for raw in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
        let line = read_first_line(raw);
        let line = line.split('#').next().unwrap_or("");
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        if trim(k) == key {
            return unquote(trim(v)).to_string();
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::super::tests::with_probe;
    use super::*;
    use crate::facts::Facts;

    fn platform_of(f: Facts) -> &'static str {
        let mut out = "";
        with_probe(f, |p| out = identify_platform(p));
        out
    }

    #[test]
    fn platforms() {
        let uuid = |u: &str| Facts {
            dmi_product_uuid: u.into(),
            ..Facts::default()
        };
        assert_eq!(
            platform_of(uuid("EC2E1916-9099-7CAF-FD21-012345ABCDEF")),
            "AWS"
        );
        assert_eq!(
            platform_of(uuid("45E12AEC-DCD1-B213-94ED-012345ABCDEF")),
            "AWS"
        );
        assert_eq!(
            platform_of(uuid("4f2c7a52-0c1e-4d0b-9d1c-2b5c1f0e7a11")),
            UNKNOWN
        );
        assert_eq!(
            platform_of(Facts {
                dmi_product_serial: "srv-abcde.gb1.brightbox.com".into(),
                ..Facts::default()
            }),
            "Brightbox"
        );
        assert_eq!(
            platform_of(Facts {
                dmi_product_name: "3DS Outscale VM".into(),
                dmi_sys_vendor: "3DS Outscale".into(),
                ..Facts::default()
            }),
            "Outscale"
        );
    }

    #[test]
    fn strict_id_from_cmdline_and_validation() {
        let f = Facts {
            kernel_cmdline: "ro ci.datasource.ec2.strict_id=warn,10 quiet".into(),
            ..Facts::default()
        };
        with_probe(f, |p| {
            assert_eq!(ec2(p), Found::Maybe);
            assert_eq!(p.excfg, "datasource: {Ec2: {strict_id: \"warn,10\"}}");
        });
        let f = Facts {
            kernel_cmdline: "ci.datasource.ec2.strict_id=maybe".into(),
            ..Facts::default()
        };
        with_probe(f, |p| {
            assert_eq!(ec2(p), Found::No);
            assert!(p.log.text().contains(
                "WARN: datasource/Ec2/strict_id was set to invalid 'maybe'. using 'true'"
            ));
        });
    }

    #[test]
    fn di_cfg_lookup() {
        assert_eq!(
            di_cfg_value(
                "policy: x\n ci.datasource.ec2.strict_id : 'false' # c\n",
                STRICT_KEY
            ),
            "false"
        );
        assert_eq!(di_cfg_value("policy: x\n", STRICT_KEY), "");
        assert_eq!(
            di_cfg_value("ci.datasource.ec2.strict_id: false", STRICT_KEY),
            ""
        );
    }
}
