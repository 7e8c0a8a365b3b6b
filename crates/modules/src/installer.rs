//! Installer scripts fetched over HTTP and run in the target, as puppet's
//! `aio` install and chef's omnibus install do: upstream's `readurl` with
//! retries (and the errors Python's requests raises), then the script
//! written to a fresh directory under the target's executable temp dir and
//! run from there.

use crate::{Ctx, ModResult, ModuleError};
use ci_host::{Cmd, WriteOpts};
use ci_pyval::py_quote;
use std::time::Duration;

/// Upstream's executable temp dir (`temp_utils`' `_EXE_ROOT_TMPDIR`).
const EXE_TMPDIR: &str = "/var/tmp/cloud-init";

/// `url_helper.readurl(url, retries=retries)`: `retries + 1` attempts,
/// `pause` apart. The error is upstream's `UrlError` text.
pub(crate) fn readurl(url: &str, retries: u32, pause: Duration) -> Result<Vec<u8>, ModuleError> {
    let url = clean_url(url);
    let tries = retries + 1;
    let mut last = String::new();
    for attempt in 0..tries {
        log::debug!("[{attempt}/{tries}] open '{url}' with GET configuration");
        match fetch_once(&url) {
            Ok(body) => {
                log::debug!(
                    "Read from {url} (200, {}b) after {} attempts",
                    body.len(),
                    attempt + 1
                );
                return Ok(body);
            }
            Err(e) => last = e,
        }
        log::debug!("{last}");
        if attempt + 1 < tries && !pause.is_zero() {
            log::debug!(
                "Please wait {} seconds while we wait to try again",
                pause.as_secs()
            );
            std::thread::sleep(pause);
        }
    }
    Err(ModuleError::with_class("UrlError", last))
}

/// Upstream's `_cleanurl`: a URL without a scheme is taken as `http`, and
/// a bare host given as a path moves to the host part.
fn clean_url(url: &str) -> String {
    let has_scheme = url.split_once(':').is_some_and(|(s, _)| {
        let mut c = s.chars();
        c.next().is_some_and(|f| f.is_ascii_alphabetic())
            && c.all(|x| x.is_ascii_alphanumeric() || matches!(x, '+' | '-' | '.'))
    });
    if has_scheme {
        return url.to_string();
    }
    match url.strip_prefix("//") {
        Some(rest) => format!("http://{rest}"),
        None if !url.is_empty() => format!("http://{url}"),
        None => "http:".to_string(),
    }
}

/// One GET, with the messages Python's requests gives for what it refuses
/// before connecting.
fn fetch_once(url: &str) -> Result<Vec<u8>, String> {
    let lower = url.to_ascii_lowercase();
    if !lower.starts_with("http://") && !lower.starts_with("https://") {
        return Err(format!(
            "No connection adapters were found for {}",
            py_quote(url)
        ));
    }
    let after = &url[url.find("://").map(|i| i + 3).unwrap_or(url.len())..];
    let host = after.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() {
        return Err(format!("Invalid URL {}: No host supplied", py_quote(url)));
    }
    let agent = ci_http::agent(&ci_http::AgentOpts {
        user_agent: Some(ci_http::user_agent()),
        env_proxy: true,
        ..ci_http::AgentOpts::default()
    });
    let mut resp = agent.get(url).call().map_err(|e| ci_http::error_text(&e))?;
    let code = resp.status().as_u16();
    if code >= 400 {
        let reason = resp.status().canonical_reason().unwrap_or("");
        return Err(format!(
            "{code} {}: {reason} for url: {url}",
            ci_http::status::error_class(code)
        ));
    }
    resp.body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .map_err(|e| ci_http::error_text(&e))
}

/// Upstream's tempdir-and-run: `blob` becomes `<tmpdir>/<basename>` (mode
/// 0700) in a new directory under the executable temp dir, runs with
/// `args` and its output passed on, and the directory is removed again.
pub(crate) fn run_blob(ctx: &Ctx, blob: &[u8], basename: &str, args: &[String]) -> ModResult {
    let host = ctx.host;
    if !host.is_dir(EXE_TMPDIR) {
        host.create_dir_all(EXE_TMPDIR, 0o755)?;
        host.set_mode(EXE_TMPDIR, 0o1777)?;
    }
    let dir = format!("{EXE_TMPDIR}/tmp{}", unique_suffix());
    host.create_dir_all(&dir, 0o700)?;
    host.set_mode(&dir, 0o700)?;
    let script = format!("{dir}/{basename}");
    let result = host
        .write_atomic(&script, blob, &WriteOpts::mode(0o700))
        .map_err(ModuleError::from)
        .and_then(|()| {
            let mut argv = vec![script.clone()];
            argv.extend(args.iter().cloned());
            crate::pkg::run_uncaptured(ctx, &Cmd::new(argv).in_target())
        });
    if let Err(e) = host.remove_dir_all(&dir) {
        log::debug!("Failed to remove {dir}: {e}");
    }
    result
}

/// Eight characters for a directory name that nothing else picks.
fn unique_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mixed = nanos ^ (u128::from(std::process::id()) << 64);
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";
    (0..8)
        .map(|i| ALPHABET[((mixed >> (i * 5)) % ALPHABET.len() as u128) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_without_a_scheme_are_http() {
        assert_eq!(
            clean_url("127.0.0.1/install.sh"),
            "http://127.0.0.1/install.sh"
        );
        assert_eq!(clean_url("https://h/x"), "https://h/x");
        assert_eq!(clean_url("file:///srv/i.sh"), "file:///srv/i.sh");
    }
}
