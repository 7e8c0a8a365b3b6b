#!/usr/bin/env bash
# Run upstream cloud-init's four boot stages on ROOT (a prepared copy of the root
# from `tools/mkroot.sh --upstream`), chrooted, inside namespaces made here: no
# network (an empty net namespace), its own mounts, hostname and PIDs. Nothing of
# this machine's / is touched; /proc and a tmpfs /run are mounted inside ROOT only
# for the run, and /run/cloud-init is kept in ROOT afterwards.
# usage: tests/diff/run-upstream.sh ROOT   (as root; stage exit codes on stderr)
set -euo pipefail
root=$(cd "$1" && pwd)
[ "$root" != / ] || { echo "refusing to run on /" >&2; exit 2; }
[ -x "$root/usr/bin/cloud-init" ] || { echo "$root has no upstream cloud-init" >&2; exit 2; }
cmdline=$(cat "$(dirname "$0")/cmdline")
unshare --uts --net --mount --pid --fork --mount-proc sh -euc '
    root=$1 cmdline=$2
    mount --make-rprivate /
    hostname "$(cat "$root/etc/hostname")"
    mount -t proc proc "$root/proc"
    systemd=0
    if [ -d "$root/run/systemd/system" ]; then systemd=1; fi
    mount -t tmpfs -o mode=0755 tmpfs "$root/run"
    if [ $systemd = 1 ]; then mkdir -p "$root/run/systemd/system"; fi
    mkdir -p "$root/run/lock"
    for s in "init --local" "init" "modules --mode config" "modules --mode final"; do
        rc=0
        chroot "$root" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
            DEBUG_PROC_CMDLINE="$cmdline" cloud-init $s || rc=$?
        echo "upstream: cloud-init $s: exit $rc" >&2
    done
    # A process a stage left behind (power_state_change forks one that waits
    # for cloud-init to exit, then runs shutdown) is killed when this shell,
    # the namespace'"'"'s PID 1, exits: let it finish first (at most 60 s). Only
    # builtins look, so the shell itself is the one process left.
    i=0
    while [ $i -lt 600 ]; do
        left=0
        for p in /proc/[0-9]*; do
            [ "$p" = /proc/1 ] && continue
            st=
            read -r _ _ st _ < "$p/stat" 2>/dev/null || continue
            [ "$st" = Z ] || left=1
        done
        [ $left = 0 ] && break
        sleep 0.1
        i=$((i + 1))
    done
    mkdir -p "$root/var/tmp/.harness"
    if [ -d "$root/run/cloud-init" ]; then cp -a "$root/run/cloud-init" "$root/var/tmp/.harness/"; fi
    umount "$root/run" "$root/proc"
    if [ -d "$root/var/tmp/.harness/cloud-init" ]; then
        mv "$root/var/tmp/.harness/cloud-init" "$root/run/cloud-init"
    fi
    rmdir "$root/var/tmp/.harness"
' sh "$root" "$cmdline"
