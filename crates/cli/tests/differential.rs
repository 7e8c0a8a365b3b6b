//! The differential harness in CI. Every case of `tests/diff/cases` boots with
//! ours (four stages, `--root`) on a copy of the Debian root that
//! `tests/diff/prepare-root.sh` prepares exactly as it prepared upstream's, and
//! the change set `tests/diff/changeset.py` finds must equal the one upstream
//! 25.1.4 made (`tests/diff/expected/<case>.json`, written by
//! `tests/diff/regen.sh`), save for the differences `tests/diff/deliberate.json`
//! names with a reason. Stage exit codes must match too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const SHARDS: usize = 4;

fn diff_dir() -> PathBuf {
    repo().join("tests/diff")
}

fn cases() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(diff_dir().join("cases"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // CIRS_DIFF_CASES=a,b runs only those cases (while working on a module).
    if let Ok(only) = std::env::var("CIRS_DIFF_CASES") {
        let only: Vec<&str> = only.split(',').map(str::trim).collect();
        names.retain(|n| only.contains(&n.as_str()));
    }
    names
}

fn python(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new("python3")
        .arg(diff_dir().join("changeset.py"))
        .args(args)
        .output()
        .unwrap()
}

/// Upstream's exit code per stage, from the fixture's `stage_exits` lines.
fn upstream_exits(expected: &Value) -> Vec<i32> {
    expected["stage_exits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let l = l.as_str().unwrap();
            l.rsplit("exit ").next().unwrap().trim().parse().unwrap()
        })
        .collect()
}

/// Boot one case with ours and compare; `Err` carries the report.
fn run_case(base: &Path, name: &str) -> Result<(), String> {
    let case = diff_dir().join("cases").join(name);
    let (work, root) = copy_root(base, "cirs-diff-");
    let prep = Command::new("bash")
        .arg(diff_dir().join("prepare-root.sh"))
        .arg(&root)
        .arg(&case)
        .output()
        .unwrap();
    assert!(
        prep.status.success(),
        "{}",
        String::from_utf8_lossy(&prep.stderr)
    );
    let snap = work.path().join("snap.json");
    let out = python(&["snapshot".as_ref(), root.as_os_str(), snap.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut exits = Vec::new();
    for stage in [
        &["init", "--local"][..],
        &["init"],
        &["modules", "--mode", "config"],
        &["modules", "--mode", "final"],
    ] {
        // The root's machine-level tools are the harness's recording stubs.
        let out = Command::new(BIN)
            .arg("--root")
            .arg(&root)
            .arg("--machine-commands")
            .args(stage)
            // The environment a boot unit gets from systemd (and upstream got in
            // run-upstream.sh): no HOME, USER or CLOUD_CFG of this test.
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("LANG", "C.UTF-8")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("panicked") {
            return Err(format!("{name}: stage {stage:?} panicked: {err}"));
        }
        exits.push(out.status.code().unwrap_or(-1));
    }

    let out = python(&[
        "diff".as_ref(),
        root.as_os_str(),
        snap.as_os_str(),
        base.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let actual = work.path().join("actual.json");
    std::fs::write(&actual, &out.stdout).unwrap();
    let expected_path = diff_dir().join("expected").join(format!("{name}.json"));
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
    let cmp = python(&[
        "compare".as_ref(),
        expected_path.as_os_str(),
        actual.as_os_str(),
        "--deliberate".as_ref(),
        diff_dir().join("deliberate.json").as_os_str(),
    ]);
    let mut report = String::from_utf8_lossy(&cmp.stdout).into_owned();
    let want = upstream_exits(&expected);
    if exits != want {
        report.push_str(&format!(
            "stage exit codes: upstream {want:?}, ours {exits:?}\n"
        ));
    }
    if report.is_empty() && cmp.status.success() {
        return Ok(());
    }
    let log = std::fs::read_to_string(root.join("var/log/cloud-init.log")).unwrap_or_default();
    let tail: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARNING") || l.contains("ERROR"))
        .collect();
    Err(format!(
        "== {name}: differs from upstream\n{report}{}\n-- our warnings and errors:\n{}\n",
        String::from_utf8_lossy(&cmp.stderr),
        tail.join("\n")
    ))
}

fn shard(k: usize) {
    let Some(base) = debian_root() else { return };
    let failures: Vec<String> = cases()
        .iter()
        .enumerate()
        .filter(|(i, _)| i % SHARDS == k)
        .filter_map(|(_, name)| run_case(&base, name).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn cases_shard_0_match_upstream() {
    shard(0)
}

#[test]
fn cases_shard_1_match_upstream() {
    shard(1)
}

#[test]
fn cases_shard_2_match_upstream() {
    shard(2)
}

#[test]
fn cases_shard_3_match_upstream() {
    shard(3)
}

/// Each case names the modules it covers; every module that docs/compat.md
/// marks done or partial needs three cases, and every case a fixture.
#[test]
fn every_done_module_has_three_cases_with_fixtures() {
    let mut covered: std::collections::BTreeMap<String, usize> = Default::default();
    for name in cases() {
        let case = diff_dir().join("cases").join(&name);
        assert!(
            diff_dir()
                .join("expected")
                .join(format!("{name}.json"))
                .exists(),
            "case {name} has no fixture: run tests/diff/regen.sh {name}"
        );
        let about = std::fs::read_to_string(case.join("case")).unwrap();
        let modules = about
            .lines()
            .find_map(|l| l.strip_prefix("modules:"))
            .unwrap_or_else(|| panic!("{name}/case has no modules: line"));
        for m in modules.split_whitespace() {
            *covered.entry(m.to_string()).or_default() += 1;
        }
    }
    for f in std::fs::read_dir(diff_dir().join("expected")).unwrap() {
        let f = f.unwrap().file_name().to_string_lossy().into_owned();
        let name = f.trim_end_matches(".json");
        assert!(
            diff_dir().join("cases").join(name).is_dir(),
            "fixture {f} has no case"
        );
    }
    let compat = std::fs::read_to_string(repo().join("docs/compat.md")).unwrap();
    let section = compat
        .split("## Modules")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    let mut done = Vec::new();
    for line in section.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() > 2 && (cells[2].starts_with("done") || cells[2].starts_with("partial")) {
            done.push(cells[1].trim_matches('`').to_string());
        }
    }
    assert!(
        done.len() > 15,
        "compat.md module table not found: {done:?}"
    );
    let short: Vec<String> = done
        .iter()
        .filter(|m| covered.get(*m).copied().unwrap_or(0) < 3)
        .map(|m| format!("{m} ({})", covered.get(m).copied().unwrap_or(0)))
        .collect();
    assert!(
        short.is_empty(),
        "modules marked done with fewer than 3 harness cases: {short:?}"
    );
}

/// The noise filter and the comparison have their own tests.
#[test]
fn changeset_noise_filter_tests_pass() {
    let out = Command::new("python3")
        .args(["-m", "unittest", "-q", "test_changeset"])
        .current_dir(diff_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
