#!/usr/bin/env bash
# The test suite: lint, unit and integration tests, sandbox runs on a real
# Debian root. Installs what it needs first (as root on Debian).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

if [ "$(id -u)" = 0 ]; then
    bash tools/deps.sh
    # The sandbox tests provision a real Debian root; build it once (cached).
    if root=$(bash tools/mkroot.sh); then
        export CIRS_DEBIAN_ROOT="$root"
    else
        echo "test: could not build the Debian root; its sandbox tests will say so and fail" >&2
    fi
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The one static executable that crates/cli/tests/static_busybox.rs boots in
# a root made only of busybox-static (that test needs root).
# Built without LTO and optimisation: the test needs it static, not fast.
if [ "$(id -u)" = 0 ]; then
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        CARGO_PROFILE_RELEASE_OPT_LEVEL=0 make static
fi
cargo test --workspace

# Fuzzing, bounded: every parser's target a few seconds from its seeds
# (the instrumented build is most of it). Crashes fail CI.
bash tools/fuzz.sh all 5

# End-to-end: the Debian package in a QEMU VM (first boot, reboot, broken
# user-data). Skips itself with a note when not root; fails CI when qemu
# cannot run there.
bash tests/vm/run.sh
