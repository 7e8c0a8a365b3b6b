#!/usr/bin/env bash
# Metadata requests per boot on an emulated EC2 instance (run by hand, as root): the same
# Debian trixie image with (a) our package and (b) Debian's cloud-init 25.1.4, each booted
# with SMBIOS "Amazon EC2" and no seed disk, 169.254.169.254:80 forwarded to our EC2
# emulator (`cloud-init devel imds-serve --cloud ec2`) on 127.0.0.1. The emulator prints
# one line per request; this counts them per first boot, and reports the span from the
# first to the last request, the time from qemu start to the first request, and the time
# in the datasource (its search step in cloud-init.log, local stage first).
#
# Usage: tests/vm/ec2-requests.sh [-n ROUNDS] [-d FILE.deb] [-o OUTDIR]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

rounds=2 deb=${CIRS_VM_DEB:-} out=
while getopts "n:d:o:h" opt; do
    case "$opt" in
        n) rounds=$OPTARG ;;
        d) deb=$OPTARG ;;
        o) out=$OPTARG ;;
        *) sed -n '2,9p' "$0"; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || vm_die "run as root"
vm_ensure_host_tools || vm_die "missing host tools"
vm_qemu_works || vm_die "qemu cannot run a TCG guest here"
if [ -z "$deb" ]; then
    debs=("$VM_REPO"/target/debian/cloud-init-rs_*.deb)
    [ -f "${debs[0]}" ] || vm_die "no package: run 'make deb' or pass -d FILE.deb"
    deb=${debs[-1]}
fi
out=${out:-$VM_CACHE/ec2-requests/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
vm_ensure_key

declare -A IMG
IMG[agent]=$(bash "$VM_HERE/build-image.sh" agent "$deb")
IMG[upstream]=$(bash "$VM_HERE/build-image.sh" upstream)

seed=$out/imds-seed
mkdir -p "$seed"
cat >"$seed/meta-data" <<EOF
instance-id: i-0bench00000ec2
local-hostname: ip-169-254-169-15.bench.internal
region: eu-west-1
availability-zone: eu-west-1a
public-keys:
  bench: $(cat "$VM_KEY.pub")
# QEMU's default MAC for the one NIC; real EC2 always lists the instance's NICs.
macs:
  "52:54:00:12:34:56":
    device-number: 0
    network-card: 0
    interface-id: eni-0vmtest000000001
    local-ipv4s: 169.254.169.15
    subnet-ipv4-cidr-block: 169.254.169.0/24
    vpc-id: vpc-0vmtest
EOF
printf '#cloud-config\nruncmd:\n  - [touch, /var/lib/bench-ran]\n' >"$seed/user-data"
rm -rf "$out/debroot" && dpkg-deb -x "$deb" "$out/debroot"

IMDS_PID=
stop_imds() {
    [ -n "$IMDS_PID" ] || return 0
    kill "$IMDS_PID" 2>/dev/null || true
    wait "$IMDS_PID" 2>/dev/null || true
    IMDS_PID=
}
trap 'vm_stop; stop_imds; rm -f "$out"/*.qcow2' EXIT

printf 'variant\tround\trequests\ttoken_puts\tfirst_request_s\tspan_s\tdatasource_s\tstage\tlogin_s\n' >"$out/results.tsv"
for r in $(seq 1 "$rounds"); do
    for v in agent upstream; do
        d=$out/$v-$r
        mkdir -p "$d"
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        "$out/debroot/usr/bin/cloud-init" devel imds-serve --cloud ec2 --seed "$seed" \
            --listen "127.0.0.1:$port" >"$d/imds.log" 2>&1 &
        IMDS_PID=$!
        vm_new_overlay "${IMG[$v]}" "$out/disk.qcow2"
        VM_EC2_IMDS_PORT=$port vm_start "${IMG[$v]}" "$out/disk.qcow2" "" "$d"
        t0=$VM_T0 tl=-
        if vm_wait_banner >/dev/null && tl=$(vm_wait_login debian); then
            VM_SSH_TIMEOUT=400 vm_ssh debian 'cloud-init status --wait --long; sudo -n cat /var/log/cloud-init.log' \
                >"$d/cloud-init.txt" 2>&1 || true
        fi
        vm_stop debian
        stop_imds
        rm -f "$out/disk.qcow2"
        read -r n puts first span < <(awk -v t0="$t0" '
            $1 == "request" { n++; if ($3 == "PUT") p++; if (!f) f = $2; l = $2 }
            END { if (n) printf "%d %d %.2f %.2f\n", n, p, f - t0, l - f; else print "0 0 - -" }' "$d/imds.log")
        # Time in the datasource: its search step's start and finish events in
        # cloud-init.log (both agents log upstream's event lines), local stage first.
        ds=$(python3 - "$d/cloud-init.txt" <<'PYTIME'
import re, sys, datetime
text = open(sys.argv[1], errors="replace").read()
def at(kind, stage, name):
    m = re.search(r"^(\S+ \S+) - \S+\[DEBUG\]: %s: %s/search-%s:" % (kind, stage, name), text, re.M)
    return datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f") if m else None
for stage, name in (("init-local", "Ec2Local"), ("init-network", "Ec2")):
    a, b = at("start", stage, name), at("finish", stage, name)
    if a and b:
        print("%.2f %s" % ((b - a).total_seconds(), stage))
        break
else:
    print("- -")
PYTIME
)
        read -r ds_s ds_stage <<<"$ds"
        echo "[$v round $r] requests $n (token PUTs $puts), first after ${first}s, span ${span}s, in datasource ${ds_s}s ($ds_stage), login ${tl}s"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$r" "$n" "$puts" "$first" "$span" "$ds_s" "$ds_stage" "$tl" >>"$out/results.tsv"
    done
done
column -t "$out/results.tsv"
echo "results in $out"
