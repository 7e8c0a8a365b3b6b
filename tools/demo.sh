#!/usr/bin/env bash
# The main job on the built-in example: provision a sandbox Debian root from
# the NoCloud seed in examples/nocloud with the four boot stages, then show
# what was done. Touches nothing outside the sandbox.
#
# Installing packages, building the Debian root with mmdebstrap and giving
# the sandbox's files their owners need root: run it as root (a fresh Debian
# has no sudo), or as a user with sudo, in which case the build runs as you
# (target/ stays yours) and only the root steps go through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
bin=${CARGO_TARGET_DIR:-$PWD/target}/release

# Debian 12's own rustc is too old for the workspace: say so before cargo
# fails on the lock file with a less helpful message.
check_rust() {
    local need have
    need=$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' Cargo.toml)
    have=$(rustc --version 2>/dev/null | cut -d' ' -f2)
    if [ -z "$have" ] || [ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n 1)" != "$need" ]; then
        echo "demo: Rust $need or newer is needed (found: ${have:-none})." >&2
        echo "demo: install it with rustup (https://rustup.rs), then run this again:" >&2
        echo "      curl --proto '=https' -sSf https://sh.rustup.rs | sh -s -- -y" >&2
        exit 1
    fi
}

if [ "$(id -u)" != 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "demo: needs root (apt-get, mmdebstrap, file owners in the sandbox): run it as root" >&2
        exit 1
    fi
    sudo bash tools/deps.sh
    check_rust
    cargo build --release --quiet
    exec sudo env CIRS_DEMO_BUILT="$bin" bash tools/demo.sh "$@"
fi

if [ -n "${CIRS_DEMO_BUILT:-}" ]; then
    bin=$CIRS_DEMO_BUILT
else
    bash tools/deps.sh
    check_rust
    cargo build --release --quiet
fi
base=$(bash tools/mkroot.sh)
root=${1:-/var/tmp/cloud-init-rs/demo-root}

echo "== sandbox root: $root (fresh copy of $base)"
rm -rf "$root"
cp -a "$base" "$root"
mkdir -p "$root/var/lib/cloud/seed/nocloud"
cp examples/nocloud/* "$root/var/lib/cloud/seed/nocloud/"
mkdir -p "$root/etc/cloud/cloud.cfg.d"
cp dist/debian/cloud.cfg "$root/etc/cloud/cloud.cfg"
cp dist/debian/05_logging.cfg "$root/etc/cloud/cloud.cfg.d/05_logging.cfg"
printf 'datasource_list: [ NoCloud, None ]\n' > "$root/etc/cloud/cloud.cfg.d/90-demo.cfg"

ci() { "$bin/cloud-init" --root "$root" "$@"; }
start=$(date +%s%N)
ci init --local
ci init
ci modules --mode config
ci modules --mode final
end=$(date +%s%N)

echo
echo "== four stages took $(( (end - start) / 1000000 )) ms"
echo "== status"
ci status --long || true
echo "== cloud-id: $("$bin/cloud-id" --root "$root" || true)"
echo "== hostname: $(cat "$root/etc/hostname")"
echo "== /etc/hosts"; grep -v '^#' "$root/etc/hosts" | sed '/^$/d'
echo "== users made"; grep -E '^(debian|alice|svc):' "$root/etc/passwd"
echo "== groups"; grep -E '^(ops|dev|sudo):' "$root/etc/group"
echo "== sudoers"; cat "$root/etc/sudoers.d/90-cloud-init-users" 2>/dev/null || true
echo "== authorized keys (numeric owners: the root's users, not this machine's)"
ls -ln "$root/home/alice/.ssh/authorized_keys" "$root/home/debian/.ssh/authorized_keys" 2>/dev/null || true
echo "== host keys"; ls "$root/etc/ssh/" | grep host_ || true
echo "== sshd drop-in"; cat "$root/etc/ssh/sshd_config.d/50-cloud-init.conf" 2>/dev/null || true
echo "== files"; ls -ln "$root/etc/motd.d/10-demo" "$root/opt/app/config.json" "$root/home/alice/notes.txt" "$root/etc/vendor-marker" 2>/dev/null || true
echo "== runcmd output"; cat "$root/var/tmp/demo-runcmd" 2>/dev/null || true
echo "== semaphores"; ls "$root/var/lib/cloud/instances/"*/sem/
echo "== log: $root/var/log/cloud-init.log ($(wc -l < "$root/var/log/cloud-init.log") lines); warnings:"
grep -E '\[(WARNING|ERROR|CRITICAL)\]' "$root/var/log/cloud-init.log" || echo "   none"
