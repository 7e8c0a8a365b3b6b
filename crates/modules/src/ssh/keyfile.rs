//! Re-labelling a host key made ahead of time. A pre-generated key is made
//! with an empty comment (the host name is not final that early); when it is
//! installed it must read exactly as `ssh-keygen -f /etc/ssh/...` would have
//! left it, so the comment is written into the OpenSSH private key, the
//! public line and the text ssh-keygen printed.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

const BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
const END: &str = "-----END OPENSSH PRIVATE KEY-----";
const MAGIC: &[u8] = b"openssh-key-v1\0";
/// ssh-keygen wraps the base64 body at this width.
const WRAP: usize = 70;
/// Block size of the "none" cipher, which the private section is padded to.
const BLOCK: usize = 8;

/// An unencrypted openssh-key-v1 private key holding one key, split where
/// the comment goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenSshKey {
    /// The public key blob (what the `.pub` line carries in base64).
    pub public: Vec<u8>,
    /// Everything of the encoded file before the private section's length.
    head: Vec<u8>,
    /// The private section from its check ints up to (not including) the comment.
    private: Vec<u8>,
    pub comment: Vec<u8>,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let b = self
            .buf
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| format!("truncated at {what}"))?;
        self.pos += 4;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self, what: &str) -> Result<&'a [u8], String> {
        let n = self.u32(what)? as usize;
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| format!("truncated at {what}"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
}

/// Length-prefixed fields after the key type in the private section (an
/// mpint is length-prefixed too), by key type.
fn private_fields(kind: &[u8]) -> Option<usize> {
    match kind {
        b"ssh-ed25519" => Some(2),
        b"ssh-rsa" => Some(6),
        b"ecdsa-sha2-nistp256" | b"ecdsa-sha2-nistp384" | b"ecdsa-sha2-nistp521" => Some(3),
        _ => None,
    }
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

impl OpenSshKey {
    /// Parse the PEM-armoured file; anything but one unencrypted key of a
    /// known type is an error.
    pub fn parse(pem: &str) -> Result<Self, String> {
        let body = pem
            .strip_prefix(BEGIN)
            .and_then(|r| r.strip_prefix('\n'))
            .ok_or("no BEGIN OPENSSH PRIVATE KEY line")?;
        let body = body
            .strip_suffix('\n')
            .and_then(|r| r.strip_suffix(END))
            .ok_or("no END OPENSSH PRIVATE KEY line")?;
        let b64: String = body.split('\n').collect();
        let raw = STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| format!("bad base64: {e}"))?;
        let rest = raw.strip_prefix(MAGIC).ok_or("not an openssh-key-v1 key")?;
        let mut r = Reader { buf: rest, pos: 0 };
        if r.string("cipher")? != b"none" {
            return Err("the key is encrypted".into());
        }
        if r.string("kdf")? != b"none" || !r.string("kdf options")?.is_empty() {
            return Err("the key is encrypted".into());
        }
        if r.u32("key count")? != 1 {
            return Err("not exactly one key".into());
        }
        let public = r.string("public key")?.to_vec();
        let head = raw[..MAGIC.len() + r.pos].to_vec();
        let section = r.string("private section")?;
        if r.pos != rest.len() {
            return Err("data after the private section".into());
        }
        if !section.len().is_multiple_of(BLOCK) {
            return Err("private section not padded to the block size".into());
        }
        let mut p = Reader {
            buf: section,
            pos: 0,
        };
        if p.u32("check int")? != p.u32("check int")? {
            return Err("check ints differ".into());
        }
        let kind = p.string("key type")?;
        let fields = private_fields(kind)
            .ok_or_else(|| format!("unknown key type {}", String::from_utf8_lossy(kind)))?;
        for _ in 0..fields {
            p.string("key field")?;
        }
        let private = section[..p.pos].to_vec();
        let comment = p.string("comment")?.to_vec();
        let padding = &section[p.pos..];
        let expected = (1..=padding.len()).map(|i| i as u8);
        if padding.len() >= BLOCK || !padding.iter().copied().eq(expected) {
            return Err("bad padding".into());
        }
        Ok(OpenSshKey {
            public,
            head,
            private,
            comment,
        })
    }

    /// The file as ssh-keygen writes it, with `comment` in the private section.
    pub fn to_pem(&self, comment: &str) -> String {
        let mut section = self.private.clone();
        put_string(&mut section, comment.as_bytes());
        let mut i = 0u8;
        while !section.len().is_multiple_of(BLOCK) {
            i += 1;
            section.push(i);
        }
        let mut raw = self.head.clone();
        put_string(&mut raw, &section);
        let b64 = STANDARD.encode(raw);
        let mut out = String::with_capacity(b64.len() + b64.len() / WRAP + 80);
        out.push_str(BEGIN);
        out.push('\n');
        // Base64 text is ASCII, so byte chunks are whole characters.
        for line in b64.as_bytes().chunks(WRAP) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str(END);
        out.push('\n');
        out
    }
}

