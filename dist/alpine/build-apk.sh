#!/bin/sh
# Build the cloud-init-rs Alpine package without abuild: an unsigned APK v2
# file, written as abuild writes one (see dist/alpine/APKBUILD for building
# on Alpine itself).
#
# usage: dist/alpine/build-apk.sh --bin-dir DIR [--docs-dir DIR] [--out-dir DIR]
#                                 [--stage DIR] [--version V] [--release N]
#                                 [--arch A] [--layout-only | --install-root DIR]
#
#   --bin-dir      holds the cloud-init executable (make apk passes the static
#                  one); cloud-id, cloud-init-per and ds-identify are links to
#                  it (it runs the program it is named as)
#   --docs-dir     output of `cargo run -p ci-cli --example gen-docs -- DIR`:
#                  man/*.1 and completions/ (without it: no man pages or
#                  completions)
#   --out-dir      where the .apk goes (default target/apk); older
#                  cloud-init-rs-*.apk there are removed, so exactly one is left
#   --stage        staging tree (default: a temporary directory)
#   --version      package version (default: the workspace version)
#   --release      package release, the N of -rN (default 0)
#   --arch         Alpine architecture (default: from uname -m)
#   --layout-only  fill the staging tree and stop: STAGE/cloud-init-rs/data
#                  (the files) and STAGE/cloud-init-rs/control (.PKGINFO and
#                  the install scripts); for tests
#   --install-root install the package's files under DIR and stop (abuild's
#                  $pkgdir, from APKBUILD's package())
#
# Prints the path of the .apk (or of the staging tree, or of DIR).
#
# The file: two gzip streams one after the other. The first holds the
# control tar segment (.PKGINFO, .post-install, .post-deinstall) without the
# tar end-of-archive blocks; the second the data tar, each file and symlink
# preceded by a PAX header carrying APK-TOOLS.checksum.SHA1, as
# `abuild-tar --hash` writes it. .PKGINFO's datahash is the SHA-256 of the
# second gzip stream. A package abuild signs has one more stream in front,
# the .SIGN.RSA.* signature; this one has none, so install it with
# `apk add --allow-untrusted`, or sign it with `abuild-sign` on Alpine.
set -eu

repo=$(cd "$(dirname "$0")/../.." && pwd)
dist="$repo/dist"
bin_dir="" docs_dir="" out_dir="$repo/target/apk" stage="" version="" release=0 arch=""
layout_only=0 install_root=""
while [ $# -gt 0 ]; do
    case "$1" in
        --bin-dir) bin_dir=$2; shift 2;;
        --docs-dir) docs_dir=$2; shift 2;;
        --out-dir) out_dir=$2; shift 2;;
        --stage) stage=$2; shift 2;;
        --version) version=$2; shift 2;;
        --release) release=$2; shift 2;;
        --arch) arch=$2; shift 2;;
        --layout-only) layout_only=1; shift;;
        --install-root) install_root=$2; shift 2;;
        *) echo "build-apk: unknown argument '$1'" >&2; exit 2;;
    esac
done
[ -n "$bin_dir" ] || { echo "build-apk: --bin-dir is required" >&2; exit 2; }
[ -x "$bin_dir/cloud-init" ] || { echo "build-apk: missing executable $bin_dir/cloud-init" >&2; exit 1; }
if [ -z "$version" ]; then
    version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$repo/Cargo.toml")
    [ -n "$version" ] || { echo "build-apk: no version in $repo/Cargo.toml" >&2; exit 1; }
fi
# apk compares versions by its own grammar: digits and dots, then optional
# _suffix (e.g. 0.2.0_rc1); Cargo's 0.2.0-rc.1 is not one.
if ! printf '%s\n' "$version" | grep -Eq '^[0-9]+(\.[0-9]+)*[a-z]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]*)*$'; then
    echo "build-apk: '$version' is not an apk version (e.g. 1.2.3 or 1.2.3_rc1)" >&2
    exit 1
fi
case "$release" in ''|*[!0-9]*) echo "build-apk: --release must be a number" >&2; exit 2;; esac
if [ -n "$docs_dir" ]; then
    for f in man/cloud-init.1 man/cloud-id.1 man/cloud-init-per.1 completions/cloud-init.bash \
             completions/_cloud-init completions/cloud-init.fish; do
        [ -f "$docs_dir/$f" ] || { echo "build-apk: missing $docs_dir/$f (run gen-docs)" >&2; exit 1; }
    done
