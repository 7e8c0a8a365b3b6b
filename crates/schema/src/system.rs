//! `cloud-init schema --system`: the instance's user-data, vendor-data,
//! vendor2-data and network-config, as upstream finds them.

use crate::command::{missing_file, run_parts, DataType, Output, Part, SchemaArgs, SchemaType};
use std::path::{Path, PathBuf};

/// Where `--system` looks, as paths inside the target root.
#[derive(Debug, Clone)]
pub struct SystemLayout {
    /// The target root (`--root`, `/` on a real system).
    pub root: PathBuf,
    /// `system_info.paths.cloud_dir` (`/var/lib/cloud`).
    pub cloud_dir: PathBuf,
    /// `system_info.paths.run_dir` (`/run/cloud-init`).
    pub run_dir: PathBuf,
    /// Upstream refuses `--system` for non-root users.
    pub as_root: bool,
}

impl SystemLayout {
    fn real(&self, logical: &Path) -> PathBuf {
        self.root.join(logical.strip_prefix("/").unwrap_or(logical))
    }

    /// `/var/lib/cloud/instances/<iid>`, through the `instance` link as
    /// upstream gets the id from the cached datasource.
    fn instance_dir(&self) -> PathBuf {
        let link = self.cloud_dir.join("instance");
        if let Ok(target) = std::fs::read_link(self.real(&link)) {
            if let Some(iid) = target.file_name() {
                return self.cloud_dir.join("instances").join(iid);
            }
        }
        link
    }

    /// The instance-data file jinja user-data renders with when `-i` is
    /// not given (the sensitive one for root, as upstream).
    pub fn default_instance_data(&self) -> PathBuf {
        let name = if self.as_root {
            "instance-data-sensitive.json"
        } else {
            "instance-data.json"
        };
        self.real(&self.run_dir.join(name))
    }

    /// The processed file when it has content, else the raw one when that
    /// has (so a rejected raw user-data is reported), else the processed.
    fn processed_or_raw(&self, processed: &str, raw: &str) -> PathBuf {
        let dir = self.instance_dir();
        let (p, r) = (dir.join(processed), dir.join(raw));
        let size = |path: &Path| std::fs::metadata(self.real(path)).map(|m| m.len()).ok();
        if size(&p) == Some(0) && size(&r).is_some_and(|n| n > 0) {
            return r;
        }
        p
    }
}

