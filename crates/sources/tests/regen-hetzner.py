#!/usr/bin/env python3
"""Regenerate tests/fixtures/hetzner-oracle.json: upstream's
DataSourceHetzner reads the ci-imds Hetzner emulator (127.0.0.1 only)
serving tests/fixtures/hetzner-seed. Usage: see regen_clouds.py."""
import sys

import regen_clouds as rc
from cloudinit.sources import DataSourceHetzner as hz


def main():
    rc.stub_dmi({"system-manufacturer": "Hetzner", "system-serial-number": "1234567"})
    rc.stub_nics({"96:00:00:11:22:33": "eth0"})
    hz.EphemeralDHCPv4 = rc.NoNet
    with rc.serve(sys.argv[1], "hetzner", "hetzner-seed") as url:
        base = url + "/hetzner/v1"
        cfg = {"datasource": {"Hetzner": {
            "metadata_url": base + "/metadata", "userdata_url": base + "/userdata",
            "retries": 0, "wait_retry": 0}}}
        ds = hz.DataSourceHetzner(cfg, rc.Distro(), rc.paths())
        assert ds._get_data()
        out = rc.common(ds)
        out["subplatform"] = out["subplatform"].replace(url, "URL")
        out["network_config"] = ds.network_config
    rc.write("hetzner-oracle.json", out)


if __name__ == "__main__":
    main()
