#!/usr/bin/env bash
# Regenerate crates/cli/tests/fixtures/analyze/expected/ with upstream cloud-init
# 25.1.4 (the oracle): for each line of fixtures/analyze/cases.txt, run
# `cloud-init analyze ARGS` in that directory and keep stdout (NAME.out), stderr
# (NAME.err), the exit code (NAME.rc) and, for @OUT, the file written (NAME.file).
# crates/cli/tests/analyze.rs runs ours on the same cases and compares.
#
# usage: crates/cli/tests/regen-analyze.sh [--logs]
#   --logs  first rebuild the two boot logs (as root; needs tools/mkroot.sh and,
#           for upstream's, mmdebstrap and the Debian mirror):
#           ours.log      our four stages on a sandbox copy of the Debian root
#                         with examples/nocloud (as tools/demo.sh);
#           upstream.log  upstream's four stages on its root through
#                         tests/diff/run-upstream.sh, case runcmd-fails.
#           Also written each time: events.json (the oracle's `analyze dump` of
#           upstream.log). multi.log (upstream.log then ours.log: two boots) is
#           made for the run and removed; the test makes it the same way.
#
# The boot cases need a machine without systemd running (no /run/systemd/system,
# as in a build container): there upstream prints its "not supported" report,
# which ours prints under --root. Elsewhere they are kept as they are.
# Logs with syslog-style timestamps take the current year: formats.log is only
# used with blame, whose figures do not depend on it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
fx=$here/fixtures/analyze
oracle=${CLOUD_INIT_ORACLE:-$repo/../shared/oracle/cloud-init-oracle}
[ -x "$oracle" ] || { echo "no oracle at $oracle (set CLOUD_INIT_ORACLE)" >&2; exit 2; }

if [ "${1:-}" = --logs ]; then
    work=$(mktemp -d /var/tmp/cirs-analyze-XXXXXX)
    trap 'rm -rf "$work"' EXIT
    cargo build -p ci-cli --quiet
    ours=${CARGO_TARGET_DIR:-$repo/target}/debug/cloud-init
    base=$(bash "$repo/tools/mkroot.sh")
    root=$work/ours
    cp -a "$base" "$root"
    mkdir -p "$root/var/lib/cloud/seed/nocloud" "$root/etc/cloud/cloud.cfg.d"
    cp "$repo"/examples/nocloud/* "$root/var/lib/cloud/seed/nocloud/"
    cp "$repo/dist/debian/cloud.cfg" "$root/etc/cloud/cloud.cfg"
    cp "$repo/dist/debian/05_logging.cfg" "$root/etc/cloud/cloud.cfg.d/"
    printf 'datasource_list: [ NoCloud, None ]\n' > "$root/etc/cloud/cloud.cfg.d/90-demo.cfg"
    for s in "init --local" "init" "modules --mode config" "modules --mode final"; do
        "$ours" --root "$root" $s > /dev/null 2>&1 || true
    done
    install -m 0644 "$root/var/log/cloud-init.log" "$fx/ours.log"
    upbase=$(bash "$repo/tools/mkroot.sh" --upstream)
    root=$work/upstream
    cp -a "$upbase" "$root"
    bash "$repo/tests/diff/prepare-root.sh" "$root" "$repo/tests/diff/cases/runcmd-fails"
    bash "$repo/tests/diff/run-upstream.sh" "$root" > /dev/null 2>&1
    install -m 0644 "$root/var/log/cloud-init.log" "$fx/upstream.log"
fi

cd "$fx"
cat upstream.log ours.log > multi.log
"$oracle" analyze dump -i upstream.log > events.json
mkdir -p expected
scratch=$(mktemp -d)
n=0
while IFS=$'\t' read -r -a f; do
    [ "${#f[@]}" -ge 3 ] || continue
    case ${f[0]} in '#'*) continue ;; esac
    name=${f[0]} stdin=${f[1]}
    args=("${f[@]:2}")
    if [ "${args[0]}" = boot ] && [ -d /run/systemd/system ]; then
        echo "kept $name (systemd runs here)" >&2
        continue
    fi
    rm -f "$scratch/out"
    for i in "${!args[@]}"; do
        [ "${args[$i]}" = @OUT ] && args[$i]=$scratch/out
    done
    [ "$stdin" = - ] && stdin=/dev/null
    rc=0
    "$oracle" analyze "${args[@]}" < "$stdin" > "expected/$name.out" 2> "expected/$name.err" || rc=$?
    echo "$rc" > "expected/$name.rc"
    rm -f "expected/$name.file"
    if [ -f "$scratch/out" ]; then cp "$scratch/out" "expected/$name.file"; fi
    n=$((n + 1))
done < cases.txt
rm -rf "$scratch" multi.log
echo "wrote $n cases to $fx/expected"
