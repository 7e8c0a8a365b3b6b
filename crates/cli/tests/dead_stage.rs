//! A stage whose process is killed mid-stage leaves a record: `status` and
//! the next stage report it as an error naming the stage instead of
//! "running" forever. The network stage is held in its metadata fetch by a
//! 127.0.0.1 listener that accepts and never answers, then SIGKILLed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cloud-init");

fn write(root: &Path, p: &str, text: &str) {
    let path = root.join(p.trim_start_matches('/'));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn ci(root: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--root")
        .arg(root)
        .args(args)
        .env_remove("CLOUD_CFG")
        .env_remove("DEBUG_PROC_CMDLINE");
    c
}

fn run(root: &Path, args: &[&str]) -> Output {
    ci(root, args).output().unwrap()
}

fn status(root: &Path) -> (Value, i32) {
    let out = run(root, &["status", "--format", "json"]);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("status json: {e}: {}", String::from_utf8_lossy(&out.stdout)));
    (v, out.status.code().unwrap_or(-1))
}

/// The stage under test; SIGKILLed (only this PID) if the test fails first.
struct Stage(Child);

impl Drop for Stage {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Accepts connections on 127.0.0.1 and holds them unanswered; reports
/// the first accept.
fn silent_listener() -> (u16, mpsc::Receiver<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
            let _ = tx.send(());
        }
    });
    (port, rx)
}

#[test]
fn killed_network_stage_is_an_error_in_status_and_the_next_stage() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path();
    let (port, accepted) = silent_listener();
    write(
        root,
        "/etc/cloud/cloud.cfg",
        &format!(
            "datasource_list: [Ec2, None]\n\
             datasource:\n  Ec2:\n    metadata_urls: ['http://127.0.0.1:{port}']\n    \
             max_wait: 600\n    timeout: 600\n\
             cloud_init_modules: []\ncloud_config_modules: []\ncloud_final_modules: []\n"
        ),
    );
    write(
        root,
        "/sys/class/dmi/id/product_uuid",
        "ec2e1916-9099-7caf-fd21-012345abcdef\n",
    );
    write(root, "/proc/uptime", "12.34 10.00\n");

    let mut stage = Stage(
        ci(root, &["init"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = stage.0.id();
    // The stage is mid-stage once its metadata request reached us.
    accepted
        .recv_timeout(Duration::from_secs(60))
        .expect("the network stage never asked for metadata");

    let (v, code) = status(root);
    assert_eq!((v["extended_status"].as_str(), code), (Some("running"), 0));
    assert_eq!(v["stage"], "init");
    let lock = std::fs::read_to_string(root.join("run/cloud-init/.stage-init.lock")).unwrap();
    assert_eq!(lock.trim(), pid.to_string());

    stage.0.kill().unwrap();
    let died = stage.0.wait().unwrap();
    assert!(!died.success());

    let expected = format!(
        "Stage init (Network Stage) did not finish: its process (pid {pid}) ended before \
         the stage completed (killed or aborted); see /var/log/cloud-init.log"
    );
    let (v, code) = status(root);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["status"], "error");
    assert_eq!(v["extended_status"], "error - done");
    assert_eq!(v["errors"], serde_json::json!([expected]));
    assert_eq!(v["init"]["errors"], serde_json::json!([expected]));
    assert_eq!(v["stage"], Value::Null);

    // `--wait` returns instead of waiting for a stage that will never end.
    let mut waiting = Stage(
        ci(root, &["status", "--wait"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let began = Instant::now();
    let code = loop {
        if let Some(st) = waiting.0.try_wait().unwrap() {
            break st.code();
        }
        assert!(
            began.elapsed() < Duration::from_secs(30),
            "status --wait hangs on a dead stage"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(code, Some(1));

    // The next stage runs and writes the death down for good.
    let out = run(root, &["modules", "--mode", "config"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    let disk: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("var/lib/cloud/data/status.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(disk["v1"]["init"]["errors"], serde_json::json!([expected]));
    assert!(disk["v1"]["init"]["finished"].is_number());
    assert!(disk["v1"]["modules-config"]["start"].is_number());
    assert!(disk["v1"]["modules-config"]["finished"].is_number());
    let log = std::fs::read_to_string(root.join("var/log/cloud-init.log")).unwrap_or_default();
    assert!(log.contains(&expected), "{log}");

    run(root, &["modules", "--mode", "final"]);
    let result = std::fs::read_to_string(root.join("run/cloud-init/result.json")).unwrap();
    assert!(result.contains(&expected), "{result}");
    let (v, code) = status(root);
    assert_eq!(code, 1);
    assert_eq!(v["extended_status"], "error - done");
    assert_eq!(v["errors"][0], Value::String(expected));
}
