//! Escapes through the image's own links, for every file operation: a chain
//! of more than 40 links (must be an error, never a fallback to the kernel)
//! and an absolute or climbing link as the last component (followed inside
//! the root, never on this machine).

use crate::{Host, WriteOpts, MAX_HOPS};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};

struct Fixture {
    root: tempfile::TempDir,
    outside: tempfile::TempDir,
    host: Host,
}

impl Fixture {
    fn new() -> Fixture {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let o = outside.path();
        std::fs::write(o.join("victim"), "ORIGINAL\n").unwrap();
        set_mode(&o.join("victim"), 0o600);
        std::fs::create_dir(o.join("d")).unwrap();
        set_mode(&o.join("d"), 0o700);
        std::fs::write(o.join("d/keep"), "keep\n").unwrap();
        let r = root.path();
        // /chain/d -> l1 -> ... -> l40 -> <outside>: 41 links.
        chain(&r.join("chain"), "d", "l", o);
        // /fchain/f -> g1 -> ... -> g40 -> <outside>/victim: 41 links.
        chain(&r.join("fchain"), "f", "g", &o.join("victim"));
        std::fs::create_dir_all(r.join("etc")).unwrap();
        std::fs::create_dir_all(r.join("run")).unwrap();
        symlink(o.join("victim"), r.join("etc/abs")).unwrap();
        symlink(o.join("d"), r.join("run/absdir")).unwrap();
        let climb = format!("{}{}", "../".repeat(12), o.join("victim").display());
        symlink(&climb, r.join("etc/rel")).unwrap();
        let host = Host::new(r);
        Fixture {
            root,
            outside,
            host,
        }
    }

    /// Everything outside the root: names, types, modes, owners, contents.
    fn outside_state(&self) -> BTreeMap<PathBuf, String> {
        let mut out = BTreeMap::new();
        snapshot(self.outside.path(), self.outside.path(), &mut out);
        out
    }

    fn inside(&self, outside_rel: &str) -> PathBuf {
        let abs = self.outside.path().join(outside_rel);
        self.root.path().join(abs.strip_prefix("/").unwrap_or(&abs))
    }
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `dir/first -> /<dir>/<prefix>1 -> ... -> <prefix>40 -> end`, with the
/// intermediate links absolute *inside the root* as an image would have them.
fn chain(dir: &Path, first: &str, prefix: &str, end: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    symlink(format!("/{name}/{prefix}1"), dir.join(first)).unwrap();
    for i in 1..MAX_HOPS {
        symlink(
            format!("/{name}/{prefix}{}", i + 1),
            dir.join(format!("{prefix}{i}")),
        )
        .unwrap();
    }
    symlink(end, dir.join(format!("{prefix}{MAX_HOPS}"))).unwrap();
}

fn snapshot(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let md = std::fs::symlink_metadata(&p).unwrap();
        let what = if md.is_dir() {
            snapshot(base, &p, out);
            "dir".to_string()
        } else if md.file_type().is_symlink() {
            format!("link {}", std::fs::read_link(&p).unwrap().display())
        } else {
            std::fs::read_to_string(&p).unwrap()
        };
        let key = p.strip_prefix(base).unwrap().to_path_buf();
        let state = format!(
            "{what} mode={:o} uid={} gid={}",
            md.mode(),
            md.uid(),
            md.gid()
        );
        out.insert(key, state);
    }
    let md = std::fs::metadata(dir).unwrap();
    out.insert(
        dir.strip_prefix(base).unwrap().to_path_buf(),
        format!("dir mode={:o} uid={}", md.mode(), md.uid()),
    );
}

type Op = fn(&Host, &str) -> io::Result<()>;

