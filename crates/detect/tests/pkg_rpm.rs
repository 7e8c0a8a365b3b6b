//! dist/rpm: the Fedora/RHEL package (`make rpm`). Its layout follows
//! upstream's RHEL package, its units upstream's rhel rendering
//! (`fixtures/rpm/upstream-units-rhel.tsv`), its cloud.cfg the variant's
//! (compared with upstream's rendering in crates/distro/tests/cloud_cfg.rs,
//! and here byte for byte with dist/rpm/cloud.cfg.<variant>).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pkgtest;

use pkgtest::{
    dist, fake_docs, fake_exe, out_dir_with_old, render_hosts_template, repo, systemd_verify,
};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn build(args: &[&str]) -> Output {
    Command::new("sh")
        .arg(dist("rpm/build-rpm.sh"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// rpmbuild and the rpm query tools are there; CI must have them
/// (tools/deps.sh), elsewhere the package tests are skipped with a note.
fn have_rpm_tools() -> bool {
    let found = ["rpmbuild", "rpm", "rpm2archive"]
        .iter()
        .all(|t| Command::new(t).arg("--help").output().is_ok());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "rpmbuild, rpm or rpm2archive missing in CI (tools/deps.sh installs rpm)"
        );
        eprintln!("rpmbuild, rpm or rpm2archive not installed: RPM package not built");
    }
    found
}

/// Every path the package holds without --docs-dir, as `rpm -qlp` lists them.
const PACKAGE_FILES: &[&str] = &[
    "/etc/cloud",
    "/etc/cloud/cloud.cfg",
    "/etc/cloud/cloud.cfg.d",
    "/etc/cloud/cloud.cfg.d/05_logging.cfg",
    "/etc/cloud/cloud.cfg.d/README",
    "/etc/cloud/templates",
    "/etc/cloud/templates/hosts.redhat.tmpl",
    "/usr/bin/cloud-id",
    "/usr/bin/cloud-init",
    "/usr/bin/cloud-init-per",
    "/usr/lib/systemd/system-generators/cloud-init-generator",
    "/usr/lib/systemd/system/cloud-config.service",
    "/usr/lib/systemd/system/cloud-config.target",
    "/usr/lib/systemd/system/cloud-final.service",
    "/usr/lib/systemd/system/cloud-init-hotplugd.service",
    "/usr/lib/systemd/system/cloud-init-hotplugd.socket",
    "/usr/lib/systemd/system/cloud-init-local.service",
    "/usr/lib/systemd/system/cloud-init-main.service",
    "/usr/lib/systemd/system/cloud-init-network.service",
    "/usr/lib/systemd/system/cloud-init.target",
    "/usr/lib/systemd/system/sshd-keygen@.service.d",
    "/usr/lib/systemd/system/sshd-keygen@.service.d/disable-sshd-keygen-if-cloud-init-active.conf",
    "/usr/libexec/cloud-init",
    "/usr/libexec/cloud-init/ds-identify",
    "/usr/libexec/cloud-init/hook-hotplug",
    "/usr/share/doc/cloud-init-rs",
    "/usr/share/doc/cloud-init-rs/CHANGELOG.md",
    "/usr/share/doc/cloud-init-rs/README.md",
    "/usr/share/licenses/cloud-init-rs",
    "/usr/share/licenses/cloud-init-rs/COPYING",
    "/var/lib/cloud",
];

/// Added by --docs-dir (fake_docs's man pages).
const DOCS_FILES: &[&str] = &[
    "/usr/share/bash-completion/completions/cloud-id",
    "/usr/share/bash-completion/completions/cloud-init",
    "/usr/share/bash-completion/completions/cloud-init-per",
    "/usr/share/fish/vendor_completions.d/cloud-id.fish",
    "/usr/share/fish/vendor_completions.d/cloud-init-per.fish",
    "/usr/share/fish/vendor_completions.d/cloud-init.fish",
    "/usr/share/man/man1/cloud-id.1.gz",
    "/usr/share/man/man1/cloud-init-per.1.gz",
    "/usr/share/man/man1/cloud-init-status.1.gz",
    "/usr/share/man/man1/cloud-init.1.gz",
    "/usr/share/zsh/site-functions/_cloud-id",
    "/usr/share/zsh/site-functions/_cloud-init",
    "/usr/share/zsh/site-functions/_cloud-init-per",
];

const LINKS: &[(&str, &str)] = &[
    ("/usr/bin/cloud-id", "cloud-init"),
    ("/usr/bin/cloud-init-per", "cloud-init"),
    (
        "/usr/lib/systemd/system-generators/cloud-init-generator",
        "../../../bin/cloud-init",
    ),
    (
        "/usr/libexec/cloud-init/ds-identify",
        "../../bin/cloud-init",
    ),
];

const CONFIG_FILES: &[&str] = &[
    "/etc/cloud/cloud.cfg",
    "/etc/cloud/cloud.cfg.d/05_logging.cfg",
    "/etc/cloud/cloud.cfg.d/README",
    "/etc/cloud/templates/hosts.redhat.tmpl",
];

fn rpm_query(rpm: &Path, args: &[&str]) -> String {
    let out = Command::new("rpm").arg("-qp").args(args).arg(rpm).output();
    ok(&out.unwrap())
}

/// One `rpm -qp --dump` line: path size mtime digest mode owner group
/// isconfig isdoc rdev symlink.
struct Dumped {
    mode: u32,
    owner: String,
    config: bool,
    link: String,
}

fn dump(rpm: &Path) -> BTreeMap<String, Dumped> {
    rpm_query(rpm, &["--dump"])
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 11, "{l}");
            (
                f[0].to_string(),
                Dumped {
                    mode: u32::from_str_radix(f[4], 8).unwrap(),
                    owner: format!("{}:{}", f[5], f[6]),
                    config: f[7] == "1",
                    link: f[10].to_string(),
                },
            )
        })
        .collect()
}

