#!/usr/bin/env bash
# Package the release binaries with the stand-in units as a throwaway .deb, so the VM tests
# can run before the real package (`make deb`) exists. Prints the .deb's path.
#   make-deb.sh RELEASE_DIR OUT_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
rel=$1 out=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
r=$work/root
install -d "$r/DEBIAN" "$r/usr/bin" "$r/usr/lib/systemd/system/multi-user.target.wants" \
    "$r/usr/lib/systemd/system/cloud-init.target.wants" "$r/etc/cloud/cloud.cfg.d"
for b in cloud-init cloud-id cloud-init-per; do install -m 755 "$rel/$b" "$r/usr/bin/$b"; done
for u in "$here"/*.service "$here"/*.target; do install -m 644 "$u" "$r/usr/lib/systemd/system/"; done
ln -s ../cloud-init.target "$r/usr/lib/systemd/system/multi-user.target.wants/cloud-init.target"
for u in cloud-init-local cloud-init-network cloud-config cloud-final; do
    ln -s "../$u.service" "$r/usr/lib/systemd/system/cloud-init.target.wants/$u.service"
done
install -m 644 "$repo/dist/debian/cloud.cfg" "$r/etc/cloud/cloud.cfg"
install -m 644 "$repo/dist/debian/05_logging.cfg" "$r/etc/cloud/cloud.cfg.d/05_logging.cfg"
printf 'datasource_list: [ NoCloud, None ]\n' > "$r/etc/cloud/cloud.cfg.d/90-standin.cfg"
cat > "$r/DEBIAN/control" <<CTL
Package: cloud-init-rs-standin
Version: 0.0.0~standin
Architecture: amd64
Maintainer: cloud-init-rs tests <nobody@invalid>
Depends: libc6
Provides: cloud-init
Conflicts: cloud-init
Replaces: cloud-init
Description: stand-in package for the VM tests
 Release binaries plus minimal units; replaced by the real package.
CTL
mkdir -p "$out"
deb=$out/cloud-init-rs-standin_0.0.0_amd64.deb
dpkg-deb --root-owner-group -Zgzip -b "$r" "$deb" >/dev/null
echo "$deb"
