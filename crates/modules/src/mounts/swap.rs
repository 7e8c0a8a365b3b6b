//! The `swap` key: a swap file of a given size, or `auto` sized from the
//! machine's memory and the free space where it goes, created with
//! `fallocate` (`dd` when that fails, or on xfs before Linux 4.18; btrfs
//! files get copy-on-write turned off first), made private and formatted
//! with `mkswap`. Any failure is one warning, as upstream's.

use super::sys::{self, absolute, exists, subp};
use crate::{Ctx, ModuleError};
use ci_pyval::{float_repr, py_str, py_type, truthy};
use serde_json::Value;
use std::time::Instant;

const MB: f64 = (1u64 << 20) as f64;
const GB: f64 = (1u64 << 30) as f64;

/// Upstream's `handle_swapcfg`: the swap file to put into fstab, if any.
pub(crate) fn handle_swapcfg(ctx: &Ctx, swapcfg: &Value) -> Option<String> {
    let Value::Object(cfg) = swapcfg else {
        log::warn!("input for swap config was not a dict.");
        return None;
    };
    let fname = cfg
        .get("filename")
        .cloned()
        .unwrap_or_else(|| Value::String("/swap.img".into()));
    let size = cfg.get("size").cloned().unwrap_or(Value::from(0));
    let maxsize = cfg.get("maxsize").cloned().unwrap_or(Value::Null);
    if !(truthy(&size) && truthy(&fname)) {
        log::debug!("no need to setup swap");
        return None;
    }
    let fname = py_str(&fname);
    if exists(ctx.host, &fname) {
        if !ctx.host.exists("/proc/swaps") {
            log::debug!("swap file {fname} exists, but no /proc/swaps exists, being safe");
            return Some(fname);
        }
        match ctx.host.read_to_string("/proc/swaps") {
            Ok(text) => {
                let prefix = format!("{fname} ");
                if text.lines().any(|l| l.starts_with(&prefix)) {
                    log::debug!("swap file {fname} already in use");
                    return Some(fname);
                }
                log::debug!("swap file {fname} exists, but not in /proc/swaps");
            }
            Err(_) => {
                log::warn!("swap file {fname} exists. Error reading /proc/swaps");
                return Some(fname);
            }
        }
    }
    match setup(ctx, &fname, &size, &maxsize) {
        Ok(done) => done,
        Err(e) => {
            log::warn!("failed to setup swap: {e}");
            None
        }
    }
}

/// A size as upstream holds it after reading the config.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Size {
    Auto,
    Bytes(f64),
    /// A value upstream cannot compute with (a list, a mapping).
    Other(Value),
}

fn to_size(v: &Value) -> Result<Size, ModuleError> {
    Ok(match v {
        Value::String(s) if s == "auto" => Size::Auto,
        Value::String(s) => Size::Bytes(human2bytes(s)?),
        Value::Number(n) => Size::Bytes(n.as_f64().unwrap_or(0.0)),
        Value::Bool(b) => Size::Bytes(if *b { 1.0 } else { 0.0 }),
        other => Size::Other(other.clone()),
    })
}

/// Upstream's `util.human2bytes`: `10M`, `10MB` and `10MiB` are all
/// 10485760; SI-looking suffixes are binary too.
pub(crate) fn human2bytes(size_in: &str) -> Result<f64, ModuleError> {
    let mut size = size_in;
    if let Some(s) = size.strip_suffix("iB") {
        size = s;
    } else if let Some(s) = size.strip_suffix('B') {
        size = s;
    }
    let mut num = size;
    let mut mult = 1.0;
    for (suffix, m) in [
        ("B", 1.0),
        ("K", 1024.0),
        ("M", MB),
        ("G", GB),
        ("T", GB * 1024.0),
    ] {
        if let Some(n) = size.strip_suffix(suffix) {
            num = n;
            mult = m;
        }
    }
    let invalid =
        || ModuleError::with_class("ValueError", format!("'{size_in}' is not valid input."));
    let t = num.trim();
    // Python's float() takes `1_000` and `inf`, not Rust-only spellings.
    let n: f64 = match t.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        "nan" | "+nan" | "-nan" => f64::NAN,
        _ if t.contains(['i', 'I', 'n', 'N']) => return Err(invalid()),
        _ => t.replace('_', "").parse().map_err(|_| invalid())?,
    };
    if n < 0.0 {
        return Err(ModuleError::with_class(
            "ValueError",
            format!("'{size_in}': cannot be negative"),
        ));
    }
    let bytes = n * mult;
    if bytes.is_nan() {
        return Err(ModuleError::with_class(
            "ValueError",
            "cannot convert float NaN to integer",
        ));
    }
    if bytes.is_infinite() {
        return Err(ModuleError::with_class(
            "OverflowError",
            "cannot convert float infinity to integer",
        ));
    }
    Ok(bytes.trunc())
}

