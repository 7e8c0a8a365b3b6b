#!/usr/bin/env python3
"""Regenerate tests/fixtures/aliyun-oracle.json: upstream's DataSourceAliYun
(network stage) reads the ci-imds AliYun emulator (127.0.0.1 only) serving
tests/fixtures/aliyun-seed, tokens required. Usage: see regen_clouds.py."""
import sys

import regen_clouds as rc
from cloudinit.sources import DataSourceAliYun as ali

NICS = {"00:16:3e:00:00:01": "eth0", "00:16:3e:00:00:02": "eth1"}


def main():
    rc.stub_dmi({"system-product-name": "Alibaba Cloud ECS"})
    rc.stub_nics(NICS)
    distro = rc.Distro()
    distro.fallback_interface = "eth0"
    with rc.serve(sys.argv[1], "aliyun", "aliyun-seed") as url:
        cfg = {"datasource": {"AliYun": {"metadata_urls": [url], "max_wait": 5, "timeout": 2}}}
        ds = ali.DataSourceAliYun(cfg, distro, rc.paths())
        assert ds._get_data()
        out = rc.common(ds)
        out["subplatform"] = out["subplatform"].replace(url, "URL")
        out["network_config"] = ds.network_config
    rc.write("aliyun-oracle.json", out)


if __name__ == "__main__":
    main()
