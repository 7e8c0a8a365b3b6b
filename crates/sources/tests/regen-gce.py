#!/usr/bin/env python3
"""Regenerate tests/fixtures/gce-oracle.json: upstream's DataSourceGCE
reads the ci-imds GCE emulator (127.0.0.1 only) serving
tests/fixtures/gce-seed. Usage: see regen_clouds.py."""
import sys

import regen_clouds as rc
from cloudinit import util
from cloudinit.sources import DataSourceGCE as gce


def main():
    rc.stub_dmi({"system-product-name": "Google Compute Engine"})
    # 127.0.0.1 resolves; skip upstream's DNS-redirect probe of bogus names.
    util.is_resolvable_url = lambda url: True
    with rc.serve(sys.argv[1], "gce", "gce-seed") as url:
        cfg = {
            "datasource": {"GCE": {"metadata_url": url + "/computeMetadata/v1/",
                                   "retries": 0}},
            "users": ["default"],
        }
        ds = gce.DataSourceGCE(cfg, rc.Distro(), rc.paths())
        assert ds._get_data()
        out = rc.common(ds)
        out["subplatform"] = out["subplatform"].replace(url, "URL")
    rc.write("gce-oracle.json", out)


if __name__ == "__main__":
    main()
