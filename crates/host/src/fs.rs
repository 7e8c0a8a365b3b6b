//! File access under the root, with atomic replacement for every write.

use crate::Host;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

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

impl Host {
    pub fn read(&self, target: impl AsRef<Path>) -> io::Result<Vec<u8>> {
        let p = self.resolve(target);
        fs::read(&p).map_err(|e| with_path(e, &p))
    }

    pub fn read_to_string(&self, target: impl AsRef<Path>) -> io::Result<String> {
        let p = self.resolve(target);
        fs::read_to_string(&p).map_err(|e| with_path(e, &p))
    }

    /// `Ok(None)` when the file does not exist; other errors are returned.
    pub fn read_optional(&self, target: impl AsRef<Path>) -> io::Result<Option<Vec<u8>>> {
        let p = self.resolve(target);
        match fs::read(&p) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(with_path(e, &p)),
        }
    }

    pub fn exists(&self, target: impl AsRef<Path>) -> bool {
        self.resolve(target).exists()
    }

    /// True for a path that exists or is a (possibly dangling) symlink.
    pub fn lexists(&self, target: impl AsRef<Path>) -> bool {
        fs::symlink_metadata(self.path(target)).is_ok()
    }

    pub fn is_dir(&self, target: impl AsRef<Path>) -> bool {
        self.resolve(target).is_dir()
    }

    /// Create a directory and its parents; `mode` applies to the ones created.
    pub fn create_dir_all(&self, target: impl AsRef<Path>, mode: u32) -> io::Result<()> {
        let p = self.path(target);
        create_dirs(&p, mode).map_err(|e| with_path(e, &p))
    }

    /// Replace a file atomically: write a temporary file in the same
    /// directory, set mode and owner, fsync, rename over the target, fsync
    /// the directory. A crash leaves the old content or the new, never half.
    pub fn write_atomic(
        &self,
        target: impl AsRef<Path>,
        data: &[u8],
        opts: &WriteOpts,
    ) -> io::Result<()> {
        let p = self.path(target);
        write_atomic_at(&p, data, opts).map_err(|e| with_path(e, &p))
    }

    /// Append to a file (created with `opts.mode` if missing).
    pub fn append(
        &self,
        target: impl AsRef<Path>,
        data: &[u8],
        opts: &WriteOpts,
    ) -> io::Result<()> {
        let p = self.path(target);
        let res = (|| {
            if let Some(parent) = p.parent() {
                create_dirs(parent, 0o755)?;
            }
            let existed = p.exists();
            let mut f = OpenOptions::new()
                .append(true)
                .create(true)
                .mode(opts.mode)
                .open(&p)?;
            f.write_all(data)?;
            f.sync_all()?;
            if !existed {
                fs::set_permissions(&p, fs::Permissions::from_mode(opts.mode))?;
                chown_opt(&p, opts)?;
            }
            Ok(())
        })();
        res.map_err(|e| with_path(e, &p))
    }

    pub fn remove_file(&self, target: impl AsRef<Path>) -> io::Result<()> {
        let p = self.path(target);
        match fs::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(with_path(e, &p)),
            _ => Ok(()),
        }
    }

    pub fn remove_dir_all(&self, target: impl AsRef<Path>) -> io::Result<()> {
        let p = self.path(target);
        match fs::remove_dir_all(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(with_path(e, &p)),
            _ => Ok(()),
        }
    }

    /// Point `link` at `dest` (stored verbatim, so relative targets stay
    /// relative), replacing any existing link atomically.
    pub fn symlink(&self, dest: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
        let p = self.path(link);
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
        let p = self.path(target);
        fs::read_link(&p).map_err(|e| with_path(e, &p))
    }

    /// Names in a directory, sorted; empty if it does not exist.
    pub fn list_dir(&self, target: impl AsRef<Path>) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.resolve(target))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    pub fn set_mode(&self, target: impl AsRef<Path>, mode: u32) -> io::Result<()> {
        let p = self.path(target);
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).map_err(|e| with_path(e, &p))
    }

    pub fn chown(
        &self,
        target: impl AsRef<Path>,
        uid: Option<u32>,
        gid: Option<u32>,
    ) -> io::Result<()> {
        let p = self.path(target);
        std::os::unix::fs::lchown(&p, uid, gid).map_err(|e| with_path(e, &p))
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

fn chown_opt(p: &Path, opts: &WriteOpts) -> io::Result<()> {
    if opts.uid.is_some() || opts.gid.is_some() {
        std::os::unix::fs::chown(p, opts.uid, opts.gid)?;
    }
    Ok(())
}

fn write_atomic_at(p: &Path, data: &[u8], opts: &WriteOpts) -> io::Result<()> {
    let parent = p
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no parent directory"))?;
    create_dirs(parent, 0o755)?;
    let tmp = tmp_name(p);
    let result = (|| {
        let mut f: File = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(opts.mode)
            .open(&tmp)?;
        f.write_all(data)?;
        // The umask may have narrowed the mode given to open().
        f.set_permissions(fs::Permissions::from_mode(opts.mode))?;
        chown_opt(&tmp, opts)?;
        f.sync_all()?;
        fs::rename(&tmp, p)?;
        if let Ok(d) = File::open(parent) {
            let _ = d.sync_all();
        }
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
