//! Upstream's `ssh_util`: authorized_keys lines, where a user's keys live
//! (sshd_config `AuthorizedKeysFile`, with upstream's permission checks),
//! and sshd_config edits (the `sshd_config.d/50-cloud-init.conf` drop-in
//! when sshd_config includes that directory).

use ci_host::{Host, UserEntry, WriteOpts};
use log::debug;
use std::os::unix::fs::MetadataExt;

pub const DEF_SSHD_CFG: &str = "/etc/ssh/sshd_config";

/// `$USER` is the user to log in as, `$DISABLE_USER` the refused one.
pub const DISABLE_USER_OPTS: &str = "no-port-forwarding,no-agent-forwarding,no-X11-forwarding,command=\"echo 'Please login as the user \\\"$USER\\\" rather than the user \\\"$DISABLE_USER\\\".';echo;sleep 10;exit 142\"";

pub const VALID_KEY_TYPES: &[&str] = &[
    "rsa",
    "ecdsa",
    "ed25519",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "ssh-ed25519-cert-v01@openssh.com",
    "ssh-ed25519",
    "ssh-rsa-cert-v01@openssh.com",
    "ssh-rsa",
    "ssh-xmss-cert-v01@openssh.com",
    "ssh-xmss@openssh.com",
];

/// One authorized_keys line; `source` is kept for lines that are not keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthKeyLine {
    pub source: String,
    pub keytype: Option<String>,
    pub base64: Option<String>,
    pub comment: Option<String>,
    pub options: Option<String>,
}

impl AuthKeyLine {
    pub fn valid(&self) -> bool {
        self.base64.as_deref().is_some_and(|s| !s.is_empty())
            && self.keytype.as_deref().is_some_and(|s| !s.is_empty())
    }
}

impl std::fmt::Display for AuthKeyLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let toks: Vec<&str> = [&self.options, &self.keytype, &self.base64, &self.comment]
            .into_iter()
            .filter_map(|t| t.as_deref().filter(|s| !s.is_empty()))
            .collect();
        if toks.is_empty() {
            f.write_str(&self.source)
        } else {
            f.write_str(&toks.join(" "))
        }
    }
}

/// Split the leading options field (commas, quoted spaces allowed) from the rest.
fn extract_options(ent: &str) -> (String, String) {
    let chars: Vec<char> = ent.chars().collect();
    let mut quoted = false;
    let mut i = 0;
    while i < chars.len() && (quoted || !matches!(chars.get(i), Some(' ' | '\t'))) {
        let cur = chars.get(i).copied().unwrap_or(' ');
        let Some(&next) = chars.get(i + 1) else {
            i += 1;
            break;
        };
        if cur == '\\' && next == '"' {
            i += 1;
        } else if cur == '"' {
            quoted = !quoted;
        }
        i += 1;
    }
    let opts: String = chars.iter().take(i).collect();
    let rest: String = chars.iter().skip(i).collect();
    (opts, rest.trim_start().to_string())
}

fn split_key(ent: &str) -> Option<(String, String, String)> {
    let mut it = ent.splitn(2, char::is_whitespace);
    let t = it.next()?.to_string();
    let rest = it.next()?.trim_start();
    let mut it2 = rest.splitn(2, char::is_whitespace);
    let b = it2.next().filter(|s| !s.is_empty())?.to_string();
    let c = it2
        .next()
        .map(|s| s.trim_start().to_string())
        .unwrap_or_default();
    VALID_KEY_TYPES.contains(&t.as_str()).then_some((t, b, c))
}

/// Parse one line; `options` replaces the line's own options when given.
pub fn parse_key_line(src: &str, options: Option<&str>) -> AuthKeyLine {
    let line = src.trim_end_matches(['\r', '\n']);
    if line.starts_with('#') || line.trim().is_empty() {
        return AuthKeyLine {
            source: src.to_string(),
            ..Default::default()
        };
    }
    let ent = line.trim();
    let mut opts = options.map(str::to_string);
    let parsed = match split_key(ent) {
        Some(p) => Some(p),
        None => {
            let (keyopts, remain) = extract_options(ent);
            if opts.is_none() {
                opts = Some(keyopts);
            }
            split_key(&remain)
        }
    };
    match parsed {
        Some((t, b, c)) => AuthKeyLine {
            source: src.to_string(),
            keytype: Some(t),
            base64: Some(b),
            comment: Some(c),
            options: opts,
        },
        None => AuthKeyLine {
            source: src.to_string(),
            ..Default::default()
        },
    }
}

