//! Root-only: the user and SSH modules on a temp root with the machine's
//! real shadow-utils (`--root`) and ssh-keygen. Skipped with a note when
//! not root or when the tools are missing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ci_distro::Distro;
use ci_host::{Host, WriteOpts};
use ci_modules::{lookup, Ctx, InstanceInfo};
use ci_state::Paths;
use serde_json::json;
use std::os::unix::fs::MetadataExt;

const KEY_BOB: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl bob@laptop";
const KEY_META: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFG9Qh2pBBdJtTzbg6KOdkN2B9gFkC4SgJKzGv4tWnHT meta@cloud";

fn tool(p: &str) -> bool {
    ["/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"]
        .iter()
        .any(|d| std::path::Path::new(&format!("{d}{p}")).is_file())
}

fn seed(host: &Host) {
    let w = |p: &str, s: &str, m: u32| {
        host.write_atomic(p, s.as_bytes(), &WriteOpts::mode(m))
            .unwrap()
    };
    w("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n", 0o644);
    w("/etc/group", "root:x:0:\nadm:x:4:\nsudo:x:27:\n", 0o644);
    w("/etc/shadow", "root:*:19000:0:99999:7:::\n", 0o640);
    w("/etc/gshadow", "root:*::\nadm:*::\nsudo:*::\n", 0o640);
    w(
        "/etc/login.defs",
        "UID_MIN 1000\nUID_MAX 60000\nGID_MIN 1000\nGID_MAX 60000\nSYS_UID_MIN 100\nSYS_UID_MAX 999\nSYS_GID_MIN 100\nSYS_GID_MAX 999\nUSERGROUPS_ENAB yes\nENCRYPT_METHOD SHA512\nCREATE_HOME yes\n",
        0o644,
    );
    w(
        "/etc/sudoers",
        "root ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n",
        0o440,
    );
    w(
        "/etc/ssh/sshd_config",
        "Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication no\n",
        0o644,
    );
    w("/etc/ssh/ssh_host_dsa_key", "stale", 0o600);
    host.create_dir_all("/root", 0o700).unwrap();
    host.create_dir_all("/home", 0o755).unwrap();
}

fn mode(host: &Host, p: &str) -> u32 {
    std::fs::metadata(host.path(p)).unwrap().mode() & 0o7777
}

