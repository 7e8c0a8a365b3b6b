//! dist/: systemd units, OpenRC scripts, the Debian package layout and its
//! maintainer scripts, the packaged hosts template.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pkgtest;

use ci_detect::{GeneratorDirs, CLOUD_SYSTEM_TARGET, GENERATOR_PATH};
use pkgtest::{dist, fake_exe, out_dir_with_old, render_hosts_template, repo, systemd_verify};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `(key, value)` settings of a unit file; list-valued keys split on blanks.
fn unit_settings(unit: &str) -> BTreeSet<(String, String)> {
    let text = fs::read_to_string(dist("systemd").join(unit)).unwrap();
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with('#') || line.starts_with('[') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k.starts_with("Condition") || k == "ExecStart" || k == "StandardOutput" {
            out.insert((k.to_string(), v.to_string()));
        } else {
            for item in v.split_whitespace() {
                out.insert((k.to_string(), item.to_string()));
            }
        }
    }
    out
}

fn has(set: &BTreeSet<(String, String)>, k: &str, v: &str) -> bool {
    set.contains(&(k.to_string(), v.to_string()))
}

/// Upstream settings we drop on purpose (docs/compat.md): the network
/// stage waits for the network itself, only before what needs it
/// (crates/cli/src/net_wait.rs), so users and host keys are ready, and sshd
/// starts, while DHCP is still going on; and it is `Type=notify`, ready
/// once sshd may start (crates/cli/src/notify.rs).
const DROPPED: &[(&str, &str, &str)] = &[
    (
        "cloud-init-network.service",
        "After",
        "systemd-networkd-wait-online.service",
    ),
    ("cloud-init-network.service", "After", "networking.service"),
    ("cloud-init-network.service", "Type", "oneshot"),
];

#[test]
fn units_keep_every_upstream_ordering_and_condition() {
    let fixture = repo().join("crates/detect/tests/fixtures/upstream-units.tsv");
    let text = fs::read_to_string(fixture).unwrap();
    let mut missing = Vec::new();
    for line in text.lines() {
        let mut f = line.split('\t');
        let (Some(unit), Some(k), Some(v)) = (f.next(), f.next(), f.next()) else {
            panic!("bad fixture line {line:?}");
        };
        if DROPPED.contains(&(unit, k, v)) {
            assert!(!has(&unit_settings(unit), k, v), "{line} is back");
            continue;
        }
        if !has(&unit_settings(unit), k, v) {
            missing.push(line.to_string());
        }
    }
    assert!(text.lines().count() > 60);
    assert!(
        missing.is_empty(),
        "missing in dist/systemd:\n{}",
        missing.join("\n")
    );
}

