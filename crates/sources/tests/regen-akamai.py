#!/usr/bin/env python3
"""Regenerate fixtures/akamai-oracle.json: upstream's DataSourceAkamai
(network stage) against the emulator serving fixtures/akamai-seed (see
regen_scaleway_common.py). DMI reads are stubbed (vendor Linode, serial
51234567, no baseboard flags) and the system host name is akamai-host."""
from cloudinit import helpers, util
from cloudinit.sources import DataSourceAkamai as ak

from regen_scaleway_common import Distro, Emulator, common, write


def main():
    ak.is_on_akamai = lambda: True
    ak.get_local_instance_id = lambda: "51234567"
    ak.get_dmi_config = lambda: {}
    # No name in the metadata: upstream falls back to the system host name;
    # pin it so the fixture does not depend on the machine.
    util.get_hostname = lambda: "akamai-host"
    with Emulator("akamai") as emu:
        cfg = {"datasource": {"Akamai": {"base_urls": {"ipv4": emu.url, "ipv6": emu.url}}}}
        paths = helpers.Paths({"cloud_dir": "/nonexistent"})
        ds = ak.DataSourceAkamai(cfg, Distro(), paths)
        assert ds._get_data()
        out = common(ds)
        out["subplatform"] = ds.subplatform
    write("akamai", out)


if __name__ == "__main__":
    main()
