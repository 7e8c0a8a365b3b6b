//! `cloud-init schema -c FILE [-t TYPE] [--annotate]`: upstream's stdout,
//! stderr and exit code for one config file.

use crate::annotate::annotate;
use crate::problems::{sort_unique, validate_cloud_config, Problem, Problems};
use ci_yaml::Marks;
use std::path::Path;

/// Which schema `-t/--schema-type` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SchemaType {
    #[default]
    CloudConfig,
    NetworkConfig,
}

impl SchemaType {
    /// The `--schema-type` value (`cloud-config`, `network-config`).
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaType::CloudConfig => "cloud-config",
            SchemaType::NetworkConfig => "network-config",
        }
    }

    /// The instance-data name upstream reports (`user-data`, ...).
    fn data_name(self) -> &'static str {
        match self {
            SchemaType::CloudConfig => "user-data",
            SchemaType::NetworkConfig => "network-config",
        }
    }
}

/// Command-line options of `cloud-init schema` this crate handles.
#[derive(Debug, Clone, Default)]
pub struct SchemaArgs {
    /// `-c/--config-file`, printed exactly as given.
    pub config_file: String,
    pub schema_type: SchemaType,
    pub annotate: bool,
}

/// What the command printed and its exit code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
}

impl Output {
    fn out(&mut self, line: &str) {
        self.stdout.push_str(line);
        self.stdout.push('\n');
    }

    /// Upstream's `error(msg, fmt="Error: {}\n")` through `print`.
    fn err(&mut self, msg: &str) {
        self.stderr.push_str("Error: ");
        self.stderr.push_str(msg);
        self.stderr.push_str("\n\n");
    }
}

/// Runs the command on a file of the local filesystem (relative paths
/// against the current directory, as upstream).
pub fn run_schema(args: &SchemaArgs) -> Output {
    let path = Path::new(&args.config_file);
    if !path.exists() {
        return Output {
            stderr: format!("Error: Config file {} does not exist\n", args.config_file),
            exit_code: 1,
            ..Output::default()
        };
    }
    match std::fs::read(path) {
        Ok(bytes) => run_schema_on_bytes(args, &bytes),
        Err(e) => Output {
            stderr: format!("Error: Cannot read {}: {e}\n", args.config_file),
            exit_code: 1,
            ..Output::default()
        },
    }
}

/// Outcome of validating one file, before the shared reporting.
enum Verdict {
    /// Nothing printed as "Valid"/"Invalid" (empty, other user-data type).
    Skipped,
    Valid,
    Invalid(Vec<Problem>),
    /// Upstream's RuntimeError path (the document is not a mapping).
    NotADict(String),
}

/// Runs the command on file contents already read; `args.config_file`
/// only names the file in messages.
pub fn run_schema_on_bytes(args: &SchemaArgs, bytes: &[u8]) -> Output {
    let mut out = Output::default();
    let verdict = validate_file(args, &String::from_utf8_lossy(bytes), &mut out);
    let name = args.schema_type.data_name();
    match verdict {
        Verdict::Skipped => {}
        Verdict::Valid => out.out(&format!("Valid schema {}", args.config_file)),
        Verdict::Invalid(errors) => {
            if !args.annotate {
                out.out(&format!("Invalid {name} {}", args.config_file));
                let joined: Vec<String> = errors.iter().map(Problem::format).collect();
                out.err(&format!(
                    "Cloud config schema errors: {}",
                    joined.join(", ")
                ));
            }
            out.err(&format!("Invalid schema: {name}"));
            out.exit_code = 1;
        }
        Verdict::NotADict(msg) => {
            out.out(&format!("Invalid {name}"));
            out.err(&msg);
            out.err(&format!("Invalid schema: {name}"));
            out.exit_code = 1;
        }
    }
    out
}

