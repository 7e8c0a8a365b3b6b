#!/usr/bin/env bash
# The main job on the built-in example: provision a sandbox Debian root from
# the NoCloud seed in examples/nocloud with the four boot stages, then show
# what was done. Run as root on Debian; touches nothing outside the sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

bash tools/deps.sh
cargo build --release --quiet
bin=$PWD/target/release
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
