#!/usr/bin/env bash
# Benchmark (not a test): render a 200-interface network config (v1: physical
# NICs with static v4+v6, some VLANs and bonds) with `devel net-convert`,
# cloud-init-rs against upstream cloud-init 25.1.4 (../shared/oracle), for
# several renderers; reports wall time of each and the ratio.
# usage: tools/bench-net.sh [N_INTERFACES]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release --quiet -p ci-cli
ours=$PWD/target/release/cloud-init
oracle=${ORACLE:-$PWD/../shared/oracle/cloud-init-oracle}
work=$(mktemp -d /var/tmp/cirs-benchnet-XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 - "$n" > "$work/net.yaml" <<'PY'
import sys
n = int(sys.argv[1])
print("version: 1\nconfig:")
for i in range(n):
    print(f"  - type: physical\n    name: eth{i}\n    mac_address: '52:54:00:{i // 65536 % 256:02x}:{i // 256 % 256:02x}:{i % 256:02x}'")
    print(f"    subnets:\n      - type: static\n        address: 10.{i // 256}.{i % 256}.2/24")
    print(f"      - type: static6\n        address: fd00:{i:x}::2/64")
print("  - type: nameserver\n    address: [10.0.0.1]\n    search: [example.internal]")
PY
printf '%-16s %10s %12s %8s\n' renderer ours_ms upstream_ms ratio
for r in networkd eni netplan; do
    t0=$(date +%s%N); "$ours" devel net-convert -p "$work/net.yaml" -k yaml -D debian -O $r -d "$work/o1-$r" 2>/dev/null; t1=$(date +%s%N)
    "$oracle" devel net-convert -p "$work/net.yaml" -k yaml -D debian -O $r -d "$work/o2-$r" 2>/dev/null; t2=$(date +%s%N)
    same=$(diff -rq "$work/o1-$r" "$work/o2-$r" >/dev/null && echo same || echo DIFFERENT)
    python3 -c "o=($t1-$t0)/1e6; u=($t2-$t1)/1e6; print(f'%-16s %10.1f %12.1f %8.4f  output %s' % ('$r', o, u, o/u, '$same'))"
done
