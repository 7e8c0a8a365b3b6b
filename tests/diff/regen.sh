#!/usr/bin/env bash
# Regenerate tests/diff/expected/<case>.json: upstream cloud-init 25.1.4 (Debian's
# package, in the root `tools/mkroot.sh --upstream` builds) boots each case twice on
# fresh copies of that root (tests/diff/run-upstream.sh), and the two filtered change
# sets must be equal: that is the test of the noise filter. The first is written out.
# With CIRS_OURS=/path/to/cloud-init, ours also boots each case (with --root) on a
# copy of the same root and is compared, as CI compares it on its own root.
# usage: tests/diff/regen.sh [CASE...]      (default: every directory in tests/diff/cases)
# Needs root, mmdebstrap and the Debian mirror. CI does not run this; it runs
# crates/cli/tests/differential.rs against the committed fixtures.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
base=$(bash "$repo/tools/mkroot.sh" --upstream)
version=$(chroot "$base" dpkg-query -W -f '${Version}' cloud-init)
work=$(mktemp -d /var/tmp/cirs-diff-XXXXXX)
trap 'rm -rf "$work"' EXIT
if [ $# -eq 0 ]; then
    set -- $(cd "$here/cases" && ls)
fi
failed=0
boot() { # boot NAME CASE_DIR KIND -> $work/NAME.json
    local name=$1 case=$2 kind=$3 root=$work/$1.root
    rm -rf "$root"
    cp -a "$base" "$root"
    bash "$here/prepare-root.sh" "$root" "$case"
    python3 "$here/changeset.py" snapshot "$root" "$work/$name.snap"
    if [ "$kind" = upstream ]; then
        bash "$here/run-upstream.sh" "$root" > "$work/$name.stdout" 2> "$work/$name.stderr"
    else
        for s in "init --local" "init" "modules --mode config" "modules --mode final"; do
            env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$CIRS_OURS" --root "$root" --machine-commands $s \
                >> "$work/$name.stdout" 2>> "$work/$name.stderr" || true
        done
    fi
    python3 "$here/changeset.py" diff "$root" "$work/$name.snap" "$base" > "$work/$name.json"
    cp "$root/var/log/cloud-init.log" "$work/$name.log" 2>/dev/null || true
    rm -rf "$root"
}
for name in "$@"; do
    case=$here/cases/$name
    [ -d "$case" ] || { echo "no case $case" >&2; exit 2; }
    boot "$name.a" "$case" upstream
    boot "$name.b" "$case" upstream
    if ! python3 "$here/changeset.py" compare "$work/$name.a.json" "$work/$name.b.json" > "$work/$name.self"; then
        echo "NOISE $name: upstream differs from upstream:" >&2
        cat "$work/$name.self" >&2
        failed=1
        continue
    fi
    python3 - "$name" "$version" "$work/$name.a.json" "$work/$name.a.stderr" > "$here/expected/$name.json" <<'PY'
import json, sys
name, version, changes, stderr = sys.argv[1:5]
exits = [l.strip() for l in open(stderr, encoding="utf-8", errors="replace") if l.startswith("upstream: cloud-init ")]
print(json.dumps({"case": name, "upstream": "cloud-init " + version,
                  "stage_exits": exits, "changes": json.load(open(changes))}, indent=1, sort_keys=True))
PY
    echo "ok $name ($(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["changes"]))' "$here/expected/$name.json") changes)"
    if [ -n "${CIRS_OURS:-}" ]; then
        boot "$name.ours" "$case" ours
        if ! python3 "$here/changeset.py" compare "$here/expected/$name.json" "$work/$name.ours.json" --deliberate "$here/deliberate.json"; then
            echo "DIFF $name (ours log: kept in /var/tmp/cirs-diff-last/$name.ours.log)" >&2
            mkdir -p /var/tmp/cirs-diff-last && cp "$work/$name.ours.log" "$work/$name.a.log" /var/tmp/cirs-diff-last/ 2>/dev/null || true
        fi
    fi
done
exit $failed
