//! The instance cache under `/var/lib/cloud`: which instance this disk
//! belongs to, whether it is new, and the datasource cache. Layout as
//! upstream's `stages.Init._reflect_cur_instance`; the cache itself is our
//! own JSON file (`obj.json`), since upstream's `obj.pkl` is a Python pickle.

use crate::paths::Paths;
use ci_host::{Host, WriteOpts};
use serde_json::Value;
use std::path::PathBuf;

/// What `data/previous-instance-id` holds on first boot.
pub const NO_PREVIOUS_INSTANCE_ID: &str = "NO_PREVIOUS_INSTANCE_ID";

/// Our datasource cache in the instance dir (upstream: `obj.pkl`, ignored).
pub const CACHE_FILE: &str = "obj.json";

/// Upstream's pickle; present from an upstream boot, never read.
pub const UPSTREAM_PICKLE: &str = "obj.pkl";

#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    /// The id does not name exactly one directory inside `instances/`.
    #[error("instance-id {iid:?} cannot name a directory in {dir}")]
    BadInstanceId { iid: String, dir: PathBuf },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn wrap(path: PathBuf) -> impl FnOnce(std::io::Error) -> InstanceError {
    move |source| InstanceError::Write { path, source }
}

/// `_initial_subdirs`: the directories every stage expects.
pub fn ensure_initial_dirs(host: &Host, paths: &Paths) -> Result<(), InstanceError> {
    let c = &paths.cloud_dir;
    let dirs = [
        c.clone(),
        c.join("scripts"),
        c.join("scripts/per-instance"),
        c.join("scripts/per-once"),
        c.join("scripts/per-boot"),
        c.join("scripts/vendor"),
        c.join("seed"),
        c.join("instances"),
        c.join("handlers"),
        c.join("sem"),
        c.join("data"),
        paths.run_dir.join("sem"),
    ];
    for d in dirs {
        host.create_dir_all(&d, 0o755).map_err(wrap(d))?;
    }
    Ok(())
}

/// `previous_iid`: `data/instance-id` as left by the last boot, or
/// [`NO_PREVIOUS_INSTANCE_ID`].
pub fn previous_instance_id(host: &Host, paths: &Paths) -> String {
    host.read_to_string(paths.data_file("instance-id"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| NO_PREVIOUS_INSTANCE_ID.to_string())
}

/// `is_new_instance`: no previous id, or a different one.
pub fn is_new_instance(previous: &str, current: &str) -> bool {
    previous == NO_PREVIOUS_INSTANCE_ID || previous != current
}

/// The line upstream writes to `instances/<iid>/datasource`:
/// `<class name>: <str(ds)>`, e.g.
/// `DataSourceNoCloud: DataSourceNoCloud [seed=/dev/vdb]`.
pub fn datasource_line(class_name: &str, description: &str) -> String {
    format!("{class_name}: {description}")
}

/// What [`reflect_instance`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reflected {
    /// The `instance` link already pointed at this instance.
    pub already_instancified: bool,
    pub previous_instance_id: String,
    pub previous_datasource: String,
    /// `is_new_instance(previous, iid)`.
    pub new_instance: bool,
}

