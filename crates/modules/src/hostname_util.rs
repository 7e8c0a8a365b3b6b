//! Hostname facts shared by `set_hostname`, `update_hostname` and
//! `update_etc_hosts`: upstream's `get_hostname_fqdn`, the `/etc/hostname`
//! format, and where each distro family keeps the hostname.

use crate::{Ctx, ModResult, ModuleError};
use ci_distro::Family;
use ci_host::{Cmd, Host, WriteOpts};
use ci_pyval::{cfg_bool_opt, cfg_str, py_str};
use std::net::Ipv4Addr;

const DEF_DOMAIN: &str = "localdomain";
const DEF_HOST: &str = "localhost";

/// `(hostname, fqdn, is_default)` as upstream's `util.get_hostname_fqdn`;
/// `is_default` is true only for `localhost` taken from the machine itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostnameFqdn {
    pub hostname: String,
    pub fqdn: String,
    pub is_default: bool,
}

pub(crate) fn get_hostname_fqdn(ctx: &Ctx) -> HostnameFqdn {
    let cfg = ctx.cfg;
    if let Some(fqdn) = cfg.get("fqdn") {
        let fqdn = py_str(fqdn);
        let short = fqdn.split('.').next().unwrap_or_default().to_string();
        let hostname = cfg_str(cfg, "hostname").unwrap_or(short);
        return HostnameFqdn {
            hostname,
            fqdn,
            is_default: false,
        };
    }
    if let Some(h) = cfg.get("hostname").map(py_str) {
        if h.find('.').is_some_and(|i| i > 0) {
            let short = h.split('.').next().unwrap_or_default().to_string();
            return HostnameFqdn {
                hostname: short,
                fqdn: h,
                is_default: false,
            };
        }
        let (fqdn, _) = ds_hostname(ctx, true);
        return HostnameFqdn {
            hostname: h,
            fqdn,
            is_default: false,
        };
    }
    let (fqdn, _) = ds_hostname(ctx, true);
    let (hostname, is_default) = ds_hostname(ctx, false);
    HostnameFqdn {
        hostname,
        fqdn,
        is_default,
    }
}

/// The name the datasource gives (with its domain), if any. `None` sends
/// [`ds_hostname`] to the machine's own name, which is how upstream tells a
/// default `localhost` from one the metadata asked for.
fn metadata_hostname(ctx: &Ctx) -> Option<String> {
    ctx.instance
        .local_hostname
        .clone()
        .or_else(|| ctx.instance.metadata.get("local-hostname").map(py_str))
        .filter(|h| !h.is_empty())
}

/// Upstream's `DataSource.get_hostname(fqdn=...)`.
fn ds_hostname(ctx: &Ctx, fqdn: bool) -> (String, bool) {
    let mut is_default = false;
    let toks: Vec<String> = match metadata_hostname(ctx) {
        Some(lhost) => {
            if lhost.parse::<Ipv4Addr>().is_ok() {
                vec![format!("ip-{}", lhost.replace('.', "-"))]
            } else {
                lhost.split('.').map(str::to_string).collect()
            }
        }
        None => {
            let hostname = system_hostname(ctx.host);
            if hostname == DEF_HOST {
                is_default = true;
            }
            let from_hosts = fqdn_from_hosts(ctx.host, &hostname);
            match from_hosts {
                Some(h) if h.find('.').is_some_and(|i| i > 0) => {
                    h.split('.').map(str::to_string).collect()
                }
                _ if hostname.find('.').is_some_and(|i| i > 0) => {
                    hostname.split('.').map(str::to_string).collect()
                }
                _ if !hostname.is_empty() => vec![hostname, DEF_DOMAIN.into()],
                _ => vec![DEF_HOST.into(), DEF_DOMAIN.into()],
            }
        }
    };
    let (host, domain) = match toks.split_first() {
        Some((h, rest)) if !rest.is_empty() => (h.clone(), rest.join(".")),
        Some((h, _)) => (h.clone(), DEF_DOMAIN.to_string()),
        None => (String::new(), DEF_DOMAIN.to_string()),
    };
    if fqdn && domain != DEF_DOMAIN {
        (format!("{host}.{domain}"), is_default)
    } else {
        (host, is_default)
    }
}

