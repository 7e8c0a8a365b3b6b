#!/bin/sh
# Build the cloud-init-rs Debian package with plain dpkg-deb (no debhelper).
#
# usage: dist/debian/build-deb.sh --bin-dir DIR [--out-dir DIR] [--stage DIR]
#                                 [--version V] [--arch A] [--layout-only]
#
#   --bin-dir      holds cloud-init, cloud-id, cloud-init-per, cloud-init-generator
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
bin_dir="" out_dir="$repo/target/debian" stage="" version="" arch="" layout_only=0
while [ $# -gt 0 ]; do
    case "$1" in
        --bin-dir) bin_dir=$2; shift 2;;
        --out-dir) out_dir=$2; shift 2;;
        --stage) stage=$2; shift 2;;
        --version) version=$2; shift 2;;
        --arch) arch=$2; shift 2;;
        --layout-only) layout_only=1; shift;;
        *) echo "build-deb: unknown argument '$1'" >&2; exit 2;;
    esac
done
[ -n "$bin_dir" ] || { echo "build-deb: --bin-dir is required" >&2; exit 2; }
for b in cloud-init cloud-id cloud-init-per cloud-init-generator; do
    [ -x "$bin_dir/$b" ] || { echo "build-deb: missing executable $bin_dir/$b" >&2; exit 1; }
done
if [ -z "$version" ]; then
    version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$repo/Cargo.toml")
    [ -n "$version" ] || { echo "build-deb: no version in $repo/Cargo.toml" >&2; exit 1; }
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

for b in cloud-init cloud-id cloud-init-per; do
    inst 0755 "$bin_dir/$b" "usr/bin/$b"
done
inst 0755 "$bin_dir/cloud-init-generator" usr/lib/systemd/system-generators/cloud-init-generator
# Scripts and people call ds-identify by upstream's path; the generator
# behaves as ds-identify when started under that name.
mkdir -p "$pkg/usr/lib/cloud-init"
ln -s ../systemd/system-generators/cloud-init-generator "$pkg/usr/lib/cloud-init/ds-identify"
for u in cloud-init-local.service cloud-init-network.service cloud-config.service \
         cloud-final.service cloud-init.target cloud-config.target \
         cloud-init-hotplugd.socket cloud-init-hotplugd.service; do
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
inst 0644 "$dist/debian/copyright" usr/share/doc/cloud-init-rs/copyright

# Shared libraries the binaries load, as Debian package names; the libc6
# minimum is the newest GLIBC_ symbol version they use.
needed=$(for b in "$pkg"/usr/bin/* "$pkg"/usr/lib/systemd/system-generators/*; do
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
    glibc=$(for b in "$pkg"/usr/bin/* "$pkg"/usr/lib/systemd/system-generators/*; do
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
(cd "$pkg" && find etc -type f | sort | sed 's#^#/#') > "$pkg/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat > "$pkg/DEBIAN/control" <<CONTROL
Package: cloud-init-rs
Version: $version
Architecture: $arch
Maintainer: ${DEB_MAINTAINER:-cloud-init-rs developers <cloud-init-rs@localhost>}
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