/// `instancify`: point `/var/lib/cloud/instance` at `instances/<iid>`
/// (absolute target, as upstream), create `handlers`, `scripts`, `sem`, and
/// write `instances/<iid>/datasource`, `data/previous-datasource`,
/// `data/instance-id`, `/run/cloud-init/.instance-id` and
/// `data/previous-instance-id`. `ds_line` is [`datasource_line`].
pub fn reflect_instance(
    host: &Host,
    paths: &Paths,
    iid: &str,
    ds_line: &str,
) -> Result<Reflected, InstanceError> {
    let paths = paths.clone().with_instance(iid);
    let idir = paths.instance_dir();
    // The search already refuses such ids; this is the last line before
    // anything is written, for ids from old state or a hand-edited cache.
    if !names_one_instance_dir(iid) {
        return Err(InstanceError::BadInstanceId {
            iid: iid.to_string(),
            dir: paths.cloud_dir.join("instances"),
        });
    }
    let link = paths.instance_link();
    let already = host.read_link(&link).ok().is_some_and(|t| {
        let t = if t.is_absolute() {
            t
        } else {
            paths.cloud_dir.join(t)
        };
        t == idir
    });
    if already {
        log::info!("Instance link already exists, not recreating it.");
    } else {
        host.symlink(&idir, &link).map_err(wrap(link.clone()))?;
    }
    for sub in ["handlers", "scripts", "sem"] {
        let d = idir.join(sub);
        host.create_dir_all(&d, 0o755).map_err(wrap(d))?;
    }
    let ds_fn = idir.join("datasource");
    let previous_ds = host
        .read_to_string(&ds_fn)
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| ds_line.to_string());
    let w = |p: PathBuf, body: String| -> Result<(), InstanceError> {
        host.write_atomic(&p, body.as_bytes(), &WriteOpts::mode(0o644))
            .map_err(wrap(p))
    };
    w(ds_fn, format!("{ds_line}\n"))?;
    w(
        paths.data_file("previous-datasource"),
        format!("{previous_ds}\n"),
    )?;
    let previous_iid = previous_instance_id(host, &paths);
    w(paths.data_file("instance-id"), format!("{iid}\n"))?;
    w(paths.run_file(".instance-id"), format!("{iid}\n"))?;
    w(
        paths.data_file("previous-instance-id"),
        format!("{previous_iid}\n"),
    )?;
    if already && previous_ds == ds_line {
        log::info!("Not re-loading configuration, instance id and datasource have not changed.");
    }
    Ok(Reflected {
        already_instancified: already,
        new_instance: is_new_instance(&previous_iid, iid),
        previous_instance_id: previous_iid,
        previous_datasource: previous_ds,
    })
}

/// Whether `iid` (with `/` stored as `_`) is a single plain directory name:
/// not empty, `.` or `..`, no NUL, at most 255 bytes.
fn names_one_instance_dir(iid: &str) -> bool {
    let name = iid.replace('/', "_");
    let mut parts = std::path::Path::new(&name).components();
    let single = matches!(
        (parts.next(), parts.next()),
        (Some(std::path::Component::Normal(n)), None) if n == name.as_str()
    );
    single && !name.contains('\0') && name.len() <= 255
}

/// Store the datasource cache (`instance/obj.json`, 0400 like upstream's
/// pickle) and, with `manual_cache_clean`, the `manual-clean` marker.
pub fn write_cache(
    host: &Host,
    paths: &Paths,
    cache: &Value,
    manual_cache_clean: bool,
) -> Result<(), InstanceError> {
    let dir = through_instance_link(host, paths, "").unwrap_or_else(|| paths.instance_link());
    if manual_cache_clean {
        let p = dir.join("manual-clean");
        host.write_atomic(&p, b"", &WriteOpts::mode(0o644))
            .map_err(wrap(p))?;
    }
    let p = dir.join(CACHE_FILE);
    let body = crate::pyjson::json_dumps(cache) + "\n";
    host.write_atomic(&p, body.as_bytes(), &WriteOpts::mode(0o400))
        .map_err(wrap(p))
}

/// Rewrite a target path that goes through `/var/lib/cloud/instance` to
/// the link's target (`/var/lib/cloud/instances/<iid>/...`). The link holds
/// an absolute target path, which must not be followed on this machine
/// when the root is not `/`. Unchanged when not under the link or no link.
pub fn resolve_instance_link(host: &Host, paths: &Paths, target: &std::path::Path) -> PathBuf {
    match target.strip_prefix(paths.instance_link()) {
        Ok(rest) => through_instance_link(host, paths, "")
            .map(|d| {
                if rest.as_os_str().is_empty() {
                    d
                } else {
                    d.join(rest)
                }
            })
            .unwrap_or_else(|| target.to_path_buf()),
        Err(_) => target.to_path_buf(),
    }
}

fn through_instance_link(host: &Host, paths: &Paths, name: &str) -> Option<PathBuf> {
    let t = host.read_link(paths.instance_link()).ok()?;
    let t = if t.is_absolute() {
        t
    } else {
        paths.cloud_dir.join(t)
    };
    Some(t.join(name))
}

