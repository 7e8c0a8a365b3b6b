#!/usr/bin/env bash
# Time to SSH (run by hand, as root): the same Debian trixie image with
#   agent     our package (a)
#   upstream  Debian's cloud-init package (b)
#   baseline  no agent, user, key and host keys baked in (c)
#   deferred  with -D: our package, the user-data adding ssh_deferred_keytypes: [rsa] (a')
#   single    with -M: our package in upstream's single-process layout, cloud-init-main.service
#             pulled in by systemd.wants= on the kernel command line (a'')
# Fresh first boots under QEMU TCG, the variants interleaved round by round (the order
# rotates so none always goes first). Measured from the start of the qemu process:
# the SSH banner, and the first successful key login. All three boot with the same
# NoCloud seed disk attached (user "bench" with the test key; baseline ignores it).
#
# Usage: tests/vm/time-to-ssh.sh [-n ROUNDS] [-d FILE.deb] [-o OUTDIR] [-D] [-M]
#   -n ROUNDS  boots per variant (default 3)
#   -D         add the deferred variant (a')
#   -M         add the single-process variant (a'')
#   -d DEB     our package (default: the one target/debian holds, else the stand-in)
#   -o OUTDIR  results (default $CIRS_VM_CACHE/bench/DATE); summary.md is the table
# Several runs pool with: tests/vm/summarize.py OUTDIR...
set -euo pipefail
. "$(dirname "$0")/lib.sh"

rounds=3 deb=${CIRS_VM_DEB:-} out=
order=(agent upstream baseline)
while getopts "n:d:o:DMh" opt; do
    case "$opt" in
        n) rounds=$OPTARG ;;
        d) deb=$OPTARG ;;
        o) out=$OPTARG ;;
        D) order+=(deferred) ;;
        M) order+=(single) ;;
        *) sed -n '2,22p' "$0"; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || vm_die "run as root"
vm_ensure_host_tools || vm_die "missing host tools"
vm_qemu_works || vm_die "qemu cannot run a TCG guest here"
if [ -z "$deb" ]; then
    debs=("$VM_REPO"/target/debian/cloud-init-rs_*.deb)
    if [ -f "${debs[0]}" ]; then
        deb=${debs[-1]}
    else
        deb=$(bash "$VM_HERE/standin/make-deb.sh" "${CARGO_TARGET_DIR:-$VM_REPO/target}/release" "$VM_CACHE/standin")
    fi
fi
out=${out:-$VM_CACHE/bench/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
vm_ensure_key

declare -A IMG USER
IMG[agent]=$(bash "$VM_HERE/build-image.sh" agent "$deb")
IMG[upstream]=$(bash "$VM_HERE/build-image.sh" upstream)
IMG[baseline]=$(bash "$VM_HERE/build-image.sh" baseline)
IMG[deferred]=${IMG[agent]}
IMG[single]=${IMG[agent]}
declare -A APPEND=([single]='systemd.wants=cloud-init-main.service')
{
    echo "package: $deb ($(dpkg-deb -f "$deb" Package Version | paste -sd' '))"
    for v in "${order[@]}"; do
        echo "$v: ${IMG[$v]} cloud-init=$(grep -P '^cloud-init(-rs)?[^\t]*\t' "${IMG[$v]}/manifest.txt" | paste -sd' ' || true)"
    done
    echo "host: $(nproc) cpus, qemu $(qemu-system-x86_64 --version | head -1)"
} | tee "$out/setup.txt"

seed=$out/seed
mkdir -p "$seed"
printf 'instance-id: iid-bench-0001\nlocal-hostname: bench\n' >"$seed/meta-data"
cat >"$seed/user-data" <<EOF
#cloud-config
users:
  - name: bench
    shell: /bin/bash
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    ssh_authorized_keys:
      - $(cat "$VM_KEY.pub")
EOF
vm_make_seed "$seed" "$out/seed.img"
declare -A SEED=([agent]=$out/seed.img [upstream]=$out/seed.img [baseline]=$out/seed.img [single]=$out/seed.img)
if [[ " ${order[*]} " == *" deferred "* ]]; then
    mkdir -p "$out/seed-deferred"
    cp "$seed/meta-data" "$out/seed-deferred/"
    { cat "$seed/user-data"; echo "ssh_deferred_keytypes: [rsa]"; } >"$out/seed-deferred/user-data"
    vm_make_seed "$out/seed-deferred" "$out/seed-deferred.img"
    SEED[deferred]=$out/seed-deferred.img
fi

trap 'vm_stop; rm -f "$out"/*.qcow2' EXIT
qcpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$VM_PID/stat" 2>/dev/null || echo -; }

printf 'variant\tround\tt_banner_s\tt_login_s\tqemu_cpu_login_s\thost_load1\n' >"$out/results.tsv"
nv=${#order[@]}
for r in $(seq 1 "$rounds"); do
    for i in $(seq 0 $((nv - 1))); do
        v=${order[$(( (i + r - 1) % nv ))]}
        d=$out/$v-$r
        vm_new_overlay "${IMG[$v]}" "$out/disk.qcow2"
        load=$(cut -d' ' -f1 /proc/loadavg)
        VM_APPEND_EXTRA=${APPEND[$v]:-} vm_start "${IMG[$v]}" "$out/disk.qcow2" "${SEED[$v]}" "$d"
        tb=- tl=- cpu=-
        if tb=$(vm_wait_banner) && tl=$(vm_wait_login bench); then
            cpu=$(qcpu)
            VM_SSH_TIMEOUT=400 vm_ssh bench 'bash -s' >"$d/analyze.txt" 2>&1 <<'EOF' || true
export SYSTEMD_PAGER= SYSTEMD_COLORS=0
command -v cloud-init >/dev/null && cloud-init status --wait >/dev/null
systemctl is-system-running --wait
echo "== systemd-analyze"; systemd-analyze
echo "== blame"; systemd-analyze blame
echo "== critical-chain ssh.service"; systemd-analyze critical-chain ssh.service
command -v cloud-init >/dev/null && { echo "== cloud-init status"; cloud-init status --long; }
echo "== agent cpu"; sudo -n grep -h 'CPU (this process' /var/log/cloud-init.log || true
echo "== network stage"; systemctl show -p ActiveEnterTimestampMonotonic -p ExecMainExitTimestampMonotonic cloud-init-network.service
echo "== sshd"; systemctl show -p ExecMainStartTimestampMonotonic ssh.service
EOF
            VM_SSH_TIMEOUT=60 vm_ssh bench 'sudo -n cat /var/log/cloud-init.log 2>/dev/null' >"$d/cloud-init.log" 2>/dev/null || true
        fi
        echo "[$v round $r] banner ${tb}s login ${tl}s qemu-cpu ${cpu}s load $load"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$r" "${tb:--}" "${tl:--}" "$cpu" "$load" >>"$out/results.tsv"
        vm_stop bench
        rm -f "$out/disk.qcow2"
    done
done

python3 "$VM_HERE/summarize.py" "$out" | tee "$out/summary.md"
echo "results in $out"
