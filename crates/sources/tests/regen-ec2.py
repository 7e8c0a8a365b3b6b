#!/usr/bin/env python3
"""Regenerate tests/fixtures/ec2-oracle.json: upstream's DataSourceEc2 crawls
the ci-imds emulator (127.0.0.1 only) serving tests/fixtures/ec2-seed.

Run from the repo root with the oracle's Python:
  CARGO_TARGET_DIR=/var/tmp/target-ec2 cargo build -p ci-imds --example imds-serve
  /var/tmp/cloud-init-oracle/venv/bin/python crates/sources/tests/regen-ec2.py \
      /var/tmp/target-ec2/debug/examples/imds-serve
"""
import json
import os
import subprocess
import sys

from cloudinit import helpers
from cloudinit.sources import DataSourceEc2 as ec2mod

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = os.path.join(HERE, "fixtures", "ec2-seed")
OUT = os.path.join(HERE, "fixtures", "ec2-oracle.json")
NICS = {"06:00:00:00:00:01": "ens5", "06:00:00:00:00:02": "ens6"}


class Distro:
    """Just what the network conversion reads; not netplan, so no policy
    routing (which would run a DHCP probe)."""

    network_renderer = None
    fallback_interface = "ens5"


def main():
    server = subprocess.Popen(
        [sys.argv[1], SEED, "required"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        ec2mod.identify_platform = lambda: ec2mod.CloudNames.AWS
        cfg = {"datasource": {"Ec2": {"metadata_urls": [url], "max_wait": 5, "timeout": 2}}}
        paths = helpers.Paths({"cloud_dir": "/nonexistent"})
        ds = ec2mod.DataSourceEc2(cfg, Distro(), paths)
        assert ds._get_data()
        net = ec2mod.convert_ec2_metadata_network_config(
            ds.metadata["network"], Distro(), macs_to_nics=NICS, full_network_config=True
        )
        out = {
            "api_version": ds._crawled_metadata["_metadata_api_version"],
            "metadata": ds.metadata,
            "identity": ds.identity,
            "userdata": ds.userdata_raw.decode(),
            "instance_id": ds.get_instance_id(),
            "region": ds.region,
            "availability_zone": ds.availability_zone,
            "cloud_name": ds.cloud_name,
            "platform_type": ds.platform_type,
            "subplatform_prefix": "metadata (",
            "launch_index": ds.launch_index,
            "public_keys": ds.get_public_ssh_keys(),
            "hostname": ds.get_hostname().hostname,
            "network_config": net,
        }
    finally:
        server.stdin.close()
        server.wait(timeout=10)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
