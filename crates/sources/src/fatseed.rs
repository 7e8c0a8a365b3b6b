//! Seed files read straight from a FAT12/16/32 filesystem (a `cidata` vfat
//! disk) instead of mounting it. Mounting runs `mount` and `umount`, and on
//! a first boot loads the vfat module: about a second of the local stage
//! under emulation, which every service after `network-pre.target` waits
//! for. Only the root directory is read, and only regular files whose long
//! (or 8.3) name matches one asked for, case-insensitively as the vfat
//! driver matches. Anything this reader does not understand is an error,
//! and the caller mounts the device as before.
//!
//! The image is hostile input: every offset is checked, a cluster chain is
//! at most as long as the filesystem has clusters, and no file or root
//! directory larger than its bound is read.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

/// The largest seed file read this way (a larger one is left to a mount).
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// The most root directory entries looked at.
const MAX_ROOT_ENTRIES: u64 = 65_536;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FatError {
    #[error("not a FAT filesystem: {0}")]
    NotFat(&'static str),
    #[error("damaged FAT filesystem: {0}")]
    Damaged(&'static str),
    #[error("{0} is larger than {MAX_FILE_BYTES} bytes")]
    TooLarge(String),
    #[error("reading the device: {0}")]
    Io(String),
}

/// Where bytes come from: a device or an in-memory image.
pub trait Blocks {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<(), FatError>;
}

impl Blocks for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<(), FatError> {
        self.read_exact_at(buf, offset)
            .map_err(|e| FatError::Io(e.to_string()))
    }
}

impl Blocks for [u8] {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<(), FatError> {
        let start = usize::try_from(offset).map_err(|_| FatError::Io("offset".into()))?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or_else(|| FatError::Io("read past the end of the image".into()))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fat12,
    Fat16,
    Fat32,
}

/// The geometry from the boot sector.
#[derive(Debug)]
struct Volume {
    kind: Kind,
    cluster_bytes: u64,
    fat_offset: u64,
    /// FAT12/16: the fixed root directory region (offset, bytes).
    root_region: Option<(u64, u64)>,
    root_cluster: u32,
    data_offset: u64,
    clusters: u32,
}

fn le16(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 2)
        .map_or(0, |s| u64::from(u16::from_le_bytes([s[0], s[1]])))
}

fn le32(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 4).map_or(0, |s| {
        u64::from(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    })
}

fn byte(b: &[u8], at: usize) -> u64 {
    b.get(at).map_or(0, |&v| u64::from(v))
}

impl Volume {
    fn read(dev: &(impl Blocks + ?Sized)) -> Result<Volume, FatError> {
        let mut bs = [0u8; 512];
        dev.read_at(&mut bs, 0)?;
        if bs[510] != 0x55 || bs[511] != 0xAA {
            return Err(FatError::NotFat("no boot sector signature"));
        }
        let bps = le16(&bs, 11);
        let spc = byte(&bs, 13);
        let reserved = le16(&bs, 14);
        let fats = byte(&bs, 16);
        let root_entries = le16(&bs, 17);
        let total = match le16(&bs, 19) {
            0 => le32(&bs, 32),
            n => n,
        };
        let fat_size = match le16(&bs, 22) {
            0 => le32(&bs, 36),
            n => n,
        };
        if !matches!(bps, 512 | 1024 | 2048 | 4096)
            || !spc.is_power_of_two()
            || spc > 128
            || reserved == 0
            || fats == 0
            || fat_size == 0
        {
            return Err(FatError::NotFat("implausible boot sector"));
        }
        let root_sectors = (root_entries * 32).div_ceil(bps);
        let meta = reserved + fats * fat_size + root_sectors;
        let data_sectors = total
            .checked_sub(meta)
            .ok_or(FatError::Damaged("the data region starts past the end"))?;
        let clusters = data_sectors / spc;
        let kind = match clusters {
            0..4085 => Kind::Fat12,
            4085..65525 => Kind::Fat16,
            _ => Kind::Fat32,
        };
        let clusters = u32::try_from(clusters.min(0x0FFF_FFF5))
            .map_err(|_| FatError::Damaged("cluster count"))?;
        let root_region =
            (kind != Kind::Fat32).then(|| ((reserved + fats * fat_size) * bps, root_entries * 32));
        if kind == Kind::Fat32 && root_entries != 0 {
            return Err(FatError::Damaged("FAT32 with a fixed root directory"));
        }
        Ok(Volume {
            kind,
            cluster_bytes: spc * bps,
            fat_offset: reserved * bps,
            root_region,
            root_cluster: u32::try_from(le32(&bs, 44)).unwrap_or(0),
            data_offset: meta * bps,
            clusters,
        })
    }

    fn valid(&self, cluster: u32) -> bool {
        cluster >= 2 && cluster - 2 < self.clusters
    }

    /// The FAT entry of `cluster`: the next one, or `None` at the end.
    fn next(&self, dev: &(impl Blocks + ?Sized), cluster: u32) -> Result<Option<u32>, FatError> {
        let c = u64::from(cluster);
        let (entry, end) = match self.kind {
            Kind::Fat12 => {
                let mut b = [0u8; 2];
                dev.read_at(&mut b, self.fat_offset + c + c / 2)?;
                let v = u16::from_le_bytes(b);
                let v = if cluster % 2 == 1 { v >> 4 } else { v & 0x0FFF };
                (u32::from(v), 0x0FF8)
            }
            Kind::Fat16 => {
                let mut b = [0u8; 2];
                dev.read_at(&mut b, self.fat_offset + c * 2)?;
                (u32::from(u16::from_le_bytes(b)), 0xFFF8)
            }
            Kind::Fat32 => {
                let mut b = [0u8; 4];
                dev.read_at(&mut b, self.fat_offset + c * 4)?;
                (u32::from_le_bytes(b) & 0x0FFF_FFFF, 0x0FFF_FFF8)
            }
        };
        if entry >= end {
            return Ok(None);
        }
        if !self.valid(entry) {
            return Err(FatError::Damaged("a cluster chain leaves the filesystem"));
        }
        Ok(Some(entry))
    }

    /// The bytes of a cluster chain from `first`, at most `limit` of them.
    fn chain(
        &self,
        dev: &(impl Blocks + ?Sized),
        first: u32,
        limit: u64,
    ) -> Result<Vec<u8>, FatError> {
        let mut out = Vec::new();
        let mut cluster = Some(first);
        let mut hops: u32 = 0;
        while let Some(c) = cluster {
            if !self.valid(c) {
                return Err(FatError::Damaged("a cluster outside the filesystem"));
            }
            hops += 1;
            if hops > self.clusters {
                return Err(FatError::Damaged("a cluster chain loops"));
            }
            let start = out.len();
            let want = usize::try_from(self.cluster_bytes.min(limit - start as u64))
                .map_err(|_| FatError::Damaged("cluster size"))?;
            out.resize(start + want, 0);
            let at = self.data_offset + u64::from(c - 2) * self.cluster_bytes;
            dev.read_at(&mut out[start..], at)?;
            if out.len() as u64 >= limit {
                break;
            }
            cluster = self.next(dev, c)?;
        }
        Ok(out)
    }

    fn root(&self, dev: &(impl Blocks + ?Sized)) -> Result<Vec<u8>, FatError> {
        let max = MAX_ROOT_ENTRIES * 32;
        match self.root_region {
            Some((at, len)) => {
                let mut buf = vec![0u8; usize::try_from(len.min(max)).unwrap_or(0)];
                dev.read_at(&mut buf, at)?;
                Ok(buf)
            }
            None => self.chain(dev, self.root_cluster, max),
        }
    }
}

/// One root directory file: its name (long if it has one) and extent.
struct Entry {
    name: String,
    first: u32,
    size: u64,
}

fn short_name(e: &[u8]) -> String {
    let part = |b: &[u8]| String::from_utf8_lossy(b).trim_end().to_string();
    let base = part(&e[0..8]);
    let ext = part(&e[8..11]);
    if ext.is_empty() {
        base
    } else {
        format!("{base}.{ext}")
    }
}

fn short_checksum(e: &[u8]) -> u8 {
    e[..11]
        .iter()
        .fold(0u8, |sum, &b| sum.rotate_right(1).wrapping_add(b))
}

/// The regular files of a root directory, long names assembled from their
/// LFN entries when those match the short entry's checksum.
fn entries(root: &[u8], kind: Kind) -> Vec<Entry> {
    let mut out = Vec::new();
    // LFN pieces seen since the last short entry: (order, checksum, UCS-2 units).
    let mut lfn: Vec<(u8, u8, Vec<u16>)> = Vec::new();
    for e in root.chunks_exact(32) {
        match e[0] {
            0x00 => break,
            0xE5 => {
                lfn.clear();
                continue;
            }
            _ => {}
        }
        let attr = e[11];
        if attr & 0x3F == 0x0F {
            let units: Vec<u16> = [(1usize, 5usize), (14, 6), (28, 2)]
                .iter()
                .flat_map(|&(at, n)| (0..n).map(move |i| at + 2 * i))
                .map(|o| u16::from_le_bytes([e[o], e[o + 1]]))
                .collect();
            lfn.push((e[0] & 0x1F, e[13], units));
            continue;
        }
        let pieces = std::mem::take(&mut lfn);
        if attr & 0x18 != 0 {
            // A volume label or a directory.
            continue;
        }
        let sum = short_checksum(e);
        let long = (!pieces.is_empty()
            && pieces.iter().all(|(_, s, _)| *s == sum)
            && pieces
                .iter()
                .rev()
                .enumerate()
                .all(|(i, (o, _, _))| usize::from(*o) == i + 1))
        .then(|| {
            let units: Vec<u16> = pieces
                .iter()
                .rev()
                .flat_map(|(_, _, u)| u.iter().copied())
                .take_while(|&u| u != 0)
                .collect();
            String::from_utf16_lossy(&units)
        });
        let hi = if kind == Kind::Fat32 {
            u32::from(u16::from_le_bytes([e[20], e[21]])) << 16
        } else {
            0
        };
        out.push(Entry {
            name: long.unwrap_or_else(|| short_name(e)),
            first: hi | u32::from(u16::from_le_bytes([e[26], e[27]])),
            size: u64::from(u32::from_le_bytes([e[28], e[29], e[30], e[31]])),
        });
    }
    out
}

/// The files of `names` found in the root directory of the FAT filesystem
/// on `dev` (names matched case-insensitively; the result keyed by the
/// name asked for). Missing files are simply absent.
pub fn read_root_files(
    dev: &(impl Blocks + ?Sized),
    names: &[&str],
) -> Result<BTreeMap<String, Vec<u8>>, FatError> {
    let vol = Volume::read(dev)?;
    let root = vol.root(dev)?;
    let mut out = BTreeMap::new();
    for entry in entries(&root, vol.kind) {
        let Some(asked) = names.iter().find(|n| n.eq_ignore_ascii_case(&entry.name)) else {
            continue;
        };
        if out.contains_key(*asked) {
            continue;
        }
        if entry.size > MAX_FILE_BYTES {
            return Err(FatError::TooLarge(entry.name));
        }
        let data = if entry.size == 0 {
            Vec::new()
        } else {
            let data = vol.chain(dev, entry.first, entry.size)?;
            if (data.len() as u64) < entry.size {
                return Err(FatError::Damaged("a file's clusters end before its size"));
            }
            data
        };
        out.insert((*asked).to_string(), data);
    }
    Ok(out)
}

#[cfg(test)]
#[path = "fatseed/tests.rs"]
mod tests;
