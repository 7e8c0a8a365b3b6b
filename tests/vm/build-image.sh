#!/usr/bin/env bash
# Build (once, cached) a bootable Debian trixie disk image for the VM tests and print its
# directory: disk.raw (GPT, partition 1 = ext4 "rootfs"), vmlinuz, initrd.img, manifest.txt.
#
#   build-image.sh agent FILE.deb   our package installed (its Depends come from the archive)
#   build-image.sh upstream         Debian's own cloud-init package (the comparison)
#   build-image.sh baseline         no agent: user "bench" with the test key and host keys baked in
#   build-image.sh agent-openrc FILE.deb
#                                   our package on a machine booted by sysvinit-core + OpenRC (no
#                                   systemd at all): ifupdown brings up what the agent renders
#
# Every variant has the same base: systemd, udev, openssh-server, sudo, iproute2, gpg, the cloud
# kernel, initramfs-tools, and systemd-networkd with a DHCP .network for en*/eth* (the agent
# does not render network configuration yet). No host keys and no users unless baseline.
#
# Cache ($CIRS_VM_CACHE, default /var/tmp/cloud-init-rs/vm): rootfs-KEY/ is the mmdebstrap
# tree keyed by this recipe and its package list; img-KEY/ the disk keyed by that plus the
# .deb's hash. Both are built when missing. No loop devices: mkfs.ext4 -d and dd.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

variant=${1:-}
deb=${2:-}
suite=trixie
mirror=${CIRS_VM_MIRROR:-http://deb.debian.org/debian}
case "$variant" in
    agent | agent-openrc) [ -f "$deb" ] || vm_die "usage: build-image.sh $variant FILE.deb" ;;
    upstream | baseline) deb= ;;
    *) vm_die "usage: build-image.sh agent FILE.deb | agent-openrc FILE.deb | upstream | baseline" ;;
esac
[ "$(id -u)" = 0 ] || vm_die "building images needs root (mmdebstrap --mode=root, chroot)"
vm_ensure_host_tools || vm_die "missing host tools (mmdebstrap, e2fsprogs, fdisk, qemu-utils, mtools)"
vm_ensure_key

pkgs=systemd,systemd-sysv,udev,dbus,libpam-systemd,openssh-server,sudo,iproute2,netbase
pkgs+=,e2fsprogs,linux-image-cloud-amd64,initramfs-tools,zstd
# What Debian's cloud images carry for the machine modules: growpart, sfdisk and sgdisk
# (disk_setup), a time service (ntp).
pkgs+=,cloud-guest-utils,fdisk,gdisk,systemd-timesyncd
# gpg: apt_configure dearmors the keys of `apt: sources:` with it (upstream installs gnupg
# first when it is missing, which would need the archive the VM cannot reach).
pkgs+=,gpg
if [ "$variant" = agent-openrc ]; then
    # The same machine with sysvinit-core as PID 1 and OpenRC running the rc scripts: no
    # systemd, dbus or networkd; ifupdown (with the dhcpcd our package pulls in) brings up
    # the interfaces, Debian's way without systemd. No time service (ntp is not tested here).
    pkgs=sysvinit-core,openrc,udev,openssh-server,sudo,iproute2,netbase,ifupdown
    pkgs+=,e2fsprogs,linux-image-cloud-amd64,initramfs-tools,zstd,cloud-guest-utils,fdisk,gdisk,gpg
fi
case "$variant" in
    upstream) pkgs+=,cloud-init ;;
    agent | agent-openrc)
        # The package's own dependencies go into the cached tree, so installing a new
        # build of it needs no network: first alternative of each, versions dropped.
        deps=$(dpkg-deb -f "$deb" Pre-Depends Depends | sed -n 's/^[A-Za-z-]*: //p' |
            tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//; s/[[:space:]]//g' | grep -v '^$' |
            grep -v -x -e cloud-init -e debconf -e 'init-system-helpers' | sort -u | paste -sd, -)
        [ -n "$deps" ] && pkgs+=,$deps
        ;;
esac

