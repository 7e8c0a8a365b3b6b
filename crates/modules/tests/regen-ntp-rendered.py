#!/usr/bin/env python3
"""Regenerate fixtures/ntp_rendered.json: upstream's own rendering of each of
its ntp/chrony/timesyncd templates (the oracle's /etc/cloud/templates) for the
parameter sets below, as cc_ntp passes them (servers, pools, peers, allow).
ntp::tests compares our built-in layouts with these byte for byte.

    /var/tmp/cloud-init-oracle/venv/bin/python crates/modules/tests/regen-ntp-rendered.py
"""
import json
import os

from cloudinit import templater

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
TEMPLATES = "/var/tmp/cloud-init-oracle/root/etc/cloud/templates"
PARAMS = [
    {"servers": [], "pools": [], "peers": [], "allow": []},
    {
        "servers": ["s1.example", "192.0.2.1"],
        "pools": ["p1.example", "p2.example"],
        "peers": ["peer1"],
        "allow": ["10.0.0.0/8", "192.168.0.0/16"],
    },
]
# The templates our built-in layouts stand for (crates/modules/src/ntp/layouts);
# upstream's other names are copies of these for more distros.
names = [
    "chrony.conf.alpine", "chrony.conf.cos", "chrony.conf.debian", "chrony.conf.fedora",
    "chrony.conf.freebsd", "chrony.conf.opensuse", "chrony.conf.rhel", "chrony.conf.ubuntu",
    "ntp.conf.almalinux", "ntp.conf.alpine", "ntp.conf.debian", "ntp.conf.fedora",
    "ntp.conf.freebsd", "ntp.conf.opensuse", "ntp.conf.rhel", "ntp.conf.ubuntu",
    "ntpd.conf.openbsd", "timesyncd.conf",
]
rendered = {}
for name in sorted(names):
    with open(os.path.join(TEMPLATES, name + ".tmpl"), encoding="utf-8") as f:
        text = f.read()
    rendered[name] = [templater.render_string(text, p) for p in PARAMS]
with open(os.path.join(HERE, "ntp_rendered.json"), "w", encoding="utf-8") as f:
    json.dump({"params": PARAMS, "rendered": rendered}, f, indent=1, sort_keys=True)
    f.write("\n")
