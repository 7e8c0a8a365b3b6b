#!/bin/sh
# Regenerate tests/cases/*/expected/ by running upstream's ds-identify (from
# the oracle's package tree) on each case's fake root.
#
# Case layout (tests/cases/<name>/):
#   root/      files of the fake root (PATH_ROOT)
#   blkid      what `blkid -c /dev/null -o export` prints (absent: blkid
#              fails with status 2, unless root/dev/disk/by-label exists, in
#              which case the labels listed there are printed)
#   env        extra environment, KEY=VALUE per line (with
#              SYSTEMD_VIRTUALIZATION, root/run/systemd is created)
#   manual     present when expected/ is written by hand because upstream
#              cannot be run on it (the file says why); skipped here
#   expected/  rc, cloud.cfg (when written), log (filtered), stderr
#
# Usage: crates/detect/tests/regen-ds-identify.sh [DS_IDENTIFY]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dsi=${1:-/var/tmp/cloud-init-oracle/root/usr/lib/cloud-init/ds-identify}
[ -f "$dsi" ] || { echo "no ds-identify at $dsi (run shared/oracle/setup-oracle.sh)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"
cat > "$work/bin/uname" <<'U'
#!/bin/sh
echo "Linux #1 SMP PREEMPT_DYNAMIC Debian 6.12.0-1 (2025-01-01) x86_64"
U
cat > "$work/bin/blkid" <<'B'
#!/bin/sh
if [ -f "$CASE/blkid" ]; then
    cat "$CASE/blkid"
elif [ -d "$PATH_ROOT/dev/disk/by-label" ]; then
    for l in $(ls "$PATH_ROOT/dev/disk/by-label"); do echo "LABEL=$l"; done
else
    exit 2
fi
B
chmod +x "$work/bin/uname" "$work/bin/blkid"

for case in "$here"/cases/*/; do
    case=${case%/}
    name=${case##*/}
    if [ -f "$case/manual" ]; then
        echo "skip $name (manual: $(head -n1 "$case/manual"))"
        continue
    fi
    root="$work/$name"
    cp -a "$case/root" "$root"
    # systemd's run dir (not committed: .gitignore drops "run" paths) tells
    # ds-identify to trust SYSTEMD_VIRTUALIZATION.
    if grep -q '^SYSTEMD_VIRTUALIZATION=' "$case/env" 2>/dev/null; then
        mkdir -p "$root/run/systemd"
    fi
    set +e
    # shellcheck disable=SC2046
    env -i PATH="$work/bin:/usr/bin:/bin" CASE="$case" PATH_ROOT="$root" \
        $( [ -f "$case/env" ] && cat "$case/env" ) \
        sh "$dsi" >"$work/stdout" 2>"$work/stderr"
    rc=$?
    set -e
    rm -rf "$case/expected"
    mkdir -p "$case/expected"
    echo "$rc" > "$case/expected/rc"
    [ -f "$root/run/cloud-init/cloud.cfg" ] &&
        cp "$root/run/cloud-init/cloud.cfg" "$case/expected/cloud.cfg"
    "$here/filter-di-log" "$root" < "$root/run/cloud-init/ds-identify.log" > "$case/expected/log"
    cp "$work/stderr" "$case/expected/stderr"
    echo "$name: rc=$rc"
done