/// The machine's current hostname (`socket.gethostname()` upstream). On a
/// `--root` target the kernel's name belongs to another machine, so the
/// target's `/etc/hostname` stands in for it.
pub(crate) fn system_hostname(host: &Host) -> String {
    if let Ok(s) = host.read_to_string("/proc/sys/kernel/hostname") {
        let s = s.trim();
        if !s.is_empty() {
            return s.to_string();
        }
    }
    if host.is_sandbox() {
        if let Some(h) = read_hostname_file(host, "/etc/hostname") {
            return h;
        }
    }
    DEF_HOST.to_string()
}

/// Upstream's `util.get_fqdn_from_hosts`: the canonical name of the first
/// `/etc/hosts` line that lists `hostname` as an alias.
pub(crate) fn fqdn_from_hosts(host: &Host, hostname: &str) -> Option<String> {
    let text = host.read_to_string("/etc/hosts").ok()?;
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        let toks: Vec<&str> = line.split_whitespace().collect();
        if toks.len() < 3 {
            continue;
        }
        if toks[2..].contains(&hostname) {
            return Some(toks[1].to_string());
        }
    }
    None
}

/// `/etc/hostname` as upstream's `HostnameConf` reads and rewrites it:
/// blank and comment lines are kept, the hostname line keeps its trailing
/// comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostnameConf {
    lines: Vec<Line>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    Verbatim(String),
    Hostname { name: String, tail: String },
}

impl HostnameConf {
    /// `Err` when the file names more than one hostname (upstream raises).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut lines = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for line in text.lines() {
            let stripped = line.trim();
            if stripped.is_empty() {
                lines.push(Line::Verbatim(line.to_string()));
                continue;
            }
            let (head, tail) = match stripped.find('#') {
                Some(i) => (&stripped[..i], &stripped[i..]),
                None => (stripped, ""),
            };
            if head.is_empty() {
                lines.push(Line::Verbatim(line.to_string()));
                continue;
            }
            if !names.iter().any(|n| n == head) {
                names.push(head.to_string());
            }
            lines.push(Line::Hostname {
                name: head.to_string(),
                tail: tail.to_string(),
            });
        }
        if names.len() > 1 {
            return Err(format!("Multiple hostnames ({}) found!", names.join(", ")));
        }
        Ok(HostnameConf { lines })
    }

    pub fn hostname(&self) -> Option<&str> {
        self.lines.iter().find_map(|l| match l {
            Line::Hostname { name, .. } => Some(name.as_str()),
            Line::Verbatim(_) => None,
        })
    }

    pub fn set_hostname(&mut self, new: &str) {
        let new = new.trim();
        if new.is_empty() {
            return;
        }
        let mut replaced = false;
        for l in &mut self.lines {
            if let Line::Hostname { name, .. } = l {
                *name = new.to_string();
                replaced = true;
            }
        }
        if !replaced {
            self.lines.push(Line::Hostname {
                name: new.to_string(),
                tail: String::new(),
            });
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            match l {
                Line::Verbatim(s) => out.push_str(s),
                Line::Hostname { name, tail } => {
                    out.push_str(name);
                    out.push_str(tail);
                }
            }
            out.push('\n');
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out
    }
}

/// The hostname in a `HostnameConf`-style file; `None` when missing,
/// unreadable, ambiguous or empty.
pub(crate) fn read_hostname_file(host: &Host, path: &str) -> Option<String> {
    let text = host.read_to_string(path).ok()?;
    let conf = HostnameConf::parse(&text).ok()?;
    conf.hostname()
        .filter(|h| !h.is_empty())
        .map(str::to_string)
}

/// Effective distro options for one run: the module's keys win over
/// `system_info`, as upstream's `distro.set_option`.
pub(crate) struct HostOpts {
    pub prefer_fqdn: bool,
    pub create_hostname_file: bool,
}

impl HostOpts {
    pub fn from_ctx(ctx: &Ctx) -> Self {
        let si = &ctx.distro.system_info;
        // rhel.Distro (and its children), photon, mariner and FreeBSD
        // prefer the fqdn unless told otherwise.
        let class_prefer = matches!(ctx.distro.family, Family::RedHat | Family::FreeBsd);
        let prefer_fqdn = cfg_bool_opt(ctx.cfg, "prefer_fqdn_over_hostname")
            .or_else(|| cfg_bool_opt(si, "prefer_fqdn_over_hostname"))
            .unwrap_or(class_prefer);
        let create_hostname_file = cfg_bool_opt(ctx.cfg, "create_hostname_file")
            .or_else(|| cfg_bool_opt(si, "create_hostname_file"))
            .unwrap_or(true);
        HostOpts {
            prefer_fqdn,
            create_hostname_file,
        }
    }

