//! WSL: the Windows user's profile (reached through the drvfs mounts and
//! Windows interop) holds a `.cloud-init` directory with user data that
//! applies to this instance.

use super::{Found, Probe};
use std::os::unix::fs::PermissionsExt;

pub(super) fn wsl(p: &mut Probe) -> Found {
    if p.facts.uname_kernel_name != "Linux" || p.facts.virt != "wsl" {
        return Found::No;
    }
    let mounts = p
        .host
        .read("/proc/mounts")
        .map(|b| drvfs_mountpoints(&String::from_utf8_lossy(&b)))
        .unwrap_or_default();
    if mounts.is_empty() {
        p.log.debug(
            1,
            "WSL datasource requires access to Windows drives mount points",
        );
        return Found::No;
    }
    let Some(profile) = profile_dir(p, &mounts) else {
        p.log.debug(1, "%USERPROFILE% directory not found");
        return Found::No;
    };
    let dir_exists = |rel: &str| p.host.is_dir(format!("{profile}/{rel}"));
    if !dir_exists(".cloud-init/") && !dir_exists(".ubuntupro/.cloud-init/") {
        p.log
            .debug(1, format!("No .cloud-init directories found in {profile}"));
        return Found::No;
    }
    let instance = instance_name(p);
    let os = os_release(p);
    let get = |k: &str| {
        os.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if get("NAME") == "Ubuntu" {
        let dir = format!("{profile}/.ubuntupro/.cloud-init");
        for name in [format!("{instance}.user-data"), "agent.yaml".into()] {
            let candidate = format!("{dir}/{name}");
            if p.is_file(&candidate) {
                p.log.debug(
                    1,
                    format!("Found applicable pro data file for this instance at: {candidate}"),
                );
                return Found::Yes;
            }
        }
    }
    let or = |v: String, d: String| if v.is_empty() { d } else { v };
    let id = or(get("ID"), "linux".into());
    let version = or(get("VERSION_ID"), get("VERSION_CODENAME"));
    let dir = format!("{profile}/.cloud-init");
    for name in [
        format!("{instance}.user-data"),
        format!("{id}-{version}.user-data"),
        format!("{id}-all.user-data"),
        "default.user-data".into(),
    ] {
        let candidate = format!("{dir}/{name}");
        if p.is_file(&candidate) {
            p.log.debug(
                1,
                format!("Found applicable user data file for this instance at: {candidate}"),
            );
            return Found::Yes;
        }
    }
    p.log.debug(
        1,
        format!("Didn't find any applicable user data file for instance named {instance} in {dir}"),
    );
    Found::No
}

/// Mount points of 9p `drvfs` mounts (the Windows drives).
fn drvfs_mountpoints(mounts: &str) -> Vec<String> {
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.splitn(4, ' ').collect();
            let [dev, point, fstype, opts] = f.as_slice() else {
                return None;
            };
            let solid = |s: &str| !s.contains(char::is_whitespace);
            let opts = opts.split(char::is_whitespace).next().unwrap_or("");
            (solid(dev) && solid(point) && *fstype == "9p" && opts.contains("aname=drvfs;"))
                .then(|| point.to_string())
        })
        .collect()
}

/// `%USERPROFILE%` from the first drive whose `cmd.exe` can be run,
/// translated to a Linux path by `wslpath`.
fn profile_dir(p: &Probe, mounts: &[String]) -> Option<String> {
    for m in mounts {
        let cmdexe = format!("{m}/Windows/System32/cmd.exe");
        let runnable = std::fs::metadata(p.host.resolve(&cmdexe))
            .is_ok_and(|md| md.is_file() && md.permissions().mode() & 0o111 != 0);
        if !runnable {
            continue;
        }
        let out = stdout_of(p, &["/init", &cmdexe, "/c", "echo %USERPROFILE%"]);
        let mut dir = out.as_str();
        if let Some(c) = dir.chars().last().filter(|c| c.is_control()) {
            dir = &dir[..dir.len() - c.len_utf8()];
        }
        if !dir.is_empty() {
            let linux = stdout_of(p, &["wslpath", "-au", dir]);
            return (!linux.is_empty()).then_some(linux);
        }
    }
    None
}

/// `$(cmd)`: stdout without trailing newlines; empty when it cannot run.
fn stdout_of(p: &Probe, argv: &[&str]) -> String {
    let out = p
        .host
        .runner()
        .execute(p.host, &ci_host::Cmd::new(argv.iter().copied()))
        .map(|o| o.stdout_str())
        .unwrap_or_default();
    out.trim_end_matches('\n').to_string()
}

