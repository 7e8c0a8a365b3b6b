//! Validating one file as upstream's `validate_cloudconfig_file`: header
//! detection, jinja rendering, YAML loading, the schema (cloud-config or
//! network-config v1/v2), and what it prints along the way.

use crate::annotate::{annotate, locate};
use crate::command::{Part, SchemaArgs, SchemaType};
use crate::problems::{sort_unique, validate_with_schema, Problem, Problems};
use ci_yaml::Marks;
use serde_json::Value;

/// How one file ended, before the shared reporting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Nothing printed as "Valid"/"Invalid" (empty, other user-data type).
    Skipped,
    Valid,
    Invalid,
    /// Upstream's RuntimeError path (the document is not a mapping).
    NotADict(String),
    /// Upstream exits at once (`error(..., sys_exit=True)`): a jinja
    /// template that cannot be rendered.
    Abort(String),
}

/// A problem with its position in the file (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    pub problem: Problem,
    pub line: usize,
    pub column: usize,
}

/// The outcome of one file.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    /// Lines upstream prints before the verdict (notes, annotation,
    /// the deprecations line).
    pub notes: Vec<String>,
    pub verdict: Verdict,
    pub errors: Vec<Problem>,
    pub deprecations: Vec<Problem>,
    /// `errors` and `deprecations` with positions (for `--format json`).
    pub located_errors: Vec<Located>,
    pub located_deprecations: Vec<Located>,
    pub annotate: bool,
}

impl Check {
    fn new(annotate: bool) -> Self {
        Check {
            notes: Vec::new(),
            verdict: Verdict::Skipped,
            errors: Vec::new(),
            deprecations: Vec::new(),
            located_errors: Vec::new(),
            located_deprecations: Vec::new(),
            annotate,
        }
    }
}

pub(crate) fn check_part(part: &Part, args: &SchemaArgs, content: &str) -> Check {
    let mut check = Check::new(args.annotate);
    check.verdict = run_check(part, args, content, &mut check);
    check
}

fn run_check(part: &Part, args: &SchemaArgs, content: &str, check: &mut Check) -> Verdict {
    let file = &part.display;
    if content.is_empty() {
        check.notes.push(format!(
            "Empty '{}' found at {file}. Nothing to validate.",
            part.schema_type.as_str()
        ));
        return Verdict::Skipped;
    }
    let rendered;
    let mut content = content;
    if part.schema_type == SchemaType::CloudConfig {
        match decode_user_data(part, args, content) {
            Decoded::CloudConfig(Some(text)) => {
                rendered = text;
                content = &rendered;
            }
            Decoded::CloudConfig(None) => {}
            Decoded::Other(note) => {
                check.notes.push(note);
                return Verdict::Skipped;
            }
            Decoded::Invalid(problem) => {
                // Raised before upstream loads the YAML: never annotated.
                record(check, &Marks::new(), vec![problem], Vec::new());
                return Verdict::Invalid;
            }
            Decoded::Abort(msg) => return Verdict::Abort(msg),
        }
    }
    let mut errors = merged_part_problems(content);
    let loaded = if args.annotate || args.format == crate::Format::Json {
        ci_yaml::load_with_marks(content)
    } else {
        ci_yaml::load(content).map(|v| (v, Marks::new()))
    };
    let (config, marks) = match loaded {
        Ok(v) => v,
        Err(e) => {
            let (line, col) = e.reported_mark();
            errors.push(Problem::new(
                format!("format-l{line}.c{col}"),
                format!("File {file} is not valid YAML. {}", e.pyyaml_text(content)),
            ));
            sort_unique(&mut errors);
            return invalid(check, content, &Marks::new(), errors, Vec::new());
        }
    };
    // Upstream goes on with a non-mapping under --annotate (and crashes for
    // network-config); we report it as without --annotate there.
    if !config.is_object() && (!args.annotate || part.schema_type == SchemaType::NetworkConfig) {
        return Verdict::NotADict(format!(
            "{} {file} is not a YAML dict.",
            part.schema_type.as_str()
        ));
    }
    let schema = match part.schema_type {
        SchemaType::CloudConfig => crate::cloud_config_schema(),
        SchemaType::NetworkConfig => {
            let network = config.get("network").unwrap_or(&config);
            if !ci_pyval::truthy(network) {
                check
                    .notes
                    .push("Skipping network-config schema validation on empty config.".into());
                return Verdict::Skipped;
            }
            crate::network_config_schema(&config)
        }
    };
    let Problems {
        errors: schema_errors,
        deprecations,
    } = validate_with_schema(&config, schema);
    // Upstream reports merged-part comments only alongside schema findings.
    if schema_errors.is_empty() && deprecations.is_empty() {
        return Verdict::Valid;
    }
    errors.extend(schema_errors);
    if errors.is_empty() {
        record(check, &marks, Vec::new(), deprecations);
        if args.annotate {
            check
                .notes
                .push(annotate(content, &marks, &[], &check.deprecations));
        } else {
            push_deprecations_line(check);
        }
        return Verdict::Valid;
    }
    invalid(check, content, &marks, errors, deprecations)
}

