#!/usr/bin/env python3
"""Regenerate tests/fixtures/vmware-guestinfo.json (what `vmware-rpctool`
answers, per argument) and tests/fixtures/vmware-oracle.json (what
upstream's DataSourceVMware made of it, and which rpctool calls it made).

`which`, `subp` and DMI are stubbed: vmware-rpctool is "installed", the
product name is VMware's, every call is answered from the table (a missing
key exits 1 with "No value found" on stderr, as the real tool does; every
info-set succeeds).

Run from the repo root with the oracle's Python:
  /var/tmp/cloud-init-oracle/venv/bin/python crates/sources/tests/regen-vmware.py
"""
import base64
import gzip
import json
import os
import tempfile

from cloudinit import dmi, helpers, subp
from cloudinit.sources import DataSourceVMware as dsvmw

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = os.path.join(HERE, "fixtures", "vmware-guestinfo.json")
OUT = os.path.join(HERE, "fixtures", "vmware-oracle.json")
RPCTOOL = "/usr/bin/vmware-rpctool"

NETWORK = """\
version: 2
ethernets:
  nics:
    match: {name: ens*}
    dhcp4: true
"""
METADATA = """\
instance-id: vm-42
local-hostname: vmhost.example.com
public-keys-data: |
  ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIVM one@vm
  ssh-rsa AAAAB3NzaC1yc2E two@vm
network: {net}
network.encoding: gzip+base64
cleanup-guestinfo:
  - userdata
"""
USERDATA = "#cloud-config\nruncmd: [echo vmware]\n"


def b64(data):
    return base64.b64encode(data).decode()


def table():
    net = b64(gzip.compress(NETWORK.encode(), mtime=0))
    md = METADATA.format(net=net)
    return {
        "info-get guestinfo.metadata": [0, b64(md.encode()) + "\n", ""],
        "info-get guestinfo.metadata.encoding": [0, "base64\n", ""],
        "info-get guestinfo.userdata": [0, b64(USERDATA.encode()), ""],
        "info-get guestinfo.userdata.encoding": [0, "b64", ""],
        "info-get guestinfo.vendordata": [0, "---\n", ""],
    }


def main():
    answers = table()
    with open(TABLE, "w") as f:
        json.dump(answers, f, indent=1, sort_keys=True)
        f.write("\n")
    calls = []

    def fake_subp(args, *a, **k):
        calls.append(list(args))
        if args[-1].startswith("info-set "):
            return "", ""
        code, out, err = answers.get(args[-1], [1, "", "No value found"])
        if code != 0:
            raise subp.ProcessExecutionError(
                stdout=out, stderr=err, exit_code=code, cmd=args
            )
        return out, err

    dsvmw.subp = fake_subp
    dsvmw.which = lambda name: RPCTOOL if name == "vmware-rpctool" else None
    dmi.read_dmi_data = lambda key: (
        "VMware Virtual Platform" if key == "system-product-name" else None
    )
    tmp = tempfile.mkdtemp()
    paths = helpers.Paths({"cloud_dir": tmp, "run_dir": tmp})
    ds = dsvmw.DataSourceVMware({}, None, paths)
    assert ds._get_data()
    out = {
        "metadata": ds.metadata,
        "userdata": ds.userdata_raw,
        "vendordata": ds.vendordata_raw,
        "network_config": ds.network_config,
        "instance_id": ds.get_instance_id(),
        "hostname": ds.get_hostname().hostname,
        "public_keys": ds.get_public_ssh_keys(),
        "platform_type": ds.platform_type,
        "subplatform": ds.subplatform,
        "cloud_name": ds.cloud_name,
        "calls": calls,
    }
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
