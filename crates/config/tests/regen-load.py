#!/usr/bin/env python3
"""Regenerate tests/fixtures/load-*/expected.json with upstream's loader:
Init._read_cfg: fetch_base_config (builtin, cloud.cfg, cloud.cfg.d, run_dir
cloud.cfg, kernel cc:) under helpers.ConfigMerger (--file files, CLOUD_CFG).
Paths are pointed into the fixture's root/. Run with the oracle's Python:

    /var/tmp/cloud-init-oracle/venv/bin/python crates/config/tests/regen-load.py

Each fixture may hold: root/ (the target, with proc/cmdline), extra*.cfg
(--file, in name order), env.cfg (CLOUD_CFG). Upstream's Init._read_cfg
runs as is, with fetch_base_config pointed into root/.
"""

import json
import os
import sys

from cloudinit import stages

real_fetch_base_config = stages.fetch_base_config

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")


def load(fixture):
    root = os.path.join(fixture, "root")
    with open(os.path.join(root, "proc", "cmdline"), encoding="utf-8") as fh:
        os.environ["DEBUG_PROC_CMDLINE"] = fh.read().strip()
    stages.CLOUD_CONFIG = os.path.join(root, "etc/cloud/cloud.cfg")

    def rooted_base_config(run_dir, *, instance_data_file=None):
        return real_fetch_base_config(
            root + run_dir, instance_data_file=root + instance_data_file
        )

    stages.fetch_base_config = rooted_base_config
    env = os.path.join(fixture, "env.cfg")
    if os.path.exists(env):
        os.environ["CLOUD_CFG"] = env
    else:
        os.environ.pop("CLOUD_CFG", None)
    extra = sorted(
        os.path.join(fixture, f)
        for f in os.listdir(fixture)
        if f.startswith("extra") and f.endswith(".cfg")
    )
    # Init._read_cfg itself (bootstrap read, re-read for a custom run_dir);
    # no datasource, and this machine has no /var/lib/cloud/instance.
    init = object.__new__(stages.Init)
    init.datasource = None
    return init._read_cfg(extra)


def main():
    for name in sorted(os.listdir(FIXTURES)):
        if not name.startswith("load-"):
            continue
        d = os.path.join(FIXTURES, name)
        cfg = load(d)
        with open(os.path.join(d, "expected.json"), "w", encoding="utf-8") as fh:
            json.dump(cfg, fh, indent=1)
            fh.write("\n")
        print("wrote", name, file=sys.stderr)


if __name__ == "__main__":
    main()
