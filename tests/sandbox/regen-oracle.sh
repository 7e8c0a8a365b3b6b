#!/usr/bin/env bash
# Regenerate tests/sandbox/expected/<seed>.json: upstream cloud-init 25.1.4
# (Debian trixie's package) runs its four stages from the same NoCloud seed in
# a chroot of the same Debian root, inside namespaces made here (no network,
# own hostname and mounts), and manifest.py describes the result.
# usage: tests/sandbox/regen-oracle.sh [SEED_DIR...]   (default: examples/nocloud)
# Needs root, mmdebstrap and the Debian mirror. CI does not run this.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${CIRS_CACHE:-/var/tmp/cloud-init-rs}
oracle_root=$cache/oracle-root-trixie
if [ ! -f "$oracle_root/.complete" ]; then
    rm -rf "$oracle_root.tmp"
    mmdebstrap --quiet --variant=minbase --include=openssh-server,sudo,locales,tzdata,cloud-init \
        --mode=root trixie "$oracle_root.tmp"
    rm -f "$oracle_root.tmp"/etc/ssh/ssh_host_* "$oracle_root.tmp"/etc/machine-id
    : > "$oracle_root.tmp/.complete"
    mv "$oracle_root.tmp" "$oracle_root"
fi
[ $# -gt 0 ] || set -- "$repo/examples/nocloud"
mkdir -p "$here/expected"
for seed in "$@"; do
    name=$(basename "$seed")
    work=$(mktemp -d /var/tmp/cirs-oracle-XXXXXX)
    root=$work/root
    cp -a "$oracle_root" "$root"
    mkdir -p "$root/var/lib/cloud/seed/nocloud"
    cp "$seed"/* "$root/var/lib/cloud/seed/nocloud/"
    printf 'datasource_list: [ NoCloud, None ]\n' > "$root/etc/cloud/cloud.cfg.d/90-test.cfg"
    unshare --uts --net --mount --pid --fork --mount-proc=/proc sh -c '
        root=$1
        mount -t proc proc "$root/proc"
        mount -t tmpfs tmpfs "$root/run"
        for s in "init --local" "init" "modules --mode config" "modules --mode final"; do
            chroot "$root" cloud-init $s || echo "oracle: stage $s exited $?" >&2
        done
        chroot "$root" cloud-init status --long >&2 || true
        # /run is a tmpfs of this namespace: keep a copy to describe.
        mkdir -p "$root/var/tmp/run-copy" && cp -a "$root/run/cloud-init" "$root/var/tmp/run-copy/"
        umount "$root/run" "$root/proc"
        rm -rf "$root/run/cloud-init" && cp -a "$root/var/tmp/run-copy/cloud-init" "$root/run/" && rm -rf "$root/var/tmp/run-copy"
    ' sh "$root" 2> "$work/oracle.stderr" || true
    python3 "$here/manifest.py" "$root" "$oracle_root" > "$here/expected/$name.json"
    echo "wrote $here/expected/$name.json (oracle stderr: $work/oracle.stderr)"
done
