//! What `collect-logs --redact-sensitive` scrubs from the files it does
//! collect (ours, on top of upstream's dropping of files that are not
//! world-readable): the secret values the instance was given, found in its
//! cloud-config and instance data, replaced wherever they occur verbatim.

use ci_host::Host;
use serde_json::Value;
use std::collections::BTreeMap;

/// Replaces a secret in a collected file.
pub(super) const MARK: &[u8] = b"REDACTED";

/// Category names, as the manifest lists them.
pub(super) const PASSWORD: &str = "password";
pub(super) const USER_DATA: &str = "user-data";
pub(super) const INSTANCE_DATA: &str = "instance-data";

/// Shorter values are too likely to be ordinary words to be scrubbed
/// everywhere; a password gets a lower bar than a command.
const MIN_PASSWORD: usize = 4;
const MIN_OTHER: usize = 6;

/// Key names (lowercased substrings) whose values are secrets wherever
/// they appear in a cloud-config or in instance data.
const SECRET_KEY_PARTS: &[&str] = &["passw", "secret", "token", "private", "credential"];

/// Instance-data sensitive keys that hold the whole merged configuration:
/// their secrets are the password-like keys found by the key scan; taking
/// every value would scrub the logs of ordinary settings.
const MERGED_CONFIG_KEYS: &[&str] = &["merged_cfg", "merged_system_cfg", "combined_cloud_config"];

/// Secret value -> category. Longest first when applied.
#[derive(Debug, Default)]
pub(super) struct Secrets {
    values: BTreeMap<String, &'static str>,
}

impl Secrets {
    fn add(&mut self, value: &str, category: &'static str) {
        let v = value.trim();
        let min = if category == PASSWORD {
            MIN_PASSWORD
        } else {
            MIN_OTHER
        };
        if v.chars().count() < min || v.as_bytes() == MARK {
            return;
        }
        // A password found as a command argument stays a password.
        let e = self.values.entry(v.to_string()).or_insert(category);
        if category == PASSWORD {
            *e = PASSWORD;
        }
    }

    pub(super) fn len(&self) -> usize {
        self.values.len()
    }

    /// The data with every secret replaced by [`MARK`], and the sorted
    /// categories of what was replaced.
    pub(super) fn scrub(&self, data: &[u8]) -> (Vec<u8>, Vec<&'static str>) {
        let mut order: Vec<(&String, &&'static str)> = self.values.iter().collect();
        order.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(b.0)));
        let mut out = data.to_vec();
        let mut hit: Vec<&'static str> = Vec::new();
        for (secret, cat) in order {
            if let Some(next) = replace_all(&out, secret.as_bytes(), MARK) {
                out = next;
                if !hit.contains(cat) {
                    hit.push(cat);
                }
            }
        }
        hit.sort_unstable();
        (out, hit)
    }
}

/// `None` when `needle` does not occur.
fn replace_all(hay: &[u8], needle: &[u8], with: &[u8]) -> Option<Vec<u8>> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    let mut found = false;
    while i < hay.len() {
        if hay.get(i..i + needle.len()) == Some(needle) {
            out.extend_from_slice(with);
            i += needle.len();
            found = true;
        } else {
            out.extend_from_slice(hay.get(i..i + 1).unwrap_or_default());
            i += 1;
        }
    }
    found.then_some(out)
}

/// Reads the instance's secrets from the target (the files are root-only
/// there; we read them only to know what to remove).
pub(super) fn gather(host: &Host, cloud_dir: &str, run_dir: &str) -> Secrets {
    let mut s = Secrets::default();
    let docs = [
        format!("{cloud_dir}/instance/cloud-config.txt"),
        format!("{cloud_dir}/instance/vendor-cloud-config.txt"),
        format!("{run_dir}/combined-cloud-config.json"),
    ];
    for path in docs {
        if let Some(doc) = load(host, &path) {
            from_cloud_config(&doc, &mut s);
        }
    }
    if let Some(doc) = load(host, &format!("{run_dir}/instance-data-sensitive.json")) {
        from_instance_data(&doc, &mut s);
    }
    s
}

/// Bounded: these files are kilobytes; a huge one is not parsed.
const MAX_DOC: u64 = 16 << 20;

fn load(host: &Host, path: &str) -> Option<Value> {
    let real = host.try_resolve(path).ok()?;
    let meta = std::fs::symlink_metadata(&real).ok()?;
    if !meta.is_file() || meta.len() > MAX_DOC {
        return None;
    }
    let text = host.read_to_string(path).ok()?;
    ci_yaml::load(&text).ok()
}

fn is_secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    SECRET_KEY_PARTS.iter().any(|p| k.contains(p))
}

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// Values under password-like keys, at any depth.
fn secret_keys(v: &Value, s: &mut Secrets) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if is_secret_key(k) {
                    let mut found = Vec::new();
                    strings(x, &mut found);
                    found.iter().for_each(|f| s.add(f, PASSWORD));
                } else {
                    secret_keys(x, s);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| secret_keys(x, s)),
        _ => {}
    }
}

