//! `cloud-init analyze`: our binary against upstream 25.1.4's output on the
//! cases in fixtures/analyze/cases.txt (regen-analyze.sh), plus what is ours
//! alone: bad input, `--root` confinement, and the SVG of `analyze plot`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::BIN;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/analyze")
}

/// A scratch copy of the input logs (plus multi.log, made as the regen
/// script makes it) and an empty `--root` next to them.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        for e in std::fs::read_dir(fixtures()).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
            }
        }
        let mut multi = std::fs::read(fixtures().join("upstream.log")).unwrap();
        multi.extend(std::fs::read(fixtures().join("ours.log")).unwrap());
        std::fs::write(dir.path().join("multi.log"), multi).unwrap();
        std::fs::create_dir(dir.path().join("root")).unwrap();
        Scratch { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `cloud-init --root ROOT analyze ARGS` in the scratch directory.
    fn run(&self, args: &[&str], stdin: Option<&Path>) -> Output {
        self.run_root(&self.path("root"), args, stdin)
    }

    fn run_root(&self, root: &Path, args: &[&str], stdin: Option<&Path>) -> Output {
        let input = match stdin {
            Some(p) => Stdio::from(std::fs::File::open(p).unwrap()),
            None => Stdio::null(),
        };
        Command::new(BIN)
            .arg("--root")
            .arg(root)
            .arg("analyze")
            .args(args)
            .current_dir(self.dir.path())
            .stdin(input)
            .output()
            .unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn same_as_upstream_on_every_case() {
    let cases = std::fs::read_to_string(fixtures().join("cases.txt")).unwrap();
    let expected = fixtures().join("expected");
    let mut failures = Vec::new();
    let mut n = 0;
    for line in cases.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if line.starts_with('#') || f.len() < 3 {
            continue;
        }
        n += 1;
        let sc = Scratch::new();
        let out_file = sc.path("scratch-out");
        let out_str = out_file.to_string_lossy().into_owned();
        let args: Vec<&str> = f[2..]
            .iter()
            .map(|a| if *a == "@OUT" { out_str.as_str() } else { *a })
            .collect();
        let stdin = (f[1] != "-").then(|| sc.path(f[1]));
        let got = sc.run(&args, stdin.as_deref());
        let want = |ext: &str| std::fs::read(expected.join(format!("{}.{ext}", f[0]))).ok();
        let rc = want("rc").map(|b| text(&b).trim().to_string());
        let checks = [
            ("stdout", Some(got.stdout.clone()), want("out")),
            ("stderr", Some(got.stderr.clone()), want("err")),
            ("file", std::fs::read(&out_file).ok(), want("file")),
            (
                "exit code",
                Some(got.status.code().unwrap_or(-1).to_string().into_bytes()),
                rc.map(String::into_bytes),
            ),
        ];
        for (what, g, w) in checks {
            if g != w {
                failures.push(format!(
                    "case {} ({}): {what} differs\n--- upstream\n{}\n--- ours\n{}",
                    f[0],
                    f[2..].join(" "),
                    text(&w.unwrap_or_default()),
                    text(&g.unwrap_or_default())
                ));
            }
        }
    }
    assert!(n >= 30, "only {n} cases read");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn default_log_is_read_inside_root_only() {
    let sc = Scratch::new();
    let root = sc.path("target");
    std::fs::create_dir_all(root.join("var/log")).unwrap();
    std::fs::copy(sc.path("upstream.log"), root.join("var/log/cloud-init.log")).unwrap();
    let got = sc.run_root(&root, &["blame"], None);
    let want = std::fs::read(fixtures().join("expected/blame-upstream.out")).unwrap();
    assert_eq!(text(&got.stdout), text(&want));
    assert_eq!(got.status.code(), Some(0));

    // An absolute link in the target points into the target, not at this machine's file.
    let evil = sc.path("evil");
    std::fs::create_dir_all(evil.join("var/log")).unwrap();
    std::os::unix::fs::symlink(sc.path("upstream.log"), evil.join("var/log/cloud-init.log"))
        .unwrap();
    let got = sc.run_root(&evil, &["blame"], None);
    assert_eq!(got.status.code(), Some(1));
    assert!(
        text(&got.stderr).starts_with("Cannot open file "),
        "{}",
        text(&got.stderr)
    );
    assert!(got.stdout.is_empty());
}

#[test]
fn bad_input_gives_clear_errors() {
    let sc = Scratch::new();
    // Not UTF-8 (upstream: a UnicodeDecodeError traceback): read on, and say so.
    let got = sc.run(&["show", "-i", "latin1.log"], None);
    assert_eq!(got.status.code(), Some(0));
    assert!(text(&got.stderr).contains("latin1.log is not valid UTF-8"));
    assert!(
        text(&got.stdout).contains("Starting stage: init-local\n|`->ok @00.10000s +00.10000s\n")
    );

    // Fields no event has, and broken braces (upstream: KeyError / ValueError tracebacks).
    for f in ["%l", "%T", "}", "{", "{delta:bogus}"] {
        let got = sc.run(&["show", "-i", "upstream.log", "-f", f], None);
        assert_eq!(got.status.code(), Some(1), "-f {f}");
        assert!(
            text(&got.stderr).starts_with("Error: cannot analyze upstream.log: "),
            "-f {f}: {}",
            text(&got.stderr)
        );
        assert!(!text(&got.stderr).contains("panicked"));
    }

    // A finish with nothing open (upstream: IndexError) is passed over.
    std::fs::write(
        sc.path("lone.log"),
        "2025-06-01 10:00:01,105 - handlers.py[DEBUG]: finish: init-local/check-cache: SUCCESS: no cache found\n",
    )
    .unwrap();
    let got = sc.run(&["show", "-i", "lone.log"], None);
    assert_eq!(got.status.code(), Some(0));
    assert!(text(&got.stdout).ends_with("Total Time: 0.00000 seconds\n\n1 boot records analyzed\n"));

    // JSON that is not a list of events: dump echoes it, show refuses it.
    std::fs::write(sc.path("dict.json"), "{\"b\": [1, 2.5], \"a\": null}").unwrap();
    let got = sc.run(&["dump", "-i", "dict.json"], None);
    assert_eq!(
        text(&got.stdout),
        "{\n \"a\": null,\n \"b\": [\n  1,\n  2.5\n ]\n}\n"
    );
    let got = sc.run(&["show", "-i", "dict.json"], None);
    assert_eq!(got.status.code(), Some(1));
    assert!(text(&got.stderr).contains("not a list of event objects"));

    // Binary garbage: no panic.
    let junk: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(sc.path("junk.log"), junk).unwrap();
    for cmd in ["show", "blame", "dump", "boot", "plot"] {
        let got = sc.run(&[cmd, "-i", "junk.log"], None);
        assert!(matches!(got.status.code(), Some(0 | 1)), "{cmd}");
        assert!(!text(&got.stderr).contains("panicked"), "{cmd}");
    }

    // No subcommand: a usage error, as argparse gives.
    let got = sc.run(&[], None);
    assert_eq!(got.status.code(), Some(2));
}

#[test]
fn plot_refuses_a_huge_log() {
    let sc = Scratch::new();
    let big = std::fs::File::create(sc.path("big.log")).unwrap();
    big.set_len((64 << 20) + 1).unwrap();
    let got = sc.run(&["plot", "-i", "big.log", "-o", "big.svg"], None);
    assert_eq!(got.status.code(), Some(1));
    assert!(
        text(&got.stderr).contains("larger than 64 MiB"),
        "{}",
        text(&got.stderr)
    );
}

/// A minimal XML well-formedness check; returns the text of every
/// `<text>` element (entities decoded).
fn parse_svg(svg: &str) -> Result<Vec<String>, String> {
    let body = svg
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .ok_or("no XML declaration")?;
    let mut stack: Vec<String> = Vec::new();
    let mut texts = Vec::new();
    let mut current_text: Option<String> = None;
    let mut rest = body;
    let decode = |s: &str| -> Result<String, String> {
        let mut out = String::new();
        let mut r = s;
        while let Some(i) = r.find('&') {
            out.push_str(&r[..i]);
            let end = r[i..].find(';').ok_or("bare &")?;
            out.push(match &r[i + 1..i + end] {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                e => return Err(format!("unknown entity &{e};")),
            });
            r = &r[i + end + 1..];
        }
        out.push_str(r);
        Ok(out)
    };
    let mut saw_root = false;
    while !rest.is_empty() {
        let lt = rest.find('<').unwrap_or(rest.len());
        let chars = decode(&rest[..lt])?;
        if stack.is_empty() && !chars.trim().is_empty() {
            return Err(format!("text outside the root: {chars:?}"));
        }
        if let Some(t) = current_text.as_mut() {
            t.push_str(&chars);
        }
        rest = &rest[lt..];
        if rest.is_empty() {
            break;
        }
        let gt = rest.find('>').ok_or("unclosed tag")?;
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or("close without open")?;
            if open != name {
                return Err(format!("</{name}> closes <{open}>"));
            }
            if name == "text" {
                texts.push(current_text.take().ok_or("text state")?);
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name_end = tag.find(' ').unwrap_or(tag.len());
        let name = &tag[..name_end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(format!("bad tag name {name:?}"));
        }
        // Attributes: name="value" pairs, values without < and with valid entities.
        let mut attrs = tag[name_end..].trim();
        while !attrs.is_empty() {
            let eq = attrs
                .find("=\"")
                .ok_or(format!("bad attribute in <{name}>"))?;
            let an = &attrs[..eq];
            if !an
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':')
            {
                return Err(format!("bad attribute name {an:?}"));
            }
            let close = attrs[eq + 2..].find('"').ok_or("unterminated attribute")?;
            decode(&attrs[eq + 2..eq + 2 + close])?;
            attrs = attrs[eq + 3 + close..].trim_start();
        }
        if stack.is_empty() {
            if saw_root {
                return Err("two root elements".into());
            }
            saw_root = true;
        }
        if !self_closing {
            if name == "text" {
                current_text = Some(String::new());
            }
            stack.push(name.to_string());
        }
    }
    if !stack.is_empty() {
        return Err(format!("unclosed elements {stack:?}"));
    }
    Ok(texts)
}

/// Names of every started event in the log's last boot, found by plain
/// text search (not by the code under test).
fn names_in_last_boot(log: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in log.lines() {
        if line.contains("Cloud-init v.") && line.contains("running 'init-local'") {
            names.clear();
        }
        if let Some(i) = line.find(" running '") {
            if line.contains("Cloud-init v.") {
                let stage = line[i + 10..].split('\'').next().unwrap().replace(':', "-");
                names.insert(if stage == "init" {
                    "init-network".into()
                } else {
                    stage
                });
            }
        }
        if let Some(i) = line.find("]: start: ") {
            let name = line[i + 10..].split(": ").next().unwrap();
            names.insert(name.trim_end_matches(':').to_string());
        }
    }
    names
}

#[test]
fn plot_draws_every_stage_and_step() {
    let sc = Scratch::new();
    for (log, last_boot_of) in [
        ("ours.log", "ours.log"),
        ("upstream.log", "upstream.log"),
        ("multi.log", "ours.log"),
    ] {
        let svg_path = sc.path(&format!("{log}.svg"));
        let got = sc.run(&["plot", "-i", log, "-o", svg_path.to_str().unwrap()], None);
        assert_eq!(got.status.code(), Some(0), "{log}: {}", text(&got.stderr));
        let svg = std::fs::read_to_string(&svg_path).unwrap();
        let texts = parse_svg(&svg).unwrap_or_else(|e| panic!("{log}: not well-formed: {e}"));
        assert!(
            !svg.contains("<script") && !svg.contains("href"),
            "{log}: not self-contained"
        );
        let names = names_in_last_boot(&std::fs::read_to_string(sc.path(last_boot_of)).unwrap());
        for stage in [
            "init-local",
            "init-network",
            "modules-config",
            "modules-final",
        ] {
            assert!(names.contains(stage), "{log}: test log lacks {stage}");
        }
        assert!(names.len() > 20, "{log}: only {} names", names.len());
        for name in &names {
            let found = texts
                .iter()
                .any(|t| t.split(' ').next() == Some(name.as_str()));
            assert!(found, "{log}: no text element for {name}");
        }
        let warnings = std::fs::read_to_string(sc.path(last_boot_of))
            .unwrap()
            .lines()
            .filter(|l| l.contains("[WARNING]"))
            .count();
        let marked = texts.iter().filter(|t| t.contains(" WARNING: ")).count();
        assert_eq!(marked, warnings, "{log}: warnings marked");
        if log == "multi.log" {
            assert!(texts.iter().any(|t| t.contains("most recent of 2 boots")));
        }
    }
    // upstream.log has five WARNING lines and a failed module.
    let svg = std::fs::read_to_string(sc.path("upstream.log.svg")).unwrap();
    assert!(svg.contains("W5"));
    assert!(
        svg.contains("stroke=\"#d62728\" stroke-width=\"2\""),
        "failed step outlined"
    );
}

#[test]
fn plot_escapes_hostile_text() {
    let sc = Scratch::new();
    let log = "\
2025-06-01 10:00:01,000 - log_util.py[DEBUG]: Cloud-init v. 25.1.4 running 'init-local' at Sun, 01 Jun 2025 10:00:01 +0000. Up 4.20 seconds.
2025-06-01 10:00:01,100 - handlers.py[DEBUG]: start: init-local/<script>alert(1)</script>&\"x': evil
2025-06-01 10:00:01,150 - x.py[WARNING]: ]]> <!-- & <svg onload=alert(1)> \u{1}\u{7}
2025-06-01 10:00:01,200 - handlers.py[DEBUG]: finish: init-local/<script>alert(1)</script>&\"x': SUCCESS: done
2025-06-01 10:00:01,500 - handlers.py[DEBUG]: finish: init-local: SUCCESS: searching for local datasources
";
    std::fs::write(sc.path("evil.log"), log).unwrap();
    let got = sc.run(&["plot", "-i", "evil.log"], None);
    assert_eq!(got.status.code(), Some(0));
    let svg = text(&got.stdout);
    let texts = parse_svg(&svg).unwrap_or_else(|e| panic!("not well-formed: {e}\n{svg}"));
    assert!(!svg.contains("<script") && !svg.contains("<svg onload") && !svg.contains("<!--"));
    assert!(!svg.contains('\u{1}'));
    assert!(texts
        .iter()
        .any(|t| t.starts_with("init-local/<script>alert(1)</script>&\"x' ")));
    assert!(texts
        .iter()
        .any(|t| t.contains("WARNING: ]]> <!-- & <svg onload=alert(1)>")));
}