fi
if [ -z "$arch" ]; then
    # Alpine's names are the kernel's, except 32-bit x86 and ARM.
    case "$(uname -m)" in
        i?86) arch=x86;; armv7*) arch=armv7;; *) arch=$(uname -m);;
    esac
fi

if [ -n "$install_root" ]; then
    pkg=$install_root
    mkdir -p "$pkg"
else
    if [ -z "$stage" ]; then
        stage=$(mktemp -d)
        trap 'rm -rf "$stage"' EXIT
    fi
    rm -rf "$stage/cloud-init-rs"
    pkg="$stage/cloud-init-rs/data"
    mkdir -p "$pkg"
fi

inst() { # mode src dest
    mkdir -p "$(dirname "$pkg/$3")"
    cp "$2" "$pkg/$3"
    chmod "$1" "$pkg/$3"
}

inst 0755 "$bin_dir/cloud-init" usr/bin/cloud-init
if command -v strip >/dev/null 2>&1; then
    strip --remove-section=.comment --remove-section=.note "$pkg/usr/bin/cloud-init" 2>/dev/null || true
fi
# One executable: the other programs are links named for it, at upstream's
# paths. No systemd generator: Alpine boots with OpenRC.
ln -s cloud-init "$pkg/usr/bin/cloud-id"
ln -s cloud-init "$pkg/usr/bin/cloud-init-per"
mkdir -p "$pkg/usr/lib/cloud-init"
ln -s ../../bin/cloud-init "$pkg/usr/lib/cloud-init/ds-identify"
# The udev hook the install_hotplug module's rule runs, and the listener the
# cloud-init-hotplug service starts (upstream's openrc layout).
inst 0755 "$dist/udev/hook-hotplug" usr/lib/cloud-init/hook-hotplug
inst 0755 "$dist/udev/cloud-init-hotplugd" usr/lib/cloud-init/cloud-init-hotplugd
for s in cloud-init-local cloud-init cloud-config cloud-final cloud-init-ds-identify \
         cloud-init-hotplug; do
    inst 0755 "$dist/openrc/$s" "etc/init.d/$s"
done
inst 0644 "$dist/alpine/cloud.cfg" etc/cloud/cloud.cfg
inst 0644 "$dist/debian/05_logging.cfg" etc/cloud/cloud.cfg.d/05_logging.cfg
inst 0644 "$dist/debian/cloud.cfg.d-README" etc/cloud/cloud.cfg.d/README
inst 0644 "$dist/alpine/hosts.alpine.tmpl" etc/cloud/templates/hosts.alpine.tmpl
inst 0644 "$dist/alpine/cloud-init.logrotate" etc/logrotate.d/cloud-init
inst 0644 "$dist/debian/copyright" usr/share/licenses/cloud-init-rs/copyright
if [ -n "$docs_dir" ]; then
    for m in "$docs_dir"/man/*.1; do
        mkdir -p "$pkg/usr/share/man/man1"
        gzip -n -9 -c "$m" > "$pkg/usr/share/man/man1/$(basename "$m").gz"
        chmod 0644 "$pkg/usr/share/man/man1/$(basename "$m").gz"
    done
    # Alpine's places: zsh's site-functions, not Debian's vendor-completions.
    for c in cloud-init cloud-id cloud-init-per; do
        inst 0644 "$docs_dir/completions/$c.bash" "usr/share/bash-completion/completions/$c"
        inst 0644 "$docs_dir/completions/_$c" "usr/share/zsh/site-functions/_$c"
        inst 0644 "$docs_dir/completions/$c.fish" "usr/share/fish/vendor_completions.d/$c.fish"
    done
fi

if [ -n "$install_root" ]; then
    echo "$pkg"
    exit 0
fi

# What abuild would write. depend: what the agent runs that busybox does not
# provide as Alpine's cloud-init package needs it (blkid -o export,
# growpart, iproute2's ip, zoneinfo), and /bin/sh for the install scripts
# (abuild adds it). No python, no shadow: users are made with busybox
# adduser/addgroup when shadow is missing. The versioned provides makes apk
# keep either this or Alpine's cloud-init, never both; replaces lets this
# one take over the files of Alpine's cloud-init-openrc.
ctl="$stage/cloud-init-rs/control"
mkdir -p "$ctl"
cp "$dist/alpine/cloud-init-rs.post-install" "$ctl/.post-install"
cp "$dist/alpine/cloud-init-rs.post-deinstall" "$ctl/.post-deinstall"
chmod 0755 "$ctl/.post-install" "$ctl/.post-deinstall"
when=${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}
packager=${PACKAGER:-$(sed -n 's/^ -- \(.*>\)  .*/\1/p' "$dist/debian/changelog" | head -n 1)}
commit=$(git -C "$repo" rev-parse HEAD 2>/dev/null || true)
# Installed size in bytes as abuild counts it (du -sk, times 1024).
size=$(( $(du -sk "$pkg" | cut -f1) * 1024 ))
{
    echo "# Generated by cloud-init-rs dist/alpine/build-apk.sh"
    echo "pkgname = cloud-init-rs"
    echo "pkgver = $version-r$release"
    echo "pkgdesc = Cloud instance initialization (cloud-init in Rust)"
    echo "url = ${APK_URL:-https://cloud-init.io}"
    echo "builddate = $when"
    echo "packager = ${packager:-Unknown}"
    echo "size = $size"
    echo "arch = $arch"
    echo "origin = cloud-init-rs"
    [ -z "$commit" ] || echo "commit = $commit"
    echo "license = Apache-2.0 OR GPL-3.0-only"
    echo "replaces = cloud-init"
    echo "replaces = cloud-init-openrc"
    for d in blkid cloud-utils-growpart iproute2-minimal tzdata /bin/sh; do
        echo "depend = $d"
    done
    echo "provides = cloud-init=$version-r$release"
} > "$ctl/.PKGINFO"

