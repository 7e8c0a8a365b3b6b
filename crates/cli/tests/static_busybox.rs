//! The static executable (`make static`) booting an Alpine-like root that
//! holds nothing but busybox-static and it: no C library, no loader, no
//! shadow-utils. The four stages run inside that root (`chroot ROOT
//! /usr/bin/cloud-init ...`, root `/` as on a real boot), so the distro layer
//! takes Alpine's busybox paths for real, and `cloud-id` and
//! `cloud-init-per` are links to the same file.
//!
//! Needs root (chroot, chown, mknod) and the binary: target/static/cloud-init
//! or `$CIRS_STATIC_BIN`. Without the binary the test skips with a note,
//! except in CI, where `make static` runs first and its absence is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BUSYBOX: &str = "/bin/busybox";
const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb1bjX0b5Zg2kHn2p1qWm0t9gQ6b0e2b0Yp4QnS8m3e alpha@static-test";
/// Only what Alpine's defaults need here: a chroot shares this machine's
/// hostname, mounts, disks, clock and services, so modules that act on
/// those stay out of the lists and the hostname is preserved.
const CLOUD_CFG: &str = "\
# Upstream's Alpine defaults (config/cloud.cfg.tmpl, variant alpine),
# trimmed to modules that only write files in the root.
users:
  - default
disable_root: true
preserve_hostname: true
datasource_list: [ NoCloud, None ]
network:
  config: disabled
cloud_init_modules:
  - write_files
  - users_groups
cloud_config_modules:
  - runcmd
cloud_final_modules:
  - scripts_user
  - final_message
system_info:
  distro: alpine
  default_user:
    name: alpine
    lock_passwd: True
    gecos: Alpine
    groups: [adm, wheel]
    doas:
      - permit nopass alpine
    sudo: [\"ALL=(ALL) NOPASSWD:ALL\"]
    shell: /bin/ash
  network:
    renderers: ['eni']
  paths:
    cloud_dir: /var/lib/cloud/
    templates_dir: /etc/cloud/templates/
  ssh_svcname: sshd
";

/// Debian builds busybox without `adduser` and `addgroup` (it has its own
/// adduser package); Alpine's busybox has them. When the host's busybox
/// lacks them these busybox-ash scripts stand in, implementing the options
/// the Alpine layer passes as busybox does (-D: the password stays `!`;
/// the user's own group gets the uid as gid) and logging each call, so the
/// test also sees the command lines.
const ADDUSER: &str = r#"#!/bin/sh
echo "adduser $*" >> /var/log/account-commands.log
home= gecos= shell=/bin/sh uid= group= system= nohome=
while getopts "h:g:s:G:u:SDH" o; do
    case $o in
    h) home=$OPTARG ;; g) gecos=$OPTARG ;; s) shell=$OPTARG ;;
    G) group=$OPTARG ;; u) uid=$OPTARG ;; S) system=1 ;; D) ;; H) nohome=1 ;;
    *) exit 1 ;;
    esac
done
shift $((OPTIND - 1))
name=$1
[ -n "$name" ] || { echo "adduser: no user name" >&2; exit 1; }
if grep -q "^$name:" /etc/passwd; then echo "adduser: user '$name' in use" >&2; exit 1; fi
[ -n "$home" ] || home=/home/$name
if [ -z "$uid" ]; then
    if [ -n "$system" ]; then first=100; else first=1000; fi
    uid=$(awk -F: -v u=$first '{ used[$3] = 1 } END { while (u in used) u++; print u }' /etc/passwd /etc/group)
fi
if [ -n "$group" ]; then
    gid=$(awk -F: -v g="$group" '$1 == g { print $3 }' /etc/group)
    [ -n "$gid" ] || { echo "adduser: unknown group $group" >&2; exit 1; }
else
    gid=$uid
    echo "$name:x:$gid:" >> /etc/group
fi
echo "$name:x:$uid:$gid:$gecos:$home:$shell" >> /etc/passwd
echo "$name:!:$(( $(date +%s) / 86400 )):0:99999:7:::" >> /etc/shadow
if [ -z "$nohome" ]; then
    mkdir -p "$home" && chown "$uid:$gid" "$home" && chmod 755 "$home"
fi
"#;

const ADDGROUP: &str = r#"#!/bin/sh
echo "addgroup $*" >> /var/log/account-commands.log
case $# in
1)
    if grep -q "^$1:" /etc/group; then echo "addgroup: group '$1' in use" >&2; exit 1; fi
    gid=$(awk -F: -v g=1000 '{ used[$3] = 1 } END { while (g in used) g++; print g }' /etc/group)
    echo "$1:x:$gid:" >> /etc/group
    ;;
