//! The configuration ds-identify understands, read the way it reads it:
//! `/etc/cloud/ds-identify.cfg` (`datasource:`, `policy:`), kernel command
//! line keys, and a line-based search of `/etc/cloud/cloud.cfg` plus
//! `cloud.cfg.d/*.cfg` (no YAML parsing: only single-line values count).

use crate::shellish::{read_first_line, trim, unquote};
use ci_host::Host;

// FreeBSD's port installs under /usr/local (upstream's port patches the same).
pub const CLOUD_CFG: &str = if cfg!(target_os = "freebsd") {
    "/usr/local/etc/cloud/cloud.cfg"
} else {
    "/etc/cloud/cloud.cfg"
};
pub const CLOUD_CFG_D: &str = if cfg!(target_os = "freebsd") {
    "/usr/local/etc/cloud/cloud.cfg.d"
} else {
    "/etc/cloud/cloud.cfg.d"
};
pub const DI_CFG: &str = if cfg!(target_os = "freebsd") {
    "/usr/local/etc/cloud/ds-identify.cfg"
} else {
    "/etc/cloud/ds-identify.cfg"
};

/// ds-identify's built-in search order when no `datasource_list` is
/// configured (not the same order as the Python default list).
pub const DEFAULT_DSLIST: &[&str] = &[
    "MAAS",
    "ConfigDrive",
    "NoCloud",
    "AltCloud",
    "Azure",
    "Bigstep",
    "CloudSigma",
    "CloudStack",
    "DigitalOcean",
    "Vultr",
    "AliYun",
    "Ec2",
    "GCE",
    "OpenNebula",
    "OpenStack",
    "VMware",
    "OVF",
    "SmartOS",
    "Scaleway",
    "Hetzner",
    "IBMCloud",
    "Oracle",
    "Exoscale",
    "RbxCloud",
    "UpCloud",
    "LXD",
    "NWCS",
    "Akamai",
    "WSL",
    "CloudCIX",
];

/// The cloud.cfg files in the order the shell glob lists them.
pub(crate) fn cloud_cfg_files(host: &Host) -> Vec<String> {
    let mut files = vec![CLOUD_CFG.to_string()];
    files.extend(
        host.list_dir(CLOUD_CFG_D)
            .into_iter()
            .filter(|n| n.ends_with(".cfg") && !n.starts_with('.'))
            .map(|n| format!("{CLOUD_CFG_D}/{n}")),
    );
    files
}

/// A hit of [`check_config`]: the value of the last matching line and the
/// file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigHit {
    pub value: String,
    pub file: String,
}

/// Upstream `check_config KEY`: `grep 'KEY["']*[[:space:]]*:'` over the
/// cloud.cfg files. A line counts when something is left after cutting it
/// at the first `#`; the value is what follows the first `: ` (the whole
/// line without one). The last counted line wins. Matches are substrings,
/// anywhere in the line, as the grep is.
pub(crate) fn check_config(host: &Host, files: &[String], key: &str) -> Option<ConfigHit> {
    let mut hit = None;
    for file in files {
        let Ok(text) = host.read(file) else { continue };
        let text = String::from_utf8_lossy(&text);
        for line in text.lines() {
            if !line_has_key(line, key) {
                continue;
            }
            let content = line.split('#').next().unwrap_or("");
            if content.is_empty() {
                continue;
            }
            let value = content.split_once(": ").map_or(content, |(_, v)| v);
            hit = Some(ConfigHit {
                value: value.to_string(),
                file: file.clone(),
            });
        }
    }
    hit
}

fn line_has_key(line: &str, key: &str) -> bool {
    line.match_indices(key).any(|(i, _)| {
        let rest = &line[i + key.len()..];
        let rest = rest.trim_start_matches(['"', '\'']);
        let rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
        rest.starts_with(':')
    })
}

/// Upstream `get_single_line_flow_sequence`: the text after the last `:` of
/// the value, trimmed; `None` when empty. (Upstream's further check meant
/// to reject `[]` looks at the wrong variable, so `[]` passes, as here.)
pub(crate) fn single_line_flow_sequence(value: &str) -> Option<String> {
    let after = value.rsplit(':').next().unwrap_or(value);
    let after = trim(after);
    (!after.is_empty()).then(|| after.to_string())
}

/// Upstream `parse_yaml_array`: `[a, 'b', "c"]` (brackets optional) into
/// names.
pub(crate) fn parse_yaml_array(value: &str) -> Vec<String> {
    let v = value.strip_prefix('[').unwrap_or(value);
    let v = v.strip_suffix(']').unwrap_or(v);
    // The shell later re-splits the joined names on blanks, so a quoted
    // name with a space becomes two names, and empty items vanish.
    v.split(',')
        .flat_map(|t| unquote(trim(t)).split_ascii_whitespace())
        .map(str::to_string)
        .collect()
}

/// `datasource:` and `policy:` from ds-identify.cfg and the kernel command
/// line (later wins; the command line wins over the file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub dsname: String,
    pub policy: String,
}