/// Load the datasource cache through the `instance` link. `None` when
/// there is none, when it is unreadable, or when only upstream's pickle is
/// there (a pickle is never read: treated as "no cache").
pub fn read_cache(host: &Host, paths: &Paths) -> Option<Value> {
    let p = through_instance_link(host, paths, CACHE_FILE)?;
    match host.read_to_string(&p) {
        Ok(t) => match serde_json::from_str(&t) {
            Ok(v) => Some(v),
            Err(e) => {
                log::debug!("Ignoring unreadable datasource cache {}: {e}", p.display());
                None
            }
        },
        Err(_) => {
            if through_instance_link(host, paths, UPSTREAM_PICKLE).is_some_and(|pk| host.exists(pk))
            {
                log::debug!("Ignoring upstream's Python datasource cache {UPSTREAM_PICKLE}");
            }
            None
        }
    }
}

/// True when `instance/manual-clean` exists (cache always trusted).
pub fn manual_clean_marker(host: &Host, paths: &Paths) -> bool {
    through_instance_link(host, paths, "manual-clean").is_some_and(|p| host.exists(p))
}

/// How a cached datasource may be reused (`existing=` upstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Local stage: reuse only if this boot's `.instance-id` matches or the
    /// datasource confirms its instance id.
    Check,
    /// Later stages / `manual_cache_clean`: reuse whatever is cached.
    Trust,
}

/// `_restore_from_checked_cache` decision: (reuse?, upstream's description).
/// `run_iid` is `/run/cloud-init/.instance-id` (trimmed) if present;
/// `check_instance_id` asks the datasource (only called when needed).
pub fn cache_decision(
    existing: Existing,
    cached_iid: &str,
    ds_text: &str,
    run_iid: Option<&str>,
    check_instance_id: &mut dyn FnMut() -> bool,
) -> (bool, String) {
    if run_iid == Some(cached_iid) {
        return (
            true,
            format!("restored from cache with run check: {ds_text}"),
        );
    }
    if existing == Existing::Trust {
        return (true, format!("restored from cache: {ds_text}"));
    }
    if check_instance_id() {
        (true, format!("restored from checked cache: {ds_text}"))
    } else {
        (false, format!("cache invalid in datasource: {ds_text}"))
    }
}

/// Content of `instance/boot-finished`: `<uptime> - <RFC2822> - v. <version>\n`.
pub fn boot_finished_content(uptime: &str, epoch: f64, version: &str) -> String {
    format!(
        "{uptime} - {} - v. {version}\n",
        crate::timefmt::rfc2822(epoch)
    )
}

/// Write `instance/boot-finished` (through the link).
pub fn write_boot_finished(host: &Host, paths: &Paths, content: &str) -> Result<(), InstanceError> {
    let p = through_instance_link(host, paths, "boot-finished")
        .unwrap_or_else(|| paths.instance_link().join("boot-finished"));
    host.write_atomic(&p, content.as_bytes(), &WriteOpts::mode(0o644))
        .map_err(wrap(p))
}

