#!/usr/bin/env python3
"""Regenerate fixtures/cloudstack-oracle.json: upstream's
DataSourceCloudStack against the emulator serving fixtures/cloudstack-seed
(see regen_scaleway_common.py). The router address is stubbed as
127.0.0.1:<port>; upstream's wget of `<router>:8080` goes to the emulator's
port, which answers the password protocol."""
from cloudinit import helpers
from cloudinit.sources import DataSourceCloudStack as cs

from regen_scaleway_common import Distro, Emulator, common, write


def main():
    with Emulator("cloudstack") as emu:
        hostport = f"127.0.0.1:{emu.port}"
        cs.get_vr_address = lambda distro: hostport
        real = cs.subp.subp

        def subp(args, *a, **kw):
            args = [x.replace(f"{hostport}:8080", hostport) for x in args]
            return real(args, *a, **kw)

        cs.subp.subp = subp
        cfg = {"datasource": {"CloudStack": {"max_wait": 5, "timeout": 2}}}
        paths = helpers.Paths({"cloud_dir": "/nonexistent"})
        ds = cs.DataSourceCloudStack(cfg, Distro(), paths)
        assert ds._get_data()
        out = common(ds)
        out["config_obj"] = ds.get_config_obj()
        out["subplatform_prefix"] = "metadata ("
    write("cloudstack", out)


if __name__ == "__main__":
    main()
