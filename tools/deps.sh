#!/usr/bin/env bash
# Install what building and testing cloud-init-rs needs on a Debian machine.
# Idempotent: installs only what is missing. Run as root.
set -euo pipefail

need=()
command -v cc >/dev/null || need+=(gcc)
command -v useradd >/dev/null || need+=(passwd)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx sh || need+=(busybox-static)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v mkfs.vfat >/dev/null || need+=(dosfstools)
# FAT seed disks in the sources tests (mkfs.vfat, mcopy, mmd, mdel).
command -v mcopy >/dev/null || need+=(mtools)
# The package check (tools/lintian.sh, crates/cli/tests/help.rs).
command -v lintian >/dev/null || need+=(lintian)
# make rpm (rpmbuild) and the package tests that list its contents (rpm -qlp).
command -v rpmbuild >/dev/null || need+=(rpm)
# Temporary-networking tests: namespaces, a DHCP client, ps.
command -v ip >/dev/null || need+=(iproute2)
command -v dhcpcd >/dev/null || [ -x /usr/sbin/dhcpcd ] || need+=(dhcpcd-base)
command -v ps >/dev/null || need+=(procps)
# HTTPS tests make a throwaway CA and server certificate with it.
command -v openssl >/dev/null || need+=(openssl)
# The differential harness's change sets (tests/diff/changeset.py).
command -v python3 >/dev/null || need+=(python3)
if ! command -v cargo >/dev/null && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
    need+=(cargo rustc)
fi
if [ ${#need[@]} -gt 0 ]; then
    echo "deps: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
