//! dist/alpine: the APK v2 file build-apk.sh writes (two gzip streams: the
//! control tar segment, then the data tar), its .PKGINFO and datahash, the
//! files and links it installs, its install scripts, and the APKBUILD that
//! builds the same tree with abuild.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod pkgtest;

use flate2::bufread::GzDecoder;
use pkgtest::{dist, fake_docs, fake_exe, out_dir_with_old, render_hosts_template, repo};
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// An ELF stand-in for the one executable, and docs as gen-docs lays them out.
fn inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let (bins, docs) = (dir.join("bins"), dir.join("docs"));
    fake_exe(&bins);
    fake_docs(&docs);
    (bins, docs)
}

fn build(args: &[&str]) -> Output {
    let out = Command::new("sh")
        .arg(dist("alpine/build-apk.sh"))
        .args(args)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("PACKAGER", "Test Packager <test@example.org>")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The gzip streams of `bytes`, each as (its compressed bytes, its content).
fn gzip_members(bytes: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let before = rest.len();
        let mut raw = Vec::new();
        GzDecoder::new(&mut rest).read_to_end(&mut raw).unwrap();
        let used = before - rest.len();
        assert!(used > 0);
        let start = bytes.len() - before;
        out.push((bytes[start..start + used].to_vec(), raw));
    }
    out
}

#[derive(Debug)]
struct Member {
    kind: char,
    mode: u32,
    uid: u64,
    link: String,
    body: Vec<u8>,
    sha1: Option<String>,
}

fn members(raw: &[u8]) -> BTreeMap<String, Member> {
    let mut out = BTreeMap::new();
    let mut ar = tar::Archive::new(raw);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let mut sha1 = None;
        if let Some(exts) = e.pax_extensions().unwrap() {
            for x in exts {
                let x = x.unwrap();
                if x.key().unwrap() == "APK-TOOLS.checksum.SHA1" {
                    sha1 = Some(x.value().unwrap().to_string());
                }
            }
        }
        let h = e.header();
        let kind = match h.entry_type() {
            tar::EntryType::Regular => 'f',
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            t => panic!("unexpected entry type {t:?}"),
        };
        let mode = h.mode().unwrap();
        let uid = h.uid().unwrap();
        assert_eq!(h.gid().unwrap(), 0);
        let link = h
            .link_name()
            .unwrap()
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = e
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        let mut body = Vec::new();
        e.read_to_end(&mut body).unwrap();
        out.insert(
            name,
            Member {
                kind,
                mode,
                uid,
                link,
                body,
                sha1,
            },
        );
    }
    out
}