/// Old entries with new ones replacing same-blob keys, the rest appended.
pub fn update_authorized_keys(old: &[AuthKeyLine], keys: &[AuthKeyLine]) -> String {
    let mut to_add: Vec<&AuthKeyLine> = keys.iter().filter(|k| k.valid()).collect();
    let mut lines: Vec<String> = Vec::new();
    for ent in old {
        let mut ent = ent;
        if ent.valid() {
            for k in keys {
                if k.base64 == ent.base64 {
                    ent = k;
                    to_add.retain(|a| *a != k);
                }
            }
        }
        lines.push(ent.to_string());
    }
    lines.extend(to_add.iter().map(|k| k.to_string()));
    lines.push(String::new());
    lines.join("\n")
}

/// sshd_config line: keyword (case-insensitive) and value, or a verbatim line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshdLine {
    pub line: String,
    pub key: Option<String>,
    pub value: Option<String>,
}

impl SshdLine {
    pub fn lkey(&self) -> Option<String> {
        self.key.as_ref().map(|k| k.to_lowercase())
    }
}

impl std::fmt::Display for SshdLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.key {
            None => f.write_str(&self.line),
            Some(k) => match self.value.as_deref().filter(|v| !v.is_empty()) {
                Some(v) => write!(f, "{k} {v}"),
                None => f.write_str(k),
            },
        }
    }
}

pub fn parse_sshd_lines(text: &str) -> Vec<SshdLine> {
    let mut out = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            out.push(SshdLine {
                line: line.into(),
                key: None,
                value: None,
            });
            continue;
        }
        let kv = match line.split_once(char::is_whitespace) {
            Some((k, v)) => Some((k, v.trim_start())),
            None => line.split_once('='),
        };
        match kv {
            Some((k, v)) => out.push(SshdLine {
                line: line.into(),
                key: Some(k.into()),
                value: Some(v.into()),
            }),
            None => debug!("sshd_config: option \"{line}\" has no key/value pair, skipping it"),
        }
    }
    out
}

/// Keyword (lower case) → last value, from the main sshd_config only, as upstream.
pub fn sshd_config_map(host: &Host) -> Vec<(String, String)> {
    let text = host.read_to_string(DEF_SSHD_CFG).unwrap_or_default();
    let mut out: Vec<(String, String)> = Vec::new();
    for l in parse_sshd_lines(&text) {
        if let (Some(k), Some(v)) = (l.lkey(), l.value) {
            out.retain(|(x, _)| *x != k);
            out.push((k, v));
        }
    }
    out
}

fn includes_dconf(host: &Host) -> bool {
    let needle = format!("Include {DEF_SSHD_CFG}.d/*.conf");
    host.read_to_string(DEF_SSHD_CFG)
        .map(|t| t.lines().any(|l| l.starts_with(&needle)))
        .unwrap_or(false)
}

/// The file cloud-init edits: the 0600 drop-in when sshd_config includes
/// `sshd_config.d/*.conf`, else sshd_config itself.
pub fn cloud_init_sshd_file(host: &Host) -> std::io::Result<String> {
    if !includes_dconf(host) {
        return Ok(DEF_SSHD_CFG.into());
    }
    let dir = format!("{DEF_SSHD_CFG}.d");
    host.create_dir_all(&dir, 0o755)?;
    let f = format!("{dir}/50-cloud-init.conf");
    if !host.exists(&f) {
        host.write_atomic(&f, b"", &WriteOpts::mode(0o600))?;
    }
    Ok(f)
}

/// Rewrite `path` keeping its mode and owner (upstream's `preserve_mode`).
pub fn write_preserving(
    host: &Host,
    path: &str,
    data: &[u8],
    default_mode: u32,
) -> std::io::Result<()> {
    let opts = match std::fs::metadata(host.resolve(path)) {
        Ok(m) => WriteOpts::mode(m.mode() & 0o7777).owner(Some(m.uid()), Some(m.gid())),
        Err(_) => WriteOpts::mode(default_mode),
    };
    host.write_atomic(path, data, &opts)
}

/// Set `updates` (keyword, value) in the cloud-init sshd file; true if it changed.
pub fn update_ssh_config(host: &Host, updates: &[(&str, &str)]) -> std::io::Result<bool> {
    let fname = cloud_init_sshd_file(host)?;
    let text = host.read_to_string(&fname).unwrap_or_default();
    let mut lines = parse_sshd_lines(&text);
    let mut found: Vec<&str> = Vec::new();
    let mut changed: Vec<&str> = Vec::new();
    for (i, line) in lines.iter_mut().enumerate() {
        let Some(lk) = line.lkey() else { continue };
        if let Some((key, value)) = updates.iter().find(|(k, _)| k.to_lowercase() == lk) {
            found.push(key);
            if line.value.as_deref() == Some(*value) {
                debug!("line {}: option {key} already set to {value}", i + 1);
            } else {
                changed.push(key);
                debug!(
                    "line {}: option {key} updated {} -> {value}",
                    i + 1,
                    line.value.as_deref().unwrap_or("None")
                );
                line.value = Some(value.to_string());
            }
        }
    }
    for (key, value) in updates {
        if found.contains(key) {
            continue;
        }
        changed.push(key);
        lines.push(SshdLine {
            line: String::new(),
            key: Some(key.to_string()),
            value: Some(value.to_string()),
        });
        debug!("line {}: option {key} added with {value}", lines.len());
    }
    if !changed.is_empty() {
        let body: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        write_preserving(host, &fname, (body.join("\n") + "\n").as_bytes(), 0o644)?;
    }
    Ok(!changed.is_empty())
}

