#!/bin/sh
# Build the cloud-init-rs RPM package for the Fedora/RHEL family with plain
# rpmbuild (no mock, no network): this script lays the files out in a staging
# tree, and dist/rpm/cloud-init-rs.spec packs that tree.
#
# usage: dist/rpm/build-rpm.sh --bin-dir DIR [--docs-dir DIR] [--out-dir DIR]
#                              [--variant rhel|fedora] [--stage DIR]
#                              [--version V] [--release R] [--layout-only]
#
#   --bin-dir      holds the cloud-init executable (`make static` builds it);
#                  cloud-id, cloud-init-per, the generator and ds-identify
#                  are links to it (it runs the program it is named as)
#   --docs-dir     output of `cargo run -p ci-cli --example gen-docs -- DIR`:
#                  man/*.1 and completions/ (without it the package has no man
#                  pages or completions)
#   --out-dir      where the .rpm goes (default target/rpm); older
#                  cloud-init-rs-*.rpm there are removed, so exactly one is left
#   --variant      rhel (default: RHEL and its rebuilds) or fedora: which
#                  /etc/cloud/cloud.cfg the package carries
#   --stage        staging directory (default: a temporary one); the package
#                  tree is STAGE/root, rpmbuild's private _topdir STAGE/top
#   --version      package version (default: the workspace version; a '-'
#                  becomes '~', which RPM sorts before the release)
#   --release      package release (default 1)
#   --layout-only  fill the staging tree and stop (no rpmbuild; for tests)
#
# Prints the path of the .rpm (or of the staging tree with --layout-only).
# SOURCE_DATE_EPOCH (default: the last commit's time) sets the build time
# and clamps file times, so the same inputs give the same package.
set -eu

repo=$(cd "$(dirname "$0")/../.." && pwd)
dist="$repo/dist"
bin_dir="" docs_dir="" out_dir="$repo/target/rpm" stage="" version="" release=1
variant=rhel layout_only=0
while [ $# -gt 0 ]; do
    case "$1" in
        --bin-dir) bin_dir=$2; shift 2;;
        --docs-dir) docs_dir=$2; shift 2;;
        --out-dir) out_dir=$2; shift 2;;
        --variant) variant=$2; shift 2;;
        --stage) stage=$2; shift 2;;
        --version) version=$2; shift 2;;
        --release) release=$2; shift 2;;
        --layout-only) layout_only=1; shift;;
        *) echo "build-rpm: unknown argument '$1'" >&2; exit 2;;
    esac
done
[ -n "$bin_dir" ] || { echo "build-rpm: --bin-dir is required" >&2; exit 2; }
[ -x "$bin_dir/cloud-init" ] || { echo "build-rpm: missing executable $bin_dir/cloud-init" >&2; exit 1; }
case "$variant" in
    rhel|fedora) ;;
    *) echo "build-rpm: --variant must be rhel or fedora, not '$variant'" >&2; exit 2;;
esac
if [ -z "$version" ]; then
    version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$repo/Cargo.toml")
    [ -n "$version" ] || { echo "build-rpm: no version in $repo/Cargo.toml" >&2; exit 1; }
fi
# RPM versions may not hold '-'; '~' keeps a pre-release (1.0.0~rc1) below 1.0.0.
version=$(printf '%s' "$version" | tr '-' '~')
case "$release" in
    ""|*-*|*[!A-Za-z0-9._+~]*) echo "build-rpm: bad --release '$release'" >&2; exit 2;;
esac
if [ -n "$docs_dir" ]; then
    for f in man/cloud-init.1 man/cloud-id.1 man/cloud-init-per.1 completions/cloud-init.bash \
             completions/_cloud-init completions/cloud-init.fish; do
        [ -f "$docs_dir/$f" ] || { echo "build-rpm: missing $docs_dir/$f (run gen-docs)" >&2; exit 1; }
    done
