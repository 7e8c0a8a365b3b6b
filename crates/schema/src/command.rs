//! `cloud-init schema`: upstream's stdout, stderr and exit code for
//! `-c FILE [-t TYPE] [-i INSTANCE_DATA] [--annotate]` and `--system`, plus
//! our `--format json`.

use crate::check::{check_part, Check, Verdict};
use crate::json::render_json;
use std::path::PathBuf;

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
}

/// `--format`: upstream's text, or our JSON document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// Command-line options of `cloud-init schema -c` this crate handles.
#[derive(Debug, Clone, Default)]
pub struct SchemaArgs {
    /// `-c/--config-file`, printed exactly as given.
    pub config_file: String,
    pub schema_type: SchemaType,
    pub annotate: bool,
    /// `-i/--instance-data`, or the run directory's instance-data file the
    /// caller picked; read only for `## template: jinja` user-data.
    pub instance_data: Option<PathBuf>,
    pub format: Format,
}

/// What the command printed and its exit code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
}

/// The instance-data kind of one validated file, as upstream names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    UserData,
    VendorData,
    Vendor2Data,
    NetworkConfig,
}

impl DataType {
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::UserData => "user-data",
            DataType::VendorData => "vendor-data",
            DataType::Vendor2Data => "vendor2-data",
            DataType::NetworkConfig => "network-config",
        }
    }
}

/// One file to validate: how messages name it and where it is read.
#[derive(Debug, Clone)]
pub struct Part {
    pub data_type: DataType,
    pub schema_type: SchemaType,
    /// The path as upstream prints it.
    pub display: String,
    /// The path on this machine (under `--root`).
    pub real: PathBuf,
}

/// Runs `-c FILE` on the local filesystem (relative paths against the
/// current directory, as upstream).
pub fn run_schema(args: &SchemaArgs) -> Output {
    let part = config_file_part(args);
    if !part.real.exists() {
        return missing_file(&part.display);
    }
    match std::fs::read(&part.real) {
        Ok(bytes) => run_parts(args, &[(part, bytes)], false),
        Err(e) => Output {
            stderr: format!("Error: Cannot read {}: {e}\n", args.config_file),
            exit_code: 1,
            ..Output::default()
        },
    }
}

/// Runs `-c` on contents already read; `args.config_file` only names the
/// file in messages.
pub fn run_schema_on_bytes(args: &SchemaArgs, bytes: &[u8]) -> Output {
    run_parts(args, &[(config_file_part(args), bytes.to_vec())], false)
}

fn config_file_part(args: &SchemaArgs) -> Part {
    let data_type = match args.schema_type {
        SchemaType::CloudConfig => DataType::UserData,
        SchemaType::NetworkConfig => DataType::NetworkConfig,
    };
    Part {
        data_type,
        schema_type: args.schema_type,
        display: args.config_file.clone(),
        real: PathBuf::from(&args.config_file),
    }
}

pub(crate) fn missing_file(display: &str) -> Output {
    Output {
        stderr: format!("Error: Config file {display} does not exist\n"),
        exit_code: 1,
        ..Output::default()
    }
}

/// Validates every part and reports as upstream's `handle_schema_args`;
/// `system` selects the `Valid schema <type>` wording of `--system`.
pub(crate) fn run_parts(args: &SchemaArgs, parts: &[(Part, Vec<u8>)], system: bool) -> Output {
    let json_args;
    let args = if args.format == Format::Json {
        json_args = SchemaArgs {
            annotate: false,
            ..args.clone()
        };
        &json_args
    } else {
        args
    };
    let mut checks: Vec<(&Part, Check)> = Vec::new();
    for (part, bytes) in parts {
        let check = check_part(part, args, &String::from_utf8_lossy(bytes));
        let fatal = matches!(check.verdict, Verdict::Abort(_));
        checks.push((part, check));
        // Upstream exits on a template it cannot render.
        if fatal {
            break;
        }
    }
    match args.format {
        Format::Text => render_text(&checks, system),
        Format::Json => render_json(&checks),
    }
}

fn render_text(checks: &[(&Part, Check)], system: bool) -> Output {
    let mut out = Output::default();
    let multi = checks.len() > 1;
    let prefix = if multi { "  " } else { "" };
    if multi {
        let types: Vec<&str> = checks.iter().map(|(p, _)| p.data_type.as_str()).collect();
        out.line(&format!(
            "Found cloud-config data types: {}",
            types.join(", ")
        ));
    }
    let mut error_types: Vec<&str> = Vec::new();
    for (idx, (part, check)) in checks.iter().enumerate() {
        if multi {
            out.line(&format!(
                "\n{}. {} at {}:",
                idx + 1,
                part.data_type.as_str(),
                part.display
            ));
        }
        for note in &check.notes {
            out.line(note);
        }
        let name = part.data_type.as_str();
        match &check.verdict {
            Verdict::Skipped => {}
            Verdict::Valid => {
                let what = if system { name } else { part.display.as_str() };
                out.line(&format!("{prefix}Valid schema {what}"));
            }
            Verdict::Invalid => {
                if !check.annotate {
                    out.line(&format!("{prefix}Invalid {name} {}", part.display));
                    let joined: Vec<String> = check.errors.iter().map(|p| p.format()).collect();
                    out.err(&format!(
                        "{prefix}Error: Cloud config schema errors: {}\n",
                        joined.join(", ")
                    ));
                }
                error_types.push(name);
            }
            Verdict::NotADict(msg) => {
                out.line(&format!("{prefix}Invalid {name}"));
                out.err(&format!("{prefix}Error: {msg}\n"));
                error_types.push(name);
            }
            Verdict::Abort(msg) => {
                out.err(&format!("Error:\n{msg}"));
                out.exit_code = 1;
                return out;
            }
        }
    }
    if !error_types.is_empty() {
        out.err(&format!(
            "Error: Invalid schema: {}\n",
            error_types.join(", ")
        ));
        out.exit_code = 1;
    }
    out
}

impl Output {
    fn line(&mut self, line: &str) {
        self.stdout.push_str(line);
        self.stdout.push('\n');
    }

    /// Python's `print(..., file=sys.stderr)`.
    fn err(&mut self, text: &str) {
        self.stderr.push_str(text);
        self.stderr.push('\n');
    }
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
    fn network_config_v1_error_path() {
        let args = SchemaArgs {
            config_file: "n.yaml".into(),
            schema_type: SchemaType::NetworkConfig,
            ..SchemaArgs::default()
        };
        let o = run_schema_on_bytes(
            &args,
            b"network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: maybe\n",
        );
        assert_eq!(o.exit_code, 1);
        assert_eq!(o.stdout, "Invalid network-config n.yaml\n");
        assert!(o.stderr.contains(
            "network.ethernets.eth0.dhcp4: 'maybe' is not one of ['yes', 'no', True, False]"
        ));
    }

    #[test]
    fn network_config_empty_is_skipped() {
        let args = SchemaArgs {
            config_file: "n.yaml".into(),
            schema_type: SchemaType::NetworkConfig,
            ..SchemaArgs::default()
        };
        let o = run_schema_on_bytes(&args, b"network: {}\n");
        assert_eq!(
            o.stdout,
            "Skipping network-config schema validation on empty config.\n"
        );
        assert_eq!(o.exit_code, 0);
    }
}