/// Runs `--system` (`args.config_file` is ignored).
pub fn run_system(args: &SchemaArgs, layout: &SystemLayout) -> Output {
    if !layout.as_root {
        return Output {
            stderr: "Error:\nUnable to read system userdata or vendordata as non-root user. Try using sudo.\n".into(),
            exit_code: 1,
            ..Output::default()
        };
    }
    let mut args = args.clone();
    if args.instance_data.is_none() {
        args.instance_data = Some(layout.default_instance_data());
    }
    let wanted = [
        (
            DataType::UserData,
            SchemaType::CloudConfig,
            layout.processed_or_raw("cloud-config.txt", "user-data.txt"),
        ),
        (
            DataType::VendorData,
            SchemaType::CloudConfig,
            layout.processed_or_raw("vendor-cloud-config.txt", "vendor-data.txt"),
        ),
        (
            DataType::Vendor2Data,
            SchemaType::CloudConfig,
            layout.processed_or_raw("vendor2-cloud-config.txt", "vendor-data2.txt"),
        ),
        (
            DataType::NetworkConfig,
            SchemaType::NetworkConfig,
            layout.instance_dir().join("network-config.json"),
        ),
    ];
    let mut parts = Vec::new();
    for (i, (data_type, schema_type, logical)) in wanted.into_iter().enumerate() {
        let real = layout.real(&logical);
        let display = logical.display().to_string();
        let bytes = match std::fs::read(&real) {
            Ok(b) => b,
            // Only user-data must exist; the others are checked when present.
            Err(_) if i == 0 => return missing_file(&display),
            Err(_) => continue,
        };
        parts.push((
            Part {
                data_type,
                schema_type,
                display,
                real,
            },
            bytes,
        ));
    }
    run_parts(&args, &parts, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(root: &Path) -> SystemLayout {
        SystemLayout {
            root: root.to_path_buf(),
            cloud_dir: "/var/lib/cloud".into(),
            run_dir: "/run/cloud-init".into(),
            as_root: true,
        }
    }

    fn seed(root: &Path, files: &[(&str, &str)]) {
        let idir = root.join("var/lib/cloud/instances/iid-1");
        std::fs::create_dir_all(&idir).unwrap_or(());
        let _ = std::os::unix::fs::symlink(
            "/var/lib/cloud/instances/iid-1",
            root.join("var/lib/cloud/instance"),
        );
        for (name, text) in files {
            std::fs::write(idir.join(name), text).unwrap_or(());
        }
    }

    fn tmp(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("ci-schema-system-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn user_data_only() {
        let root = tmp("one");
        seed(
            &root,
            &[("cloud-config.txt", "#cloud-config\nhostname: a\n")],
        );
        let out = run_system(&SchemaArgs::default(), &layout(&root));
        assert_eq!(out.stdout, "Valid schema user-data\n");
        assert_eq!(out.exit_code, 0);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn several_parts_with_headings() {
        let root = tmp("multi");
        seed(
            &root,
            &[
                ("cloud-config.txt", "#cloud-config\nhostname: 1\n"),
                ("vendor-cloud-config.txt", "#cloud-config\nruncmd: [ls]\n"),
                ("network-config.json", "{\"version\": 1, \"config\": []}"),
            ],
        );
        let out = run_system(&SchemaArgs::default(), &layout(&root));
        assert_eq!(
            out.stdout,
            "Found cloud-config data types: user-data, vendor-data, network-config\n\n\
             1. user-data at /var/lib/cloud/instances/iid-1/cloud-config.txt:\n  \
             Invalid user-data /var/lib/cloud/instances/iid-1/cloud-config.txt\n\n\
             2. vendor-data at /var/lib/cloud/instances/iid-1/vendor-cloud-config.txt:\n  \
             Valid schema vendor-data\n\n\
             3. network-config at /var/lib/cloud/instances/iid-1/network-config.json:\n  \
             Valid schema network-config\n"
        );
        assert_eq!(
            out.stderr,
            "  Error: Cloud config schema errors: hostname: 1 is not of type 'string'\n\n\
             Error: Invalid schema: user-data\n\n"
        );
        assert_eq!(out.exit_code, 1);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn json_lists_every_part() {
        let root = tmp("json");
        seed(
            &root,
            &[
                ("cloud-config.txt", "#!/bin/sh\necho hi\n"),
                ("network-config.json", "{\"version\": 1, \"config\": 5}"),
            ],
        );
        let args = SchemaArgs {
            format: crate::Format::Json,
            ..SchemaArgs::default()
        };
        let out = run_system(&args, &layout(&root));
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
        assert_eq!(out.exit_code, 1);
        assert_eq!(doc["valid"], false);
        assert_eq!(doc["files"][0]["status"], "skipped");
        assert_eq!(doc["files"][1]["type"], "network-config");
        assert_eq!(doc["files"][1]["errors"][0]["path"], "config");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn raw_user_data_when_processed_is_empty() {
        let root = tmp("raw");
        seed(
            &root,
            &[("cloud-config.txt", ""), ("user-data.txt", "hostname: x\n")],
        );
        let out = run_system(&SchemaArgs::default(), &layout(&root));
        assert_eq!(
            out.stdout,
            "Invalid user-data /var/lib/cloud/instances/iid-1/user-data.txt\n"
        );
        assert!(out.stderr.contains("Unrecognized user-data header"));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn missing_user_data_and_non_root() {
        let root = tmp("missing");
        seed(&root, &[]);
        let out = run_system(&SchemaArgs::default(), &layout(&root));
        assert_eq!(
            out.stderr,
            "Error: Config file /var/lib/cloud/instances/iid-1/cloud-config.txt does not exist\n"
        );
        assert_eq!(out.exit_code, 1);
        let mut l = layout(&root);
        l.as_root = false;
        assert!(run_system(&SchemaArgs::default(), &l)
            .stderr
            .contains("as non-root user"));
        let _ = std::fs::remove_dir_all(&root);
    }
}
