#!/usr/bin/env bash
# Regenerate crates/distro/tests/fixtures/cloud-cfg/<variant>.json: upstream
# cloud-init 25.1.4's config/cloud.cfg.tmpl rendered for each variant by
# upstream's own templater (the oracle, ../shared/oracle), parsed and written
# as JSON. crates/distro/tests/cloud_cfg.rs compares the cloud.cfg each of our
# packages ships with these. CI does not run this.
# usage: crates/distro/tests/regen-cloud-cfg.sh [VARIANT...]
# Needs the oracle (/var/tmp/cloud-init-oracle, ../shared/oracle/setup-oracle.sh)
# and upstream's git tree (CIRS_UPSTREAM_GIT, default the fetched mirror).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${CIRS_ORACLE_PY:-/var/tmp/cloud-init-oracle/venv/bin/python}
git_dir=${CIRS_UPSTREAM_GIT:-/work/.mirror/canonical+cloud-init/repo}
[ $# -gt 0 ] || set -- debian rhel fedora suse arch alpine gentoo freebsd
tmpl=$(mktemp)
trap 'rm -f "$tmpl"' EXIT
git -C "$git_dir" show 25.1.4:config/cloud.cfg.tmpl > "$tmpl"
for v in "$@"; do
    # Upstream's packages install under /usr, FreeBSD's port under /usr/local.
    case $v in freebsd | dragonfly | netbsd | openbsd) prefix=/usr/local ;; *) prefix=/usr ;; esac
    "$py" - "$v" "$tmpl" "$prefix" > "$here/fixtures/cloud-cfg/$v.json" <<'PY'
import io, json, sys, contextlib
import yaml
from cloudinit import templater
variant, tmpl, prefix = sys.argv[1:4]
out = io.StringIO()
with contextlib.redirect_stdout(out):
    templater.render_template(variant, tmpl, "-", False, prefix=prefix)
print(json.dumps(yaml.safe_load(out.getvalue()), indent=1, sort_keys=True))
PY
    echo "ok $v"
done
