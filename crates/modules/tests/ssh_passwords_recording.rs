//! ssh and set_passwords with a recording runner: exact commands, files and modes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/sim.rs"]
#[allow(dead_code)]
mod common_sim;

use ci_distro::Distro;
use ci_host::{Host, RecordingRunner, WriteOpts};
use ci_modules::{lookup, Ctx, InstanceInfo};
use ci_state::Paths;
use common_sim::{seed_root, strip_root};
use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

fn run(host: &Host, module: &str, cfg: &Value, keys: &[&str]) -> Result<(), String> {
    let distro = Distro::from_config(cfg);
    let paths = Paths::default();
    let instance = InstanceInfo {
        public_keys: keys.iter().map(|s| s.to_string()).collect(),
        datasource_name: "NoCloud".into(),
        ..Default::default()
    };
    let ctx = Ctx {
        name: module,
        host,
        cfg,
        distro: &distro,
        paths: &paths,
        instance: &instance,
        args: &[],
        version: "25.1.4",
        uptime: 0.0,
    };
    (lookup(module).unwrap().handler)(&ctx).map_err(|e| e.to_string())
}

fn mode(host: &Host, p: &str) -> u32 {
    std::fs::metadata(host.path(p)).unwrap().mode() & 0o7777
}

#[test]
fn ssh_generates_missing_keys_after_deleting_old_ones() {
    let d = tempfile::tempdir().unwrap();
    let rec = Arc::new(RecordingRunner::new());
    let host = Host::with_runner(d.path(), rec.clone());
    seed_root(&host, &[], &[]);
    for f in [
        "ssh_host_rsa_key",
        "ssh_host_rsa_key.pub",
        "ssh_host_ecdsa_key-cert.pub",
        "sshd_config",
    ] {
        host.write_atomic(format!("/etc/ssh/{f}"), b"x", &WriteOpts::default())
            .unwrap();
    }
    let cfg = json!({"system_info": {"distro": "debian", "default_user": null}, "ssh_quiet_keygen": true});
    run(&host, "ssh", &cfg, &[]).unwrap();
    assert_eq!(host.list_dir("/etc/ssh"), ["sshd_config"]);
    let root = d.path().display().to_string();
    let mut lines = rec.lines();
    lines.sort();
    assert_eq!(
        lines,
        ["ecdsa", "ed25519", "rsa"]
            .iter()
            // Under --root the key is named after the target (no /etc/hostname here).
            .map(|t| format!(
                "ssh-keygen -t {t} -N  -f {root}/etc/ssh/ssh_host_{t}_key -C root@localhost"
            ))
            .collect::<Vec<_>>()
    );
    assert!(rec
        .calls()
        .iter()
        .all(|c| c.env == [("LANG".to_string(), "C".to_string())]));
    // No default user: root only gets the keys, without the block prefix.
    assert_eq!(
        host.read_to_string("/root/.ssh/authorized_keys").unwrap(),
        ""
    );
}

#[test]
fn ssh_provided_keys_certificates_and_root_block() {
    let d = tempfile::tempdir().unwrap();
    let rec = Arc::new(RecordingRunner::new());
    let host = Host::with_runner(d.path(), rec.clone());
    seed_root(&host, &["ubuntu"], &[]);
    host.write_atomic(
        "/etc/ssh/sshd_config",
        b"Include /etc/ssh/sshd_config.d/*.conf\n",
        &WriteOpts::default(),
    )
    .unwrap();
    let cfg = json!({
        "system_info": {"distro": "ubuntu", "default_user": {"name": "ubuntu"}},
        "users": ["default"],
        "ssh_keys": {"ed25519_private": "PRIV\n", "ed25519_certificate": "CERT\n", "dsa_private": "x", "ed25519-sk_private": "y"},
        "ssh_authorized_keys": ["ssh-rsa AAAAB3Nza user@cfg"],
        "disable_root_opts": "no-pty,command=\"echo $USER not $DISABLE_USER\"",
    });
    run(&host, "ssh", &cfg, &["ssh-ed25519 AAAAC3Nz meta"]).unwrap();
    assert_eq!(
        host.read_to_string("/etc/ssh/ssh_host_ed25519_key")
            .unwrap(),
        "PRIV\n"
    );
    assert_eq!(mode(&host, "/etc/ssh/ssh_host_ed25519_key"), 0o600);
    assert_eq!(mode(&host, "/etc/ssh/ssh_host_ed25519_key-cert.pub"), 0o644);
    assert!(!host.exists("/etc/ssh/ssh_host_dsa_key"));
    assert_eq!(
        host.read_to_string("/etc/ssh/sshd_config.d/50-cloud-init.conf")
            .unwrap(),
        "HostCertificate /etc/ssh/ssh_host_ed25519_key-cert.pub\n"
    );
    let root = d.path().display().to_string();
    assert_eq!(
        rec.lines(),
        [format!(
            "sh -xc o=$(ssh-keygen -yf \"{root}/etc/ssh/ssh_host_ed25519_key\") && echo \"$o\" root@localhost > \"{root}/etc/ssh/ssh_host_ed25519_key.pub\""
        )]
    );
    assert_eq!(
        host.read_to_string("/home/ubuntu/.ssh/authorized_keys")
            .unwrap(),
        "ssh-ed25519 AAAAC3Nz meta\nssh-rsa AAAAB3Nza user@cfg\n"
    );
    assert_eq!(
        host.read_to_string("/root/.ssh/authorized_keys").unwrap(),
        "no-pty,command=\"echo ubuntu not root\" ssh-ed25519 AAAAC3Nz meta\nno-pty,command=\"echo ubuntu not root\" ssh-rsa AAAAB3Nza user@cfg\n"
    );
    let ak = std::fs::metadata(host.path("/home/ubuntu/.ssh/authorized_keys")).unwrap();
    assert_eq!((ak.uid(), ak.mode() & 0o777), (500, 0o600));
    assert_eq!(mode(&host, "/home/ubuntu/.ssh"), 0o700);
}

