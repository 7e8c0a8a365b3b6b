#!/usr/bin/env python3
"""Regenerate tests/fixtures/azure-oracle.json: upstream's DataSourceAzure
crawls the ci-imds Azure emulator (IMDS and wireserver, 127.0.0.1 only)
serving tests/fixtures/azure-seed, with tests/fixtures/azure-ovf-env.xml as
the seeded provisioning document, in three scenarios: OVF + IMDS, IMDS only,
and a broken ovf-env.xml. DMI, NIC listing, DHCP and the block-device scan
are stubbed; the health reports the emulator received are recorded.

Run from the repo root with the oracle's Python:
  CARGO_TARGET_DIR=/var/tmp/target-azure cargo build -p ci-cli
  /var/tmp/cloud-init-oracle/venv/bin/python crates/sources/tests/regen-azure.py \
      /var/tmp/target-azure/debug/cloud-init
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from cloudinit import dmi, helpers, util
from cloudinit.sources import DataSourceAzure as dsaz
from cloudinit.sources.azure import identity, imds

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = os.path.join(HERE, "fixtures", "azure-seed")
OVF = os.path.join(HERE, "fixtures", "azure-ovf-env.xml")
OUT = os.path.join(HERE, "fixtures", "azure-oracle.json")
UUID = "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D"
DMI = {
    "chassis-asset-tag": "7783-7084-3265-9085-8269-3286-77",
    "system-uuid": UUID,
}
NICS = [
    ("eth0", "00:0d:3a:04:75:98", "hv_netvsc", None),
    ("eth1", "00:0d:3a:04:75:99", "hv_netvsc", None),
]
BAD_OVF = "<Environment>\n  <wa:Broken>"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(binary):
    port = free_port()
    proc = subprocess.Popen(
        [binary, "devel", "imds-serve", "--cloud", "azure", "--seed", SEED,
         "--listen", f"127.0.0.1:{port}"],
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("emulator did not start")


class FakeDhcp:
    iface = "eth0"
    lease = {"interface": "eth0", "unknown-245": "168.63.129.16"}

    def clean_network(self):
        pass


def stub(port):
    util.find_devs_with = lambda *a, **k: []

    def no_mount(*a, **k):
        raise util.MountFailedError("stubbed")

    dsaz.util.mount_cb = no_mount
    dmi.read_dmi_data = lambda key: DMI.get(key)
    identity.is_vm_gen1 = lambda: False
    imds.IMDS_URL = f"http://127.0.0.1:{port}/metadata"
    dsaz.net.get_interfaces = lambda *a, **k: NICS
    dsaz.get_boot_telemetry = lambda: None
    dsaz.get_system_info = lambda: None
    dsaz._get_random_seed = lambda *a, **k: None

    def setup(self, *, iface=None, report_failure_if_not_primary=True,
              retry_sleep=1, timeout_minutes=5):
        self._ephemeral_dhcp_ctx = FakeDhcp()
        self._wireserver_endpoint = f"127.0.0.1:{port}"
        self._route_configured_for_imds = True
        self._route_configured_for_wireserver = True
        return True

    dsaz.DataSourceAzure._setup_ephemeral_networking = setup


def run(binary, scenario):
    proc, port = serve(binary)
    tmp = tempfile.mkdtemp()
    try:
        stub(port)
        seed = os.path.join(tmp, "seed", "azure")
        os.makedirs(seed)
        if scenario == "ovf":
            shutil.copy(OVF, os.path.join(seed, "ovf-env.xml"))
        elif scenario == "bad_ovf":
            with open(os.path.join(seed, "ovf-env.xml"), "w") as f:
                f.write(BAD_OVF)
        paths = helpers.Paths({"cloud_dir": tmp, "run_dir": tmp})
        cfg = {"datasource": {"Azure": {"data_dir": os.path.join(tmp, "waagent")}}}
        ds = dsaz.DataSourceAzure(cfg, None, paths)
        found = ds._get_data()
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/_emulator/health-reports"
        ) as r:
            reports = json.loads(r.read())
        out = {"found": found, "health_reports": reports}
        if found:
            md = dict(ds.metadata)
            out.update({
                "metadata": md,
                "userdata": ds.userdata_raw.decode()
                if isinstance(ds.userdata_raw, bytes) else ds.userdata_raw,
                "cfg": ds.get_config_obj(),
                "network_config": ds.network_config,
                "instance_id": ds.get_instance_id(),
                "hostname": ds.get_hostname().hostname,
                "public_keys": ds.get_public_ssh_keys(),
                "platform_type": ds.platform_type,
                "subplatform": ds.subplatform,
                "cloud_name": ds.cloud_name,
                "region": ds.region,
                "availability_zone": ds.availability_zone,
            })
        return out
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp)


def main():
    result = {s: run(sys.argv[1], s) for s in ("ovf", "imds_only", "bad_ovf")}
    with open(OUT, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
