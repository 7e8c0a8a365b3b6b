//! Upstream's hardcoded defaults (`CFG_BUILTIN`) and the path defaults
//! applied when `system_info.paths` leaves a key out.

use serde_json::{json, Value};

// FreeBSD's port installs under /usr/local and runs in /var/run, as
// upstream's port patches its settings to.
pub const CLOUD_CONFIG: &str = if cfg!(target_os = "freebsd") {
    "/usr/local/etc/cloud/cloud.cfg"
} else {
    "/etc/cloud/cloud.cfg"
};
pub const DEFAULT_RUN_DIR: &str = if cfg!(target_os = "freebsd") {
    "/var/run/cloud-init"
} else {
    "/run/cloud-init"
};
pub const DEFAULT_CLOUD_DIR: &str = "/var/lib/cloud";
pub const DEFAULT_DOCS_DIR: &str = "/usr/share/doc/cloud-init/";
pub const DEFAULT_TEMPLATES_DIR: &str = if cfg!(target_os = "freebsd") {
    "/usr/local/etc/cloud/templates/"
} else {
    "/etc/cloud/templates/"
};
/// Environment variable naming one more config file.
pub const CFG_ENV_NAME: &str = "CLOUD_CFG";

/// Upstream's default `datasource_list` (order matters: detection order).
pub const DATASOURCE_LIST: &[&str] = &[
    "NoCloud",
    "ConfigDrive",
    "LXD",
    "OpenNebula",
    "DigitalOcean",
    "Azure",
    "AltCloud",
    "VMware",
    "OVF",
    "MAAS",
    "GCE",
    "OpenStack",
    "AliYun",
    "Vultr",
    "Ec2",
    "CloudSigma",
    "CloudStack",
    "SmartOS",
    "Bigstep",
    "Scaleway",
    "Hetzner",
    "IBMCloud",
    "Oracle",
    "Exoscale",
    "RbxCloud",
    "UpCloud",
    "NWCS",
    "Akamai",
    "WSL",
    "CloudCIX",
    "None",
];

/// The lowest-priority layer of every configuration.
pub fn builtin_config() -> Value {
    json!({
        "datasource_list": DATASOURCE_LIST,
        "def_log_file": "/var/log/cloud-init.log",
        "log_cfgs": [],
        "syslog_fix_perms": ["syslog:adm", "root:adm", "root:wheel", "root:root"],
        "system_info": {
            "paths": {
                "cloud_dir": DEFAULT_CLOUD_DIR,
                "docs_dir": DEFAULT_DOCS_DIR,
                "templates_dir": DEFAULT_TEMPLATES_DIR,
            },
            "distro": "ubuntu",
            "network": {"renderers": null},
        },
        "vendor_data": {"enabled": true, "prefix": []},
        "vendor_data2": {"enabled": true, "prefix": []},
    })
}

/// `system_info.paths` with upstream's defaults for missing keys. Values are
/// kept exactly as configured (no trailing-slash normalisation), as upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemPaths {
    pub cloud_dir: String,
    pub docs_dir: String,
    pub run_dir: String,
    pub templates_dir: String,
}

impl Default for SystemPaths {
    fn default() -> Self {
        SystemPaths {
            cloud_dir: DEFAULT_CLOUD_DIR.into(),
            docs_dir: DEFAULT_DOCS_DIR.into(),
            run_dir: DEFAULT_RUN_DIR.into(),
            templates_dir: DEFAULT_TEMPLATES_DIR.into(),
        }
    }
}

impl SystemPaths {
    /// From a merged config (reads `system_info.paths`). A key that is not a
    /// string falls back to its default.
    pub fn from_config(cfg: &Value) -> SystemPaths {
        SystemPaths::from_paths(paths_of(cfg))
    }

    /// From a `paths` mapping itself.
    pub fn from_paths(paths: Option<&Value>) -> SystemPaths {
        let get = |k: &str, d: &str| {
            paths
                .and_then(|p| p.get(k))
                .and_then(Value::as_str)
                .unwrap_or(d)
                .to_string()
        };
        SystemPaths {
            cloud_dir: get("cloud_dir", DEFAULT_CLOUD_DIR),
            docs_dir: get("docs_dir", DEFAULT_DOCS_DIR),
            run_dir: get("run_dir", DEFAULT_RUN_DIR),
            templates_dir: get("templates_dir", DEFAULT_TEMPLATES_DIR),
        }
    }

    /// `<run_dir>/instance-data-sensitive.json`: jinja variables for
    /// templated config files.
    pub fn instance_data_sensitive(&self) -> String {
        join(&self.run_dir, "instance-data-sensitive.json")
    }

    /// `<cloud_dir>/instance/<name>` (upstream `get_ipath_cur`).
    pub fn instance_file(&self, name: &str) -> String {
        join(&join(&self.cloud_dir, "instance"), name)
    }
}

pub(crate) fn paths_of(cfg: &Value) -> Option<&Value> {
    cfg.get("system_info").and_then(|s| s.get("paths"))
}

/// `os.path.join` for two parts where the second is relative.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() || dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_default_and_keep_values_as_given() {
        let cfg = json!({"system_info": {"paths": {"cloud_dir": "/srv/cloud/", "run_dir": 3}}});
        let p = SystemPaths::from_config(&cfg);
        assert_eq!(p.cloud_dir, "/srv/cloud/");
        assert_eq!(p.run_dir, DEFAULT_RUN_DIR);
        assert_eq!(
            p.instance_file("cloud-config.txt"),
            "/srv/cloud/instance/cloud-config.txt"
        );
        assert_eq!(
            SystemPaths::default().instance_data_sensitive(),
            "/run/cloud-init/instance-data-sensitive.json"
        );
        assert_eq!(builtin_config()["datasource_list"][30], "None");
    }
}
