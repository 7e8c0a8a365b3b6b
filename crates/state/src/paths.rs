//! Upstream's state layout. Every path is an absolute path on the target;
//! resolve it through `ci_host::Host::path`.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// `/var/lib/cloud` (`system_info.paths.cloud_dir`).
    pub cloud_dir: PathBuf,
    /// `/run/cloud-init` (`system_info.paths.run_dir`).
    pub run_dir: PathBuf,
    /// `/etc/cloud/templates/`.
    pub templates_dir: PathBuf,
    /// Current instance id, once known. `/` in ids becomes `_` on disk.
    pub instance_id: Option<String>,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            cloud_dir: PathBuf::from("/var/lib/cloud"),
            // FreeBSD's port: /var/run and /usr/local (as its cloud.cfg says).
            run_dir: PathBuf::from(if cfg!(target_os = "freebsd") {
                "/var/run/cloud-init"
            } else {
                "/run/cloud-init"
            }),
            templates_dir: PathBuf::from(if cfg!(target_os = "freebsd") {
                "/usr/local/etc/cloud/templates"
            } else {
                "/etc/cloud/templates"
            }),
            instance_id: None,
        }
    }
}

impl Paths {
    pub fn with_instance(mut self, iid: &str) -> Self {
        self.instance_id = Some(iid.to_string());
        self
    }

    /// `/var/lib/cloud/instances/<iid>` (or the `instance` link before the id is known).
    pub fn instance_dir(&self) -> PathBuf {
        match &self.instance_id {
            Some(iid) => self.cloud_dir.join("instances").join(iid.replace('/', "_")),
            None => self.instance_link(),
        }
    }

    /// The `/var/lib/cloud/instance` symlink.
    pub fn instance_link(&self) -> PathBuf {
        self.cloud_dir.join("instance")
    }

    /// A file in the instance dir (`user-data.txt`, `cloud-config.txt`, `sem/...`).
    pub fn instance_file(&self, name: &str) -> PathBuf {
        self.instance_dir().join(name)
    }

    /// `/var/lib/cloud/data/<name>`.
    pub fn data_file(&self, name: &str) -> PathBuf {
        self.cloud_dir.join("data").join(name)
    }

    /// `/var/lib/cloud/sem` (per-once semaphores).
    pub fn sem_dir(&self) -> PathBuf {
        self.cloud_dir.join("sem")
    }

    /// `/var/lib/cloud/scripts/<kind>` for `per-boot`, `per-instance`, `per-once`, `vendor`.
    pub fn scripts_dir(&self, kind: &str) -> PathBuf {
        self.cloud_dir.join("scripts").join(kind)
    }

    /// `/var/lib/cloud/instances/<iid>/scripts` (user scripts and `runcmd`).
    pub fn instance_scripts_dir(&self) -> PathBuf {
        self.instance_dir().join("scripts")
    }

    /// `/var/lib/cloud/seed/<ds>`.
    pub fn seed_dir(&self, ds: &str) -> PathBuf {
        self.cloud_dir.join("seed").join(ds)
    }

    /// `/run/cloud-init/<name>`.
    pub fn run_file(&self, name: &str) -> PathBuf {
        self.run_dir.join(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_upstream() {
        let p = Paths::default().with_instance("i-abc/def");
        assert_eq!(
            p.instance_file("sem/config_runcmd"),
            PathBuf::from("/var/lib/cloud/instances/i-abc_def/sem/config_runcmd")
        );
        assert_eq!(
            p.data_file("instance-id"),
            PathBuf::from("/var/lib/cloud/data/instance-id")
        );
        assert_eq!(
            p.run_file("status.json"),
            PathBuf::from("/run/cloud-init/status.json")
        );
        assert_eq!(
            Paths::default().instance_dir(),
            PathBuf::from("/var/lib/cloud/instance")
        );
    }
}