fn dirname(p: &str) -> String {
    match p.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => {
            let d = p[..i].trim_end_matches('/');
            if d.is_empty() {
                "/".into()
            } else {
                d.into()
            }
        }
        None => String::new(),
    }
}

/// `util.ensure_dir` for a directory upstream makes with `os.makedirs`.
fn ensure_dir(ctx: &Ctx, dir: &str) -> Result<(), ModuleError> {
    if dir.is_empty() {
        return Err(crate::pyerr::os_error(
            &std::io::Error::from_raw_os_error(2),
            "",
        ));
    }
    if ctx.host.is_dir(absolute(dir)) {
        return Ok(());
    }
    ctx.host
        .create_dir_all(absolute(dir), 0o755)
        .map_err(|e| ModuleError::with_class("OSError", crate::pyerr::os_error_str(&e, dir)))
}

/// Upstream's `setup_swapfile` after the sizes are read.
fn setup(
    ctx: &Ctx,
    fname: &str,
    size: &Value,
    maxsize: &Value,
) -> Result<Option<String>, ModuleError> {
    let size = to_size(size)?;
    let maxsize = match maxsize {
        Value::String(s) => Some(Size::Bytes(human2bytes(s)?)),
        Value::Null => None,
        other => Some(to_size(other)?),
    };
    let swap_dir = dirname(fname);
    let bytes = match size {
        Size::Auto => {
            let Some(memsize) = sys::mem_total(ctx.host)? else {
                log::debug!("Not creating swap: failed to read meminfo");
                return Ok(None);
            };
            ensure_dir(ctx, &swap_dir)?;
            let avail = sys::avail_bytes(ctx.host, &swap_dir)?;
            let max = match maxsize {
                None => None,
                Some(Size::Bytes(b)) => Some(b),
                Some(other) => {
                    return Err(ModuleError::with_class(
                        "TypeError",
                        format!(
                            "'>' not supported between instances of '{}' and 'float'",
                            size_type(&other)
                        ),
                    ))
                }
            };
            suggested_swapsize(memsize as f64, max, avail as f64)
        }
        Size::Bytes(b) => b,
        Size::Other(v) => {
            return Err(ModuleError::with_class(
                "TypeError",
                format!(
                    "unsupported operand type(s) for /: '{}' and 'int'",
                    py_type(&v)
                ),
            ))
        }
    };
    let mib = (bytes / MB).trunc() as i64;
    if bytes == 0.0 {
        log::debug!("Not creating swap: suggested size was 0");
        return Ok(None);
    }
    let started = Instant::now();
    let res = create_swapfile(ctx, fname, &swap_dir, mib);
    log::debug!(
        "Setting up swap file took {:.3} seconds",
        started.elapsed().as_secs_f64()
    );
    res?;
    Ok(Some(fname.to_string()))
}

fn size_type(s: &Size) -> &'static str {
    match s {
        Size::Other(v) => py_type(v),
        _ => "int",
    }
}

