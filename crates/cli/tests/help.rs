//! `--help` of every command and subcommand of the built binaries against
//! the snapshots in tests/help/ (`UPDATE_SNAPSHOTS=1` rewrites them and
//! drops stale ones), plus structural checks on the clap definitions that
//! the man pages and completions are generated from.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use clap::CommandFactory;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn snap_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/help")
}

/// Every visible command path: ["cloud-init"], ["cloud-init", "devel"], ...
fn paths(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut me = prefix.to_vec();
    me.push(cmd.get_name().to_string());
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() != "help" {
            paths(sub, &me, out);
        }
    }
    out.push(me);
}

fn all_paths() -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for cmd in programs() {
        paths(&cmd, &[], &mut out);
    }
    out.sort();
    out
}

fn programs() -> Vec<clap::Command> {
    let mut v = vec![
        ci_cli::args::Cli::command(),
        ci_cli::args::CloudIdArgs::command(),
        ci_cli::args::cloud_init_per_command(),
    ];
    for c in &mut v {
        c.build();
    }
    v
}

fn binary(name: &str) -> &'static str {
    match name {
        "cloud-init" => env!("CARGO_BIN_EXE_cloud-init"),
        "cloud-id" => env!("CARGO_BIN_EXE_cloud-id"),
        "cloud-init-per" => env!("CARGO_BIN_EXE_cloud-init-per"),
        other => panic!("no binary for {other}"),
    }
}

