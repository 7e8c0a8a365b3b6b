//! SMBIOS/DMI fields under upstream's dmidecode names, read from sysfs
//! below the host root.

use ci_host::Host;

/// dmidecode keyword → `/sys/class/dmi/id/<file>` (upstream's `DMIDECODE_TO_KERNEL`, Linux column).
pub const DMI_KEYS: &[(&str, &str)] = &[
    ("baseboard-asset-tag", "board_asset_tag"),
    ("baseboard-manufacturer", "board_vendor"),
    ("baseboard-product-name", "board_name"),
    ("baseboard-serial-number", "board_serial"),
    ("baseboard-version", "board_version"),
    ("bios-release-date", "bios_date"),
    ("bios-vendor", "bios_vendor"),
    ("bios-version", "bios_version"),
    ("chassis-asset-tag", "chassis_asset_tag"),
    ("chassis-manufacturer", "chassis_vendor"),
    ("chassis-serial-number", "chassis_serial"),
    ("chassis-version", "chassis_version"),
    ("system-manufacturer", "sys_vendor"),
    ("system-product-name", "product_name"),
    ("system-serial-number", "product_serial"),
    ("system-uuid", "product_uuid"),
    ("system-version", "product_version"),
];

fn sysfs_name(key: &str) -> Option<&'static str> {
    DMI_KEYS.iter().find(|(k, _)| *k == key).map(|(_, f)| *f)
}

/// A DMI value by dmidecode keyword (`system-serial-number`). `None` if
/// the key is unknown or the file is missing/unreadable; `Some("")` for an
/// unset field (sysfs shows all `0xff`), as upstream.
pub fn read(host: &Host, key: &str) -> Option<String> {
    let path = format!("/sys/class/dmi/id/{}", sysfs_name(key)?);
    log::debug!("querying dmi data {path}");
    let data = match host.read_optional(&path) {
        Ok(Some(d)) => d,
        Ok(None) => {
            log::debug!("did not find {path}");
            return None;
        }
        Err(_) => {
            log::debug!("Could not read {path}");
            return None;
        }
    };
    let unset = data.last() == Some(&b'\n') && data[..data.len() - 1].iter().all(|b| *b == 0xff);
    if unset {
        return Some(String::new());
    }
    match String::from_utf8(data) {
        Ok(s) => Some(s.trim().to_string()),
        Err(e) => {
            log::error!("utf-8 decode of content ({path}) in {path} failed: {e}");
            None
        }
    }
}

/// Replace `__dmi.<key>__` in `src` with DMI values (upstream's `sub_dmi_vars`).
pub fn sub_dmi_vars(host: &Host, src: &str) -> String {
    if !src.contains("__") {
        return src.to_string();
    }
    let mut out = src.to_string();
    for key in dmi_var_names(src) {
        if sysfs_name(&key).is_none() {
            let keys = DMI_KEYS
                .iter()
                .map(|(k, _)| format!("'{k}'"))
                .collect::<Vec<_>>()
                .join(", ");
            log::warn!(
                "Ignoring invalid __dmi.{key}__ in {src}. Expected one of: dict_keys([{keys}])."
            );
            continue;
        }
        let value = read(host, &key).unwrap_or_default();
        log::debug!("Replacing __dmi.{key}__ in '{out}' with '{value}'.");
        out = out.replace(&format!("__dmi.{key}__"), &value);
    }
    out
}

/// The names matched by `__dmi\.([^_]+)__`, left to right, non-overlapping.
fn dmi_var_names(src: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = src;
    while let Some(pos) = rest.find("__dmi.") {
        let after = &rest[pos + 6..];
        let end = after.find('_').unwrap_or(after.len());
        if end > 0 && after[end..].starts_with("__") {
            names.push(after[..end].to_string());
            rest = &after[end + 2..];
        } else {
            rest = &rest[pos + 1..];
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use ci_host::WriteOpts;

    #[test]
    fn reads_and_substitutes() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let w = |f: &str, c: &[u8]| {
            h.write_atomic(format!("/sys/class/dmi/id/{f}"), c, &WriteOpts::default())
                .unwrap()
        };
        w("product_serial", b"ds=nocloud;i=x\n");
        w("chassis_serial", b"\xff\xff\xff\n");
        w("board_name", b"B1\n");
        assert_eq!(
            read(&h, "system-serial-number").as_deref(),
            Some("ds=nocloud;i=x")
        );
        assert_eq!(read(&h, "chassis-serial-number").as_deref(), Some(""));
        assert_eq!(read(&h, "system-uuid"), None);
        assert_eq!(read(&h, "nonsense"), None);
        assert_eq!(
            sub_dmi_vars(
                &h,
                "http://s/__dmi.baseboard-product-name__/__dmi.system-uuid__/x"
            ),
            "http://s/B1//x"
        );
        assert_eq!(
            sub_dmi_vars(&h, "http://s/__dmi.bogus__/"),
            "http://s/__dmi.bogus__/"
        );
        assert_eq!(
            dmi_var_names("__dmi.a__b__dmi.c_d__"),
            vec!["a".to_string()]
        );
    }
}
