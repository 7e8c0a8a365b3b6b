//! Test helpers: a runner that answers by command prefix with stdout and
//! stderr, fake device nodes and a fake sysfs partition under a TestEnv.

use crate::testutil::TestEnv;
use ci_host::{Cmd, CmdError, CmdOutput, Host, Runner};
use std::sync::{Arc, Mutex};

type Answer = (Vec<String>, i32, String, String);

#[derive(Default)]
pub(crate) struct Scripted {
    calls: Mutex<Vec<Cmd>>,
    answers: Mutex<Vec<Answer>>,
}

impl Scripted {
    /// Commands starting with `prefix` exit `status` printing `out`/`err`.
    pub fn answer(&self, prefix: &[&str], status: i32, out: &str, err: &str) {
        self.answers.lock().unwrap().push((
            prefix.iter().map(|s| s.to_string()).collect(),
            status,
            out.into(),
            err.into(),
        ));
    }

    pub fn calls(&self) -> Vec<Cmd> {
        self.calls.lock().unwrap().clone()
    }

    pub fn lines(&self) -> Vec<String> {
        self.calls().iter().map(|c| c.argv.join(" ")).collect()
    }
}

impl Runner for Scripted {
    fn execute(&self, _host: &Host, cmd: &Cmd) -> Result<CmdOutput, CmdError> {
        self.calls.lock().unwrap().push(cmd.clone());
        let answers = self.answers.lock().unwrap().clone();
        let hit = answers
            .into_iter()
            .find(|(p, ..)| cmd.argv.len() >= p.len() && cmd.argv[..p.len()] == p[..]);
        let (status, out, err) = hit.map(|(_, s, o, e)| (s, o, e)).unwrap_or_default();
        Ok(CmdOutput {
            status,
            stdout: out.into_bytes(),
            stderr: err.into_bytes(),
        })
    }
}

/// Replace the environment's runner with a scripted one.
pub(crate) fn scripted(env: &mut TestEnv) -> Arc<Scripted> {
    let r = Arc::new(Scripted::default());
    env.host = Host::with_runner(env.host.root().to_path_buf(), r.clone());
    r
}

/// Make `progs` exist (executable) in the target's `/usr/sbin`.
pub(crate) fn tools(env: &TestEnv, progs: &[&str]) {
    for p in progs {
        env.write_mode(&format!("/usr/sbin/{p}"), "#!/bin/sh\n", 0o755);
    }
}

/// A character device node (this machine's null device numbers) at a
/// target path; false when we may not create device nodes (not root).
pub(crate) fn node(env: &TestEnv, path: &str) -> bool {
    let p = env.host.path(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::process::Command::new("mknod")
        .arg(&p)
        .args(["c", "1", "3"])
        .status()
        .is_ok_and(|s| s.success())
}

/// sysfs and `/dev/block` entries saying `/dev/<disk><part>` is partition
/// `num` of `/dev/<disk>` (major 253).
pub(crate) fn sysfs_partition(env: &TestEnv, disk: &str, part: &str, num: &str) {
    let base = format!("/sys/devices/virtio1/block/{disk}");
    env.write(&format!("{base}/dev"), "253:0\n");
    env.write(&format!("{base}/{part}/partition"), &format!("{num}\n"));
    env.host.create_dir_all("/sys/class/block", 0o755).unwrap();
    env.host
        .symlink(
            format!("../../devices/virtio1/block/{disk}/{part}"),
            format!("/sys/class/block/{part}"),
        )
        .unwrap();
    env.host.create_dir_all("/dev/block", 0o755).unwrap();
    env.host
        .symlink(format!("../{disk}"), "/dev/block/253:0")
        .unwrap();
}

/// One `/proc/self/mountinfo` line.
pub(crate) fn mountinfo_line(mp: &str, opts: &str, fstype: &str, dev: &str) -> String {
    format!("22 1 253:1 / {mp} {opts} shared:1 - {fstype} {dev} rw\n")
}

/// A block device node with the given numbers (never opened by the tests);
/// false when we may not create device nodes.
pub(crate) fn block_node(env: &TestEnv, path: &str, major: u32, minor: u32) -> bool {
    let p = env.host.path(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::process::Command::new("mknod")
        .arg(&p)
        .args(["b", &major.to_string(), &minor.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}
