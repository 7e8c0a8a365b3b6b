//! A rendered file tree, and writing it under a host root.

use crate::NetError;
use ci_host::{Host, WriteOpts};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub content: Vec<u8>,
    pub mode: u32,
    /// `(user, group)` names to chown to, when upstream chowns.
    pub owner: Option<(String, String)>,
    /// How upstream combines the file with one already on the target.
    pub merge: Merge,
}

/// Upstream's renderers replace most files but edit a few in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Merge {
    Replace,
    /// resolv.conf: keep other lines, add missing servers/domains;
    /// `header`: make sure cloud-init's `;` header comes first.
    Resolv {
        header: bool,
    },
    /// `/etc/sysconfig/network`: keep unrelated lines.
    SysconfigNetwork,
    /// rc.conf: set each `key=value`, in place or appended.
    RcConf,
}

/// Absolute target path (`/etc/netplan/50-cloud-init.yaml`) → file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Files(pub BTreeMap<String, FileEntry>);

impl Files {
    pub fn add(&mut self, path: &str, content: impl Into<Vec<u8>>, mode: u32) {
        self.0.insert(
            path.to_string(),
            FileEntry {
                content: content.into(),
                mode,
                owner: None,
                merge: Merge::Replace,
            },
        );
    }

    pub fn add_merged(&mut self, path: &str, content: impl Into<Vec<u8>>, mode: u32, merge: Merge) {
        self.0.insert(
            path.to_string(),
            FileEntry {
                content: content.into(),
                mode,
                owner: None,
                merge,
            },
        );
    }

    pub fn add_owned(&mut self, path: &str, content: impl Into<Vec<u8>>, mode: u32, owner: &str) {
        self.0.insert(
            path.to_string(),
            FileEntry {
                content: content.into(),
                mode,
                owner: Some((owner.to_string(), owner.to_string())),
                merge: Merge::Replace,
            },
        );
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &FileEntry)> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Files upstream's renderers edit rather than replace.
fn merge_existing(host: &Host, path: &str, f: &FileEntry) -> Option<Vec<u8>> {
    if f.merge == Merge::Replace {
        return None;
    }
    let existing = host.read_to_string(path).ok()?;
    let fresh = String::from_utf8_lossy(&f.content);
    let merged = match f.merge {
        Merge::Replace => return None,
        Merge::Resolv { header } => crate::sysconfig::merge_resolv(&fresh, &existing, header),
        Merge::SysconfigNetwork => crate::sysconfig::merge_network(&fresh, &existing),
        Merge::RcConf => crate::freebsd::merge_rc_conf(&fresh, &existing),
    };
    Some(merged.into_bytes())
}

/// Writes every file atomically under the host's root, creating parent
/// directories. An owner that does not exist on the target is an error,
/// as upstream's `chownbyname` fails on it.
pub fn write_files(host: &Host, files: &Files) -> Result<(), NetError> {
    for (path, f) in files.iter() {
        let io = |source| NetError::Io {
            path: path.clone(),
            source,
        };
        if let Some(parent) = std::path::Path::new(path).parent() {
            host.create_dir_all(parent, 0o755).map_err(io)?;
        }
        let mut opts = WriteOpts::mode(f.mode);
        if let Some((user, group)) = &f.owner {
            let (uid, gid) = host
                .resolve_owner(&format!("{user}:{group}"))
                .map_err(|e| io(std::io::Error::other(e)))?;
            opts = opts.owner(uid, gid);
        }
        let merged = merge_existing(host, path, f);
        host.write_atomic(path, merged.as_deref().unwrap_or(&f.content), &opts)
            .map_err(io)?;
    }
    Ok(())
}
