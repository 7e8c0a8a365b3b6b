#!/usr/bin/env python3
"""Regenerate fixtures/hostname_fqdn.json: upstream's util.get_hostname_fqdn
for config / local-hostname metadata combinations (cases that would consult
the machine's own hostname are left out).

    /var/tmp/cloud-init-oracle/venv/bin/python crates/modules/tests/regen-hostname.py
"""
import json
import os

from cloudinit import util
from cloudinit.sources import DataSource

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

CASES = [
    ({"hostname": "web"}, "meta.example.com"),
    ({"hostname": "web.example.com"}, None),
    ({"hostname": "a.b.c.d"}, "ignored"),
    ({"fqdn": "x.y.z"}, None),
    ({"fqdn": "x.y.z", "hostname": "other"}, None),
    ({"fqdn": "single"}, None),
    ({"hostname": ".lead"}, "m.example"),
    ({}, "node7.dc1.example"),
    ({}, "plain"),
    ({}, "10.1.2.3"),
    ({}, "10.1.2.300"),
    ({}, "host.localdomain"),
    ({"hostname": "h"}, "meta.localdomain"),
    ({"fqdn": 123}, None),
]


class FakeCloud:
    def __init__(self, md):
        self.ds = object.__new__(DataSource)
        self.ds.metadata = md

    def get_hostname(self, fqdn=False, metadata_only=False):
        return DataSource.get_hostname(self.ds, fqdn=fqdn, metadata_only=metadata_only)


out = []
for cfg, lhost in CASES:
    md = {"local-hostname": lhost} if lhost else {}
    h = util.get_hostname_fqdn(cfg, FakeCloud(md))
    out.append({"cfg": cfg, "local_hostname": lhost, "hostname": h.hostname,
                "fqdn": h.fqdn, "is_default": h.is_default})
with open(os.path.join(HERE, "hostname_fqdn.json"), "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