    /// Upstream's `_select_hostname`.
    pub fn select<'a>(&self, hostname: &'a str, fqdn: &'a str) -> &'a str {
        if self.prefer_fqdn && !fqdn.is_empty() {
            return fqdn;
        }
        if hostname.is_empty() {
            return fqdn;
        }
        hostname
    }
}

/// How the target's hostname is stored, by family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Store {
    /// A `HostnameConf` file (`/etc/hostname`, SUSE's `/etc/HOSTNAME`).
    File(String),
    /// `hostnamectl` on a running systemd machine (RHEL, SUSE).
    Hostnamectl,
    /// `HOSTNAME=` in `/etc/sysconfig/network` (RHEL without systemd).
    Sysconfig(String),
    /// The bare name, no newline: SUSE's `previous-hostname` under systemd.
    Bare(String),
    /// OpenRC's `/etc/conf.d/hostname` (Gentoo without systemd): a
    /// `HostnameConf` whose name is the line `hostname="<name>"`, read back
    /// whole, as upstream does.
    ConfD(String),
    /// `hostname=` in the BSDs' `/etc/rc.conf`, which also stands in for
    /// `previous-hostname` (upstream ignores the file it is given).
    RcConf,
}

impl Store {
    /// The file upstream names in its messages.
    pub fn file(&self) -> &str {
        match self {
            Store::File(p) | Store::Sysconfig(p) | Store::Bare(p) | Store::ConfD(p) => p,
            Store::Hostnamectl => "/etc/hostname",
            Store::RcConf => crate::bsd_rc::RC_CONF,
        }
    }

    /// Where `previous-hostname` is kept on this family: the same format
    /// as the system file, except that systemd machines use a plain file
    /// (SUSE's holds the bare name).
    pub fn previous(&self, path: &str, family: Family) -> Store {
        match self {
            Store::Sysconfig(_) => Store::Sysconfig(path.to_string()),
            Store::ConfD(_) => Store::ConfD(path.to_string()),
            Store::RcConf => Store::RcConf,
            Store::Hostnamectl if family == Family::Suse => Store::Bare(path.to_string()),
            _ => Store::File(path.to_string()),
        }
    }
}

/// True when the target runs systemd: upstream's test, `/run/systemd/system`
/// is a directory. A `--root` target is judged the same way, as upstream
/// judges a chroot (an image root has no `/run/systemd/system`, so it gets
/// the files a machine without systemd reads).
pub(crate) fn uses_systemd(host: &Host) -> bool {
    host.is_dir("/run/systemd/system")
}

pub(crate) fn system_store(ctx: &Ctx) -> Result<Store, ModuleError> {
    let systemd = uses_systemd(ctx.host);
    Ok(match ctx.distro.family {
        // hostnamectl would rename this machine: without --machine-commands a
        // --root target gets the file it writes instead.
        Family::RedHat if systemd && !ctx.host.runs_machine_commands() => {
            Store::File("/etc/hostname".into())
        }
        Family::RedHat if systemd => Store::Hostnamectl,
        Family::RedHat => Store::Sysconfig("/etc/sysconfig/network".into()),
        Family::Suse if systemd && !ctx.host.runs_machine_commands() => {
            Store::File("/etc/hostname".into())
        }
        Family::Suse if systemd => Store::Hostnamectl,
        Family::Suse => Store::File("/etc/HOSTNAME".into()),
        Family::Gentoo if !systemd => Store::ConfD("/etc/conf.d/hostname".into()),
        Family::FreeBsd | Family::OpenBsd | Family::NetBsd => Store::RcConf,
        _ => Store::File("/etc/hostname".into()),
    })
}

/// The name a store holds now (upstream's `_read_hostname`).
pub(crate) fn read_store(ctx: &Ctx, store: &Store) -> Option<String> {
    match store {
        Store::File(p) | Store::Bare(p) | Store::ConfD(p) => read_hostname_file(ctx.host, p),
        // This machine's kernel name is not a --root target's.
        Store::Hostnamectl if ctx.host.is_sandbox() => Some(system_hostname(ctx.host)),
        Store::Hostnamectl => ctx
            .host
            .run(&Cmd::new(["hostname"]))
            .ok()
            .map(|o| o.stdout_str().trim().to_string())
            .filter(|s| !s.is_empty()),
        Store::Sysconfig(p) => crate::sysconfig::read_key(ctx.host, p, "HOSTNAME"),
        Store::RcConf => crate::bsd_rc::get(ctx.host, "hostname").ok().flatten(),
    }
}

