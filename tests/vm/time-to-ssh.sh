#!/usr/bin/env bash
# Time to SSH (run by hand, as root): the same Debian trixie image with
#   agent     our package (a)
#   upstream  Debian's cloud-init package (b)
#   baseline  no agent, user, key and host keys baked in (c)
# Fresh first boots under QEMU TCG, the variants interleaved round by round (the order
# rotates so none always goes first). Measured from the start of the qemu process:
# the SSH banner, and the first successful key login. All three boot with the same
# NoCloud seed disk attached (user "bench" with the test key; baseline ignores it).
#
# Usage: tests/vm/time-to-ssh.sh [-n ROUNDS] [-d FILE.deb] [-o OUTDIR]
#   -n ROUNDS  boots per variant (default 3)
#   -d DEB     our package (default: the one target/debian holds, else the stand-in)
#   -o OUTDIR  results (default $CIRS_VM_CACHE/bench/DATE); summary.md is the table
set -euo pipefail
. "$(dirname "$0")/lib.sh"

rounds=3 deb=${CIRS_VM_DEB:-} out=
while getopts "n:d:o:h" opt; do
    case "$opt" in
        n) rounds=$OPTARG ;;
        d) deb=$OPTARG ;;
        o) out=$OPTARG ;;
        *) sed -n '2,16p' "$0"; exit 2 ;;
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
{
    echo "package: $deb ($(dpkg-deb -f "$deb" Package Version | paste -sd' '))"
    for v in agent upstream baseline; do
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

trap 'vm_stop; rm -f "$out"/*.qcow2' EXIT
qcpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$VM_PID/stat" 2>/dev/null || echo -; }

printf 'variant\tround\tt_banner_s\tt_login_s\tqemu_cpu_login_s\thost_load1\n' >"$out/results.tsv"
order=(agent upstream baseline)
for r in $(seq 1 "$rounds"); do
    for i in 0 1 2; do
        v=${order[$(( (i + r - 1) % 3 ))]}
        d=$out/$v-$r
        vm_new_overlay "${IMG[$v]}" "$out/disk.qcow2"
        load=$(cut -d' ' -f1 /proc/loadavg)
        vm_start "${IMG[$v]}" "$out/disk.qcow2" "$out/seed.img" "$d"
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
EOF
        fi
        echo "[$v round $r] banner ${tb}s login ${tl}s qemu-cpu ${cpu}s load $load"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$r" "${tb:--}" "${tl:--}" "$cpu" "$load" >>"$out/results.tsv"
        vm_stop bench
        rm -f "$out/disk.qcow2"
    done
done

python3 - "$out" <<'EOF' | tee "$out/summary.md"
import csv, os, re, statistics, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(out, "results.tsv")), delimiter="\t"))
names = {"agent": "(a) cloud-init-rs", "upstream": "(b) cloud-init 25.1.4 (Debian)",
         "baseline": "(c) no agent, key baked in"}
def med(v, col):
    xs = [float(r[col]) for r in rows if r["variant"] == v and r[col] not in ("-", "")]
    return (statistics.median(xs), len(xs), min(xs), max(xs)) if xs else None
base = {c: med("baseline", c) for c in ("t_banner_s", "t_login_s")}
print("| variant | boots | banner median (min-max) s | login median (min-max) s | ratio banner / (c) | ratio login / (c) |")
print("|---|---|---|---|---|---|")
for v in ("agent", "upstream", "baseline"):
    cells = []
    for c in ("t_banner_s", "t_login_s"):
        m = med(v, c)
        cells.append("%.2f (%.2f-%.2f)" % (m[0], m[2], m[3]) if m else "-")
    ratios = []
    for c in ("t_banner_s", "t_login_s"):
        m, b = med(v, c), base[c]
        ratios.append("%.2f" % (m[0] / b[0]) if m and b else "-")
    n = med(v, "t_login_s")
    print("| %s | %s | %s | %s | %s | %s |" % (names[v], n[1] if n else 0, *cells, *ratios))

# systemd-analyze blame: median per unit over the rounds.
unit_re = re.compile(r"^\s*((?:[\d.]+(?:min|ms|s|us|µs)\s*)+)\s+(\S+)$")
def secs(s):
    t = 0.0
    for val, u in re.findall(r"([\d.]+)(min|ms|us|µs|s)", s):
        t += float(val) * {"min": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}[u]
    return t
blame = {}
for d in sorted(os.listdir(out)):
    p = os.path.join(out, d, "analyze.txt")
    if not os.path.isfile(p):
        continue
    v = d.rsplit("-", 1)[0]
    txt = open(p).read()
    part = txt.split("== blame\n", 1)[-1].split("\n== ", 1)[0]
    for line in part.splitlines():
        m = unit_re.match(line)
        if m:
            blame.setdefault(v, {}).setdefault(m.group(2), []).append(secs(m.group(1)))
units = ["cloud-init-local.service", "cloud-init-network.service", "cloud-init.service",
         "cloud-config.service", "cloud-final.service", "ssh.service", "sshd-keygen.service",
         "systemd-networkd-wait-online.service", "systemd-networkd.service",
         "systemd-udev-settle.service"]
print()
print("`systemd-analyze blame`, median seconds per unit (- = unit not run):")
print()
print("| unit | (a) cloud-init-rs | (b) cloud-init 25.1.4 | (c) no agent |")
print("|---|---|---|---|")
for u in units:
    cells = []
    for v in ("agent", "upstream", "baseline"):
        xs = blame.get(v, {}).get(u)
        cells.append("%.3f" % statistics.median(xs) if xs else "-")
    if any(c != "-" for c in cells):
        print("| %s | %s |" % (u, " | ".join(cells)))
EOF
echo "results in $out"
