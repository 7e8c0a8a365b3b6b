#!/bin/sh
# Regenerate fixtures/hosts.debian.out: what upstream's hosts.debian.tmpl
# renders to (hostname vm1, fqdn vm1.example.org) with the oracle's
# templater. dist.rs renders our dist/debian/templates/hosts.debian.tmpl and
# compares.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
py=${ORACLE_PYTHON:-/var/tmp/cloud-init-oracle/venv/bin/python}
tmpl=${1:-/var/tmp/cloud-init-oracle/root/etc/cloud/templates/hosts.debian.tmpl}
"$py" - "$tmpl" "$here/fixtures/hosts.debian.out" <<'PY'
import sys
from cloudinit.templater import render_string
src, dest = sys.argv[1:3]
with open(src) as f:
    text = f.read()
with open(dest, "w") as f:
    f.write(render_string(text, {"hostname": "vm1", "fqdn": "vm1.example.org"}))
PY
