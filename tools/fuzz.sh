#!/usr/bin/env bash
# Fuzz the parsers of untrusted input with libFuzzer, on stable Rust.
#
#   tools/fuzz.sh [TARGET|all|list] [SECONDS]
#
# Builds the binaries of fuzz/ with coverage instrumentation (what
# cargo-fuzz passes to rustc, without needing nightly or cargo-fuzz), then
# runs each TARGET for SECONDS (default 60), one after another. Each run
# starts from the committed seeds (fuzz/corpus/<target>) and the inputs
# that once crashed (fuzz/regressions/<target>); what it learns goes to a
# corpus outside the repo ($CIRS_FUZZ_DIR, default
# /var/tmp/cloud-init-rs/fuzz). A crash stops the script with the input
# saved under $CIRS_FUZZ_DIR/artifacts/<target>/; once fixed, copy the
# input to fuzz/regressions/<target>/ so `cargo test -p ci-fuzz` replays it.
# Under CI (CI set) runs start from the committed inputs only, so a run is
# reproducible from the commit and its length does not grow with a corpus
# left behind by earlier runs.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

what=${1:-all}
secs=${2:-60}
work=${CIRS_FUZZ_DIR:-/var/tmp/cloud-init-rs/fuzz}
targets=$(sed -n 's/^name = "\([a-z0-9_]*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^ci-fuzz-targets$')

case "$what" in
list)
    echo "$targets"
    exit 0
    ;;
all) run=$targets ;;
*)
    if ! grep -qx "$what" <<<"$targets"; then
        echo "fuzz: no target '$what'; targets: $(echo $targets)" >&2
        exit 2
    fi
    run=$what
    ;;
esac

# libFuzzer itself is C++, built by libfuzzer-sys.
if ! command -v c++ >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "fuzz: installing g++ (libFuzzer is C++)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends g++ >/dev/null ||
            { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends g++ >/dev/null; }
    else
        echo "fuzz: needs a C++ compiler (g++) to build libFuzzer" >&2
        exit 1
    fi
fi

host=$(rustc -vV | sed -n 's/^host: //p')
# With an explicit --target, RUSTFLAGS reach only the target code, not the
# build scripts and proc macros (which must not be instrumented).
export CARGO_TARGET_DIR="$PWD/target/fuzz"
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares"
echo "fuzz: building $(echo "$run" | wc -w) target(s)"
bins=()
for t in $run; do bins+=(--bin "$t"); done
(cd fuzz && cargo build --release --quiet --target "$host" "${bins[@]}")

corpus="$work/corpus"
if [ -n "${CI:-}" ]; then
    corpus=$(mktemp -d "${TMPDIR:-/tmp}/cirs-fuzz.XXXXXX")
    trap 'rm -rf "$corpus"' EXIT
fi
failed=()
for t in $run; do
    grown="$corpus/$t"
    art="$work/artifacts/$t"
    mkdir -p "$grown" "$art"
    seeds=()
    for d in "fuzz/corpus/$t" "fuzz/regressions/$t"; do
        [ -d "$d" ] && seeds+=("$d")
    done
    echo "fuzz: $t for ${secs}s"
    if ! "$CARGO_TARGET_DIR/$host/release/$t" \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
        -print_final_stats=0 -artifact_prefix="$art/" \
        "$grown" "${seeds[@]}" >"$work/$t.log" 2>&1; then
        echo "fuzz: $t FAILED; input under $art/, log $work/$t.log:" >&2
        grep -A30 -m1 -E '^(==[0-9]+==|thread .* panicked)' "$work/$t.log" >&2 || tail -30 "$work/$t.log" >&2
        failed+=("$t")
    else
        grep -E 'DONE +cov' "$work/$t.log" | tail -1 | sed "s/^/fuzz: $t: /" || true
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failing targets: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: no crash"