fn digest(tool: &str, data: &[u8]) -> String {
    let mut child = Command::new(tool)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Regular files and links of the data tar (directories left out).
const DATA_FILES: &[&str] = &[
    "etc/cloud/cloud.cfg",
    "etc/cloud/cloud.cfg.d/05_logging.cfg",
    "etc/cloud/cloud.cfg.d/README",
    "etc/cloud/templates/hosts.alpine.tmpl",
    "etc/init.d/cloud-config",
    "etc/init.d/cloud-final",
    "etc/init.d/cloud-init",
    "etc/init.d/cloud-init-ds-identify",
    "etc/init.d/cloud-init-hotplug",
    "etc/init.d/cloud-init-local",
    "etc/logrotate.d/cloud-init",
    "usr/bin/cloud-id -> cloud-init",
    "usr/bin/cloud-init",
    "usr/bin/cloud-init-per -> cloud-init",
    "usr/lib/cloud-init/cloud-init-hotplugd",
    "usr/lib/cloud-init/ds-identify -> ../../bin/cloud-init",
    "usr/lib/cloud-init/hook-hotplug",
    "usr/share/bash-completion/completions/cloud-id",
    "usr/share/bash-completion/completions/cloud-init",
    "usr/share/bash-completion/completions/cloud-init-per",
    "usr/share/fish/vendor_completions.d/cloud-id.fish",
    "usr/share/fish/vendor_completions.d/cloud-init-per.fish",
    "usr/share/fish/vendor_completions.d/cloud-init.fish",
    "usr/share/licenses/cloud-init-rs/copyright",
    "usr/share/man/man1/cloud-id.1.gz",
    "usr/share/man/man1/cloud-init-per.1.gz",
    "usr/share/man/man1/cloud-init-status.1.gz",
    "usr/share/man/man1/cloud-init.1.gz",
    "usr/share/zsh/site-functions/_cloud-id",
    "usr/share/zsh/site-functions/_cloud-init",
    "usr/share/zsh/site-functions/_cloud-init-per",
];

const OPENRC: &[&str] = &[
    "cloud-config",
    "cloud-final",
    "cloud-init",
    "cloud-init-ds-identify",
    "cloud-init-hotplug",
    "cloud-init-local",
];

fn listing(m: &BTreeMap<String, Member>) -> Vec<String> {
    m.iter()
        .filter(|(_, v)| v.kind != 'd')
        .map(|(k, v)| {
            if v.kind == 'l' {
                format!("{k} -> {}", v.link)
            } else {
                k.clone()
            }
        })
        .collect()
}

fn pkginfo(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once(" = ").unwrap_or_else(|| panic!("{l:?}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn apk_build_leaves_one_package_of_two_gzip_streams() {
    let tmp = tempfile::tempdir().unwrap();
    let (bins, docs) = inputs(tmp.path());
    let out_dir = out_dir_with_old(tmp.path(), "apk", "cloud-init-rs-0.0.1-r0.apk");
    let out = build(&[
        "--bin-dir",
        bins.to_str().unwrap(),
        "--docs-dir",
        docs.to_str().unwrap(),
        "--out-dir",
        out_dir.to_str().unwrap(),
        "--version",
        "1.2.3",
        "--release",
        "2",
        "--arch",
        "x86_64",
    ]);
    let apk = out_dir.join("cloud-init-rs-1.2.3-r2.apk");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        apk.to_str().unwrap()
    );
    let mut names: Vec<String> = fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["cloud-init-rs-1.2.3-r2.apk", "unrelated.txt"]);

    let bytes = fs::read(&apk).unwrap();
    let streams = gzip_members(&bytes);
    // Unsigned: no .SIGN.RSA.* stream in front.
    assert_eq!(streams.len(), 2);
    let (control_raw, data_gz, data_raw) = (&streams[0].1, &streams[1].0, &streams[1].1);

    // The control segment runs on into the data tar: its last block is a
    // member's, not the end-of-archive zeros; the data tar has them.
    assert_eq!(control_raw.len() % 512, 0);
    assert!(control_raw[control_raw.len() - 512..]
        .iter()
        .any(|b| *b != 0));
    assert!(data_raw[data_raw.len() - 1024..].iter().all(|b| *b == 0));

    let control = members(control_raw);
    assert_eq!(
        control.keys().collect::<Vec<_>>(),
        [".PKGINFO", ".post-deinstall", ".post-install"]
    );
    // .PKGINFO comes first, as apk reads it.
    let first = tar::Archive::new(&control_raw[..])
        .entries()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .unwrap()
        .into_owned();
    assert_eq!(first, Path::new(".PKGINFO"));
    for s in ["post-install", "post-deinstall"] {
        let m = &control[&format!(".{s}")];
        assert_eq!(m.mode, 0o755, "{s}");
        assert_eq!(
            m.body,
            fs::read(dist(&format!("alpine/cloud-init-rs.{s}"))).unwrap()
        );
    }

    let info = pkginfo(&String::from_utf8(control[".PKGINFO"].body.clone()).unwrap());
    let one = |k: &str| {
        let v: Vec<&String> = info
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v)
            .collect();
        assert_eq!(v.len(), 1, "{k}: {info:?}");
        v[0].clone()
    };
    let all = |k: &str| -> Vec<String> {
        info.iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .collect()
    };
    assert_eq!(one("pkgname"), "cloud-init-rs");
    assert_eq!(one("pkgver"), "1.2.3-r2");
    assert_eq!(one("arch"), "x86_64");
    assert_eq!(one("origin"), "cloud-init-rs");
    assert_eq!(one("builddate"), "1700000000");
    assert_eq!(one("packager"), "Test Packager <test@example.org>");
    assert_eq!(one("license"), "Apache-2.0 OR GPL-3.0-only");
    assert!(!one("pkgdesc").is_empty());
    assert!(one("url").starts_with("https://"));
    assert!(one("size").parse::<u64>().unwrap() > 0);
    assert_eq!(all("provides"), ["cloud-init=1.2.3-r2"]);
    assert_eq!(all("replaces"), ["cloud-init", "cloud-init-openrc"]);
    let depends = all("depend");
    assert_eq!(
        depends,
        [
            "blkid",
            "cloud-utils-growpart",
            "iproute2-minimal",
            "tzdata",
            "/bin/sh"
        ]
    );
    assert!(!depends.iter().any(|d| d.contains("python")));
    // datahash is the SHA-256 of the data gzip stream as it is in the file.
    assert_eq!(one("datahash"), digest("sha256sum", data_gz));
    assert_eq!(info.last().unwrap().0, "datahash");

    let data = members(data_raw);
    assert_eq!(listing(&data), DATA_FILES);
    for (name, m) in &data {
        assert_eq!(m.uid, 0, "{name}");
        match m.kind {
            'd' => {
                assert_eq!(m.mode, 0o755, "{name}");
                assert_eq!(m.sha1, None, "{name}");
            }
            // abuild-tar --hash: a symlink's checksum is its target's name.
            'l' => assert_eq!(
                m.sha1.as_deref(),
                Some(digest("sha1sum", m.link.as_bytes()).as_str()),
                "{name}"
            ),
            _ => assert_eq!(
                m.sha1.as_deref(),
                Some(digest("sha1sum", &m.body).as_str()),
                "{name}"
            ),
        }
    }
    // Every link resolves to the one executable.
    for (link, target) in [
        ("usr/bin/cloud-id", "cloud-init"),
        ("usr/bin/cloud-init-per", "cloud-init"),
        ("usr/lib/cloud-init/ds-identify", "../../bin/cloud-init"),
    ] {
        let resolved = Path::new(link).parent().unwrap().join(target);
        let mut norm = PathBuf::new();
        for c in resolved.components() {
            match c {
                std::path::Component::ParentDir => {
                    norm.pop();
                }
                c => norm.push(c),
            }
        }
        assert_eq!(norm, Path::new("usr/bin/cloud-init"), "{link}");
    }
    let exe = &data["usr/bin/cloud-init"];
    assert_eq!(exe.mode, 0o755);
    assert!(exe.body.starts_with(b"\x7fELF"));
    for s in OPENRC {
        let m = &data[&format!("etc/init.d/{s}")];
        assert_eq!(m.mode, 0o755, "{s}");
        assert_eq!(
            m.body,
            fs::read(dist(&format!("openrc/{s}"))).unwrap(),
            "{s}"
        );
    }
    for (inside, src, mode) in [
        ("etc/cloud/cloud.cfg", "alpine/cloud.cfg", 0o644),
        (
            "etc/cloud/templates/hosts.alpine.tmpl",
            "alpine/hosts.alpine.tmpl",
            0o644,
        ),
        (
            "usr/lib/cloud-init/hook-hotplug",
            "udev/hook-hotplug",
            0o755,
        ),
        (
            "usr/lib/cloud-init/cloud-init-hotplugd",
            "udev/cloud-init-hotplugd",
            0o755,
        ),
    ] {
        assert_eq!(data[inside].body, fs::read(dist(src)).unwrap(), "{inside}");
        assert_eq!(data[inside].mode, mode, "{inside}");
    }
    let mut man = Vec::new();
    flate2::read::GzDecoder::new(&data["usr/share/man/man1/cloud-id.1.gz"].body[..])
        .read_to_end(&mut man)
        .unwrap();
    assert_eq!(man, b".TH cloud-id 1\n");

    // The same inputs give the same bytes.
    let again = tmp.path().join("again");
    build(&[
        "--bin-dir",
        bins.to_str().unwrap(),
        "--docs-dir",
        docs.to_str().unwrap(),
        "--out-dir",
        again.to_str().unwrap(),
        "--version",
        "1.2.3",
        "--release",
        "2",
        "--arch",
        "x86_64",
    ]);
    assert_eq!(
        fs::read(again.join("cloud-init-rs-1.2.3-r2.apk")).unwrap(),
        bytes
    );
}

