#!/usr/bin/env python3
"""Regenerate tests/fixtures/query-cases.json from upstream's cmd/query.py.

    /var/tmp/cloud-init-oracle/venv/bin/python crates/state/tests/regen-query.py

Uses the instance-data files of fixtures/instance-data/none-basic (written
by regen-instance-data.py) in a temp run_dir, a user-data file, and runs
handle_args in-process as root and as non-root.
"""
import argparse
import contextlib
import io
import json
import logging
import os
import tempfile

from cloudinit import helpers
from cloudinit.cmd import query

HERE = os.path.dirname(os.path.abspath(__file__))
FX = os.path.join(HERE, "fixtures")

CASES = [
    {"name": "all-root", "root": True, "all": True},
    {"name": "all-user", "root": False, "all": True},
    {"name": "v1", "root": True, "varname": "v1"},
    {"name": "alias-leaf", "root": True, "varname": "ds.meta_data.v1_0.user_network_config"},
    {"name": "top-level-v1-key", "root": False, "varname": "local_hostname"},
    {"name": "hyphen-key", "root": False, "varname": "v1.cloud-name"},
    {"name": "null-value", "root": True, "varname": "v1.nosuchkey_region"},
    {"name": "missing-leaf", "root": True, "varname": "v1.nosuch"},
    {"name": "missing-top", "root": True, "varname": "nosuch"},
    {"name": "list-top", "root": False, "list_keys": True},
    {"name": "list-v1", "root": True, "list_keys": True, "varname": "v1"},
    {"name": "list-not-dict", "root": True, "list_keys": True, "varname": "v1.cloud_name"},
    {"name": "userdata", "root": True, "varname": "userdata"},
    {"name": "userdata-user", "root": False, "varname": "userdata"},
    {"name": "nothing", "root": True},
    {"name": "region", "root": True, "varname": "v1.region"},
    {"name": "keys-list", "root": True, "varname": "v1.public_ssh_keys"},
]


class Capture(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append([record.levelname, record.getMessage()])


def main():
    expected = json.load(open(os.path.join(FX, "instance-data", "none-basic", "expected.json")))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        run = os.path.join(tmp, "run/cloud-init")
        cloud = os.path.join(tmp, "var/lib/cloud")
        os.makedirs(run)
        os.makedirs(os.path.join(cloud, "instances/iid-abc"))
        os.symlink(os.path.join(cloud, "instances/iid-abc"), os.path.join(cloud, "instance"))
        for f in ("instance-data.json", "instance-data-sensitive.json"):
            open(os.path.join(run, f), "w").write(expected[f])
        open(os.path.join(cloud, "instance/user-data.txt"), "w").write("#cloud-config\nruncmd: [ls]\n")
        paths = helpers.Paths({"cloud_dir": cloud, "run_dir": run})
        query.read_cfg_paths = lambda *a, **k: paths
        cap = Capture()
        logging.getLogger().addHandler(cap)
        for case in CASES:
            os.getuid = (lambda: 0) if case["root"] else (lambda: 1000)
            cap.records = []
            args = argparse.Namespace(
                debug=False, instance_data=None, list_keys=case.get("list_keys", False),
                user_data=None, vendor_data=None, varname=case.get("varname"),
                dump_all=case.get("all", False), format=None,
            )
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
                rc = query.handle_args("query", args)
            out = buf.getvalue()
            if case["name"] == "nothing":
                out = ""  # argparse help text; the CLI prints its own
            out = out.replace(tmp, "")
            logs = [[l, m.replace(tmp, "")] for l, m in cap.records]
            results.append(dict(case, stdout=out, rc=rc, logs=logs))
    with open(os.path.join(FX, "query-cases.json"), "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