/// Upstream's `suggested_swapsize` for a file on a filesystem with
/// `avail` bytes free: at most twice the memory, a quarter of the free
/// space unless `maxsize` is given (which is kept under 90% of it), and
/// the memory itself below 4 GiB, 4 GiB below 16 GiB, else the square
/// root of the memory in GiB.
pub(crate) fn suggested_swapsize(memsize: f64, maxsize: Option<f64>, avail: f64) -> f64 {
    let sugg_max = memsize * 2.0;
    let max = match maxsize {
        None => (avail / 4.0).trunc().min(sugg_max),
        Some(m) if m > avail * 0.9 => (avail * 0.9).trunc(),
        Some(m) => m,
    };
    let minsize = if memsize < 4.0 * GB {
        memsize
    } else if memsize < 16.0 * GB {
        4.0 * GB
    } else {
        (memsize / GB).sqrt().round_ties_even() * GB
    };
    let size = minsize.min(max);
    let mb = |v: f64| format!("{} MB", float_repr(v / MB));
    log::debug!(
        "suggest {} swap for {} memory with '{}' disk given max={} [max={}]'",
        mb(size),
        mb(memsize),
        mb(avail),
        maxsize.map_or_else(|| "None".to_string(), mb),
        mb(max)
    );
    size
}

fn del_file(ctx: &Ctx, fname: &str) {
    log::debug!("Attempting to remove {fname}");
    if let Err(e) = ctx.host.remove_file(absolute(fname)) {
        if e.kind() != std::io::ErrorKind::NotFound {
            log::debug!("Could not remove {fname}: {e}");
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Method {
    Fallocate,
    Dd,
}

fn create_swap(
    ctx: &Ctx,
    fname: &str,
    mib: i64,
    fstype: &str,
    method: Method,
) -> Result<(), ModuleError> {
    let name = match method {
        Method::Fallocate => "fallocate",
        Method::Dd => "dd",
    };
    log::debug!("Creating swapfile in '{fname}' on fstype '{fstype}' using '{name}'");
    let size = format!("{mib}M");
    let of = format!("of={fname}");
    let count = format!("count={mib}");
    let argv: Vec<&str> = match method {
        Method::Fallocate => vec!["fallocate", "-l", &size, fname],
        Method::Dd => vec!["dd", "if=/dev/zero", &of, "bs=1M", &count],
    };
    subp(ctx.host, &argv).map(|_| ()).map_err(|e| {
        log::info!("Failed to create swapfile '{fname}' of size {mib}MB via {name}: {e}");
        del_file(ctx, fname);
        e
    })
}

/// Upstream's `create_swapfile`; `mib` is the size in MiB.
fn create_swapfile(ctx: &Ctx, fname: &str, swap_dir: &str, mib: i64) -> Result<(), ModuleError> {
    ensure_dir(ctx, swap_dir)?;
    let Some(info) = crate::blockdev::get_mount_info(ctx.host, ctx.distro, swap_dir) else {
        // Upstream indexes the missing answer.
        return Err(ModuleError::with_class(
            "TypeError",
            "'NoneType' object is not subscriptable",
        ));
    };
    let fstype = info.fstype;
    if fstype == "btrfs" {
        subp(ctx.host, &["truncate", "-s", "0", fname])?;
        subp(ctx.host, &["chattr", "+C", fname])?;
    }
    let old_xfs = fstype == "xfs" && sys::kernel_version().is_some_and(|v| v < (4, 18));
    if old_xfs {
        create_swap(ctx, fname, mib, &fstype, Method::Dd)?;
    } else if create_swap(ctx, fname, mib, &fstype, Method::Fallocate).is_err() {
        log::info!("fallocate swap creation failed, will attempt with dd");
        create_swap(ctx, fname, mib, &fstype, Method::Dd)?;
    }
    if exists(ctx.host, fname) {
        ctx.host.set_mode(absolute(fname), 0o600).map_err(|e| {
            ModuleError::with_class("OSError", crate::pyerr::os_error_str(&e, fname))
        })?;
    }
    if let Err(e) = subp(ctx.host, &["mkswap", fname]) {
        del_file(ctx, fname);
        return Err(e);
    }
    Ok(())
}
