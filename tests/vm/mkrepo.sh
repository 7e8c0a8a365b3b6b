#!/usr/bin/env bash
# A tiny signed Debian repository for the VM tests' `apt: sources:` and `packages:` checks.
#
#   mkrepo.sh OUTDIR
#
# OUTDIR (made or emptied; keep it under /var/tmp, never in the repo) gets:
#   repo/          a flat repository (`deb [signed-by=...] http://HOST/ ./`): cirs-hello_1.0_all.deb,
#                  Packages, Packages.gz, Release (MD5Sum/SHA256 of both), Release.gpg, InRelease
#   key.asc        the armored public key that signs it
#   key.gpg        the same, dearmored (the keyring apt_configure should write from key.asc)
#   fingerprint    its fingerprint
# The key is a throwaway, made here with its own GNUPGHOME (gnupg/, deleted at the end), no
# passphrase. RSA 3072 with SHA512 signatures: trixie's apt verifies with sqv, whose policy
# refuses SHA-1 and weak keys.
#
# cirs-hello installs /usr/share/cirs-hello/hello (one line, below) and /usr/bin/cirs-hello.
set -euo pipefail

out=${1:?usage: mkrepo.sh OUTDIR}
case "$out" in /*) ;; *) out=$PWD/$out ;; esac
for t in gpg dpkg-deb gzip md5sum sha256sum; do
    command -v "$t" >/dev/null || { echo "mkrepo.sh: $t is missing" >&2; exit 1; }
done
rm -rf "$out"
mkdir -p "$out/repo" "$out/gnupg" "$out/pkg"
chmod 700 "$out/gnupg"
export GNUPGHOME=$out/gnupg
# The agent that gpg starts for this home is stopped on every exit.
trap 'gpgconf --kill gpg-agent >/dev/null 2>&1 || true; rm -rf "$out/gnupg" "$out/pkg"' EXIT

gpg --batch --quiet --pinentry-mode loopback --passphrase '' \
    --quick-generate-key 'cloud-init-rs VM test repository <vmtest@cirs.invalid>' rsa3072 sign 1d \
    2>/dev/null
fpr=$(gpg --batch --quiet --with-colons --list-keys | awk -F: '$1 == "fpr" { print $10; exit }')
[ -n "$fpr" ] || { echo "mkrepo.sh: key generation made no key" >&2; exit 1; }
gpg --batch --armor --export "$fpr" > "$out/key.asc"
gpg --batch --dearmor < "$out/key.asc" > "$out/key.gpg"
echo "$fpr" > "$out/fingerprint"

# ---- the package ----
p=$out/pkg/cirs-hello
mkdir -p "$p/DEBIAN" "$p/usr/share/cirs-hello" "$p/usr/bin"
echo 'hello from the cloud-init-rs test repository' > "$p/usr/share/cirs-hello/hello"
printf '#!/bin/sh\ncat /usr/share/cirs-hello/hello\n' > "$p/usr/bin/cirs-hello"
chmod 755 "$p/usr/bin/cirs-hello"
cat > "$p/DEBIAN/control" <<EOF
Package: cirs-hello
Version: 1.0
Architecture: all
Installed-Size: $(du -sk --exclude=DEBIAN "$p" | cut -f1)
Maintainer: cloud-init-rs tests <vmtest@cirs.invalid>
Section: misc
Priority: optional
Description: test package of the cloud-init-rs VM tests
 Installs one file and a script that prints it.
EOF
deb=cirs-hello_1.0_all.deb
dpkg-deb --root-owner-group -Zgzip --build "$p" "$out/repo/$deb" >/dev/null

# ---- the index: Packages is the control stanza plus where the file is and its hashes ----
cd "$out/repo"
{
    dpkg-deb -f "$deb"
    echo "Filename: ./$deb"
    echo "Size: $(stat -c %s "$deb")"
    echo "MD5sum: $(md5sum < "$deb" | cut -d' ' -f1)"
    echo "SHA256: $(sha256sum < "$deb" | cut -d' ' -f1)"
    echo
} > Packages
gzip -9nk Packages

{
    echo "Origin: cloud-init-rs"
    echo "Label: cloud-init-rs VM test"
    echo "Suite: vmtest"
    echo "Codename: vmtest"
    echo "Architectures: all amd64"
    echo "Date: $(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S UTC')"
    echo "Description: throwaway repository of the cloud-init-rs VM tests"
    for sum in MD5Sum:md5sum SHA256:sha256sum; do
        echo "${sum%%:*}:"
        for f in Packages Packages.gz; do
            printf ' %s %s %s\n' "$(${sum#*:} < "$f" | cut -d' ' -f1)" "$(stat -c %s "$f")" "$f"
        done
    done
} > Release
gpg --batch --yes --digest-algo SHA512 --local-user "$fpr" --clearsign -o InRelease Release
gpg --batch --yes --digest-algo SHA512 --local-user "$fpr" --armor --detach-sign -o Release.gpg Release
echo "$out"