fn invalid(
    check: &mut Check,
    content: &str,
    marks: &Marks,
    errors: Vec<Problem>,
    deprecations: Vec<Problem>,
) -> Verdict {
    // Upstream annotates with the errors in the order found (merged-part
    // comments first) and sorts them only for the message.
    if check.annotate {
        check
            .notes
            .push(annotate(content, marks, &errors, &deprecations));
    }
    record(check, marks, errors, deprecations);
    if !check.annotate {
        push_deprecations_line(check);
    }
    Verdict::Invalid
}

fn record(check: &mut Check, marks: &Marks, mut errors: Vec<Problem>, deprecations: Vec<Problem>) {
    sort_unique(&mut errors);
    let locate_all = |ps: &[Problem]| -> Vec<Located> {
        ps.iter()
            .map(|p| {
                let (line, column) = locate(&p.path, marks);
                Located {
                    problem: p.clone(),
                    line,
                    column,
                }
            })
            .collect()
    };
    check.located_errors = locate_all(&errors);
    check.located_deprecations = locate_all(&deprecations);
    check.errors = errors;
    check.deprecations = deprecations;
}

fn push_deprecations_line(check: &mut Check) {
    if check.deprecations.is_empty() {
        return;
    }
    let joined: Vec<String> = check.deprecations.iter().map(Problem::format).collect();
    check.notes.push(format!(
        "Cloud config schema deprecations: {}",
        joined.join(", ")
    ));
}

enum Decoded {
    /// `#cloud-config`; `Some` when it came out of a jinja template.
    CloudConfig(Option<String>),
    /// Another user-data type, with upstream's note.
    Other(String),
    Invalid(Problem),
    Abort(String),
}

/// Upstream's `_get_config_type_and_rendered_userdata`.
fn decode_user_data(part: &Part, args: &SchemaArgs, content: &str) -> Decoded {
    let mut position = "format-l1.c1";
    let mut kind = user_data_type(content);
    let mut rendered = None;
    if kind == Some("text/jinja2") {
        match render(args, &part.display, content) {
            Ok(text) => {
                kind = user_data_type(&text);
                rendered = Some(text);
                position = "format-l2.c1";
            }
            Err(Rendering::NotJinja) => {
                // Upstream's message is not an f-string: the braces are printed.
                return Decoded::Invalid(Problem::new(
                    position,
                    "Detected type '{user_data_type}' from header. But, content is not a jinja template",
                ));
            }
            Err(Rendering::Abort(msg)) => return Decoded::Abort(msg),
        }
    }
    let text = rendered.as_deref().unwrap_or(content);
    match kind {
        Some("text/cloud-config") => Decoded::CloudConfig(rendered),
        Some(other) => Decoded::Other(format!(
            "User-data type '{other}' not currently evaluated by cloud-init schema"
        )),
        None => {
            let header = text.split('\n').next().unwrap_or("");
            Decoded::Invalid(Problem::new(
                position,
                format!(
                    "Unrecognized user-data header in {}: \"{header}\".\nExpected first line to be one of: {}",
                    part.display,
                    valid_headers().join(", ")
                ),
            ))
        }
    }
}