/// The payload's regular files, by absolute path.
fn payload(rpm: &Path) -> BTreeMap<String, Vec<u8>> {
    let out = Command::new("rpm2archive")
        .arg("-n")
        .stdin(fs::File::open(rpm).unwrap())
        .output()
        .unwrap();
    let tar_bytes = ok_bytes(&out);
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let mut files = BTreeMap::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type().is_file() {
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            files.insert(path.trim_start_matches('.').to_string(), data);
        }
    }
    files
}

fn ok_bytes(out: &Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.clone()
}

fn out_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The link's target, made absolute from its own directory.
fn resolve(link: &str, target: &str) -> String {
    let mut parts: Vec<&str> = link.split('/').filter(|p| !p.is_empty()).collect();
    parts.pop();
    for p in target.split('/') {
        match p {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

#[test]
fn rpm_build_leaves_exactly_one_package_laid_out_as_upstreams() {
    if !have_rpm_tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let bins = tmp.path().join("bins");
    fake_exe(&bins);
    let out_dir = out_dir_with_old(tmp.path(), "rpm", "cloud-init-rs-0.0.1-1.x86_64.rpm");
    let stdout = ok(&build(&[
        "--bin-dir",
        bins.to_str().unwrap(),
        "--out-dir",
        out_dir.to_str().unwrap(),
        "--version",
        "1.2.3",
        "--release",
        "4",
    ]));
    let name = "cloud-init-rs-1.2.3-4.x86_64.rpm";
    assert_eq!(out_names(&out_dir), [name, "unrelated.txt"]);
    let rpm = out_dir.join(name);
    assert_eq!(stdout.trim(), rpm.to_str().unwrap());

    let listed: Vec<String> = rpm_query(&rpm, &["-l"]).lines().map(String::from).collect();
    assert_eq!(listed, PACKAGE_FILES);

    assert_eq!(
        rpm_query(
            &rpm,
            &[
                "--queryformat",
                "%{NAME}|%{VERSION}|%{RELEASE}|%{ARCH}|%{BUILDHOST}"
            ]
        ),
        "cloud-init-rs|1.2.3|4|x86_64|reproducible"
    );
    let provides = rpm_query(&rpm, &["--provides"]);
    assert!(
        provides.lines().any(|l| l == "cloud-init = 25.1.4"),
        "{provides}"
    );
    assert_eq!(rpm_query(&rpm, &["--obsoletes"]).trim(), "cloud-init < 99");
    assert_eq!(rpm_query(&rpm, &["--conflicts"]).trim(), "");
    let requires = rpm_query(&rpm, &["--requires"]);
    let requires: BTreeSet<&str> = requires.lines().collect();
    for r in [
        "systemd",
        "shadow-utils",
        "util-linux",
        "e2fsprogs",
        "iproute",
        "procps-ng",
        "hostname",
        "sudo",
        "dmidecode",
    ] {
        assert!(requires.contains(r), "{r} not in {requires:?}");
    }
    // No scan of the payload: nothing about Python or the hook's shell,
    // and no shared-library names. /bin/true is dynamic, so the script
    // asks for the glibc it was linked against instead.
    for r in &requires {
        assert!(!r.contains("python") && !r.contains(".so"), "{r}");
    }
    assert!(
        requires.iter().any(|r| r.starts_with("glibc >= 2.")),
        "{requires:?}"
    );
    let recommends = rpm_query(&rpm, &["--recommends"]);
    assert!(recommends.lines().any(|l| l == "dhcpcd"), "{recommends}");

    // The scriptlets are dist/rpm/scripts/*, word for word.
    let scripts = rpm_query(&rpm, &["--scripts"]);
    for (section, file) in [
        ("postinstall scriptlet", "post"),
        ("posttrans scriptlet", "posttrans"),
        ("preuninstall scriptlet", "preun"),
        ("postuninstall scriptlet", "postun"),
    ] {
        assert!(scripts.contains(section), "{section}:\n{scripts}");
        let body = fs::read_to_string(dist("rpm/scripts").join(file)).unwrap();
        assert!(scripts.contains(body.trim_end()), "{file}:\n{scripts}");
    }
    assert!(scripts.contains("ln -sfn \"$units/$u\" \"$wants/$u\""));

    let d = dump(&rpm);
    assert_eq!(d.len(), PACKAGE_FILES.len());
    for (path, e) in &d {
        assert_eq!(e.owner, "root:root", "{path}");
        let want_config = CONFIG_FILES.contains(&path.as_str());
        assert_eq!(e.config, want_config, "{path}");
        let want_mode = if let Some((_, target)) = LINKS.iter().find(|(l, _)| l == path) {
            assert_eq!(&e.link, target, "{path}");
            assert_eq!(resolve(path, target), "/usr/bin/cloud-init", "{path}");
            0o120777
        } else if path == "/var/lib/cloud"
            || PACKAGE_FILES
                .iter()
                .any(|p| p.starts_with(&format!("{path}/")))
        {
            0o40755
        } else if path == "/usr/bin/cloud-init" || path.ends_with("/hook-hotplug") {
            0o100755
        } else {
            0o100644
        };
        assert_eq!(e.mode, want_mode, "{path}: {:o}", e.mode);
    }

    let files = payload(&rpm);
    assert_eq!(
        files["/etc/cloud/cloud.cfg"],
        fs::read(dist("rpm/cloud.cfg.rhel")).unwrap()
    );
    assert_eq!(
        files["/etc/cloud/templates/hosts.redhat.tmpl"],
        fs::read(dist("rpm/templates/hosts.redhat.tmpl")).unwrap()
    );
    assert_eq!(
        files["/usr/libexec/cloud-init/hook-hotplug"],
        fs::read(dist("udev/hook-hotplug")).unwrap()
    );
    for u in [
        "cloud-init-local.service",
        "cloud-init-network.service",
        "cloud-init-main.service",
    ] {
        assert_eq!(
            files[&format!("/usr/lib/systemd/system/{u}")],
            fs::read(dist("rpm/systemd").join(u)).unwrap(),
            "{u}"
        );
    }
    for u in [
        "cloud-config.service",
        "cloud-final.service",
        "cloud-init.target",
    ] {
        assert_eq!(
            files[&format!("/usr/lib/systemd/system/{u}")],
            fs::read(dist("systemd").join(u)).unwrap(),
            "{u}"
        );
    }
    assert_eq!(files["/usr/bin/cloud-init"][..4], *b"\x7fELF");

    // The same inputs give the same package.
    let first = fs::read(&rpm).unwrap();
    ok(&build(&[
        "--bin-dir",
        bins.to_str().unwrap(),
        "--out-dir",
        out_dir.to_str().unwrap(),
        "--version",
        "1.2.3",
        "--release",
        "4",
    ]));
    assert!(fs::read(&rpm).unwrap() == first, "not reproducible");

    // Fedora's cloud.cfg, man pages and completions; still one package.
    let docs = tmp.path().join("docs");
    fake_docs(&docs);
    ok(&build(&[
        "--bin-dir",
        bins.to_str().unwrap(),
        "--docs-dir",
        docs.to_str().unwrap(),
        "--out-dir",
        out_dir.to_str().unwrap(),
        "--variant",
        "fedora",
        "--version",
        "1.2.4-rc1",
    ]));
    let name = "cloud-init-rs-1.2.4~rc1-1.x86_64.rpm";
    assert_eq!(out_names(&out_dir), [name, "unrelated.txt"]);
    let rpm = out_dir.join(name);
    let mut want: Vec<&str> = PACKAGE_FILES.iter().chain(DOCS_FILES).copied().collect();
    want.sort();
    let listed: Vec<String> = rpm_query(&rpm, &["-l"]).lines().map(String::from).collect();
    assert_eq!(listed, want);
    let files = payload(&rpm);
    assert_eq!(
        files["/etc/cloud/cloud.cfg"],
        fs::read(dist("rpm/cloud.cfg.fedora")).unwrap()
    );
    let mut man = Vec::new();
    flate2::read::GzDecoder::new(&files["/usr/share/man/man1/cloud-init.1.gz"][..])
        .read_to_end(&mut man)
        .unwrap();
    assert_eq!(man, b".TH cloud-init 1\n");
    assert_eq!(
        files["/usr/share/zsh/site-functions/_cloud-id"],
        b"#compdef\n"
    );
}

fn files_under(root: &Path, rel: &Path, out: &mut Vec<String>) {
    for e in fs::read_dir(root.join(rel)).unwrap() {
        let e = e.unwrap();
        let r = rel.join(e.file_name());
        let ft = e.file_type().unwrap();
        let shown = format!("/{}", r.display());
        if ft.is_dir() {
            out.push(shown);
            files_under(root, &r, out);
        } else {
            out.push(shown);
        }
    }
}

#[test]
fn layout_only_stages_the_packaged_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let bins = tmp.path().join("bins");
    fake_exe(&bins);
    let stage = tmp.path().join("stage");
    let stdout = ok(&build(&[
        "--bin-dir",
        bins.to_str().unwrap(),
        "--stage",
        stage.to_str().unwrap(),
        "--layout-only",
    ]));
    let root = stage.join("root");
    assert_eq!(stdout.trim(), root.to_str().unwrap());
    let mut files = Vec::new();
    files_under(&root, Path::new(""), &mut files);
    files.sort();
    // The staged tree also has the parents the package does not own.
    let owned: Vec<&String> = files
        .iter()
        .filter(|f| PACKAGE_FILES.contains(&f.as_str()))
        .collect();
    assert_eq!(owned, PACKAGE_FILES);
    for f in &files {
        assert!(
            PACKAGE_FILES
                .iter()
                .any(|p| *p == f.as_str() || p.starts_with(&format!("{f}/"))),
            "{f} staged but not packaged"
        );
    }
    for (link, _) in LINKS {
        assert_eq!(
            fs::canonicalize(root.join(&link[1..])).unwrap(),
            fs::canonicalize(root.join("usr/bin/cloud-init")).unwrap(),
            "{link}"
        );
    }
    assert_eq!(
        fs::read(root.join("etc/cloud/cloud.cfg")).unwrap(),
        fs::read(dist("rpm/cloud.cfg.rhel")).unwrap()
    );
}

#[test]
fn bad_arguments_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let bins = tmp.path().join("bins");
    fake_exe(&bins);
    let b = bins.to_str().unwrap();
    for (args, msg) in [
        (vec!["--out-dir", "/nonexistent"], "--bin-dir is required"),
        (
            vec!["--bin-dir", b, "--variant", "suse"],
            "--variant must be",
        ),
        (vec!["--bin-dir", b, "--release", "1-2"], "bad --release"),
        (vec!["--bin-dir", b, "--docs-dir", b], "run gen-docs"),
        (vec!["--bin-dir", b, "--frobnicate"], "unknown argument"),
    ] {
        let out = build(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(msg), "{args:?}: {err}");
    }
    let empty = tmp.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let out = build(&["--bin-dir", empty.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing executable"));
}

/// Unit settings compared with upstream's, as the regen script extracts
/// them; list-valued keys split on blanks.
const KEYS: &[&str] = &[
    "After",
    "Before",
    "Wants",
    "Requires",
    "Conflicts",
    "DefaultDependencies",
    "WantedBy",
    "Type",
    "RemainAfterExit",
    "TimeoutSec",
    "TasksMax",
    "StandardOutput",
    "ExecStartPre",
    "KillMode",
    "ListenFIFO",
    "SocketMode",
];

fn whole_value(k: &str) -> bool {
    k.starts_with("Condition") || matches!(k, "StandardOutput" | "ExecStartPre" | "ListenFIFO")
}

/// The unit file the RPM package installs under this name.
fn rpm_unit(unit: &str) -> PathBuf {
    let own = dist("rpm/systemd").join(unit);
    if own.exists() {
        own
    } else {
        dist("systemd").join(unit)
    }
}

fn unit_settings(path: &Path) -> BTreeSet<(String, String)> {
    let text = fs::read_to_string(path).unwrap();
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if line.starts_with('#') || !(KEYS.contains(&k) || k.starts_with("Condition")) {
            continue;
        }
        if whole_value(k) {
            out.insert((k.to_string(), v.to_string()));
        } else {
            for item in v.split_whitespace() {
                out.insert((k.to_string(), item.to_string()));
            }
        }
    }
    out
}

/// Upstream rhel settings we change on purpose: the network stage waits for
/// the network itself, only before what needs it (crates/cli/src/net_wait.rs),
/// and is `Type=notify`, ready once sshd may start; restorecon may fail
/// (no /run/cloud-init yet without cloud-init-main.service, or no SELinux
/// tools) without failing the stage.
const CHANGED: &[(&str, &str, &str, Option<&str>)] = &[
    (
        "cloud-init-network.service",
        "After",
        "systemd-networkd-wait-online.service",
        None,
    ),
    (
        "cloud-init-network.service",
        "After",
        "NetworkManager-wait-online.service",
        None,
    ),
    (
        "cloud-init-network.service",
        "Type",
        "oneshot",
        Some("notify"),
    ),
    (
        "cloud-init-local.service",
        "ExecStartPre",
        "/sbin/restorecon /run/cloud-init",
        Some("-/sbin/restorecon /run/cloud-init"),
    ),
    (
        "cloud-init-main.service",
        "ExecStartPre",
        "/sbin/restorecon /run/cloud-init",
        Some("-/sbin/restorecon /run/cloud-init"),
    ),
];

/// Settings of ours upstream's rhel units lack: the local stage (and so
/// everything after it) waits for a writable root without upstream's
/// cloud-init-main.service; chronyd starts after the network stage has
/// written its configuration; processes user scripts leave in the
/// background outlive the final stage.
const ADDED: &[(&str, &str, &str)] = &[
    (
        "cloud-init-local.service",
        "After",
        "systemd-remount-fs.service",
    ),
    ("cloud-init-network.service", "Before", "chronyd.service"),
    ("cloud-final.service", "KillMode", "process"),
];

#[test]
fn units_match_upstreams_rhel_rendering() {
    let fixture = repo().join("crates/detect/tests/fixtures/rpm/upstream-units-rhel.tsv");
    let text = fs::read_to_string(fixture).unwrap();
    let mut upstream: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for line in text.lines() {
        let mut f = line.split('\t');
        let (Some(unit), Some(k), Some(v), None) = (f.next(), f.next(), f.next(), f.next()) else {
            panic!("bad fixture line {line:?}");
        };
        upstream
            .entry(unit.to_string())
            .or_default()
            .insert((k.to_string(), v.to_string()));
    }
    assert!(upstream.len() >= 10 && text.lines().count() > 90);
    let mut problems = Vec::new();
    for (unit, want) in &upstream {
        let mut want = want.clone();
        for (u, k, v, ours) in CHANGED {
            if u == unit && want.remove(&(k.to_string(), v.to_string())) {
                if let Some(o) = ours {
                    want.insert((k.to_string(), o.to_string()));
                }
            }
        }
        let mut got = unit_settings(&rpm_unit(unit));
        for (u, k, v) in ADDED {
            if u == unit {
                assert!(got.remove(&(k.to_string(), v.to_string())), "{u} {k}={v}");
            }
        }
        for (k, v) in want.difference(&got) {
            problems.push(format!("{unit}: missing {k}={v}"));
        }
        for (k, v) in got.difference(&want) {
            problems.push(format!("{unit}: {k}={v} is not in upstream's rhel unit"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The family's rendering differs from Debian's (sysinit ordering,
    // firewalld, NetworkManager, default dependencies of the network stage).
    let local = unit_settings(&rpm_unit("cloud-init-local.service"));
    assert!(local.contains(&("Before".into(), "firewalld.target".into())));
    assert!(!local.contains(&("Before".into(), "sysinit.target".into())));
    let net = unit_settings(&rpm_unit("cloud-init-network.service"));
    assert!(!net.iter().any(|(k, _)| k == "DefaultDependencies"));
    for u in fs::read_dir(dist("rpm/systemd")).unwrap() {
        let name = u.unwrap().file_name().to_string_lossy().into_owned();
        assert!(upstream.contains_key(&name), "{name}: not an upstream unit");
    }
}

#[test]
fn units_run_the_stage_commands() {
    for (unit, cmd) in [
        (
            "cloud-init-local.service",
            "ExecStart=/usr/bin/cloud-init init --local",
        ),
        (
            "cloud-init-network.service",
            "ExecStart=/usr/bin/cloud-init init",
        ),
        (
            "cloud-init-main.service",
            "ExecStart=/usr/bin/cloud-init --all-stages",
        ),
    ] {
        let text = fs::read_to_string(rpm_unit(unit)).unwrap();
        assert_eq!(
            text.lines().filter(|l| l.starts_with("ExecStart=")).count(),
            1,
            "{unit}"
        );
        assert!(text.lines().any(|l| l == cmd), "{unit}");
        // No netcat shim: the stage commands find cloud-init-main's socket
        // themselves.
        assert!(!text.contains(".sock "), "{unit}");
    }
    let net = fs::read_to_string(rpm_unit("cloud-init-network.service")).unwrap();
    assert!(net.lines().any(|l| l == "NotifyAccess=main"));
}

#[test]
fn systemd_accepts_the_units() {
    let units = [
        "cloud-init-local.service",
        "cloud-init-network.service",
        "cloud-init-main.service",
    ];
    let paths: Vec<_> = units.iter().map(|u| rpm_unit(u)).collect();
    systemd_verify(&paths);
}

fn run_script(script: &str, root: &Path, arg: &str) {
    let out = Command::new("sh")
        .arg("-e")
        .arg(dist("rpm/scripts").join(script))
        .arg(arg)
        .env("CIRS_SCRIPT_ROOT", root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn wanted(root: &Path, target: &str) -> Vec<(String, PathBuf)> {
    let dir = root.join(format!("etc/systemd/system/{target}.wants"));
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf)> = rd
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read_link(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn scriptlets_enable_the_stages_once_and_clean_up_on_erase() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let wants = root.join("etc/systemd/system/cloud-init.target.wants");
    fs::create_dir_all(&wants).unwrap();
    // Left by a replaced upstream package that had its single process on.
    std::os::unix::fs::symlink(
        "/usr/lib/systemd/system/cloud-init-main.service",
        wants.join("cloud-init-main.service"),
    )
    .unwrap();

    // First installation replacing upstream's package: our %post, then its
    // %preun (which disables the same units), then our %posttrans.
    run_script("post", root, "1");
    fs::remove_dir_all(&wants).unwrap();
    run_script("posttrans", root, "0");
    let stages = [
        "cloud-config.service",
        "cloud-final.service",
        "cloud-init-local.service",
        "cloud-init-network.service",
    ];
    let want: Vec<(String, PathBuf)> = stages
        .iter()
        .map(|u| {
            (
                u.to_string(),
                PathBuf::from(format!("/usr/lib/systemd/system/{u}")),
            )
        })
        .collect();
    assert_eq!(wanted(root, "cloud-init.target"), want);
    assert_eq!(
        wanted(root, "cloud-config.target"),
        [(
            "cloud-init-hotplugd.socket".to_string(),
            PathBuf::from("/usr/lib/systemd/system/cloud-init-hotplugd.socket")
        )]
    );
    assert!(!root
        .join("var/lib/rpm-state/cloud-init-rs.enable-units")
        .exists());

    // An upgrade keeps the admin's choice.
    fs::remove_file(wants.join("cloud-final.service")).unwrap();
    run_script("post", root, "2");
    run_script("posttrans", root, "0");
    run_script("preun", root, "1");
    run_script("postun", root, "1");
    assert!(!wants.join("cloud-final.service").exists());
    assert_eq!(wanted(root, "cloud-init.target").len(), 3);

    // Erase drops every link, cloud-init-main's too if the admin added it.
    std::os::unix::fs::symlink(
        "/usr/lib/systemd/system/cloud-init-main.service",
        wants.join("cloud-init-main.service"),
    )
    .unwrap();
    run_script("preun", root, "0");
    run_script("postun", root, "0");
    assert!(wanted(root, "cloud-init.target").is_empty());
    assert!(wanted(root, "cloud-config.target").is_empty());
    assert!(!wants.exists());
}

#[test]
fn hosts_template_renders_as_upstream() {
    let got = render_hosts_template(&dist("rpm/templates/hosts.redhat.tmpl"));
    let want = fs::read_to_string(repo().join("crates/detect/tests/fixtures/rpm/hosts.redhat.out"))
        .unwrap();
    assert_eq!(got, want);
}

#[test]
fn scripts_parse() {
    for s in [
        "rpm/build-rpm.sh",
        "rpm/scripts/post",
        "rpm/scripts/posttrans",
        "rpm/scripts/preun",
        "rpm/scripts/postun",
    ] {
        let out = Command::new("sh").arg("-n").arg(dist(s)).output().unwrap();
        assert!(
            out.status.success(),
            "{s}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
