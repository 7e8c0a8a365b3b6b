#!/bin/sh
# Regenerate tests/cases/*/expected/ by running upstream's ds-identify (from
# the oracle's package tree) on each case's fake root.
#
# Case layout (tests/cases/<name>/):
#   root/      files of the fake root (PATH_ROOT)
#   blkid      what `blkid -c /dev/null -o export` prints (absent: blkid
#              fails with status 2, unless root/dev/disk/by-label exists, in
#              which case the labels listed there are printed)
#   env        extra environment, KEY=VALUE per line: KERNEL_CMDLINE,
#              SYSTEMD_VIRTUALIZATION (root/run/systemd is then created),
#              VMX_GUESTINFO[_METADATA|_USERDATA|_VENDORDATA]
#   bin/       fake programs put first on PATH (vmware-rpctool, vmtoolsd,
#              wslpath...); the Rust test runs the same scripts with sh
#   make       entries git cannot hold, created in the root copy, one per
#              line: "socket PATH" (a listening unix socket), "file PATH",
#              "mtime PATH EPOCH" (set the time of a file of root/)
#   manual     present when expected/ is written by hand because upstream
#              cannot be run on it (the file says why); skipped here
#   expected/  rc, cloud.cfg (when written), log (filtered), stderr
#
# The root's proc/sys/kernel/{ostype,version,arch} feed the fake `uname -svm`
# (defaults below, which the Rust test writes into roots lacking them).
# ds-identify runs with DEBUG_LEVEL=2, so every check's answer is logged.
#
# Upstream reads two paths outside PATH_ROOT (/dev/lxd/sock, /config-drive);
# the copy run here has only those two paths prefixed with ${PATH_ROOT}, so
# that fake roots can hold them. Nothing else in the script is changed.
#
# Usage: crates/detect/tests/regen-ds-identify.sh [DS_IDENTIFY]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dsi=${1:-/var/tmp/cloud-init-oracle/root/usr/lib/cloud-init/ds-identify}
[ -f "$dsi" ] || { echo "no ds-identify at $dsi (run shared/oracle/setup-oracle.sh)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"

# The rooted copy; fail if upstream's text changed under us.
sed -e 's#is_socket_file /dev/lxd/sock#is_socket_file "${PATH_ROOT}/dev/lxd/sock"#' \
    -e 's#for d in /config-drive \$vlc_config_drive_path#for d in "${PATH_ROOT}/config-drive" $vlc_config_drive_path#' \
    "$dsi" > "$work/ds-identify"
[ "$(grep -c 'PATH_ROOT}/dev/lxd/sock\|PATH_ROOT}/config-drive' "$work/ds-identify")" = 2 ] ||
    { echo "re-rooting $dsi failed: its text changed" >&2; exit 1; }

cat > "$work/bin/uname" <<'U'
#!/bin/sh
k=$PATH_ROOT/proc/sys/kernel
r() { if [ -f "$k/$1" ]; then cat "$k/$1"; else echo "$2"; fi; }
echo "$(r ostype Linux) $(r version '#1 SMP PREEMPT_DYNAMIC Debian 6.12.0-1 (2025-01-01)') $(r arch x86_64)"
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
    pids=""
    if [ -f "$case/make" ]; then
        while read -r kind path; do
            mkdir -p "$(dirname "$root/$path")"
            case $kind in
                file) : > "$root/$path" ;;
                socket)
                    python3 -c 'import socket,sys,time
s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1); time.sleep(60)' "$root/$path" &
                    pids="$pids $!"
                    while [ ! -S "$root/$path" ]; do sleep 0.05; done ;;
                mtime) # "mtime PATH EPOCH": git does not keep times
                    set -- $path
                    touch -d "@$2" "$root/$1" ;;
                *) echo "$name: bad make line: $kind $path" >&2; exit 1 ;;
            esac
        done < "$case/make"
    fi
    path="$work/bin:/usr/bin:/bin"
    [ -d "$case/bin" ] && path="$case/bin:$path"
    set +e
    # The env file is word-split on purpose: its values hold no blanks.
    # shellcheck disable=SC2046
    env -i PATH="$path" CASE="$case" PATH_ROOT="$root" DEBUG_LEVEL=2 \
        $( [ -f "$case/env" ] && cat "$case/env" ) \
        sh "$work/ds-identify" >"$work/stdout" 2>"$work/stderr"
    rc=$?
    set -e
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill $pids
    rm -rf "$case/expected"
    mkdir -p "$case/expected"
    echo "$rc" > "$case/expected/rc"
    [ -f "$root/run/cloud-init/cloud.cfg" ] &&
        cp "$root/run/cloud-init/cloud.cfg" "$case/expected/cloud.cfg"
    "$here/filter-di-log" "$root" < "$root/run/cloud-init/ds-identify.log" > "$case/expected/log"
    cp "$work/stderr" "$case/expected/stderr"
    echo "$name: rc=$rc"
done