#[test]
fn units_run_the_legacy_stage_commands() {
    for (unit, cmd) in [
        (
            "cloud-init-local.service",
            "/usr/bin/cloud-init init --local",
        ),
        ("cloud-init-network.service", "/usr/bin/cloud-init init"),
        (
            "cloud-config.service",
            "/usr/bin/cloud-init modules --mode=config",
        ),
        (
            "cloud-final.service",
            "/usr/bin/cloud-init modules --mode=final",
        ),
    ] {
        let s = unit_settings(unit);
        assert!(has(&s, "ExecStart", cmd), "{unit}");
        // The network stage says when sshd may start (READY=1) and goes on;
        // the others are done when their process ends.
        let kind = if unit == "cloud-init-network.service" {
            "notify"
        } else {
            "oneshot"
        };
        assert!(has(&s, "Type", kind), "{unit}");
        if kind == "notify" {
            // The stage's own process says it, not the commands it runs.
            assert!(has(&s, "NotifyAccess", "main"), "{unit}");
        }
        assert!(has(&s, "RemainAfterExit", "yes"), "{unit}");
        assert!(has(&s, "TimeoutSec", "0"), "{unit}");
        assert!(has(&s, "StandardOutput", "journal+console"), "{unit}");
        assert!(has(&s, "WantedBy", "cloud-init.target"), "{unit}");
        assert_eq!(s.iter().filter(|(k, _)| k == "ExecStart").count(), 1);
    }
    // Without upstream's cloud-init-main.service, the local stage itself
    // waits for a writable /var/lib/cloud.
    let local = unit_settings("cloud-init-local.service");
    assert!(has(&local, "After", "systemd-remount-fs.service"));
    assert!(has(&local, "RequiresMountsFor", "/var/lib/cloud"));
    // Keys exist before Debian's OpenSSH (ssh.service) starts.
    let net = unit_settings("cloud-init-network.service");
    for sshd in ["ssh.service", "sshd.service"] {
        assert!(has(&net, "Before", sshd));
    }
    assert!(has(
        &unit_settings("cloud-final.service"),
        "KillMode",
        "process"
    ));
    // Upstream's single-process service, shipped disabled: our stage
    // commands are its clients, so no stage unit names it or its sockets.
    let main = unit_settings("cloud-init-main.service");
    assert!(has(&main, "ExecStart", "/usr/bin/cloud-init --all-stages"));
    assert!(has(&main, "Type", "notify"));
    assert!(has(&main, "RequiresMountsFor", "/var/lib/cloud"));
    for u in fs::read_dir(dist("systemd")).unwrap() {
        let p = u.unwrap().path();
        if p.is_file() && !p.ends_with("cloud-init-main.service") {
            let t = fs::read_to_string(&p).unwrap();
            let units: Vec<&str> = t.lines().filter(|l| !l.starts_with('#')).collect();
            assert!(
                !units.iter().any(|l| l.contains("cloud-init-main")),
                "{}",
                p.display()
            );
            // Nor to its unix sockets (`share/*.sock`); the hotplug FIFO's
            // `.socket` unit is ours.
            assert!(
                !units
                    .iter()
                    .any(|l| l.contains(".sock") && !l.contains(".socket")),
                "{}",
                p.display()
            );
        }
    }
}

#[test]
fn sshd_keygen_dropin_tests_the_generator_link() {
    let dirs = GeneratorDirs {
        normal: "/run/systemd/generator".into(),
        early: "/run/systemd/generator.early".into(),
        late: "/run/systemd/generator.late".into(),
    };
    let conf = fs::read_to_string(dist(
        "systemd/sshd-keygen@.service.d/disable-sshd-keygen-if-cloud-init-active.conf",
    ))
    .unwrap();
    let want = format!("ConditionPathExists=!{}", dirs.link_path().display());
    assert!(conf.lines().any(|l| l == want), "{conf}");
    assert_eq!(
        CLOUD_SYSTEM_TARGET,
        "/usr/lib/systemd/system/cloud-init.target"
    );
}

