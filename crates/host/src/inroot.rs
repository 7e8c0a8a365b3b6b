//! Path resolution that never leaves the root.
//!
//! Under `--root` the image is untrusted: its symlinks are interpreted as the
//! image's own machine would interpret them, i.e. as if the root were `/`.
//! The walk follows every link (relative or absolute) inside the root, clamps
//! `..` at the root and stops with `ELOOP` after [`MAX_HOPS`] links, like the
//! kernel does. It never hands back a path whose remaining links the kernel
//! would follow on this machine: each component of a returned path is either
//! a real (non-link) entry or does not exist yet. The final open is then done
//! with `O_NOFOLLOW` (see `fs.rs`) so a link swapped in afterwards fails
//! rather than being followed.

use crate::Host;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Links followed in one resolution before giving up (Linux's MAXSYMLINKS).
pub const MAX_HOPS: usize = 40;

impl Host {
    /// Map a target path to a path on this machine with every component,
    /// the last one included, resolved inside the root. Use it for anything
    /// that opens, creates, appends to, changes the mode or owner of, or
    /// lists what a path points at. A chain of more than [`MAX_HOPS`] links
    /// is an `ELOOP` error naming the path. Links are followed on `/` as
    /// well (as the kernel would), so the answer never contains a link and
    /// the final open can refuse one.
    pub fn try_resolve(&self, target: impl AsRef<Path>) -> io::Result<PathBuf> {
        self.walk(target.as_ref(), true, true)
    }

    /// Like [`Host::try_resolve`] but leaves the last component as it is, so
    /// that link operations (create, remove, read, rename over) act on the
    /// link itself; every parent directory is resolved inside the root.
    pub fn try_path(&self, target: impl AsRef<Path>) -> io::Result<PathBuf> {
        self.walk(target.as_ref(), false, true)
    }

    /// The target path (as the image sees it, `/etc/...`) that `target`
    /// names once every link is followed inside the root, like `realpath`
    /// in a chroot; too many links is an `ELOOP` error. On `/` links are
    /// followed too, so the answer is the same wherever the agent runs.
    pub fn canonical(&self, target: impl AsRef<Path>) -> io::Result<PathBuf> {
        let stack = self.walk_parts(target.as_ref(), true, true)?;
        let mut out = PathBuf::from("/");
        out.extend(stack);
        Ok(out)
    }

    /// [`Host::try_resolve`] as text, for a program that takes a file on this
    /// machine as an argument or whose output we redirect to one.
    pub fn try_resolve_arg(&self, target: impl AsRef<Path>) -> io::Result<String> {
        let p = self.try_resolve(target)?;
        p.into_os_string().into_string().map_err(|p| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: path is not UTF-8", Path::new(&p).display()),
            )
        })
    }

    /// The infallible mapping behind [`Host::path`]/[`Host::resolve`]. When
    /// resolution fails (too many links) the answer is a path under the root
    /// containing a NUL byte: no file can have that name, every file system
    /// call and every command spawn given it fails, and the kernel therefore
    /// never gets to resolve the image's links on this machine.
    pub(crate) fn map_or_unusable(&self, target: &Path, follow_last: bool) -> PathBuf {
        // On `/` the kernel's own resolution is the right one for looking.
        match self.walk(target, follow_last, false) {
            Ok(p) => p,
            Err(e) => {
                log::debug!("{e}");
                let mut bad = self.root.join(relative(target)).into_os_string();
                bad.push("\0(too many levels of symbolic links)");
                PathBuf::from(bad)
            }
        }
    }

    fn walk(&self, target: &Path, follow_last: bool, follow_on_slash: bool) -> io::Result<PathBuf> {
        let stack = self.walk_parts(target, follow_last, follow_on_slash)?;
        Ok(self.join_stack(&stack))
    }

    /// The components below the root that `target` resolves to.
    fn walk_parts(
        &self,
        target: &Path,
        follow_last: bool,
        follow_on_slash: bool,
    ) -> io::Result<Vec<OsString>> {
        // Components below the root, as a stack we can rewind for `..`.
        let mut stack: Vec<OsString> = Vec::new();
        let mut pending: Vec<OsString> = normal_parts(target);
        pending.reverse();
        let mut hops = 0;
        while let Some(comp) = pending.pop() {
            if comp == ".." {
                stack.pop();
                continue;
            }
            stack.push(comp);
            let is_last = pending.is_empty();
            if !(self.is_sandbox() || follow_on_slash) || (is_last && !follow_last) {
                continue;
            }
            let here = self.join_stack(&stack);
            let Some(dest) = link_target(&here) else {
                continue;
            };
            hops += 1;
            if hops > MAX_HOPS {
                return Err(io::Error::new(
                    loop_kind(),
                    format!(
                        "{}: too many levels of symbolic links under {} (more than {MAX_HOPS}); \
                         not following them",
                        target.display(),
                        self.root.display()
                    ),
                ));
            }
            stack.pop();
            if dest.is_absolute() {
                stack.clear();
            }
            let mut more = normal_parts(&dest);
            more.reverse();
            pending.extend(more);
        }
        Ok(stack)
    }

    pub(crate) fn join_stack(&self, stack: &[OsString]) -> PathBuf {
        let mut out = self.root.clone();
        for c in stack {
            out.push(c);
        }
        out
    }
}

/// The target of `p` if it is a symlink. Other lookup failures (missing
/// entry, a file used as a directory) are left to the operation itself,
/// which fails the same way on the path we hand back.
fn link_target(p: &Path) -> Option<PathBuf> {
    let md = std::fs::symlink_metadata(p).ok()?;
    if !md.file_type().is_symlink() {
        return None;
    }
    std::fs::read_link(p).ok()
}

/// The kind the kernel's own `ELOOP` maps to, so callers can treat ours alike.
fn loop_kind() -> io::ErrorKind {
    io::Error::from_raw_os_error(libc::ELOOP).kind()
}

/// The normal components of a path, keeping `..` (resolved by the caller).
pub(crate) fn normal_parts(p: &Path) -> Vec<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(c) => Some(c.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

fn relative(p: &Path) -> &Path {
    let b = p.as_os_str().as_bytes();
    let start = b.iter().position(|c| *c != b'/').unwrap_or(b.len());
    Path::new(OsStr::from_bytes(b.get(start..).unwrap_or_default()))
}

#[cfg(test)]
mod tests;