#[test]
fn users_ssh_and_passwords_on_a_sandbox_root() {
    if !Host::running_as_root() {
        eprintln!("skipped users_ssh_sandbox: needs root (useradd --root chroots)");
        return;
    }
    if ![
        "useradd",
        "groupadd",
        "usermod",
        "passwd",
        "chpasswd",
        "ssh-keygen",
    ]
    .iter()
    .all(|t| tool(t))
    {
        eprintln!("skipped users_ssh_sandbox: shadow-utils or ssh-keygen missing");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    seed(&host);
    let cfg = json!({
        "system_info": {"distro": "debian", "default_user": {
            "name": "debian", "lock_passwd": true, "gecos": "Debian", "groups": ["adm", "sudo"],
            "sudo": ["ALL=(ALL) NOPASSWD:ALL"], "shell": "/bin/bash"}},
        "groups": ["staff"],
        "users": ["default", {"name": "bob", "groups": "staff", "ssh_authorized_keys": [KEY_BOB],
                               "lock_passwd": false, "hashed_passwd": "$6$salt$NlZvUYm5qW9t1sOIG1Ju0o8vG0Pxt2fbbfmMm1P7Jkq8vUJ8r6m4ZqB4aQXoXxQ6jD4h6qX5wYl3E5f1T5oH7/"}],
        "ssh_genkeytypes": ["ed25519", "ecdsa"],
        "ssh_pwauth": true,
        "chpasswd": {"expire": false, "users": [{"name": "debian", "password": "Passw0rd!", "type": "text"}]},
    });
    let distro = Distro::from_config(&cfg);
    let paths = Paths::default();
    let instance = InstanceInfo {
        public_keys: vec![KEY_META.into()],
        ..Default::default()
    };
    for m in [
        "users_groups",
        "ssh",
        "set_passwords",
        "ssh_authkey_fingerprints",
        "keys_to_console",
    ] {
        let ctx = Ctx {
            name: m,
            host: &host,
            cfg: &cfg,
            distro: &distro,
            paths: &paths,
            instance: &instance,
            args: &[],
            version: "25.1.4",
            uptime: 0.0,
        };
        let h = lookup(m).unwrap().handler;
        h(&ctx).unwrap_or_else(|e| panic!("{m}: {e}"));
    }

    let debian = host.user("debian").expect("debian created");
    let bob = host.user("bob").expect("bob created");
    assert_eq!(debian.shell, "/bin/bash");
    assert_eq!(debian.gecos, "Debian");
    assert_eq!(host.group("staff").unwrap().members, ["bob"]);
    assert!(host
        .group("sudo")
        .unwrap()
        .members
        .contains(&"debian".to_string()));
    for (u, home) in [(&debian, "/home/debian"), (&bob, "/home/bob")] {
        let md = std::fs::metadata(host.path(home)).unwrap();
        assert_eq!(md.uid(), u.uid, "{home} owner");
    }

    // Keys: bob's own, the metadata key for the default user, root blocked.
    let ak = "/home/bob/.ssh/authorized_keys";
    assert_eq!(host.read_to_string(ak).unwrap(), format!("{KEY_BOB}\n"));
    assert_eq!(mode(&host, ak), 0o600);
    assert_eq!(mode(&host, "/home/bob/.ssh"), 0o700);
    assert_eq!(std::fs::metadata(host.path(ak)).unwrap().uid(), bob.uid);
    assert_eq!(
        std::fs::metadata(host.path("/home/bob/.ssh"))
            .unwrap()
            .gid(),
        bob.gid
    );
    assert_eq!(
        host.read_to_string("/home/debian/.ssh/authorized_keys")
            .unwrap(),
        format!("{KEY_META}\n")
    );
    assert_eq!(
        host.read_to_string("/root/.ssh/authorized_keys").unwrap(),
        format!("no-port-forwarding,no-agent-forwarding,no-X11-forwarding,command=\"echo 'Please login as the user \\\"debian\\\" rather than the user \\\"root\\\".';echo;sleep 10;exit 142\" {KEY_META}\n")
    );

    // sudoers: existing @includedir honoured, rules file 0440.
    let sudo = host
        .read_to_string("/etc/sudoers.d/90-cloud-init-users")
        .unwrap();
    assert!(sudo.starts_with("# Created by cloud-init v. 25.1.4 on "));
    assert!(sudo.ends_with("\n\n# User rules for debian\ndebian ALL=(ALL) NOPASSWD:ALL\n"));
    assert_eq!(mode(&host, "/etc/sudoers.d/90-cloud-init-users"), 0o440);
    assert_eq!(
        host.read_to_string("/etc/sudoers").unwrap(),
        "root ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n"
    );

    // Passwords: bob's hash kept; debian's locked account got its text
    // password from set_passwords (chpasswd replaces the locked field, as upstream).
    let shadow = host.read_to_string("/etc/shadow").unwrap();
    let field = |u: &str| {
        shadow
            .lines()
            .find(|l| l.starts_with(&format!("{u}:")))
            .unwrap()
            .split(':')
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert!(field("bob").starts_with("$6$salt$"), "{shadow}");
    assert!(
        field("debian").starts_with("$6$") && field("debian").len() > 40,
        "{shadow}"
    );

    // Host keys: old ones deleted, requested types generated with upstream's modes.
    assert!(!host.exists("/etc/ssh/ssh_host_dsa_key"));
    for t in ["ed25519", "ecdsa"] {
        let k = format!("/etc/ssh/ssh_host_{t}_key");
        assert_eq!(mode(&host, &k), 0o600);
        assert_eq!(mode(&host, &format!("{k}.pub")), 0o644);
    }
    assert!(!host.exists("/etc/ssh/ssh_host_rsa_key"));

    // sshd drop-in, root-only, with the setting; sshd_config untouched.
    let dropin = "/etc/ssh/sshd_config.d/50-cloud-init.conf";
    assert_eq!(
        host.read_to_string(dropin).unwrap(),
        "PasswordAuthentication yes\n"
    );
    assert_eq!(mode(&host, dropin), 0o600);
    assert_eq!(
        host.read_to_string("/etc/ssh/sshd_config").unwrap(),
        "Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication no\n"
    );
}