fn tree(root: &Path, rel: &Path, out: &mut Vec<String>) {
    let mut entries: Vec<_> = fs::read_dir(root.join(rel))
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let r = rel.join(e.file_name());
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            tree(root, &r, out);
        } else if ft.is_symlink() {
            out.push(format!(
                "{} -> {}",
                r.display(),
                fs::read_link(e.path()).unwrap().display()
            ));
        } else {
            out.push(r.display().to_string());
        }
    }
}

#[test]
fn layout_and_install_root_hold_the_packaged_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let (bins, docs) = inputs(tmp.path());
    let stage = tmp.path().join("stage");
    let out = build(&[
        "--bin-dir",
        bins.to_str().unwrap(),
        "--docs-dir",
        docs.to_str().unwrap(),
        "--stage",
        stage.to_str().unwrap(),
        "--version",
        "1.2.3",
        "--layout-only",
    ]);
    let top = stage.join("cloud-init-rs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        top.to_str().unwrap()
    );
    let mut files = Vec::new();
    tree(&top.join("data"), Path::new(""), &mut files);
    files.sort();
    assert_eq!(files, DATA_FILES);
    let mut ctl = Vec::new();
    tree(&top.join("control"), Path::new(""), &mut ctl);
    assert_eq!(ctl, [".PKGINFO", ".post-deinstall", ".post-install"]);
    // Not packed, so no datahash yet; the release defaults to 0.
    let info = fs::read_to_string(top.join("control/.PKGINFO")).unwrap();
    assert!(info.contains("\npkgver = 1.2.3-r0\n"), "{info}");
    assert!(!info.contains("datahash"), "{info}");

    // What APKBUILD's package() runs: the files only, straight into $pkgdir.
    let pkgdir = tmp.path().join("pkgdir");
    let out = build(&[
        "--bin-dir",
        bins.to_str().unwrap(),
        "--docs-dir",
        docs.to_str().unwrap(),
        "--install-root",
        pkgdir.to_str().unwrap(),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        pkgdir.to_str().unwrap()
    );
    let mut files = Vec::new();
    tree(&pkgdir, Path::new(""), &mut files);
    files.sort();
    assert_eq!(files, DATA_FILES);
}