#[test]
fn set_passwords_commands_and_sshd_config() {
    let d = tempfile::tempdir().unwrap();
    let rec = Arc::new(RecordingRunner::new());
    let host = Host::with_runner(d.path(), rec.clone());
    seed_root(&host, &["ubuntu", "al"], &[]);
    host.write_atomic(
        "/etc/ssh/sshd_config",
        b"# hi\nPasswordAuthentication yes\nUsePAM yes\n",
        &WriteOpts::mode(0o640),
    )
    .unwrap();
    let cfg = json!({
        "system_info": {"distro": "ubuntu", "default_user": {"name": "ubuntu"}},
        "ssh_pwauth": false,
        "chpasswd": {"users": [
            {"name": "ubuntu", "password": "pw1", "type": "text"},
            {"name": "al", "password": "$6$s$h"},
            {"name": "rnd", "type": "RANDOM"}]},
    });
    run(&host, "set_passwords", &cfg, &[]).unwrap();
    let root = d.path().display().to_string();
    let calls = rec.calls();
    let argv: Vec<Vec<String>> = calls.iter().map(|c| strip_root(&c.argv, &root)).collect();
    assert_eq!(
        argv,
        [
            vec!["chpasswd", "-c", "SHA512"],
            vec!["chpasswd", "-e"],
            vec!["passwd", "--expire", "ubuntu"],
            vec!["passwd", "--expire", "rnd"],
            vec!["passwd", "--expire", "al"],
            // sshd_config changed: the target's SSH daemon is restarted (a real
            // runner skips it under --root unless --machine-commands).
            vec!["service", "ssh", "restart"],
        ]
    );
    assert_eq!(calls[5].place, ci_host::Where::Target);
    let stdin0 = String::from_utf8(calls[0].stdin.clone().unwrap()).unwrap();
    assert!(
        stdin0.starts_with("ubuntu:pw1\nrnd:")
            && stdin0.ends_with('\n')
            && stdin0.len() == "ubuntu:pw1\nrnd:".len() + 21
    );
    assert_eq!(calls[1].stdin.as_deref(), Some(&b"al:$6$s$h\n"[..]));
    // No Include line: sshd_config itself edited, mode kept; no restart in a sandbox.
    assert_eq!(
        host.read_to_string("/etc/ssh/sshd_config").unwrap(),
        "# hi\nPasswordAuthentication no\nUsePAM yes\n"
    );
    assert_eq!(mode(&host, "/etc/ssh/sshd_config"), 0o640);
    assert!(!host.exists("/etc/ssh/sshd_config.d"));

    // `password` for the default user, `unchanged` leaves sshd alone.
    let rec = Arc::new(RecordingRunner::new());
    let host2 = Host::with_runner(d.path(), rec.clone());
    let cfg = json!({"system_info": {"distro": "ubuntu", "default_user": {"name": "ubuntu"}},
        "users": ["default"], "password": "$1$a$b", "chpasswd": {"expire": false}, "ssh_pwauth": "unchanged"});
    run(&host2, "set_passwords", &cfg, &[]).unwrap();
    let argv: Vec<Vec<String>> = rec
        .calls()
        .iter()
        .map(|c| strip_root(&c.argv, &root))
        .collect();
    assert_eq!(argv, [vec!["chpasswd", "-e"]]);
    assert_eq!(
        rec.calls()[0].stdin.as_deref(),
        Some(&b"ubuntu:$1$a$b\n"[..])
    );
}

#[test]
fn users_groups_refuses_home_conflicts() {
    let d = tempfile::tempdir().unwrap();
    let rec = Arc::new(RecordingRunner::new());
    let host = Host::with_runner(d.path(), rec.clone());
    seed_root(&host, &[], &[]);
    let cfg = json!({"system_info": {"distro": "debian", "default_user": null},
        "users": [{"name": "x", "system": true, "ssh_authorized_keys": ["k"]}]});
    let err = run(&host, "users_groups", &cfg, &[]).unwrap_err();
    assert_eq!(
        err,
        "Not creating user x. Key(s) ssh_authorized_keys cannot be provided with system"
    );
    assert!(rec.lines().is_empty());
    let cfg = json!({"system_info": {"distro": "debian", "default_user": null},
        "users": [{"name": "y", "ssh_redirect_user": "maybe"}]});
    let err = run(&host, "users_groups", &cfg, &[]).unwrap_err();
    assert!(
        err.contains("Invalid value of ssh_redirect_user: maybe"),
        "{err}"
    );
}
