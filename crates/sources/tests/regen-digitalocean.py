#!/usr/bin/env python3
"""Regenerate tests/fixtures/digitalocean-oracle.json: upstream's
DataSourceDigitalOcean reads the ci-imds DigitalOcean emulator (127.0.0.1
only) serving tests/fixtures/digitalocean-seed. Usage: see regen_clouds.py."""
import sys

import regen_clouds as rc
from cloudinit.sources import DataSourceDigitalOcean as do

NICS = {"04:01:58:27:7f:01": "ens3", "04:01:58:27:7f:02": "ens4"}


def main():
    rc.stub_dmi({"system-manufacturer": "DigitalOcean", "system-serial-number": "2756294"})
    rc.stub_nics(NICS)
    with rc.serve(sys.argv[1], "digitalocean", "digitalocean-seed") as url:
        cfg = {"datasource": {"DigitalOcean": {
            "metadata_url": url + "/metadata/v1.json", "use_ip4LL": False,
            "retries": 0, "wait_retry": 0}}}
        ds = do.DataSourceDigitalOcean(cfg, rc.Distro(), rc.paths())
        assert ds._get_data()
        out = rc.common(ds)
        out["subplatform"] = out["subplatform"].replace(url, "URL")
        out["network_config"] = ds.network_config
        out["metadata_full"] = ds.metadata_full
    rc.write("digitalocean-oracle.json", out)


if __name__ == "__main__":
    main()
