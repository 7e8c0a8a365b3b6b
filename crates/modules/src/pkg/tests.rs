use super::apt::{run_when_unlocked, LockWait, RealWait};
use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;
use std::cell::Cell;
use std::time::Duration;

const APT: &str = "apt-get --option=Dpkg::Options::=--force-confold --option=Dpkg::options::=--force-unsafe-io --assume-yes --quiet";

/// A target of `distro` holding `tools` in /usr/bin.
fn env(cfg: serde_json::Value, tools: &[&str]) -> TestEnv {
    let env = TestEnv::new(cfg);
    for t in tools {
        env.write_mode(&format!("/usr/bin/{t}"), "", 0o755);
    }
    env
}

fn distro(name: &str, tools: &[&str]) -> TestEnv {
    env(json!({"system_info": {"distro": name}}), tools)
}

fn pkgs(v: serde_json::Value) -> Vec<Value> {
    v.as_array().unwrap().clone()
}

#[test]
fn debian_updates_once_then_installs_what_apt_lists_with_its_environment() {
    let env = distro("debian", &["apt-get", "apt-cache"]);
    env.rec.answer("apt-cache", 0, b"pwgen\nmg\nlibfoo\n");
    let ctx = env.ctx("t");
    install_package_list(
        &ctx,
        &pkgs(json!(["pwgen", ["libfoo", "1.2"], {"apt": ["mg"]}, "pwgen"])),
    )
    .unwrap();
    assert_eq!(
        env.rec.lines(),
        [
            format!("{APT} update"),
            "apt-cache pkgnames".into(),
            // The mapping's packages first, then the generic ones, each once.
            format!("{APT} install mg pwgen libfoo=1.2"),
        ]
    );
    for c in env.rec.calls().iter().filter(|c| c.argv[0] == "apt-get") {
        assert_eq!(
            c.env,
            [("DEBIAN_FRONTEND".to_string(), "noninteractive".to_string())]
        );
    }
    // The semaphore keeps the next install from updating again.
    install_packages(&ctx, &["mg".into()]).unwrap();
    assert_eq!(
        env.rec.lines().last().unwrap(),
        &format!("{APT} install mg")
    );
    assert_eq!(env.rec.lines().len(), 4);
}

#[test]
fn debian_unknown_packages_are_skipped_and_reported_but_pinned_ones_are_tried() {
    logcap::init();
    let env = distro("debian", &["apt-get", "apt-cache"]);
    env.rec.answer("apt-cache", 0, b"mg\n");
    let e = install_package_list(&env.ctx("t"), &pkgs(json!(["nope", ["libx", "2"], "mg"])))
        .unwrap_err();
    assert_eq!(e.py_class(), "PackageInstallerError");
    assert_eq!(
        e.to_string(),
        "Failed to install the following packages: {'nope', 'libx'}. See associated package manager logs for more details."
    );
    // Upstream compares `name=version` with bare names, so libx=2 stays.
    assert_eq!(env.rec.lines()[2], format!("{APT} install libx=2 mg"));
    assert!(logcap::all().contains(
        &"Failed to install the following packages: ['nope', 'libx']. See associated package manager logs for more details.".to_string()
    ));
}

#[test]
fn debian_without_apt_fails_every_package_without_running_anything() {
    let env = distro("debian", &[]);
    let e = install_package_list(&env.ctx("t"), &pkgs(json!(["a", ["b", "1"]]))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Failed to install the following packages: {'a', ('b', '1')}. See associated package manager logs for more details."
    );
    assert!(env.rec.calls().is_empty());
}

#[test]
fn debian_sends_snap_mappings_to_snap_one_package_at_a_time() {
    let env = distro("debian", &["apt-get", "apt-cache", "snap"]);
    env.rec.answer("apt-cache", 0, b"mg\n");
    install_package_list(
        &env.ctx("t"),
        &pkgs(json!([{"apt": ["mg"]}, {"snap": ["certbot", ["juju", "--edge"], ["lxd", "--channel=5.15/stable"]]}])),
    )
    .unwrap();
    let lines = env.rec.lines();
    assert_eq!(
        lines[2..],
        [
            format!("{APT} install mg"),
            "snap install certbot".into(),
            "snap install juju --edge".into(),
            "snap install lxd --channel=5.15/stable".into(),
        ]
    );
}

