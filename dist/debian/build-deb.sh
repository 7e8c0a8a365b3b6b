#!/bin/sh
# Build the cloud-init-rs Debian package with plain dpkg-deb (no debhelper).
#
# usage: dist/debian/build-deb.sh --bin-dir DIR [--docs-dir DIR] [--out-dir DIR]
#                                 [--stage DIR] [--version V] [--arch A]
#                                 [--layout-only]
#
#   --bin-dir      holds the cloud-init executable; cloud-id, cloud-init-per, the
#                  generator and ds-identify are links to it (it runs the program
#                  it is named as)
#   --docs-dir     output of `cargo run -p ci-cli --example gen-docs -- DIR`:
#                  man/*.1 and completions/ (make deb passes it; without it
#                  the package has no man pages or completions)
#   --out-dir      where the .deb goes (default target/debian); older
#                  cloud-init-rs_*.deb there are removed, so exactly one is left
#   --stage        staging tree (default: a temporary directory)
#   --version      package version (default: the workspace version)
#   --arch         Debian architecture (default: dpkg --print-architecture)
#   --layout-only  fill the staging tree and stop (no dpkg-deb; for tests)
#
# Prints the path of the .deb (or of the staging tree with --layout-only).
set -eu

repo=$(cd "$(dirname "$0")/../.." && pwd)
dist="$repo/dist"
bin_dir="" docs_dir="" out_dir="$repo/target/debian" stage="" version="" arch="" layout_only=0
while [ $# -gt 0 ]; do
    case "$1" in
        --bin-dir) bin_dir=$2; shift 2;;
        --docs-dir) docs_dir=$2; shift 2;;
        --out-dir) out_dir=$2; shift 2;;
        --stage) stage=$2; shift 2;;
        --version) version=$2; shift 2;;
        --arch) arch=$2; shift 2;;
        --layout-only) layout_only=1; shift;;
        *) echo "build-deb: unknown argument '$1'" >&2; exit 2;;
    esac
done
[ -n "$bin_dir" ] || { echo "build-deb: --bin-dir is required" >&2; exit 2; }
[ -x "$bin_dir/cloud-init" ] || { echo "build-deb: missing executable $bin_dir/cloud-init" >&2; exit 1; }
if [ -z "$version" ]; then
    version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$repo/Cargo.toml")
    [ -n "$version" ] || { echo "build-deb: no version in $repo/Cargo.toml" >&2; exit 1; }
fi
if [ -n "$docs_dir" ]; then
    for f in man/cloud-init.1 man/cloud-id.1 man/cloud-init-per.1 completions/cloud-init.bash \
             completions/_cloud-init completions/cloud-init.fish; do
        [ -f "$docs_dir/$f" ] || { echo "build-deb: missing $docs_dir/$f (run gen-docs)" >&2; exit 1; }
    done
fi
if [ -z "$arch" ]; then
    arch=$(dpkg --print-architecture 2>/dev/null) || arch=""
    if [ -z "$arch" ]; then
        case "$(uname -m)" in
            x86_64) arch=amd64;; aarch64) arch=arm64;; *) arch=$(uname -m);;
        esac
    fi
fi
if [ -z "$stage" ]; then
    stage=$(mktemp -d)
    trap 'rm -rf "$stage"' EXIT
fi
pkg="$stage/cloud-init-rs"
rm -rf "$pkg"

inst() { # mode src dest
    mkdir -p "$(dirname "$pkg/$3")"
    cp "$2" "$pkg/$3"
    chmod "$1" "$pkg/$3"
}

inst 0755 "$bin_dir/cloud-init" usr/bin/cloud-init
# Cargo strips symbols; drop the compiler's .comment and .note too, as dh_strip does.
if command -v strip >/dev/null 2>&1; then
    strip --remove-section=.comment --remove-section=.note "$pkg/usr/bin/cloud-init"
fi
# One executable: every other program is a link named for it. ds-identify keeps
# upstream's path, which scripts and people call.
ln -s cloud-init "$pkg/usr/bin/cloud-id"
ln -s cloud-init "$pkg/usr/bin/cloud-init-per"
mkdir -p "$pkg/usr/lib/systemd/system-generators" "$pkg/usr/lib/cloud-init"
ln -s ../../../bin/cloud-init "$pkg/usr/lib/systemd/system-generators/cloud-init-generator"
ln -s ../../bin/cloud-init "$pkg/usr/lib/cloud-init/ds-identify"
for u in cloud-init-local.service cloud-init-network.service cloud-config.service \
         cloud-final.service cloud-init.target cloud-config.target \
         cloud-init-hotplugd.socket cloud-init-hotplugd.service cloud-init-main.service; do
    inst 0644 "$dist/systemd/$u" "usr/lib/systemd/system/$u"
done
# Where the install_hotplug module's udev rule runs it (no /usr/libexec/cloud-init).
inst 0755 "$dist/udev/hook-hotplug" usr/lib/cloud-init/hook-hotplug
inst 0644 "$dist/systemd/sshd-keygen@.service.d/disable-sshd-keygen-if-cloud-init-active.conf" \
    "usr/lib/systemd/system/sshd-keygen@.service.d/disable-sshd-keygen-if-cloud-init-active.conf"
