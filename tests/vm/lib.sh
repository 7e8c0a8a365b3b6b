# Shared helpers for the VM tests and the time-to-SSH benchmark (sourced, not run).
#
# Network safety: every VM gets QEMU user networking with restrict=on (the guest reaches
# nothing but the host forwards) and one forward, 127.0.0.1:PORT -> guest :22. Only the
# qemu processes started here are ever killed, by PID.

VM_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_REPO=$(cd "$VM_HERE/../.." && pwd)
VM_CACHE=${CIRS_VM_CACHE:-/var/tmp/cloud-init-rs/vm}
VM_KEY=$VM_CACHE/key/id_ed25519
VM_CPUS=${CIRS_VM_CPUS:-2}
VM_MEM=${CIRS_VM_MEM:-1024}
# Under TCG on a loaded 2-core host a first boot has been seen to take over a minute.
VM_BOOT_TIMEOUT=${CIRS_VM_BOOT_TIMEOUT:-420}

VM_PID=
VM_T0=
VM_PORT=
VM_DIR=

vm_log() { printf '%s [vm] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
vm_die() { vm_log "ERROR: $*"; exit 1; }

vm_ensure_key() {
    mkdir -p "$(dirname "$VM_KEY")"
    chmod 700 "$(dirname "$VM_KEY")"
    [ -f "$VM_KEY" ] || ssh-keygen -q -t ed25519 -N '' -C cloud-init-rs-vm-throwaway -f "$VM_KEY"
}

# A CIDATA vfat seed disk (NoCloud) from the files in SRC_DIR, without loop mounts.
vm_make_seed() {
    local src=$1 out=$2
    rm -f "$out"
    mkfs.vfat -n CIDATA -C "$out" 2048 >/dev/null
    local f files=()
    for f in meta-data user-data vendor-data network-config; do
        [ -f "$src/$f" ] && files+=("$src/$f")
    done
    mcopy -i "$out" "${files[@]}" ::
}

# A copy-on-write overlay on the pristine image, 1 GiB larger (as a cloud disk would be).
vm_new_overlay() {
    local img=$1 out=$2 bytes
    bytes=$(stat -c %s "$img/disk.raw")
    rm -f "$out"
    qemu-img create -q -f qcow2 -F raw -b "$img/disk.raw" "$out" $((bytes + 1073741824))
}

vm_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

vm_pick_port() {
    local p
    for p in $(seq "${CIRS_VM_PORT:-10122}" $(( ${CIRS_VM_PORT:-10122} + 50 ))); do
        if vm_port_free "$p"; then echo "$p"; return 0; fi
    done
    vm_die "no free port on 127.0.0.1 near ${CIRS_VM_PORT:-10122}"
}

# vm_start IMGDIR OVERLAY SEED|"" LOGDIR: boots in the background, sets VM_PID/VM_T0/VM_PORT.
vm_start() {
    local img=$1 overlay=$2 seed=$3
    VM_DIR=$4
    mkdir -p "$VM_DIR"
    VM_PORT=$(vm_pick_port)
    local cmd=(qemu-system-x86_64 -accel tcg,thread=multi -smp "$VM_CPUS" -m "$VM_MEM"
        -nodefaults -no-user-config -display none -no-reboot
        -serial "file:$VM_DIR/console.log"
        -kernel "$img/vmlinuz" -initrd "$img/initrd.img"
        -append "root=/dev/vda1 ro console=ttyS0,115200 panic=-1${VM_APPEND_EXTRA:+ $VM_APPEND_EXTRA}"
        -drive "file=$overlay,format=qcow2,if=virtio")
    [ -n "$seed" ] && cmd+=(-drive "file=$seed,format=raw,if=virtio,readonly=on")
    # A blank data disk after the seed (vdc with a seed, vdb without).
    [ -n "${VM_DATA_DISK:-}" ] && cmd+=(-drive "file=$VM_DATA_DISK,format=raw,if=virtio")
    local imds_port=${VM_IMDS_PORT:-${VM_EC2_IMDS_PORT:-}}
    if [ -n "$imds_port" ]; then
        # A cloud instance: SMBIOS as the cloud's (VM_IMDS_CLOUD: ec2, the default, or
        # digitalocean), and 169.254.169.254:80 forwarded to the emulator on 127.0.0.1
        # (one socat per guest connection). libslirp accepts a guestfwd address only
        # inside its network, hence 169.254.169.0/24.
        local net="user,model=virtio-net-pci,restrict=on,ipv6=off,net=169.254.169.0/24,host=169.254.169.1"
        net+=",dns=169.254.169.3,dhcpstart=169.254.169.15,hostfwd=tcp:127.0.0.1:$VM_PORT-:22"
        net+=",guestfwd=tcp:169.254.169.254:80-cmd:socat STDIO TCP:127.0.0.1:$imds_port"
        cmd+=(-nic "$net")
        case "${VM_IMDS_CLOUD:-ec2}" in
            digitalocean)
                cmd+=(-smbios "type=1,manufacturer=DigitalOcean,product=Droplet,serial=${VM_DROPLET_ID:-41234567}") ;;
            *)
                local u=ec2e1916-9099-7caf-fd21-0123456789ab
                cmd+=(-smbios "type=1,manufacturer=Amazon EC2,product=t3.micro,version=1.0,serial=$u,uuid=$u"
                    -smbios "type=3,manufacturer=Amazon EC2,asset=Amazon EC2") ;;
        esac
    else
        local net="user,model=virtio-net-pci,restrict=on,ipv6=off,hostfwd=tcp:127.0.0.1:$VM_PORT-:22"
        # One web service for the guest at 10.0.2.100:80 (phone_home's target and the test
        # apt repository), which is a listener on 127.0.0.1 here: a socat per guest
        # connection, nothing else.
        [ -n "${VM_WEB_PORT:-}" ] && net+=",guestfwd=tcp:10.0.2.100:80-cmd:socat STDIO TCP:127.0.0.1:$VM_WEB_PORT"
        cmd+=(-nic "$net")
    fi
    cmd+=(-device virtio-rng-pci)
    printf '%q ' "${cmd[@]}" > "$VM_DIR/qemu.cmd"
    echo >> "$VM_DIR/qemu.cmd"
    VM_T0=$EPOCHREALTIME
    "${cmd[@]}" > "$VM_DIR/qemu.out" 2>&1 &
    VM_PID=$!
}

