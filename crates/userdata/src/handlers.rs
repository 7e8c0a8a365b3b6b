//! The default part handlers run over the attached parts, as upstream's
//! `walker_callback`: cloud-config (+ jsonp), shell scripts, scripts by
//! frequency, boothooks and jinja templates.

use crate::bounds::Budget;
use crate::diag::Diag;
use crate::jsonpatch::{self, PatchError};
use crate::process::Part;
use crate::sniff::type_from_starts_with;
use crate::yamlutil::{self, Allowed};
use crate::{jinja, pyrepr, Boothook, Kind, ProcessOptions, Script, ScriptDest};
use serde_json::{Map, Value};

pub(crate) struct Output {
    pub cloud_config: Option<Value>,
    pub cloud_config_text: String,
    pub scripts: Vec<Script>,
    pub boothooks: Vec<Boothook>,
    pub part_handlers: Vec<(String, Vec<u8>)>,
}

const CLOUD_PREFIX: &str = "#cloud-config";
const JSONP_PREFIX: &str = "#cloud-config-jsonp";
const SCHEMA_ERROR_PREFIX: &str = "# Cloud-config part ignored SCHEMA_ERROR: ";

/// upstream `CloudConfigPartHandler` state.
#[derive(Default)]
struct CloudConfig {
    buf: Option<Value>,
    file_names: Vec<String>,
    error_file_names: Vec<String>,
}

impl CloudConfig {
    fn handle(
        &mut self,
        part: &Part,
        payload: &[u8],
        ctype: &str,
        filename: &str,
        diag: &mut Diag,
        budget: &mut Budget,
    ) {
        if self.buf.is_none() || self.file_names.is_empty() {
            self.buf = Some(Value::Object(Map::new()));
        }
        let buf = self
            .buf
            .clone()
            .unwrap_or_else(|| Value::Object(Map::new()));
        let result = if ctype == "text/cloud-config-jsonp" {
            let text = String::from_utf8_lossy(payload);
            let p = text.trim_start_matches(crate::sniff::is_py_space);
            let p = p.strip_prefix(JSONP_PREFIX).unwrap_or(p);
            jsonpatch::apply_str_bounded(&buf, p, &mut budget.copied_left).map_err(|e| match e {
                PatchError::Json(m) => (m, true),
                PatchError::Patch(m) => (m, false),
                PatchError::Bound(m) => {
                    // Named at warning level: the generic warning below
                    // does not say why.
                    diag.warn(format!("Cloud config part {filename} rejected: {m}"));
                    (m, false)
                }
            })
        } else {
            let doc = yamlutil::load_bytes(payload, Allowed::Dict, diag).unwrap_or(Value::Null);
            let header = merge_header(part);
            ci_config::merge::merge_part(&buf, &doc, header.as_deref())
                .map_err(|e| (e.message, e.value_error))
        };
        match result {
            Ok(v) => {
                self.buf = Some(v);
                let clean: String = filename
                    .chars()
                    .map(|c| {
                        if matches!(c, '\n' | '\r' | '\t') {
                            ' '
                        } else {
                            c
                        }
                    })
                    .collect();
                self.file_names.push(clean.trim().to_string());
            }
            Err((msg, true)) => {
                self.error_file_names.push(filename.trim().to_string());
                diag.warn(format!(
                    "Failed at merging in cloud config part from {filename}: {msg}"
                ));
            }
            Err((msg, false)) => {
                log::debug!("Merging cloud config part {filename} failed: {msg}");
                diag.warn(format!(
                    "Failed at merging in cloud config part from {filename}"
                ));
            }
        }
    }

    /// The text of `cloud-config.txt`.
    fn text(&self) -> String {
        let Some(buf) = &self.buf else {
            return String::new();
        };
        let mut lines: Vec<String> = vec![CLOUD_PREFIX.into(), String::new()];
        if !self.file_names.is_empty() {
            lines.push(format!("# from {} files", self.file_names.len()));
            for f in &self.file_names {
                let f = if f.is_empty() { "?" } else { f.as_str() };
                lines.push(format!("# {f}"));
            }
            lines.push(String::new());
        }
        for f in &self.error_file_names {
            lines.push(format!("{SCHEMA_ERROR_PREFIX}{f}"));
        }
        lines.push(ci_yaml::dumps(buf));
        lines.join("\n")
    }
}

