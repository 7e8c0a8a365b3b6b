//! File access under the root, with atomic replacement for every write.

use crate::Host;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Target directories holding the agent's own state (semaphores,
/// status.json, the instance cache, instance data), written without a flush
/// per file (see [`Host::write_atomic`]).
pub const AGENT_STATE: &[&str] = &["/var/lib/cloud", "/run"];

/// How a file is written: its mode and, optionally, numeric owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOpts {
    pub mode: u32,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

impl Default for WriteOpts {
    fn default() -> Self {
        WriteOpts {
            mode: 0o644,
            uid: None,
            gid: None,
        }
    }
}

impl WriteOpts {
    pub fn mode(mode: u32) -> Self {
        WriteOpts {
            mode,
            ..Self::default()
        }
    }

    pub fn owner(mut self, uid: Option<u32>, gid: Option<u32>) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }
}

fn with_path(e: io::Error, p: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", p.display()))
}

/// Open flags for the last step of every open: the path was resolved inside
/// the root, so a link found there now was swapped in since; refuse it.
fn nofollow() -> i32 {
    libc::O_NOFOLLOW | libc::O_CLOEXEC
}

/// Refuse to act through a symlink on a path already resolved inside the
/// root (a link there now was swapped in after the walk).
fn not_a_link(p: &Path) -> io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(md) if md.file_type().is_symlink() => Err(io::Error::new(
            io::Error::from_raw_os_error(libc::ELOOP).kind(),
            "is a symbolic link again after resolution; not following it",
        )),
        _ => Ok(()),
    }
}

fn read_nofollow(p: &Path) -> io::Result<Vec<u8>> {
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(nofollow())
        .open(p)?;
    let mut v = Vec::new();
    io::Read::read_to_end(&mut f, &mut v)?;
    Ok(v)
}

impl Host {
    pub fn read(&self, target: impl AsRef<Path>) -> io::Result<Vec<u8>> {
        let p = self.try_resolve(target)?;
        read_nofollow(&p).map_err(|e| with_path(e, &p))
    }

    pub fn read_to_string(&self, target: impl AsRef<Path>) -> io::Result<String> {
        let p = self.try_resolve(target)?;
        read_nofollow(&p)
            .and_then(|v| {
                String::from_utf8(v).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
            })
            .map_err(|e| with_path(e, &p))
    }