fn from_cloud_config(doc: &Value, s: &mut Secrets) {
    secret_keys(doc, s);
    // `chpasswd: {list: "user:pw\n..."}` (or a list of such lines).
    if let Some(list) = doc.pointer("/chpasswd/list") {
        let mut lines = Vec::new();
        strings(list, &mut lines);
        for line in lines.iter().flat_map(|l| l.lines()) {
            if let Some((_, pw)) = line.split_once(':') {
                s.add(pw, PASSWORD);
            }
        }
    }
    // Commands and written files carry whatever the user put in them.
    for key in ["runcmd", "bootcmd"] {
        for cmd in doc.get(key).and_then(Value::as_array).into_iter().flatten() {
            match cmd {
                Value::String(c) => s.add(c, USER_DATA),
                Value::Array(argv) => {
                    let words: Vec<String> = argv
                        .iter()
                        .filter_map(|w| match w {
                            Value::String(x) => Some(x.clone()),
                            Value::Number(n) => Some(n.to_string()),
                            _ => None,
                        })
                        .collect();
                    s.add(&words.join(" "), USER_DATA);
                    words.iter().for_each(|w| s.add(w, USER_DATA));
                }
                _ => {}
            }
        }
    }
    for f in doc
        .get("write_files")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(c) = f.get("content").and_then(Value::as_str) {
            s.add(c, USER_DATA);
            c.lines().for_each(|l| s.add(l, USER_DATA));
        }
    }
}

fn from_instance_data(doc: &Value, s: &mut Secrets) {
    secret_keys(doc, s);
    for key in ["merged_cfg", "combined_cloud_config"] {
        if let Some(cfg) = doc.get(key) {
            from_cloud_config(cfg, s);
        }
    }
    let keys: Vec<&str> = doc
        .get("sensitive_keys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for key in keys {
        let name = key.rsplit('/').next().unwrap_or(key);
        if MERGED_CONFIG_KEYS.contains(&name) {
            continue;
        }
        let mut found = Vec::new();
        find_key(doc, key, &mut found);
        for v in &found {
            let mut leaves = Vec::new();
            strings(v, &mut leaves);
            for l in &leaves {
                s.add(l, INSTANCE_DATA);
                // A user-data or vendor-data document: its lines too, so a
                // log that quotes a line of it is scrubbed.
                if l.contains('\n') {
                    l.lines()
                        .map(str::trim)
                        .filter(|x| !x.starts_with('#') && !x.ends_with(':'))
                        .for_each(|x| s.add(x, INSTANCE_DATA));
                }
            }
        }
    }
}

/// Values at a sensitive key path (`a/b`), or under a plain key name at any
/// depth (upstream matches names at the top and under `ds`).
fn find_key<'a>(v: &'a Value, key: &str, out: &mut Vec<&'a Value>) {
    if key.contains('/') {
        let ptr: String = key.split('/').map(|p| format!("/{p}")).collect();
        if let Some(x) = v.pointer(&ptr) {
            out.push(x);
        }
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k.eq_ignore_ascii_case(key) {
                    out.push(x);
                } else {
                    find_key(x, key, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| find_key(x, key, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cloud_config_secrets_are_found_and_scrubbed() {
        let mut s = Secrets::default();
        from_cloud_config(
            &json!({
                "password": "hunter22",
                "chpasswd": {"list": "root:rootpw1\nbob:RANDOM", "users": [{"name": "x", "password": "pw-in-users"}]},
                "runcmd": ["echo tok-123456 > /x", ["sh", "-c", "curl -H secret-arg"]],
                "users": [{"name": "a", "passwd": "$6$hash"}],
                "write_files": [{"path": "/k", "content": "API_KEY=abcdefgh\nother"}]
            }),
            &mut s,
        );
        let text = b"a hunter22 b rootpw1 c pw-in-users $6$hash echo tok-123456 > /x curl -H secret-arg API_KEY=abcdefgh sh";
        let (out, cats) = s.scrub(text);
        let out = String::from_utf8(out).unwrap_or_default();
        for gone in [
            "hunter22",
            "rootpw1",
            "pw-in-users",
            "$6$hash",
            "tok-123456",
            "secret-arg",
            "abcdefgh",
        ] {
            assert!(!out.contains(gone), "{gone} in {out}");
        }
        assert!(out.ends_with(" sh"), "short words stay: {out}");
        assert_eq!(cats, vec![PASSWORD, USER_DATA]);
    }

    #[test]
    fn instance_data_sensitive_values_but_not_merged_config() {
        let mut s = Secrets::default();
        from_instance_data(
            &json!({
                "sensitive_keys": ["merged_cfg", "security-credentials", "userdata"],
                "merged_cfg": {"def_log_file": "/var/log/cloud-init.log", "password": "mcfg-pass"},
                "ds": {"meta_data": {"security-credentials": {"AccessKeyId": "AKIAEXAMPLE"}}},
                "userdata": "#cloud-config\nhostname: secret-host-name\n"
            }),
            &mut s,
        );
        let (out, cats) =
            s.scrub(b"/var/log/cloud-init.log mcfg-pass AKIAEXAMPLE hostname: secret-host-name");
        assert_eq!(
            String::from_utf8_lossy(&out),
            "/var/log/cloud-init.log REDACTED REDACTED REDACTED"
        );
        assert_eq!(cats, vec![INSTANCE_DATA, PASSWORD]);
    }

    #[test]
    fn nothing_to_scrub_is_reported_as_such() {
        let s = Secrets::default();
        assert_eq!(s.scrub(b"abc"), (b"abc".to_vec(), vec![]));
    }
}
