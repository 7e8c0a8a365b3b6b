//! `cloud-init collect-logs`: a tarball of what a cloud-init run left on
//! the target, laid out as upstream 25.1.4 lays it out under a top
//! directory `cloud-init-logs-YYYY-MM-DD/`: `version`, `dpkg-version`,
//! `dmesg.txt` (not with `-r`), `journal.txt`, `journal-previous.txt`,
//! installer logs, the logs the configuration names, `/etc/cloud` (without
//! `keys/` and `templates/`), `/var/lib/cloud/{data,handlers,seed,instance}/*`
//! and `/run/cloud-init/*`, each at its target path.
//!
//! As upstream, sensitive data is included unless `--redact-sensitive`;
//! then files that are not world-readable are left out (the configured
//! logs excepted). Ours on top: with `-r` the secrets the instance was
//! given are also scrubbed from what is collected (see `secrets.rs`), and
//! `manifest.json` in the top directory lists every file with its size,
//! SHA-256, why it was taken and what was redacted.
//!
//! Everything is read from the target through `Host` (inside `--root`,
//! links included) and nothing is written there. The tarball is written
//! on the machine the command runs on (relative to the working directory,
//! as upstream's `os.path.abspath`): under `--root` it is the operator's
//! file, not the image's.

mod secrets;

use ci_host::{Cmd, Host};
use ci_state::Paths;
use clap::{ArgAction, Args};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

#[derive(Debug, Args)]
pub struct CollectLogsArgs {
    /// Be more verbose.
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count)]
    pub verbosity: u8,
    /// The tarfile to create containing all collected logs.
    #[arg(short = 't', long = "tarfile", default_value = "cloud-init.tar.gz")]
    pub tarfile: PathBuf,
    /// DEPRECATED: user data is collected anyway; this flag does nothing
    #[arg(short = 'u', long = "include-userdata")]
    pub userdata: bool,
    /// Redact potentially sensitive data from logs. Sensitive data may
    /// include passwords or keys in user data and root read-only files.
    #[arg(short = 'r', long = "redact-sensitive")]
    pub redact_sensitive: bool,
}

/// Upstream's installer files (`INSTALLER_APPORT_FILES`), always taken.
const INSTALLER_FILES: &[&str] = &[
    "/var/log/installer/ubuntu_desktop_installer.log",
    "/var/log/installer/subiquity-server-debug.log",
    "/var/log/installer/subiquity-client-debug.log",
    "/var/log/installer/curtin-install.log",
    "/var/log/installer/subiquity-curtin-install.conf",
    "/var/log/installer/curtin-install/subiquity-initial.conf",
    "/var/log/installer/curtin-install/subiquity-curthooks.conf",
    "/var/log/installer/curtin-install/subiquity-extract.conf",
    "/var/log/installer/curtin-install/subiquity-partitioning.conf",
    "/var/log/installer/curtin-error-logs.tar",
    "/var/log/installer/curtin-errors.tar",
    "/var/log/installer/block/probe-data.json",
];

/// `INSTALLER_APPORT_SENSITIVE_FILES`: not with `--redact-sensitive`.
const INSTALLER_SENSITIVE_FILES: &[&str] = &[
    "/var/log/installer/autoinstall-user-data",
    "/autoinstall.yaml",
    "/etc/cloud/cloud.cfg.d/99-installer.cfg",
];

/// A single file past this is left out (and listed as skipped): the
/// archive is built one file at a time in memory.
const MAX_FILE: u64 = 512 << 20;
/// `/etc/cloud` is walked at most this deep and this wide.
const MAX_DEPTH: usize = 8;
const MAX_ENTRIES: usize = 10_000;

const SENSITIVE_WARNING: &str = "WARNING:\nSensitive data may have been included in the collected logs.\nPlease review the contents of the tarball before sharing or\nrerun with --redact-sensitive to redact sensitive data.";

/// Upstream's CLI logger: INFO by default, DEBUG with `-v`, TRACE with `-vv`.
#[derive(Clone, Copy)]
struct Say(u8);

impl Say {
    fn debug(self, msg: impl FnOnce() -> String) {
        if self.0 >= 1 {
            eprintln!("{}", msg());
        }
    }
    fn trace(self, msg: impl FnOnce() -> String) {
        if self.0 >= 2 {
            eprintln!("{}", msg());
        }
    }
}