/// `purge_cache`: remove `boot-finished`, and the `instance` link if asked.
pub fn purge_cache(host: &Host, paths: &Paths, remove_instance_link: bool) {
    if let Some(p) = through_instance_link(host, paths, "boot-finished") {
        let _ = host.remove_file(p);
    }
    if remove_instance_link {
        let _ = host.remove_file(paths.instance_link());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_that_do_not_name_one_directory_write_nothing() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let p = Paths::default();
        ensure_initial_dirs(&h, &p).unwrap();
        let long = "x".repeat(256);
        for iid in ["", ".", "..", "a\0b", long.as_str()] {
            let e = reflect_instance(&h, &p, iid, "DataSourceNoCloud: x").unwrap_err();
            assert!(
                e.to_string()
                    .contains("cannot name a directory in /var/lib/cloud/instances"),
                "{iid:?}: {e}"
            );
        }
        assert!(h.list_dir("/var/lib/cloud/instances").is_empty());
        assert!(!h.exists("/var/lib/cloud/instance"));
        assert!(!h.exists("/var/lib/cloud/data/instance-id"));
        assert!(!h.exists("/var/lib/cloud/datasource"));
        // `/` is stored as `_` (upstream), so these stay inside instances/.
        for iid in ["../x", "/", "a/../..", "x".repeat(255).as_str()] {
            reflect_instance(&h, &p, iid, "DataSourceNoCloud: x").unwrap();
        }
        let mut made = h.list_dir("/var/lib/cloud/instances");
        made.sort();
        assert_eq!(
            made,
            vec![
                ".._x".to_string(),
                "_".into(),
                "a_.._..".into(),
                "x".repeat(255)
            ]
        );
    }

    #[test]
    fn first_boot_then_same_then_new_instance() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let p = Paths::default();
        ensure_initial_dirs(&h, &p).unwrap();
        assert!(h.is_dir("/var/lib/cloud/scripts/per-boot") && h.is_dir("/run/cloud-init/sem"));
        let ds = datasource_line("DataSourceNoCloud", "DataSourceNoCloud [seed=/dev/vdb]");
        let r = reflect_instance(&h, &p, "i-1", &ds).unwrap();
        assert!(r.new_instance && !r.already_instancified);
        assert_eq!(r.previous_instance_id, NO_PREVIOUS_INSTANCE_ID);
        assert_eq!(
            h.read_link("/var/lib/cloud/instance").unwrap(),
            PathBuf::from("/var/lib/cloud/instances/i-1")
        );
        assert_eq!(
            h.read_to_string("/var/lib/cloud/data/previous-instance-id")
                .unwrap(),
            "NO_PREVIOUS_INSTANCE_ID\n"
        );
        assert_eq!(
            h.read_to_string("/run/cloud-init/.instance-id").unwrap(),
            "i-1\n"
        );
        assert_eq!(
            h.read_to_string("/var/lib/cloud/instances/i-1/datasource")
                .unwrap(),
            "DataSourceNoCloud: DataSourceNoCloud [seed=/dev/vdb]\n"
        );
        assert!(h.is_dir("/var/lib/cloud/instances/i-1/sem"));

        write_cache(&h, &p, &json!({"ds": "NoCloud", "iid": "i-1"}), true).unwrap();
        assert_eq!(
            read_cache(&h, &p),
            Some(json!({"ds": "NoCloud", "iid": "i-1"}))
        );
        assert_eq!(
            resolve_instance_link(
                &h,
                &p,
                std::path::Path::new("/var/lib/cloud/instance/sem/bootper.x.instance")
            ),
            PathBuf::from("/var/lib/cloud/instances/i-1/sem/bootper.x.instance")
        );
        assert!(manual_clean_marker(&h, &p));
        write_boot_finished(&h, &p, &boot_finished_content("12.50", 0.0, "25.1.4")).unwrap();
        assert_eq!(
            h.read_to_string("/var/lib/cloud/instances/i-1/boot-finished")
                .unwrap(),
            "12.50 - Thu, 01 Jan 1970 00:00:00 +0000 - v. 25.1.4\n"
        );

        let r = reflect_instance(&h, &p, "i-1", &ds).unwrap();
        assert!(!r.new_instance && r.already_instancified);
        purge_cache(&h, &p, false);
        assert!(!h.exists("/var/lib/cloud/instances/i-1/boot-finished"));

        let r = reflect_instance(&h, &p, "i-2", &ds).unwrap();
        assert!(r.new_instance && !r.already_instancified);
        assert_eq!(r.previous_instance_id, "i-1");
        assert_eq!(read_cache(&h, &p), None);
        assert_eq!(
            h.read_to_string("/var/lib/cloud/data/previous-instance-id")
                .unwrap(),
            "i-1\n"
        );
    }

    #[test]
    fn pickle_is_no_cache_and_decisions() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let p = Paths::default();
        h.write_atomic(
            "/var/lib/cloud/instances/i-1/obj.pkl",
            b"\x80\x04junk",
            &WriteOpts::default(),
        )
        .unwrap();
        h.symlink("/var/lib/cloud/instances/i-1", "/var/lib/cloud/instance")
            .unwrap();
        assert_eq!(read_cache(&h, &p), None);
        let mut never = || -> bool { unreachable!() };
        assert!(cache_decision(Existing::Check, "i-1", "DS", Some("i-1"), &mut never).0);
        assert_eq!(
            cache_decision(Existing::Trust, "i-1", "DS", None, &mut never),
            (true, "restored from cache: DS".to_string())
        );
        assert_eq!(
            cache_decision(Existing::Check, "i-1", "DS", None, &mut || false),
            (false, "cache invalid in datasource: DS".to_string())
        );
        assert!(cache_decision(Existing::Check, "i-1", "DS", Some("i-9"), &mut || true).0);
    }
}
