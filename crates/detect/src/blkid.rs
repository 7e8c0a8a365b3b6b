//! Filesystem labels, UUIDs and iso9660 devices, from
//! `blkid -c /dev/null -o export` as ds-identify reads it.

/// What ds-identify records about filesystems.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FsInfo {
    /// Labels joined by `,` (or `unavailable:<why>`).
    pub labels: String,
    /// UUIDs joined by `,`.
    pub uuids: String,
    /// `DEVNAME=LABEL` of iso9660 filesystems joined by `,`.
    pub iso9660_devs: String,
}

impl FsInfo {
    /// Every field set to `unavailable:<why>`.
    pub fn unavailable(why: &str) -> Self {
        let v = format!("unavailable:{why}");
        FsInfo {
            labels: v.clone(),
            uuids: v.clone(),
            iso9660_devs: v,
        }
    }

    /// Upstream `has_fs_with_label`: an exact item of the label list.
    pub fn has_label(&self, label: &str) -> bool {
        self.labels.split(',').any(|l| l == label)
    }

    pub fn has_uuid(&self, uuid: &str) -> bool {
        self.uuids.split(',').any(|u| u == uuid)
    }
}

/// Parse `blkid -o export` output. Blank lines separate devices, but the
/// shell loop upstream never sees them, so a device's entries simply run
/// until the next `DEVNAME=`.
pub fn parse_export(out: &str) -> FsInfo {
    let mut labels: Vec<String> = Vec::new();
    let mut uuids: Vec<String> = Vec::new();
    let mut isodevs: Vec<String> = Vec::new();
    let (mut dev, mut label, mut ftype) = (String::new(), String::new(), String::new());
    let mut flush = |dev: &str, label: &str, ftype: &str| {
        if !dev.is_empty() && ftype == "iso9660" {
            isodevs.push(format!("{dev}={label}"));
        }
    };
    for line in out.lines() {
        if let Some(v) = line.strip_prefix("DEVNAME=") {
            flush(&dev, &label, &ftype);
            dev = v.to_string();
            label.clear();
            ftype.clear();
        } else if let Some(v) = line
            .strip_prefix("LABEL=")
            .or_else(|| line.strip_prefix("LABEL_FATBOOT="))
        {
            label = v.to_string();
            labels.push(label.clone());
        } else if let Some(v) = line.strip_prefix("TYPE=") {
            ftype = v.to_string();
        } else if let Some(v) = line.strip_prefix("UUID=") {
            uuids.push(v.to_string());
        }
    }
    flush(&dev, &label, &ftype);
    FsInfo {
        labels: labels.join(","),
        uuids: uuids.join(","),
        iso9660_devs: isodevs.join(","),
    }
}

/// Labels from a `/dev/disk/by-label` listing: udev escapes unsafe bytes as
/// `\xHH`.
pub fn from_by_label(names: &[String]) -> FsInfo {
    FsInfo {
        labels: names
            .iter()
            .map(|n| unescape_udev(n))
            .collect::<Vec<_>>()
            .join(","),
        ..FsInfo::default()
    }
}

fn unescape_udev(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 2..i + 4)
            .filter(|_| bytes.get(i) == Some(&b'\\') && bytes.get(i + 1) == Some(&b'x'))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(b) => {
                out.push(b);
                i += 4;
            }
            None => {
                out.extend(bytes.get(i).copied());
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_output() {
        let out = "DEVNAME=/dev/vda1\nUUID=aaaa\nTYPE=ext4\nLABEL=root\n\n\
                   DEVNAME=/dev/sr0\nLABEL=CIDATA\nTYPE=iso9660\n\n\
                   DEVNAME=/dev/vdb\nLABEL_FATBOOT=cidata\nUUID=bbbb\nTYPE=vfat\n";
        let fs = parse_export(out);
        assert_eq!(fs.labels, "root,CIDATA,cidata");
        assert_eq!(fs.uuids, "aaaa,bbbb");
        assert_eq!(fs.iso9660_devs, "/dev/sr0=CIDATA");
        assert!(fs.has_label("CIDATA"));
        assert!(!fs.has_label("CIDAT"));
        assert!(fs.has_uuid("bbbb"));
    }

    #[test]
    fn iso_last_device_is_flushed() {
        let fs = parse_export("DEVNAME=/dev/sr0\nTYPE=iso9660\nLABEL=config-2\n");
        assert_eq!(fs.iso9660_devs, "/dev/sr0=config-2");
    }

    #[test]
    fn by_label_names_are_unescaped() {
        let fs = from_by_label(&["CIDATA".into(), "my\\x20disk".into()]);
        assert_eq!(fs.labels, "CIDATA,my disk");
        assert!(FsInfo::unavailable("container").labels == "unavailable:container");
    }
}
