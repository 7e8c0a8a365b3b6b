#!/usr/bin/env bash
# VM end-to-end tests: our Debian package on a Debian trixie image, booted under QEMU (TCG)
# with a NoCloud CIDATA seed disk; every assertion is made over SSH.
#
#   1. first boot   user, key login, hostname, /etc/hosts, write_files, runcmd, sudo,
#                   status, cloud-id
#   2. reboot       same disk: per-instance modules not re-run, host keys kept, status done
#   3. broken seed  invalid user-data: still boots, metadata key logs in as `debian`,
#                   status degraded/error with the reason in the JSON
#   4. ec2          no seed disk, SMBIOS "Amazon EC2", our EC2 metadata emulator behind a
#                   guestfwd: detected as Ec2, found by Ec2Local over temporary DHCP (dhcpcd),
#                   default user gets the metadata key, cloud-id aws; with
#                   ssh_deferred_keytypes: [rsa] (ours) sshd starts before the RSA host key
#                   exists and is reloaded to serve it
#   5. ec2 reboot   the emulator stopped (metadata unreachable): same instance, per-instance
#                   modules not re-run, host keys kept
#   6. strict       strict schema mode (from the kernel command line) and user-data with a
#                   schema error: boot completes, the metadata key logs in, nothing from the
#                   user-data ran, console and status carry the error
#   7. digitalocean SMBIOS "DigitalOcean", our DigitalOcean emulator behind the guestfwd: the
#                   local stage reaches it from a temporary link-local address (no DHCP),
#                   removes that address, and renders the droplet's static network config
#   8. machine      the machine modules on a disk 1 GiB larger than the image's root and a
#                   blank second disk: the root is grown with no user-data key (Debian's
#                   growpart/resizefs defaults), disk_setup/fs_setup/mounts make and mount a
#                   filesystem on the data disk, a swap file, ntp (systemd-timesyncd),
#                   phone_home to a sink on the host, apt_configure adds a signed repository
#                   the same host server serves (made by mkrepo.sh with a throwaway key),
#                   package_update and packages install from it, and power_state_change
#                   reboots once; the second boot is checked
#   9. single       upstream's single-process layout (cloud-init-main.service pulled in
#                   from the kernel command line) with the seed of 1: the stage units hand
#                   their stages to `cloud-init --all-stages`, the boot provisions as in 1,
#                   and sshd still starts at the network stage's readiness point
#  10. upgrade      one disk, three boots: Debian's cloud-init provisions the instance; our
#                   package replaces it (dpkg -i) and boots it without re-running anything
#                   per instance (same instance id, host keys, semaphores, upstream's obj.pkl
#                   untouched); purging cloud-init's leftovers keeps our units enabled;
#                   `cloud-init clean --logs` and the stages run by hand provision it anew;
#                   Debian's package back (apt, the archive's .deb fetched on the host) boots
#                   our state without re-running anything per instance
#  11. openrc       sysvinit-core + OpenRC, no systemd as PID 1 (build-image.sh agent-openrc):
#                   our LSB init scripts run the four stages in order, the interface comes up
#                   through ifupdown from the eni config our local stage rendered, user, key,
#                   hostname, runcmd, status done, cloud-id, host keys before sshd, rc-status
#
# Usage: tests/vm/run.sh            (as root; CI runs it from tools/test.sh)
#   CIRS_VM_DEB=FILE.deb   test this package instead of building one with `make deb`
#   CIRS_VM_STANDIN=1      package the release binaries with tests/vm/standin units instead
#   CIRS_VM_ONLY="1 2"     run only these scenarios (2 needs 1, 5 needs 4; the others
#                          stand alone)
#   CIRS_VM_UPSTREAM=1     boot Debian's cloud-init package instead of ours (the package
#                          is still needed for the emulators of 4, 5 and 7; 9, 10 and 11
#                          are ours only and skipped)
#   CIRS_VM_CLEAN_BOOT=1   scenario 10 boots after `cloud-init clean` instead of running
#                          the stages by hand (a fourth boot, two more minutes)
# Skipped (exit 0, with a note) only when not root, or when qemu cannot run outside CI.
# Any failed assertion: exit 1, with the failures listed and the logs' location.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

skip() {
    echo "vm-tests: SKIPPED: $*"
    exit 0
}
[ "$(id -u)" = 0 ] || skip "needs root (image build with mmdebstrap, chroot)"
vm_ensure_host_tools || vm_log "could not install the host tools"
if ! vm_qemu_works; then
    [ "${CI:-}" = true ] && vm_die "qemu-system-x86_64 cannot run a TCG guest on this CI host"
    skip "qemu-system-x86_64 cannot run a TCG guest here"
fi
set -e
T_START=$(date +%s)
ONLY=${CIRS_VM_ONLY:-1 2 3 4 5 6 7 8 9 10 11}

# ---- the package under test ----
if [ -n "${CIRS_VM_DEB:-}" ]; then
    DEB=$CIRS_VM_DEB
