#!/usr/bin/env python3
"""Regenerate tests/netjson/expected.json from upstream cloud-init (the oracle).

Run with the oracle's Python:
  /var/tmp/cloud-init-oracle/venv/bin/python crates/net/tests/regen-netjson.py

Each tests/netjson/cases/<case>.json holds `network_json` (a
network_data.json document), `known_macs` ({mac: name}) and optionally
`ib_hwaddrs` ({name: 20-byte address}). It is converted with upstream's
cloudinit.sources.helpers.openstack.convert_net_json(network_json,
known_macs=known_macs), with the sysfs look-ups it makes (interfaces by MAC
after a udev settle, InfiniBand addresses) answered from the case. The
result is stored as {"config": <v1 dict or null>} or, when upstream raises,
{"error": "<ExceptionType>: <message>"}.
"""
import json
import os
import sys
from unittest import mock

from cloudinit.sources.helpers import openstack

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "netjson", "cases")
OUT = os.path.join(HERE, "netjson", "expected.json")


def run(case):
    macs = dict(case.get("known_macs", {}))
    ib = dict(case.get("ib_hwaddrs", {}))
    with mock.patch.object(
        openstack.net, "get_interfaces_by_mac", return_value=dict(macs)
    ), mock.patch.object(
        openstack.net, "get_ib_hwaddrs_by_interface", return_value=ib
    ), mock.patch.object(
        openstack.util, "udevadm_settle", return_value=None
    ):
        try:
            cfg = openstack.convert_net_json(
                case["network_json"], known_macs=macs
            )
        except Exception as e:  # upstream's ValueError/KeyError
            return {"error": "%s: %s" % (type(e).__name__, e)}
    return {"config": cfg}


def main():
    out = {}
    for name in sorted(os.listdir(CASES)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(CASES, name)) as f:
            case = json.load(f)
        out[name[: -len(".json")]] = run(case)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote %d cases to %s" % (len(out), OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