/// Append `Keyword value` lines to the cloud-init sshd file.
pub fn append_ssh_config(host: &Host, lines: &[(String, String)]) -> std::io::Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let fname = cloud_init_sshd_file(host)?;
    let body: Vec<String> = lines.iter().map(|(k, v)| format!("{k} {v}")).collect();
    host.append(
        &fname,
        (body.join("\n") + "\n").as_bytes(),
        &WriteOpts::mode(0o644),
    )
}

fn user_entry(host: &Host, name: &str) -> Result<UserEntry, String> {
    host.user(name)
        .filter(|u| !u.home.is_empty())
        .ok_or_else(|| format!("Unable to get SSH info for user '{name}'"))
}

/// `AuthorizedKeysFile` value with `%h`, `%u`, `%%` expanded; relative paths under home.
pub fn render_authorized_keys_paths(value: &str, home: &str, user: &str) -> Vec<String> {
    let value = if value.is_empty() {
        "%h/.ssh/authorized_keys"
    } else {
        value
    };
    value
        .split_whitespace()
        .map(|p| {
            let p = p.replace("%h", home).replace("%u", user).replace("%%", "%");
            if p.starts_with('/') {
                p
            } else {
                format!("{}/{p}", home.trim_end_matches('/'))
            }
        })
        .collect()
}