fi
# The package is x86_64 (rpmbuild --target): refuse another machine's binary.
if command -v od >/dev/null 2>&1; then
    machine=$(od -An -tu2 -j18 -N2 "$bin_dir/cloud-init" | tr -d ' ')
    [ "$machine" = 62 ] || { echo "build-rpm: $bin_dir/cloud-init is not an x86_64 ELF executable" >&2; exit 1; }
fi
if [ -z "$stage" ]; then
    stage=$(mktemp -d)
    trap 'rm -rf "$stage"' EXIT
fi
pkg="$stage/root"
rm -rf "$pkg"
mkdir -p "$pkg"

inst() { # mode src dest
    mkdir -p "$(dirname "$pkg/$3")"
    cp "$2" "$pkg/$3"
    chmod "$1" "$pkg/$3"
}

inst 0755 "$bin_dir/cloud-init" usr/bin/cloud-init
# Cargo strips symbols; drop the compiler's .comment and .note too, as
# RPM's brp-strip-comment-note would (its brp scripts are off: see the spec).
if command -v strip >/dev/null 2>&1; then
    strip --remove-section=.comment --remove-section=.note "$pkg/usr/bin/cloud-init"
fi
# One executable: every other program is a link named for it, at the paths
# upstream's RHEL package installs them (ds-identify under /usr/libexec).
ln -s cloud-init "$pkg/usr/bin/cloud-id"
ln -s cloud-init "$pkg/usr/bin/cloud-init-per"
mkdir -p "$pkg/usr/lib/systemd/system-generators" "$pkg/usr/libexec/cloud-init"
ln -s ../../../bin/cloud-init "$pkg/usr/lib/systemd/system-generators/cloud-init-generator"
ln -s ../../bin/cloud-init "$pkg/usr/libexec/cloud-init/ds-identify"
# The install_hotplug module's udev rule runs it from /usr/libexec/cloud-init
# when that directory exists.
inst 0755 "$dist/udev/hook-hotplug" usr/libexec/cloud-init/hook-hotplug
# The family's renderings of the units that upstream templates per distro
# (dist/rpm/systemd); the others are the same everywhere (dist/systemd).
for u in cloud-init-local.service cloud-init-network.service cloud-config.service \
         cloud-final.service cloud-init.target cloud-config.target \
         cloud-init-hotplugd.socket cloud-init-hotplugd.service cloud-init-main.service; do
    src="$dist/systemd/$u"
    [ -f "$dist/rpm/systemd/$u" ] && src="$dist/rpm/systemd/$u"
    inst 0644 "$src" "usr/lib/systemd/system/$u"
done
inst 0644 "$dist/systemd/sshd-keygen@.service.d/disable-sshd-keygen-if-cloud-init-active.conf" \
    "usr/lib/systemd/system/sshd-keygen@.service.d/disable-sshd-keygen-if-cloud-init-active.conf"