if [ "$layout_only" = 1 ]; then
    echo "$stage/cloud-init-rs"
    exit 0
fi

mkdir -p "$out_dir"
apk="$out_dir/cloud-init-rs-$version-r$release.apk"
tmp_apk="$out_dir/.cloud-init-rs-$version-r$release.apk.tmp"
python3 - "$pkg" "$ctl" "$tmp_apk" "$when" <<'PY'
import gzip, hashlib, io, os, sys, tarfile

data_root, ctl_dir, out, mtime = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def entry(root, rel, hashed):
    path = os.path.join(root, rel)
    st = os.lstat(path)
    ti = tarfile.TarInfo(rel)
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    ti.mtime = mtime
    ti.mode = st.st_mode & 0o7777
    body = None
    if os.path.islink(path):
        ti.type = tarfile.SYMTYPE
        ti.linkname = os.readlink(path)
        digest = hashlib.sha1(ti.linkname.encode()).hexdigest()
    elif os.path.isdir(path):
        ti.type = tarfile.DIRTYPE
        digest = None
    else:
        with open(path, "rb") as f:
            body = f.read()
        ti.size = len(body)
        digest = hashlib.sha1(body).hexdigest()
    # abuild-tar --hash: files and symlinks carry their SHA-1 (of the
    # content, of the link target) in a PAX header; apk checks it.
    if hashed and digest is not None:
        ti.pax_headers = {"APK-TOOLS.checksum.SHA1": digest}
    return ti, body

def walk(root):
    out = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for n in sorted(dirs + files):
            out.append(os.path.relpath(os.path.join(d, n), root))
    return sorted(out)

def tar_bytes(root, names, cut):
    # The data tar is abuild-tar --hash's, the control one --cut's.
    buf = io.BytesIO()
    tf = tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT)
    for rel in names:
        ti, body = entry(root, rel, hashed=not cut)
        tf.addfile(ti, io.BytesIO(body) if body is not None else None)
    end = tf.offset
    tf.close()
    raw = buf.getvalue()
    # The control segment goes on into the data tar: no end-of-archive.
    return raw[:end] if cut else raw

def gz(raw):
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as g:
        g.write(raw)
    return buf.getvalue()

data = gz(tar_bytes(data_root, walk(data_root), cut=False))
with open(os.path.join(ctl_dir, ".PKGINFO"), "a") as f:
    f.write("datahash = %s\n" % hashlib.sha256(data).hexdigest())
ctl_names = [".PKGINFO"] + sorted(n for n in os.listdir(ctl_dir) if n != ".PKGINFO")
control = gz(tar_bytes(ctl_dir, ctl_names, cut=True))
with open(out, "wb") as f:
    f.write(control + data)
PY
rm -f "$out_dir"/cloud-init-rs-*.apk
mv "$tmp_apk" "$apk"
echo "$apk"