/// `Merge-Type` / `X-Merge-Type`: upstream looks them up in `dict(part)`,
/// so the header name must match exactly while the value is the first
/// header of that name in any case.
fn merge_header(part: &Part) -> Option<String> {
    for name in ["Merge-Type", "X-Merge-Type"] {
        if part.head.headers.iter().any(|(k, _)| k == name) {
            if let Some(v) = part.head.get(name).filter(|v| !v.is_empty()) {
                return Some(v.to_string());
            }
        }
    }
    None
}

/// upstream `clean_filename`: `/` → `_`, then only `_-.()` and
/// alphanumerics kept, surrounding blanks removed.
pub(crate) fn clean_filename(f: &str) -> String {
    f.replace('/', "_")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_-.()".contains(*c))
        .collect::<String>()
        .trim()
        .to_string()
}

/// upstream `dos2unix`: only when the first line ends in CRLF.
fn dos2unix(data: &[u8]) -> Vec<u8> {
    match data.iter().position(|b| *b == b'\n') {
        Some(pos) if pos > 0 && data[pos - 1] == b'\r' => {
            let mut out = Vec::with_capacity(data.len());
            let mut i = 0;
            while i < data.len() {
                if data[i] == b'\r' && data.get(i + 1) == Some(&b'\n') {
                    i += 1;
                    continue;
                }
                out.push(data[i]);
                i += 1;
            }
            out
        }
        _ => data.to_vec(),
    }
}

struct Walker<'a, 'o> {
    opts: &'a ProcessOptions<'o>,
    budget: &'a mut Budget,
    cc: CloudConfig,
    out: Output,
}

pub(crate) fn run(
    parts: &[Part],
    opts: &ProcessOptions,
    diag: &mut Diag,
    budget: &mut Budget,
) -> Output {
    let mut w = Walker {
        opts,
        budget,
        cc: CloudConfig::default(),
        out: Output {
            cloud_config: None,
            cloud_config_text: String::new(),
            scripts: Vec::new(),
            boothooks: Vec::new(),
            part_handlers: Vec::new(),
        },
    };
    for (n, part) in parts.iter().enumerate() {
        w.handle(part, n, diag);
    }
    w.out.cloud_config_text = w.cc.text();
    w.out.cloud_config = w.cc.buf.take();
    w.out
}

impl Walker<'_, '_> {
    fn handle(&mut self, part: &Part, n: usize, diag: &mut Diag) {
        let ctype = part.head.content_type();
        let filename = part
            .head
            .filename()
            .filter(|f| !f.is_empty())
            .unwrap_or_else(|| format!("part-{n:03}"));
        if self.opts.disabled_handlers.contains(&ctype) {
            log::debug!("content_type \"{ctype}\" is excluded");
            return;
        }
        let payload = &part.payload;
        match ctype.as_str() {
            "text/part-handler" => {
                diag.warn(format!(
                    "Part handler {filename} (text/part-handler) is Python code and cannot run in cloud-init-rs; ignored"
                ));
                self.out.part_handlers.push((filename, payload.clone()));
            }
            "text/cloud-config" | "text/cloud-config-jsonp" => {
                self.cc
                    .handle(part, &part.payload, &ctype, &filename, diag, self.budget);
            }
            "text/x-shellscript" => self.script(&filename, payload),
            "text/x-shellscript-per-boot" => {
                self.freq_script(&filename, payload, ScriptDest::PerBoot)
            }
            "text/x-shellscript-per-instance" => {
                self.freq_script(&filename, payload, ScriptDest::PerInstance)
            }
            "text/x-shellscript-per-once" => {
                self.freq_script(&filename, payload, ScriptDest::PerOnce)
            }
            "text/cloud-boothook" => self.boothook(&filename, payload),
            "text/jinja2" => self.jinja(part, &filename, diag),
            _ if !payload.is_empty() => {
                let details = format!("'{}...'", first_line_escaped(payload));
                if ctype == "text/x-not-multipart" {
                    diag.warn(format!(
                        "Unhandled non-multipart ({ctype}) userdata: {details}"
                    ));
                } else {
                    diag.warn(format!(
                        "Unhandled unknown content-type ({ctype}) userdata: {details}"
                    ));
                }
            }
            _ => log::debug!("Empty payload of type {ctype}"),
        }
    }

