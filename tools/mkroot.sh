#!/usr/bin/env bash
# Build (once) a minimal Debian trixie root for sandbox runs and print its path.
# Cached under /var/tmp keyed by a hash of this recipe; callers copy it before use.
# usage: tools/mkroot.sh [--upstream]
#   --upstream: the same root plus Debian's cloud-init package (upstream 25.1.4),
#               for the differential harness (tests/diff); never needed by CI.
set -euo pipefail
suite=trixie
# ca-certificates: what a cloud image carries (ca_certs, HTTPS trust).
pkgs=openssh-server,sudo,locales,tzdata,netbase,ca-certificates
if [ "${1:-}" = --upstream ]; then
    pkgs=$pkgs,cloud-init
fi
key=$(printf '%s\n' "$suite" "$pkgs" "minbase-v1" | sha256sum | cut -c1-12)
cache=${CIRS_CACHE:-/var/tmp/cloud-init-rs}
root=$cache/debian-root-$key
if [ ! -f "$root/.complete" ]; then
    mkdir -p "$cache"
    rm -rf "$root.tmp"
    mmdebstrap --quiet --variant=minbase --include="$pkgs" --mode=root \
        "$suite" "$root.tmp" >&2
    # A pristine image: no host keys, no machine id; the agent makes them.
    rm -f "$root.tmp"/etc/ssh/ssh_host_* "$root.tmp"/etc/machine-id
    : > "$root.tmp/.complete"
    rm -rf "$root"
    mv "$root.tmp" "$root"
fi
echo "$root"