fn owner_name(host: &Host, uid: u32) -> String {
    host.users()
        .into_iter()
        .find(|u| u.uid == uid)
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

fn group_name(host: &Host, gid: u32) -> String {
    host.groups()
        .into_iter()
        .find(|g| g.gid == gid)
        .map(|g| g.name)
        .unwrap_or_else(|| gid.to_string())
}

fn check_permissions(
    host: &Host,
    user: &UserEntry,
    current: &str,
    full: &str,
    is_file: bool,
    strict: bool,
) -> bool {
    let Ok(md) = std::fs::metadata(host.resolve(current)) else {
        return false;
    };
    let mut minimal = if is_file { 0o644 } else { 0o711 };
    let owner = owner_name(host, md.uid());
    if strict && owner != user.name && owner != "root" {
        debug!(
            "Path {current} in {full} must be own by user {} or by root, but instead is own by {owner}. Ignoring key.",
            user.name
        );
        return false;
    }
    let perm = md.mode() & 0o7777;
    if owner == user.name {
        minimal &= 0o700;
    } else {
        let grp = group_name(host, md.gid());
        let primary = group_name(host, user.gid);
        let member = grp == primary
            || host
                .group(&grp)
                .is_some_and(|g| g.members.contains(&user.name));
        minimal &= if member { 0o070 } else { 0o007 };
    }
    if perm & minimal == 0 {
        debug!(
            "Path {current} in {full} must be accessible by user {}, check its permissions",
            user.name
        );
        return false;
    }
    if strict && perm & 0o022 != 0 {
        debug!("Path {current} in {full} must not give writepermission to group or world users. Ignoring key.");
        return false;
    }
    true
}

fn check_create_path(
    host: &Host,
    user: &UserEntry,
    filename: &str,
    strict: bool,
) -> Result<bool, String> {
    let root = user_entry(host, "root")?;
    let parts: Vec<&str> = filename.split('/').collect();
    let dirs = parts.get(1..parts.len().saturating_sub(1)).unwrap_or(&[]);
    let home_parent = std::path::Path::new(&user.home)
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut parent = String::new();
    for d in dirs {
        parent.push('/');
        parent.push_str(d);
        let p = host.path(&parent);
        if p.is_symlink() {
            debug!("Invalid directory. Symlink exists in path: {parent}");
            return Ok(false);
        }
        if p.is_file() {
            debug!("Invalid directory. File exists in path: {parent}");
            return Ok(false);
        }
        if home_parent.starts_with(&parent) || parent == user.home {
            continue;
        }
        if !p.exists() {
            let (mode, uid, gid) = if parent.starts_with(&user.home) {
                (0o700, user.uid, user.gid)
            } else {
                (0o755, root.uid, root.gid)
            };
            host.create_dir_all(&parent, mode)
                .map_err(|e| e.to_string())?;
            host.chown(&parent, Some(uid), Some(gid))
                .map_err(|e| e.to_string())?;
        }
        if !check_permissions(host, user, &parent, filename, false, strict) {
            return Ok(false);
        }
    }
    let f = host.path(filename);
    if f.is_symlink() || f.is_dir() {
        debug!("{filename} is not a file!");
        return Ok(false);
    }
    if !f.exists() {
        host.write_atomic(
            filename,
            b"",
            &WriteOpts::mode(0o600).owner(Some(user.uid), Some(user.gid)),
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(check_permissions(
        host, user, filename, filename, true, strict,
    ))
}

/// The user's authorized_keys file (honouring `AuthorizedKeysFile`) and its entries.
pub fn extract_authorized_keys(
    host: &Host,
    username: &str,
) -> Result<(String, Vec<AuthKeyLine>), String> {
    let user = user_entry(host, username)?;
    let default_file = format!("{}/.ssh/authorized_keys", user.home.trim_end_matches('/'));
    let map = sshd_config_map(host);
    let get = |k: &str| map.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
    let key_paths = get("authorizedkeysfile").unwrap_or_else(|| "%h/.ssh/authorized_keys".into());
    let strict = get("strictmodes").unwrap_or_else(|| "yes".into()) == "yes";
    let rendered = render_authorized_keys_paths(&key_paths, &user.home, username);
    let mut chosen = default_file.clone();
    let home_prefix = format!("{}/", user.home);
    for (spec, path) in key_paths.split_whitespace().zip(rendered.iter()) {
        if spec.contains("%u") || spec.contains("%h") || path.starts_with(&home_prefix) {
            match check_create_path(host, &user, path, strict) {
                Ok(true) => {
                    chosen = path.clone();
                    break;
                }
                Ok(false) => {}
                Err(e) => log::warn!("{e}"),
            }
        }
    }
    if chosen != default_file {
        debug!("AuthorizedKeysFile has an user-specific authorized_keys, using {chosen}");
    }
    let entries = match host.read_to_string(&chosen) {
        Ok(t) => t.lines().map(|l| parse_key_line(l, None)).collect(),
        Err(_) => Vec::new(),
    };
    Ok((chosen, entries))
}

/// Install `keys` for `username` (with `options` replacing their own options).
pub fn setup_user_keys(
    host: &Host,
    keys: &[String],
    username: &str,
    options: Option<&str>,
) -> Result<(), String> {
    let new: Vec<AuthKeyLine> = keys.iter().map(|k| parse_key_line(k, options)).collect();
    let (path, old) = extract_authorized_keys(host, username)?;
    let content = update_authorized_keys(&old, &new);
    write_preserving(host, &path, content.as_bytes(), 0o644).map_err(|e| e.to_string())
}

/// Keys deduplicated in order (upstream uses a set; its order is arbitrary).
pub fn dedup(keys: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for k in keys {
        if !out.contains(&k) {
            out.push(k);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_like_upstream() {
        let l = parse_key_line("ssh-rsa AAAA c o m", None);
        assert_eq!(l.keytype.as_deref(), Some("ssh-rsa"));
        assert_eq!(l.comment.as_deref(), Some("c o m"));
        let l = parse_key_line("no-pty,command=\"echo a b\" ssh-ed25519 BBBB x", None);
        assert_eq!(l.options.as_deref(), Some("no-pty,command=\"echo a b\""));
        assert_eq!(l.base64.as_deref(), Some("BBBB"));
        let l = parse_key_line("no-pty ssh-ed25519 BBBB", Some("opt"));
        assert_eq!(l.to_string(), "opt ssh-ed25519 BBBB");
        let l = parse_key_line("garbage", None);
        assert!(!l.valid());
        assert_eq!(l.to_string(), "garbage");
        let old = vec![
            parse_key_line("# c", None),
            parse_key_line("ssh-rsa AAAA old", None),
        ];
        let new = vec![
            parse_key_line("ssh-rsa AAAA new", None),
            parse_key_line("ssh-ed25519 BBBB", None),
        ];
        assert_eq!(
            update_authorized_keys(&old, &new),
            "# c\nssh-rsa AAAA new\nssh-ed25519 BBBB\n"
        );
    }

    #[test]
    fn sshd_lines_round_trip() {
        let l = parse_sshd_lines("# x\nPasswordAuthentication no\nFoo=bar\nLonely\n");
        assert_eq!(l.len(), 3);
        assert_eq!(l[1].lkey().as_deref(), Some("passwordauthentication"));
        assert_eq!(l[2].to_string(), "Foo bar");
        assert_eq!(
            render_authorized_keys_paths(".ssh/authorized_keys /etc/keys/%u %%h", "/home/b", "b"),
            [
                "/home/b/.ssh/authorized_keys",
                "/etc/keys/b",
                "/home/b/%/home/b"
            ]
        );
    }
}
