#!/bin/sh
# Regenerate fixtures/upstream-units.tsv: every ordering, dependency,
# condition and service-type setting of upstream's systemd units (from the
# oracle's package tree), one "unit<TAB>key<TAB>value" per line. The test in
# dist.rs requires each of them in dist/systemd/.
#
# Usage: crates/detect/tests/regen-units.sh [UNIT_DIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-/var/tmp/cloud-init-oracle/root/usr/lib/systemd/system}
[ -d "$dir" ] || { echo "no unit dir $dir (run shared/oracle/setup-oracle.sh)" >&2; exit 1; }
out="$here/fixtures/upstream-units.tsv"
: > "$out"
for u in cloud-init-local.service cloud-init-network.service cloud-config.service \
         cloud-final.service cloud-init-main.service cloud-init.target cloud-config.target \
         sshd-keygen@.service.d/disable-sshd-keygen-if-cloud-init-active.conf; do
    grep -E '^(After|Before|Wants|Requires|Conflicts|Condition[A-Za-z]*|DefaultDependencies|WantedBy|Type|RemainAfterExit|TimeoutSec|TasksMax|StandardOutput)=' "$dir/$u" |
    while IFS='=' read -r key val; do
        case "$key" in
            Condition*|StandardOutput) printf '%s\t%s\t%s\n' "$u" "$key" "$val";;
            *) for v in $val; do printf '%s\t%s\t%s\n' "$u" "$key" "$v"; done;;
        esac
    done >> "$out"
done
wc -l < "$out"
