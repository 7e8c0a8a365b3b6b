#!/usr/bin/env python3
"""Regenerate tests/fixtures/instance-data/ from upstream cloud-init.

    /var/tmp/cloud-init-oracle/venv/bin/python crates/state/tests/regen-instance-data.py

Runs upstream's DataSource.persist_instance_data for a DataSourceNone with
fixed metadata, system config and sys_info into a temp run_dir, and keeps
instance-data.json, instance-data-sensitive.json, the cloud-id file and
link target (run_dir prefix replaced by /run/cloud-init), plus the inputs
(input.json) the Rust test feeds to our builder.
"""
import json
import os
import shutil
import tempfile

from cloudinit import helpers, util
from cloudinit.sources import DataSourceNone

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "instance-data")

SYS_INFO = {
    "platform": "Linux-6.1.0-28-cloud-amd64-x86_64-with-glibc2.36",
    "system": "Linux",
    "release": "6.1.0-28-cloud-amd64",
    "python": "3.11.2",
    "uname": ["Linux", "myhost", "6.1.0-28-cloud-amd64",
              "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)", "x86_64", ""],
    "dist": ["debian", "12", "bookworm"],
    "variant": "debian",
}

CASES = {
    "none-basic": {
        "sys_cfg": {
            "datasource_list": ["None"],
            "system_info": {"distro": "debian", "default_user": {"name": "debian"}},
            "users": ["default"],
            "vendor_data": {"enabled": True},
        },
        "metadata": {
            "instance-id": "iid-abc",
            "local-hostname": "myhost",
            "public-keys": ["ssh-ed25519 AAAA k1"],
            "region": "us-gov-west-1",
            "cloud-name": "AWS",
            "placement": {"availability-zone": "us-gov-west-1a"},
            "security-credentials": {"token": "secret"},
            "blob": b"\x00\x01binary",
            "unicode": "h\u00e9llo \u2603",
            "v1.0": {"user.network-config": "x"},
        },
    },
    "none-empty": {"sys_cfg": {}, "metadata": {}},
}


def run(case):
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = tmp + "/run/cloud-init"
        paths = helpers.Paths({"cloud_dir": tmp + "/var/lib/cloud", "run_dir": run_dir})
        ds = DataSourceNone.DataSourceNone(case["sys_cfg"], None, paths)
        ds.metadata = case["metadata"]
        util.system_info = lambda: json.loads(json.dumps(SYS_INFO))
        assert ds.persist_instance_data(write_cache=False)
        out = {}
        for f in sorted(os.listdir(run_dir)):
            p = os.path.join(run_dir, f)
            if os.path.islink(p):
                out[f + ".link"] = os.readlink(p).replace(run_dir, "/run/cloud-init")
            else:
                out[f] = open(p).read()
                out[f + ".mode"] = oct(os.stat(p).st_mode & 0o777)
        return ds, out


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    for name, case in CASES.items():
        ds, files = run(case)
        md = dict(case["metadata"])
        for k, v in md.items():
            if isinstance(v, bytes):
                import base64
                md[k] = "ci-b64:" + base64.b64encode(v).decode()
        inputs = {
            "cloud_name": ds.cloud_name,
            "platform": ds.platform_type,
            "subplatform": ds.subplatform,
            "region": ds.region,
            "availability_zone": ds.availability_zone,
            "instance_id": ds.get_instance_id(),
            "local_hostname": ds.get_hostname().hostname,
            "public_ssh_keys": ds.get_public_ssh_keys(),
            "ds": {"meta_data": md},
            "merged_system_cfg": case["sys_cfg"],
            "sys_info": SYS_INFO,
        }
        d = os.path.join(OUT, name)
        os.makedirs(d)
        with open(os.path.join(d, "input.json"), "w") as f:
            json.dump(inputs, f, indent=1, sort_keys=True)
            f.write("\n")
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump(files, f, indent=1, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
