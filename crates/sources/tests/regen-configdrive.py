#!/usr/bin/env python3
"""Regenerate tests/fixtures/configdrive-oracle.json: upstream's
DataSourceConfigDrive reads tests/fixtures/configdrive-seed as its seed
directory (<cloud_dir>/seed/config_drive) in a temp cloud_dir.

Run with the oracle's Python:
  /var/tmp/cloud-init-oracle/venv/bin/python crates/sources/tests/regen-configdrive.py

Stubbed: block-device probing (no candidates), NICs by MAC, and the
injected-file writer (captured instead of writing to /). The temp seed path
is replaced by `SEED`.
"""
import json
import os
import shutil
import sys
import tempfile
from unittest import mock

from cloudinit import helpers
from cloudinit.sources import DataSourceConfigDrive as cdmod
from cloudinit.sources.helpers import openstack as oshelp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from importlib import import_module  # noqa: E402

regen_os = import_module("regen-openstack")

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
MACS = {"fa:16:3e:aa:00:01": "ens3", "fa:16:3e:aa:00:02": "ens4"}


class Distro:
    fallback_interface = "ens3"


def main():
    injected = {}
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(
        cdmod, "find_candidate_devs", return_value=[]
    ), mock.patch.object(
        oshelp.net, "get_interfaces_by_mac", return_value=dict(MACS)
    ), mock.patch.object(
        oshelp.net, "get_ib_hwaddrs_by_interface", return_value={}
    ), mock.patch.object(
        cdmod, "write_injected_files", lambda files: injected.update(files or {})
    ):
        seed = os.path.join(tmp, "seed", "config_drive")
        shutil.copytree(os.path.join(FIX, "configdrive-seed"), seed)
        paths = helpers.Paths({"cloud_dir": tmp})
        ds = cdmod.DataSourceConfigDrive({}, Distro(), paths)
        assert ds._get_data()
        out = regen_os.common(ds, seed)
        out["subplatform"] = out["subplatform"].replace("URL", "SEED")
        out["ec2_metadata"] = regen_os.plain(ds.ec2_metadata, seed)
        out["dsmode"] = ds.dsmode
        out["version"] = ds.version
        out["injected_files"] = regen_os.plain(injected, seed)
        out["network_eni"] = ds.network_eni
    with open(os.path.join(FIX, "configdrive-oracle.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote configdrive-oracle.json", file=sys.stderr)


if __name__ == "__main__":
    main()