#[test]
fn debian_snap_mapping_without_snap_fails_those_packages() {
    let env = distro("debian", &["apt-get", "apt-cache"]);
    let e = install_package_list(
        &env.ctx("t"),
        &pkgs(json!([{"snap": ["certbot", ["juju", "--edge"]]}])),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Failed to install the following packages: {'certbot', 'juju=--edge'}. See associated package manager logs for more details."
    );
    // apt had nothing to do: no update either.
    assert!(env.rec.calls().is_empty());
}

#[test]
fn unknown_manager_is_logged_and_bad_entries_are_value_errors() {
    logcap::init();
    let env = distro("debian", &["apt-get", "apt-cache"]);
    install_package_list(&env.ctx("t"), &pkgs(json!([{"brew": ["x"]}]))).unwrap();
    assert!(logcap::all().contains(
        &"Cannot install packages under 'brew' as it is not a supported package manager!"
            .to_string()
    ));
    let e = install_package_list(&env.ctx("t"), &pkgs(json!([["a", "b", "c"]]))).unwrap_err();
    assert_eq!(e.py_class(), "ValueError");
    assert_eq!(
        e.to_string(),
        "Invalid 'packages' yaml specification. Check schema definition."
    );
}

#[test]
fn ubuntu_retries_what_apt_lacks_with_snap_and_refreshes_snaps_on_upgrade() {
    let env = distro("ubuntu", &["apt-get", "apt-cache", "snap"]);
    env.rec.answer("apt-cache", 0, b"");
    env.rec.answer("snap", 0, b"{}");
    let ctx = env.ctx("t");
    install_package_list(&ctx, &pkgs(json!(["hello"]))).unwrap();
    assert_eq!(env.rec.lines()[2], "snap install hello");
    upgrade_packages(&ctx).unwrap();
    assert_eq!(
        env.rec.lines()[3..],
        [
            format!("{APT} dist-upgrade"),
            "snap get system -d".into(),
            "snap refresh".into()
        ]
    );
}