inst 0644 "$dist/rpm/cloud.cfg.$variant" etc/cloud/cloud.cfg
inst 0644 "$dist/debian/05_logging.cfg" etc/cloud/cloud.cfg.d/05_logging.cfg
inst 0644 "$dist/debian/cloud.cfg.d-README" etc/cloud/cloud.cfg.d/README
inst 0644 "$dist/rpm/templates/hosts.redhat.tmpl" etc/cloud/templates/hosts.redhat.tmpl
mkdir -p "$pkg/var/lib/cloud"
inst 0644 "$dist/rpm/COPYING" usr/share/licenses/cloud-init-rs/COPYING
inst 0644 "$repo/README.md" usr/share/doc/cloud-init-rs/README.md
inst 0644 "$repo/CHANGELOG.md" usr/share/doc/cloud-init-rs/CHANGELOG.md
docs=0
if [ -n "$docs_dir" ]; then
    docs=1
    # gzip -n: no name or time stamp, so the same tree gives the same package.
    for m in "$docs_dir"/man/*.1; do
        mkdir -p "$pkg/usr/share/man/man1"
        gzip -n -9 -c "$m" > "$pkg/usr/share/man/man1/$(basename "$m").gz"
        chmod 0644 "$pkg/usr/share/man/man1/$(basename "$m").gz"
    done
    for c in cloud-init cloud-id cloud-init-per; do
        inst 0644 "$docs_dir/completions/$c.bash" "usr/share/bash-completion/completions/$c"
        inst 0644 "$docs_dir/completions/_$c" "usr/share/zsh/site-functions/_$c"
        inst 0644 "$docs_dir/completions/$c.fish" "usr/share/fish/vendor_completions.d/$c.fish"
    done
fi
# Directories as the package owns them (rpm records the staged modes).
find "$pkg" -type d -exec chmod 0755 {} +

# A dynamically linked executable (a plain `cargo build`) needs the C
# library: require the glibc whose newest GLIBC_ symbol version it uses.
# The static one from `make static` needs nothing.
requires=""
if command -v objdump >/dev/null 2>&1; then
    for lib in $(objdump -p "$pkg/usr/bin/cloud-init" 2>/dev/null | sed -n 's/^ *NEEDED *//p'); do
        case "$lib" in
            libc.so.6|libm.so.6|libdl.so.2|libpthread.so.0|librt.so.1|ld-linux*) d=glibc;;
            libgcc_s.so.1) d=libgcc;;
            *) echo "build-rpm: no RPM package known for $lib" >&2; exit 1;;
        esac
        case " $requires " in *" $d "*) ;; *) requires="$requires $d";; esac
    done
    glibc=$(objdump -T "$pkg/usr/bin/cloud-init" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' |
        sed 's/GLIBC_//' | sort -uV | tail -n 1 || true)
    req_list=""
    for d in $requires; do
        if [ "$d" = glibc ] && [ -n "$glibc" ]; then d="glibc >= $glibc"; fi
        req_list="${req_list:+$req_list, }$d"
    done
    requires=$req_list
fi

if [ "$layout_only" = 1 ]; then
    echo "$pkg"
    exit 0
fi
command -v rpmbuild >/dev/null 2>&1 || { echo "build-rpm: rpmbuild not found (install rpm)" >&2; exit 1; }
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH
# A private _topdir (never ~/rpmbuild) and no user or host macros files, so
# the result depends on these inputs only.
top="$stage/top"
rm -rf "$top"
mkdir -p "$top/BUILD" "$top/BUILDROOT" "$top/RPMS" "$top/SPECS" "$top/SRPMS" "$top/SOURCES"
set -- \
    --define "_topdir $top" \
    --define "cirs_version $version" \
    --define "cirs_release $release" \
    --define "cirs_tree $pkg" \
    --define "cirs_scripts $dist/rpm/scripts" \
    --define "cirs_docs $docs" \
    --define "_buildhost reproducible" \
    --define "use_source_date_epoch_as_buildtime 1" \
    --define "clamp_mtime_to_source_date_epoch 1" \
    --define "_binary_payload w9.gzdio"
[ -z "$requires" ] || set -- "$@" --define "cirs_requires $requires"
if ! rpmbuild -bb --quiet --target x86_64 "$@" "$dist/rpm/cloud-init-rs.spec" > "$top/log" 2>&1; then
    cat "$top/log" >&2
    echo "build-rpm: rpmbuild failed" >&2
    exit 1
fi
built="$top/RPMS/x86_64/cloud-init-rs-$version-$release.x86_64.rpm"
[ -f "$built" ] || { cat "$top/log" >&2; echo "build-rpm: rpmbuild made no $built" >&2; exit 1; }
mkdir -p "$out_dir"
rm -f "$out_dir"/cloud-init-rs-*.rpm
cp "$built" "$out_dir/"
echo "$out_dir/$(basename "$built")"
