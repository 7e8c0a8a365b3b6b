#!/usr/bin/env bash
# Make a copied root ready for one harness case, identically for upstream and ours:
# our Debian cloud.cfg (or the case's own cloud.cfg), the package's logging drop-in (nothing else in cloud.cfg.d),
# NoCloud only, a fixed image hostname and kernel command line, and the case's seed.
# usage: tests/diff/prepare-root.sh ROOT CASE_DIR
set -euo pipefail
root=$1 case=$2
repo=$(cd "$(dirname "$0")/../.." && pwd)
# Logging is the one setting each side keeps as its package ships it: upstream's
# Python logging config (log_cfgs), which ours does not read, or ours.
logging=$repo/dist/debian/05_logging.cfg
if [ -f "$root/etc/cloud/cloud.cfg.d/05_logging.cfg" ] && [ -x "$root/usr/bin/cloud-init" ]; then
    cp "$root/etc/cloud/cloud.cfg.d/05_logging.cfg" "$root/.harness-logging.cfg"
    logging=$root/.harness-logging.cfg
fi
mkdir -p "$root/etc/cloud"
install -m 0644 "$logging" "$root/etc/cloud/05_logging.cfg.harness"
rm -rf "$root/etc/cloud/cloud.cfg.d" "$root/.harness-logging.cfg"
mkdir -p "$root/etc/cloud/cloud.cfg.d"
mv "$root/etc/cloud/05_logging.cfg.harness" "$root/etc/cloud/cloud.cfg.d/05_logging.cfg"
# A case may bring a whole cloud.cfg (a family's, as its package ships it).
if [ -e "$case/cloud.cfg" ]; then
    install -m 0644 "$case/cloud.cfg" "$root/etc/cloud/cloud.cfg"
else
    install -m 0644 "$repo/dist/debian/cloud.cfg" "$root/etc/cloud/cloud.cfg"
fi
printf 'datasource_list: [ NoCloud, None ]\n' > "$root/etc/cloud/cloud.cfg.d/90-harness.cfg"
if [ -d "$case/cloud.cfg.d" ]; then
    cp "$case/cloud.cfg.d/"*.cfg "$root/etc/cloud/cloud.cfg.d/"
fi
printf 'image-host\n' > "$root/etc/hostname"
# A case's `setup` script lays the root out further (a family's files), given
# the root's path; it runs on this machine and must touch nothing outside it.
if [ -f "$case/setup" ]; then
    sh "$case/setup" "$root"
fi
# A case booted under systemd (its `case` file says `init: systemd`) gets the
# directory both sides test for it; run-upstream.sh keeps it on its /run.
if [ -f "$case/case" ] && grep -qx 'init: systemd' "$case/case"; then
    mkdir -p "$root/run/systemd/system"
fi
# Read by ours under --root; upstream gets the same line through DEBUG_PROC_CMDLINE.
mkdir -p "$root/proc"
printf '%s\n' "$(cat "$repo/tests/diff/cmdline")" > "$root/proc/cmdline"
printf '12.34 10.00\n' > "$root/proc/uptime"
seed=$root/var/lib/cloud/seed/nocloud
mkdir -p "$seed"
if [ -f "$case/meta-data" ]; then
    cp "$case/meta-data" "$seed/meta-data"
else
    printf 'instance-id: iid-harness-0001\nlocal-hostname: harness-host\n' > "$seed/meta-data"
fi
for f in user-data vendor-data; do
    if [ -f "$case/$f" ]; then cp "$case/$f" "$seed/$f"; fi
done
if [ ! -f "$seed/user-data" ]; then : > "$seed/user-data"; fi
# Tools that would touch disks, services or the power of the machine are
# recording stubs (tests/diff/stubs): both sides' calls land, in order, in
# /var/lib/harness/commands, which is compared like any other file. A case's
# own stubs/<tool> scripts replace the default one; stubs/ABSENT names tools
# that must not exist at all, stubs/EXTRA tools a Debian image lacks that get
# the default recording stub for this case (dnf, snap, puppet, ...).
stubs=$repo/tests/diff/stubs
mkdir -p "$root/usr/local/lib/harness" "$root/usr/local/sbin" "$root/var/lib/harness"
install -m 0755 "$stubs/log" "$stubs/record" "$root/usr/local/lib/harness/"
install -m 0644 "$stubs/STDIN" "$root/usr/local/lib/harness/STDIN"
absent=
if [ -f "$case/stubs/ABSENT" ]; then absent=$(grep -v '^#' "$case/stubs/ABSENT" || true); fi
extra=
if [ -f "$case/stubs/EXTRA" ]; then extra=$(grep -v '^#' "$case/stubs/EXTRA" || true); fi
for tool in $(grep -v '^#' "$stubs/TOOLS") $extra; do
    if printf '%s\n' $absent | grep -qx "$tool"; then continue; fi
    ln -sf ../lib/harness/record "$root/usr/local/sbin/$tool"
done
for tool in $absent; do
    rm -f "$root/usr/local/sbin/$tool" "$root/usr/sbin/$tool" "$root/usr/bin/$tool" "$root/sbin/$tool" "$root/bin/$tool"
done
if [ -d "$case/stubs" ]; then
    for f in "$case/stubs/"*; do
        case ${f##*/} in ABSENT | EXTRA) continue ;; esac
        rm -f "$root/usr/local/sbin/${f##*/}"
        install -m 0755 "$f" "$root/usr/local/sbin/${f##*/}"
    done
fi
