//! A runner that records commands and plays shadow-utils' part on the
//! files of a temp root (`useradd` adds a passwd line and a home,
//! `groupadd` a group line), so modules can go on as on a real system.

use ci_host::{Cmd, CmdError, CmdOutput, Host, Runner, WriteOpts};
use std::sync::Mutex;

#[derive(Default)]
pub struct SimRunner {
    pub calls: Mutex<Vec<Cmd>>,
}

impl SimRunner {
    /// argv of each call with the `--root DIR` pair removed.
    pub fn argvs(&self, root: &str) -> Vec<Vec<String>> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|c| strip_root(&c.argv, root))
            .collect()
    }

    pub fn stdins(&self) -> Vec<Option<String>> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|c| {
                c.stdin
                    .as_ref()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
            })
            .collect()
    }
}

pub fn strip_root(argv: &[String], root: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < argv.len() {
        if argv[i] == "--root" && argv.get(i + 1).map(String::as_str) == Some(root) {
            i += 2;
            continue;
        }
        out.push(argv[i].clone());
        i += 1;
    }
    out
}

impl Runner for SimRunner {
    fn execute(&self, host: &Host, cmd: &Cmd) -> Result<CmdOutput, CmdError> {
        self.calls.lock().unwrap().push(cmd.clone());
        let root = host.root().to_string_lossy().into_owned();
        let argv = strip_root(&cmd.argv, &root);
        match argv.first().map(String::as_str) {
            Some("groupadd") => {
                let n = host.groups().len() as u32;
                let line = format!("{}:x:{}:\n", argv[1], 2000 + n);
                host.append("/etc/group", line.as_bytes(), &WriteOpts::default())
                    .unwrap();
            }
            Some("useradd") => {
                let name = &argv[1];
                let n = host.users().len() as u32;
                let home = argv
                    .iter()
                    .position(|a| a == "--home")
                    .map(|i| argv[i + 1].clone())
                    .unwrap_or(format!("/home/{name}"));
                let uid = 1000 + n;
                let line = format!("{name}:x:{uid}:{uid}::{home}:/bin/sh\n");
                host.append("/etc/passwd", line.as_bytes(), &WriteOpts::default())
                    .unwrap();
                if argv.iter().any(|a| a == "-m") {
                    host.create_dir_all(&home, 0o755).unwrap();
                }
            }
            _ => {}
        }
        Ok(CmdOutput::default())
    }
}

/// A temp root with root in passwd/group plus the given users and groups.
pub fn seed_root(host: &Host, users: &[&str], groups: &[&str]) {
    let mut passwd = String::from("root:x:0:0:root:/root:/bin/bash\n");
    let mut group = String::from("root:x:0:\n");
    for (i, u) in users.iter().enumerate() {
        passwd.push_str(&format!(
            "{u}:x:{}:{}::/home/{u}:/bin/sh\n",
            500 + i,
            500 + i
        ));
        group.push_str(&format!("{u}:x:{}:\n", 500 + i));
        host.create_dir_all(format!("/home/{u}"), 0o755).unwrap();
    }
    for (i, g) in groups.iter().enumerate() {
        group.push_str(&format!("{g}:x:{}:\n", 700 + i));
    }
    host.write_atomic("/etc/passwd", passwd.as_bytes(), &WriteOpts::default())
        .unwrap();
    host.write_atomic("/etc/group", group.as_bytes(), &WriteOpts::default())
        .unwrap();
    host.write_atomic(
        "/etc/shadow",
        b"root:*:19000:0:99999:7:::\n",
        &WriteOpts::mode(0o640),
    )
    .unwrap();
    host.create_dir_all("/root", 0o700).unwrap();
}