2)
    grep -q "^$1:" /etc/passwd || { echo "addgroup: unknown user $1" >&2; exit 1; }
    grep -q "^$2:" /etc/group || { echo "addgroup: unknown group $2" >&2; exit 1; }
    awk -F: -v OFS=: -v g="$2" -v u="$1" \
        '$1 == g { if ($4 == "") $4 = u; else $4 = $4 "," u } { print }' \
        /etc/group > /etc/group.new && mv /etc/group.new /etc/group
    ;;
*) echo "usage: addgroup GROUP | addgroup USER GROUP" >&2; exit 1 ;;
esac
"#;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Skip with a note; in CI that is a failure.
fn unavailable(why: &str) {
    assert!(!in_ci(), "static busybox test cannot run in CI: {why}");
    eprintln!("note: static busybox test skipped: {why}");
}

fn static_bin() -> Option<PathBuf> {
    let p = match std::env::var_os("CIRS_STATIC_BIN") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/static/cloud-init"),
    };
    p.is_file().then_some(p)
}

/// Whether an ELF file asks for a program interpreter (`PT_INTERP`), i.e.
/// needs a dynamic loader and a C library next to it.
fn has_interpreter(path: &Path) -> bool {
    let b = std::fs::read(path).unwrap();
    assert_eq!(
        b.get(..5),
        Some(&b"\x7fELF\x02"[..]),
        "{}: not ELF64",
        path.display()
    );
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) == 3
    })
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{cmd:?} panicked: {err}");
    out
}

struct Root {
    _dir: tempfile::TempDir,
    root: PathBuf,
    /// Whether adduser/addgroup are the stand-in scripts.
    shims: bool,
}

