//! `cloud-init devel make-mime`: build a multipart user-data document from
//! files, byte for byte the shape upstream's `email` package prints (every
//! part `text/<type>; charset="utf-8"`, base64, 76-column lines), so
//! upstream and our parsers read the same parts from it.
//!
//! The files are the operator's, on the machine the command runs on:
//! `--root` does not apply to them (upstream reads them with plain `open`).

use ci_host::Host;
use ci_state::Paths;
use clap::Args;
use serde_json::Value;
use std::io::{Read, Write};

/// Upstream's `INCLUSION_TYPES_MAP` values (its handler prefixes), sorted
/// as `get_content_types` sorts them.
const CONTENT_TYPES: &[&str] = &[
    "text/cloud-boothook",
    "text/cloud-config",
    "text/cloud-config-archive",
    "text/cloud-config-jsonp",
    "text/jinja2",
    "text/part-handler",
    "text/x-include-once-url",
    "text/x-include-url",
    "text/x-shellscript",
    "text/x-shellscript-per-boot",
    "text/x-shellscript-per-instance",
    "text/x-shellscript-per-once",
];

/// No attachment is read past this: a user-data document is kilobytes,
/// and a mistaken device or pipe must not fill memory.
const MAX_ATTACHMENT: u64 = 64 << 20;

#[derive(Debug, Args)]
#[command(
    after_help = "Example: make-mime -a config.yaml:cloud-config -a script.sh:x-shellscript > user-data"
)]
pub struct MakeMimeArgs {
    /// attach the given file as the specified content-type
    #[arg(
        short = 'a',
        long = "attach",
        value_name = "file>:<content-type",
        value_parser = parse_attach,
        allow_hyphen_values = true,
        action = clap::ArgAction::Append
    )]
    pub files: Vec<Attach>,
    /// List support cloud-init content types.
    #[arg(short = 'l', long = "list-types")]
    pub list_types: bool,
    /// Ignore unknown content-type warnings
    #[arg(short = 'f', long = "force")]
    pub force: bool,
}

/// One `-a FILE:TYPE`; `-` as the file is standard input (ours: upstream
/// would open a file named `-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attach {
    pub file: String,
    pub subtype: String,
}

fn parse_attach(text: &str) -> Result<Attach, String> {
    match text.split_once(':') {
        Some((file, subtype)) => Ok(Attach {
            file: file.to_string(),
            subtype: subtype.trim().to_string(),
        }),
        None => Err(format!(
            "Invalid value for '{text}': expected <file>:<content-type>"
        )),
    }
}

pub(crate) fn run(_host: &Host, _paths: &Paths, _cfg: &Value, a: MakeMimeArgs) -> i32 {
    if a.list_types {
        let names: Vec<&str> = CONTENT_TYPES
            .iter()
            .map(|t| t.trim_start_matches("text/"))
            .collect();
        println!("{}", names.join("\n"));
        return 0;
    }
    let mut parts = Vec::new();
    for att in &a.files {
        match read_text(&att.file) {
            Ok(text) => parts.push((att, text)),
            Err(e) => {
                eprintln!("Error: {e}");
                return 1;
            }
        }
    }
    let errors: Vec<String> = parts
        .iter()
        .enumerate()
        .filter_map(|(i, (att, _))| {
            let ctype = content_type_of(&part_content_type(&att.subtype));
            (!CONTENT_TYPES.contains(&ctype.as_str())).then(|| {
                format!(
                    "content type '{ctype}' for attachment {} may be incorrect!",
                    i + 1
                )
            })
        })
        .collect();
    if !errors.is_empty() {
        let level = if a.force { "WARNING" } else { "ERROR" };
        for e in &errors {
            eprintln!("{level}: {e}");
        }
        eprintln!("Invalid content-types, override with --force");
        if !a.force {
            return 1;
        }
    }
    let boundary = match boundary() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("Error: {e}");
            return 1;
        }
    };
    let doc = render(&boundary, &parts);
    let mut out = std::io::stdout().lock();
    if out
        .write_all(doc.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return 1;
    }
    0
}

