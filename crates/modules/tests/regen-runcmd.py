#!/usr/bin/env python3
"""Regenerate fixtures/runcmd_tricky.sh: upstream's util.shellify of the
runcmd list in fixtures/runcmd_tricky.yaml, loaded with PyYAML as upstream
loads cloud-config.

    /var/tmp/cloud-init-oracle/venv/bin/python crates/modules/tests/regen-runcmd.py
"""
import os

import yaml

from cloudinit import util

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

with open(os.path.join(HERE, "runcmd_tricky.yaml")) as f:
    cfg = yaml.safe_load(f)
with open(os.path.join(HERE, "runcmd_tricky.sh"), "w") as f:
    f.write(util.shellify(cfg["runcmd"]))
