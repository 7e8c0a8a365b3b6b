//! `cloud-init clean`: forget this instance so the next boot runs as a
//! first boot (golden-image preparation).

use crate::paths::Paths;
use crate::CmdOutput;
use ci_host::{Cmd, Host, WriteOpts};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Files the network renderers write (`-c network`); `*` matches within a name.
pub const GEN_NET_CONFIG_FILES: [&str; 6] = [
    "/etc/netplan/50-cloud-init.yaml",
    "/etc/NetworkManager/conf.d/99-cloud-init.conf",
    "/etc/NetworkManager/conf.d/30-cloud-init-ip6-addr-gen-mode.conf",
    "/etc/NetworkManager/system-connections/cloud-init-*.nmconnection",
    "/etc/systemd/network/10-cloud-init-*.network",
    "/etc/network/interfaces.d/50-cloud-init.cfg",
];

/// `-c ssh_config`.
pub const GEN_SSH_CONFIG_FILES: [&str; 1] = ["/etc/ssh/sshd_config.d/50-cloud-init.conf"];

/// Scripts run after cleaning.
pub const CLEAN_RUNPARTS_DIR: &str = if cfg!(target_os = "freebsd") {
    "/usr/local/etc/cloud/clean.d"
} else {
    "/etc/cloud/clean.d"
};

pub const ETC_MACHINE_ID: &str = "/etc/machine-id";

/// `-c/--configs` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    All,
    SshConfig,
    Network,
    /// The datasource's own clean-up (the caller runs it; nothing here).
    Datasource,
    /// cloud-init's lines in `/etc/fstab` (`comment=cloudconfig`).
    Fstab,
}

impl ConfigKind {
    pub fn parse(s: &str) -> Option<ConfigKind> {
        match s {
            "all" => Some(ConfigKind::All),
            "ssh_config" => Some(ConfigKind::SshConfig),
            "network" => Some(ConfigKind::Network),
            "datasource" => Some(ConfigKind::Datasource),
            "fstab" => Some(ConfigKind::Fstab),
            _ => None,
        }
    }
}

/// Options of `cloud-init clean` (`--reboot` is the caller's, after exit 0).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanArgs {
    /// `--logs`: delete these (from [`crate::log::config_logfiles`]).
    pub logs: Option<Vec<PathBuf>>,
    pub seed: bool,
    pub configs: Vec<ConfigKind>,
    pub machine_id: bool,
    /// systemd writes `uninitialized` to machine-id; others delete it.
    pub uses_systemd: bool,
}

/// Target paths matching `pattern` (a `*` in the last component only).
fn glob_one(host: &Host, pattern: &str) -> Vec<PathBuf> {
    let p = Path::new(pattern);
    let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
        return Vec::new();
    };
    let name = name.to_string_lossy();
    match name.split_once('*') {
        None => {
            if host.lexists(p) {
                vec![p.to_path_buf()]
            } else {
                Vec::new()
            }
        }
        Some((pre, post)) => host
            .list_dir(dir)
            .into_iter()
            .filter(|n| {
                n.len() >= pre.len() + post.len() && n.starts_with(pre) && n.ends_with(post)
            })
            .map(|n| dir.join(n))
            .collect(),
    }
}

fn wants(args: &CleanArgs, kind: ConfigKind) -> bool {
    args.configs.contains(&ConfigKind::All) || args.configs.contains(&kind)
}

/// `remove_artifacts` + `--machine-id`: exit 0, or 1 with upstream's
/// `Error:` text on stderr.
pub fn run_clean(host: &Host, paths: &Paths, args: &CleanArgs) -> CmdOutput {
    let mut out = remove_artifacts(host, paths, args);
    if args.machine_id {
        let res = if args.uses_systemd {
            host.write_atomic(ETC_MACHINE_ID, b"uninitialized\n", &WriteOpts::mode(0o444))
        } else {
            host.remove_file(ETC_MACHINE_ID)
        };
        if let Err(e) = res {
            out.stderr
                .push_str(&format!("Error:\nCould not reset {ETC_MACHINE_ID}: {e}\n"));
            out.exit_code = 1;
        }
    }
    out
}