vm_alive() { [ -n "$VM_PID" ] && kill -0 "$VM_PID" 2>/dev/null; }

vm_since() { awk -v a="$VM_T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

# slirp accepts the TCP connection itself, so only a banner proves sshd answers.
vm_banner_ok() {
    local fd line
    { exec {fd}<>"/dev/tcp/127.0.0.1/$VM_PORT"; } 2>/dev/null || return 1
    if IFS= read -r -t 1 line <&"$fd" && [[ $line == SSH-* ]]; then
        exec {fd}>&-
        return 0
    fi
    exec {fd}>&-
    return 1
}

VM_SSH_OPTS=(-o BatchMode=yes -o IdentitiesOnly=yes -o PreferredAuthentications=publickey
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
    -o ConnectTimeout=10 -o ServerAliveInterval=5 -o ServerAliveCountMax=6)

# vm_ssh USER CMD...: runs CMD in the guest (60 s limit unless VM_SSH_TIMEOUT says otherwise).
vm_ssh() {
    local user=$1
    shift
    timeout "${VM_SSH_TIMEOUT:-60}" ssh -i "$VM_KEY" -p "$VM_PORT" "${VM_SSH_OPTS[@]}" \
        "$user@127.0.0.1" "$@"
}

# Waits for the SSH banner; prints seconds since qemu start. Fails on timeout or qemu exit.
vm_wait_banner() {
    local deadline=$((${VM_T0%.*} + VM_BOOT_TIMEOUT))
    while :; do
        if vm_banner_ok; then vm_since; return 0; fi
        vm_alive || { vm_log "qemu exited before sshd answered"; return 1; }
        (( $(date +%s) < deadline )) || { vm_log "no SSH banner after ${VM_BOOT_TIMEOUT}s"; return 1; }
        sleep 0.1
    done
}

# Waits until USER logs in with the key; prints seconds since qemu start.
vm_wait_login() {
    local user=$1 deadline=$((${VM_T0%.*} + VM_BOOT_TIMEOUT))
    while :; do
        if VM_SSH_TIMEOUT=20 vm_ssh "$user" true 2>>"$VM_DIR/ssh-probe.err"; then vm_since; return 0; fi
        vm_alive || { vm_log "qemu exited before $user could log in"; return 1; }
        (( $(date +%s) < deadline )) || { vm_log "$user could not log in after ${VM_BOOT_TIMEOUT}s"; return 1; }
        sleep 0.5
    done
}

# Clean poweroff through USER's sudo; the qemu process is killed (by PID) if that fails,
# or at once without USER.
vm_stop() {
    local user=${1:-}
    [ -n "$VM_PID" ] || return 0
    if [ -n "$user" ] && vm_alive; then
        # poweroff itself where systemd is not PID 1 (the OpenRC image).
        VM_SSH_TIMEOUT=30 vm_ssh "$user" 'sudo -n systemctl poweroff 2>/dev/null || sudo -n poweroff' >/dev/null 2>&1 || true
        local i
        for i in $(seq 1 900); do
            vm_alive || break
            sleep 0.1
        done
    fi
    if vm_alive; then
        vm_log "qemu $VM_PID did not power off; killing it"
        kill "$VM_PID" 2>/dev/null || true
    fi
    wait "$VM_PID" 2>/dev/null || true
    VM_PID=
}

# vm_fetch_debs DIR PKG...: the trixie archive's current .deb of each PKG (not its
# dependencies) into DIR, for installing in a guest that has no network. A private apt
# configuration under $VM_CACHE: the host's sources, lists and package cache are not used or
# changed; the archive is the only place it reaches, as with mmdebstrap.
vm_fetch_debs() {
    local dir=$1 d=$VM_CACHE/apt-trixie m=${CIRS_VM_MIRROR:-http://deb.debian.org/debian}
    shift
    mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$dir"
    printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s trixie main\n' "$m" >"$d/sources.list"
    : >"$d/status"
    local o=(-o "Dir::Etc::sourcelist=$d/sources.list" -o Dir::Etc::sourceparts=-
        -o "Dir::State::lists=$d/lists" -o "Dir::State::status=$d/status" -o "Dir::Cache=$d/cache"
        -o Dir::Etc::preferences=/dev/null -o Dir::Etc::preferencesparts=-
        -o APT::Architecture=amd64 -o Acquire::Languages=none)
    apt-get "${o[@]}" update -q >/dev/null && (cd "$dir" && apt-get "${o[@]}" download -q "$@" >/dev/null 2>&1)
}

# Finds qemu, installing it on Debian when missing. bookworm's qemu-system-x86 cannot be
# installed next to a qemu-utils from bookworm-backports (Breaks), so take both from there
# then, through a private apt configuration that leaves /etc/apt alone.
vm_ensure_host_tools() {
    local need=()
    command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
    command -v qemu-img >/dev/null || need+=(qemu-utils)
    command -v mcopy >/dev/null || need+=(mtools)
    command -v mkfs.vfat >/dev/null || need+=(dosfstools)
    command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
    command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
    command -v sfdisk >/dev/null || need+=(fdisk)
    command -v ssh >/dev/null || need+=(openssh-client)
    command -v python3 >/dev/null || need+=(python3)
    command -v make >/dev/null || need+=(make)
    command -v socat >/dev/null || need+=(socat)
    # The signing key of the test apt repository (mkrepo.sh).
    command -v gpg >/dev/null || need+=(gpg)
    [ ${#need[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
    vm_log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if dpkg-query -W -f '${Version}' qemu-utils 2>/dev/null | grep -q '~bpo'; then
        local d=/var/tmp/cloud-init-rs/apt-bpo codename
        codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
        mkdir -p "$d/lists/partial" "$d/archives/partial"
        local kr=/usr/share/keyrings/debian-archive-keyring.gpg m=http://deb.debian.org/debian
        printf 'deb [signed-by=%s] %s %s main\n' "$kr" "$m" "$codename" "$kr" "$m" "$codename-updates" \
            "$kr" "$m" "$codename-backports" > "$d/sources.list"
        printf 'deb [signed-by=%s] http://deb.debian.org/debian-security %s-security main\n' \
            "$kr" "$codename" >> "$d/sources.list"
        local o=(-o "Dir::Etc::sourcelist=$d/sources.list" -o Dir::Etc::sourceparts=-
            -o "Dir::State::lists=$d/lists" -o "Dir::Cache::archives=$d/archives")
        apt-get "${o[@]}" update -q >/dev/null &&
            apt-get "${o[@]}" install -y -q --no-install-recommends -t "$codename-backports" \
                "${need[@]}" >/dev/null
    else
        apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
    fi
}

# True when this host can run a TCG guest: an idle, paused qemu is still up after 3 s
# (timeout, rc 124) instead of exiting with an error.
vm_qemu_works() {
    command -v qemu-system-x86_64 >/dev/null || return 1
    local rc=0
    timeout 3 qemu-system-x86_64 -accel tcg -machine q35 -nodefaults -no-user-config \
        -display none -S >/dev/null 2>&1 || rc=$?
    [ "$rc" = 124 ]
}