/// Write `hostname` into a `HostnameConf` file as upstream's
/// `_write_hostname` (an unreadable or ambiguous file is started afresh).
pub(crate) fn write_hostname_file(
    host: &Host,
    path: &str,
    hostname: &str,
    create: bool,
) -> ModResult {
    let conf = match host.read_to_string(path) {
        Ok(t) => HostnameConf::parse(&t).ok(),
        Err(_) => None,
    };
    let mut conf = match conf {
        Some(c) => c,
        None if !create => {
            log::info!("create_hostname_file is False; hostname file not created");
            return Ok(());
        }
        None => HostnameConf { lines: Vec::new() },
    };
    conf.set_hostname(hostname);
    host.write_atomic(path, conf.render().as_bytes(), &WriteOpts::mode(0o644))?;
    Ok(())
}

/// Persist `hostname` in the family's store.
pub(crate) fn write_store(ctx: &Ctx, store: &Store, hostname: &str, opts: &HostOpts) -> ModResult {
    match store {
        Store::File(p) => write_hostname_file(ctx.host, p, hostname, opts.create_hostname_file),
        Store::ConfD(p) => write_hostname_file(
            ctx.host,
            p,
            &format!("hostname=\"{hostname}\""),
            opts.create_hostname_file,
        ),
        Store::RcConf => crate::bsd_rc::set(ctx.host, "hostname", hostname),
        Store::Bare(p) => {
            ctx.host
                .write_atomic(p, hostname.as_bytes(), &WriteOpts::mode(0o644))?;
            Ok(())
        }
        Store::Hostnamectl => {
            if opts.create_hostname_file {
                ctx.host
                    .run(&Cmd::new(["hostnamectl", "set-hostname", hostname]).in_target())?;
            } else {
                ctx.host.run(
                    &Cmd::new(["hostnamectl", "set-hostname", "--transient", hostname]).in_target(),
                )?;
                log::info!("create_hostname_file is False; hostname set transiently");
            }
            Ok(())
        }
        Store::Sysconfig(p) => {
            crate::sysconfig::update(ctx.host, p, "HOSTNAME", hostname, ctx.version)?;
            Ok(())
        }
    }
}

/// Set the running kernel's hostname (upstream's `_apply_hostname`); a
/// failure is logged, not raised. Skipped on a `--root` target.
pub(crate) fn apply_hostname(ctx: &Ctx, hostname: &str) {
    // Arch asks hostnamed, which --machine-commands lets run in the target;
    // `hostname` would rename the kernel this process runs on, so a --root
    // target never gets it.
    let arch_in_target = ctx.distro.family == Family::Arch && ctx.host.runs_machine_commands();
    if ctx.host.is_sandbox() && !arch_in_target {
        log::info!(
            "Non-persistently setting the system hostname to {hostname} skipped for --root {}",
            ctx.host.root().display()
        );
        return;
    }
    log::debug!("Non-persistently setting the system hostname to {hostname}");
    let cmd = match ctx.distro.family {
        Family::Arch => {
            Cmd::new(["hostnamectl", "--transient", "set-hostname", hostname]).in_target()
        }
        _ => Cmd::new(["hostname", hostname]),
    };
    if let Err(e) = ctx.host.run(&cmd) {
        log::warn!("Failed to non-persistently adjust the system hostname to {hostname}");
        log::debug!("{e}");
    }
}

/// Upstream's `distro.set_hostname`.
pub(crate) fn set_hostname(ctx: &Ctx, hostname: &str, fqdn: &str, opts: &HostOpts) -> ModResult {
    let name = opts.select(hostname, fqdn).to_string();
    let store = system_store(ctx)?;
    write_store(ctx, &store, &name, opts)?;
    apply_hostname(ctx, &name);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_conf_keeps_comments_and_tail() {
        let mut c = HostnameConf::parse("# managed\n\nold # keep\n").unwrap();
        assert_eq!(c.hostname(), Some("old "));
        c.set_hostname("new");
        assert_eq!(c.render(), "# managed\n\nnew# keep\n");
        let mut e = HostnameConf::parse("").unwrap();
        e.set_hostname(" h1 ");
        assert_eq!(e.render(), "h1\n");
        assert!(HostnameConf::parse("a\nb\n").is_err());
    }
}