inst 0644 "$dist/debian/cloud.cfg" etc/cloud/cloud.cfg
inst 0644 "$dist/debian/05_logging.cfg" etc/cloud/cloud.cfg.d/05_logging.cfg
inst 0644 "$dist/debian/cloud.cfg.d-README" etc/cloud/cloud.cfg.d/README
inst 0644 "$dist/debian/templates/hosts.debian.tmpl" etc/cloud/templates/hosts.debian.tmpl
# LSB scripts for boots without systemd (sysvinit-core, or Debian's OpenRC,
# which runs them too), named as the units so systemd ignores them.
for s in cloud-init-local cloud-init-network cloud-config cloud-final; do
    inst 0755 "$dist/debian/init.d/$s" "etc/init.d/$s"
done
inst 0644 "$dist/debian/copyright" usr/share/doc/cloud-init-rs/copyright
inst 0644 "$dist/debian/lintian-overrides" usr/share/lintian/overrides/cloud-init-rs

# gzip -n: no name or time stamp, so the same tree gives the same package.
gz() { # src dest
    mkdir -p "$(dirname "$pkg/$2")"
    gzip -n -9 -c "$1" > "$pkg/$2"
    chmod 0644 "$pkg/$2"
}
# The package version has no Debian revision, so this is a native package and
# its changelog is changelog.gz (Debian policy 12.7). A build whose version is
# not the newest entry's gets an entry of its own, so the changelog always
# names the version it ships with.
changelog="$dist/debian/changelog"
maintainer=${DEB_MAINTAINER:-$(sed -n 's/^ -- \(.*>\)  .*/\1/p' "$changelog" | head -n 1)}
top=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$changelog")
if [ "$top" = "$version" ]; then
    gz "$changelog" usr/share/doc/cloud-init-rs/changelog.gz
else
    when=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}
    entry=$(mktemp)
    {
        printf 'cloud-init-rs (%s) UNRELEASED; urgency=medium\n\n' "$version"
        printf '  * Built from a source tree at version %s, not a release.\n\n' "$version"
        printf ' -- %s  %s\n\n' "$maintainer" "$(LC_ALL=C date -u -R -d "@$when")"
        cat "$changelog"
    } > "$entry"
    gz "$entry" usr/share/doc/cloud-init-rs/changelog.gz
    rm -f "$entry"
fi
if [ -n "$docs_dir" ]; then
    for m in "$docs_dir"/man/*.1; do
        gz "$m" "usr/share/man/man1/$(basename "$m").gz"
    done
    for c in cloud-init cloud-id cloud-init-per; do
        inst 0644 "$docs_dir/completions/$c.bash" "usr/share/bash-completion/completions/$c"
        inst 0644 "$docs_dir/completions/_$c" "usr/share/zsh/vendor-completions/_$c"
        inst 0644 "$docs_dir/completions/$c.fish" "usr/share/fish/vendor_completions.d/$c.fish"
    done
fi

# Shared libraries the binaries load, as Debian package names; the libc6
# minimum is the newest GLIBC_ symbol version they use.
needed=$(for b in "$pkg"/usr/bin/cloud-init; do
    objdump -p "$b" 2>/dev/null | sed -n 's/^ *NEEDED *//p'
done | sort -u)
depends="" glibc=""
for lib in $needed; do
    case "$lib" in
        libc.so.6|libm.so.6|libdl.so.2|libpthread.so.0|librt.so.1|ld-linux*) d=libc6;;
        libgcc_s.so.1) d=libgcc-s1;;
        *) echo "build-deb: no Debian package known for $lib" >&2; exit 1;;
    esac
    case " $depends " in *" $d "*) ;; *) depends="$depends $d";; esac
done
if command -v objdump >/dev/null 2>&1; then
    glibc=$(for b in "$pkg"/usr/bin/cloud-init; do
        objdump -T "$b" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' || true
    done | sed 's/GLIBC_//' | sort -uV | tail -n 1)
fi
[ -n "$depends" ] || depends=" libc6"
dep_list=""
for d in $depends; do
    if [ "$d" = libc6 ] && [ -n "$glibc" ]; then d="libc6 (>= $glibc)"; fi
    dep_list="${dep_list:+$dep_list, }$d"
done
# useradd/usermod/chpasswd come from passwd; mount for seed disks; locales for
# the locale module (locale-gen, update-locale), as Debian's cloud-init depends on it;
# a DHCP client for the local stage's temporary networking (we drive dhcpcd or udhcpc,
# never dhclient).
dep_list="$dep_list, passwd, mount, locales, dhcpcd-base | udhcpc"

mkdir -p "$pkg/DEBIAN"
inst 0755 "$dist/debian/postinst" DEBIAN/postinst
inst 0755 "$dist/debian/postrm" DEBIAN/postrm
inst 0644 "$dist/debian/triggers" DEBIAN/triggers
(cd "$pkg" && find etc -type f | sort | sed 's#^#/#') > "$pkg/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: cloud-init-rs
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $dep_list
Recommends: openssh-client, sudo
Provides: cloud-init
Conflicts: cloud-init
Replaces: cloud-init
Section: admin
Priority: optional
Description: initialization of cloud instances (cloud-init in Rust)
 A drop-in replacement for cloud-init: it reads the instance's meta-data,
 user-data and vendor-data (NoCloud seed disks and more) on first boot and
 creates users, installs SSH keys, sets the hostname, writes files and runs
 commands, with the same configuration files, commands, unit names and
 on-disk state as cloud-init.
CONTROL
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -print | sed 's#^\./##' | sort |
    xargs md5sum) > "$pkg/DEBIAN/md5sums"

if [ "$layout_only" = 1 ]; then
    echo "$pkg"
    exit 0
fi
mkdir -p "$out_dir"
deb="$out_dir/cloud-init-rs_${version}_${arch}.deb"
rm -f "$out_dir"/cloud-init-rs_*.deb
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "$deb"