/// Re-serialise an unencrypted OpenSSH private key with a new comment, as
/// `ssh-keygen -c` would (except that the check ints are kept). The module
/// parses at take time and renders at install time instead, so that a bad
/// file is found before anything is written.
#[cfg(test)]
pub(crate) fn set_private_key_comment(pem: &str, comment: &str) -> Result<String, String> {
    OpenSshKey::parse(pem).map(|k| k.to_pem(comment))
}

/// A `.pub` line (`<alg> <base64>[ <comment>]`) split into algorithm and
/// decoded blob; it must be a single line.
pub(crate) fn parse_public_line(line: &str) -> Result<(String, Vec<u8>), String> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    if line.contains('\n') {
        return Err("more than one line".into());
    }
    let mut it = line.split(' ');
    let alg = it.next().filter(|a| !a.is_empty()).ok_or("no algorithm")?;
    let b64 = it.next().ok_or("no key")?;
    let blob = STANDARD
        .decode(b64)
        .map_err(|e| format!("bad base64: {e}"))?;
    Ok((alg.to_string(), blob))
}

/// The `.pub` line ssh-keygen writes.
pub(crate) fn public_line(alg: &str, blob: &[u8], comment: &str) -> String {
    format!("{alg} {} {comment}\n", STANDARD.encode(blob))
}

/// What ssh-keygen printed while generating a key, split where the key's
/// path and comment appear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeygenOutput {
    generating: String,
    fingerprint: String,
    /// "The key's randomart image is:" and the picture, which depends on the
    /// key only.
    art: Vec<String>,
}

const SAVED: &str = "Your identification has been saved in ";
const SAVED_PUB: &str = "Your public key has been saved in ";
const FP_HEAD: &str = "The key fingerprint is:";
const ART_HEAD: &str = "The key's randomart image is:";

impl KeygenOutput {
    pub fn parse(text: &str) -> Result<Self, String> {
        let body = text.strip_suffix('\n').ok_or("no final newline")?;
        let lines: Vec<&str> = body.split('\n').collect();
        let [generating, saved, saved_pub, fp_head, fp, art @ ..] = lines.as_slice() else {
            return Err("too few lines".into());
        };
        if !generating.starts_with("Generating public/private ")
            || !saved.starts_with(SAVED)
            || !saved_pub.starts_with(SAVED_PUB)
            || *fp_head != FP_HEAD
            || art.first() != Some(&ART_HEAD)
            || !art.last().is_some_and(|l| l.starts_with('+'))
        {
            return Err("unexpected ssh-keygen output".into());
        }
        let fingerprint = fp
            .split(' ')
            .next()
            .filter(|f| f.starts_with("SHA256:"))
            .ok_or("no fingerprint")?;
        Ok(KeygenOutput {
            generating: generating.to_string(),
            fingerprint: fingerprint.to_string(),
            art: art.iter().map(|l| l.to_string()).collect(),
        })
    }

