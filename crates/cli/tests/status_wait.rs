//! `cloud-init status --wait [--timeout S]` on `--root` sandboxes holding
//! hand-written status.json / result.json: it ends on done, error,
//! disabled and no datasource, and after the timeout with its own exit code.
//! Every run is bounded: the child is killed after [`LIMIT`].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cloud-init");

/// No run may take longer than this; a run still going is a hang.
const LIMIT: Duration = Duration::from_secs(20);

/// Exit code of a `--wait --timeout` that ran out.
const TIMEOUT_CODE: i32 = 124;

fn write(root: &Path, path: &str, data: &str) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

/// Runs the binary with a time limit: (stdout, exit code, how long).
fn run(root: &Path, args: &[&str]) -> (String, i32, Duration) {
    let began = Instant::now();
    let mut child = Command::new(BIN)
        .args(["status", "--root"])
        .arg(root)
        .args(args)
        .env_remove("KERNEL_CMDLINE")
        .env_remove("DEBUG_PROC_CMDLINE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code().unwrap();
        }
        if began.elapsed() > LIMIT {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("cloud-init status {args:?} did not end within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    (out, code, began.elapsed())
}

fn run_json(root: &Path, args: &[&str]) -> (Value, i32, Duration) {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let (out, code, took) = run(root, &all);
    let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    (v, code, took)
}

fn stage(start: Option<f64>, finished: Option<f64>, errors: &[&str]) -> Value {
    json!({"errors": errors, "finished": finished, "recoverable_errors": {}, "start": start})
}

/// A status.json whose four stages are given; `stage` is the running one.
fn status_json(ds: Value, stages: [Value; 4], running: Option<&str>) -> String {
    let [local, init, config, fin] = stages;
    json!({"v1": {
        "datasource": ds,
        "init-local": local,
        "init": init,
        "modules-config": config,
        "modules-final": fin,
        "stage": running,
    }})
    .to_string()
}

/// A root where the whole boot ran, with `final_errors` in modules-final.
fn finished_root(ds: &str, final_errors: &[&str]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let stages = [
        stage(Some(1.0), Some(2.0), &[]),
        stage(Some(3.0), Some(4.0), &[]),
        stage(Some(5.0), Some(6.0), &[]),
        stage(Some(7.0), Some(8.0), final_errors),
    ];
    write(
        d.path(),
        "/var/lib/cloud/data/status.json",
        &status_json(json!(ds), stages, None),
    );
    write(
        d.path(),
        "/var/lib/cloud/data/result.json",
        &json!({"v1": {"datasource": ds, "errors": final_errors}}).to_string(),
    );
    std::fs::create_dir_all(d.path().join("run/cloud-init")).unwrap();
    for f in ["status.json", "result.json"] {
        std::os::unix::fs::symlink(
            format!("../../var/lib/cloud/data/{f}"),
            d.path().join("run/cloud-init").join(f),
        )
        .unwrap();
    }
    d
}

/// A root whose init-local stage started and never ends (no lock file:
/// nothing says its process died).
fn forever_running_root() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let stages = [
        stage(Some(1.0), None, &[]),
        stage(None, None, &[]),
        stage(None, None, &[]),
        stage(None, None, &[]),
    ];
    write(
        d.path(),
        "/run/cloud-init/status.json",
        &status_json(Value::Null, stages, Some("init-local")),
    );
    d
}

#[test]
fn done_returns_at_once_with_upstreams_code() {
    let d = finished_root("DataSourceNoCloud [seed=/dev/vdb]", &[]);
    let (v, code, took) = run_json(d.path(), &["--wait"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["status"], "done");
    assert_eq!(v["wait"]["result"], "done");
    assert!(v["wait"]["waited_seconds"].as_f64().unwrap() < 1.0, "{v}");
    assert!(took < Duration::from_secs(5));
    // Tabular output is upstream's (no dots: it was done at the first look).
    let (out, code, _) = run(d.path(), &["--wait"]);
    assert_eq!((out.as_str(), code), ("status: done\n", 0));
}

#[test]
fn without_wait_the_json_has_no_wait_object() {
    let d = finished_root("DataSourceNoCloud [seed=/dev/vdb]", &[]);
    let (v, code, _) = run_json(d.path(), &[]);
    assert_eq!(code, 0);
    assert!(v.get("wait").is_none(), "{v}");
    assert!(v.get("known_problems").is_none(), "{v}");
}

#[test]
fn error_returns_with_code_1() {
    let d = finished_root("DataSourceNoCloud [seed=/dev/vdb]", &["sys.exit(1) called"]);
    let (v, code, _) = run_json(d.path(), &["--wait", "--timeout", "10"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["status"], "error");
    assert_eq!(v["wait"]["result"], "error");
}

#[test]
fn disabled_returns_at_once() {
    let d = tempfile::tempdir().unwrap();
    // A systemd machine (as `status` sees it) with the disable marker.
    std::fs::create_dir_all(d.path().join("run/systemd/system")).unwrap();
    write(d.path(), "/etc/cloud/cloud-init.disabled", "");
    let (v, code, took) = run_json(d.path(), &["--wait"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["status"], "disabled");
    assert_eq!(v["boot_status_code"], "disabled-by-marker-file");
    assert_eq!(v["wait"]["result"], "disabled");
    assert!(took < Duration::from_secs(5));
}

#[test]
fn no_datasource_in_the_network_stage_ends_the_wait() {
    // The network stage found nothing; config and final have not run (and
    // would only fail): upstream would keep waiting for them.
    let d = tempfile::tempdir().unwrap();
    let stages = [
        stage(Some(1.0), Some(2.0), &[]),
        stage(Some(3.0), Some(4.0), &["No instance datasource found."]),
        stage(None, None, &[]),
        stage(None, None, &[]),
    ];
    write(
        d.path(),
        "/run/cloud-init/status.json",
        &status_json(Value::Null, stages, None),
    );
    let (v, code, took) = run_json(d.path(), &["--wait"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["extended_status"], "error - running");
    assert_eq!(v["wait"]["result"], "no-datasource");
    assert!(took < Duration::from_secs(5));
    // Without --wait the same root is upstream's plain "running" report.
    let (v, _, _) = run_json(d.path(), &[]);
    assert!(v.get("wait").is_none());
}

#[test]
fn a_boot_on_datasource_none_is_no_datasource() {
    let d = finished_root("DataSourceNone", &[]);
    let (v, code, _) = run_json(d.path(), &["--wait"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["status"], "done");
    assert_eq!(v["datasource"], "none");
    assert_eq!(v["wait"]["result"], "no-datasource");
}

#[test]
fn a_boot_that_never_ends_times_out() {
    let d = forever_running_root();
    let (v, code, took) = run_json(d.path(), &["--wait", "--timeout", "1"]);
    assert_eq!(code, TIMEOUT_CODE, "{v}");
    assert_eq!(v["status"], "running");
    assert_eq!(v["wait"]["result"], "timeout");
    let waited = v["wait"]["waited_seconds"].as_f64().unwrap();
    assert!((1.0..2.0).contains(&waited), "{waited}");
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    // Tabular: upstream's progress dots, then the status at that moment.
    let (out, code, _) = run(d.path(), &["--wait", "--timeout", "0.5", "--long"]);
    assert_eq!(code, TIMEOUT_CODE);
    let dots = out.len() - out.trim_start_matches('.').len();
    assert!((1..=4).contains(&dots), "{out:?}");
    assert!(
        out[dots..].starts_with("status: running\nextended_status: running\n"),
        "{out:?}"
    );
}

#[test]
fn waits_until_the_boot_ends() {
    let d = forever_running_root();
    let root = d.path().to_path_buf();
    let finisher = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        write(
            &root,
            "/run/cloud-init/result.json",
            r#"{"v1": {"datasource": "DataSourceNoCloud", "errors": []}}"#,
        );
    });
    let (out, code, took) = run(d.path(), &["--wait", "--timeout", "15"]);
    finisher.join().unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with('.'), "{out:?}");
    assert!(out.ends_with("status: done\n"), "{out:?}");
    assert!(took >= Duration::from_millis(700));
}

#[test]
fn timeout_needs_wait_and_a_number() {
    let d = forever_running_root();
    let (_, code, _) = run(d.path(), &["--timeout", "1"]);
    assert_eq!(code, 2);
    let (_, code, _) = run(d.path(), &["--wait", "--timeout=soon"]);
    assert_eq!(code, 2);
    let (_, code, _) = run(d.path(), &["--wait", "--timeout=-1"]);
    assert_eq!(code, 2);
}

#[test]
fn long_and_json_show_known_problems_of_this_boot() {
    let d = finished_root("DataSourceNoCloud [seed=/dev/vdb]", &[]);
    let log = "\
2026-01-01 10:00:00,000 - util.py[WARNING]: Failed to create user olduser\n\
2026-01-02 10:00:00,000 - log_util.py[DEBUG]: Cloud-init v. 25.1.4 running 'init-local' at Fri, 02 Jan 2026 10:00:00 +0000. Up 3.10 seconds.\n\
2026-01-02 10:00:09,000 - cc_scripts_user.py[WARNING]: Failed to run module scripts-user (scripts in /var/lib/cloud/instance/scripts)\n";
    write(d.path(), "/var/log/cloud-init.log", log);
    let (v, code, _) = run_json(d.path(), &[]);
    assert_eq!(code, 0);
    let list = v["known_problems"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{v}");
    assert_eq!(list[0]["id"], "user-scripts-failed");
    assert_eq!(list[0]["count"], 1);
    assert!(list[0]["line"].as_str().unwrap().ends_with(
        "Failed to run module scripts-user (scripts in /var/lib/cloud/instance/scripts)"
    ));
    assert!(!list[0]["fix"].as_str().unwrap().is_empty());

    let (out, _, _) = run(d.path(), &["--long"]);
    let (head, tail) = out.split_once("known problems:\n").unwrap();
    assert!(
        head.ends_with("errors: []\nrecoverable_errors: {}\n"),
        "{out}"
    );
    assert!(tail.starts_with("\t- user-scripts-failed (1x): "), "{out}");
    // The short form stays upstream's.
    let (out, _, _) = run(d.path(), &[]);
    assert_eq!(out, "status: done\n");
}
