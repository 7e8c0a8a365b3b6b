//! The systemd generator: run ds-identify and, when it says so, pull
//! `cloud-init.target` into the boot through a `multi-user.target.wants`
//! link in the early generator directory.

use crate::identify::{ds_identify, Identified, Verdict, RUN_DIR};
use crate::Env;
use ci_host::{Host, WriteOpts};
use std::path::{Path, PathBuf};

pub const GENERATOR_LOG: &str = "/run/cloud-init/cloud-init-generator.log";
pub const ENABLED_MARKER: &str = "/run/cloud-init/enabled";
pub const DISABLED_MARKER: &str = "/run/cloud-init/disabled";
/// Where the package installs the target the link points at.
pub const CLOUD_SYSTEM_TARGET: &str = "/usr/lib/systemd/system/cloud-init.target";
const TARGET_NAME: &str = "cloud-init.target";

/// The three directories systemd hands a generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratorDirs {
    pub normal: PathBuf,
    pub early: PathBuf,
    pub late: PathBuf,
}

impl GeneratorDirs {
    /// `<early>/multi-user.target.wants/cloud-init.target`; the sshd-keygen
    /// drop-in tests exactly this path under `/run/systemd/generator.early`.
    pub fn link_path(&self) -> PathBuf {
        self.early.join("multi-user.target.wants").join(TARGET_NAME)
    }
}

/// The generator's outcome.
#[derive(Debug, Clone)]
pub struct Generated {
    pub identified: Identified,
    /// True when cloud-init.target is linked in for this boot.
    pub enabled: bool,
    /// Exit status for the generator process (0 unless something failed).
    pub status: u8,
}

/// Run as systemd's generator. `program` names us in the log.
pub fn run_generator(host: &Host, env: &Env, program: &str, dirs: &GeneratorDirs) -> Generated {
    let mut log = GenLog::default();
    log.line(format!(
        "{program} normal={} early={} late={}",
        dirs.normal.display(),
        dirs.early.display(),
        dirs.late.display()
    ));
    log.line("checking for datasource");
    let identified = ds_identify(host, env, false, &[]);
    let rc = identified.verdict.code();
    log.line(format!("ds-identify rc={rc}"));

    let link = dirs.link_path();
    let mut status = 0;
    let enabled = match identified.verdict {
        Verdict::NotFound | Verdict::Disabled => {
            if identified.verdict == Verdict::NotFound {
                log.line("cloud-init is enabled but no datasource found, disabling");
            } else {
                log.line("cloud-init is disabled by kernel command line or etc_file");
            }
            if host.lexists(&link) {
                match host.remove_file(&link) {
                    Ok(()) => log.line(format!("disabled. removed existing {}", link.display())),
                    Err(e) => {
                        status = 1;
                        log.line(format!("[{e}] disable failed, remove {}", link.display()));
                    }
                }
            } else {
                log.line(format!(
                    "already disabled: no change needed [no {}]",
                    link.display()
                ));
            }
            swap_markers(host, &mut log, DISABLED_MARKER, ENABLED_MARKER);
            false
        }
        Verdict::Enable => {
            if host.read_link(&link).ok().as_deref() == Some(Path::new(CLOUD_SYSTEM_TARGET)) {
                log.line("already enabled: no change needed");
            } else {
                match host.symlink(CLOUD_SYSTEM_TARGET, &link) {
                    Ok(()) => log.line(format!(
                        "enabled via {} -> {CLOUD_SYSTEM_TARGET}",
                        link.display()
                    )),
                    Err(e) => {
                        status = 1;
                        log.line(format!(
                            "[{e}] enable failed: ln {CLOUD_SYSTEM_TARGET} {}",
                            link.display()
                        ));
                    }
                }
            }
            swap_markers(host, &mut log, ENABLED_MARKER, DISABLED_MARKER);
            true
        }
        Verdict::Unexpected => {
            status = 3;
            log.line(format!("unexpected result 'ds={rc}'"));
            false
        }
    };
    log.write(host);
    Generated {
        identified,
        enabled,
        status,
    }
}

/// Create `make` (empty) and remove `drop`, as `cloud-init status` reads them.
fn swap_markers(host: &Host, log: &mut GenLog, make: &str, drop: &str) {
    if host.lexists(drop) {
        log.line(format!("removing {drop} and creating {make}"));
        if let Err(e) = host.remove_file(drop) {
            log.line(format!("failed to remove {drop}: {e}"));
        }
    }
    if let Err(e) = host.write_atomic(make, b"", &WriteOpts::mode(0o644)) {
        log.line(format!("failed to create {make}: {e}"));
    }
}

/// The generator log is rewritten on every run.
#[derive(Default)]
struct GenLog(String);

impl GenLog {
    fn line(&mut self, l: impl AsRef<str>) {
        self.0.push_str(l.as_ref());
        self.0.push('\n');
    }

    fn write(&self, host: &Host) {
        let ok = host.create_dir_all(RUN_DIR, 0o755).is_ok()
            && host
                .write_atomic(GENERATOR_LOG, self.0.as_bytes(), &WriteOpts::mode(0o644))
                .is_ok();
        if !ok && !host.is_sandbox() {
            // Upstream falls back to the kernel log when /run is unusable.
            let _ = std::fs::OpenOptions::new()
                .append(true)
                .open("/dev/kmsg")
                .and_then(|mut f| std::io::Write::write_all(&mut f, self.0.as_bytes()));
        }
    }
}