/// Every writing or reading file operation of `Host`, by name.
fn ops() -> Vec<(&'static str, Op)> {
    vec![
        ("write_atomic", |h, p| {
            h.write_atomic(
                p,
                b"ESCAPED\n",
                &WriteOpts::mode(0o666).owner(Some(4242), Some(4242)),
            )
        }),
        ("append", |h, p| {
            h.append(p, b"ESCAPED\n", &WriteOpts::mode(0o666))
        }),
        ("open_append", |h, p| {
            h.open_append(p, 0o666)?.write_all(b"ESCAPED\n")
        }),
        ("set_mode", |h, p| h.set_mode(p, 0o1777)),
        ("chown", |h, p| h.chown(p, Some(4242), Some(4242))),
        ("lchown", |h, p| h.lchown(p, Some(4242), Some(4242))),
        ("create_dir_all", |h, p| {
            h.create_dir_all(format!("{p}/new"), 0o777)
        }),
        ("symlink", |h, p| {
            h.symlink("/nowhere", format!("{p}/new-link"))
        }),
        ("remove_file", |h, p| h.remove_file(format!("{p}/keep"))),
        ("remove_dir_all", |h, p| h.remove_dir_all(p)),
        ("rename_from", |h, p| {
            h.rename(format!("{p}/keep"), "/moved")
        }),
        ("rename_to", |h, p| {
            h.write_atomic("/src-file", b"ESCAPED\n", &WriteOpts::default())?;
            h.rename("/src-file", format!("{p}/keep"))
        }),
        ("read", |h, p| h.read(p).map(drop)),
        ("read_optional", |h, p| h.read_optional(p).map(drop)),
        ("read_link", |h, p| h.read_link(p).map(drop)),
        ("write_through_resolve", |h, p| {
            std::fs::write(h.resolve(p), b"ESCAPED\n")
        }),
        ("write_through_try_resolve", |h, p| {
            std::fs::write(h.try_resolve(p)?, b"ESCAPED\n")
        }),
    ]
}

fn is_loop(e: &io::Error) -> bool {
    e.kind() == io::Error::from_raw_os_error(libc::ELOOP).kind()
}

#[test]
fn link_chains_over_the_limit_are_errors_for_every_operation() {
    for (name, op) in ops() {
        for target in ["/chain/d", "/chain/d/victim", "/chain/d/d", "/fchain/f"] {
            let fx = Fixture::new();
            let before = fx.outside_state();
            let res = op(&fx.host, target);
            assert_eq!(
                fx.outside_state(),
                before,
                "{name} {target} changed the host"
            );
            // Operations on the link itself (lchown, remove, read_link,
            // rename of the link) need not resolve the chain's last link.
            if let Err(e) = &res {
                let msg = e.to_string().to_lowercase();
                assert!(
                    is_loop(e)
                        || msg.contains("nul byte")
                        || e.kind() == io::ErrorKind::NotFound
                        || e.kind() == io::ErrorKind::InvalidInput,
                    "{name} {target}: unexpected error {e}"
                );
            }
            let fx = Fixture::new();
            let deep = op(&fx.host, &format!("{target}/x"));
            assert_eq!(
                fx.outside_state(),
                before,
                "{name} {target}/x changed the host"
            );
            let e = deep.expect_err(&format!("{name} {target}/x went through 41 links"));
            assert!(
                is_loop(&e) || e.to_string().to_lowercase().contains("nul byte"),
                "{name} {target}/x: {e}"
            );
        }
    }
}

#[test]
fn chain_error_names_the_path_and_the_limit() {
    let fx = Fixture::new();
    let e = fx
        .host
        .append("/chain/d/log", b"x", &WriteOpts::default())
        .unwrap_err();
    assert!(is_loop(&e));
    let msg = e.to_string();
    assert!(msg.contains("/chain/d/log"), "{msg}");
    assert!(msg.contains("too many levels of symbolic links"), "{msg}");
    assert!(!fx.host.exists("/chain/d/victim"));
    assert!(!fx.host.path("/chain/d/victim").exists());
    assert!(fx.host.list_dir("/chain/d").is_empty());
}

#[test]
fn a_chain_of_exactly_the_limit_resolves_inside_the_root() {
    let root = tempfile::tempdir().unwrap();
    // /c/d -> l1 -> ... -> l39 -> /real: 40 links.
    let dir = root.path().join("c");
    std::fs::create_dir_all(&dir).unwrap();
    symlink("/c/l1", dir.join("d")).unwrap();
    for i in 1..MAX_HOPS - 1 {
        symlink(format!("/c/l{}", i + 1), dir.join(format!("l{i}"))).unwrap();
    }
    symlink("/real", dir.join(format!("l{}", MAX_HOPS - 1))).unwrap();
    let h = Host::new(root.path());
    h.write_atomic("/c/d/f", b"ok", &WriteOpts::default())
        .unwrap();
    assert_eq!(std::fs::read(root.path().join("real/f")).unwrap(), b"ok");
    assert_eq!(h.try_resolve("/c/d").unwrap(), root.path().join("real"));
}

#[test]
fn last_component_links_never_act_on_the_host() {
    for (name, op) in ops() {
        for target in ["/etc/abs", "/etc/rel", "/run/absdir"] {
            let fx = Fixture::new();
            let before = fx.outside_state();
            let _ = op(&fx.host, target);
            assert_eq!(
                fx.outside_state(),
                before,
                "{name} {target} changed the host"
            );
            let fx = Fixture::new();
            let _ = op(&fx.host, &format!("{target}/x"));
            assert_eq!(
                fx.outside_state(),
                before,
                "{name} {target}/x changed the host"
            );
        }
    }
}

