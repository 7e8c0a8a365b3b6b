//! What the packaging tests share (`dist.rs`, `pkg_rpm.rs`, `pkg_apk.rs`,
//! `freebsd_dist.rs`): the repository's paths, stand-in inputs for the build
//! scripts, and the checks every family's files get.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn dist(p: &str) -> PathBuf {
    repo().join("dist").join(p)
}

/// An ELF stand-in for the one executable (a package does not care what it
/// does), as `DIR/cloud-init`.
pub fn fake_exe(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    fs::copy("/bin/true", dir.join("cloud-init")).unwrap();
}

/// What gen-docs writes, reduced to the files the build scripts require
/// plus one subcommand page.
pub fn fake_docs(dir: &Path) {
    fs::create_dir_all(dir.join("man")).unwrap();
    fs::create_dir_all(dir.join("completions")).unwrap();
    for p in ["cloud-init", "cloud-id", "cloud-init-per"] {
        fs::write(dir.join(format!("man/{p}.1")), format!(".TH {p} 1\n")).unwrap();
        fs::write(dir.join(format!("completions/{p}.bash")), "# bash\n").unwrap();
        fs::write(dir.join(format!("completions/_{p}")), "#compdef\n").unwrap();
        fs::write(dir.join(format!("completions/{p}.fish")), "# fish\n").unwrap();
    }
    fs::write(dir.join("man/cloud-init-status.1"), ".TH x 1\n").unwrap();
}

/// `PARENT/NAME`, holding an older package of ours (`old`) and a file that
/// is not ours: a build must replace the one and keep the other.
pub fn out_dir_with_old(parent: &Path, name: &str, old: &str) -> PathBuf {
    let out = parent.join(name);
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join(old), b"old").unwrap();
    fs::write(out.join("unrelated.txt"), b"keep").unwrap();
    out
}

/// A hosts template of ours rendered for `vm1.example.org`, as the agent
/// renders it: upstream's Jinja drops the source's final newline and its
/// templater adds one back, so render without it and add it.
pub fn render_hosts_template(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    let (first, body) = text.split_once('\n').unwrap();
    assert_eq!(first, "## template:jinja", "{}", path.display());
    let vars = serde_json::json!({"hostname": "vm1", "fqdn": "vm1.example.org"});
    let (src, add) = match body.strip_suffix('\n') {
        Some(s) => (s, "\n"),
        None => (body, ""),
    };
    ci_userdata::render_jinja_body(src, &vars).unwrap() + add
}

/// `systemd-analyze verify` accepts the unit files (skipped, with a note,
/// where systemd is not installed). The binaries they start are not
/// installed here; anything else is a unit error.
pub fn systemd_verify(units: &[PathBuf]) {
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg("--man=no")
        .args(units)
        .output();
    let Ok(out) = out else {
        eprintln!("systemd-analyze not installed: units not verified");
        return;
    };
    let text = String::from_utf8_lossy(&out.stderr);
    let problems: Vec<&str> = text
        .lines()
        .filter(|l| {
            [
                "Unknown key",
                "Failed to parse",
                "Invalid",
                "bad-setting",
                "Unknown section",
            ]
            .iter()
            .any(|p| l.contains(p))
        })
        .collect();
    assert!(problems.is_empty(), "{text}");
}