impl Root {
    fn path(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    fn write(&self, p: &str, data: &str, mode: u32) {
        let full = self.path(p);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, data).unwrap();
        std::fs::set_permissions(&full, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn read(&self, p: &str) -> String {
        std::fs::read_to_string(self.path(p)).unwrap_or_default()
    }

    /// A program inside the root, with a boot's bare environment.
    fn chroot(&self, argv: &[&str]) -> Output {
        run(Command::new("chroot")
            .arg(&self.root)
            .args(argv)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", "/root"))
    }

    fn chroot_ok(&self, argv: &[&str]) -> String {
        let out = self.chroot(argv);
        assert!(
            out.status.success(),
            "{argv:?} in the busybox root: {}\nstdout: {}\nstderr: {}\nlog:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.read("/var/log/cloud-init.log")
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// `None` (after saying why) when this machine cannot build it.
fn busybox_root(bin: &Path) -> Option<Root> {
    let dir = tempfile::Builder::new()
        .prefix("cirs-static-")
        .disable_cleanup(std::env::var_os("CIRS_KEEP_STATIC_ROOT").is_some())
        .tempdir_in("/var/tmp")
        .unwrap();
    let root = dir.path().join("root");
    let mut r = Root {
        _dir: dir,
        root,
        shims: false,
    };
    for d in [
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "usr/lib/cloud-init",
        "dev",
        "etc/cloud",
        "root",
        "home",
        "run",
        "var/log",
        "var/lib/cloud/seed/nocloud",
    ] {
        std::fs::create_dir_all(r.path(d)).unwrap();
    }
    for d in ["tmp", "var/tmp"] {
        std::fs::create_dir_all(r.path(d)).unwrap();
        std::fs::set_permissions(r.path(d), std::fs::Permissions::from_mode(0o1777)).unwrap();
    }
    std::fs::copy(BUSYBOX, r.path("/bin/busybox")).unwrap();
    // Standard streams of the commands the agent runs are /dev/null.
    let mknod = Command::new("mknod")
        .args(["-m", "666"])
        .arg(r.path("/dev/null"))
        .args(["c", "1", "3"])
        .output()
        .unwrap();
    if !mknod.status.success() {
        unavailable(&format!(
            "mknod /dev/null: {}",
            String::from_utf8_lossy(&mknod.stderr).trim()
        ));
        return None;
    }
    let install = r.chroot(&["/bin/busybox", "--install", "-s"]);
    assert!(
        install.status.success(),
        "busybox --install: {}",
        String::from_utf8_lossy(&install.stderr)
    );
    // Alpine's passwd is busybox behind the setuid wrapper bbsuid; the
    // distro layer recognises busybox's passwd by that link.
    for p in ["/usr/bin/passwd", "/bin/passwd"] {
        let _ = std::fs::remove_file(r.path(p));
    }
    symlink("/bin/busybox", r.path("/bin/bbsuid")).unwrap();
    symlink("/bin/bbsuid", r.path("/usr/bin/passwd")).unwrap();
    let applets = run(Command::new(BUSYBOX).arg("--list"));
    let applets = String::from_utf8_lossy(&applets.stdout);
    for (name, script) in [("adduser", ADDUSER), ("addgroup", ADDGROUP)] {
        if !applets.lines().any(|l| l == name) {
            r.write(&format!("/usr/sbin/{name}"), script, 0o755);
            r.shims = true;
        }
    }

    std::fs::copy(bin, r.path("/usr/bin/cloud-init")).unwrap();
    for link in ["/usr/bin/cloud-id", "/usr/bin/cloud-init-per"] {
        symlink("cloud-init", r.path(link)).unwrap();
    }
    symlink(
        "/usr/bin/cloud-init",
        r.path("/usr/lib/cloud-init/ds-identify"),
    )
    .unwrap();
    symlink(
        "/usr/bin/cloud-init",
        r.path("/usr/lib/cloud-init/cloud-init-generator"),
    )
    .unwrap();

    r.write(
        "/etc/os-release",
        "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.21.0\nPRETTY_NAME=\"Alpine Linux v3.21\"\n",
        0o644,
    );
    r.write(
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/ash\nbin:x:1:1:bin:/bin:/sbin/nologin\n\
         daemon:x:2:2:daemon:/sbin:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n",
        0o644,
    );
    r.write(
        "/etc/group",
        "root:x:0:root\nbin:x:1:root,bin,daemon\ndaemon:x:2:root,bin,daemon\n\
         adm:x:4:root,daemon\nwheel:x:10:root\nnobody:x:65534:\n",
        0o644,
    );
    r.write(
        "/etc/shadow",
        "root:*::0:::::\nbin:!::0:::::\ndaemon:!::0:::::\nnobody:!::0:::::\n",
        0o640,
    );
    r.write("/etc/cloud/cloud.cfg", CLOUD_CFG, 0o644);
    r.write(
        "/var/lib/cloud/seed/nocloud/meta-data",
        "instance-id: iid-static-busybox-1\n",
        0o644,
    );
    r.write(
        "/var/lib/cloud/seed/nocloud/user-data",
        &format!(
            "#cloud-config\n\
             users:\n  - default\n  - name: alpha\n    gecos: Alpha\n    shell: /bin/ash\n    \
             groups: [wheel]\n    doas: [\"permit nopass alpha\"]\n    \
             ssh_authorized_keys:\n      - {KEY}\n\
             write_files:\n  - path: /etc/motd\n    content: static and alone\n\
             runcmd:\n  - [sh, -c, 'echo \"runcmd as $(id -u)\" > /var/tmp/runcmd.out']\n"
        ),
        0o600,
    );
    Some(r)
}

fn passwd_entry(r: &Root, name: &str) -> Vec<String> {
    r.read("/etc/passwd")
        .lines()
        .map(|l| l.split(':').map(str::to_string).collect::<Vec<_>>())
        .find(|f| f.first().is_some_and(|n| n == name))
        .unwrap_or_else(|| panic!("no {name} in /etc/passwd:\n{}", r.read("/etc/passwd")))
}

#[test]
fn static_binary_boots_a_busybox_only_root() {
    if !ci_host::Host::running_as_root() {
        eprintln!("note: static busybox test skipped: needs root (chroot, chown, mknod)");
        return;
    }
    let Some(bin) = static_bin() else {
        unavailable("no target/static/cloud-init or $CIRS_STATIC_BIN (run `make static`)");
        return;
    };
    if !Path::new(BUSYBOX).is_file() {
        unavailable("no /bin/busybox (install busybox-static)");
        return;
    }
    assert!(
        !has_interpreter(&bin),
        "{} needs a program interpreter: not a static build",
        bin.display()
    );
    assert!(
        !has_interpreter(Path::new(BUSYBOX)),
        "{BUSYBOX} is not static: install busybox-static"
    );
    let Some(r) = busybox_root(&bin) else {
        return;
    };

    for stage in [
        &["init", "--local"][..],
        &["init"],
        &["modules", "--mode", "config"],
        &["modules", "--mode", "final"],
    ] {
        let argv: Vec<&str> = std::iter::once("/usr/bin/cloud-init")
            .chain(stage.iter().copied())
            .collect();
        r.chroot_ok(&argv);
    }

    // Users through Alpine's busybox commands, run in the root.
    let alpha = passwd_entry(&r, "alpha");
    assert_eq!(
        alpha.get(5).map(String::as_str),
        Some("/home/alpha"),
        "{alpha:?}"
    );
    assert_eq!(
        alpha.get(6).map(String::as_str),
        Some("/bin/ash"),
        "{alpha:?}"
    );
    let (uid, gid): (u32, u32) = (alpha[2].parse().unwrap(), alpha[3].parse().unwrap());
    assert_ne!(uid, 0);
    let home = std::fs::metadata(r.path("/home/alpha")).unwrap();
    assert!(home.is_dir());
    assert_eq!(home.uid(), uid);
    let default_user = passwd_entry(&r, "alpine");
    assert_eq!(default_user.get(4).map(String::as_str), Some("Alpine"));
    let accounts = r.read("/var/log/account-commands.log");
    if r.shims {
        // Our stand-ins ran: the agent used busybox's syntax, not useradd's.
        assert!(
            accounts
                .lines()
                .any(|l| l.starts_with("adduser -D ") && l.ends_with(" alpha")),
            "{accounts}"
        );
        assert!(
            accounts.lines().any(|l| l == "addgroup alpha wheel"),
            "{accounts}"
        );
    }
    let group = r.read("/etc/group");
    let members = |g: &str| -> Vec<String> {
        group
            .lines()
            .find(|l| l.starts_with(&format!("{g}:")))
            .and_then(|l| l.rsplit(':').next())
            .map(|m| m.split(',').map(str::to_string).collect())
            .unwrap_or_default()
    };
    assert!(members("wheel").contains(&"alpha".to_string()), "{group}");
    assert!(members("wheel").contains(&"alpine".to_string()), "{group}");
    assert!(members("adm").contains(&"alpine".to_string()), "{group}");
    let shadow = r.read("/etc/shadow");
    let locked = |u: &str| {
        shadow
            .lines()
            .find(|l| l.starts_with(&format!("{u}:")))
            .and_then(|l| l.split(':').nth(1))
            .is_some_and(|p| p.starts_with('!'))
    };
    assert!(locked("alpha") && locked("alpine"), "{shadow}");
    let doas = r.read("/etc/doas.conf");
    assert!(doas.contains("\npermit nopass alpha\n"), "{doas}");
    assert!(doas.contains("\npermit nopass alpine\n"), "{doas}");

    let keys = r.path("/home/alpha/.ssh/authorized_keys");
    let text = std::fs::read_to_string(&keys).unwrap();
    assert!(text.lines().any(|l| l == KEY), "{text}");
    let meta = std::fs::metadata(&keys).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (uid, gid));
    assert_eq!(meta.mode() & 0o777, 0o600);
    let ssh_dir = std::fs::metadata(r.path("/home/alpha/.ssh")).unwrap();
    assert_eq!((ssh_dir.uid(), ssh_dir.mode() & 0o777), (uid, 0o700));

    // The other stages ran their modules, the final one a shell command.
    assert_eq!(r.read("/etc/motd"), "static and alone");
    assert_eq!(r.read("/var/tmp/runcmd.out"), "runcmd as 0\n");
    // (`instance` is an absolute link, meant for inside the root.)
    assert!(
        r.path("/var/lib/cloud/instances/iid-static-busybox-1/boot-finished")
            .is_file(),
        "no boot-finished; log:\n{}",
        r.read("/var/log/cloud-init.log")
    );

    // The names of the one executable.
    assert_eq!(r.chroot_ok(&["/usr/bin/cloud-id"]), "nocloud\n");
    assert_eq!(r.chroot_ok(&["cloud-id"]), "nocloud\n");
    let status = r.chroot_ok(&["/usr/bin/cloud-init", "status"]);
    assert_eq!(status.trim_end(), "status: done", "{status}");
    let per = [
        "/usr/bin/cloud-init-per",
        "once",
        "hello",
        "sh",
        "-c",
        "echo hello >> /var/tmp/per.out",
    ];
    r.chroot_ok(&per);
    r.chroot_ok(&per);
    assert_eq!(r.read("/var/tmp/per.out"), "hello\n");
    let generator = r.chroot(&["/usr/lib/cloud-init/cloud-init-generator"]);
    assert_eq!(generator.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&generator.stderr).contains("NORMAL_DIR EARLY_DIR LATE_DIR"),
        "{generator:?}"
    );

    // Nothing but busybox and us: no shared object anywhere in the root.
    let mut stack = vec![r.root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let shared = name.ends_with(".so") || name.contains(".so.") || name.starts_with("ld-");
            assert!(!shared, "{}", e.path().display());
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
}