    /// `Ok(None)` when the file does not exist; other errors are returned.
    pub fn read_optional(&self, target: impl AsRef<Path>) -> io::Result<Option<Vec<u8>>> {
        let p = self.try_resolve(target)?;
        match read_nofollow(&p) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(with_path(e, &p)),
        }
    }

    pub fn exists(&self, target: impl AsRef<Path>) -> bool {
        self.try_resolve(target).is_ok_and(|p| p.exists())
    }

    /// True for a path that exists or is a (possibly dangling) symlink.
    pub fn lexists(&self, target: impl AsRef<Path>) -> bool {
        self.try_path(target)
            .is_ok_and(|p| fs::symlink_metadata(p).is_ok())
    }

    pub fn is_dir(&self, target: impl AsRef<Path>) -> bool {
        self.try_resolve(target).is_ok_and(|p| p.is_dir())
    }

    /// Create a directory and its parents; `mode` applies to the ones created.
    /// A link on the way (the last component included) is followed inside the root.
    pub fn create_dir_all(&self, target: impl AsRef<Path>, mode: u32) -> io::Result<()> {
        let p = self.try_resolve(target)?;
        create_dirs(&p, mode).map_err(|e| with_path(e, &p))
    }

    /// Replace a file atomically: write a temporary file in the same
    /// directory, set mode and owner, fsync, rename over the target. A
    /// crash leaves the old content or the new, never half. The rename
    /// itself is made durable by the stage's one [`Host::sync_root`] at its
    /// end, not by a flush of the directory per file. The agent's own
    /// state ([`AGENT_STATE`]) is not flushed per file either: the next
    /// stage or boot reads it only after that sync, and a flush per
    /// semaphore or status update cost ~25 ms each on an emulated disk.
    /// A symlink in the last component is replaced, not written through.
    pub fn write_atomic(
        &self,
        target: impl AsRef<Path>,
        data: &[u8],
        opts: &WriteOpts,
    ) -> io::Result<()> {
        let target = target.as_ref();
        let flush = !AGENT_STATE.iter().any(|d| target.starts_with(d));
        let p = self.try_path(target)?;
        write_atomic_at(&p, data, opts, flush).map_err(|e| with_path(e, &p))
    }

    /// Append to a file (created with `opts.mode` if missing). A symlink in
    /// the last component is followed inside the root.
    pub fn append(
        &self,
        target: impl AsRef<Path>,
        data: &[u8],
        opts: &WriteOpts,
    ) -> io::Result<()> {
        let p = self.try_resolve(target)?;
        let res = (|| {
            if let Some(parent) = p.parent() {
                create_dirs(parent, 0o755)?;
            }
            let (mut f, created) = open_append(&p, opts.mode)?;
            f.write_all(data)?;
            if created {
                f.set_permissions(fs::Permissions::from_mode(opts.mode))?;
                fchown_opt(&f, opts)?;
            }
            Ok(())
        })();
        res.map_err(|e| with_path(e, &p))
    }

    /// Open a file for appending, created with `mode` (before the umask) if
    /// missing, resolved inside the root like [`Host::append`]. For writers
    /// that keep the file open (logs, a seed device).
    pub fn open_append(&self, target: impl AsRef<Path>, mode: u32) -> io::Result<File> {
        let p = self.try_resolve(target)?;
        open_append(&p, mode)
            .map(|(f, _)| f)
            .map_err(|e| with_path(e, &p))
    }

    /// Removes the entry itself; a symlink is removed, not followed.
    pub fn remove_file(&self, target: impl AsRef<Path>) -> io::Result<()> {
        let p = self.try_path(target)?;
        match fs::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(with_path(e, &p)),
            _ => Ok(()),
        }
    }

    /// Removes the tree; links inside it (and a link named by `target`) are
    /// removed, not followed.
    pub fn remove_dir_all(&self, target: impl AsRef<Path>) -> io::Result<()> {
        let p = self.try_path(target)?;
        match fs::remove_dir_all(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(with_path(e, &p)),
            _ => Ok(()),
        }
    }

    /// Move `from` to `to` (both as entries: links are moved or replaced,
    /// not followed).
    pub fn rename(&self, from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
        let a = self.try_path(from)?;
        let b = self.try_path(to)?;
        fs::rename(&a, &b).map_err(|e| with_path(e, &a))
    }

    /// Point `link` at `dest` (stored verbatim, so relative targets stay
    /// relative), replacing any existing link atomically.
    pub fn symlink(&self, dest: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
        let p = self.try_path(link)?;
        let res = (|| {
            if let Some(parent) = p.parent() {
                create_dirs(parent, 0o755)?;
            }
            let tmp = tmp_name(&p);
            let _ = fs::remove_file(&tmp);
            std::os::unix::fs::symlink(dest.as_ref(), &tmp)?;
            if p.is_dir() && !p.is_symlink() {
                fs::remove_dir_all(&p)?;
            }
            fs::rename(&tmp, &p)
        })();
        res.map_err(|e| with_path(e, &p))
    }

    pub fn read_link(&self, target: impl AsRef<Path>) -> io::Result<PathBuf> {
        let p = self.try_path(target)?;
        fs::read_link(&p).map_err(|e| with_path(e, &p))
    }

    /// Names in a directory, sorted; empty if it does not exist.
    pub fn list_dir(&self, target: impl AsRef<Path>) -> Vec<String> {
        let Ok(p) = self.try_resolve(target) else {
            return Vec::new();
        };
        let mut names: Vec<String> = fs::read_dir(p)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Change the mode of what `target` points at, resolved inside the root.
    pub fn set_mode(&self, target: impl AsRef<Path>, mode: u32) -> io::Result<()> {
        let p = self.try_resolve(target)?;
        not_a_link(&p)
            .and_then(|()| fs::set_permissions(&p, fs::Permissions::from_mode(mode)))
            .map_err(|e| with_path(e, &p))
    }

    /// Change the owner of what `target` points at, resolved inside the root.
    /// The change itself never follows a link (lchown), so a link swapped
    /// in after resolution is changed instead of its target.
    pub fn chown(
        &self,
        target: impl AsRef<Path>,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> io::Result<()> {
        let p = self.try_resolve(target)?;
        std::os::unix::fs::lchown(&p, uid, gid).map_err(|e| with_path(e, &p))
    }

    /// Change the owner of the entry itself (a link stays a link).
    pub fn lchown(
        &self,
        target: impl AsRef<Path>,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> io::Result<()> {
        let p = self.try_path(target)?;
        std::os::unix::fs::lchown(&p, uid, gid).map_err(|e| with_path(e, &p))
    }
}

/// Open `p` for appending without following a link in its last component;
/// the flag says whether this call created it.
fn open_append(p: &Path, mode: u32) -> io::Result<(File, bool)> {
    let open = |create_new: bool| {
        let mut o = OpenOptions::new();
        o.append(true).mode(mode).custom_flags(nofollow());
        if create_new {
            o.create_new(true);
        }
        o.open(p)
    };
    match open(true) {
        Ok(f) => Ok((f, true)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => open(false).map(|f| (f, false)),
        Err(e) => Err(e),
    }
}

fn create_dirs(p: &Path, mode: u32) -> io::Result<()> {
    if p.is_dir() {
        return Ok(());
    }
    let mut b = fs::DirBuilder::new();
    std::os::unix::fs::DirBuilderExt::mode(&mut b, mode);
    b.recursive(true).create(p)
}

fn tmp_name(p: &Path) -> PathBuf {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    p.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

fn fchown_opt(f: &File, opts: &WriteOpts) -> io::Result<()> {
    if opts.uid.is_some() || opts.gid.is_some() {
        std::os::unix::fs::fchown(f, opts.uid, opts.gid)?;
    }
    Ok(())
}

fn write_atomic_at(p: &Path, data: &[u8], opts: &WriteOpts, flush: bool) -> io::Result<()> {
    let parent = p
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no parent directory"))?;
    create_dirs(parent, 0o755)?;
    let tmp = tmp_name(p);
    // A stale temporary (or a link planted under its name) is removed, and
    // the new one is created exclusively, so nothing is opened through a link.
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut f: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(opts.mode)
            .custom_flags(nofollow())
            .open(&tmp)?;
        f.write_all(data)?;
        // The umask may have narrowed the mode given to open().
        f.set_permissions(fs::Permissions::from_mode(opts.mode))?;
        fchown_opt(&f, opts)?;
        if flush {
            f.sync_all()?;
        }
        fs::rename(&tmp, p)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn atomic_write_sets_mode_and_replaces() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        h.write_atomic("/a/b/c.txt", b"one", &WriteOpts::mode(0o600))
            .unwrap();
        h.write_atomic("/a/b/c.txt", b"two", &WriteOpts::mode(0o640))
            .unwrap();
        assert_eq!(h.read_to_string("/a/b/c.txt").unwrap(), "two");
        let md = std::fs::metadata(h.path("/a/b/c.txt")).unwrap();
        assert_eq!(md.mode() & 0o7777, 0o640);
        assert_eq!(h.list_dir("/a/b"), vec!["c.txt".to_string()]);
    }

    #[test]
    fn append_and_symlink() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        h.append("/log", b"a\n", &WriteOpts::mode(0o600)).unwrap();
        h.append("/log", b"b\n", &WriteOpts::mode(0o600)).unwrap();
        assert_eq!(h.read_to_string("/log").unwrap(), "a\nb\n");
        h.symlink("instances/i-1", "/var/lib/cloud/instance")
            .unwrap();
        h.symlink("instances/i-2", "/var/lib/cloud/instance")
            .unwrap();
        assert_eq!(
            h.read_link("/var/lib/cloud/instance").unwrap(),
            PathBuf::from("instances/i-2")
        );
        assert!(h.read_optional("/nope").unwrap().is_none());
    }
}
