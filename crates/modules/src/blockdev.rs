//! What `growpart` and `resizefs` need to know about block devices, read
//! the way upstream reads it: the mount table of the process
//! (`/proc/self/mountinfo`, else `/etc/mtab`, else `mount(8)` on the BSDs),
//! sysfs for partition numbers, `root=` of the kernel command line for
//! `/dev/root`, and device-mapper links for LVM/LUKS.
//!
//! Every path is a target path read through `ctx.host`: under `--root` the
//! sandbox's `/proc`, `/sys` and `/dev` are consulted (usually absent, so
//! nothing is found), never this machine's.

use ci_distro::{Distro, Family};
use ci_host::{Cmd, CmdOutput, Host};
use std::io;

pub(crate) use crate::subp::ExecError;
use std::os::unix::fs::FileTypeExt;

/// One mount table entry matched for a path (upstream's tuple
/// `(devpth, fs_type, mount_point[, options])`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountInfo {
    pub dev: String,
    pub fstype: String,
    pub mount_point: String,
    pub options: String,
}

/// Upstream's `util.get_mount_info`: the mount that holds `path`.
///
/// A Linux root without a mount table (a sandbox without `/proc`) finds
/// nothing rather than asking `mount(8)`: upstream only gets there on the
/// BSDs, which have no `/proc`, and under `--root` that command would
/// describe this machine, not the target.
pub(crate) fn get_mount_info(host: &Host, distro: &Distro, path: &str) -> Option<MountInfo> {
    if let Ok(text) = host.read_to_string("/proc/self/mountinfo") {
        return parse_mount_info(path, &text);
    }
    if let Ok(text) = host.read_to_string("/etc/mtab") {
        return parse_mtab(path, &text);
    }
    if !distro.is_bsd() {
        log::debug!("No mount table found for {path}");
        return None;
    }
    let out = subp(host, &["mount"], &[], None, &[0]).ok()?;
    parse_mount(host, distro, path, &out.stdout_str())
}

fn elements(p: &str) -> Vec<&str> {
    p.split('/').filter(|e| !e.is_empty()).collect()
}

/// Upstream's `parse_mount_info` over `/proc/$$/mountinfo` lines: the
/// deepest mount point that is a prefix of `path`; any malformed line
/// gives no answer at all (better none than a wrong one).
pub(crate) fn parse_mount_info(path: &str, text: &str) -> Option<MountInfo> {
    let want = elements(path);
    let mut found: Option<(MountInfo, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() < 10 {
            log::debug!(
                "Line {} has two few columns ({}): {line}",
                i + 1,
                parts.len()
            );
            return None;
        }
        let mount_point = parts[4];
        let mp = elements(mount_point);
        if mp.len() > want.len() {
            continue;
        }
        let common = mp.len().min(want.len());
        if mp[..common] != want[..common] {
            continue;
        }
        if found.as_ref().is_some_and(|(_, depth)| *depth > mp.len()) {
            continue;
        }
        let Some(dash) = parts.iter().position(|p| *p == "-") else {
            log::debug!("Did not find column named '-' in line {}: {line}", i + 1);
            return None;
        };
        let (Some(fstype), Some(dev)) = (parts.get(dash + 1), parts.get(dash + 2)) else {
            log::debug!("Too few columns after '-' column in line {}: {line}", i + 1);
            return None;
        };
        found = Some((
            MountInfo {
                dev: dev.to_string(),
                fstype: fstype.to_string(),
                mount_point: mount_point.to_string(),
                options: parts[5].to_string(),
            },
            mp.len(),
        ));
    }
    found
        .map(|(m, _)| m)
        .filter(|m| !m.dev.is_empty() && !m.fstype.is_empty() && !m.mount_point.is_empty())
}

/// Upstream's `parse_mtab`: only an exact mount point matches.
fn parse_mtab(path: &str, text: &str) -> Option<MountInfo> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            [dev, mp, fstype, rest @ ..] if *mp == path => Some(MountInfo {
                dev: dev.to_string(),
                fstype: fstype.to_string(),
                mount_point: mp.to_string(),
                options: rest.first().map(|s| s.to_string()).unwrap_or_default(),
            }),
            _ => None,
        }
    })
}

