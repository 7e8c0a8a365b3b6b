//! `cloud-init`, and the other programs by name: the static build ships one
//! executable, with `cloud-id`, `cloud-init-per`, `cloud-init-generator` and
//! `ds-identify` as links to it, so argv[0] picks the program. The separate
//! binaries of the package still exist and behave the same.

use std::path::Path;

/// The program a name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    CloudInit,
    CloudId,
    CloudInitPer,
    /// The systemd generator; it answers as ds-identify itself when that is
    /// its name.
    Generator,
}

/// By the file name of argv[0] only: a link's directory differs between
/// distributions (`/usr/lib/cloud-init/ds-identify`,
/// `/usr/lib/systemd/system-generators/cloud-init-generator`). Any other
/// name, a renamed copy included, is `cloud-init`.
fn entry_for(argv0: &str) -> Entry {
    match Path::new(argv0).file_name().and_then(|n| n.to_str()) {
        Some("cloud-id") => Entry::CloudId,
        Some("cloud-init-per") => Entry::CloudInitPer,
        Some("cloud-init-generator" | "ds-identify") => Entry::Generator,
        _ => Entry::CloudInit,
    }
}

fn main() {
    // Lossy rather than `std::env::args()`, which panics on a non-UTF-8
    // argument; clap reads the real arguments itself.
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let code = match entry_for(args.first().map(String::as_str).unwrap_or_default()) {
        Entry::CloudInit => ci_cli::main_cloud_init(),
        Entry::CloudId => ci_cli::main_cloud_id(),
        Entry::CloudInitPer => ci_cli::main_cloud_init_per(),
        Entry::Generator => {
            let root = std::env::var("PATH_ROOT").ok();
            i32::from(ci_detect::main_with(&args, root, &mut std::io::stderr()))
        }
    };
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_pick_their_program() {
        let cases = [
            ("cloud-init", Entry::CloudInit),
            ("/usr/bin/cloud-init", Entry::CloudInit),
            ("cloud-id", Entry::CloudId),
            ("/usr/bin/cloud-id", Entry::CloudId),
            ("./cloud-init-per", Entry::CloudInitPer),
            (
                "/usr/lib/systemd/system-generators/cloud-init-generator",
                Entry::Generator,
            ),
            ("/usr/lib/cloud-init/ds-identify", Entry::Generator),
            ("ds-identify", Entry::Generator),
        ];
        for (name, want) in cases {
            assert_eq!(entry_for(name), want, "{name}");
        }
    }

    #[test]
    fn other_names_are_cloud_init() {
        for name in [
            "",
            "/",
            "cloud-init.static",
            "cloud-id.bak",
            "Cloud-Id",
            "/usr/bin/cloud-id-wrapper",
            "ds-identify.sh",
        ] {
            assert_eq!(entry_for(name), Entry::CloudInit, "{name:?}");
        }
    }
}
