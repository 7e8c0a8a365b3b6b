#!/usr/bin/env bash
# Benchmark (not a test): the four boot stages on the examples/nocloud seed,
# cloud-init-rs against upstream cloud-init 25.1.4 (Debian trixie's package)
# on copies of the same minimal Debian root, interleaved, N rounds each.
# Reports median wall time per full boot, the ratio, and peak RSS per stage.
# usage: sudo tools/bench-stages.sh [ROUNDS]    (default 5)
# Upstream runs in a chroot inside namespaces made here (no network, own
# hostname); ours runs with --root. Needs root, mmdebstrap, GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
export PATH="$HOME/.cargo/bin:$PATH"
command -v /usr/bin/time >/dev/null || apt-get install -y -q time >/dev/null
cargo build --release --quiet
bin=$PWD/target/release/cloud-init
base=$(bash tools/mkroot.sh)
oracle_root=${CIRS_CACHE:-/var/tmp/cloud-init-rs}/oracle-root-trixie
[ -f "$oracle_root/.complete" ] || bash tests/sandbox/regen-oracle.sh >/dev/null
work=$(mktemp -d /var/tmp/cirs-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT

prep() { # src dst
    rm -rf "$2"; cp -a "$1" "$2"
    mkdir -p "$2/var/lib/cloud/seed/nocloud" "$2/etc/cloud/cloud.cfg.d"
    cp examples/nocloud/* "$2/var/lib/cloud/seed/nocloud/"
    printf 'datasource_list: [ NoCloud, None ]\n' > "$2/etc/cloud/cloud.cfg.d/90-bench.cfg"
}

ours() { # root -> prints "ms maxrss_kb"
    local r=$1 t0 t1 rss=0 k
    cp dist/debian/cloud.cfg "$r/etc/cloud/cloud.cfg"
    cp dist/debian/05_logging.cfg "$r/etc/cloud/cloud.cfg.d/"
    t0=$(date +%s%N)
    for s in "init --local" "init" "modules --mode config" "modules --mode final"; do
        /usr/bin/time -f '%M' -o "$work/rss" "$bin" --root "$r" $s >/dev/null 2>&1 || true
        k=$(tail -1 "$work/rss"); [ "$k" -gt "$rss" ] 2>/dev/null && rss=$k
    done
    t1=$(date +%s%N)
    echo "$(( (t1 - t0) / 1000000 )) $rss"
}

theirs() { # root -> prints "ms maxrss_kb"
    local r=$1 t0 t1
    t0=$(date +%s%N)
    unshare --uts --net --mount --pid --fork --mount-proc=/proc sh -c '
        r=$1; mount -t proc proc "$r/proc"; mount -t tmpfs tmpfs "$r/run"; rss=0
        for s in "init --local" "init" "modules --mode config" "modules --mode final"; do
            /usr/bin/time -f "%M" -o "$r/var/tmp/rss1" chroot "$r" cloud-init $s >/dev/null 2>&1 || true
            k=$(tail -1 "$r/var/tmp/rss1")
            [ "$k" -gt "$rss" ] 2>/dev/null && rss=$k
        done
        echo "$rss" > "$r/var/tmp/bench-rss"
        umount "$r/run" "$r/proc"' sh "$r" >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    echo "$(( (t1 - t0) / 1000000 )) $(cat "$r/var/tmp/bench-rss" 2>/dev/null || echo 0)"
}

echo "round ours_ms ours_rss_kb upstream_ms upstream_rss_kb" > "$work/results"
for i in $(seq "$rounds"); do
    prep "$base" "$work/ours"; read -r om orss < <(ours "$work/ours")
    prep "$oracle_root" "$work/theirs"; read -r tm trss < <(theirs "$work/theirs")
    echo "$i $om $orss $tm $trss" | tee -a "$work/results"
done
python3 - "$work/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
om = statistics.median(int(r[1]) for r in rows); tm = statistics.median(int(r[3]) for r in rows)
orss = max(int(r[2]) for r in rows); trss = max(int(r[4]) for r in rows)
print(f"median four-stage wall time: cloud-init-rs {om:.0f} ms, upstream {tm:.0f} ms, ratio {om/tm:.3f} (upstream/ours {tm/om:.1f}x)")
print(f"peak RSS of one stage process: cloud-init-rs {orss/1024:.1f} MiB, upstream {trss/1024:.1f} MiB, ratio {orss/trss:.3f}")
PY