/// One line of `mount(8)` output in either BSD form:
/// `DEV on MNT (TYPE, OPTS)` or `DEV on MNT type TYPE (OPTS)`.
fn mount_line(line: &str) -> Option<(String, String, String, String)> {
    let (dev, rest) = line.split_once(" on ")?;
    if dev.contains(char::is_whitespace) || dev.is_empty() {
        return None;
    }
    let (mp, rest) = rest.split_once(' ')?;
    let rest = rest.strip_suffix(')')?;
    let (fstype, opts) = if let Some(r) = rest.strip_prefix('(') {
        let end = r.find([',', ')', '(', ' ']).unwrap_or(r.len());
        (&r[..end], &r[end..])
    } else {
        let r = rest.strip_prefix("type ")?;
        let end = r.find([',', ')', '(', ' ']).unwrap_or(r.len());
        let opts = r[end..].strip_prefix(" (").unwrap_or(&r[end..]);
        (&r[..end], opts)
    };
    if fstype.is_empty() {
        return None;
    }
    let opts: Vec<&str> = opts.trim_matches(',').trim().split(", ").collect();
    Some((
        dev.to_string(),
        mp.to_string(),
        fstype.to_string(),
        opts.join(","),
    ))
}

/// Upstream's `parse_mount` (BSD): the deepest matching mount point, and on
/// FreeBSD a label device resolved to its partition.
fn parse_mount(host: &Host, distro: &Distro, path: &str, out: &str) -> Option<MountInfo> {
    let want = elements(path);
    let mut best: Option<(MountInfo, usize)> = None;
    for line in out.lines() {
        let Some((dev, mp, fstype, opts)) = mount_line(line) else {
            continue;
        };
        let mpe = elements(&mp);
        if mpe.len() > want.len() {
            continue;
        }
        let common = mpe.len().min(want.len());
        if mpe[..common] != want[..common] {
            continue;
        }
        if best.as_ref().is_some_and(|(_, d)| *d > mpe.len()) {
            continue;
        }
        log::debug!(
            "found line in mount -> devpth: {dev}, mount_point: {mp}, fs_type: {fstype}, options: '{opts}'"
        );
        let mut dev = dev;
        if distro.family == Family::FreeBsd
            && distro.name == "freebsd"
            && !is_slice_dev(&dev)
            && fstype != "zfs"
            && fstype != "nfs"
        {
            dev = freebsd_devpth(host, &dev)?;
        }
        let exact = mp == path;
        let depth = mpe.len();
        best = Some((
            MountInfo {
                dev,
                fstype,
                mount_point: mp,
                options: opts,
            },
            depth,
        ));
        if exact {
            break;
        }
    }
    let (m, _) = best?;
    path.contains(m.mount_point.as_str()).then_some(m)
}

/// `^(/dev/.+)[sp]([0-9])$`
fn is_slice_dev(dev: &str) -> bool {
    let b = dev.as_bytes();
    dev.starts_with("/dev/")
        && b.len() > 7
        && b[b.len() - 1].is_ascii_digit()
        && matches!(b[b.len() - 2], b's' | b'p')
}

/// Upstream's `get_freebsd_devpth`.
fn freebsd_devpth(host: &Host, path: &str) -> Option<String> {
    let out = subp(host, &["mount", "-p", path], &[], None, &[0, 1]).ok()?;
    let line = if out.stderr.is_empty() {
        out.stdout_str()
    } else {
        let all = subp(host, &["mount", "-p"], &[], None, &[0]).ok()?;
        let text = all.stdout_str();
        text.lines()
            .find(|l| {
                let items: Vec<&str> = l.split_whitespace().collect();
                items.len() > 2 && host.exists(format!("{}{path}", items[1]))
            })?
            .to_string()
    };
    let first = line.split_whitespace().next()?;
    Some(format!("/dev/{}", find_freebsd_part(host, first)?))
}

/// Upstream's `find_freebsd_part`: `/dev/label/x` style names through
/// `glabel status -s`.
pub(crate) fn find_freebsd_part(host: &Host, fs: &str) -> Option<String> {
    let parts: Vec<&str> = fs.split('/').collect();
    match parts.len() {
        1 => return Some(parts[0].to_string()),
        3 => return Some(parts[2].to_string()),
        _ => {}
    }
    if ["label", "gpt", "gptid", "ufs", "ufsid"].contains(&parts[2]) {
        let target = fs.get(5..).unwrap_or_default();
        let out = subp(host, &["glabel", "status", "-s"], &[], None, &[0]).ok()?;
        let text = out.stdout_str();
        for l in text.lines() {
            let items: Vec<&str> = l.split_whitespace().collect();
            if items.first() == Some(&target) {
                return items.get(2).map(|s| s.to_string());
            }
        }
        return Some(text);
    }
    log::warn!("Unexpected input in find_freebsd_part: {fs}");
    None
}

/// Upstream's `util.get_cmdline`: `DEBUG_PROC_CMDLINE`, else PID 1's
/// command line in a container, else `/proc/cmdline`.
pub(crate) fn cmdline(host: &Host, container: bool) -> String {
    if std::env::var_os("DEBUG_PROC_CMDLINE").is_some() || !container {
        return host.kernel_cmdline();
    }
    match host.read_to_string("/proc/1/cmdline") {
        Ok(s) => {
            let s = s.replace('\0', " ");
            let mut chars = s.chars();
            chars.next_back();
            chars.as_str().to_string()
        }
        Err(e) => {
            log::warn!(
                "failed reading /proc/1/cmdline: {}",
                crate::pyerr::os_error_str(&e, "/proc/1/cmdline")
            );
            String::new()
        }
    }
}