/// `//wsl.localhost/Ubuntu/` gives `Ubuntu`.
fn instance_name(p: &Probe) -> String {
    let unc = stdout_of(p, &["wslpath", "-am", "/"]);
    let rest = unc
        .strip_prefix("//")
        .and_then(|r| r.split_once('/'))
        .map_or(unc.as_str(), |(_, r)| r);
    rest.strip_suffix('/').unwrap_or(rest).to_string()
}

/// KEY=value pairs of /etc/os-release, quotes removed.
fn os_release(p: &Probe) -> Vec<(String, String)> {
    let text = p.host.read_to_string("/etc/os-release").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = crate::shellish::unquote(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Facts;
    use crate::log::DiLog;
    use crate::Env;
    use ci_host::{Cmd, CmdError, CmdOutput, Host, Runner, WriteOpts};
    use std::sync::Arc;

    /// Windows interop as WSL answers it.
    struct Interop;

    impl Runner for Interop {
        fn execute(&self, _: &Host, cmd: &Cmd) -> Result<CmdOutput, CmdError> {
            let argv: Vec<&str> = cmd.argv.iter().map(String::as_str).collect();
            let stdout: &[u8] = match argv.as_slice() {
                ["/init", _, "/c", "echo %USERPROFILE%"] => b"C:\\Users\\me\r\n",
                ["wslpath", "-au", "C:\\Users\\me"] => b"/mnt/c/Users/me\n",
                ["wslpath", "-am", "/"] => b"//wsl.localhost/Ubuntu-24.04/\n",
                _ => return Err(CmdError::Empty),
            };
            Ok(CmdOutput {
                status: 0,
                stdout: stdout.to_vec(),
                stderr: Vec::new(),
            })
        }
    }

    fn wsl_answer(files: &[(&str, &str)]) -> (Found, String) {
        let d = tempfile::tempdir().unwrap();
        let h = Host::with_runner(d.path(), Arc::new(Interop));
        let w = |p: &str, t: &str| {
            h.write_atomic(p, t.as_bytes(), &WriteOpts::default())
                .unwrap()
        };
        w(
            "/proc/mounts",
            "C:\\134 /mnt/c 9p rw,aname=drvfs;path=C:\\;uid=1000 0 0\n",
        );
        w("/mnt/c/Windows/System32/cmd.exe", "MZ");
        h.set_mode("/mnt/c/Windows/System32/cmd.exe", 0o755)
            .unwrap();
        w(
            "/etc/os-release",
            "NAME=\"Ubuntu\"\nID=ubuntu\nVERSION_ID=\"24.04\"\n",
        );
        for (p, t) in files {
            w(p, t);
        }
        let f = Facts {
            uname_kernel_name: "Linux".into(),
            virt: "wsl".into(),
            ..Facts::default()
        };
        let (env, cfg, list) = (Env::default(), Vec::new(), Vec::new());
        let mut log = DiLog::new(1);
        let found = wsl(&mut Probe::new(&h, &env, &f, &cfg, &list, &mut log));
        (found, log.text().to_string())
    }

    #[test]
    fn user_data_for_this_distro_is_found() {
        let (found, log) = wsl_answer(&[(
            "/mnt/c/Users/me/.cloud-init/ubuntu-24.04.user-data",
            "#cloud-config\n",
        )]);
        assert_eq!(found, Found::Yes);
        assert_eq!(
            log,
            "Found applicable user data file for this instance at: \
             /mnt/c/Users/me/.cloud-init/ubuntu-24.04.user-data\n"
        );
        let (found, log) = wsl_answer(&[(
            "/mnt/c/Users/me/.ubuntupro/.cloud-init/Ubuntu-24.04.user-data",
            "#cloud-config\n",
        )]);
        assert_eq!(found, Found::Yes);
        assert!(log.starts_with("Found applicable pro data file"), "{log}");
    }

    #[test]
    fn other_instances_data_is_not_ours() {
        let (found, log) = wsl_answer(&[(
            "/mnt/c/Users/me/.cloud-init/Debian.user-data",
            "#cloud-config\n",
        )]);
        assert_eq!(found, Found::No);
        assert_eq!(
            log,
            "Didn't find any applicable user data file for instance named \
             Ubuntu-24.04 in /mnt/c/Users/me/.cloud-init\n"
        );
    }

    #[test]
    fn drvfs_mounts() {
        let m = "C:\\134 /mnt/c 9p rw,noatime,aname=drvfs;path=C:\\;uid=1000 0 0\n\
                 none /mnt/wsl tmpfs rw 0 0\n\
                 D: /mnt/d 9p rw,aname=drvfs;path=D: 0 0\n";
        assert_eq!(drvfs_mountpoints(m), vec!["/mnt/c", "/mnt/d"]);
        assert!(drvfs_mountpoints("x /y 9p rw,aname=other 0 0\n").is_empty());
    }
}
