//! Writes the man pages and shell completions of `cloud-init`, `cloud-id`
//! and `cloud-init-per` from their clap definitions, so the documentation
//! cannot drift from the parsers:
//!
//!   cargo run -p ci-cli --example gen-docs -- OUTDIR
//!
//! OUTDIR/man/*.1 (one page per program and per `cloud-init` subcommand)
//! and OUTDIR/completions/{cloud-init.bash,_cloud-init,cloud-init.fish,...}.
//! The output depends only on the sources (no dates), so packages built
//! from the same checkout are identical.

use clap::CommandFactory;
use clap_complete::Shell;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The programs, each with its clap definition.
fn programs() -> Vec<clap::Command> {
    vec![
        ci_cli::args::Cli::command(),
        ci_cli::args::CloudIdArgs::command(),
        ci_cli::args::cloud_init_per_command(),
    ]
}

fn write_man(cmd: &clap::Command, dir: &Path) -> std::io::Result<()> {
    let mut top = cmd
        .clone()
        .version(ci_cli::VERSION)
        .disable_help_subcommand(true);
    top.build();
    // Pages for the subcommands too (cloud-init-status.1, ...): each has its
    // own options, which the top page only lists by name. After build() a
    // subcommand's display name is that page name and its usage line is
    // the full `cloud-init devel net-convert ...`.
    let mut stack = vec![top];
    while let Some(cmd) = stack.pop() {
        stack.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
        let page = cmd
            .get_display_name()
            .unwrap_or_else(|| cmd.get_name())
            .to_string();
        let man = clap_mangen::Man::new(cmd)
            .title(page.to_uppercase())
            .section("1")
            .source(format!("cloud-init-rs {}", ci_cli::VERSION))
            .manual("cloud-init-rs");
        let mut buf = Vec::new();
        man.render(&mut buf)?;
        std::fs::write(dir.join(format!("{page}.1")), buf)?;
    }
    Ok(())
}

fn write_completions(cmd: &clap::Command, dir: &Path) -> std::io::Result<()> {
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut cmd = cmd.clone();
        let name = cmd.get_name().to_string();
        clap_complete::generate_to(shell, &mut cmd, name, dir)?;
    }
    Ok(())
}

pub fn run(out: &Path) -> std::io::Result<()> {
    let man = out.join("man");
    let comp = out.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&comp)?;
    for cmd in programs() {
        write_man(&cmd, &man)?;
        write_completions(&cmd, &comp)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        eprintln!("usage: gen-docs OUTDIR");
        return ExitCode::from(2);
    };
    let out = PathBuf::from(out);
    match run(&out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen-docs: writing under {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}
