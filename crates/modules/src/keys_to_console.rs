//! `keys_to_console`: the host key fingerprints and keys block on the
//! console (what upstream's `write-ssh-key-fingerprints` prints), computed
//! here instead of by a shell helper.

use crate::{Ctx, ModResult};
use base64::Engine;
use ci_host::{Cmd, Host};
use ci_pyval::{is_false, py_str};
use log::debug;
use serde_json::Value;
use std::io::Write;

fn read_u32(b: &[u8], pos: &mut usize) -> Option<usize> {
    let s = b.get(*pos..*pos + 4)?;
    *pos += 4;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize)
}

fn read_string<'a>(b: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let n = read_u32(b, pos)?;
    let s = b.get(*pos..*pos + n)?;
    *pos += n;
    Some(s)
}

fn mpint_bits(m: &[u8]) -> usize {
    let m: Vec<u8> = m.iter().copied().skip_while(|b| *b == 0).collect();
    match m.first() {
        None => 0,
        Some(f) => (m.len() - 1) * 8 + (8 - f.leading_zeros() as usize),
    }
}

/// Key size and type label as `ssh-keygen -l` prints them.
fn bits_and_label(blob: &[u8]) -> Option<(usize, &'static str)> {
    let mut pos = 0;
    let ktype = read_string(blob, &mut pos)?;
    match ktype {
        b"ssh-rsa" => {
            read_string(blob, &mut pos)?;
            Some((mpint_bits(read_string(blob, &mut pos)?), "RSA"))
        }
        b"ssh-dss" => Some((mpint_bits(read_string(blob, &mut pos)?), "DSA")),
        b"ecdsa-sha2-nistp256" => Some((256, "ECDSA")),
        b"ecdsa-sha2-nistp384" => Some((384, "ECDSA")),
        b"ecdsa-sha2-nistp521" => Some((521, "ECDSA")),
        b"ssh-ed25519" => Some((256, "ED25519")),
        b"sk-ecdsa-sha2-nistp256@openssh.com" => Some((256, "ECDSA-SK")),
        b"sk-ssh-ed25519@openssh.com" => Some((256, "ED25519-SK")),
        _ => None,
    }
}

/// The `ssh-keygen -l -f FILE` line for a public key file's content.
fn fingerprint_line(host: &Host, path: &str, content: &str) -> String {
    let mut it = content.split_whitespace();
    let _ktype = it.next();
    let b64 = it.next().unwrap_or("");
    let comment: Vec<&str> = it.collect();
    let comment = if comment.is_empty() {
        "no comment".to_string()
    } else {
        comment.join(" ")
    };
    let blob = base64::engine::general_purpose::STANDARD.decode(b64).ok();
    if let Some((bits, label)) = blob.as_deref().and_then(bits_and_label) {
        let fp = base64::engine::general_purpose::STANDARD_NO_PAD.encode(ci_pyval::digest::sha256(
            blob.as_deref().unwrap_or_default(),
        ));
        return format!("{bits} SHA256:{fp} {comment} ({label})");
    }
    // A type we do not know: ask the machine's ssh-keygen.
    let f = host.resolve(path).to_string_lossy().into_owned();
    host.run(&Cmd::new(["ssh-keygen", "-l", "-f", f.as_str()]))
        .map(|o| o.stdout_str().trim().to_string())
        .unwrap_or_else(|e| e.to_string())
}

/// `<14>Mon dd HH:MM:SS cloud-init: ` as `logger -s -t cloud-init` prints it.
fn syslog_prefix() -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let tm = ci_state::timefmt::gmtime(ci_state::timefmt::now_epoch() as i64);
    let mon = MONTHS
        .get(tm.month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("Jan");
    format!(
        "<14>{mon} {:>2} {:02}:{:02}:{:02} cloud-init: ",
        tm.day, tm.hour, tm.min, tm.sec
    )
}

fn list(v: Option<&Value>) -> Vec<String> {
    match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().map(py_str).collect(),
        Some(other) => vec![py_str(other)],
    }
}