#[test]
fn ubuntu_skips_the_snap_refresh_held_forever() {
    let env = distro("ubuntu", &["apt-get", "snap"]);
    env.rec
        .answer("snap", 0, br#"{"refresh": {"hold": "forever"}}"#);
    upgrade_packages(&env.ctx("t")).unwrap();
    assert_eq!(
        env.rec.lines(),
        [format!("{APT} dist-upgrade"), "snap get system -d".into()]
    );
}

#[test]
fn apt_config_wrapper_command_and_upgrade_subcommand() {
    let env = distro("debian", &["apt-get", "eatmydata"]);
    upgrade_packages(&env.ctx("t")).unwrap();
    assert_eq!(env.rec.lines(), [format!("eatmydata {APT} dist-upgrade")]);

    let env = env_cfg(
        json!({"apt_get_wrapper": {"enabled": false, "command": "eatmydata"},
        "apt_get_upgrade_subcommand": "upgrade"}),
    );
    upgrade_packages(&env.ctx("t")).unwrap();
    assert_eq!(env.rec.lines(), [format!("{APT} upgrade")]);

    let env = env_cfg(
        json!({"apt_get_wrapper": {"enabled": true, "command": ["nice", "-n1"]},
        "apt_get_command": ["apt-get", "-y"]}),
    );
    env.write_mode("/usr/bin/nice", "", 0o755);
    upgrade_packages(&env.ctx("t")).unwrap();
    assert_eq!(env.rec.lines(), ["nice -n1 apt-get -y dist-upgrade"]);

    let env = env_cfg(json!({"apt_get_wrapper": {"enabled": true, "command": 5}}));
    let e = upgrade_packages(&env.ctx("t")).unwrap_err();
    assert_eq!(e.py_class(), "TypeError");
    assert_eq!(
        e.to_string(),
        "apt_wrapper command must be a string or list"
    );

    // Top-level keys are not the distro's: ignored, as upstream does.
    let env = self::env(
        json!({"system_info": {"distro": "debian"}, "apt_get_upgrade_subcommand": "upgrade"}),
        &["apt-get"],
    );
    upgrade_packages(&env.ctx("t")).unwrap();
    assert_eq!(env.rec.lines(), [format!("{APT} dist-upgrade")]);

    let e = package_command(&env_cfg(json!({})).ctx("t"), "install", &[], &[]).unwrap_err();
    assert_eq!(e.to_string(), "Unable to handle install command");
}

/// Debian with `sys` as its `system_info`, where upstream reads apt's
/// settings from.
fn env_cfg(mut sys: serde_json::Value) -> TestEnv {
    sys["distro"] = json!("debian");
    env(json!({"system_info": sys}), &["apt-get", "eatmydata"])
}

#[test]
fn debian_update_failure_is_logged_and_force_runs_again() {
    logcap::init();
    let env = distro("debian", &["apt-get"]);
    let ctx = env.ctx("t");
    env.rec.answer("apt-get", 100, b"");
    update_package_sources(&ctx, false).unwrap();
    assert!(logcap::warnings()
        .iter()
        .any(|w| w.starts_with("Failed to update package using apt: Unexpected error")));
    update_package_sources(&ctx, false).unwrap();
    assert_eq!(env.rec.lines().len(), 1, "the semaphore holds");
    update_package_sources(&ctx, true).unwrap();
    assert_eq!(env.rec.lines().len(), 2, "force ignores it");
    assert!(env
        .host
        .exists(env.paths.instance_file("sem/update_sources")));
}

#[test]
fn rhel_uses_dnf_or_yum_with_dash_versions() {
    let env = distro("rhel", &["dnf"]);
    let ctx = env.ctx("t");
    update_package_sources(&ctx, false).unwrap();
    upgrade_packages(&ctx).unwrap();
    install_package_list(&ctx, &pkgs(json!([["httpd", "2.4"], "vim", ["tmux", ""]]))).unwrap();
    assert_eq!(
        env.rec.lines(),
        [
            "dnf -y makecache",
            "dnf -y upgrade",
            "dnf -y install httpd-2.4 vim tmux"
        ]
    );
    let env = distro("centos", &["yum"]);
    install_packages(&env.ctx("t"), &["vim".into()]).unwrap();
    assert_eq!(env.rec.lines(), ["yum -t -y install vim"]);
    // Mappings are Debian's: elsewhere upstream rejects them.
    let e = install_package_list(&env.ctx("t"), &pkgs(json!([{"apt": ["x"]}]))).unwrap_err();
    assert_eq!(e.to_string(), "Invalid package type.");
    let e = install_package_list(&env.ctx("t"), &pkgs(json!([[]]))).unwrap_err();
    assert_eq!(e.to_string(), "Invalid package & version tuple.");
}

#[test]
fn rhel_failures_are_raised() {
    let env = distro("fedora", &["dnf"]);
    env.rec.answer("dnf", 1, b"");
    let e = install_packages(&env.ctx("t"), &["x".into()]).unwrap_err();
    assert_eq!(e.py_class(), "ProcessExecutionError");
    let e = update_package_sources(&env.ctx("t"), false).unwrap_err();
    assert!(e
        .to_string()
        .contains("Command: ['dnf', '-y', 'makecache']"));
}

#[test]
fn photon_logs_failures_instead_of_raising_and_does_not_refresh_first() {
    logcap::init();
    let env = distro("photon", &["tdnf"]);
    env.rec.answer("tdnf", 1, b"");
    install_package_list(&env.ctx("t"), &pkgs(json!([["a", "1"]]))).unwrap();
    assert_eq!(env.rec.lines(), ["tdnf -y install a-1"]);
    assert!(logcap::all().contains(&"Error while installing packages: None".to_string()));
}

#[test]
fn suse_uses_zypper_or_transactional_update_on_btrfs() {
    let env = distro("opensuse-leap", &["zypper"]);
    let ctx = env.ctx("t");
    update_package_sources(&ctx, false).unwrap();
    upgrade_packages(&ctx).unwrap();
    install_package_list(&ctx, &pkgs(json!(["vim", ["tmux", "3.4"]]))).unwrap();
    assert_eq!(
        env.rec.lines(),
        [
            "zypper --non-interactive refresh",
            "zypper --non-interactive update",
            "zypper --non-interactive install --auto-agree-with-licenses vim tmux-3.4"
        ]
    );
    let env = distro("sle-micro", &["zypper", "transactional-update"]);
    env.write_mode("/usr/sbin/transactional-update", "", 0o755);
    env.write(
        "/proc/self/mountinfo",
        "22 1 0:21 / / rw,relatime shared:1 - btrfs /dev/vda2 rw\n",
    );
    env.write("/proc/mounts", "/dev/vda2 / btrfs rw,relatime 0 0\n");
    let ctx = env.ctx("t");
    install_packages(&ctx, &["vim".into()]).unwrap();
    upgrade_packages(&ctx).unwrap();
    update_package_sources(&ctx, false).unwrap();
    assert_eq!(
        env.rec.lines(),
        [
            "transactional-update --non-interactive --drop-if-no-change pkg install --auto-agree-with-licenses vim",
            "transactional-update --non-interactive --drop-if-no-change up",
            "zypper --non-interactive refresh"
        ]
    );
}

#[test]
fn suse_read_only_root_without_transactional_update_does_nothing() {
    let env = distro("sles", &["zypper"]);
    env.write(
        "/proc/self/mountinfo",
        "22 1 0:21 / / ro,relatime shared:1 - ext4 /dev/vda2 ro\n",
    );
    env.write("/proc/mounts", "/dev/vda2 / ext4 ro,relatime 0 0\n");
    install_packages(&env.ctx("t"), &["vim".into()]).unwrap();
    assert!(env.rec.calls().is_empty());
}

#[test]
fn alpine_arch_and_gentoo_refresh_before_installing() {
    let cases: [(&str, &str, [&str; 3]); 3] = [
        (
            "alpine",
            "apk",
            [
                "apk --quiet update",
                "apk --quiet add vim-9.1",
                "apk --quiet upgrade --update-cache --available",
            ],
        ),
        (
            "arch",
            "pacman",
            [
                "pacman -Sy --quiet --noconfirm -y",
                "pacman -Sy --quiet --noconfirm vim-9.1",
                "pacman -Sy --quiet --noconfirm -u",
            ],
        ),
        (
            "gentoo",
            "emerge",
            [
                "emerge --quiet --sync",
                "emerge --quiet vim-9.1",
                "emerge --quiet --update world",
            ],
        ),
    ];
    for (name, tool, expected) in cases {
        let env = distro(name, &[tool]);
        let ctx = env.ctx("t");
        install_package_list(&ctx, &pkgs(json!([["vim", "9.1"]]))).unwrap();
        // The install's refresh is the instance's one.
        update_package_sources(&ctx, false).unwrap();
        upgrade_packages(&ctx).unwrap();
        assert_eq!(env.rec.lines(), expected, "{name}");
    }
}

#[test]
fn freebsd_pkg_runs_with_assume_always_yes() {
    let env = distro("freebsd", &["pkg"]);
    let ctx = env.ctx("t");
    install_package_list(&ctx, &pkgs(json!([["curl", "8.0"]]))).unwrap();
    upgrade_packages(&ctx).unwrap();
    assert_eq!(
        env.rec.lines(),
        ["pkg update", "pkg install curl-8.0", "pkg upgrade"]
    );
    for c in env.rec.calls() {
        assert_eq!(
            c.env,
            [("ASSUME_ALWAYS_YES".to_string(), "YES".to_string())]
        );
    }
}

#[test]
fn netbsd_and_openbsd_use_pkg_add_or_pkgin() {
    let env = distro("netbsd", &["pkg_add"]);
    let ctx = env.ctx("t");
    install_packages(&ctx, &["curl".into()]).unwrap();
    upgrade_packages(&ctx).unwrap();
    update_package_sources(&ctx, false).unwrap();
    assert_eq!(env.rec.lines(), ["pkg_add -U curl"]);
    let c = &env.rec.calls()[0];
    assert_eq!(c.env[0].0, "PKG_PATH");
    assert!(c.env[0]
        .1
        .starts_with("http://cdn.netbsd.org/pub/pkgsrc/packages/NetBSD/"));

    let env = distro("openbsd", &["pkgin"]);
    env.write_mode("/usr/pkg/bin/pkgin", "", 0o755);
    let ctx = env.ctx("t");
    install_packages(&ctx, &["curl".into()]).unwrap();
    upgrade_packages(&ctx).unwrap();
    assert_eq!(
        env.rec.lines(),
        ["pkgin -y install curl", "pkgin -y full-upgrade"]
    );
    assert!(env.rec.calls()[0].env.is_empty());
}

#[test]
fn unknown_distros_are_a_clear_error() {
    let env = distro("plan9", &[]);
    let e = install_packages(&env.ctx("t"), &["x".into()]).unwrap_err();
    assert_eq!(e.py_class(), "PackageInstallerError");
    assert!(e.to_string().contains("plan9"));
}

/// A scripted lock wait: `busy` probes report a held lock, then free.
struct FakeWait {
    busy: Cell<u32>,
    slept: Cell<u64>,
}

impl LockWait for FakeWait {
    fn elapsed(&self) -> Duration {
        Duration::from_secs(self.slept.get())
    }
    fn sleep(&self, d: Duration) {
        self.slept.set(self.slept.get() + d.as_secs());
    }
    fn locks_free(&self, _host: &ci_host::Host) -> bool {
        let b = self.busy.get();
        if b == 0 {
            return true;
        }
        self.busy.set(b - 1);
        false
    }
}

#[test]
fn apt_waits_for_its_locks_a_second_at_a_time_up_to_the_timeout() {
    let env = distro("debian", &["apt-get"]);
    let ctx = env.ctx("t");
    let cmd = Cmd::new(["apt-get", "update"]).in_target();
    let wait = FakeWait {
        busy: Cell::new(3),
        slept: Cell::new(0),
    };
    run_when_unlocked(&ctx, &cmd, &wait, apt::LOCK_WAIT).unwrap();
    assert_eq!(wait.slept.get(), 3);
    assert_eq!(env.rec.lines(), ["apt-get update"]);

    let wait = FakeWait {
        busy: Cell::new(1000),
        slept: Cell::new(0),
    };
    let e = run_when_unlocked(&ctx, &cmd, &wait, apt::LOCK_WAIT).unwrap_err();
    assert_eq!(e.py_class(), "TimeoutError");
    assert_eq!(e.to_string(), "Could not get APT lock");
    assert_eq!(wait.slept.get(), 30);
    assert_eq!(env.rec.lines().len(), 1);
}

#[test]
fn apt_failure_while_a_lock_is_taken_is_retried_and_otherwise_raised() {
    let env = distro("debian", &["apt-get"]);
    let ctx = env.ctx("t");
    env.rec.answer("apt-get", 100, b"");
    let cmd = Cmd::new(["apt-get", "install", "x"]).in_target();
    // Free, run (fails), busy on the re-check: wait and run again until timeout.
    struct Racing(Cell<u32>, Cell<u64>);
    impl LockWait for Racing {
        fn elapsed(&self) -> Duration {
            Duration::from_secs(self.1.get())
        }
        fn sleep(&self, d: Duration) {
            self.1.set(self.1.get() + d.as_secs());
        }
        fn locks_free(&self, _h: &ci_host::Host) -> bool {
            self.0.set(self.0.get() + 1);
            self.0.get() % 2 == 1
        }
    }
    let w = Racing(Cell::new(0), Cell::new(28));
    let e = run_when_unlocked(&ctx, &cmd, &w, apt::LOCK_WAIT).unwrap_err();
    assert_eq!(e.py_class(), "TimeoutError");
    assert_eq!(env.rec.lines().len(), 2);
    let free = FakeWait {
        busy: Cell::new(0),
        slept: Cell::new(0),
    };
    let e = run_when_unlocked(&ctx, &cmd, &free, apt::LOCK_WAIT).unwrap_err();
    assert_eq!(e.py_class(), "ProcessExecutionError");
}

/// A hostile image's lock file linking out of the root: the probe opens
/// the link's target inside the root, never this machine's file.
#[test]
fn lock_probe_never_truncates_a_file_outside_the_root() {
    let env = distro("debian", &[]);
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(outside.path(), "host data").unwrap();
    std::fs::create_dir_all(env.host.path("/var/lib/dpkg")).unwrap();
    std::os::unix::fs::symlink(outside.path(), env.host.path("/var/lib/dpkg/lock")).unwrap();
    let wait = RealWait::new();
    wait.locks_free(&env.host);
    assert_eq!(
        std::fs::read_to_string(outside.path()).unwrap(),
        "host data"
    );
}

#[test]
fn real_lock_probe_looks_in_the_target_and_sees_a_held_lock() {
    let env = distro("debian", &[]);
    let wait = RealWait::new();
    assert!(wait.locks_free(&env.host), "no lock files: free");
    env.write("/var/lib/dpkg/lock", "");
    assert!(wait.locks_free(&env.host), "unlocked file: free");
    let lock = env.host.path("/var/lib/dpkg/lock");
    // Another process holds the lock as dpkg would.
    let child = std::process::Command::new("python3")
        .args([
            "-c",
            "import fcntl,sys,time; f=open(sys.argv[1],'w'); fcntl.lockf(f, fcntl.LOCK_EX); print('ok', flush=True); time.sleep(20)",
        ])
        .arg(&lock)
        .stdout(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        return; // no python3 here: the probe's other cases still ran
    };
    let mut line = String::new();
    use std::io::BufRead;
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ok");
    assert!(!wait.locks_free(&env.host));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(wait.locks_free(&env.host));
}
