#!/bin/sh
# Wall time per file of `cloud-init schema -c FILE`, ours against upstream's
# (the oracle), over the schema conformance corpus: one process per file,
# start-up included, as a user would run it. Both run in the same call,
# alternating per file so machine load hits both alike.
#
# Usage: tools/bench-schema.sh [OUR_BINARY]
#   OUR_BINARY  default: $CARGO_TARGET_DIR (or target)/release/cloud-init,
#               else .../debug/cloud-init
#   CLOUD_INIT_ORACLE  default: /work/shared/oracle/cloud-init-oracle
#   BENCH_LIMIT=N      only the first N corpus files
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
corpus="$here/crates/schema/tests/corpus"
oracle=${CLOUD_INIT_ORACLE:-/work/shared/oracle/cloud-init-oracle}
target=${CARGO_TARGET_DIR:-$here/target}
ours=${1:-}
if [ -z "$ours" ]; then
    for b in "$target/release/cloud-init" "$target/debug/cloud-init"; do
        if [ -x "$b" ]; then ours=$b; break; fi
    done
fi
if [ -z "$ours" ] || [ ! -x "$ours" ]; then
    echo "bench-schema: no cloud-init binary; build one or pass its path" >&2
    exit 2
fi
if [ ! -x "$oracle" ]; then
    echo "bench-schema: oracle not found at $oracle" >&2
    exit 2
fi

now() { date +%s%N; }

cd "$corpus"
files=$(ls *.yaml | head -n "${BENCH_LIMIT:-100000}")
n=0 t_ours=0 t_oracle=0 agree=0
for f in $files; do
    extra=""
    case $f in
        net-*) extra="-t network-config" ;;
        jinja-*) extra="-i instance-data.json" ;;
    esac
    s=$(now)
    # shellcheck disable=SC2086
    "$ours" schema -c "$f" $extra >/dev/null 2>&1 && r1=0 || r1=$?
    m=$(now)
    # shellcheck disable=SC2086
    "$oracle" schema -c "$f" $extra >/dev/null 2>&1 && r2=0 || r2=$?
    e=$(now)
    t_ours=$((t_ours + m - s))
    t_oracle=$((t_oracle + e - m))
    n=$((n + 1))
    [ "$r1" = "$r2" ] && agree=$((agree + 1))
done

awk -v n="$n" -v a="$t_ours" -v b="$t_oracle" -v agree="$agree" -v bin="$ours" 'BEGIN {
    printf "files: %d (exit codes agree on %d)\n", n, agree
    printf "ours:   %8.2f ms/file  (%s)\n", a / n / 1e6, bin
    printf "oracle: %8.2f ms/file\n", b / n / 1e6
    printf "ratio oracle/ours: %.1fx\n", b / a
}'