#[test]
fn bad_arguments_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (bins, _) = inputs(tmp.path());
    for (args, want) in [
        (vec!["--version", "1.2.3"], "--bin-dir is required"),
        (
            vec![
                "--bin-dir",
                bins.to_str().unwrap(),
                "--version",
                "0.2.0-rc.1",
            ],
            "not an apk version",
        ),
        (
            vec!["--bin-dir", tmp.path().to_str().unwrap()],
            "missing executable",
        ),
        (
            vec!["--bin-dir", bins.to_str().unwrap(), "--release", "x"],
            "--release must be a number",
        ),
    ] {
        let out = Command::new("sh")
            .arg(dist("alpine/build-apk.sh"))
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

fn run_script(script: &str, root: &Path) {
    let out = Command::new("sh")
        .arg(dist("alpine").join(script))
        .env("CLOUD_INIT_RS_ROOT", root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn runlevel_links(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let levels = root.join("etc/runlevels");
    if !levels.exists() {
        return out;
    }
    tree(&levels, Path::new(""), &mut out);
    out.sort();
    out
}

#[test]
fn install_scripts_enable_the_stages_as_setup_cloud_init_does() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    // An admin's own link is left as it is.
    fs::create_dir_all(root.join("etc/runlevels/default")).unwrap();
    std::os::unix::fs::symlink(
        "/etc/init.d/cloud-final",
        root.join("etc/runlevels/default/cloud-final"),
    )
    .unwrap();
    run_script("cloud-init-rs.post-install", root);
    let want = [
        "boot/cloud-init-local -> /etc/init.d/cloud-init-local",
        "default/cloud-config -> /etc/init.d/cloud-config",
        "default/cloud-final -> /etc/init.d/cloud-final",
        "default/cloud-init -> /etc/init.d/cloud-init",
    ];
    assert_eq!(runlevel_links(root), want);
    // Twice is the same as once.
    run_script("cloud-init-rs.post-install", root);
    assert_eq!(runlevel_links(root), want);

    // Removal: links of services still installed (here cloud-init, as if
    // another package had it) stay; the others go.
    fs::create_dir_all(root.join("etc/init.d")).unwrap();
    fs::write(root.join("etc/init.d/cloud-init"), "#!/sbin/openrc-run\n").unwrap();
    std::os::unix::fs::symlink(
        "/etc/init.d/cloud-init-hotplug",
        root.join("etc/runlevels/default/cloud-init-hotplug"),
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc/init.d/sshd", root.join("etc/runlevels/default/sshd"))
        .unwrap();
    run_script("cloud-init-rs.post-deinstall", root);
    assert_eq!(
        runlevel_links(root),
        [
            "default/cloud-init -> /etc/init.d/cloud-init",
            "default/sshd -> /etc/init.d/sshd",
        ]
    );
}

#[test]
fn hosts_template_renders_as_upstream() {
    // Upstream 25.1.4's templates/hosts.alpine.tmpl rendered by its own
    // templater (the oracle) with these values.
    const WANT: &str = "\
# Your system has configured 'manage_etc_hosts' as True.
# As a result, if you wish for changes to this file to persist
# then you will need to either
# a.) make changes to the master file in /etc/cloud/templates/hosts.alpine.tmpl
# b.) change or remove the value of 'manage_etc_hosts' in
#     /etc/cloud/cloud.cfg or cloud-config from user-data
#
# The following lines are desirable for IPv4 capable hosts
127.0.0.1 localhost.localdomain localhost
127.0.0.1 localhost4.localdomain4 localhost4
127.0.1.1 vm1.example.org vm1

# The following lines are desirable for IPv6 capable hosts
::1 localhost6.localdomain6 localhost6

ff02::1 ip6-allnodes
ff02::2 ip6-allrouters
";
    let got = render_hosts_template(&dist("alpine/hosts.alpine.tmpl"));
    assert_eq!(got, WANT);
}

#[test]
fn apkbuild_builds_the_same_package() {
    let text = fs::read_to_string(dist("alpine/APKBUILD")).unwrap();
    let var = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k}="))
            .trim_matches('"')
            .to_string()
    };
    assert_eq!(var("pkgname"), "cloud-init-rs");
    let cargo = fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let version = cargo
        .split("[workspace.package]")
        .nth(1)
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("version = ")))
        .unwrap()
        .trim_matches('"');
    assert_eq!(var("pkgver"), version);
    assert_eq!(var("license"), "Apache-2.0 OR GPL-3.0-only");
    assert_eq!(var("provides"), "cloud-init=$pkgver-r$pkgrel");
    assert_eq!(var("replaces"), "cloud-init cloud-init-openrc");
    for script in var("install").split_whitespace() {
        let s = script.replace("$pkgname", "cloud-init-rs");
        assert!(dist("alpine").join(&s).is_file(), "{s}");
    }
    // The same depends as the package build-apk.sh writes (abuild adds
    // /bin/sh itself for the install scripts).
    let deps = text
        .split("depends=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    assert_eq!(
        deps.split_whitespace().collect::<Vec<_>>(),
        [
            "blkid",
            "cloud-utils-growpart",
            "iproute2-minimal",
            "tzdata"
        ]
    );
    assert!(text.contains("build-apk.sh \\\n\t\t--bin-dir"));
    assert!(text.contains("--install-root \"$pkgdir\""));
    for f in [
        "APKBUILD",
        "build-apk.sh",
        "cloud-init-rs.post-install",
        "cloud-init-rs.post-deinstall",
    ] {
        let out = Command::new("sh")
            .arg("-n")
            .arg(dist("alpine").join(f))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