/// Upstream's `util.rootdev_from_cmdline`: the device `root=` names.
pub(crate) fn rootdev_from_cmdline(host: &Host, distro: &Distro, cmdline: &str) -> Option<String> {
    let found = cmdline
        .split_whitespace()
        .find_map(|t| t.strip_prefix("root="))?;
    if found.starts_with("/dev/") {
        return Some(found.to_string());
    }
    if let Some(l) = found.strip_prefix("LABEL=") {
        return Some(format!("/dev/disk/by-label/{l}"));
    }
    if let Some(u) = found.strip_prefix("UUID=") {
        return Some(format!("/dev/disk/by-uuid/{}", u.to_lowercase()));
    }
    if let Some(p) = found.strip_prefix("PARTUUID=") {
        let disks_path = format!("/dev/disk/by-partuuid/{}", p.to_lowercase());
        if host.exists(&disks_path) {
            return Some(disks_path);
        }
        if !distro.is_bsd() && host.which_target("blkid").is_some() {
            let crit = format!("-t{found}");
            if let Ok(out) = subp(host, &["blkid", &crit, "-odevice"], &[], None, &[0, 2]) {
                let text = out.stdout_str();
                if let Some(first) = text.lines().map(str::trim).find(|l| !l.is_empty()) {
                    return Some(first.to_string());
                }
            }
        }
        return Some(disks_path);
    }
    Some(format!("/dev/{found}"))
}

/// Upstream's `util.is_container`, asked of the target.
pub(crate) fn is_container(host: &Host, distro: &Distro) -> bool {
    let exits_zero = |argv: &[&str]| {
        host.which_target(argv[0]).is_some() && subp(host, argv, &[], None, &[0]).is_ok()
    };
    if exits_zero(&["systemd-detect-virt", "--quiet", "--container"]) {
        return true;
    }
    if distro.name == "freebsd" && host.which_target("sysctl").is_some() {
        if let Ok(out) = subp(
            host,
            &["sysctl", "-qn", "security.jail.jailed"],
            &[],
            None,
            &[0],
        ) {
            if out.stdout_str().trim() == "1" {
                return true;
            }
        }
    }
    if exits_zero(&["lxc-is-container"]) {
        return true;
    }
    if let Ok(env) = host.read("/proc/1/environ") {
        let has = |k: &str| {
            env.split(|b| *b == 0)
                .any(|kv| kv.split(|b| *b == b'=').next() == Some(k.as_bytes()))
        };
        if has("container") || has("LIBVIRT_LXC_UUID") {
            return true;
        }
    }
    if host.is_dir("/proc/vz") && !host.is_dir("/proc/bc") {
        return true;
    }
    if let Ok(status) = host.read_to_string("/proc/self/status") {
        for line in status.lines() {
            if let Some(v) = line.strip_prefix("VxID:") {
                if v.trim_end() != "0" {
                    return true;
                }
            }
        }
    }
    false
}

/// The kind of file at a target path, `stat` following links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKind {
    Device,
    Other,
}

/// `os.stat(path)` reduced to "block or character device or not".
pub(crate) fn stat_node(host: &Host, path: &str) -> io::Result<NodeKind> {
    let md = std::fs::metadata(host.try_resolve(path)?)?;
    let ft = md.file_type();
    Ok(if ft.is_block_device() || ft.is_char_device() {
        NodeKind::Device
    } else {
        NodeKind::Other
    })
}

/// `os.path.realpath` inside the target.
pub(crate) fn realpath(host: &Host, path: &str) -> String {
    host.canonical(path)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| path.to_string())
}

/// Upstream's `distro.get_mapped_device`: the `/dev/dm-N` a mapped device
/// stands for (Alpine's `/dev/mapper/*` are device nodes, matched to their
/// `dm-N` by device number), else `None`.
pub(crate) fn get_mapped_device(host: &Host, distro: &Distro, blockdev: &str) -> Option<String> {
    if distro.is_bsd() {
        return None;
    }
    let mut real = realpath(host, blockdev);
    if distro.family == Family::Alpine && blockdev.starts_with("/dev/mapper") {
        use std::os::unix::fs::MetadataExt;
        let rdev = std::fs::metadata(host.resolve(blockdev)).ok()?.rdev();
        let mut names = host.list_dir("/dev");
        names.sort();
        for name in names.iter().filter(|n| n.starts_with("dm-")) {
            let p = format!("/dev/{name}");
            let is_blk = std::fs::symlink_metadata(host.path(&p))
                .is_ok_and(|m| m.file_type().is_block_device());
            if is_blk && std::fs::metadata(host.resolve(&p)).is_ok_and(|m| m.rdev() == rdev) {
                real = realpath(host, &p);
                break;
            }
        }
    }
    if real.starts_with("/dev/dm-") {
        log::debug!("{blockdev} is a mapped device pointing to {real}");
        return Some(real);
    }
    None
}