    /// The text ssh-keygen prints for `-f path` with this comment.
    pub fn render(&self, path: &str, comment: &str) -> String {
        let mut out = format!(
            "{}\n{SAVED}{path}\n{SAVED_PUB}{path}.pub\n{FP_HEAD}\n{} {comment}\n",
            self.generating, self.fingerprint
        );
        for l in &self.art {
            out.push_str(l);
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    fn keygen(args: &[&str]) -> String {
        let out = Command::new("ssh-keygen")
            .args(args)
            .env("LANG", "C")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{:?}: {out:?}", args);
        String::from_utf8(out.stdout).unwrap()
    }

    fn make(dir: &Path, t: &str, comment: &str) -> (String, String) {
        let f = dir.join(format!("k_{t}"));
        let out = keygen(&["-t", t, "-N", "", "-C", comment, "-f", f.to_str().unwrap()]);
        (f.to_string_lossy().into_owned(), out)
    }

    fn decode(pem: &str) -> Vec<u8> {
        let b: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        STANDARD.decode(b).unwrap()
    }

    /// Our re-labelled key is byte for byte what `ssh-keygen -c` writes,
    /// except the check ints, which ssh-keygen draws afresh and we keep.
    #[test]
    fn comment_change_matches_ssh_keygen() {
        let d = tempfile::tempdir().unwrap();
        for t in ["rsa", "ecdsa", "ed25519"] {
            let (f, _) = make(d.path(), t, "");
            let orig = std::fs::read_to_string(&f).unwrap();
            let ours = set_private_key_comment(&orig, "root@x").unwrap();
            keygen(&["-c", "-C", "root@x", "-f", &f]);
            let theirs = std::fs::read_to_string(&f).unwrap();
            let (o, th) = (decode(&ours), decode(&theirs));
            assert_eq!(o.len(), th.len(), "{t}");
            let key = OpenSshKey::parse(&orig).unwrap();
            // The check ints are the first bytes of the private section.
            let at = key.head.len() + 4;
            assert_eq!(o[..at], th[..at], "{t}");
            assert_eq!(o[at + 8..], th[at + 8..], "{t}");
            assert_eq!(o[at..at + 8], decode(&orig)[at..at + 8], "{t}");
            let shape = |s: &str| s.lines().map(str::len).collect::<Vec<_>>();
            assert_eq!(shape(&ours), shape(&theirs), "{t}");
            assert_eq!(ours.lines().next(), theirs.lines().next());
            assert_eq!(ours.lines().last(), theirs.lines().last());
            assert!(ours.ends_with("-----\n") && theirs.ends_with("-----\n"));
            // ssh-keygen reads our file back with the new comment.
            std::fs::write(&f, &ours).unwrap();
            let y = keygen(&["-y", "-f", &f]);
            assert!(y.ends_with(" root@x\n"), "{t}: {y}");
            // And ssh-keygen's own pub line is what we build.
            let pubf = std::fs::read_to_string(format!("{f}.pub")).unwrap();
            let (alg, blob) = parse_public_line(&pubf).unwrap();
            assert_eq!(blob, key.public, "{t}");
            assert_eq!(public_line(&alg, &blob, "root@x"), pubf, "{t}");
        }
    }

    #[test]
    fn encrypted_or_malformed_keys_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("enc");
        keygen(&[
            "-t",
            "ed25519",
            "-N",
            "secret",
            "-C",
            "",
            "-f",
            f.to_str().unwrap(),
        ]);
        let enc = std::fs::read_to_string(&f).unwrap();
        let e = set_private_key_comment(&enc, "root@x").unwrap_err();
        assert!(e.contains("encrypted"), "{e}");
        let (g, _) = make(d.path(), "ed25519", "");
        let good = std::fs::read_to_string(g).unwrap();
        assert!(set_private_key_comment(&good, "c").is_ok());
        let no_end = good.replace(END, "");
        assert!(set_private_key_comment(&no_end, "c").is_err());
        // Cut short: the last base64 line lost.
        let mut lines: Vec<&str> = good.lines().collect();
        lines.remove(lines.len() - 2);
        let short = lines.join("\n") + "\n";
        assert!(set_private_key_comment(&short, "c").is_err());
        assert!(set_private_key_comment("", "c").is_err());
    }

    /// The printed text for a key made without a comment, re-rendered for
    /// the real path and comment, is what ssh-keygen prints for that key:
    /// the fingerprint and randomart are the key's, whatever its comment.
    #[test]
    fn output_rewrite_matches_ssh_keygen() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("etc/ssh");
        std::fs::create_dir_all(&real).unwrap();
        for t in ["rsa", "ecdsa", "ed25519"] {
            let (f, out) = make(d.path(), t, "");
            let parsed = KeygenOutput::parse(&out).unwrap();
            let target = real.join(format!("ssh_host_{t}_key"));
            let target = target.to_str().unwrap();
            let ours = parsed.render(target, "root@x");
            // Same key with the comment: ssh-keygen's own fingerprint and art.
            let pem = std::fs::read_to_string(&f).unwrap();
            std::fs::write(target, set_private_key_comment(&pem, "root@x").unwrap()).unwrap();
            let (alg, blob) =
                parse_public_line(&std::fs::read_to_string(format!("{f}.pub")).unwrap()).unwrap();
            std::fs::write(format!("{target}.pub"), public_line(&alg, &blob, "root@x")).unwrap();
            let lv = keygen(&["-l", "-v", "-f", &format!("{target}.pub")]);
            let mut lv_lines = lv.lines();
            let first = lv_lines.next().unwrap();
            let fp = first.split(' ').nth(1).unwrap();
            assert!(first.ends_with(" root@x (ED25519)") || t != "ed25519");
            let ours_lines: Vec<&str> = ours.lines().collect();
            assert_eq!(ours_lines[4], format!("{fp} root@x"), "{t}");
            assert_eq!(ours_lines[6..], lv_lines.collect::<Vec<_>>()[..], "{t}");
            // The framing lines are those of a real run with that path and comment.
            let other = real.join(format!("other_{t}"));
            let other = other.to_str().unwrap();
            let real_out = keygen(&["-t", t, "-N", "", "-C", "root@x", "-f", other]);
            let real_out = real_out.replace(other, target);
            let real_lines: Vec<&str> = real_out.lines().collect();
            assert_eq!(ours_lines.len(), real_lines.len(), "{t}");
            for i in [0, 1, 2, 3, 5] {
                assert_eq!(ours_lines[i], real_lines[i], "{t} line {i}");
            }
            assert!(real_lines[4].ends_with(" root@x"));
            assert_eq!(ours_lines[6], real_lines[6], "{t}: art header");
            assert!(ours.ends_with("+----[SHA256]-----+\n"));
        }
    }

    #[test]
    fn unexpected_output_is_refused() {
        assert!(KeygenOutput::parse("").is_err());
        assert!(KeygenOutput::parse("Generating public/private rsa key pair.\n").is_err());
        let d = tempfile::tempdir().unwrap();
        let (_, out) = make(d.path(), "ed25519", "");
        assert!(KeygenOutput::parse(&out).is_ok());
        let cut: String = out.lines().take(8).map(|l| format!("{l}\n")).collect();
        assert!(KeygenOutput::parse(&cut).is_err());
    }
}
