#!/usr/bin/env python3
"""Regenerate fixtures/upcloud-oracle.json: upstream's DataSourceUpCloud
(network stage) against the emulator serving fixtures/upcloud-seed (see
regen_scaleway_common.py). DMI and the NIC list are stubbed."""
from cloudinit import helpers
from cloudinit.sources import DataSourceUpCloud as up
from cloudinit.sources.helpers import upcloud as uc_helper

from regen_scaleway_common import Distro, Emulator, common, write

UUID = "00b4ff0c-6e0a-4b1e-9c4e-2a6f0f1e0a01"
NICS = {"32:d5:ba:4a:36:e7": "eth0", "32:d5:ba:4a:84:cc": "eth1",
        "32:d5:ba:4a:63:e7": "eth2"}


def main():
    uc_helper.cloudnet.get_interfaces_by_mac = lambda: NICS
    with Emulator("upcloud") as emu:
        cfg = {"datasource": {"UpCloud": {"retries": 2, "timeout": 2}}}
        paths = helpers.Paths({"cloud_dir": "/nonexistent"})
        ds = up.DataSourceUpCloud(cfg, Distro(), paths)
        ds._get_sysinfo = lambda: (True, UUID)
        ds.metadata_address = f"{emu.url}/metadata/v1.json"
        assert ds._get_data()
        out = common(ds)
        out["network_config"] = ds.network_config
        out["subplatform_prefix"] = "metadata ("
    write("upcloud", out)


if __name__ == "__main__":
    main()