pub(crate) fn run(host: &Host, paths: &Paths, cfg: &Value, a: CollectLogsArgs) -> i32 {
    let say = Say(a.verbosity);
    // Under --root the files belong to the image and are read as whoever
    // runs us may read them; only the running system needs root.
    if !host.is_sandbox() && !Host::running_as_root() {
        eprintln!("This command must be run as root.");
        return 1;
    }
    if a.userdata {
        eprintln!("The --include-userdata flag is deprecated and does nothing.");
    }
    let tarfile = match std::path::absolute(&a.tarfile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{}: {e}", a.tarfile.display());
            return 1;
        }
    };
    let include_sensitive = !a.redact_sensitive;
    let res = write_atomically(&tarfile, |out| {
        let mut c = Collector::new(host, out, include_sensitive, say);
        if !include_sensitive {
            let s = secrets::gather(
                host,
                &paths.cloud_dir.to_string_lossy(),
                &paths.run_dir.to_string_lossy(),
            );
            say.debug(|| format!("{} secret values to redact", s.len()));
            c.secrets = Some(s);
        }
        c.collect_all(paths, cfg)?;
        c.finish()
    });
    if let Err(e) = res {
        eprintln!("Failed to write {}: {e}", tarfile.display());
        return 1;
    }
    eprintln!("Wrote {}", tarfile.display());
    if include_sensitive {
        eprintln!("{SENSITIVE_WARNING}");
    }
    0
}

/// Builds the archive in a temporary file next to `dest` and renames it
/// into place, so a failed or interrupted run leaves no half tarball.
fn write_atomically(
    dest: &Path,
    build: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = dest.parent().unwrap_or(Path::new("/"));
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        use std::os::unix::fs::OpenOptionsExt;
        // Owner-only: without -r the archive holds the instance's secrets.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        build(&mut gz)?;
        let file = gz.finish()?;
        file.sync_all()?;
        std::fs::rename(&tmp, dest)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

struct Collector<'a> {
    host: &'a Host,
    tar: tar::Builder<&'a mut dyn Write>,
    top: String,
    include_sensitive: bool,
    secrets: Option<secrets::Secrets>,
    files: Vec<Value>,
    skipped: Vec<Value>,
    dirs: BTreeSet<String>,
    seen: BTreeSet<String>,
    now: u64,
    say: Say,
}

