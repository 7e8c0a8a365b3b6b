//! Images made by the tools a seed disk is made with (`mkfs.vfat`, `mcopy`,
//! as tests/vm and cloud-localds do), then damaged on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use std::path::Path;
use std::process::Command;

const NAMES: [&str; 4] = ["meta-data", "user-data", "vendor-data", "network-config"];

/// A FAT image of `fat` bits with `files` in its root (`mkfs.vfat` and
/// `mcopy` come with tools/deps.sh).
fn image(fat: &str, kib: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let d = tempfile::tempdir().unwrap();
    let img = d.path().join("seed.img");
    let st = Command::new("mkfs.vfat")
        .args(["-n", "CIDATA", "-s", "1", "-F", fat, "-C"])
        .arg(&img)
        .arg(kib)
        .output()
        .expect("mkfs.vfat (dosfstools) is needed: tools/deps.sh installs it");
    assert!(st.status.success(), "{st:?}");
    for (name, data) in files {
        let src = d.path().join("src").join(name);
        std::fs::create_dir_all(src.parent().unwrap()).unwrap();
        std::fs::write(&src, data).unwrap();
        mcopy(&img, &src, name);
    }
    std::fs::read(&img).unwrap()
}

fn mcopy(img: &Path, src: &Path, name: &str) {
    let st = Command::new("mcopy")
        .arg("-i")
        .arg(img)
        .arg(src)
        .arg(format!("::{name}"))
        .output()
        .expect("mcopy (mtools) is needed: tools/deps.sh installs it");
    assert!(st.status.success(), "{st:?}");
}

/// `img` after the mtools command `tool` (mmd, mdel) on `::name`.
fn mtool(img: &[u8], tool: &str, name: &str) -> Vec<u8> {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("seed.img");
    std::fs::write(&path, img).unwrap();
    let st = Command::new(tool)
        .arg("-i")
        .arg(&path)
        .arg(format!("::{name}"))
        .status()
        .unwrap();
    assert!(st.success(), "{tool}");
    std::fs::read(&path).unwrap()
}

/// Several clusters' worth (clusters are one sector here), not a multiple of 512.
fn big() -> Vec<u8> {
    (0..9000u32).map(|i| (i % 251) as u8).collect()
}

#[test]
fn reads_seed_files_from_fat12_fat16_and_fat32() {
    let user = big();
    for (fat, kib) in [("12", "2048"), ("16", "8192"), ("32", "40000")] {
        let img = image(
            fat,
            kib,
            &[
                ("meta-data", b"instance-id: iid-fat\n"),
                ("user-data", &user),
                ("network-config", b""),
                ("README.TXT", b"not a seed file\n"),
            ],
        );
        let got = read_root_files(img.as_slice(), &NAMES).unwrap();
        assert_eq!(got.len(), 3, "FAT{fat}: {:?}", got.keys());
        assert_eq!(got["meta-data"], b"instance-id: iid-fat\n", "FAT{fat}");
        assert_eq!(got["user-data"], user, "FAT{fat}");
        assert_eq!(got["network-config"], b"", "FAT{fat}");
    }
}

/// vfat matches names without regard to case, as a mount would.
#[test]
fn names_match_case_insensitively_and_directories_are_skipped() {
    let img = image("12", "2048", &[("META-DATA", b"instance-id: x\n")]);
    let img = mtool(&img, "mmd", "user-data");
    let got = read_root_files(img.as_slice(), &NAMES).unwrap();
    assert_eq!(got.keys().collect::<Vec<_>>(), ["meta-data"]);
    assert_eq!(got["meta-data"], b"instance-id: x\n");
}

#[test]
fn a_deleted_file_is_not_read() {
    let img = image(
        "16",
        "8192",
        &[("meta-data", b"a\n"), ("user-data", b"b\n")],
    );
    let img = mtool(&img, "mdel", "user-data");
    let got = read_root_files(img.as_slice(), &NAMES).unwrap();
    assert_eq!(got.keys().collect::<Vec<_>>(), ["meta-data"]);
}

/// Offsets of the first FAT and of the root directory (FAT16, 512-byte
/// sectors, two FATs), and the root entry of the file of `size` bytes.
fn layout(img: &[u8], size: u32) -> (usize, usize) {
    let reserved = u16::from_le_bytes([img[14], img[15]]) as usize;
    let fat_size = u16::from_le_bytes([img[22], img[23]]) as usize;
    let root = (reserved + 2 * fat_size) * 512;
    let entry = img[root..root + 32 * 64]
        .chunks_exact(32)
        .position(|e| e[11] & 0x3F != 0x0F && e[11] & 0x18 == 0 && e[28..32] == size.to_le_bytes())
        .unwrap();
    (reserved * 512, root + entry * 32)
}

#[test]
fn damaged_images_are_errors_not_panics() {
    let img = image("16", "8192", &[("user-data", &big())]);
    let (fat, entry) = layout(&img, 9000);
    let first = u16::from_le_bytes([img[entry + 26], img[entry + 27]]) as usize;
    // A chain that loops on its second cluster, in a file claiming more
    // bytes than the filesystem holds: stopped after as many hops as there
    // are clusters.
    let mut looped = img.clone();
    let second = first + 1;
    looped[fat + 2 * second..fat + 2 * second + 2].copy_from_slice(&(second as u16).to_le_bytes());
    looped[entry + 28..entry + 32].copy_from_slice(&(15u32 << 20).to_le_bytes());
    assert_eq!(
        read_root_files(looped.as_slice(), &NAMES),
        Err(FatError::Damaged("a cluster chain loops"))
    );
    // A chain pointing past the last cluster.
    let mut wild = img.clone();
    wild[fat + 2 * first..fat + 2 * first + 2].copy_from_slice(&0xFFF0u16.to_le_bytes());
    assert_eq!(
        read_root_files(wild.as_slice(), &NAMES),
        Err(FatError::Damaged("a cluster chain leaves the filesystem"))
    );
    // Truncated inside the file's clusters (the root directory holds 512
    // entries, then the data region starts with cluster 2).
    let root = (u16::from_le_bytes([img[14], img[15]]) as usize
        + 2 * u16::from_le_bytes([img[22], img[23]]) as usize)
        * 512;
    let cut = &img[..root + 512 * 32 + (first - 2) * 512 + 1000];
    assert!(matches!(read_root_files(cut, &NAMES), Err(FatError::Io(_))));
    // Not FAT at all.
    assert!(matches!(
        read_root_files([0u8; 4096].as_slice(), &NAMES),
        Err(FatError::NotFat(_))
    ));
    // Every byte of the boot sector and of the root entry flipped in turn:
    // never a panic.
    for i in (0..512).chain(entry..entry + 32) {
        let mut b = img.clone();
        b[i] ^= 0xFF;
        let _ = read_root_files(b.as_slice(), &NAMES);
    }
}

#[test]
fn a_file_larger_than_the_bound_is_refused() {
    let mut img = image("16", "8192", &[("user-data", b"x\n")]);
    let (_, entry) = layout(&img, 2);
    img[entry + 28..entry + 32].copy_from_slice(&(MAX_FILE_BYTES as u32 + 1).to_le_bytes());
    assert!(matches!(
        read_root_files(img.as_slice(), &NAMES),
        Err(FatError::TooLarge(_))
    ));
}