elif [ -z "${CIRS_VM_STANDIN:-}" ] && [ -f "$VM_REPO/Makefile" ] && grep -q '^deb:' "$VM_REPO/Makefile"; then
    vm_log "make deb"
    make -C "$VM_REPO" deb >&2
    debs=("$VM_REPO"/target/debian/cloud-init-rs_*.deb)
    [ ${#debs[@]} = 1 ] && [ -f "${debs[0]}" ] || vm_die "make deb must leave exactly one target/debian/cloud-init-rs_*.deb (found: ${debs[*]})"
    DEB=${debs[0]}
else
    vm_log "no 'make deb' yet: stand-in package from the release build"
    (cd "$VM_REPO" && cargo build --release --quiet -p ci-cli)
    DEB=$(bash "$VM_HERE/standin/make-deb.sh" "${CARGO_TARGET_DIR:-$VM_REPO/target}/release" "$VM_CACHE/standin")
fi
vm_log "package: $DEB"
if [ -n "${CIRS_VM_UPSTREAM:-}" ]; then
    # Debian's cloud-init in the image: checks the assertions themselves against upstream.
    IMG=$(bash "$VM_HERE/build-image.sh" upstream)
else
    IMG=$(bash "$VM_HERE/build-image.sh" agent "$DEB")
fi
vm_log "image: $IMG"
vm_ensure_key
PUBKEY=$(cat "$VM_KEY.pub")

RUN=$VM_CACHE/runs/$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$RUN"
# Keep the logs of the last five runs only.
ls -dt "$VM_CACHE"/runs/*/ 2>/dev/null | tail -n +6 | xargs -r rm -rf
IMDS_PID=
stop_imds() {
    if [ -n "$IMDS_PID" ]; then
        kill "$IMDS_PID" 2>/dev/null || true
        wait "$IMDS_PID" 2>/dev/null || true
        IMDS_PID=
    fi
}
trap 'vm_stop; stop_imds; [ -n "${WEB_PID:-}" ] && kill "$WEB_PID" 2>/dev/null; rm -f "$RUN"/*.qcow2 "$RUN"/*.raw' EXIT
# From here on a failed command is a failed assertion, reported at the end, not an abort.
set +e

# ---- assertions ----
FAILED=()
SCEN=
ok() { echo "  ok    $1"; }
bad() {
    echo "  FAIL  $1"
    FAILED+=("$SCEN: $1")
}
# expect NAME GOT WANT
expect() {
    if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: got '$2', want '$3'"; fi
}
# expect_re NAME GOT ERE
expect_re() {
    # A here-string, not a pipe: grep -q stops at the first match, and under pipefail the
    # writer's SIGPIPE on a long text (a whole log) would count as no match.
    if grep -Eq -- "$3" <<<"$2"; then ok "$1"; else bad "$1: '${2:0:2000}' does not match /$3/"; fi
}
g() { vm_ssh "$GUSER" "$@" 2>>"$VM_DIR/ssh.err"; }

# Polls until the final stage has finished (or failed); never longer than 5 min.
wait_done() {
    local i out
    for i in $(seq 1 150); do
        out=$(g 'cloud-init status 2>/dev/null' || true)
        case "$out" in *"status: done"* | *"status: error"* | *"status: disabled"*) return 0 ;; esac
        sleep 2
    done
    bad "cloud-init did not finish within 5 minutes (last: ${out//$'\n'/ })"
    return 1
}

# Logs worth reading after a failure, copied out of the guest.
collect() {
    VM_SSH_TIMEOUT=60 vm_ssh "$GUSER" 'sudo -n journalctl -b -o short-monotonic --no-pager' \
        >"$VM_DIR/journal.txt" 2>&1 || true
    VM_SSH_TIMEOUT=30 vm_ssh "$GUSER" 'sudo -n cat /var/log/cloud-init.log' >"$VM_DIR/cloud-init.log" 2>&1 || true
    VM_SSH_TIMEOUT=30 vm_ssh "$GUSER" 'systemd-analyze; systemd-analyze blame | head -25; systemctl --failed --no-legend' \
        >"$VM_DIR/analyze.txt" 2>&1 || true
}

boot() { # boot NAME USER SEED OVERLAY [fresh]
    SCEN=$1 GUSER=$2
    echo "== $SCEN"
    local tb tl try
    for try in 1 2; do
        vm_start "$IMG" "$4" "$3" "$RUN/$SCEN${try#1}"
        if tb=$(vm_wait_banner) && tl=$(vm_wait_login "$GUSER"); then
            ok "SSH login as $GUSER with the injected key (banner ${tb}s, login ${tl}s after qemu start)"
            return 0
        fi
        # A TCG guest on an overloaded host can stall in early boot (RCU stalls, hung
        # tasks) before any of our code runs. A first boot on a fresh disk is retried once;
        # a stall that comes back, or one on a reboot, fails.
        if [ "$try" = 1 ] && [ "${5:-}" = fresh ] && ! grep -q 'Cloud-init' "$VM_DIR/console.log"; then
            echo "  note  no SSH login and no cloud-init output on the console: retrying once on a fresh disk"
            vm_stop
            vm_new_overlay "$IMG" "$4"
            continue
        fi
        break
    done
    bad "no SSH login as $GUSER with the injected key (console: $VM_DIR/console.log)"
    tail -n 40 "$VM_DIR/console.log" | sed 's/^/  | /'
    vm_stop
    return 1
}

sems() { g 'sudo -n sh -c "cd /var/lib/cloud/instance/sem && stat -c \"%n %Y\" * | sort"'; }
hostkeys() { g 'sha256sum /etc/ssh/ssh_host_*_key.pub'; }

# The status checks shared by every boot whose user-data is valid.
status_checks() {
    local long rc=0 js
    long=$(g 'cloud-init status --long') || rc=$?
    expect "cloud-init status --long exits 0" "$rc" 0
    expect_re "cloud-init status --long says done" "$long" '^status: done$'
    js=$(g 'cloud-init status --format json' || true)
    if printf '%s' "$js" | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["status"]=="done" and not d.get("errors") else 1)'; then
        ok "status --format json parses: status done, no errors"
    else
        bad "status --format json: not JSON with status done and no errors: ${js:0:600}"
    fi
    local failed
    failed=$(g 'systemctl --failed --no-legend --plain | grep -E "cloud|ssh" || true')
    expect "no failed cloud-init or ssh units" "$failed" ""
}

# The operator's tools on a real boot: analyze on this boot's log and systemd's timestamps,
# status --wait with a deadline, collect-logs with its manifest.
operator_checks() {
    expect_re "analyze show times the final stage" "$(g 'sudo -n cloud-init analyze show')" \
        '^Finished stage: \(modules-final\) [0-9]+\.[0-9]{5} seconds$'
    expect_re "analyze blame lists the users-groups module" "$(g 'sudo -n cloud-init analyze blame')" \
        's \(init-network/config-users[-_]groups\)$'
    expect_re "analyze boot reads systemd's timestamps" "$(g 'sudo -n cloud-init analyze boot 2>/dev/null' || true)" \
        '^    Cloud-init activated by systemd at: '
    expect_re "analyze plot writes an SVG" \
        "$(g 'sudo -n cloud-init analyze plot -o /tmp/boot.svg && grep -c "modules-final" /tmp/boot.svg')" '^[1-9]'
    expect "status --wait --timeout on a finished boot" "$(g 'cloud-init status --wait --timeout 5 >/dev/null; echo $?')" 0
    local tarball
    tarball=$(g 'cd /tmp && sudo -n cloud-init collect-logs -r -t /tmp/cl.tgz >/dev/null 2>&1; sudo -n tar -tzf /tmp/cl.tgz' || true)
    expect_re "collect-logs gathers a manifest" "$tarball" '^cloud-init-logs-[0-9-]+/manifest\.json$'
    expect_re "and the journal" "$tarball" '^cloud-init-logs-[0-9-]+/journal\.txt$'
    expect_re "and the log" "$tarball" '^cloud-init-logs-[0-9-]+/var/log/cloud-init\.log$'
}

seed_dir=$RUN/seed-good
mkdir -p "$seed_dir"
cat >"$seed_dir/meta-data" <<EOF
instance-id: iid-vmtest-0001
local-hostname: vmtest-meta
EOF
cat >"$seed_dir/user-data" <<EOF
#cloud-config
hostname: vmtest
fqdn: vmtest.example.test
manage_etc_hosts: true
users:
  - default
  - name: tester
    shell: /bin/bash
    groups: [adm]
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    ssh_authorized_keys:
      - $PUBKEY
write_files:
  - path: /etc/vmtest/early.conf
    content: |
      early=1
    owner: root:adm
    permissions: '0640'
  - path: /home/tester/late.txt
    content: "written after the user exists\n"
    owner: tester:tester
    permissions: '0600'
    defer: true
bootcmd:
  - [sh, -c, 'cat /proc/sys/kernel/random/boot_id >> /var/lib/vmtest-bootcmd.log']
runcmd:
  - [sh, -c, 'echo "runcmd \$(cat /proc/sys/kernel/random/boot_id)" >> /var/lib/vmtest-runcmd.log']
# The image's list with seed_random moved after ssh and made slow: the network stage is still
# running after its readiness point, so sshd must be seen starting before it ends.
cloud_init_modules: [bootcmd, write-files, growpart, resizefs, disk_setup, mounts, set_hostname,
  update_hostname, update_etc_hosts, ca-certs, rsyslog, users-groups, ssh, seed_random]
random_seed:
  command: [sh, -c, 'sleep 15; echo seeded > /var/lib/vmtest-seed.log']
  command_required: true
EOF
vm_make_seed "$seed_dir" "$RUN/seed-good.img"

# unit_time UNIT PROPERTY: a unit's timestamp in seconds since the epoch, read in the guest.
unit_time() {
    g "d=\$(systemctl show --timestamp=us+utc -p $2 --value $1) && date -d \"\$d\" +%s.%N"
}

# Issue 19: sshd waits only for accounts and host keys. The network stage says READY=1 once
# users-groups and ssh ran; seed_random (listed after them, 15 s) still runs then.
# sshd serves exactly the three host keys in /etc/ssh.
keys_served() {
    local served files
    served=$(ssh-keyscan -p "$VM_PORT" -t rsa,ecdsa,ed25519 127.0.0.1 2>/dev/null | awk '{print $2, $3}' | sort)
    files=$(g 'cat /etc/ssh/ssh_host_rsa_key.pub /etc/ssh/ssh_host_ecdsa_key.pub /etc/ssh/ssh_host_ed25519_key.pub' | awk '{print $1, $2}' | sort)
    expect "sshd serves the three host keys cloud-init wrote" "$served" "$files"
}

# ssh_deferred_keytypes: [rsa] (ours): the ssh module did not wait for the RSA key;
# it was installed afterwards and sshd reloaded (not restarted) to serve it. Whether
# sshd started before the key existed depends on how long RSA took (printed).
deferred_rsa_checks() {
    local sshd rsa log order journal
    sshd=$(unit_time ssh.service ExecMainStartTimestamp)
    rsa=$(g 'stat -c %.9Y /etc/ssh/ssh_host_rsa_key')
    echo "        sshd started ${sshd}, RSA host key written ${rsa}"
    log=$(g 'sudo -n cat /var/log/cloud-init.log')
    expect_re "the RSA host key was deferred" "$log" 'Deferring host key types rsa until after SSH may start'
    order=$(printf '%s\n' "$log" | grep -n -e 'Installed the deferred rsa host key' -e 'Told systemd the stage is ready' \
        -e 'Reloaded ssh\.service: it now serves the rsa host key too' | cut -d: -f1 | tr '\n' ' ')
    if awk -v o="$order" 'BEGIN { n = split(o, a, " "); exit !(n == 3 && a[1] + 0 < a[3] + 0 && a[2] + 0 < a[3] + 0) }'; then
        ok "the RSA key was installed, then sshd reloaded after the readiness point"
    else
        bad "deferred RSA log lines (installed, ready, reloaded) at lines '$order'"
    fi
    # systemd's own record: one start, then a reload.
    journal=$(g 'sudo -n journalctl -b -u ssh.service -o cat')
    expect "sshd started once this boot" "$(printf '%s\n' "$journal" | grep -c '^Started ')" 1
    expect_re "and was reloaded" "$journal" '^Reloaded '
    keys_served
}

readiness_checks() {
    local sshd net_exit net_ready keys served files order
    sshd=$(unit_time ssh.service ExecMainStartTimestamp)
    net_ready=$(unit_time cloud-init-network.service ActiveEnterTimestamp)
    net_exit=$(unit_time cloud-init-network.service ExecMainExitTimestamp)
    keys=$(g 'stat -c %.9Y /etc/ssh/ssh_host_rsa_key /etc/ssh/ssh_host_ecdsa_key /etc/ssh/ssh_host_ed25519_key | sort -n | tail -n 1')
    echo "        host keys written ${keys}, network stage ready ${net_ready}, sshd started ${sshd}, network stage ended ${net_exit}"
    if awk -v a="$net_ready" -v b="$sshd" -v c="$net_exit" 'BEGIN { exit !(a > 0 && a <= b && b + 5 < c) }'; then
        ok "sshd started after the network stage's readiness point and before the stage ended"
    else
        bad "sshd did not start between the network stage's READY and its end (ready $net_ready, sshd $sshd, end $net_exit)"
    fi
    if awk -v k="$keys" -v b="$sshd" 'BEGIN { exit !(k > 0 && k < b) }'; then
        ok "every host key existed before sshd started"
    else
        bad "a host key is newer than sshd's start (keys $keys, sshd $sshd)"
    fi
    expect "sshd never restarted" "$(g systemctl show -p NRestarts --value ssh.service)" 0
    # sshd loads its host keys when it starts: it serves all three, the files' keys.
    keys_served
    expect "seed_random ran after the readiness point" "$(g 'sudo -n cat /var/lib/vmtest-seed.log')" seeded
    # The config stage waited for the whole network stage.
    order=$(g 'sudo -n grep -n -e "finish: init-network: " -e "running .modules:config." /var/log/cloud-init.log' | cut -d: -f1 | tr '\n' ' ')
    if awk -v o="$order" 'BEGIN { n = split(o, a, " "); exit !(n == 2 && a[1] + 0 < a[2] + 0) }'; then
        ok "the config stage started after the network stage finished"
    else
        bad "stage order in cloud-init.log: lines '$order' (init-network finish, modules:config start)"
    fi
}

# ---- 1: first boot ----
SEM1= KEYS1= BOOT1=
if [[ " $ONLY " == *" 1 "* ]]; then
    vm_new_overlay "$IMG" "$RUN/disk.qcow2"
    if boot first-boot tester "$RUN/seed-good.img" "$RUN/disk.qcow2" fresh; then
        wait_done || true
        status_checks
        operator_checks
        expect "hostname" "$(g hostname)" vmtest
        expect_re "/etc/hosts maps 127.0.1.1 to the fqdn and hostname" "$(g cat /etc/hosts)" \
            '^127\.0\.1\.1[[:space:]]+vmtest\.example\.test[[:space:]]+vmtest$'
        expect "write_files content" "$(g 'sudo -n cat /etc/vmtest/early.conf')" "early=1"
        expect "write_files owner and mode" "$(g stat -c '%U:%G:%a' /etc/vmtest/early.conf)" "root:adm:640"
        expect "write_files (deferred) content" "$(g cat /home/tester/late.txt)" "written after the user exists"
        expect "write_files (deferred) owner and mode" "$(g stat -c '%U:%G:%a' /home/tester/late.txt)" "tester:tester:600"
        BOOT1=$(g cat /proc/sys/kernel/random/boot_id)
        expect "runcmd ran once, this boot" "$(g cat /var/lib/vmtest-runcmd.log)" "runcmd $BOOT1"
        expect "bootcmd ran once, this boot" "$(g cat /var/lib/vmtest-bootcmd.log)" "$BOOT1"
        expect "sudo rule works without a password" "$(g sudo -n id -un)" root
        expect_re "sudoers entry for tester" "$(g 'sudo -n cat /etc/sudoers.d/90-cloud-init-users')" \
            '^tester ALL=\(ALL\) NOPASSWD:ALL$'
        expect_re "tester is in group adm" "$(g id -nG)" '(^| )adm( |$)'
        expect "default user debian exists" "$(g 'id -un debian')" debian
        expect "cloud-id" "$(g cloud-id)" nocloud
        # syslog_fix_perms, as upstream on Debian
        expect "cloud-init.log is root:adm 0640" "$(g stat -c '%U:%G:%a' /var/log/cloud-init.log)" "root:adm:640"
        expect "cloud-init-output.log is root:adm 0640" \
            "$(g stat -c '%U:%G:%a' /var/log/cloud-init-output.log)" "root:adm:640"
        SEM1=$(sems)
        KEYS1=$(hostkeys)
        expect_re "per-instance semaphores written" "$SEM1" 'config_runcmd '
        expect_re "host keys generated" "$KEYS1" 'ssh_host_ed25519_key\.pub'
        [ -n "${CIRS_VM_UPSTREAM:-}" ] || readiness_checks
        collect
    fi
    vm_stop tester
fi

# ---- 2: reboot of the same disk ----
if [[ " $ONLY " == *" 2 "* ]]; then
    if [ -z "$SEM1" ]; then
        SCEN=reboot
        bad "skipped: needs a successful first boot"
    elif boot reboot tester "$RUN/seed-good.img" "$RUN/disk.qcow2"; then
        wait_done || true
        status_checks
        boot2=$(g cat /proc/sys/kernel/random/boot_id)
        expect_re "a new boot" "$boot2" "^[0-9a-f-]{36}$"
        [ "$boot2" != "$BOOT1" ] && ok "boot id changed" || bad "boot id did not change"
        expect "per-instance semaphores untouched" "$(sems)" "$SEM1"
        expect "runcmd not repeated" "$(g cat /var/lib/vmtest-runcmd.log)" "runcmd $BOOT1"
        expect "bootcmd (per-boot) ran again" "$(g cat /var/lib/vmtest-bootcmd.log)" "$BOOT1"$'\n'"$boot2"
        expect "host keys unchanged" "$(hostkeys)" "$KEYS1"
        expect "hostname kept" "$(g hostname)" vmtest
        collect
    fi
    vm_stop tester
fi

# ---- 3: broken user-data ----
if [[ " $ONLY " == *" 3 "* ]]; then
    bad_dir=$RUN/seed-broken
    mkdir -p "$bad_dir"
    cat >"$bad_dir/meta-data" <<EOF
instance-id: iid-vmtest-broken
local-hostname: vmtest-broken
public-keys:
  - $PUBKEY
EOF
    printf '#cloud-config\nusers: [ {name: nobody-here\nruncmd:\n  - : : [\n' >"$bad_dir/user-data"
    vm_make_seed "$bad_dir" "$RUN/seed-broken.img"
    vm_new_overlay "$IMG" "$RUN/disk-broken.qcow2"
    if boot broken-user-data debian "$RUN/seed-broken.img" "$RUN/disk-broken.qcow2" fresh; then
        wait_done || true
        js=$(g 'cloud-init status --format json' || true)
        verdict=$(printf '%s' "$js" | python3 -c '
import json, sys
d = json.load(sys.stdin)
bad = d.get("status") == "error" or str(d.get("extended_status", "")).startswith("degraded")
why = json.dumps([d.get("errors"), d.get("recoverable_errors")])
print("ok" if bad and "yaml" in why.lower() else "no", why[:400])
' 2>&1 || true)
        expect_re "status degraded or error, the YAML failure named in the JSON" "$verdict" '^ok '
        echo "        reason: ${verdict#* }"
        rc=0
        g 'cloud-init status --long' >/dev/null || rc=$?
        [ "$rc" != 0 ] && ok "status --long exits non-zero ($rc)" || bad "status --long exits 0 on a broken seed"
        expect "hostname from meta-data" "$(g hostname)" vmtest-broken
        expect "cloud-id" "$(g cloud-id)" nocloud
        collect
    fi
    vm_stop debian
fi

# ---- 4 and 5: an EC2 instance, then a reboot without its metadata service ----
EC2_SEM= EC2_KEYS= EC2_BOOT=
if [[ " $ONLY " == *" 4 "* ]]; then
    ec2_seed=$RUN/imds-ec2
    mkdir -p "$ec2_seed"
    cat >"$ec2_seed/meta-data" <<EOF
instance-id: i-0vmtest0000ec2
local-hostname: ip-169-254-169-15.vmtest.internal
region: eu-west-1
availability-zone: eu-west-1a
public-keys:
  vmtest: $PUBKEY
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
    cat >"$ec2_seed/user-data" <<'EOF'
#cloud-config
chpasswd:
  expire: false
  users:
    - {name: debian, password: VmSecret-pw-0d1e, type: text}
runcmd:
  - [sh, -c, 'echo "runcmd $(cat /proc/sys/kernel/random/boot_id)" >> /var/lib/vmtest-ec2-runcmd.log']
EOF
    # Ours only (upstream's schema does not know the key).
    [ -n "${CIRS_VM_UPSTREAM:-}" ] || echo "ssh_deferred_keytypes: [rsa]" >>"$ec2_seed/user-data"
    # The emulator is the packaged binary, run on the host, listening on loopback only.
    rm -rf "$RUN/debroot" && dpkg-deb -x "$DEB" "$RUN/debroot"
    EC2_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$RUN/debroot/usr/bin/cloud-init" devel imds-serve --cloud ec2 --seed "$ec2_seed" \
        --listen "127.0.0.1:$EC2_PORT" >"$RUN/imds-ec2.log" 2>&1 &
    IMDS_PID=$!
    vm_new_overlay "$IMG" "$RUN/disk-ec2.qcow2"
    if VM_EC2_IMDS_PORT=$EC2_PORT boot ec2 debian "" "$RUN/disk-ec2.qcow2" fresh; then
        wait_done || true
        status_checks
        expect "cloud-id" "$(g cloud-id)" aws
        expect_re "datasource_list from detection" "$(g cat /run/cloud-init/cloud.cfg)" \
            'datasource_list: \[ ?Ec2, None ?\]'
        expect_re "found in the local stage (Ec2Local)" "$(g 'cloud-init status --long')" \
            'DataSourceEc2Local'
        log=$(g 'sudo -n cat /var/log/cloud-init.log')
        # Temporary DHCP in the local stage through the image's dhcpcd, then torn down.
        expect_re "the local stage leased an address with dhcpcd" "$log" \
            'Received dhcp lease on [a-z0-9]+ for 169\.254\.169\.15/255\.255\.255\.0'
        expect_re "and removed it afterwards" "$log" \
            'Running command \["ip", "-family", "inet", "addr", "del", "169\.254\.169\.15/24"'
        expect "no DHCP client left running" \
            "$(g 'cat /proc/[0-9]*/comm 2>/dev/null | grep -c dhcpcd || true')" 0
        expect "region from the metadata" "$(g 'cloud-init query region')" eu-west-1
        # User-data and the IMDSv2 token came over HTTP: neither reaches any log. The
        # brackets keep this command line (which sudo logs) from matching itself.
        leaks=$(g 'sudo -n grep -rlE "VmSecret-pw-0d1[e]|EmulatedToke[n]|\[TRAC[E]\]" /var/log || true')
        expect "no password, token or TRACE record in /var/log" "$leaks" ""
        expect_re "the user-data password was set" "$(g 'sudo -n grep -c "^debian:[\$]" /etc/shadow || true')" '^1$'
        EC2_BOOT=$(g cat /proc/sys/kernel/random/boot_id)
        expect "user-data runcmd ran" "$(g cat /var/lib/vmtest-ec2-runcmd.log)" "runcmd $EC2_BOOT"
        EC2_SEM=$(sems)
        EC2_KEYS=$(hostkeys)
        expect_re "host keys generated" "$EC2_KEYS" 'ssh_host_ed25519_key\.pub'
        [ -n "${CIRS_VM_UPSTREAM:-}" ] || deferred_rsa_checks
        collect
    fi
    vm_stop debian
    stop_imds
    if [[ " $ONLY " == *" 5 "* ]]; then
        if [ -z "$EC2_SEM" ]; then
            SCEN=ec2-reboot-no-imds
            bad "skipped: needs a successful EC2 first boot"
        # Nothing listens on EC2_PORT now: every metadata connection is refused.
        # A short metadata wait (kernel command line config): what is checked is the
        # outcome without a metadata service, not how long the default wait is.
        elif VM_EC2_IMDS_PORT=$EC2_PORT VM_APPEND_EXTRA='cc: datasource: {Ec2: {max_wait: 15, timeout: 3}} end_cc' \
            boot ec2-reboot-no-imds debian "" "$RUN/disk-ec2.qcow2"; then
            wait_done || true
            expect_re "status done" "$(g 'cloud-init status' || true)" '^status: done$'
            expect "per-instance semaphores untouched" "$(sems)" "$EC2_SEM"
            expect "host keys unchanged" "$(hostkeys)" "$EC2_KEYS"
            expect "runcmd not repeated" "$(g cat /var/lib/vmtest-ec2-runcmd.log)" "runcmd $EC2_BOOT"
            expect "instance id kept" "$(g 'sudo -n cat /var/lib/cloud/data/instance-id')" i-0vmtest0000ec2
            collect
        fi
        vm_stop debian
    fi
fi

# ---- 6: strict schema mode, user-data with a schema error ----
if [[ " $ONLY " == *" 6 "* ]]; then
    strict_dir=$RUN/seed-strict
    mkdir -p "$strict_dir"
    cat >"$strict_dir/meta-data" <<EOF
instance-id: iid-vmtest-strict
local-hostname: vmtest-strict
public-keys:
  - $PUBKEY
EOF
    printf '#cloud-config\nbogus_key: 1\nruncmd:\n  - [touch, /var/lib/vmtest-strict-ran]\n' >"$strict_dir/user-data"
    vm_make_seed "$strict_dir" "$RUN/seed-strict.img"
    vm_new_overlay "$IMG" "$RUN/disk-strict.qcow2"
    # The system config comes from the kernel command line (upstream's cc: ... end_cc).
    if VM_APPEND_EXTRA='cc: cloud_init_rs: {strict_schema: true} end_cc' \
        boot strict-schema debian "$RUN/seed-strict.img" "$RUN/disk-strict.qcow2" fresh; then
        wait_done || true
        rc=0
        long=$(g 'cloud-init status --long') || rc=$?
        expect "status --long exits 1" "$rc" 1
        expect_re "status error" "$long" '^status: error$'
        js=$(g 'cloud-init status --format json' || true)
        verdict=$(printf '%s' "$js" | python3 -c '
import json, sys
d = json.load(sys.stdin)
errs = " ".join(d.get("errors") or [])
paths = [f.get("path") for f in d.get("schema_errors") or []]
ok = "User-data rejected by strict schema validation" in errs and "bogus_key" in paths
print("ok" if ok else "no", errs[:200], paths)
' 2>&1 || true)
        expect_re "the reason and the finding in status JSON" "$verdict" '^ok '
        expect "nothing from the user-data ran" \
            "$(g 'test -e /var/lib/vmtest-strict-ran && echo ran || echo absent')" absent
        expect "hostname from meta-data" "$(g hostname)" vmtest-strict
        if grep -q 'User-data rejected by strict schema validation' "$VM_DIR/console.log"; then
            ok "the console shows the rejection"
        else
            bad "the console does not show the rejection ($VM_DIR/console.log)"
        fi
        collect
    fi
    vm_stop debian
fi

# ---- 7: a DigitalOcean droplet: metadata from a temporary link-local address ----
if [[ " $ONLY " == *" 7 "* ]]; then
    do_seed=$RUN/imds-do
    mkdir -p "$do_seed"
    # The droplet's public NIC is the VM's one NIC, with the address slirp forwards SSH to.
    cat >"$do_seed/meta-data" <<EOF
instance-id: 41234567
local-hostname: vmtest-droplet
region: ams3
public-keys:
  - $PUBKEY
dns-nameservers: [169.254.169.3]
interfaces:
  public:
    - mac: "52:54:00:12:34:56"
      type: public
      ipv4: {ip_address: 169.254.169.15, netmask: 255.255.255.0, gateway: 169.254.169.1}
EOF
    printf '#cloud-config\nruncmd:\n  - [touch, /var/lib/vmtest-do-ran]\n' >"$do_seed/user-data"
    [ -x "$RUN/debroot/usr/bin/cloud-init" ] || { rm -rf "$RUN/debroot" && dpkg-deb -x "$DEB" "$RUN/debroot"; }
    DO_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$RUN/debroot/usr/bin/cloud-init" devel imds-serve --cloud digitalocean --seed "$do_seed" \
        --listen "127.0.0.1:$DO_PORT" >"$RUN/imds-do.log" 2>&1 &
    IMDS_PID=$!
    vm_new_overlay "$IMG" "$RUN/disk-do.qcow2"
    if VM_IMDS_PORT=$DO_PORT VM_IMDS_CLOUD=digitalocean \
        boot digitalocean debian "" "$RUN/disk-do.qcow2" fresh; then
        wait_done || true
        # Upstream deprecates this datasource (23.2): status is done and degraded (exit 2),
        # the deprecation being the one recoverable error.
        rc=0
        long=$(g 'cloud-init status --long') || rc=$?
        expect "status --long exits 2 (the datasource's deprecation)" "$rc" 2
        expect_re "status done" "$long" '^status: done$'
        verdict=$(g 'cloud-init status --format json' | python3 -c '
import json, sys
d = json.load(sys.stdin)
rec = d.get("recoverable_errors") or {}
msgs = [m for v in rec.values() for m in v]
ok = not d.get("errors") and list(rec) == ["DEPRECATED"] and msgs and all("DataSourceDigitalOcean is deprecated" in m for m in msgs)
print("ok" if ok else "no", d.get("errors"), rec)
' 2>&1 || true)
        expect_re "no errors; only the deprecation is recoverable" "$verdict" '^ok'
        expect "no failed cloud-init or ssh units" \
            "$(g 'systemctl --failed --no-legend --plain | grep -E "cloud|ssh" || true')" ""
        expect "cloud-id" "$(g cloud-id)" digitalocean
        expect_re "status names the DigitalOcean datasource" "$(g 'cloud-init status --long')" \
            'DataSourceDigitalOcean'
        expect "user-data runcmd ran" "$(g 'test -e /var/lib/vmtest-do-ran && echo ran')" ran
        log=$(g 'sudo -n cat /var/log/cloud-init.log')
        expect_re "the local stage used a link-local address" "$log" \
            "brought device '[a-z0-9]+' up with address 169\.254\.[0-9]+\.[0-9]+/16"
        expect_re "and removed it" "$log" 'cleaning up ipv4LL address'
        expect_re "the metadata came over it" "$(cat "$RUN/imds-do.log")" 'GET /metadata/v1.json 200'
        # Only the droplet's static address is left: no 169.254.x.y/16, no DHCP client.
        addrs=$(g "ip -4 -o addr show scope global | awk '{print \$4}'")
        expect "only the static address remains" "$addrs" 169.254.169.15/24
        expect "no DHCP client runs" "$(g 'cat /proc/[0-9]*/comm 2>/dev/null | grep -c dhcpcd || true')" 0
        collect
    fi
    vm_stop debian
    stop_imds
fi

# ---- 8: the machine modules, then the reboot power_state_change asks for ----
WEB_PID=
if [[ " $ONLY " == *" 8 "* ]]; then
    m_seed=$RUN/seed-machine
    mkdir -p "$m_seed"
    # A signed flat repository with cirs-hello, served at http://10.0.2.100/ with the sink.
    bash "$VM_HERE/mkrepo.sh" "$RUN/apt" >/dev/null || vm_log "mkrepo.sh failed"
    REPO_KEY=$(sed '/^$/!s/^/        /' "$RUN/apt/key.asc" 2>/dev/null)
    cat >"$m_seed/meta-data" <<EOF
instance-id: iid-vmtest-machine
local-hostname: vmtest-machine
EOF
    cat >"$m_seed/user-data" <<EOF
#cloud-config
ssh_authorized_keys:
  - $PUBKEY
disk_setup:
  /dev/vdc:
    table_type: gpt
    layout: true
    overwrite: false
fs_setup:
  - label: vmdata
    filesystem: ext4
    device: /dev/vdc
    partition: auto
mounts:
  - [ LABEL=vmdata, /srv/vmdata, ext4, "defaults,nofail", "0", "2" ]
swap:
  filename: /swapfile
  size: 67108864
ntp:
  enabled: true
  servers: [ntp1.vmtest.invalid]
apt:
  sources:
    cirs:
      source: "deb [signed-by=\$KEY_FILE] http://10.0.2.100/ ./"
      key: |
$REPO_KEY
package_update: true
packages: [cirs-hello]
phone_home:
  url: http://10.0.2.100/phone/\$INSTANCE_ID/
  post: [instance_id, hostname, pub_key_ed25519]
  tries: 3
power_state:
  mode: reboot
  delay: now
  message: vmtest machine reboot
  condition: true
runcmd:
  - [sh, -c, 'echo "runcmd \$(cat /proc/sys/kernel/random/boot_id)" >> /var/lib/vmtest-machine-runcmd.log']
EOF
    vm_make_seed "$m_seed" "$RUN/seed-machine.img"
    vm_new_overlay "$IMG" "$RUN/disk-machine.qcow2"
    rm -f "$RUN/data.raw" "$RUN/web.port" "$RUN/web.log"
    truncate -s 512M "$RUN/data.raw"
    python3 "$VM_HERE/web-sink.py" "$RUN/web.port" "$RUN/web.log" "$RUN/apt/repo" &
    WEB_PID=$!
    for _ in $(seq 1 50); do [ -s "$RUN/web.port" ] && break; sleep 0.1; done
    WEB_PORT=$(cat "$RUN/web.port" 2>/dev/null)
    SCEN=machine-first-boot
    echo "== $SCEN"
    # No login on this boot: it ends in the reboot, which ends qemu (-no-reboot).
    VM_DATA_DISK=$RUN/data.raw VM_WEB_PORT=$WEB_PORT \
        vm_start "$IMG" "$RUN/disk-machine.qcow2" "$RUN/seed-machine.img" "$RUN/$SCEN"
    for _ in $(seq 1 "${CIRS_VM_BOOT_TIMEOUT:-420}"); do vm_alive || break; sleep 1; done
    if vm_alive; then
        bad "power_state_change did not end the first boot within ${CIRS_VM_BOOT_TIMEOUT:-420}s"
        tail -n 30 "$VM_DIR/console.log" | sed 's/^/  | /'
        vm_stop
    else
        wait "$VM_PID" 2>/dev/null
        VM_PID=
        ok "the first boot ended by itself (power_state_change)"
        phoned=$(cat "$RUN/web.log" 2>/dev/null)
        expect_re "phone_home posted to the host" "$phoned" \
            '^POST /phone/iid-vmtest-machine/ .*instance_id=iid-vmtest-machine'
        expect_re "phone_home sent the hostname and the ed25519 key" "$phoned" \
            'hostname=vmtest-machine.*pub_key_ed25519=ssh-ed25519'
        if VM_DATA_DISK=$RUN/data.raw VM_WEB_PORT=$WEB_PORT \
            boot machine-after-reboot debian "$RUN/seed-machine.img" "$RUN/disk-machine.qcow2"; then
            wait_done || true
            status_checks
            expect "runcmd ran on the first boot only" \
                "$(g 'wc -l < /var/lib/vmtest-machine-runcmd.log')" 1
            expect_re "the reboot was power_state_change's" "$(g 'sudo -n cat /var/log/cloud-init.log')" \
                'vmtest machine reboot'
            sizes=$(g 'lsblk -bdno SIZE /dev/vda /dev/vda1 | tr "\n" " "; df -B1 --output=size / | tail -1')
            expect "the root partition fills the disk and / was resized" "$(python3 -c '
import sys
disk, part, fs = (int(x) for x in sys.argv[1].split())
print("grown" if disk - part < 16 << 20 and fs > disk * 0.9 else "not grown: disk %d part %d fs %d" % (disk, part, fs))
' "$sizes" 2>&1)" grown
            expect "the data disk's partition is mounted from fstab" \
                "$(g 'findmnt -no SOURCE,FSTYPE /srv/vmdata')" "/dev/vdc1 ext4"
            expect "with the fs_setup label" "$(g 'sudo -n blkid -o value -s LABEL /dev/vdc1')" vmdata
            expect_re "the swap file is active" "$(g 'cat /proc/swaps')" '^/swapfile[[:space:]]+file[[:space:]]'
            expect "systemd-timesyncd runs" "$(g 'systemctl is-active systemd-timesyncd')" active
            expect_re "with the configured server" \
                "$(g 'cat /etc/systemd/timesyncd.conf.d/cloud-init.conf')" 'ntp1\.vmtest\.invalid'
            # apt_configure: the source with $KEY_FILE replaced, the key dearmored next to it
            # (upstream's names: sources.list.d/<name>.list, cloud-init.gpg.d/<name>.gpg).
            expect "the apt source file" "$(g 'cat /etc/apt/sources.list.d/cirs.list')" \
                "deb [signed-by=/etc/apt/cloud-init.gpg.d/cirs.gpg] http://10.0.2.100/ ./"
            expect "the keyring is the dearmored key" \
                "$(g 'sha256sum < /etc/apt/cloud-init.gpg.d/cirs.gpg')" \
                "$(sha256sum < "$RUN/apt/key.gpg")"
            expect "source file and keyring modes" \
                "$(g 'stat -c %a /etc/apt/sources.list.d/cirs.list /etc/apt/cloud-init.gpg.d/cirs.gpg | tr "\n" " "')" "644 644 "
            # Debian's cloud.cfg has `apt: preserve_sources_list: true`: the image's own
            # sources stay as they were and no deb822 file is written beside them.
            expect "the image's sources.list kept" \
                "$(g 'cat /etc/apt/sources.list; ls /etc/apt/sources.list.d')" \
                "deb ${CIRS_VM_MIRROR:-http://deb.debian.org/debian} trixie main"$'\n'"cirs.list"
            # apt keeps a repository's index only after its signature verified.
            expect_re "apt fetched and verified the repository" \
                "$(g 'ls /var/lib/apt/lists')" '^10\.0\.2\.100_\._InRelease$'
            expect "cirs-hello installed from it" \
                "$(g "dpkg-query -W -f '\${Status} \${Version}' cirs-hello")" "install ok installed 1.0"
            expect "its file and program" "$(g 'cirs-hello')" "hello from the cloud-init-rs test repository"
            expect_re "the package came over the guestfwd" "$(cat "$RUN/web.log" 2>/dev/null)" \
                '^GET /(\./)?cirs-hello_1\.0_all\.deb 200'
            expect "no apt or package warnings on the first boot" \
                "$(g 'sudo -n grep -E "WARNING|ERROR" /var/log/cloud-init.log | grep -Ei "\<apt|packag|gpg" || true')" ""
            collect
        fi
        vm_stop debian
    fi
    kill "$WEB_PID" 2>/dev/null
    wait "$WEB_PID" 2>/dev/null
    WEB_PID=
fi

# ---- 9: upstream's single-process layout ----
if [[ " $ONLY " == *" 9 "* ]] && [ -z "${CIRS_VM_UPSTREAM:-}" ]; then
    vm_new_overlay "$IMG" "$RUN/disk-single.qcow2"
    # The unit is shipped disabled; systemd.wants= enables it for this boot only.
    if VM_APPEND_EXTRA='systemd.wants=cloud-init-main.service' \
        boot single-process tester "$RUN/seed-good.img" "$RUN/disk-single.qcow2" fresh; then
        wait_done || true
        status_checks
        expect "hostname" "$(g hostname)" vmtest
        expect "write_files content" "$(g 'sudo -n cat /etc/vmtest/early.conf')" "early=1"
        expect "write_files (deferred) content" "$(g cat /home/tester/late.txt)" "written after the user exists"
        boot9=$(g cat /proc/sys/kernel/random/boot_id)
        expect "runcmd ran once, this boot" "$(g cat /var/lib/vmtest-runcmd.log)" "runcmd $boot9"
        expect "sudo rule works without a password" "$(g sudo -n id -un)" root
        expect "cloud-init-main.service ran and ended well" \
            "$(g 'systemctl show -p ActiveState --value cloud-init-main.service; systemctl show -p Result --value cloud-init-main.service' | tr '\n' ' ')" "inactive success "
        units=$(g 'sudo -n journalctl -b -o cat -u cloud-init-local.service -u cloud-init-network.service -u cloud-config.service -u cloud-final.service')
        for st in local network config final; do
            expect_re "the $st unit handed its stage to the main process" "$units" \
                "^Completed socket interaction for boot stage $st\$"
        done
        expect_re "the stages ran under cloud-init-main.service" \
            "$(g 'sudo -n journalctl -b -o cat -u cloud-init-main.service')" "running 'modules:final'"
        readiness_checks
        collect
    fi
    vm_stop tester
fi

# ---- 10: upgrade from Debian's cloud-init to ours and back, on one disk ----
# Four boots' logs are slow to copy under TCG: kept only when this boot failed something.
collect_if_failed() { [ "${#FAILED[@]}" -eq "${F0:-0}" ] || collect; }
# put FILE DEST: copies a host file into the guest over the SSH forward.
put() { vm_ssh "$GUSER" "cat > '$2'" <"$1" 2>>"$VM_DIR/ssh.err"; }
pkgs_installed() { g "dpkg-query -W -f '\${db:Status-Abbrev} \${Package}\n' | awk '\$1 == \"ii\" { print \$2 }' | sort"; }
unit_states() {
    g 'for u in cloud-init-local.service cloud-init-network.service cloud-config.service cloud-final.service cloud-init-main.service cloud-init-hotplugd.socket; do printf "%s=%s " "$u" "$(systemctl is-enabled "$u" 2>/dev/null)"; done'
}
pkl() { g 'sudo -n sh -c "stat -c %Y /var/lib/cloud/instance/obj.pkl && sha256sum < /var/lib/cloud/instance/obj.pkl"' 2>/dev/null | tr '\n' ' '; }
# The log lines after line $1 that read as an error or a crash.
log_errors_after() { g "sudo -n tail -n +$(($1 + 1)) /var/log/cloud-init.log | grep -E '\\[(ERROR|CRITICAL)\\]|Traceback|panicked' || true"; }
log_lines() { g 'sudo -n sh -c "wc -l < /var/log/cloud-init.log"' || echo 0; }
if [[ " $ONLY " == *" 10 "* ]] && [ -z "${CIRS_VM_UPSTREAM:-}" ]; then
    T10=$(date +%s)
    IMG_AGENT=$IMG
    IMG=$(bash "$VM_HERE/build-image.sh" upstream)
    # Debian's package for the downgrade, fetched on the host (the guest has no network).
    UP_DEBS=$VM_CACHE/debs-trixie
    ls "$UP_DEBS"/cloud-init_25.1.4-*_all.deb >/dev/null 2>&1 || vm_fetch_debs "$UP_DEBS" cloud-init ||
        vm_log "could not fetch cloud-init from the archive"
    UP_DEB=$(ls "$UP_DEBS"/cloud-init_25.1.4-*_all.deb 2>/dev/null | sort -V | tail -n 1)
    u_seed=$RUN/seed-upgrade
    mkdir -p "$u_seed"
    printf 'instance-id: iid-vmtest-upgrade\nlocal-hostname: vmtest-up-meta\n' >"$u_seed/meta-data"
    cat >"$u_seed/user-data" <<EOF
#cloud-config
hostname: vmtest-up
users:
  - default
  - name: tester
    shell: /bin/bash
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    ssh_authorized_keys:
      - $PUBKEY
bootcmd:
  - [sh, -c, 'cat /proc/sys/kernel/random/boot_id >> /var/lib/vmtest-bootcmd.log']
runcmd:
  - [sh, -c, 'echo "runcmd \$(cat /proc/sys/kernel/random/boot_id)" >> /var/lib/vmtest-runcmd.log']
EOF
    vm_make_seed "$u_seed" "$RUN/seed-upgrade.img"
    vm_new_overlay "$IMG" "$RUN/disk-upgrade.qcow2"
    U_OK=
    F0=${#FAILED[@]}
    # 10a: Debian's cloud-init provisions the instance.
    if boot upgrade-1-upstream tester "$RUN/seed-upgrade.img" "$RUN/disk-upgrade.qcow2" fresh; then
        wait_done || true
        expect_re "upstream: status done" "$(g 'cloud-init status' || true)" '^status: done$'
        expect_re "upstream's cloud-init runs" "$(g 'cloud-init --version' 2>&1)" '^/usr/bin/cloud-init 25\.1\.4'
        expect "upstream: hostname" "$(g hostname)" vmtest-up
        U_BOOT1=$(g cat /proc/sys/kernel/random/boot_id)
        expect "upstream: runcmd ran" "$(g cat /var/lib/vmtest-runcmd.log)" "runcmd $U_BOOT1"
        U_IID=$(g 'sudo -n cat /var/lib/cloud/data/instance-id')
        expect "upstream: instance id" "$U_IID" iid-vmtest-upgrade
        U_SEM=$(sems)
        expect_re "upstream: per-instance semaphores in instance/sem" "$U_SEM" '^config_runcmd [0-9]+$'
        U_KEYS=$(hostkeys)
        expect_re "upstream: host keys generated" "$U_KEYS" 'ssh_host_ed25519_key\.pub'
        U_PKL=$(pkl)
        expect_re "upstream: obj.pkl written" "$U_PKL" '^[0-9]+ [0-9a-f]{64} '
        U_UNITS=$(unit_states)
        echo "        upstream's units: $U_UNITS"
        U_PKGS=$(pkgs_installed)
        U_LINES=$(log_lines)
        # The upgrade: dpkg -i our package, which Conflicts/Replaces cloud-init.
        put "$DEB" /tmp/cloud-init-rs.deb
        rc=0
        VM_SSH_TIMEOUT=300 g 'sudo -n env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/cloud-init-rs.deb' >"$VM_DIR/dpkg-install.log" 2>&1 || rc=$?
        expect "dpkg -i our package exits 0 (log: $VM_DIR/dpkg-install.log)" "$rc" 0
        sed 's/^/        | /' "$VM_DIR/dpkg-install.log"
        expect "dpkg removed cloud-init only, and added ours" \
            "$(diff <(echo "$U_PKGS") <(pkgs_installed) | grep '^[<>]' | tr '\n' ' ')" "< cloud-init > cloud-init-rs "
        # dpkg -i removes it without changing its selection: "ic" (install, config-files), where
        # apt would leave "rc".
        expect_re "cloud-init is left with its other conffiles" \
            "$(g "dpkg-query -W -f '\${db:Status-Abbrev}' cloud-init 2>/dev/null" || echo gone)" '^[ri]c $'
        # Its conffiles ours does not ship stay on disk, still cloud-init's.
        only_up=$(g "comm -23 <(dpkg-query -W -f '\${Conffiles}\n' cloud-init | awk 'NF { print \$1 }' | sort) <(dpkg-query -W -f '\${Conffiles}\n' cloud-init-rs | awk 'NF { print \$1 }' | sort)")
        echo "        cloud-init's conffiles ours does not ship: $(grep -c '^/etc/cloud/templates/' <<<"$only_up") templates and $(grep -v '^/etc/cloud/templates/' <<<"$only_up" | tr '\n' ' ')"
        states=$(unit_states)
        echo "        after dpkg -i: $states"
        g 'ls -l /etc/systemd/system /etc/systemd/system/cloud-init.target.wants' >"$VM_DIR/units-after-install.txt" 2>&1
        expect_re "our four stage units enabled" "$states" \
            '^cloud-init-local\.service=enabled cloud-init-network\.service=enabled cloud-config\.service=enabled cloud-final\.service=enabled '
        expect_re "upstream's main unit not enabled (ours ships it disabled)" "$states" 'cloud-init-main\.service=disabled '
        expect "no cloud-init unit masked" "$(g 'find /etc/systemd/system -maxdepth 1 -lname /dev/null -name "cloud*"')" ""
        expect_re "our cloud-init is installed" "$(g 'cloud-init --version' 2>&1)" '\+rs\.'
        # The sequence Debian's package registered for sysvinit stays consistent: ours in rc*.d.
        links=$(g 'cd /etc && ls rcS.d rc2.d | grep -o "cloud-.*" | sort -u | tr "\n" " "')
        echo "        rc.d links: $links"
        # cloud-init's postrm (remove) chmods -x the scripts of its names after ours were
        # unpacked over them; our postinst makes them executable again.
        expect "our init.d scripts executable" \
            "$(g 'cd /etc/init.d && stat -c "%n %a" cloud-config cloud-final cloud-init-local cloud-init-network' | tr '\n' ' ')" \
            "cloud-config 755 cloud-final 755 cloud-init-local 755 cloud-init-network 755 "
        expect "our four init.d scripts registered in rcS.d/rc2.d" \
            "$(grep -o -w -E 'cloud-config|cloud-final|cloud-init-local|cloud-init-network' <<<"$links" | sort -u | wc -l)" 4
        collect_if_failed
        vm_stop tester
        U_OK=1
    else
        vm_stop tester
    fi
    F0=${#FAILED[@]}
    # 10b: ours boots the instance Debian's package provisioned.
    if [ -n "$U_OK" ] && boot upgrade-2-ours tester "$RUN/seed-upgrade.img" "$RUN/disk-upgrade.qcow2"; then
        U_OK=
        wait_done || true
        status_checks
        expect_re "status --long names the datasource" "$(g 'cloud-init status --long')" '^detail: +DataSourceNoCloud'
        expect "cloud-id" "$(g cloud-id)" nocloud
        boot2=$(g cat /proc/sys/kernel/random/boot_id)
        expect "same instance id" "$(g 'sudo -n cat /var/lib/cloud/data/instance-id')" "$U_IID"
        expect "host keys unchanged" "$(hostkeys)" "$U_KEYS"
        expect "per-instance semaphores untouched" "$(sems)" "$U_SEM"
        expect "runcmd not repeated" "$(g cat /var/lib/vmtest-runcmd.log)" "runcmd $U_BOOT1"
        expect "bootcmd (per boot) ran again" "$(g cat /var/lib/vmtest-bootcmd.log)" "$U_BOOT1"$'\n'"$boot2"
        expect "upstream's obj.pkl left as it was" "$(pkl)" "$U_PKL"
        new=$(g "sudo -n tail -n +$((U_LINES + 1)) /var/log/cloud-init.log")
        expect_re "our stages logged this boot" "$new" "Cloud-init v\. [^ ]+\+rs\.[^ ]+ running 'modules:final'"
        expect "no error lines from ours" "$(log_errors_after "$U_LINES")" ""
        grep -Ei 'obj\.pkl|cache' <<<"$new" | head -n 3 | cut -c1-220 | sed 's/^/        | /'
        # An admin tidying up purges what dpkg left of cloud-init: its postrm runs
        # deb-systemd-helper purge (our postinst dropped its state, so our links stay) and
        # update-rc.d remove for the init.d names it shares with ours, which drops every rc.d
        # link of those names, ours included; our trigger on its cloud-init-main script
        # (dist/debian/triggers) puts them back.
        rc=0
        VM_SSH_TIMEOUT=120 g 'sudo -n dpkg --purge cloud-init' >"$VM_DIR/purge.log" 2>&1 || rc=$?
        expect "dpkg --purge cloud-init exits 0" "$rc" 0
        expect_re "our four stage units still enabled after the purge" "$(unit_states)" \
            '^cloud-init-local\.service=enabled cloud-init-network\.service=enabled cloud-config\.service=enabled cloud-final\.service=enabled '
        links=$(g 'cd /etc && ls rcS.d rc2.d | grep -o "cloud-.*" | sort -u | tr "\n" " "')
        expect "our four init.d scripts still registered after the purge" \
            "$(grep -o -w -E 'cloud-config|cloud-final|cloud-init-local|cloud-init-network' <<<"$links" | sort -u | wc -l)" 4
        # cloud-init clean, then the instance is provisioned anew.
        rc=0
        g 'sudo -n cloud-init clean --logs' >"$VM_DIR/clean.log" 2>&1 || rc=$?
        expect "cloud-init clean --logs exits 0" "$rc" 0
        # upstream's clean keeps a seed directory unless --seed.
        expect "clean removed the instance and the logs" \
            "$(g 'sudo -n ls -A /var/lib/cloud | grep -vx seed; ls /var/log/cloud-init*.log 2>/dev/null' | tr '\n' ' ')" ""
        U_OK=1
        if [ -n "${CIRS_VM_CLEAN_BOOT:-}" ]; then
            collect_if_failed
            vm_stop tester
            U_OK=
            boot upgrade-3-clean tester "$RUN/seed-upgrade.img" "$RUN/disk-upgrade.qcow2" && U_OK=1 && { wait_done || true; }
        else
            # A boot costs two minutes under TCG: the stages the units would run, by hand in
            # this boot, check what clean left (CIRS_VM_CLEAN_BOOT=1 boots instead).
            SCEN=upgrade-3-clean-stages
            echo "== $SCEN (the four stages by hand after clean; CIRS_VM_CLEAN_BOOT=1 boots instead)"
            rc=0
            VM_SSH_TIMEOUT=300 g 'sudo -n sh -c "cloud-init init --local && cloud-init init && cloud-init modules --mode config && cloud-init modules --mode final"' \
                >"$VM_DIR/stages-after-clean.log" 2>&1 || rc=$?
            expect "the four stages exit 0 (log: $VM_DIR/stages-after-clean.log)" "$rc" 0
        fi
    else
        vm_stop tester
    fi
    # 10c: ours after clean: a new first run of the same instance id.
    if [ -n "$U_OK" ]; then
        U_OK=
        status_checks
        boot3=$(g cat /proc/sys/kernel/random/boot_id)
        expect "runcmd ran again, this boot" "$(g cat /var/lib/vmtest-runcmd.log)" "runcmd $U_BOOT1"$'\n'"runcmd $boot3"
        C_SEM=$(sems)
        expect_re "per-instance semaphores written anew" "$C_SEM" '^config_runcmd [0-9]+$'
        [ "$C_SEM" != "$U_SEM" ] && ok "the semaphores are new" || bad "the semaphores did not change"
        C_KEYS=$(hostkeys)
        # Debian's ssh_deletekeys: true: a new instance gets new host keys.
        [ "$C_KEYS" != "$U_KEYS" ] && ok "host keys regenerated (ssh_deletekeys)" || bad "host keys kept after clean"
        expect "instance id" "$(g 'sudo -n cat /var/lib/cloud/data/instance-id')" "$U_IID"
        expect "no error lines in the new log" "$(log_errors_after 0)" ""
        expect "no obj.pkl from ours" "$(g 'sudo -n ls /var/lib/cloud/instance/obj.pkl 2>/dev/null')" ""
        C_LINES=$(log_lines)
        # The downgrade: Debian's package back, installed as an admin would (apt, which
        # removes ours for the Conflicts), from the copied file: apt needs no index for it, but
        # refuses it with --no-download ("Pathname to install is not absolute") after removing
        # ours.
        if [ -n "$UP_DEB" ]; then
            put "$UP_DEB" /tmp/cloud-init_all.deb
            rc=0
            # Its postinst byte-compiles the Python modules: over a minute under TCG.
            VM_SSH_TIMEOUT=300 g 'sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/cloud-init_all.deb </dev/null' \
                >"$VM_DIR/apt-downgrade.log" 2>&1 || rc=$?
            expect "apt-get install of Debian's cloud-init exits 0 (log: $VM_DIR/apt-downgrade.log)" "$rc" 0
            grep -E 'REMOVED|^Removing|^Setting up|onffile|warning|error' "$VM_DIR/apt-downgrade.log" | sed 's/^/        | /'
            expect "ours removed, Debian's cloud-init installed" \
                "$(g "dpkg-query -W -f '\${db:Status-Abbrev}\${Package}\n' cloud-init cloud-init-rs" | tr '\n' ' ')" \
                "ii cloud-init rc cloud-init-rs "
            states=$(unit_states)
            echo "        after the downgrade: $states"
            expect "upstream's units enabled as on its first install" "$states" "$U_UNITS"
            expect_re "Debian's cloud-init is installed" "$(g 'cloud-init --version' 2>&1)" '^/usr/bin/cloud-init 25\.1\.4'
            collect_if_failed
            vm_stop tester
            U_OK=1
        else
            bad "no cloud-init_25.1.4-*_all.deb from the archive in $UP_DEBS: downgrade not tested"
            vm_stop tester
        fi
    else
        vm_stop tester
    fi
    F0=${#FAILED[@]}
    # 10d: Debian's cloud-init on the state ours left.
    if [ -n "$U_OK" ] && boot upgrade-4-downgraded tester "$RUN/seed-upgrade.img" "$RUN/disk-upgrade.qcow2"; then
        wait_done || true
        expect_re "upstream: status done" "$(g 'cloud-init status' || true)" '^status: done$'
        rc=0
        g 'cloud-init status --long' >"$VM_DIR/status-long.txt" 2>&1 || rc=$?
        echo "        upstream's status --long exit $rc: $(grep -E '^(extended_status|detail|errors)' "$VM_DIR/status-long.txt" | tr '\n' ' ')"
        boot4=$(g cat /proc/sys/kernel/random/boot_id)
        expect "same instance id" "$(g 'sudo -n cat /var/lib/cloud/data/instance-id')" "$U_IID"
        expect "per-instance semaphores untouched" "$(sems)" "$C_SEM"
        expect "runcmd not repeated" "$(g cat /var/lib/vmtest-runcmd.log)" "runcmd $U_BOOT1"$'\n'"runcmd $boot3"
        expect "host keys unchanged" "$(hostkeys)" "$C_KEYS"
        expect "bootcmd (per boot) ran again" "$(g tail -n 1 /var/lib/vmtest-bootcmd.log)" "$boot4"
        expect "cloud-id" "$(g cloud-id)" nocloud
        expect_re "upstream wrote a fresh obj.pkl" "$(pkl)" '^[0-9]+ [0-9a-f]{64} '
        expect "no error lines from upstream" "$(log_errors_after "$C_LINES")" ""
        g "sudo -n tail -n +$((C_LINES + 1)) /var/log/cloud-init.log" >"$VM_DIR/cloud-init-upstream-boot.log" 2>&1
        grep -m3 -Ei 'no cache found|cache|restor|previous-instance|is_new_instance|new instance' \
            "$VM_DIR/cloud-init-upstream-boot.log" | cut -c1-220 | sed 's/^/        | /'
        collect_if_failed
    fi
    vm_stop tester
    IMG=$IMG_AGENT
    echo "  time  scenario 10: $(($(date +%s) - T10)) s"
fi

# ---- 11: OpenRC: sysvinit-core as PID 1, OpenRC running our LSB scripts ----
if [[ " $ONLY " == *" 11 "* ]] && [ -z "${CIRS_VM_UPSTREAM:-}" ]; then
    T11=$(date +%s)
    IMG_AGENT=$IMG
    IMG=$(bash "$VM_HERE/build-image.sh" agent-openrc "$DEB")
    o_seed=$RUN/seed-openrc
    mkdir -p "$o_seed"
    printf 'instance-id: iid-vmtest-openrc\nlocal-hostname: vmtest-openrc-meta\n' >"$o_seed/meta-data"
    cat >"$o_seed/user-data" <<EOF
#cloud-config
hostname: vmtest-openrc
users:
  - default
  - name: tester
    shell: /bin/bash
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    ssh_authorized_keys:
      - $PUBKEY
runcmd:
  - [sh, -c, 'echo "runcmd \$(cat /proc/sys/kernel/random/boot_id)" >> /var/lib/vmtest-runcmd.log']
EOF
    vm_make_seed "$o_seed" "$RUN/seed-openrc.img"
    vm_new_overlay "$IMG" "$RUN/disk-openrc.qcow2"
    if boot openrc tester "$RUN/seed-openrc.img" "$RUN/disk-openrc.qcow2" fresh; then
        wait_done || true
        expect "PID 1 is sysvinit's init, no systemd" "$(g 'cat /proc/1/comm; test -d /run/systemd/system && echo systemd-booted' | tr '\n' ' ')" "init "
        expect_re "OpenRC ran the boot" "$(g 'test -d /run/openrc && echo openrc')" '^openrc$'
        rc=0
        long=$(g 'cloud-init status --long') || rc=$?
        expect "cloud-init status --long exits 0" "$rc" 0
        expect_re "status done" "$long" '^status: done$'
        expect_re "status --long names the datasource" "$long" '^detail: +DataSourceNoCloud'
        expect "cloud-id" "$(g cloud-id)" nocloud
        expect "hostname" "$(g hostname)" vmtest-openrc
        bootid=$(g cat /proc/sys/kernel/random/boot_id)
        expect "runcmd ran once, this boot" "$(g cat /var/lib/vmtest-runcmd.log)" "runcmd $bootid"
        expect "sudo rule works without a password" "$(g sudo -n id -un)" root
        log=$(g 'sudo -n cat /var/log/cloud-init.log')
        order=$(printf '%s\n' "$log" | grep -n -E "running '(init-local|init|modules:config|modules:final)'" |
            sed -E "s/^([0-9]+):.*running '([^']+)'.*/\2/" | tr '\n' ' ')
        expect "the four stages ran once each, in order" "$order" "init-local init modules:config modules:final "
        expect "no error lines in our log" "$(log_errors_after 0)" ""
        # Our LSB scripts ran them: OpenRC records each as started.
        rcs=$(g 'rc-status --all 2>/dev/null' | tr -s ' ')
        printf '%s\n' "$rcs" >"$VM_DIR/rc-status.txt"
        for s in cloud-init-local cloud-init-network cloud-config cloud-final; do
            expect_re "rc-status: $s started" "$rcs" "^ ?$s \[ started \]"
        done
        expect_re "rc-status: ssh started" "$rcs" '^ ?ssh \[ started \]'
        # Start order as OpenRC ran them: the console has each script's "Starting" message.
        corder=$(grep -a -o -E 'cloud-init (local|network) stage|cloud-init (config|final) stage' "$VM_DIR/console.log" |
            awk '!seen[$0]++' | tr '\n' ',')
        expect "the console shows the LSB scripts starting in order" "$corder" \
            "cloud-init local stage,cloud-init network stage,cloud-init config stage,cloud-init final stage,"
        # The interface came up from what our local stage rendered for ifupdown.
        expect_re "our local stage rendered eni" "$log" 'Rendered network configuration with eni'
        expect_re "interfaces.d/50-cloud-init configures DHCP" \
            "$(g 'cat /etc/network/interfaces.d/50-cloud-init')" '^iface [a-z0-9]+ inet dhcp'
        # sshd loaded the keys the network stage generated: every key file is older than
        # sshd's pid file, and sshd serves exactly those keys.
        keys=$(g 'stat -c %.9Y /etc/ssh/ssh_host_rsa_key /etc/ssh/ssh_host_ecdsa_key /etc/ssh/ssh_host_ed25519_key | sort -n | tail -n 1')
        sshd=$(g 'stat -c %.9Y /run/sshd.pid')
        echo "        host keys written ${keys}, sshd pid file ${sshd}"
        if awk -v k="$keys" -v s="$sshd" 'BEGIN { exit !(k > 0 && k < s) }'; then
            ok "every host key existed before sshd started"
        else
            bad "a host key is newer than sshd's pid file (keys $keys, sshd $sshd)"
        fi
        keys_served
        g 'sudo -n cat /var/log/cloud-init-output.log; sudo -n dmesg' >"$VM_DIR/output-and-dmesg.txt" 2>&1
        VM_SSH_TIMEOUT=30 vm_ssh tester 'sudo -n cat /var/log/cloud-init.log' >"$VM_DIR/cloud-init.log" 2>&1
    fi
    vm_stop tester
    IMG=$IMG_AGENT
    echo "  time  scenario 11: $(($(date +%s) - T11)) s"
fi

echo
echo "vm-tests: $(( $(date +%s) - T_START ))s, logs in $RUN"
if [ ${#FAILED[@]} -gt 0 ]; then
    echo "vm-tests: ${#FAILED[@]} FAILED:"
    printf '  - %s\n' "${FAILED[@]}"
    exit 1
fi
echo "vm-tests: all passed"
