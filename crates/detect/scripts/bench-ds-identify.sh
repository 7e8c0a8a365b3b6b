#!/bin/sh
# Benchmark (not a test): time our detector against upstream's ds-identify
# on a few golden cases' fake roots, N runs each with --force.
#
# Usage: crates/detect/scripts/bench-ds-identify.sh [N] [DS_IDENTIFY]
# Needs cargo and GNU time; upstream's script defaults to the oracle's
# copy. Both get the same fake blkid (a shell script) on PATH.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-100}
dsi=${2:-/var/tmp/cloud-init-oracle/root/usr/lib/cloud-init/ds-identify}
target=${CARGO_TARGET_DIR:-$here/../../target}
cargo build --quiet --release -p ci-detect --example ds-identify
ours="$target/release/examples/ds-identify"

# /run is a tmpfs at boot: work on one too, or fsync dominates.
work=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin" "$work/bin-ours"
# Upstream needs a ds-identify-named script; ours decides its mode by name.
cp "$ours" "$work/bin-ours/ds-identify"
cat > "$work/bin/blkid" <<'B'
#!/bin/sh
[ -f "$CASE/blkid" ] && exec cat "$CASE/blkid"
exit 2
B
chmod +x "$work/bin/blkid"

# Mean wall and CPU (user+sys, children included) milliseconds per run;
# on a busy machine the CPU figure is the one to compare.
run_n() {
    /usr/bin/time -f "%e %U %S" sh -c '
        n=$1; shift; i=0
        while [ $i -lt "$n" ]; do "$@" >/dev/null 2>&1; i=$((i + 1)); done
    ' run_n "$n" "$@" 2>&1 >/dev/null | tail -n 1 |
        awk -v n="$n" '{ printf "%.2f/%.2f", $1 * 1000 / n, ($2 + $3) * 1000 / n }'
}

printf '%-36s %14s %14s\n' "case (ms per run: wall/cpu)" ours upstream
for name in nothing-found ec2-aws-uuid configdrive-label-beats-openstack two-found-default-order; do
    case_dir="$here/tests/cases/$name"
    root="$work/root-$name"
    cp -a "$case_dir/root" "$root"
    export CASE="$case_dir" PATH_ROOT="$root" PATH="$work/bin:/usr/bin:/bin"
    o=$(run_n "$work/bin-ours/ds-identify" --force)
    u=$(run_n sh "$dsi" --force)
    printf '%-36s %14s %14s\n' "$name" "$o" "$u"
done
