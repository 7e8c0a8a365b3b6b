//! Every target over its committed seeds (`fuzz/corpus/<target>/`) and
//! the inputs that once crashed it (`fuzz/regressions/<target>/`), without
//! libFuzzer: a crash fixed once stays fixed on the normal test path.

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

#[test]
fn every_input_replays_without_a_crash() {
    let mut failures = Vec::new();
    let mut replayed = 0;
    for (name, target) in ci_fuzz::TARGETS {
        for kind in ["corpus", "regressions"] {
            for file in files(&fuzz_dir().join(kind).join(name)) {
                let data = std::fs::read(&file).unwrap();
                replayed += 1;
                if catch_unwind(AssertUnwindSafe(|| target(&data))).is_err() {
                    failures.push(format!("{name}: {}", file.display()));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "crashing inputs:\n{}",
        failures.join("\n")
    );
    assert!(
        replayed > ci_fuzz::TARGETS.len(),
        "only {replayed} inputs replayed"
    );
}

#[test]
fn every_target_has_seeds() {
    let bare: Vec<&str> = ci_fuzz::TARGETS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| files(&fuzz_dir().join("corpus").join(name)).is_empty())
        .collect();
    assert!(
        bare.is_empty(),
        "targets without seeds in fuzz/corpus: {bare:?}"
    );
}

/// The libFuzzer binaries and this crate's table name the same targets,
/// so a target cannot be fuzzed but never replayed, or the reverse.
#[test]
fn binaries_match_the_target_table() {
    let table: BTreeSet<String> = ci_fuzz::TARGETS
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    let sources: BTreeSet<String> = files(&fuzz_dir().join("fuzz_targets"))
        .iter()
        .filter_map(|p| p.file_stem()?.to_str().map(str::to_string))
        .collect();
    assert_eq!(table, sources);
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
    for name in &table {
        let path = format!("path = \"fuzz_targets/{name}.rs\"");
        assert!(
            manifest.contains(&path),
            "fuzz/Cargo.toml has no [[bin]] {name}"
        );
        let body =
            std::fs::read_to_string(fuzz_dir().join(format!("fuzz_targets/{name}.rs"))).unwrap();
        assert!(
            body.contains(&format!("ci_fuzz::{name}(")),
            "fuzz_targets/{name}.rs calls another target"
        );
    }
}

/// Regressions that still crash wait in `fuzz/pending/<target>/` (listed
/// in the report of whoever found them); none may sit in regressions/.
#[test]
fn pending_inputs_are_known_targets() {
    let names: BTreeSet<&str> = ci_fuzz::TARGETS.iter().map(|(n, _)| *n).collect();
    let Ok(entries) = std::fs::read_dir(fuzz_dir().join("pending")) else {
        return;
    };
    for e in entries {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            names.contains(name.as_str()),
            "fuzz/pending/{name} is no target"
        );
    }
}
