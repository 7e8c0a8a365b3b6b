//! Semaphores: marker files that say "this already ran" for a frequency.
//! Layout and content as upstream (`helpers.FileSemaphores`), so an image
//! booted once by upstream cloud-init does not re-run its per-instance and
//! per-once work under us, and the reverse.

use crate::paths::Paths;
use ci_host::{Host, WriteOpts};
use std::path::PathBuf;

/// How often a unit of work runs. The strings are upstream's
/// (`settings.PER_INSTANCE` etc.), as found in configs and module metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Frequency {
    /// `once-per-instance`: again after the instance id changes.
    PerInstance,
    /// `once`: once for the life of the disk image.
    Once,
    /// `always`: every boot; no semaphore.
    Always,
}

impl Frequency {
    /// The spelling used in logs and `--frequency` (`once-per-instance`, `always`, `once`).
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::PerInstance => "once-per-instance",
            Frequency::Once => "once",
            Frequency::Always => "always",
        }
    }

    /// Accepts upstream's strings plus the CLI spelling `instance`
    /// (`cloud-init single --frequency instance`).
    pub fn parse(s: &str) -> Option<Frequency> {
        match s {
            "once-per-instance" | "instance" => Some(Frequency::PerInstance),
            "once" => Some(Frequency::Once),
            "always" => Some(Frequency::Always),
            _ => None,
        }
    }

    /// The frequency of a module-list entry (`[name, freq, args...]` or
    /// `{name, frequency}`): [`Frequency::parse`] plus the `per-`/`per_`
    /// spellings and `boot` for always.
    pub fn parse_module_list(s: &str) -> Option<Frequency> {
        match s {
            "per-instance" | "per_instance" => Some(Frequency::PerInstance),
            "per-always" | "per_always" | "boot" => Some(Frequency::Always),
            "per-once" | "per_once" => Some(Frequency::Once),
            other => Frequency::parse(other),
        }
    }
}

/// `helpers.canon_sem_name`: `-` becomes `_`.
pub fn canon_sem_name(name: &str) -> String {
    name.replace('-', "_")
}

/// The semaphore name of config module `name` (`runcmd` → `config_runcmd`;
/// upstream runs modules as `config-<name>` and canonicalises).
pub fn module_sem_name(module: &str) -> String {
    canon_sem_name(&format!("config-{module}"))
}

