//! Pre-generated host keys: started early, taken by the ssh module, and
//! never a reason to write outside the root.

use super::*;
use crate::testutil::{logcap, TestEnv};
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::process::Command as Proc;

const RUN: &str = "/run/cloud-init";
const TYPES: [&str; 3] = ["rsa", "ecdsa", "ed25519"];

fn with_ssh(mut cfg: Value) -> Value {
    cfg["cloud_init_modules"] = json!(["seed_random", ["ssh", "once-per-instance"]]);
    cfg
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// `ssh-keygen -y` on an installed private key: its public line.
fn public_of(private: &Path) -> String {
    let out = Proc::new("ssh-keygen")
        .args(["-y", "-f"])
        .arg(private)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn start_then_take_gives_a_key_of_each_type() {
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    let run = Path::new(RUN);
    let got = start(&host, run, &with_ssh(json!({})));
    assert_eq!(got, TYPES);
    assert_eq!(mode(&d.path().join("run/cloud-init/hostkeys")), 0o700);
    // Started once per boot.
    assert!(start(&host, run, &with_ssh(json!({}))).is_empty());
    for t in TYPES {
        assert!(started(&host, run, t));
        let p = take(&host, run, t).unwrap_or_else(|| panic!("{t}"));
        assert!(alg_of(t, &p.alg), "{t}: {}", p.alg);
        assert!(p.key.comment.is_empty());
        let key = d
            .path()
            .join(format!("run/cloud-init/hostkeys/ssh_host_{t}_key"));
        assert_eq!(mode(&key), 0o600);
    }
    discard(&host, run);
    assert!(!d.path().join("run/cloud-init/hostkeys").exists());
    assert!(take(&host, run, "rsa").is_none());
}

/// `take` right after `start` waits for ssh-keygen and gets the whole key.
#[test]
fn take_waits_for_the_generator() {
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    let run = Path::new(RUN);
    let cfg = with_ssh(json!({"ssh_genkeytypes": ["rsa"]}));
    assert_eq!(start(&host, run, &cfg), ["rsa"]);
    let lock = d.path().join("run/cloud-init/hostkeys/rsa.lock");
    let f = File::open(&lock).unwrap();
    // RSA 3072 takes far longer than this check: the generator holds the lock.
    assert_eq!(
        flock(&f, FlockOperation::NonBlockingLockShared),
        Err(Errno::WOULDBLOCK)
    );
    // Still running: discard leaves everything in place.
    discard(&host, run);
    assert!(lock.exists());
    let p = take(&host, run, "rsa").unwrap();
    assert_eq!(p.alg, "ssh-rsa");
    assert!(p.out.render("/k", "c").contains("+---[RSA 3072]----+\n"));
    discard(&host, run);
    assert!(!lock.exists());
}

#[test]
fn start_does_nothing_when_the_module_would_not_generate() {
    let d = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    let run = Path::new(RUN);
    // The ssh module in no list.
    let none = json!({"cloud_init_modules": ["seed_random"], "cloud_final_modules": [["final-message", "always"]]});
    assert!(start(&host, run, &none).is_empty());
    // Keys given in the config.
    assert!(start(&host, run, &with_ssh(json!({"ssh_keys": {}}))).is_empty());
    // Kept keys (ssh_deletekeys off) are not made again; an unknown type is left to the module.
    std::fs::create_dir_all(d.path().join("etc/ssh")).unwrap();
    std::fs::write(d.path().join("etc/ssh/ssh_host_ecdsa_key"), "old").unwrap();
    let cfg = with_ssh(json!({"ssh_deletekeys": false, "ssh_genkeytypes": ["ecdsa", "dsa"]}));
    assert!(start(&host, run, &cfg).is_empty());
    assert!(!d.path().join("run/cloud-init/hostkeys").exists());
    // With deletion on, the module replaces it: made ahead. Spelled as in
    // upstream's lists, in the config stage's list.
    let cfg = json!({"cloud_config_modules": ["cc_ssh"], "ssh_genkeytypes": "ecdsa"});
    assert_eq!(start(&host, run, &cfg), ["ecdsa"]);
    assert!(take(&host, run, "ecdsa").is_some());
    assert!(take(&host, run, "ed25519").is_none());
}

/// An image's link in place of the key directory is followed inside the
/// root only: nothing is written to the place it names on this machine.
#[test]
fn a_linked_key_directory_stays_inside_the_root() {
    let d = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let host = Host::new(d.path());
    let run = Path::new(RUN);
    std::fs::create_dir_all(d.path().join("run/cloud-init")).unwrap();
    std::os::unix::fs::symlink(outside.path(), d.path().join("run/cloud-init/hostkeys")).unwrap();
    let cfg = with_ssh(json!({"ssh_genkeytypes": ["ed25519"]}));
    assert_eq!(start(&host, run, &cfg), ["ed25519"]);
    assert!(take(&host, run, "ed25519").is_some());
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    let inside = d
        .path()
        .join(outside.path().strip_prefix("/").unwrap())
        .join("ssh_host_ed25519_key");
    assert!(inside.exists());
    discard(&host, run);
    assert!(!inside.exists());
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}

fn module_env(cfg: Value) -> TestEnv {
    logcap::init();
    let env = TestEnv::new(with_ssh(cfg));
    env.write("/etc/hostname", "myhost\n");
    env
}

fn keygen_calls(env: &TestEnv) -> Vec<String> {
    env.rec
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("ssh-keygen"))
        .collect()
}

/// The module installs the keys made ahead of time, as ssh-keygen would
/// have left them: modes, the comment in both files, and its printed text.
#[test]
fn module_installs_pregenerated_keys() {
    let env = module_env(json!({}));
    let run = env.paths.run_dir.clone();
    assert_eq!(start(&env.host, &run, &env.cfg), TYPES);
    crate::ssh::handle(&env.ctx("ssh")).unwrap();
    // The recording runner would have recorded any ssh-keygen run.
    assert!(keygen_calls(&env).is_empty(), "{:?}", env.rec.lines());
    for t in TYPES {
        let f = format!("/etc/ssh/ssh_host_{t}_key");
        assert_eq!(env.mode(&f), 0o600, "{t}");
        assert_eq!(env.mode(&format!("{f}.pub")), 0o644, "{t}");
        let public = env.read(&format!("{f}.pub"));
        assert!(public.ends_with(" root@myhost\n"), "{t}: {public}");
        let key = OpenSshKey::parse(&env.read(&f)).unwrap();
        assert_eq!(key.comment, b"root@myhost", "{t}");
        // ssh-keygen agrees the two halves belong together.
        let derived = public_of(&env.host.path(&f));
        assert_eq!(
            derived.split(' ').take(2).collect::<Vec<_>>(),
            public.split(' ').take(2).collect::<Vec<_>>(),
            "{t}"
        );
    }
    assert!(logcap::all()
        .iter()
        .any(|m| m == "Installed pre-generated host key types rsa, ecdsa, ed25519"));
    // (The credentials step warns: this root has no users.)
    let w = logcap::warnings();
    assert!(!w.iter().any(|m| m.contains("generating")), "{w:?}");
    // Discarded once installed.
    assert!(!env.host.lexists("/run/cloud-init/hostkeys"));
}

/// The text printed for a pre-generated key is what ssh-keygen prints for
/// that key at its real place with the real comment.
#[test]
fn printed_text_is_ssh_keygens() {
    let env = module_env(json!({"ssh_genkeytypes": ["ed25519"]}));
    let run = env.paths.run_dir.clone();
    start(&env.host, &run, &env.cfg);
    env.host.create_dir_all("/etc/ssh", 0o755).unwrap();
    let text = crate::ssh::install_pregen(&env.host, &run, "ed25519", Some("root@myhost")).unwrap();
    let f = env
        .host
        .try_resolve_arg("/etc/ssh/ssh_host_ed25519_key")
        .unwrap();
    let lv = Proc::new("ssh-keygen")
        .args(["-l", "-v", "-f", &format!("{f}.pub")])
        .output()
        .unwrap();
    let lv = String::from_utf8(lv.stdout).unwrap();
    let mut lv = lv.lines();
    let fp = lv.next().unwrap().split(' ').nth(1).unwrap().to_string();
    let mut want = format!(
        "Generating public/private ed25519 key pair.\n\
         Your identification has been saved in {f}\n\
         Your public key has been saved in {f}.pub\n\
         The key fingerprint is:\n\
         {fp} root@myhost\n\
         The key's randomart image is:\n"
    );
    for l in lv {
        want.push_str(l);
        want.push('\n');
    }
    assert_eq!(text, want);
}

/// A damaged key made ahead of time is not installed: ssh-keygen runs for
/// that type, the others are still taken.
#[test]
fn damaged_pregenerated_key_falls_back_to_ssh_keygen() {
    let env = module_env(json!({}));
    let run = env.paths.run_dir.clone();
    start(&env.host, &run, &env.cfg);
    for t in TYPES {
        assert!(take(&env.host, &run, t).is_some());
    }
    let dir = env.host.path("/run/cloud-init/hostkeys");
    let pem = std::fs::read_to_string(dir.join("ssh_host_ed25519_key")).unwrap();
    std::fs::write(dir.join("ssh_host_ed25519_key"), &pem[..pem.len() / 2]).unwrap();
    // A public key that is not the private key's.
    let other = std::fs::read_to_string(dir.join("ssh_host_rsa_key.pub")).unwrap();
    std::fs::write(dir.join("ssh_host_ecdsa_key.pub"), other).unwrap();
    crate::ssh::handle(&env.ctx("ssh")).unwrap();
    let calls = keygen_calls(&env);
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls.iter().any(|c| c.starts_with("ssh-keygen -t ecdsa ")));
    assert!(calls
        .iter()
        .any(|c| c.starts_with("ssh-keygen -t ed25519 ")));
    assert!(env
        .read("/etc/ssh/ssh_host_rsa_key.pub")
        .ends_with(" root@myhost\n"));
    assert!(logcap::all()
        .iter()
        .any(|m| m == "Installed pre-generated host key types rsa"));
}

