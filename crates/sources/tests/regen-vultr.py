#!/usr/bin/env python3
"""Regenerate tests/fixtures/vultr-oracle.json: upstream's DataSourceVultr
reads the ci-imds Vultr emulator (127.0.0.1 only) serving
tests/fixtures/vultr-seed. Usage: see regen_clouds.py."""
import sys

import regen_clouds as rc
from cloudinit.sources import DataSourceVultr as vu
from cloudinit.sources.helpers import vultr as helper

NICS = {"56:00:03:1b:4e:ca": "enp1s0", "5a:00:03:1b:4e:ca": "enp6s0"}


def main():
    rc.stub_dmi({"system-manufacturer": "Vultr", "system-serial-number": "12345678"})
    rc.stub_nics(NICS)
    helper.EphemeralDHCPv4 = rc.NoNet
    helper.get_interface_list = lambda: ["enp1s0"]
    with rc.serve(sys.argv[1], "vultr", "vultr-seed") as url:
        cfg = {"datasource": {"Vultr": {"url": url, "retries": 0, "wait": 0}}}
        ds = vu.DataSourceVultr(cfg, rc.Distro(), rc.paths())
        assert ds._get_data()
        out = rc.common(ds)
        out["network_config"] = ds.network_config
    rc.write("vultr-oracle.json", out)


if __name__ == "__main__":
    main()
