//! users_groups against upstream: the commands, sudo/doas rules and keys
//! that upstream's module produces for the same config (fixture made by
//! `regen-users-fixtures.py` with the oracle).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/sim.rs"]
#[allow(dead_code)]
mod common_sim;

use ci_distro::Distro;
use ci_host::Host;
use ci_modules::{lookup, Ctx, InstanceInfo};
use ci_state::Paths;
use common_sim::{seed_root, SimRunner};
use serde_json::{json, Value};
use std::sync::Arc;

const DEBIAN_DEFAULT: &str = r#"{"name": "debian", "lock_passwd": true, "gecos": "Debian",
  "groups": ["adm", "audio", "cdrom", "dialout", "dip", "floppy", "plugdev", "sudo", "video"],
  "sudo": ["ALL=(ALL) NOPASSWD:ALL"], "shell": "/bin/bash"}"#;

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn commands_match_upstream() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/users_groups_upstream.json"
    ))
    .unwrap();
    let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert!(cases.len() >= 9);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let d = tempfile::tempdir().unwrap();
        let runner = Arc::new(SimRunner::default());
        let host = Host::with_runner(d.path(), runner.clone());
        let existing_users: Vec<String> = case.get("existing_users").map(strs).unwrap_or_default();
        let existing_groups: Vec<String> =
            case.get("existing_groups").map(strs).unwrap_or_default();
        let eu: Vec<&str> = existing_users.iter().map(String::as_str).collect();
        let eg: Vec<&str> = existing_groups.iter().map(String::as_str).collect();
        seed_root(&host, &eu, &eg);
        let default_user = case
            .get("default_user")
            .cloned()
            .unwrap_or_else(|| serde_json::from_str(DEBIAN_DEFAULT).unwrap());
        let mut cfg = case["cfg"].clone();
        cfg["system_info"] = json!({"distro": case["distro"], "default_user": default_user});
        let distro = Distro::from_config(&cfg);
        let paths = Paths::default();
        let instance = InstanceInfo {
            public_keys: case.get("cloud_keys").map(strs).unwrap_or_default(),
            ..Default::default()
        };
        let ctx = Ctx {
            name: "users_groups",
            host: &host,
            cfg: &cfg,
            distro: &distro,
            paths: &paths,
            instance: &instance,
            args: &[],
            version: "25.1.4",
            uptime: 0.0,
        };
        let handler = lookup("users_groups").unwrap().handler;
        let res = handler(&ctx);
        assert_eq!(res.is_err(), !case["error"].is_null(), "{name}: {res:?}");

        let root = d.path().to_string_lossy().into_owned();
        // In a sandbox a plain chpasswd also gets `-c METHOD` (PAM cannot run under --root).
        let got: Vec<(Vec<String>, Option<String>)> = runner
            .argvs(&root)
            .into_iter()
            .map(|a| match a.as_slice() {
                [p, c, _] if p == "chpasswd" && c == "-c" => vec![p.clone()],
                _ => a,
            })
            .zip(runner.stdins())
            .collect();
        let events = case["events"].as_array().unwrap();
        let want: Vec<(Vec<String>, Option<String>)> = events
            .iter()
            .filter(|e| e[0] == "cmd")
            .map(|e| (strs(&e[1]), e[2].as_str().map(str::to_string)))
            .collect();
        assert_eq!(got, want, "case {name}");

        for e in events {
            match e[0].as_str().unwrap() {
                "sudo" => {
                    let user = e[1].as_str().unwrap();
                    let file = host
                        .read_to_string("/etc/sudoers.d/90-cloud-init-users")
                        .unwrap();
                    let rules: Vec<String> = match &e[2] {
                        Value::String(s) => vec![s.clone()],
                        v => strs(v),
                    };
                    let block = format!(
                        "\n# User rules for {user}\n{}\n",
                        rules
                            .iter()
                            .map(|r| format!("{user} {r}"))
                            .collect::<Vec<_>>()
                            .join("\n")
                    );
                    assert!(file.contains(&block), "{name}: {file}");
                }
                "doas" => {
                    let user = e[1].as_str().unwrap();
                    let file = host.read_to_string("/etc/doas.conf").unwrap();
                    let block = format!(
                        "\n# cloud-init User rules for {user}\n{}\n",
                        strs(&e[2]).join("\n")
                    );
                    assert!(file.contains(&block), "{name}: {file}");
                }
                "keys" => {
                    let user = e[1].as_str().unwrap();
                    let home = host.user(user).unwrap().home;
                    let file = host
                        .read_to_string(format!("{home}/.ssh/authorized_keys"))
                        .unwrap();
                    for k in strs(&e[2]) {
                        let line = match e[3].as_str() {
                            Some(o) => format!("{o} {k}"),
                            None => k,
                        };
                        assert!(
                            file.lines().any(|l| l == line),
                            "{name}: {file:?} lacks {line:?}"
                        );
                    }
                }
                _ => {}
            }
        }
    }
}