/// Why `device_part_info` gave up: upstream raises `ValueError` or
/// `TypeError`, and growpart reports either the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartInfoError(pub String);

/// Upstream's `distro.device_part_info`: the disk and partition number of
/// a partition device (sysfs on Linux, the device name on the BSDs).
pub(crate) fn device_part_info(
    host: &Host,
    distro: &Distro,
    devpath: &str,
) -> Result<(String, String), PartInfoError> {
    if distro.is_bsd() {
        return bsd_part_info(host, devpath);
    }
    let rpath = realpath(host, devpath);
    let bname = rpath.rsplit('/').next().unwrap_or_default();
    let syspath = format!("/sys/class/block/{bname}");
    if !host.exists(&syspath) {
        return Err(PartInfoError(format!(
            "{devpath} had no syspath ({syspath})"
        )));
    }
    let ptpath = format!("{syspath}/partition");
    if !host.exists(&ptpath) {
        return Err(PartInfoError(format!("{devpath} not a partition")));
    }
    let read = |p: &str| {
        host.read_to_string(p)
            .map(|s| s.trim_end().to_string())
            .map_err(|e| PartInfoError(crate::pyerr::os_error_str(&e, p)))
    };
    let ptnum = read(&ptpath)?;
    let rsys = realpath(host, &syspath);
    let disksys = rsys.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let majmin = read(&format!("{disksys}/dev"))?;
    let disk = realpath(host, &format!("/dev/block/{majmin}"));
    Ok((disk, ptnum))
}

fn bsd_part_info(host: &Host, devpath: &str) -> Result<(String, String), PartInfoError> {
    if let Some(part) = find_freebsd_part(host, devpath) {
        let fpart = format!("/dev/{part}");
        // `^(/dev/.+)[sp](\d+[a-z]*)$`: GPT partitions and MBR slices.
        let body = fpart.trim_end_matches(|c: char| c.is_ascii_lowercase());
        let digits = body.len() - body.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            let split = body.len() - digits;
            let before = &fpart[..split];
            if let Some(dev) = before
                .strip_suffix('s')
                .or_else(|| before.strip_suffix('p'))
                .filter(|d| d.len() > "/dev/".len())
            {
                return Ok((dev.to_string(), fpart[split..].to_string()));
            }
        }
    }
    Err(PartInfoError(format!(
        "Invalid value for devpath: '{devpath}'"
    )))
}

/// Python's repr of a command as upstream's error names it.
pub(crate) fn py_list(argv: &[&str]) -> String {
    crate::subp::shown_list(argv)
}

/// Python's repr of a tuple of strings.
pub(crate) fn py_tuple(argv: &[String]) -> String {
    let words: Vec<String> = argv.iter().map(|a| ci_pyval::py_quote(a)).collect();
    if words.len() == 1 {
        format!("({},)", words[0])
    } else {
        format!("({})", words.join(", "))
    }
}

/// Upstream's `subp.subp` with capture: runs `argv` inside the target and
/// fails with the `ProcessExecutionError` text when the exit code is not in
/// `rcs`. `shown` is how the command appears in that text.
pub(crate) fn subp_shown(
    host: &Host,
    argv: &[&str],
    shown: &str,
    env: &[(&str, &str)],
    stdin: Option<&[u8]>,
    rcs: &[i32],
) -> Result<CmdOutput, ExecError> {
    let prog = argv.first().copied().unwrap_or_default();
    // Under --root a missing program is chroot's failure, not the target's:
    // answer as the target's exec would.
    if host.is_sandbox() && host.which_target(prog).is_none() {
        return Err(crate::subp::not_started(
            shown,
            &crate::subp::missing_program(prog),
        ));
    }
    let mut cmd = Cmd::new(argv.iter().copied()).in_target();
    for (k, v) in env {
        cmd = cmd.env(*k, *v);
    }
    if let Some(data) = stdin {
        cmd = cmd.stdin(data.to_vec());
    }
    crate::subp::run(host, &cmd, shown, rcs)
}

/// [`subp_shown`] for a command given as a list.
pub(crate) fn subp(
    host: &Host,
    argv: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&[u8]>,
    rcs: &[i32],
) -> Result<CmdOutput, ExecError> {
    subp_shown(host, argv, &py_list(argv), env, stdin, rcs)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) mod fake;
