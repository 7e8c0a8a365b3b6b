#!/usr/bin/env python3
"""Regenerate tests/fixtures/status-cases.json from upstream cloud-init.

Run with the oracle's Python (it imports cloudinit):
    /var/tmp/cloud-init-oracle/venv/bin/python crates/state/tests/regen-status.py

Two kinds of cases:
- "writer": a sequence of stages run through upstream's status_wrapper
  (main.py) with a fake stage function; records status.json / result.json
  after the last step and the relative link targets. Uptime is patched.
- "status": a run_dir state (files) plus boot inputs, and upstream's
  `cloud-init status` stdout + exit code for tabular, --long, json, yaml.
"""
import argparse
import contextlib
import io
import json
import logging
import os
import sys
import tempfile

from cloudinit import helpers, util
from cloudinit.cmd import main as ci_main
from cloudinit.cmd import status as ci_status
from cloudinit.log import loggers

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "status-cases.json")
LOG = logging.getLogger("cloudinit.fake")


def run_writer(steps):
    """steps: [{stage, start, finished, datasource, errors, warnings}]"""
    with tempfile.TemporaryDirectory() as tmp:
        paths = helpers.Paths(
            {"cloud_dir": tmp + "/var/lib/cloud", "run_dir": tmp + "/run/cloud-init"}
        )
        ci_main.read_cfg_paths = lambda *a, **k: paths
        loggers.configure_root_logger()
        for step in steps:
            stage = step["stage"]
            times = iter([step["start"], step["finished"]])
            util.uptime = lambda: str(next(times))

            def functor(_name, _args, step=step):
                for w in step.get("warnings", []):
                    LOG.warning(w)
                for d in step.get("deprecated", []):
                    LOG.log(loggers.DEPRECATED, d)
                if stage.startswith("init"):
                    return (step.get("datasource"), step.get("errors", []))
                return step.get("errors", [])

            args = argparse.Namespace(
                action=("x", functor),
                local=stage == "init-local",
                mode=stage.replace("modules-", ""),
            )
            name = "init" if stage.startswith("init") else "modules"
            ci_main.status_wrapper(name, args)
        out = {}
        for f in ("status.json", "result.json"):
            p = os.path.join(paths.run_dir, f)
            if os.path.lexists(p):
                out[f] = open(p).read()
                out[f + ".link"] = os.readlink(p)
        return out


def run_status(case, status_json, result_json):
    outputs = {}
    with tempfile.TemporaryDirectory() as tmp:
        run = tmp + "/run"
        os.makedirs(run)
        os.makedirs(tmp + "/etc/cloud")
        if status_json is not None:
            open(run + "/status.json", "w").write(status_json)
        if result_json is not None:
            open(run + "/result.json", "w").write(result_json)
        for f in case.get("run_files", []):
            open(os.path.join(run, f), "w").close()
        paths = helpers.Paths({"cloud_dir": tmp + "/lib", "run_dir": run})
        ci_status.read_cfg_paths = lambda *a, **k: paths
        # The marker path shows in the output: keep upstream's real path and
        # answer for it from the case instead of the host.
        ci_status.CLOUDINIT_DISABLED_FILE = "/etc/cloud/cloud-init.disabled"
        real_exists = os.path.exists

        def exists(p, real_exists=real_exists):
            if p == "/etc/cloud/cloud-init.disabled":
                return bool(case.get("marker"))
            return real_exists(p)

        os.path.exists = exists
        ci_status.uses_systemd = lambda: case["systemd"]
        ci_status.get_cmdline = lambda: case.get("cmdline", "")
        ci_status._disabled_via_environment = lambda wait: False
        ci_status.systemd_failed = lambda wait: case.get("unit_failed", False)
        for key, fmt, long_ in (
            ("tabular", "tabular", False),
            ("long", "tabular", True),
            ("json", "json", False),
            ("yaml", "yaml", False),
        ):
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                rc = ci_status.handle_status_args(
                    "status", argparse.Namespace(format=fmt, long=long_, wait=False)
                )
            outputs[key] = {"stdout": buf.getvalue(), "rc": rc}
        os.path.exists = real_exists
    # Text from the temp dir must not leak into fixtures.
    for o in outputs.values():
        assert tmp not in o["stdout"], o["stdout"]
    return outputs


ALL4 = [
    {"stage": "init-local", "start": 4.21, "finished": 4.5, "datasource": None},
    {"stage": "init", "start": 6.0, "finished": 7.25,
     "datasource": "DataSourceNoCloud [seed=/dev/vdb]"},
    {"stage": "modules-config", "start": 8.0, "finished": 9.0},
    {"stage": "modules-final", "start": 9.5, "finished": 10.75},
]


def with_(steps, i, **kw):
    steps = [dict(s) for s in steps]
    steps[i].update(kw)
    return steps


WRITERS = {
    "first-stage-running": ALL4[:1],
    "done": ALL4,
    "degraded": with_(ALL4, 1, warnings=["Could not find x", "multi\nline"],
                      deprecated=["Key 'a' is deprecated"]),
    "error": with_(ALL4, 3, errors=["('scripts_user', RuntimeError('Runparts: 1 failures (a) in 1 attempted commands'))"]),
    "error-local": with_(ALL4, 0, errors=["boom"]),
}

STATUS_CASES = [
    {"name": "not-started", "systemd": True, "run_files": ["enabled"], "writer": None},
    {"name": "not-started-unknown", "systemd": True, "writer": None},
    {"name": "running", "systemd": True, "run_files": ["enabled"],
     "writer": "first-stage-running", "result": False},
    {"name": "running-unit-failed", "systemd": True, "run_files": ["enabled"],
     "writer": "first-stage-running", "result": False, "unit_failed": True},
    {"name": "done", "systemd": True, "run_files": ["enabled"], "writer": "done"},
    {"name": "degraded-done", "systemd": True, "run_files": ["enabled"], "writer": "degraded"},
    {"name": "error-done", "systemd": True, "run_files": ["enabled"], "writer": "error"},
    {"name": "error-local-done", "systemd": True, "writer": "error-local"},
    {"name": "disabled-marker", "systemd": True, "marker": True, "writer": None},
    {"name": "disabled-cmdline", "systemd": True, "cmdline": "ro cloud-init=disabled", "writer": None},
    {"name": "enabled-cmdline", "systemd": True, "marker": True, "cmdline": "cloud-init=enabled", "writer": "done"},
    {"name": "disabled-generator", "systemd": True, "run_files": ["disabled"], "writer": None},
    {"name": "sysvinit-done", "systemd": False, "writer": "done"},
]


def main():
    writers = {}
    for name, steps in WRITERS.items():
        writers[name] = {"steps": steps, "files": run_writer(steps)}
    cases = []
    for case in STATUS_CASES:
        files = writers[case["writer"]]["files"] if case["writer"] else {}
        status_json = files.get("status.json")
        result_json = files.get("result.json") if case.get("result", True) else None
        case = dict(case)
        case["status.json"] = status_json
        case["result.json"] = result_json
        case["outputs"] = run_status(case, status_json, result_json)
        cases.append(case)
    with open(OUT, "w") as f:
        json.dump({"writers": writers, "status": cases}, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
