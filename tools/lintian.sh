#!/bin/sh
# lintian on the cloud-init-rs package: fails on any error or warning that
# dist/debian/lintian-overrides does not justify (CI: `make lintian`).
# usage: tools/lintian.sh [DEB...]   (default: target/debian/cloud-init-rs_*.deb)
set -eu
cd "$(dirname "$0")/.."
if ! command -v lintian >/dev/null 2>&1; then
    echo "lintian: not installed (apt-get install lintian); package not checked" >&2
    exit 0
fi
[ $# -gt 0 ] || set -- target/debian/cloud-init-rs_*.deb
for deb in "$@"; do
    [ -f "$deb" ] || { echo "lintian: no package $deb (make deb first)" >&2; exit 1; }
done
# --display-info lists the info tags too; only errors and warnings fail.
exec lintian --fail-on error,warning --display-info "$@"