# The tree is keyed by its own recipe (the lines between the markers) and package list;
# the image by the whole script, so editing the image steps does not re-run mmdebstrap.
recipe_hash=$(sed -n '/^# >>> rootfs recipe/,/^# <<< rootfs recipe/p' "$0" | sha256sum | cut -c1-12)
[ "$variant" != agent-openrc ] ||
    recipe_hash=$(sed -n '/^# >>> openrc recipe/,/^# <<< openrc recipe/p' "$0" | cat - <(echo "$recipe_hash") | sha256sum | cut -c1-12)
rootkey=$(printf '%s\n' "$recipe_hash" "$suite" "$pkgs" | sha256sum | cut -c1-12)
rootfs=$VM_CACHE/rootfs-$rootkey
# The OpenRC tree has its own recipe: it completes the tree before the systemd recipe below
# (which it then skips), so the systemd variants' cache keys do not change with it.
# >>> openrc recipe
if [ "$variant" = agent-openrc ] && [ ! -f "$rootfs/.complete" ]; then
    vm_log "mmdebstrap $suite ($variant) -> $rootfs"
    rm -rf "$rootfs.tmp"
    mkdir -p "$VM_CACHE"
    mmdebstrap --quiet --mode=root --variant=apt --format=directory \
        --aptopt='APT::Install-Recommends "false"' \
        --aptopt='Acquire::Languages "none"' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --include="$pkgs" \
        "$suite" "$rootfs.tmp" "deb $mirror $suite main" >&2
    R=$rootfs.tmp
    if chroot "$R" dpkg-query -W -f '${Status}' systemd-sysv 2>/dev/null | grep -q ' installed'; then
        vm_die "the OpenRC tree has systemd-sysv in it"
    fi
    echo localhost > "$R/etc/hostname"
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$R/etc/hosts"
    printf 'LABEL=rootfs\t/\text4\trw,discard,errors=remount-ro\t0\t1\n' > "$R/etc/fstab"
    rm -f "$R/etc/resolv.conf"
    : > "$R/etc/machine-id"
    rm -f "$R/var/lib/dbus/machine-id" "$R"/etc/ssh/ssh_host_*
    chroot "$R" passwd -l root >/dev/null
    # Only the loopback here: the NIC's stanza is what the agent's local stage renders
    # (eni, Debian's interfaces.d/50-cloud-init) before the networking service runs.
    printf 'source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n' > "$R/etc/network/interfaces"
    mkdir -p "$R/etc/network/interfaces.d"
    chroot "$R" apt-get clean
    rm -rf "$R"/var/lib/apt/lists/* "$R"/var/log/*.log "$R"/var/log/apt/* "$R"/tmp/* "$R"/var/tmp/*
    : > "$R/.complete"
    mv "$rootfs.tmp" "$rootfs"
fi
# <<< openrc recipe
# >>> rootfs recipe
if [ ! -f "$rootfs/.complete" ]; then
    vm_log "mmdebstrap $suite ($variant) -> $rootfs"
    rm -rf "$rootfs.tmp"
    mkdir -p "$VM_CACHE"
    mmdebstrap --quiet --mode=root --variant=apt --format=directory \
        --aptopt='APT::Install-Recommends "false"' \
        --aptopt='Acquire::Languages "none"' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --include="$pkgs" \
        "$suite" "$rootfs.tmp" "deb $mirror $suite main" >&2
    R=$rootfs.tmp
    echo localhost > "$R/etc/hostname"
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$R/etc/hosts"
    printf 'LABEL=rootfs\t/\text4\trw,discard,errors=remount-ro\t0\t1\n' > "$R/etc/fstab"
    # The VM has no DNS (restrict=on drops it silently): without resolv.conf lookups fail
    # fast instead of timing out.
    rm -f "$R/etc/resolv.conf"
    # First boot: systemd makes a machine id; sshd has no host keys until the agent makes them.
    : > "$R/etc/machine-id"
    rm -f "$R/var/lib/dbus/machine-id" "$R"/etc/ssh/ssh_host_*
    chroot "$R" passwd -l root >/dev/null
    cat > "$R/etc/systemd/network/20-vm-dhcp.network" <<'EOF'
[Match]
Name=en* eth*

[Network]
DHCP=ipv4
EOF
    chroot "$R" systemctl enable systemd-networkd.service >/dev/null 2>&1
    chroot "$R" systemctl enable ssh.service >/dev/null 2>&1 || true
    chroot "$R" apt-get clean
    rm -rf "$R"/var/lib/apt/lists/* "$R"/var/log/*.log "$R"/var/log/apt/* "$R"/tmp/* "$R"/var/tmp/*
    : > "$R/.complete"
    mv "$rootfs.tmp" "$rootfs"
fi
# <<< rootfs recipe

debhash=-
[ -n "$deb" ] && debhash=$(sha256sum < "$deb" | cut -c1-16)
imgkey=$(printf '%s\n' "$rootkey" "$(sha256sum < "$0")" "$variant" "$debhash" "$(cat "$VM_KEY.pub")" | sha256sum | cut -c1-12)
out=$VM_CACHE/img-$imgkey
if [ -f "$out/.complete" ]; then
    touch "$out"
    echo "$out"
    exit 0
fi

vm_log "image $variant -> $out"
rm -rf "$out"
mkdir -p "$out"
R=$out/rootfs
cp -a "$rootfs" "$R"
rm -f "$R/.complete"
case "$variant" in
    agent | agent-openrc)
        cp "$deb" "$R/tmp/agent.deb"
        if ! chroot "$R" env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/agent.deb >"$out/dpkg.log" 2>&1; then
            cat "$out/dpkg.log" >&2
            vm_die "dpkg -i $(basename "$deb") failed in the image"
        fi
        rm -f "$R/tmp/agent.deb"
        # Installing the package must not have made host keys or a machine id.
        rm -f "$R"/etc/ssh/ssh_host_*
        ;;
    upstream) ;;
    baseline)
        # Everything an agent would do, done at build time: the lower bound.
        chroot "$R" ssh-keygen -A >/dev/null
        chroot "$R" useradd -m -s /bin/bash -G sudo bench
        install -d -m 700 "$R/home/bench/.ssh"
        install -m 600 "$VM_KEY.pub" "$R/home/bench/.ssh/authorized_keys"
        chroot "$R" chown -R bench:bench /home/bench/.ssh
        echo 'bench ALL=(ALL) NOPASSWD:ALL' > "$R/etc/sudoers.d/90-bench"
        chmod 440 "$R/etc/sudoers.d/90-bench"
        ;;
esac
# Login probes come every 0.5 s, all from slirp's 10.0.2.2, and fail until the user exists
# or /run/nologin is gone: sshd's PerSourcePenalties would then refuse that one source for a
# while and the measurement would time the penalty, not the boot.
printf 'PerSourcePenalties no\n' > "$R/etc/ssh/sshd_config.d/90-vm-probes.conf"
chroot "$R" dpkg-query -W -f '${Package}\t${Version}\n' > "$out/manifest.txt"
kver=$(ls "$R/lib/modules" | sort -V | tail -1)
cp "$R/boot/vmlinuz-$kver" "$out/vmlinuz"
cp "$R/boot/initrd.img-$kver" "$out/initrd.img"
echo "$variant" > "$out/variant"

mkfs.ext4 -q -F -L rootfs -d "$R" "$out/fs.ext4" 2G >&2
fs_bytes=$(stat -c %s "$out/fs.ext4")
truncate -s $((fs_bytes + 4096 * 512)) "$out/disk.raw"
printf 'label: gpt\nstart=2048, size=%d, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="rootfs"\n' \
    $((fs_bytes / 512)) | sfdisk -q "$out/disk.raw"
dd if="$out/fs.ext4" of="$out/disk.raw" bs=1M seek=1 conv=notrunc,sparse status=none
rm -rf "$out/fs.ext4" "$R"
: > "$out/.complete"

# Keep the two most recently used images of this variant (older builds of the package go),
# and trees no recipe has used for a week.
for old in $(ls -dt "$VM_CACHE"/img-*/ 2>/dev/null); do
    old=${old%/}
    [ "$old" != "$out" ] || continue
    if [ ! -f "$old/.complete" ]; then rm -rf "$old"; continue; fi
    [ "$(cat "$old/variant" 2>/dev/null)" = "$variant" ] || continue
    if [ -n "${kept:-}" ]; then rm -rf "$old"; else kept=1; fi
done
touch "$rootfs"
find "$VM_CACHE" -maxdepth 1 -name 'rootfs-*' -mtime +7 -exec rm -rf {} +
echo "$out"