/// Keys given in the config: the ones made ahead are thrown away.
#[test]
fn provided_keys_discard_the_pregenerated_ones() {
    let env = module_env(json!({"ssh_genkeytypes": ["ed25519"]}));
    let run = env.paths.run_dir.clone();
    start(&env.host, &run, &env.cfg);
    assert!(take(&env.host, &run, "ed25519").is_some());
    let mut env = env;
    env.cfg["ssh_keys"] = json!({"ed25519_private": "PRIV\n", "ed25519_public": "PUB\n"});
    crate::ssh::handle(&env.ctx("ssh")).unwrap();
    assert_eq!(env.read("/etc/ssh/ssh_host_ed25519_key"), "PRIV\n");
    assert!(!env.host.lexists("/run/cloud-init/hostkeys"));
}

/// `ssh_deferred_keytypes: [rsa]` under systemd: the module installs the
/// other keys and returns; the RSA key lands before the stage ends, and
/// sshd, once running, is reloaded to serve it.
#[test]
fn deferred_rsa_is_installed_later_and_sshd_reloaded() {
    let env = module_env(json!({"ssh_deferred_keytypes": ["rsa"]}));
    std::fs::create_dir_all(env.host.path("/run/systemd/system")).unwrap();
    env.rec.answer("systemctl", 0, b"active\n");
    let run = env.paths.run_dir.clone();
    assert_eq!(start(&env.host, &run, &env.cfg), TYPES);
    crate::ssh::handle(&env.ctx("ssh")).unwrap();
    for t in ["ecdsa", "ed25519"] {
        assert!(env.host.exists(format!("/etc/ssh/ssh_host_{t}_key")), "{t}");
    }
    assert!(logcap::all()
        .iter()
        .any(|m| m == "Installed pre-generated host key types ecdsa, ed25519"));
    assert!(logcap::all()
        .iter()
        .any(|m| m == "Deferring host key types rsa until after SSH may start"));
    crate::runner::late::wait_all();
    let rsa = env.read("/etc/ssh/ssh_host_rsa_key.pub");
    assert!(
        rsa.starts_with("ssh-rsa ") && rsa.ends_with(" root@myhost\n"),
        "{rsa}"
    );
    assert_eq!(env.mode("/etc/ssh/ssh_host_rsa_key"), 0o600);
    assert!(keygen_calls(&env).is_empty(), "{:?}", env.rec.lines());
    let lines = env.rec.lines();
    let reload = lines
        .iter()
        .position(|l| l == "systemctl reload-or-restart ssh");
    let asked = lines
        .iter()
        .position(|l| l == "systemctl show --property ActiveState --value ssh.service");
    assert!(asked.is_some() && reload > asked, "{lines:?}");
    assert!(!env.host.lexists("/run/cloud-init/hostkeys"));
}

/// Without systemd there is no readiness point to gain from: every key is
/// installed by the module, nothing is reloaded.
#[test]
fn deferred_types_are_ignored_without_systemd() {
    let env = module_env(json!({"ssh_deferred_keytypes": ["rsa"]}));
    let run = env.paths.run_dir.clone();
    start(&env.host, &run, &env.cfg);
    crate::ssh::handle(&env.ctx("ssh")).unwrap();
    for t in TYPES {
        assert!(env.host.exists(format!("/etc/ssh/ssh_host_{t}_key")), "{t}");
    }
    crate::runner::late::wait_all();
    let lines = env.rec.lines();
    assert!(
        !lines.iter().any(|l| l.starts_with("systemctl")),
        "{lines:?}"
    );
    assert!(!env.host.lexists("/run/cloud-init/hostkeys"));
}
