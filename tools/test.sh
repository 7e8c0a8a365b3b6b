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
    # Sandbox roots are copied to a tmpfs: the differential harness alone
    # copies the 200 MB root for each of its cases, and on disk that was most
    # of CI's time. A tmpfs of our own, because /dev/shm is mounted nodev and
    # the roots' /dev/null must open.
    scratch=$(mktemp -d /var/tmp/cirs-scratch-XXXXXX)
    if mount -t tmpfs -o mode=0755 cirs-scratch "$scratch"; then
        trap 'umount "$scratch" && rmdir "$scratch"' EXIT
        export CIRS_SCRATCH="$scratch"
    else
        echo "test: no tmpfs for the sandbox roots; they are copied to /var/tmp (slower)" >&2
        rmdir "$scratch"
    fi
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# The one static executable that crates/cli/tests/static_busybox.rs boots in
# a root made only of busybox-static (that test needs root).
# Built without LTO and optimisation: the test needs it static, not fast.
# `make rpm apk` package that executable as the RPM and Alpine packages (the
# same settings, so `static` is not rebuilt); crates/detect/tests/pkg_*.rs
# check their contents in depth.
if [ "$(id -u)" = 0 ]; then
    export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
        CARGO_PROFILE_RELEASE_OPT_LEVEL=0
    make static
    make rpm apk
    [ "$(ls target/rpm/*.rpm | wc -l)" = 1 ] && [ "$(ls target/apk/*.apk | wc -l)" = 1 ] ||
        { echo "test: make rpm apk did not leave exactly one package each" >&2; exit 1; }
    unset CARGO_PROFILE_RELEASE_LTO CARGO_PROFILE_RELEASE_CODEGEN_UNITS CARGO_PROFILE_RELEASE_OPT_LEVEL
fi
cargo test --workspace

# Fuzzing, bounded: every parser's target a few seconds from its seeds
# (the instrumented build is most of it). Crashes fail CI.
bash tools/fuzz.sh all 3

# End-to-end: the Debian package in a QEMU VM (first boot, reboot, broken
# user-data, EC2, upgrades from upstream's package, OpenRC, ...). Skips
# itself with a note when not root; fails CI when qemu cannot run there.
# The package's executable is built without whole-program LTO here (the same
# code at the release opt-level, a minute less on two cores); `make deb`
# outside the test suite builds it as released.
CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 bash tests/vm/run.sh
