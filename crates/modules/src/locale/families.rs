//! `apply_locale` of the families whose locale is not a sysconfig key or
//! Debian's `update-locale`: Arch, Alpine, Gentoo and the BSDs, as
//! upstream's distro classes do it.

use crate::{Ctx, ModResult, ModuleError};
use ci_host::{Cmd, WriteOpts};

const LOCALE_GEN: &str = "/etc/locale.gen";

fn header(ctx: &Ctx) -> String {
    format!(
        "# Created by cloud-init v. {} on {}",
        ctx.version,
        ci_state::timefmt::rfc2822(ci_state::timefmt::now_epoch())
    )
}

fn run(ctx: &Ctx, argv: &[&str]) -> ModResult {
    crate::runparts::run_passthrough(ctx.host, &Cmd::new(argv.iter().copied()).in_target())?;
    Ok(())
}

/// Arch: `/etc/locale.gen` holds only the requested locale (the charset is
/// always UTF-8), then `locale-gen` and `localectl set-locale`.
pub(super) fn arch(ctx: &Ctx, locale: &str, out_fn: Option<&str>) -> ModResult {
    if let Some(f) = out_fn.filter(|f| *f != "/etc/locale.conf") {
        log::warn!("Invalid locale_configfile {f}, only supported value is /etc/locale.conf");
    }
    let text = format!("{}\n{locale} UTF-8\n", header(ctx));
    ctx.host
        .write_atomic(LOCALE_GEN, text.as_bytes(), &WriteOpts::mode(0o644))?;
    run(ctx, &["locale-gen"])?;
    run(ctx, &["localectl", "set-locale", locale])
}

/// Alpine: musl reads `LANG` from a profile snippet.
pub(super) fn alpine(ctx: &Ctx, locale: &str, out_fn: Option<&str>) -> ModResult {
    let path = out_fn.unwrap_or("/etc/profile.d/50-cloud-init-locale.sh");
    let text = format!(
        "#\n# This file is created by cloud-init once per new instance boot\n#\n\
         export CHARSET=UTF-8\nexport LANG={locale}\nexport LC_COLLATE=C\n"
    );
    ctx.host
        .write_atomic(path, text.as_bytes(), &WriteOpts::mode(0o644))?;
    Ok(())
}

/// Gentoo: whatever was asked, upstream generates its two fixed locales and
/// selects `en_US.UTF-8`.
pub(super) fn gentoo(ctx: &Ctx) -> ModResult {
    // Upstream passes mode=644 in decimal (0o1204); ours is the 0644 meant.
    ctx.host.write_atomic(
        LOCALE_GEN,
        b"C.UTF8 UTF-8\nen_US.UTF-8 UTF-8",
        &WriteOpts::mode(0o644),
    )?;
    run(ctx, &["locale-gen"])?;
    run(ctx, &["eselect", "locale", "set", "en_US.UTF-8"])
}

/// FreeBSD: `lang=` on the `default:` class of `/etc/login.conf` (the old
/// file kept as `login.conf.orig`), then `cap_mkdb`; the backup goes back
/// when that fails.
pub(super) fn freebsd(ctx: &Ctx, locale: &str) -> ModResult {
    const CONF: &str = "/etc/login.conf";
    const BACKUP: &str = "/etc/login.conf.orig";
    let old = ctx.host.read_to_string(CONF).map_err(|e| {
        ModuleError::with_class(
            "FileNotFoundError",
            format!("[Errno 2] No such file or directory: '{CONF}' ({e})"),
        )
    })?;
    let mut new = String::new();
    for line in ci_pyval::splitlines(&old) {
        match line.strip_prefix("default:") {
            Some(rest) => new.push_str(&format!("default:lang={locale}:{rest}")),
            None => new.push_str(line),
        }
        new.push('\n');
    }
    ctx.host
        .write_atomic(BACKUP, old.as_bytes(), &WriteOpts::mode(0o644))?;
    ctx.host
        .write_atomic(CONF, new.as_bytes(), &WriteOpts::mode(0o644))?;
    log::debug!("Running cap_mkdb for {locale}");
    if let Err(e) = ctx.host.run(&Cmd::new(["cap_mkdb", CONF]).in_target()) {
        log::warn!("Failed to apply locale {locale}");
        log::debug!("{e}");
        ctx.host
            .write_atomic(CONF, old.as_bytes(), &WriteOpts::mode(0o644))?;
    }
    Ok(())
}