impl<'a> Collector<'a> {
    fn new(host: &'a Host, out: &'a mut dyn Write, include_sensitive: bool, say: Say) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let t = ci_state::timefmt::gmtime(i64::try_from(now).unwrap_or(0));
        Collector {
            host,
            tar: tar::Builder::new(out),
            top: format!("cloud-init-logs-{:04}-{:02}-{:02}", t.year, t.month, t.day),
            include_sensitive,
            secrets: None,
            files: Vec::new(),
            skipped: Vec::new(),
            dirs: BTreeSet::new(),
            seen: BTreeSet::new(),
            now,
            say,
        }
    }

    fn collect_all(&mut self, paths: &Paths, cfg: &Value) -> io::Result<()> {
        self.version_info()?;
        self.system_logs()?;
        for f in INSTALLER_FILES {
            self.file(Path::new(f), "installer log", true)?;
        }
        for f in INSTALLER_SENSITIVE_FILES {
            if self.include_sensitive {
                self.file(Path::new(f), "installer configuration", true)?;
            } else if self.host.exists(f) {
                self.skip(
                    Path::new(f),
                    "installer configuration: sensitive (--redact-sensitive)",
                );
            }
        }
        // Root read-only, but the tarball is useless without them and
        // cloud-init keeps secrets out of them.
        for log in ci_state::log::config_logfiles_of(self.host, cfg) {
            self.file(&log, "cloud-init log (def_log_file / output)", true)?;
        }
        let etc = PathBuf::from(if cfg!(target_os = "freebsd") {
            "/usr/local/etc/cloud"
        } else {
            "/etc/cloud"
        });
        let mut etc_files = Vec::new();
        walk(self.host, &etc, 0, &mut etc_files);
        for f in etc_files {
            let parent = f.parent().unwrap_or(Path::new("/"));
            if f.file_name().is_some_and(|n| n == "99-installer.cfg")
                || parent == etc.join("keys")
                || parent == etc.join("templates")
            {
                continue;
            }
            self.file(&f, "cloud-init configuration (/etc/cloud)", false)?;
        }
        for (sub, why) in [
            ("data", "cloud-init state (data)"),
            ("handlers", "part handlers"),
            ("seed", "seed"),
            ("instance", "instance state"),
        ] {
            let dir = paths.cloud_dir.join(sub);
            for name in self.host.list_dir(&dir) {
                self.file(&dir.join(name), why, false)?;
            }
        }
        for name in self.host.list_dir(&paths.run_dir) {
            self.file(&paths.run_dir.join(name), "runtime state (run dir)", false)?;
        }
        Ok(())
    }

    fn version_info(&mut self) -> io::Result<()> {
        if self.host.is_sandbox() {
            // The target's cloud-init is not ours to run from here.
            let v = format!("cloud-init {}\n", crate::VERSION);
            self.add(
                "version",
                v.as_bytes(),
                "cloud-init --version of this agent (--root: the target's was not run)",
                0o644,
                self.now,
            )?;
            let dpkg = dpkg_version(self.host);
            return self.add(
                "dpkg-version",
                dpkg.as_bytes(),
                "cloud-init package version from the target's dpkg status",
                0o644,
                self.now,
            );
        }
        self.command(
            "version",
            &["cloud-init", "--version"],
            "cloud-init --version",
        )?;
        self.command(
            "dpkg-version",
            &["dpkg-query", "--show", "-f=${Version}\n", "cloud-init"],
            "dpkg version",
        )
    }

    fn system_logs(&mut self) -> io::Result<()> {
        let cmds: [(&str, &[&str], &str, bool); 3] = [
            ("dmesg.txt", &["dmesg"], "dmesg output", true),
            (
                "journal.txt",
                &["journalctl", "--boot=0", "-o", "short-precise"],
                "systemd journal of current boot",
                false,
            ),
            (
                "journal-previous.txt",
                &["journalctl", "--boot=-1", "-o", "short-precise"],
                "systemd journal of previous boot",
                false,
            ),
        ];
        for (name, argv, what, sensitive) in cmds {
            if sensitive && !self.include_sensitive {
                self.skipped.push(json!({
                    "path": name,
                    "reason": format!("{what}: sensitive (--redact-sensitive)"),
                }));
                continue;
            }
            if self.host.is_sandbox() {
                // Under --root this machine's kernel and journal are not
                // the target's: say so in the file rather than mislead.
                let note = format!(
                    "not collected: --root {} is not the running system, so `{}` would describe this machine, not the target\n",
                    self.host.root().display(),
                    argv.join(" ")
                );
                self.add(
                    name,
                    note.as_bytes(),
                    &format!("{what}: skipped under --root"),
                    0o644,
                    self.now,
                )?;
                continue;
            }
            self.command(name, argv, what)?;
        }
        Ok(())
    }

    /// Runs a command on the target and stores what it printed (stdout
    /// then stderr, as upstream sends both to the file) or why it failed.
    fn command(&mut self, name: &str, argv: &[&str], what: &str) -> io::Result<()> {
        let out = match self
            .host
            .runner()
            .execute(self.host, &Cmd::new(argv.iter().copied()))
        {
            Ok(o) => {
                self.say
                    .debug(|| format!("collected {what} to file '{name}'"));
                let mut d = o.stdout;
                d.extend_from_slice(&o.stderr);
                d
            }
            Err(e) => {
                self.say.debug(|| format!("collecting {what} failed."));
                format!("{e}\n").into_bytes()
            }
        };
        self.add(
            name,
            &out,
            &format!("output of `{}`", argv.join(" ")),
            0o644,
            self.now,
        )
    }

    fn skip(&mut self, target: &Path, reason: &str) {
        self.skipped.push(json!({
            "path": rel_of(target),
            "reason": reason,
        }));
    }

    /// Upstream's `_collect_file`: a regular file (links followed inside
    /// the root) is taken if `always`, without `-r`, or if world-readable.
    fn file(&mut self, target: &Path, reason: &str, always: bool) -> io::Result<()> {
        let rel = rel_of(target);
        if rel.is_empty() || self.seen.contains(&rel) {
            return Ok(());
        }
        let meta = self
            .host
            .try_resolve(target)
            .and_then(std::fs::symlink_metadata);
        let meta = match meta {
            Ok(m) if m.is_file() => m,
            _ => {
                self.say
                    .trace(|| format!("file {} did not exist", target.display()));
                return Ok(());
            }
        };
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let mode = meta.permissions().mode();
        if !(always || self.include_sensitive || mode & 0o004 != 0) {
            self.say
                .trace(|| format!("sensitive file {} was not collected", target.display()));
            self.skip(target, "not world-readable (--redact-sensitive)");
            return Ok(());
        }
        if meta.len() > MAX_FILE {
            self.skip(target, &format!("larger than {} MiB", MAX_FILE >> 20));
            return Ok(());
        }
        let data = match self.host.read(target) {
            Ok(d) => d,
            Err(e) => {
                self.skip(target, &format!("unreadable: {e}"));
                return Ok(());
            }
        };
        self.seen.insert(rel.clone());
        let mtime = u64::try_from(meta.mtime()).unwrap_or(0);
        self.add(&rel, &data, reason, mode & 0o7777, mtime)?;
        self.say
            .debug(|| format!("collected file: {}", target.display()));
        Ok(())
    }

    /// One file into the archive (scrubbed under `-r`) and the manifest.
    fn add(
        &mut self,
        rel: &str,
        data: &[u8],
        reason: &str,
        mode: u32,
        mtime: u64,
    ) -> io::Result<()> {
        let (data, cats) = match &self.secrets {
            Some(s) => s.scrub(data),
            None => (data.to_vec(), Vec::new()),
        };
        self.parents(rel)?;
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(mtime);
        self.tar
            .append_data(&mut h, format!("{}/{rel}", self.top), data.as_slice())?;
        let digest = ci_pyval::digest::hex(&ci_pyval::digest::sha256(&data));
        self.files.push(json!({
            "path": rel,
            "size": data.len(),
            "sha256": digest,
            "reason": reason,
            "redacted": !cats.is_empty(),
            "redactions": cats,
        }));
        Ok(())
    }

    /// Directory entries for the top directory and every parent of `rel`,
    /// once each, as `tar czf` of a directory has them.
    fn parents(&mut self, rel: &str) -> io::Result<()> {
        let mut dirs = vec![self.top.clone()];
        let parts: Vec<&str> = rel.split('/').collect();
        for i in 1..parts.len() {
            dirs.push(format!("{}/{}", self.top, parts[..i].join("/")));
        }
        for d in dirs {
            if self.dirs.insert(d.clone()) {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_mode(0o755);
                h.set_mtime(self.now);
                self.tar.append_data(&mut h, format!("{d}/"), io::empty())?;
            }
        }
        Ok(())
    }

    /// `manifest.json` last (it does not list itself), then the tar end.
    fn finish(mut self) -> io::Result<()> {
        let manifest = json!({
            "generator": format!("cloud-init-rs collect-logs {}", crate::VERSION),
            "root": self.host.root().to_string_lossy(),
            "created": ci_state::timefmt::rfc2822(self.now as f64),
            "redact_sensitive": !self.include_sensitive,
            "files": self.files,
            "skipped": self.skipped,
        });
        let mut text = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        text.push(b'\n');
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(self.now);
        self.tar.append_data(
            &mut h,
            format!("{}/manifest.json", self.top),
            text.as_slice(),
        )?;
        self.tar.finish()
    }
}