#[derive(Debug, thiserror::Error)]
pub enum SemError {
    #[error("no instance id known for per-instance semaphore {0}")]
    NoInstance(String),
    #[error("writing semaphore {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("removing semaphore {path}: {source}")]
    Remove {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The semaphore file for `name` at `freq`, or `None` for `always`.
/// Per-instance semaphores need `paths.instance_id`.
pub fn sem_path(paths: &Paths, name: &str, freq: Frequency) -> Result<Option<PathBuf>, SemError> {
    let name = canon_sem_name(name);
    match freq {
        Frequency::Always => Ok(None),
        Frequency::Once => Ok(Some(paths.sem_dir().join(format!("{name}.once")))),
        Frequency::PerInstance => match paths.instance_id {
            Some(_) => Ok(Some(paths.instance_file("sem").join(name))),
            None => Err(SemError::NoInstance(name)),
        },
    }
}

/// True when `name` already ran at `freq` (never for `always`).
pub fn has_run(host: &Host, paths: &Paths, name: &str, freq: Frequency) -> Result<bool, SemError> {
    Ok(match sem_path(paths, name, freq)? {
        Some(p) => host.exists(p),
        None => false,
    })
}

/// Record that `name` ran: `<pid>: <epoch float>\n` as upstream writes it.
pub fn mark_run(host: &Host, paths: &Paths, name: &str, freq: Frequency) -> Result<(), SemError> {
    let Some(p) = sem_path(paths, name, freq)? else {
        return Ok(());
    };
    let content = format!(
        "{}: {}\n",
        std::process::id(),
        crate::pyjson::float_repr(crate::timefmt::now_epoch())
    );
    host.write_atomic(&p, content.as_bytes(), &WriteOpts::mode(0o644))
        .map_err(|source| SemError::Write { path: p, source })
}

/// Forget that `name` ran (missing file is fine).
pub fn clear(host: &Host, paths: &Paths, name: &str, freq: Frequency) -> Result<(), SemError> {
    let Some(p) = sem_path(paths, name, freq)? else {
        return Ok(());
    };
    host.remove_file(&p)
        .map_err(|source| SemError::Remove { path: p, source })
}

/// `cloud-init-per` frequencies (its own spelling: `instance`, not
/// `once-per-instance`).
pub fn bootper_freq(freq: &str) -> Option<Frequency> {
    match freq {
        "once" => Some(Frequency::Once),
        "always" => Some(Frequency::Always),
        "instance" => Some(Frequency::PerInstance),
        _ => None,
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BootperError {
    #[error("name cannot contain a /")]
    Slash,
    #[error("invalid frequency: {0}")]
    Frequency(String),
}

/// The semaphore of `cloud-init-per FREQ NAME`:
/// `/var/lib/cloud/sem/bootper.<name>.<once|always>` or
/// `/var/lib/cloud/instance/sem/bootper.<name>.instance` (through the
/// `instance` link, as the shell tool does). `-` in the name becomes `_`.
/// Unlike module semaphores, `always` has a file too (it records the last run).
pub fn bootper_path(paths: &Paths, freq: &str, name: &str) -> Result<PathBuf, BootperError> {
    let name = canon_sem_name(name);
    if name.contains('/') {
        return Err(BootperError::Slash);
    }
    match freq {
        "once" | "always" => Ok(paths.sem_dir().join(format!("bootper.{name}.{freq}"))),
        "instance" => Ok(paths
            .instance_link()
            .join("sem")
            .join(format!("bootper.{name}.{freq}"))),
        _ => Err(BootperError::Frequency(freq.to_string())),
    }
}

/// The pre-rename spelling of a `cloud-init-per` semaphore (every `_` in
/// the whole path as `-`), which the tool renames to the current one.
pub fn bootper_legacy_path(sem: &std::path::Path) -> PathBuf {
    PathBuf::from(sem.to_string_lossy().replace('_', "-"))
}

/// Content `cloud-init-per` writes after running: `<exit code>\t<epoch>\n`.
pub fn bootper_record(exit_code: i32, epoch_secs: u64) -> String {
    format!("{exit_code}\t{epoch_secs}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_lifecycle() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        let p = Paths::default().with_instance("i-1");
        assert_eq!(module_sem_name("ssh-import-id"), "config_ssh_import_id");
        assert_eq!(
            sem_path(&p, "config-runcmd", Frequency::PerInstance).unwrap(),
            Some(PathBuf::from(
                "/var/lib/cloud/instances/i-1/sem/config_runcmd"
            ))
        );
        assert_eq!(
            sem_path(&p, "config_x", Frequency::Once).unwrap(),
            Some(PathBuf::from("/var/lib/cloud/sem/config_x.once"))
        );
        assert_eq!(sem_path(&p, "x", Frequency::Always).unwrap(), None);
        assert!(sem_path(&Paths::default(), "x", Frequency::PerInstance).is_err());

        assert!(!has_run(&h, &p, "config-runcmd", Frequency::PerInstance).unwrap());
        mark_run(&h, &p, "config-runcmd", Frequency::PerInstance).unwrap();
        assert!(has_run(&h, &p, "config_runcmd", Frequency::PerInstance).unwrap());
        let body = h
            .read_to_string("/var/lib/cloud/instances/i-1/sem/config_runcmd")
            .unwrap();
        let (pid, t) = body.trim_end().split_once(": ").unwrap();
        assert_eq!(pid, std::process::id().to_string());
        assert!(t.parse::<f64>().unwrap() > 1.6e9);
        // A new instance has its own semaphores.
        let p2 = Paths::default().with_instance("i-2");
        assert!(!has_run(&h, &p2, "config-runcmd", Frequency::PerInstance).unwrap());
        mark_run(&h, &p, "x", Frequency::Always).unwrap();
        assert!(!has_run(&h, &p, "x", Frequency::Always).unwrap());
        clear(&h, &p, "config-runcmd", Frequency::PerInstance).unwrap();
        assert!(!has_run(&h, &p, "config_runcmd", Frequency::PerInstance).unwrap());
        clear(&h, &p, "never-made", Frequency::Once).unwrap();
    }

    #[test]
    fn frequency_spellings() {
        for f in [Frequency::PerInstance, Frequency::Once, Frequency::Always] {
            assert_eq!(Frequency::parse(f.as_str()), Some(f));
            assert_eq!(Frequency::parse_module_list(f.as_str()), Some(f));
        }
        assert_eq!(Frequency::parse("instance"), Some(Frequency::PerInstance));
        for (s, f) in [
            ("instance", Frequency::PerInstance),
            ("per-instance", Frequency::PerInstance),
            ("per_instance", Frequency::PerInstance),
            ("per-always", Frequency::Always),
            ("per_always", Frequency::Always),
            ("boot", Frequency::Always),
            ("per-once", Frequency::Once),
            ("per_once", Frequency::Once),
        ] {
            assert_eq!(Frequency::parse_module_list(s), Some(f), "{s}");
        }
        for s in ["per-instance", "per_once", "boot", "weekly", "", "Once"] {
            assert_eq!(Frequency::parse(s), None, "{s}");
        }
        assert_eq!(Frequency::parse_module_list("weekly"), None);
    }

    #[test]
    fn bootper_names() {
        let p = Paths::default();
        assert_eq!(
            bootper_path(&p, "once", "my-cmd").unwrap(),
            PathBuf::from("/var/lib/cloud/sem/bootper.my_cmd.once")
        );
        assert_eq!(
            bootper_path(&p, "instance", "x").unwrap(),
            PathBuf::from("/var/lib/cloud/instance/sem/bootper.x.instance")
        );
        assert_eq!(
            bootper_path(&p, "weekly", "x"),
            Err(BootperError::Frequency("weekly".into()))
        );
        assert_eq!(bootper_path(&p, "once", "a/b"), Err(BootperError::Slash));
        assert_eq!(
            bootper_legacy_path(std::path::Path::new(
                "/var/lib/cloud/sem/bootper.my_cmd.once"
            )),
            PathBuf::from("/var/lib/cloud/sem/bootper.my-cmd.once")
        );
        assert_eq!(bootper_record(3, 1700000000), "3\t1700000000\n");
    }
}