/// The file as Python's text-mode `open(...).read()` gives it: UTF-8, with
/// `\r\n` and lone `\r` turned into `\n` (universal newlines).
fn read_text(file: &str) -> Result<String, String> {
    let mut raw = Vec::new();
    let limited = |r: &mut dyn Read, raw: &mut Vec<u8>| r.take(MAX_ATTACHMENT + 1).read_to_end(raw);
    let res = if file == "-" {
        limited(&mut std::io::stdin().lock(), &mut raw)
    } else {
        std::fs::File::open(file).and_then(|mut f| limited(&mut f, &mut raw))
    };
    let shown = if file == "-" { "standard input" } else { file };
    res.map_err(|e| format!("cannot read {shown}: {e}"))?;
    if raw.len() as u64 > MAX_ATTACHMENT {
        return Err(format!(
            "{shown} is larger than {} MiB",
            MAX_ATTACHMENT >> 20
        ));
    }
    let text = String::from_utf8(raw).map_err(|e| format!("{shown} is not UTF-8 text: {e}"))?;
    Ok(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// The part's Content-Type header value as `MIMEText(_, subtype, "utf-8")`
/// writes it (the subtype keeps the case given).
fn part_content_type(subtype: &str) -> String {
    format!("text/{subtype}; charset=\"utf-8\"")
}

/// Python's `get_content_type()` of a header value: lower-cased, and
/// `text/plain` unless it has exactly one slash.
fn content_type_of(header: &str) -> String {
    let ctype = header
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if ctype.matches('/').count() == 1 {
        ctype
    } else {
        "text/plain".into()
    }
}

/// Python's `_make_boundary`: 15 `=`, a random number below `sys.maxsize`
/// as 19 digits, `==`. Bodies are base64, which has no `-`, so a boundary
/// can never appear in one.
fn boundary() -> Result<String, ci_host::random::RandomError> {
    let n = ci_host::random::u64()? % (i64::MAX as u64);
    Ok(format!("==============={n:019}=="))
}

fn render(boundary: &str, parts: &[(&Attach, String)]) -> String {
    let mut out =
        format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\nMIME-Version: 1.0\n\n");
    out.push_str(&format!("--{boundary}\n"));
    for (i, (att, text)) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(&format!("\n--{boundary}\n"));
        }
        out.push_str(&format!(
            "Content-Type: {}\nMIME-Version: 1.0\nContent-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=\"{}\"\n\n",
            part_content_type(&att.subtype),
            att.file
        ));
        out.push_str(&base64_lines(text.as_bytes()));
    }
    out.push_str(&format!("\n--{boundary}--\n\n"));
    out
}

/// Base64 in lines of at most 76 characters, each ending in a newline
/// (Python's `base64mime.body_encode`); nothing for an empty body.
fn base64_lines(data: &[u8]) -> String {
    use base64::Engine;
    let enc = base64::engine::general_purpose::STANDARD
        .encode(data)
        .into_bytes();
    let mut out = String::with_capacity(enc.len() + enc.len() / 76 + 1);
    for line in enc.chunks(76) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_python_wrapping() {
        assert_eq!(base64_lines(b""), "");
        assert_eq!(base64_lines(b"a\nb\nc"), "YQpiCmM=\n");
        let long = base64_lines(&[b'x'; 200]);
        let lines: Vec<&str> = long.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].len(), 76);
        assert_eq!(lines[3], "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHg=");
    }

    #[test]
    fn content_type_as_python_reads_it() {
        assert_eq!(
            content_type_of(&part_content_type("Cloud-Config")),
            "text/cloud-config"
        );
        assert_eq!(content_type_of(&part_content_type("a/b")), "text/plain");
        assert_eq!(content_type_of(&part_content_type("foo")), "text/foo");
    }

    #[test]
    fn attach_splits_at_the_first_colon() {
        assert_eq!(
            parse_attach("a.yaml: cloud-config ").ok(),
            Some(Attach {
                file: "a.yaml".into(),
                subtype: "cloud-config".into()
            })
        );
        assert!(parse_attach("nocolon").is_err());
    }

    #[test]
    fn layout_matches_upstream_print() {
        let att = Attach {
            file: "e".into(),
            subtype: "cloud-config".into(),
        };
        assert_eq!(
            render("B", &[]),
            "Content-Type: multipart/mixed; boundary=\"B\"\nMIME-Version: 1.0\n\n--B\n\n--B--\n\n"
        );
        let doc = render("B", &[(&att, String::new()), (&att, "hi".into())]);
        assert!(
            doc.contains("filename=\"e\"\n\n\n--B\nContent-Type"),
            "{doc}"
        );
        assert!(doc.ends_with("aGk=\n\n--B--\n\n"), "{doc}");
    }
}