enum Rendering {
    NotJinja,
    Abort(String),
}

fn render(args: &SchemaArgs, file: &str, content: &str) -> Result<String, Rendering> {
    let path = args.instance_data.as_deref();
    let shown = path.map(|p| p.display().to_string()).unwrap_or_default();
    let Some(path) = path.filter(|p| p.exists()) else {
        return Err(Rendering::Abort(format!(
            "Cannot render jinja template vars. Instance data not yet present at {shown}"
        )));
    };
    let data: Value = match std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
    {
        Some(v) => v,
        None => {
            return Err(Rendering::Abort(
                "Loading Jinja instance data failed".into(),
            ))
        }
    };
    match ci_userdata::render_jinja(content, &data) {
        Ok(text) => {
            let missing: Vec<String> = ci_userdata::missing_vars(&text)
                .iter()
                .map(|v| format!("'{v}'"))
                .collect();
            if !missing.is_empty() {
                log::warn!(
                    "Could not render jinja template variables in file '{file}': {}",
                    missing.join(", ")
                );
            }
            Ok(text)
        }
        Err(ci_userdata::JinjaError::NotJinja) => Err(Rendering::NotJinja),
        Err(ci_userdata::JinjaError::Syntax(msg)) => Err(Rendering::Abort(format!(
            "Failed to render templated user-data. {msg}"
        ))),
        Err(e) => Err(Rendering::Abort(e.to_string())),
    }
}

/// Header prefixes upstream recognises, longest first, and their types.
const HEADERS: &[(&str, &str)] = &[
    (
        "text/x-shellscript-per-instance",
        "text/x-shellscript-per-instance",
    ),
    ("text/x-shellscript-per-boot", "text/x-shellscript-per-boot"),
    ("text/x-shellscript-per-once", "text/x-shellscript-per-once"),
    ("#cloud-config-archive", "text/cloud-config-archive"),
    ("#cloud-config-jsonp", "text/cloud-config-jsonp"),
    ("## template: jinja", "text/jinja2"),
    ("#cloud-boothook", "text/cloud-boothook"),
    ("#part-handler", "text/part-handler"),
    ("#include-once", "text/x-include-once-url"),
    ("#cloud-config", "text/cloud-config"),
    ("#include", "text/x-include-url"),
    ("#!", "text/x-shellscript"),
];

/// `type_from_starts_with`: case-insensitive, after leading whitespace.
pub(crate) fn user_data_type(content: &str) -> Option<&'static str> {
    let lower = content.to_lowercase();
    let head = lower.trim_start();
    HEADERS
        .iter()
        .find(|(prefix, _)| head.starts_with(prefix))
        .map(|(_, t)| *t)
}

fn valid_headers() -> Vec<&'static str> {
    let mut v: Vec<&str> = HEADERS
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| p.starts_with('#'))
        .collect();
    v.sort();
    v
}

/// Comments the user-data merger leaves for parts it dropped.
fn merged_part_problems(content: &str) -> Vec<Problem> {
    const PREFIX: &str = "# Cloud-config part ignored SCHEMA_ERROR: ";
    if !content.contains(PREFIX) {
        return Vec::new();
    }
    content
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with(PREFIX))
        .map(|(i, l)| {
            Problem::new(
                format!("format-l{}.c1", i + 1),
                l.replace(PREFIX, "Ignored invalid user-data: "),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_sorted_like_python() {
        assert_eq!(valid_headers().first(), Some(&"#!"));
        assert_eq!(valid_headers().get(1), Some(&"## template: jinja"));
    }

    #[test]
    fn user_data_types() {
        assert_eq!(
            user_data_type("  #Cloud-Config\n"),
            Some("text/cloud-config")
        );
        assert_eq!(user_data_type("#!/bin/sh\n"), Some("text/x-shellscript"));
        assert_eq!(user_data_type("hostname: x\n"), None);
    }
}