    fn script(&mut self, filename: &str, payload: &[u8]) {
        let dest = if self.opts.kind == Kind::User {
            ScriptDest::UserScripts
        } else {
            ScriptDest::Vendor
        };
        self.out.scripts.push(Script {
            filename: clean_filename(filename),
            content: dos2unix(payload),
            dest,
            kind: self.opts.kind,
        });
    }

    fn freq_script(&mut self, filename: &str, payload: &[u8], dest: ScriptDest) {
        let base = filename.rsplit('/').next().unwrap_or(filename);
        self.out.scripts.push(Script {
            filename: clean_filename(base),
            content: dos2unix(payload),
            dest,
            kind: self.opts.kind,
        });
    }

    fn boothook(&mut self, filename: &str, payload: &[u8]) {
        let data = dos2unix(payload);
        let body = data
            .strip_prefix(b"#cloud-boothook".as_slice())
            .unwrap_or(&data);
        let text = String::from_utf8_lossy(body);
        let content = text.trim_start_matches(crate::sniff::is_py_space);
        self.out.boothooks.push(Boothook {
            filename: clean_filename(filename),
            content: content.as_bytes().to_vec(),
        });
    }

    fn jinja(&mut self, part: &Part, filename: &str, diag: &mut Diag) {
        let Some(data) = &self.opts.instance_data else {
            diag.warn(format!(
                "Failed calling handler JinjaTemplatePartHandler: [['text/jinja2']] (text/jinja2, {filename}, 3) with frequency once-per-instance"
            ));
            log::debug!("Cannot render jinja template vars. Instance data not yet present");
            return;
        };
        let Some(rendered) =
            jinja::render_part_bounded(&part.text(), filename, data, diag, &mut self.budget.jinja)
        else {
            return;
        };
        match type_from_starts_with(rendered.as_bytes()) {
            // The sub-handler sees the jinja part's type, so a rendered
            // jsonp document goes the YAML way, as upstream.
            Some("text/cloud-config") | Some("text/cloud-config-jsonp") => {
                self.cc.handle(
                part,
                rendered.as_bytes(),
                "text/jinja2",
                filename,
                diag,
                self.budget,
            )
            }
            Some("text/x-shellscript") => self.script(filename, rendered.as_bytes()),
            Some("text/cloud-boothook") => self.boothook(filename, rendered.as_bytes()),
            other => diag.warn(format!(
                "Ignoring jinja template for {filename}. Could not find supported sub-handler for type {}",
                other.unwrap_or("None")
            )),
        }
    }
}

/// The log excerpt upstream prints for unhandled parts: the first line,
/// at most 24 characters, as Python prints `str.encode('unicode_escape')`.
fn first_line_escaped(payload: &[u8]) -> String {
    let text = String::from_utf8_lossy(payload);
    let first = text.split('\n').next().unwrap_or_default();
    let start: String = first.chars().take(24).collect();
    pyrepr::repr_bytes(&pyrepr::unicode_escape(&start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_and_line_ends() {
        assert_eq!(clean_filename(" a/b c$.sh "), "a_bc.sh");
        assert_eq!(dos2unix(b"#!/bin/sh\r\necho\r\n"), b"#!/bin/sh\necho\n");
        assert_eq!(dos2unix(b"#!/bin/sh\necho\r\n"), b"#!/bin/sh\necho\r\n");
        assert_eq!(first_line_escaped(b"hello 'x'\nmore"), "b\"hello 'x'\"");
    }
}