/// Read ds-identify.cfg. `Err` carries upstream's error text when the path
/// exists but is not a file.
pub(crate) fn read_di_cfg(host: &Host, into: &mut Settings) -> Result<(), String> {
    let p = host.resolve(DI_CFG);
    if p.is_file() {
        let text = host.read(DI_CFG).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&text);
        // `while read line` stops before a last line without a newline.
        for raw in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
            let line = read_first_line(raw);
            let line = line.split('#').next().unwrap_or("");
            let Some((key, val)) = line.split_once(':') else {
                continue;
            };
            let val = unquote(trim(val)).to_string();
            match trim(key) {
                "datasource" => into.dsname = val,
                "policy" => into.policy = val,
                _ => {}
            }
        }
        Ok(())
    } else if host.lexists(DI_CFG) {
        Err(format!(
            "{} exists but is not a file!",
            host.path(DI_CFG).display()
        ))
    } else {
        Ok(())
    }
}

/// Kernel command line keys: `ds=`, `ci.ds=`, `ci.datasource=` (value cut
/// at the first `;`) and `ci.di.policy=`.
pub(crate) fn apply_cmdline(cmdline: &str, into: &mut Settings) {
    for tok in cmdline.split_ascii_whitespace() {
        let (key, val) = tok.split_once('=').unwrap_or((tok, tok));
        let val = val.split(';').next().unwrap_or("");
        match key {
            "ds" | "ci.ds" | "ci.datasource" => into.dsname = val.to_string(),
            "ci.di.policy" => into.policy = val.to_string(),
            _ => {}
        }
    }
}

/// Upstream's `cc:` hook: `cc: datasource_list: [ X ] end_cc` on the
/// command line; the text between the last `[` and the first `]` after the
/// last `datasource_list`.
pub(crate) fn cmdline_cc_dslist(cmdline: &str) -> Option<Vec<String>> {
    let cc = cmdline.find("cc:")?;
    let last = cmdline.rfind("datasource_list")?;
    if last < cc {
        return None;
    }
    let t = &cmdline[last + "datasource_list".len()..];
    let t = t.split(']').next().unwrap_or("");
    let t = t.rsplit('[').next().unwrap_or(t);
    Some(parse_yaml_array(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ci_host::WriteOpts;

    fn host_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Host) {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        for (p, c) in files {
            h.write_atomic(p, c.as_bytes(), &WriteOpts::default())
                .unwrap();
        }
        (d, h)
    }

    #[test]
    fn check_config_last_counted_line_wins() {
        let (_d, h) = host_with(&[
            (
                "/etc/cloud/cloud.cfg",
                "datasource_list: [ Ec2 ]\n# datasource_list: [ X ]\n",
            ),
            (
                "/etc/cloud/cloud.cfg.d/90.cfg",
                "datasource_list : ['NoCloud', None] # c\n",
            ),
            (
                "/etc/cloud/cloud.cfg.d/README",
                "datasource_list: [ Nope ]\n",
            ),
        ]);
        let files = cloud_cfg_files(&h);
        let hit = check_config(&h, &files, "datasource_list").unwrap();
        assert_eq!(hit.value, "['NoCloud', None] ");
        assert_eq!(hit.file, "/etc/cloud/cloud.cfg.d/90.cfg");
        let seq = single_line_flow_sequence(&hit.value).unwrap();
        assert_eq!(parse_yaml_array(&seq), vec!["NoCloud", "None"]);
        assert!(check_config(&h, &files, "seedfrom").is_none());
    }

    #[test]
    fn multi_line_list_is_not_understood() {
        let (_d, h) = host_with(&[(
            "/etc/cloud/cloud.cfg",
            "datasource_list:\n  - NoCloud\n  - None\n",
        )]);
        let hit = check_config(&h, &cloud_cfg_files(&h), "datasource_list").unwrap();
        assert_eq!(single_line_flow_sequence(&hit.value), None);
    }

    #[test]
    fn keys_match_anywhere_with_quotes_and_blanks() {
        assert!(line_has_key(
            "datasource: {NoCloud: {seedfrom: x}}",
            "NoCloud"
        ));
        assert!(line_has_key("  \"NoCloud\"\t:", "NoCloud"));
        assert!(!line_has_key("NoCloudX: 1", "NoCloud"));
    }

    #[test]
    fn di_cfg_and_cmdline() {
        let (_d, h) = host_with(&[(
            "/etc/cloud/ds-identify.cfg",
            "# comment\ndatasource: 'Ec2' # x\npolicy: search,found=first\n",
        )]);
        let mut s = Settings::default();
        read_di_cfg(&h, &mut s).unwrap();
        assert_eq!(s.dsname, "Ec2");
        assert_eq!(s.policy, "search,found=first");
        apply_cmdline(
            "ro ds=nocloud;s=http://x/ ci.di.policy=enabled quiet",
            &mut s,
        );
        assert_eq!(s.dsname, "nocloud");
        assert_eq!(s.policy, "enabled");
        apply_cmdline("ci.datasource=GCE ci.ds=Azure", &mut s);
        assert_eq!(s.dsname, "Azure");
    }

    #[test]
    fn di_cfg_directory_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        h.create_dir_all(DI_CFG, 0o755).unwrap();
        let err = read_di_cfg(&h, &mut Settings::default()).unwrap_err();
        assert!(
            err.ends_with("ds-identify.cfg exists but is not a file!"),
            "{err}"
        );
    }

    #[test]
    fn cc_hook() {
        assert_eq!(
            cmdline_cc_dslist("ro cc: {datasource_list: [ 'NoCloud', None ]} end_cc"),
            Some(vec!["NoCloud".to_string(), "None".to_string()])
        );
        assert_eq!(cmdline_cc_dslist("ro datasource_list cc:"), None);
        assert_eq!(cmdline_cc_dslist("ro quiet"), None);
    }
}