fn remove_artifacts(host: &Host, paths: &Paths, args: &CleanArgs) -> CmdOutput {
    // Deleting a file that is already gone is not an error, as upstream's del_file.
    for f in args.logs.iter().flatten() {
        let _ = host.remove_file(f);
    }
    if wants(args, ConfigKind::Network) {
        for pat in GEN_NET_CONFIG_FILES {
            for f in glob_one(host, pat) {
                let _ = host.remove_file(f);
            }
        }
    }
    if wants(args, ConfigKind::SshConfig) {
        for f in GEN_SSH_CONFIG_FILES {
            let _ = host.remove_file(f);
        }
    }
    if wants(args, ConfigKind::Fstab) {
        if let Ok(text) = host.read_to_string("/etc/fstab") {
            let kept: String = text
                .split_inclusive('\n')
                .filter(|l| !l.contains("comment=cloudconfig"))
                .collect();
            if kept != text {
                if let Err(e) =
                    host.write_atomic("/etc/fstab", kept.as_bytes(), &WriteOpts::mode(0o644))
                {
                    return CmdOutput::error(format!(
                        "Error:\nCould not remove cloud-init lines from /etc/fstab: {e}\n"
                    ));
                }
            }
        }
    }
    if !host.is_dir(&paths.cloud_dir) {
        return CmdOutput::default();
    }
    let seed = paths.cloud_dir.join("seed");
    for name in host.list_dir(&paths.cloud_dir) {
        let p = paths.cloud_dir.join(&name);
        if p == seed && !args.seed {
            continue;
        }
        let real = host.path(&p);
        let res = if real.is_dir() && !real.is_symlink() {
            host.remove_dir_all(&p)
        } else {
            host.remove_file(&p)
        };
        if let Err(e) = res {
            return CmdOutput::error(format!("Error:\nCould not remove {}: {e}\n", p.display()));
        }
    }
    if let Err(e) = run_parts(host, Path::new(CLEAN_RUNPARTS_DIR)) {
        return CmdOutput::error(format!(
            "Error:\nFailure during run-parts of {CLEAN_RUNPARTS_DIR}: {e}\n"
        ));
    }
    CmdOutput::default()
}