#[test]
fn openrc_scripts() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "cloud-init-ds-identify",
            &["after localmount", "before net", "before cloud-init-local"],
            "/usr/lib/cloud-init/ds-identify",
        ),
        (
            "cloud-init-local",
            &[
                "after localmount",
                "before net",
                "before cloud-init",
                "provide cloud-init-local",
            ],
            "/usr/bin/cloud-init init --local",
        ),
        (
            "cloud-init",
            &[
                "after cloud-init-local",
                "after net",
                "before cloud-config",
                "provide cloud-init",
            ],
            "/usr/bin/cloud-init init",
        ),
        (
            "cloud-config",
            &[
                "after cloud-init-local",
                "after cloud-init",
                "before cloud-final",
                "provide cloud-config",
            ],
            "/usr/bin/cloud-init modules --mode config",
        ),
        (
            "cloud-final",
            &["after cloud-config", "provide cloud-final"],
            "/usr/bin/cloud-init modules --mode final",
        ),
        (
            "cloud-init-hotplug",
            &["after cloud-final"],
            "command=\"/usr/lib/cloud-init/cloud-init-hotplugd\"",
        ),
    ];
    let mut names: Vec<String> = fs::read_dir(dist("openrc"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<String> = cases.iter().map(|c| c.0.to_string()).collect();
    want.sort();
    assert_eq!(names, want);
    for (name, deps, cmd) in cases {
        let text = fs::read_to_string(dist("openrc").join(name)).unwrap();
        assert!(text.starts_with("#!/sbin/openrc-run\n"), "{name}");
        let body = text
            .split_once("depend() {\n")
            .and_then(|(_, r)| r.split_once("\n}"))
            .map(|(b, _)| b)
            .unwrap_or_else(|| panic!("{name}: no depend()"));
        let got: Vec<&str> = body.lines().map(str::trim).collect();
        assert_eq!(&got, deps, "{name}");
        assert!(text.lines().any(|l| l.trim() == *cmd), "{name}");
        assert!(
            text.contains("grep -q 'cloud-init=disabled' /proc/cmdline"),
            "{name}"
        );
        assert!(
            text.contains("test -e /etc/cloud/cloud-init.disabled"),
            "{name}"
        );
        let out = Command::new("sh")
            .arg("-n")
            .arg(dist("openrc").join(name))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn build(args: &[&str]) -> std::process::Output {
    Command::new("sh")
        .arg(dist("debian/build-deb.sh"))
        .args(args)
        .output()
        .unwrap()
}

fn files_under(root: &Path, rel: &Path, out: &mut Vec<String>) {
    for e in fs::read_dir(root.join(rel)).unwrap() {
        let e = e.unwrap();
        let r = rel.join(e.file_name());
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            files_under(root, &r, out);
        } else if ft.is_symlink() {
            let dest = fs::read_link(e.path()).unwrap();
            out.push(format!("{} -> {}", r.display(), dest.display()));
        } else {
            out.push(r.display().to_string());
        }
    }
}

const PACKAGE_FILES: &[&str] = &[
    "DEBIAN/conffiles",
    "DEBIAN/control",
    "DEBIAN/md5sums",
    "DEBIAN/postinst",
    "DEBIAN/postrm",
    "DEBIAN/triggers",
    "etc/cloud/cloud.cfg",
    "etc/cloud/cloud.cfg.d/05_logging.cfg",
    "etc/cloud/cloud.cfg.d/README",
    "etc/cloud/templates/hosts.debian.tmpl",
    "etc/init.d/cloud-config",
    "etc/init.d/cloud-final",
    "etc/init.d/cloud-init-local",
    "etc/init.d/cloud-init-network",
    "usr/bin/cloud-id -> cloud-init",
    "usr/bin/cloud-init",
    "usr/bin/cloud-init-per -> cloud-init",
    "usr/lib/cloud-init/ds-identify -> ../../bin/cloud-init",
    "usr/lib/cloud-init/hook-hotplug",
    "usr/lib/systemd/system-generators/cloud-init-generator -> ../../../bin/cloud-init",
    "usr/lib/systemd/system/cloud-config.service",
    "usr/lib/systemd/system/cloud-config.target",
    "usr/lib/systemd/system/cloud-final.service",
    "usr/lib/systemd/system/cloud-init-hotplugd.service",
    "usr/lib/systemd/system/cloud-init-hotplugd.socket",
    "usr/lib/systemd/system/cloud-init-local.service",
    "usr/lib/systemd/system/cloud-init-main.service",
    "usr/lib/systemd/system/cloud-init-network.service",
    "usr/lib/systemd/system/cloud-init.target",
    "usr/lib/systemd/system/sshd-keygen@.service.d/disable-sshd-keygen-if-cloud-init-active.conf",
    "usr/share/doc/cloud-init-rs/changelog.gz",
    "usr/share/doc/cloud-init-rs/copyright",
    "usr/share/lintian/overrides/cloud-init-rs",
];

#[test]
fn package_layout_and_control() {
    let tmp = tempfile::tempdir().unwrap();
    let bins = tmp.path().join("bins");
    fake_exe(&bins);
    let stage = tmp.path().join("stage");
    let out = build(&[
        "--bin-dir",
        bins.to_str().unwrap(),
        "--stage",
        stage.to_str().unwrap(),
        "--version",
        "1.2.3",
        "--arch",
        "amd64",
        "--layout-only",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pkg = stage.join("cloud-init-rs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        pkg.to_str().unwrap()
    );

    let mut files = Vec::new();
    files_under(&pkg, Path::new(""), &mut files);
    files.sort();
    assert_eq!(files, PACKAGE_FILES);

    let control = fs::read_to_string(pkg.join("DEBIAN/control")).unwrap();
    let field = |k: &str| {
        control
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}: ")))
            .unwrap_or_else(|| panic!("no {k} in\n{control}"))
            .to_string()
    };
    assert_eq!(field("Package"), "cloud-init-rs");
    assert_eq!(field("Version"), "1.2.3");
    assert_eq!(field("Architecture"), "amd64");
    for k in ["Provides", "Conflicts", "Replaces"] {
        assert_eq!(field(k), "cloud-init", "{k}");
    }
    let depends = field("Depends");
    assert!(depends.starts_with("libc6"), "{depends}");
    assert!(
        depends.ends_with(", passwd, mount, locales, dhcpcd-base | udhcpc"),
        "{depends}"
    );
    assert!(field("Installed-Size").parse::<u64>().unwrap() > 0);
    assert_eq!(field("Section"), "admin");

    assert_eq!(
        fs::read_to_string(pkg.join("DEBIAN/conffiles")).unwrap(),
        "/etc/cloud/cloud.cfg\n/etc/cloud/cloud.cfg.d/05_logging.cfg\n\
         /etc/cloud/cloud.cfg.d/README\n/etc/cloud/templates/hosts.debian.tmpl\n\
         /etc/init.d/cloud-config\n/etc/init.d/cloud-final\n\
         /etc/init.d/cloud-init-local\n/etc/init.d/cloud-init-network\n"
    );
    let md5 = fs::read_to_string(pkg.join("DEBIAN/md5sums")).unwrap();
    let regular = PACKAGE_FILES
        .iter()
        .filter(|f| !f.starts_with("DEBIAN/") && !f.contains(" -> "))
        .count();
    assert_eq!(md5.lines().count(), regular);
    assert!(md5.contains("  usr/bin/cloud-init\n"));

    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str| fs::metadata(pkg.join(p)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode("usr/bin/cloud-init"), 0o755);
    // Every link resolves to the one executable.
    for link in [
        "usr/bin/cloud-id",
        "usr/bin/cloud-init-per",
        "usr/lib/systemd/system-generators/cloud-init-generator",
        "usr/lib/cloud-init/ds-identify",
    ] {
        assert_eq!(
            fs::canonicalize(pkg.join(link)).unwrap(),
            fs::canonicalize(pkg.join("usr/bin/cloud-init")).unwrap(),
            "{link}"
        );
    }
    assert_eq!(mode("DEBIAN/postinst"), 0o755);
    assert_eq!(mode("usr/lib/systemd/system/cloud-init.target"), 0o644);
    assert_eq!(mode("etc/cloud/cloud.cfg"), 0o644);
    assert_eq!(
        fs::read(pkg.join("etc/cloud/cloud.cfg")).unwrap(),
        fs::read(dist("debian/cloud.cfg")).unwrap()
    );
    assert_eq!(
        GENERATOR_PATH,
        "/usr/lib/systemd/system-generators/cloud-init-generator"
    );
}

#[test]
fn deb_build_leaves_exactly_one_package() {
    if Command::new("dpkg-deb").arg("--version").output().is_err() {
        eprintln!("dpkg-deb not installed: only the layout test ran");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let bins = tmp.path().join("bins");
    fake_exe(&bins);
    let out_dir = out_dir_with_old(tmp.path(), "debian", "cloud-init-rs_0.0.1_amd64.deb");
    let out = build(&[
        "--bin-dir",
        bins.to_str().unwrap(),
        "--out-dir",
        out_dir.to_str().unwrap(),
        "--version",
        "1.2.3",
        "--arch",
        "amd64",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["cloud-init-rs_1.2.3_amd64.deb", "unrelated.txt"]);
    let deb = out_dir.join("cloud-init-rs_1.2.3_amd64.deb");
    let f = Command::new("dpkg-deb")
        .arg("-f")
        .arg(&deb)
        .arg("Package")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&f.stdout).trim(), "cloud-init-rs");
    let c = Command::new("dpkg-deb")
        .arg("-c")
        .arg(&deb)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&c.stdout);
    let gen = listing
        .lines()
        .find(|l| l.contains("./usr/lib/systemd/system-generators/cloud-init-generator "))
        .unwrap_or_else(|| panic!("{listing}"));
    assert!(gen.starts_with("lrwxrwxrwx root/root"), "{gen}");
    assert!(gen.ends_with(" -> ../../../bin/cloud-init"), "{gen}");
    let exe = listing
        .lines()
        .find(|l| l.ends_with("./usr/bin/cloud-init"))
        .unwrap_or_else(|| panic!("{listing}"));
    assert!(exe.starts_with("-rwxr-xr-x root/root"), "{exe}");
}

fn run_script(script: &str, root: &Path, args: &[&str]) {
    let out = Command::new("sh")
        .arg(dist("debian").join(script))
        .args(args)
        .env("DPKG_ROOT", root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn maintainer_scripts_enable_and_purge_the_stages() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let wants = root.join("etc/systemd/system/cloud-init.target.wants");
    let dsh = root.join("var/lib/systemd/deb-systemd-helper-enabled");
    fs::create_dir_all(&wants).unwrap();
    fs::create_dir_all(&dsh).unwrap();
    // Left behind by a replaced upstream package.
    std::os::unix::fs::symlink(
        "/usr/lib/systemd/system/cloud-init-main.service",
        wants.join("cloud-init-main.service"),
    )
    .unwrap();
    fs::write(dsh.join("cloud-final.service.dsh-also"), "x\n").unwrap();

    run_script("postinst", root, &["configure"]);
    let units = [
        "cloud-config.service",
        "cloud-final.service",
        "cloud-init-local.service",
        "cloud-init-network.service",
    ];
    let mut names: Vec<String> = fs::read_dir(&wants)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, units);
    for u in units {
        assert_eq!(
            fs::read_link(wants.join(u)).unwrap(),
            PathBuf::from(format!("/usr/lib/systemd/system/{u}"))
        );
    }
    assert!(!dsh.join("cloud-final.service.dsh-also").exists());
    // The hotplug socket is wanted by cloud-config.target.
    let hotplug =
        root.join("etc/systemd/system/cloud-config.target.wants/cloud-init-hotplugd.socket");
    assert_eq!(
        fs::read_link(&hotplug).unwrap(),
        PathBuf::from("/usr/lib/systemd/system/cloud-init-hotplugd.socket")
    );

    // An upgrade keeps the admin's choice.
    fs::remove_file(wants.join("cloud-final.service")).unwrap();
    run_script("postinst", root, &["configure", "0.1.0"]);
    assert!(!wants.join("cloud-final.service").exists());

    run_script("postrm", root, &["remove"]);
    assert!(wants.join("cloud-config.service").is_symlink());
    run_script("postrm", root, &["purge"]);
    assert!(!wants.exists());
    assert!(!hotplug.is_symlink());
}

#[test]
fn hosts_template_renders_as_upstream() {
    let got = render_hosts_template(&dist("debian/templates/hosts.debian.tmpl"));
    let want =
        fs::read_to_string(repo().join("crates/detect/tests/fixtures/hosts.debian.out")).unwrap();
    assert_eq!(got, want);
}

#[test]
fn systemd_accepts_the_units() {
    let units = [
        "cloud-init-local.service",
        "cloud-init-network.service",
        "cloud-config.service",
        "cloud-final.service",
        "cloud-init.target",
        "cloud-config.target",
    ];
    let paths: Vec<_> = units.iter().map(|u| dist("systemd").join(u)).collect();
    systemd_verify(&paths);
}

/// Replacing Debian's cloud-init: its postrm has made the init.d scripts of
/// its names (ours now) non-executable by the time our postinst runs.
#[test]
fn postinst_makes_the_init_scripts_executable_again() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let initd = root.join("etc/init.d");
    fs::create_dir_all(&initd).unwrap();
    for s in ["cloud-init-local", "cloud-config", "cloud-final"] {
        fs::write(initd.join(s), "#!/bin/sh\n").unwrap();
        fs::set_permissions(initd.join(s), fs::Permissions::from_mode(0o644)).unwrap();
    }
    run_script("postinst", root, &["configure"]);
    for s in ["cloud-init-local", "cloud-config", "cloud-final"] {
        let mode = fs::metadata(initd.join(s)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o755, "{s}");
    }
    // A script that is not there is not created.
    assert!(!initd.join("cloud-init-network").exists());
    // The trigger that repairs the links after a purge of the replaced package.
    let triggers = fs::read_to_string(dist("debian/triggers")).unwrap();
    assert!(triggers
        .lines()
        .any(|l| l == "interest-noawait /etc/init.d/cloud-init-main"));
    let postinst = fs::read_to_string(dist("debian/postinst")).unwrap();
    assert!(postinst.contains("|triggered)"), "{postinst}");
}