fn help_of(path: &[String]) -> String {
    let out = Command::new(binary(&path[0]))
        .args(&path[1..])
        .arg("--help")
        .env_remove("COLUMNS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} --help exited {:?}: {}",
        path.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{} --help wrote to stderr: {}",
        path.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn help_matches_snapshots() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1");
    let dir = snap_dir();
    if update {
        std::fs::create_dir_all(&dir).unwrap();
    }
    let mut wanted = BTreeSet::new();
    let mut failures = Vec::new();
    for path in all_paths() {
        let file = format!("{}.txt", path.join("_"));
        let got = help_of(&path);
        let snap = dir.join(&file);
        wanted.insert(file.clone());
        if update {
            std::fs::write(&snap, &got).unwrap();
            continue;
        }
        match std::fs::read_to_string(&snap) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!(
                "{}: --help differs from tests/help/{file}\n--- want\n{want}\n--- got\n{got}",
                path.join(" ")
            )),
            Err(_) => failures.push(format!("missing snapshot tests/help/{file}")),
        }
    }
    for e in std::fs::read_dir(&dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if !wanted.contains(&name) {
            if update {
                std::fs::remove_file(dir.join(&name)).unwrap();
            } else {
                failures.push(format!("stale snapshot tests/help/{name}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n\n(UPDATE_SNAPSHOTS=1 cargo test -p ci-cli --test help rewrites them)",
        failures.join("\n\n")
    );
}

fn each_command(cmd: &clap::Command, path: &str, f: &mut dyn FnMut(&str, &clap::Command)) {
    f(path, cmd);
    for sub in cmd.get_subcommands() {
        each_command(sub, &format!("{path} {}", sub.get_name()), f);
    }
}

fn text(s: Option<&clap::builder::StyledStr>) -> String {
    s.map(|s| s.to_string()).unwrap_or_default()
}

/// Every visible argument and subcommand says what it is for.
#[test]
fn every_argument_has_help() {
    let mut missing = Vec::new();
    for prog in programs() {
        each_command(&prog, prog.get_name(), &mut |path, cmd| {
            if !cmd.is_hide_set() && text(cmd.get_about()).trim().is_empty() {
                missing.push(format!("{path}: no about"));
            }
            for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
                let help = text(arg.get_help()) + &text(arg.get_long_help());
                if help.trim().is_empty() {
                    missing.push(format!("{path}: argument {} has no help", arg.get_id()));
                }
            }
        });
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// A default clap prints as `[default: X]` is not also written in the
/// help text, and no help line carries two defaults.
#[test]
fn defaults_are_written_once() {
    let mut twice = Vec::new();
    for prog in programs() {
        each_command(&prog, prog.get_name(), &mut |path, cmd| {
            for arg in cmd.get_arguments() {
                // Flags have a default (false) that clap never prints.
                if arg.get_default_values().is_empty()
                    || arg.is_hide_default_value_set()
                    || !arg.get_action().takes_values()
                {
                    continue;
                }
                let help = text(arg.get_help()) + &text(arg.get_long_help());
                if help.to_lowercase().contains("default") {
                    twice.push(format!(
                        "{path}: argument {} says its default in its help and clap prints it too: {help}",
                        arg.get_id()
                    ));
                }
            }
        });
    }
    for path in all_paths() {
        for line in help_of(&path).lines() {
            let l = line.to_lowercase();
            if l.matches("default").count() > 1 {
                twice.push(format!("{}: {line}", path.join(" ")));
            }
        }
    }
    assert!(twice.is_empty(), "{}", twice.join("\n"));
}

/// cloud-init-per keeps upstream's own usage text on --help (not clap's),
/// and its clap definition is still the one documented.
#[test]
fn cloud_init_per_help_is_upstreams_usage() {
    let help = help_of(&["cloud-init-per".to_string()]);
    assert!(help.starts_with("Usage: cloud-init-per [--root DIR] frequency name cmd"));
    let out = Command::new(binary("cloud-init-per")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr), help);
    let per = ci_cli::args::cloud_init_per_command();
    let names: Vec<_> = per
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    assert_eq!(names, ["root", "frequency", "name", "cmd"]);
}

#[allow(dead_code)]
#[path = "../examples/gen-docs.rs"]
mod gen_docs;

/// The docs `make deb` packages: a page per program and subcommand, and
/// completions for the three shells.
fn docs(dir: &Path) {
    gen_docs::run(dir).unwrap();
    for f in [
        "man/cloud-init.1",
        "man/cloud-id.1",
        "man/cloud-init-per.1",
        "man/cloud-init-status.1",
        "man/cloud-init-devel-net-convert.1",
        "completions/cloud-init.bash",
        "completions/_cloud-init",
        "completions/cloud-init.fish",
        "completions/cloud-id.bash",
        "completions/_cloud-init-per",
    ] {
        let t = std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(t.len() > 100, "{f}: {t}");
    }
    let page = std::fs::read_to_string(dir.join("man/cloud-init-per.1")).unwrap();
    assert!(page.contains(".TH CLOUD-INIT-PER 1 "), "{page}");
    assert!(page.contains("FREQUENCY"), "{page}");
    let bash = std::fs::read_to_string(dir.join("completions/cloud-init.bash")).unwrap();
    for sub in ["collect-logs", "net-convert", "--root"] {
        assert!(bash.contains(sub), "bash completion lacks {sub}");
    }
}

fn build_deb(docs_dir: &Path, out: &Path) -> PathBuf {
    let bins = out.join("bins");
    std::fs::create_dir_all(&bins).unwrap();
    // Small ELF stand-ins: the package's layout and metadata are what is
    // checked here, not the programs.
    for b in [
        "cloud-init",
        "cloud-id",
        "cloud-init-per",
        "cloud-init-generator",
    ] {
        std::fs::copy("/bin/true", bins.join(b)).unwrap();
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist/debian/build-deb.sh");
    let o = Command::new("sh")
        .arg(script)
        .args(["--bin-dir", bins.to_str().unwrap()])
        .args(["--docs-dir", docs_dir.to_str().unwrap()])
        .args(["--out-dir", out.join("deb").to_str().unwrap()])
        .args(["--version", "0.1.0", "--arch", "amd64"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    PathBuf::from(String::from_utf8(o.stdout).unwrap().trim())
}

/// Man pages (gzip -n -9), completions and the changelog land where Debian
/// looks for them; lintian, when installed, finds nothing to warn about.
#[test]
fn package_ships_docs_and_is_lintian_clean() {
    if Command::new("dpkg-deb").arg("--version").output().is_err() {
        eprintln!("dpkg-deb not installed: package not built");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("docs");
    docs(&d);
    let deb = build_deb(&d, tmp.path());
    let list = Command::new("dpkg-deb")
        .arg("-c")
        .arg(&deb)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    for f in [
        "./usr/share/man/man1/cloud-init.1.gz",
        "./usr/share/man/man1/cloud-id.1.gz",
        "./usr/share/man/man1/cloud-init-per.1.gz",
        "./usr/share/bash-completion/completions/cloud-init",
        "./usr/share/zsh/vendor-completions/_cloud-init",
        "./usr/share/fish/vendor_completions.d/cloud-init.fish",
        "./usr/share/doc/cloud-init-rs/changelog.gz",
        "./usr/share/doc/cloud-init-rs/copyright",
        "./etc/init.d/cloud-init-local",
    ] {
        assert!(list.lines().any(|l| l.ends_with(f)), "{f} not in\n{list}");
    }
    if Command::new("lintian").arg("--version").output().is_err() {
        eprintln!("lintian not installed: package not linted");
        return;
    }
    let o = Command::new("lintian")
        .args(["--fail-on", "error,warning"])
        .arg(&deb)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "lintian:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