/// The block for the host keys under `/etc/ssh`, with blacklisted types left out.
pub fn render(
    host: &Host,
    fp_blacklist: &[String],
    key_blacklist: &[String],
    prefix: &str,
) -> String {
    let keys: Vec<(String, String)> = host
        .list_dir("/etc/ssh")
        .into_iter()
        .filter(|n| n.starts_with("ssh_host_") && n.ends_with("key.pub"))
        .map(|n| format!("/etc/ssh/{n}"))
        .filter(|p| host.resolve(p).is_file())
        .filter_map(|p| host.read_to_string(&p).ok().map(|c| (p, c)))
        .collect();
    let ktype = |c: &str| {
        c.lines()
            .next()
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or("")
            .to_string()
    };
    let mut out = String::new();
    let fps: Vec<&(String, String)> = keys
        .iter()
        .filter(|(_, c)| !fp_blacklist.contains(&ktype(c)))
        .collect();
    if !fps.is_empty() {
        let bar = "#".repeat(61);
        out.push_str(&format!(
            "{prefix}{bar}\n{prefix}-----BEGIN SSH HOST KEY FINGERPRINTS-----\n"
        ));
        for (p, c) in &fps {
            out.push_str(&format!("{prefix}{}\n", fingerprint_line(host, p, c)));
        }
        out.push_str(&format!(
            "{prefix}-----END SSH HOST KEY FINGERPRINTS-----\n{prefix}{bar}\n"
        ));
    }
    let shown: Vec<&(String, String)> = keys
        .iter()
        .filter(|(_, c)| !key_blacklist.contains(&ktype(c)))
        .collect();
    if !shown.is_empty() {
        out.push_str("-----BEGIN SSH HOST KEY KEYS-----\n");
        for (_, c) in shown {
            out.push_str(c);
            if !c.ends_with('\n') {
                out.push('\n');
            }
        }
        out.push_str("-----END SSH HOST KEY KEYS-----\n");
    }
    out
}

pub fn handle(ctx: &Ctx) -> ModResult {
    let emit = ctx.get("ssh").and_then(|s| s.get("emit_keys_to_console"));
    if emit.is_some_and(is_false) {
        debug!(
            "Skipping module named {}, logging of SSH host keys disabled",
            ctx.name
        );
        return Ok(());
    }
    let text = render(
        ctx.host,
        &list(ctx.get("ssh_fp_console_blacklist")),
        &list(ctx.get("ssh_key_console_blacklist")),
        &syslog_prefix(),
    );
    let text = format!("{}\n", text.trim());
    debug!("{}", text.trim_end());
    let mut err = std::io::stderr();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ci_host::WriteOpts;

    #[test]
    fn renders_block_with_blacklists() {
        let d = tempfile::tempdir().unwrap();
        let h = Host::new(d.path());
        // A real ed25519 public key and its fingerprint from `ssh-keygen -l`.
        let ed = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl root@test\n";
        h.write_atomic(
            "/etc/ssh/ssh_host_ed25519_key.pub",
            ed.as_bytes(),
            &WriteOpts::default(),
        )
        .unwrap();
        h.write_atomic(
            "/etc/ssh/ssh_host_ed25519_key",
            b"secret",
            &WriteOpts::mode(0o600),
        )
        .unwrap();
        let out = render(&h, &[], &[], "P: ");
        assert!(out.starts_with("P: #############################################################\nP: -----BEGIN SSH HOST KEY FINGERPRINTS-----\nP: 256 SHA256:"));
        assert!(out.contains(" root@test (ED25519)\nP: -----END SSH HOST KEY FINGERPRINTS-----\n"));
        assert!(out.ends_with(&format!(
            "-----BEGIN SSH HOST KEY KEYS-----\n{ed}-----END SSH HOST KEY KEYS-----\n"
        )));
        let out = render(&h, &["ssh-ed25519".into()], &["ssh-ed25519".into()], "P: ");
        assert_eq!(out, "");
    }
}