/// `subp.runparts`: run the executables of `dir` (target path) in name
/// order inside the target; warn about non-executable files; an error
/// names the failures.
pub fn run_parts(host: &Host, dir: &Path) -> Result<(), String> {
    if !host.is_dir(dir) {
        return Ok(());
    }
    let mut failed: Vec<String> = Vec::new();
    let mut attempted = 0usize;
    for name in host.list_dir(dir) {
        let p = dir.join(&name);
        let md = match std::fs::metadata(host.resolve(&p)) {
            Ok(m) => m,
            Err(_) => continue,
        };
        if md.is_file() && md.permissions().mode() & 0o111 != 0 {
            attempted += 1;
            let cmd = Cmd::new([p.to_string_lossy().into_owned()]).in_target();
            if let Err(e) = host.run(&cmd) {
                log::debug!("{e}");
                failed.push(name);
            }
        } else if md.is_file() {
            log::warn!(
                "skipping {} as its not executable or the underlying file system is mounted without executable permissions.",
                p.display()
            );
        } else {
            log::debug!("Not executing special file [{}]", p.display());
        }
    }
    if !failed.is_empty() && attempted > 0 {
        return Err(format!(
            "Runparts: {} failures ({}) in {attempted} attempted commands",
            failed.len(),
            failed.join(",")
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ci_host::RecordingRunner;
    use std::sync::Arc;

    fn touch(h: &Host, p: &str) {
        h.write_atomic(p, b"x\n", &WriteOpts::default()).unwrap();
    }

    #[test]
    fn cleans_state_configs_and_runs_clean_d() {
        let d = tempfile::tempdir().unwrap();
        let rec = Arc::new(RecordingRunner::new());
        let h = Host::with_runner(d.path(), rec.clone());
        let paths = Paths::default();
        for f in [
            "/var/lib/cloud/instances/i-1/sem/config_x",
            "/var/lib/cloud/data/status.json",
            "/var/lib/cloud/seed/nocloud/user-data",
            "/etc/netplan/50-cloud-init.yaml",
            "/etc/systemd/network/10-cloud-init-eth0.network",
            "/etc/systemd/network/20-mine.network",
            "/etc/ssh/sshd_config.d/50-cloud-init.conf",
            "/var/log/cloud-init.log",
            "/etc/cloud/clean.d/10-exe",
            "/etc/cloud/clean.d/20-plain",
        ] {
            touch(&h, f);
        }
        h.set_mode("/etc/cloud/clean.d/10-exe", 0o755).unwrap();
        h.symlink("/var/lib/cloud/instances/i-1", "/var/lib/cloud/instance")
            .unwrap();
        h.write_atomic(
            "/etc/fstab",
            b"UUID=1 / ext4 defaults 0 1\n/dev/vdb /mnt auto defaults,nofail,x-systemd.requires=cloud-init.service,_netdev,comment=cloudconfig 0 2\n",
            &WriteOpts::default(),
        )
        .unwrap();
        let args = CleanArgs {
            logs: Some(vec![PathBuf::from("/var/log/cloud-init.log")]),
            configs: vec![ConfigKind::Network, ConfigKind::Fstab],
            machine_id: true,
            uses_systemd: true,
            ..CleanArgs::default()
        };
        let out = run_clean(&h, &paths, &args);
        assert_eq!(out.exit_code, 0, "{out:?}");
        assert_eq!(h.list_dir("/var/lib/cloud"), vec!["seed".to_string()]);
        assert!(!h.exists("/etc/netplan/50-cloud-init.yaml"));
        assert!(!h.exists("/etc/systemd/network/10-cloud-init-eth0.network"));
        assert!(h.exists("/etc/systemd/network/20-mine.network"));
        assert!(h.exists("/etc/ssh/sshd_config.d/50-cloud-init.conf"));
        assert!(!h.exists("/var/log/cloud-init.log"));
        assert_eq!(
            h.read_to_string("/etc/fstab").unwrap(),
            "UUID=1 / ext4 defaults 0 1\n"
        );
        assert_eq!(h.read_to_string(ETC_MACHINE_ID).unwrap(), "uninitialized\n");
        assert_eq!(rec.lines(), vec!["/etc/cloud/clean.d/10-exe".to_string()]);

        let out = run_clean(
            &h,
            &paths,
            &CleanArgs {
                seed: true,
                configs: vec![ConfigKind::All],
                ..CleanArgs::default()
            },
        );
        assert_eq!(out.exit_code, 0);
        assert!(h.list_dir("/var/lib/cloud").is_empty());
        assert!(!h.exists("/etc/ssh/sshd_config.d/50-cloud-init.conf"));
        let out = run_clean(
            &h,
            &paths,
            &CleanArgs {
                machine_id: true,
                ..CleanArgs::default()
            },
        );
        assert_eq!(out.exit_code, 0);
        assert!(!h.exists(ETC_MACHINE_ID));
    }

    #[test]
    fn failing_clean_d_script_is_exit_1() {
        let d = tempfile::tempdir().unwrap();
        let rec = Arc::new(RecordingRunner::new());
        rec.answer("/etc/cloud/clean.d/bad", 3, b"");
        let h = Host::with_runner(d.path(), rec);
        touch(&h, "/etc/cloud/clean.d/bad");
        h.set_mode("/etc/cloud/clean.d/bad", 0o755).unwrap();
        h.create_dir_all("/var/lib/cloud", 0o755).unwrap();
        let out = run_clean(&h, &Paths::default(), &CleanArgs::default());
        assert_eq!(out.exit_code, 1);
        assert_eq!(
            out.stderr,
            "Error:\nFailure during run-parts of /etc/cloud/clean.d: Runparts: 1 failures (bad) in 1 attempted commands\n"
        );
    }
}
