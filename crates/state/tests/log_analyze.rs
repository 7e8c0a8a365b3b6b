//! The log we write is parsed by upstream's `cloud-init analyze`.
//! This test writes a four-stage log with a fake clock and compares it
//! with tests/fixtures/analyze/cloud-init.log; regen-analyze.sh rewrites
//! that file (CI_STATE_WRITE_ANALYZE_FIXTURE=1) and stores the oracle's
//! `analyze show` / `blame` output for it, which this test checks too.

#![allow(clippy::unwrap_used, clippy::panic)]

use ci_state::log::{self as cilog, CiLogger, EventResult};
use std::sync::atomic::{AtomicU64, Ordering};

const START: f64 = 1_748_772_001.0;

static TICKS: AtomicU64 = AtomicU64::new(0);

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/analyze/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Each log record advances the fake clock by 125 ms.
fn clock() -> f64 {
    START + TICKS.fetch_add(1, Ordering::SeqCst) as f64 * 0.125
}

fn now() -> f64 {
    START + TICKS.load(Ordering::SeqCst) as f64 * 0.125
}

/// Matches what `analyze/dump.py:parse_ci_logline` needs from an asctime
/// line: exactly one ` - ` separator, a `%Y-%m-%d %H:%M:%S,%f` stamp, then
/// either the banner or `file[LEVEL]: start:|finish: name: ...`.
fn parses_like_analyze(line: &str) -> bool {
    let parts: Vec<&str> = line.split(" - ").collect();
    let [stamp, event] = parts[..] else {
        return false;
    };
    let b = stamp.as_bytes();
    let stamp_ok = b.len() == 23
        && stamp.chars().enumerate().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == ' ',
            13 | 16 => c == ':',
            19 => c == ',',
            _ => c.is_ascii_digit(),
        });
    if !stamp_ok {
        return false;
    }
    if let Some(rest) = event.split("running").nth(1) {
        if event.contains("Cloud-init v.") {
            return rest.trim_start().starts_with('\'')
                && rest.contains(" at ")
                && rest.ends_with(" seconds.");
        }
    }
    let words: Vec<&str> = event.split_whitespace().collect();
    words.len() >= 3
        && words[0].ends_with("]:")
        && (words[1] == "start:" || words[1] == "finish:")
        && words[2].ends_with(':')
}

#[test]
fn four_stage_log_is_upstream_parsable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cloud-init.log");
    CiLogger::new(Some(&path), false)
        .unwrap()
        .with_clock(Box::new(clock))
        .install()
        .unwrap();
    let stages = [
        (
            "init-local",
            "init-local",
            "searching for local datasources",
            vec![("check-cache", "no cache found")],
        ),
        (
            "init",
            "init-network",
            "searching for network datasources",
            vec![("config-seed_random", "config-seed_random ran successfully")],
        ),
        (
            "modules:config",
            "modules-config",
            "running modules for config",
            vec![("config-locale", "config-locale ran successfully")],
        ),
        (
            "modules:final",
            "modules-final",
            "running modules for final",
            vec![(
                "config-scripts_user",
                "config-scripts_user ran successfully",
            )],
        ),
    ];
    for (i, (action, event, desc, children)) in stages.iter().enumerate() {
        let up = format!("{:.2}", 4.2 + i as f64 * 3.0);
        cilog::log_banner("25.1.4", action, &up, now());
        cilog::event_start(event, desc);
        for (child, fin) in children {
            let name = format!("{event}/{child}");
            cilog::event_start(&name, &format!("running {child}"));
            log::debug!(target: "util.py", "Running command ['true'] with allowed return codes [0]");
            cilog::event_finish(&name, EventResult::Success, fin);
        }
        cilog::event_finish(event, EventResult::Success, desc);
    }
    log::logger().flush();
    let text = std::fs::read_to_string(&path).unwrap();
    for line in text
        .lines()
        .filter(|l| l.contains("start:") || l.contains("finish:") || l.contains("Cloud-init v."))
    {
        assert!(parses_like_analyze(line), "{line}");
    }
    assert_eq!(text.lines().count(), 4 * 6);
    if std::env::var_os("CI_STATE_WRITE_ANALYZE_FIXTURE").is_some() {
        std::fs::write(fixture("cloud-init.log"), &text).unwrap();
        // The oracle's outputs are made from this file next.
        return;
    }
    assert_eq!(
        text,
        std::fs::read_to_string(fixture("cloud-init.log")).unwrap()
    );

    // What the oracle made of the committed log: four stages, every event.
    let show = std::fs::read_to_string(fixture("analyze-show.txt")).unwrap();
    for stage in [
        "init-local",
        "init-network",
        "modules-config",
        "modules-final",
    ] {
        assert!(
            show.contains(&format!("Finished stage: ({stage})")),
            "{show}"
        );
    }
    assert!(show.contains("1 boot records analyzed"));
    let blame = std::fs::read_to_string(fixture("analyze-blame.txt")).unwrap();
    assert!(blame.contains("(modules-config/config-locale)"), "{blame}");
    assert_eq!(blame.matches("s (").count(), 4, "{blame}");

    // Warnings and above are captured for status.json, debug is not.
    cilog::start_capture();
    log::debug!("not captured");
    log::warn!(target: "util.py", "first warning");
    cilog::deprecated("schema.py", "Key 'x' is deprecated");
    log::error!(target: "ci_state::test", "an error");
    log::warn!(target: "ci_state::test", "second\nwarning");
    log::warn!(target: "rustls::conn", "dependency warning, logged but not counted");
    let got = cilog::take_captured();
    let want: std::collections::BTreeMap<String, Vec<String>> = [
        ("DEPRECATED", vec!["Key 'x' is deprecated"]),
        ("ERROR", vec!["an error"]),
        ("WARNING", vec!["first warning", "second\nwarning"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(str::to_string).collect()))
    .collect();
    assert_eq!(got, want);
    assert!(cilog::take_captured().is_empty());
    log::logger().flush();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(" - schema.py[DEPRECATED]: Key 'x' is deprecated\n"),
        "{text}"
    );
    assert!(
        text.contains(" - util.py[WARNING]: first warning\n"),
        "{text}"
    );
    assert!(!text.contains("not captured") || text.contains("[DEBUG]: not captured"));
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & !0o640, 0, "{mode:o}");
}