/// The target path without its root and without `.`/`..`, as it goes
/// under the top directory.
fn rel_of(target: &Path) -> String {
    target
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every entry under `dir` (upstream's `glob("**/*")`), sorted; links to
/// directories are not descended into (they could loop or lead anywhere
/// in the image), links to files are listed and read inside the root.
fn walk(host: &Host, dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > MAX_DEPTH {
        return;
    }
    for name in host.list_dir(dir) {
        if out.len() >= MAX_ENTRIES {
            return;
        }
        let p = dir.join(&name);
        let real_dir = host
            .try_path(&p)
            .and_then(std::fs::symlink_metadata)
            .is_ok_and(|m| m.is_dir());
        if real_dir {
            walk(host, &p, depth + 1, out);
        } else {
            out.push(p);
        }
    }
}

/// What `dpkg-query --show -f='${Version}\n' cloud-init` prints, read
/// from the target's dpkg database instead of run there.
fn dpkg_version(host: &Host) -> String {
    const STATUS: &str = "/var/lib/dpkg/status";
    let ok = host
        .try_resolve(STATUS)
        .and_then(std::fs::symlink_metadata)
        .is_ok_and(|m| m.is_file() && m.len() <= 64 << 20);
    let text = ok
        .then(|| host.read(STATUS).ok())
        .flatten()
        .map(|d| String::from_utf8_lossy(&d).into_owned())
        .unwrap_or_default();
    for stanza in text.split("\n\n") {
        let field = |k: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
        };
        if field("Package:").as_deref() == Some("cloud-init") {
            if let Some(v) = field("Version:") {
                return format!("{v}\n");
            }
        }
    }
    "dpkg-query: no packages found matching cloud-init\n".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rel_paths_stay_under_the_top_dir() {
        assert_eq!(rel_of(Path::new("/var/log/x.log")), "var/log/x.log");
        assert_eq!(rel_of(Path::new("/../../etc/./x")), "etc/x");
    }

    #[test]
    fn dpkg_version_from_status() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let host = Host::new(dir.path());
        assert_eq!(
            dpkg_version(&host),
            "dpkg-query: no packages found matching cloud-init\n"
        );
        std::fs::create_dir_all(dir.path().join("var/lib/dpkg")).unwrap_or_default();
        std::fs::write(
            dir.path().join("var/lib/dpkg/status"),
            "Package: bash\nVersion: 5.2\n\nPackage: cloud-init\nStatus: install ok installed\nVersion: 25.1.4-0ubuntu1\n",
        )
        .unwrap_or_default();
        assert_eq!(dpkg_version(&host), "25.1.4-0ubuntu1\n");
    }
}
