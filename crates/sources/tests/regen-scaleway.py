#!/usr/bin/env python3
"""Regenerate fixtures/scaleway-oracle.json: upstream's DataSourceScaleway
against the emulator serving fixtures/scaleway-seed (see
regen_scaleway_common.py). The ephemeral DHCPv4 is stubbed with a lease for
51.15.1.2 on ens2; user-data and vendor-data are fetched from source port 1
as upstream does (run as root)."""
import contextlib

from cloudinit import helpers
from cloudinit.sources import DataSourceScaleway as scw

from regen_scaleway_common import Distro, Emulator, common, write


@contextlib.contextmanager
def fake_dhcp(distro, iface):
    yield {"fixed-address": "51.15.1.2", "interface": iface}


def main():
    scw.EphemeralDHCPv4 = fake_dhcp
    # Upstream resolves the URL's netloc to pick the address family, which
    # fails with a port in it (real URLs have none): drop the port there.
    real_gai = scw.socket.getaddrinfo
    scw.socket.getaddrinfo = lambda host, *a, **kw: real_gai(
        host.rsplit(":", 1)[0] if host.count(":") == 1 else host, *a, **kw)
    with Emulator("scaleway") as emu:
        cfg = {"datasource": {"Scaleway": {"max_wait": 5, "timeout": 2, "retries": 3}}}
        paths = helpers.Paths({"cloud_dir": "/nonexistent"})
        ds = scw.DataSourceScaleway(cfg, Distro(), paths)
        ds.metadata_urls = [emu.url]
        assert ds._get_data()
        out = common(ds)
        out["network_config"] = ds.network_config
        out["subplatform"] = ds.subplatform
    write("scaleway", out)


if __name__ == "__main__":
    main()
