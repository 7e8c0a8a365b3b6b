#!/usr/bin/env python3
"""Regenerate fixtures/exoscale-oracle.json: upstream's DataSourceExoscale
against the emulator serving fixtures/exoscale-seed (see
regen_scaleway_common.py). The emulator answers the password protocol on
its own port, so upstream's `<metadata_url>:<port>/1.0/` is rewritten to it."""
from cloudinit import helpers, url_helper
from cloudinit.sources import DataSourceExoscale as exo

from regen_scaleway_common import Distro, Emulator, common, write


def main():
    with Emulator("exoscale") as emu:
        real = url_helper.read_file_or_url
        broken = f"{emu.url}:8080/"

        def read(url, *a, **kw):
            return real(url.replace(broken, emu.url + "/"), *a, **kw)

        url_helper.read_file_or_url = read
        cfg = {"datasource": {"Exoscale": {"metadata_url": emu.url, "timeout": 2, "retries": 1}}}
        paths = helpers.Paths({"cloud_dir": "/nonexistent"})
        ds = exo.DataSourceExoscale(cfg, Distro(), paths)
        assert ds._get_data()
        out = common(ds)
        out["config_obj"] = ds.get_config_obj()
        out["subplatform"] = ds.subplatform
    write("exoscale", out)


if __name__ == "__main__":
    main()