fn validate_file(args: &SchemaArgs, content: &str, out: &mut Output) -> Verdict {
    let file = &args.config_file;
    if content.is_empty() {
        out.out(&format!(
            "Empty '{}' found at {file}. Nothing to validate.",
            args.schema_type.as_str()
        ));
        return Verdict::Skipped;
    }
    if args.schema_type == SchemaType::NetworkConfig {
        out.err("network-config validation is not supported yet");
        out.exit_code = 1;
        return Verdict::Skipped;
    }
    match user_data_type(content) {
        Some("text/cloud-config") => {}
        Some("text/jinja2") => {
            out.err("jinja user-data is not supported yet by cloud-init schema");
            out.exit_code = 1;
            return Verdict::Skipped;
        }
        Some(other) => {
            out.out(&format!(
                "User-data type '{other}' not currently evaluated by cloud-init schema"
            ));
            return Verdict::Skipped;
        }
        None => {
            let header = content.split('\n').next().unwrap_or("");
            return Verdict::Invalid(vec![Problem::new(
                "format-l1.c1",
                format!(
                    "Unrecognized user-data header in {file}: \"{header}\".\nExpected first line to be one of: {}",
                    valid_headers().join(", ")
                ),
            )]);
        }
    }
    let mut errors = merged_part_problems(content);
    let loaded = if args.annotate {
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
            if args.annotate {
                out.out(&annotate(content, &Marks::new(), &errors, &[]));
            }
            return Verdict::Invalid(errors);
        }
    };
    if !config.is_object() && !args.annotate {
        return Verdict::NotADict(format!(
            "{} {file} is not a YAML dict.",
            args.schema_type.as_str()
        ));
    }
    let Problems {
        errors: schema_errors,
        deprecations,
    } = validate_cloud_config(&config);
    let schema_clean = schema_errors.is_empty() && deprecations.is_empty();
    errors.extend(schema_errors);
    report(
        args,
        content,
        &marks,
        errors,
        &deprecations,
        schema_clean,
        out,
    )
}

fn report(
    args: &SchemaArgs,
    content: &str,
    marks: &Marks,
    errors: Vec<Problem>,
    deprecations: &[Problem],
    schema_clean: bool,
    out: &mut Output,
) -> Verdict {
    // Upstream reports merged-part comments only alongside schema findings.
    if schema_clean {
        return Verdict::Valid;
    }
    if args.annotate {
        out.out(&annotate(content, marks, &errors, deprecations));
    } else if !deprecations.is_empty() {
        let joined: Vec<String> = deprecations.iter().map(Problem::format).collect();
        out.out(&format!(
            "Cloud config schema deprecations: {}",
            joined.join(", ")
        ));
    }
    if errors.is_empty() {
        return Verdict::Valid;
    }
    let mut errors = errors;
    sort_unique(&mut errors);
    Verdict::Invalid(errors)
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
fn user_data_type(content: &str) -> Option<&'static str> {
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

    fn run(text: &str, annotate: bool) -> Output {
        let args = SchemaArgs {
            config_file: "f.yaml".into(),
            annotate,
            ..SchemaArgs::default()
        };
        run_schema_on_bytes(&args, text.as_bytes())
    }

    #[test]
    fn valid_and_invalid() {
        assert_eq!(
            run("#cloud-config\nhostname: a\n", false).stdout,
            "Valid schema f.yaml\n"
        );
        let o = run("#cloud-config\nhostname: 1\n", false);
        assert_eq!(o.exit_code, 1);
        assert_eq!(o.stdout, "Invalid user-data f.yaml\n");
        assert_eq!(
            o.stderr,
            "Error: Cloud config schema errors: hostname: 1 is not of type 'string'\n\nError: Invalid schema: user-data\n\n"
        );
    }

    #[test]
    fn headers_sorted_like_python() {
        assert_eq!(valid_headers().first(), Some(&"#!"));
        assert_eq!(valid_headers().get(1), Some(&"## template: jinja"));
    }
}