#[test]
fn last_component_links_are_followed_inside_the_root() {
    let fx = Fixture::new();
    let h = &fx.host;
    // The image's own view: /etc/abs points at a file that, in the image,
    // lives under the root; appending creates it there (as in a chroot).
    h.append("/etc/abs", b"rule\n", &WriteOpts::mode(0o440))
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(fx.inside("victim")).unwrap(),
        "rule\n"
    );
    h.append("/etc/rel", b"more\n", &WriteOpts::mode(0o440))
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(fx.inside("victim")).unwrap(),
        "rule\nmore\n"
    );
    assert_eq!(h.read_to_string("/etc/abs").unwrap(), "rule\nmore\n");
    // chmod of a directory link: missing inside the root is an error, not
    // a chmod of this machine's directory; present inside, it is changed.
    let e = h.set_mode("/run/absdir", 0o1777).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
    h.create_dir_all("/run/absdir", 0o755).unwrap();
    assert!(fx.inside("d").is_dir());
    h.set_mode("/run/absdir", 0o1777).unwrap();
    let md = std::fs::metadata(fx.inside("d")).unwrap();
    assert_eq!(md.mode() & 0o7777, 0o1777);
    h.chown("/run/absdir", Some(4242), None).unwrap();
    assert_eq!(std::fs::metadata(fx.inside("d")).unwrap().uid(), 4242);
    // An atomic write replaces the link itself.
    h.write_atomic("/etc/abs", b"new", &WriteOpts::default())
        .unwrap();
    let md = std::fs::symlink_metadata(fx.root.path().join("etc/abs")).unwrap();
    assert!(md.is_file());
    // Link operations act on the link.
    h.symlink("/x", "/etc/rel").unwrap();
    assert_eq!(h.read_link("/etc/rel").unwrap(), PathBuf::from("/x"));
    assert_eq!(fx.outside_state(), Fixture::new_state_of(&fx));
}

impl Fixture {
    /// The outside state as set up, for comparison after the fact.
    fn new_state_of(fx: &Fixture) -> BTreeMap<PathBuf, String> {
        let o = fx.outside.path();
        let mut want = BTreeMap::new();
        let meta = |p: &Path| std::fs::symlink_metadata(p).unwrap();
        let fresh = |p: &Path, what: &str| {
            let md = meta(p);
            format!(
                "{what} mode={:o} uid={} gid={}",
                md.mode(),
                md.uid(),
                md.gid()
            )
        };
        want.insert(
            PathBuf::from("victim"),
            fresh(&o.join("victim"), "ORIGINAL\n"),
        );
        want.insert(PathBuf::from("d"), fresh(&o.join("d"), "dir"));
        want.insert(PathBuf::from("d/keep"), fresh(&o.join("d/keep"), "keep\n"));
        let d = meta(&o.join("d"));
        want.insert(
            PathBuf::from("d"),
            format!("dir mode={:o} uid={} gid={}", d.mode(), d.uid(), d.gid()),
        );
        let md = std::fs::metadata(o).unwrap();
        want.insert(
            PathBuf::from(""),
            format!("dir mode={:o} uid={}", md.mode(), md.uid()),
        );
        let v = meta(&o.join("victim"));
        assert_eq!(v.mode() & 0o7777, 0o600);
        assert_eq!(v.uid(), 0);
        assert_eq!(meta(&o.join("d")).mode() & 0o7777, 0o700);
        want
    }
}

#[test]
fn root_slash_keeps_the_kernel_resolution() {
    let h = Host::new("/");
    assert_eq!(
        h.try_resolve("/etc/../etc/x").unwrap(),
        PathBuf::from("/etc/x")
    );
    assert_eq!(h.try_path("/a/b").unwrap(), PathBuf::from("/a/b"));
    // Followed as the kernel does, so the answer holds no link.
    let me = PathBuf::from(format!("/proc/{}", std::process::id()));
    assert_eq!(h.try_resolve("/proc/self").unwrap(), me);
    assert_eq!(
        h.try_path("/proc/self").unwrap(),
        PathBuf::from("/proc/self")
    );
    assert_eq!(h.path("/proc/self"), PathBuf::from("/proc/self"));
    assert!(h
        .read_to_string("/proc/self/stat")
        .unwrap()
        .starts_with(&format!("{} ", std::process::id())));
}
