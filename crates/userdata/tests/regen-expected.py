#!/usr/bin/env python3
"""Regenerate tests/expected/*.json for the ci-userdata differential test.

Run with the oracle's Python (upstream cloud-init 25.1.4):

    /var/tmp/cloud-init-oracle/venv/bin/python crates/userdata/tests/regen-expected.py

Each input in tests/corpus/ (options in corpus/options.json) goes through
upstream's UserDataProcessor, the launch-index filter (user-data only) and
upstream's default part handlers in a temporary cloud_dir, exactly as
Init._consume_userdata / _consume_vendordata wire them (minus handler
plugin dirs). Recorded: the attached parts, the written cloud-config.txt
and its parsed value, the scripts and boothooks written, WARNING records
and a raised error. `#include` URLs are served by a local HTTP server on
127.0.0.1 from corpus/http/; `@@BASE@@` stands for its base URL. Retry
sleeps are patched out; boothooks are not executed.
"""

import http.server
import json
import logging
import os
import shutil
import sys
import tempfile
import threading

from cloudinit import handlers, helpers, user_data
from cloudinit.filters import launch_index
from cloudinit.handlers import boot_hook
from cloudinit.handlers.boot_hook import BootHookPartHandler
from cloudinit.handlers.cloud_config import CloudConfigPartHandler
from cloudinit.handlers.jinja_template import JinjaTemplatePartHandler
from cloudinit.handlers.shell_script import ShellScriptPartHandler
from cloudinit.handlers.shell_script_by_frequency import (
    ShellScriptByFreqPartHandler,
)
from cloudinit.settings import PER_ALWAYS, PER_INSTANCE, PER_ONCE
import cloudinit.url_helper as url_helper
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
HTTP_DIR = os.path.join(CORPUS, "http")
EXPECTED = os.path.join(HERE, "expected")
IID = "iid-test"


class Handler(http.server.BaseHTTPRequestHandler):
    base = ""

    def do_GET(self):
        path = os.path.join(HTTP_DIR, os.path.basename(self.path))
        if not os.path.isfile(path):
            self.send_error(404)
            return
        with open(path, "rb") as f:
            data = f.read()
        data = data.replace(b"@@BASE@@", Handler.base.encode())
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


class FakeDS:
    def get_instance_id(self):
        return IID


def walk_files(root):
    out = []
    if not os.path.isdir(root):
        return out
    for dirpath, _dirs, files in os.walk(root):
        for fn in files:
            full = os.path.join(dirpath, fn)
            with open(full, "rb") as f:
                content = f.read().decode("utf-8", "replace")
            out.append((os.path.relpath(full, root), content))
    return sorted(out)


def run_case(name, raw, opts, instance_data, base):
    tmp = tempfile.mkdtemp(prefix="ud-regen-")
    try:
        cloud_dir = os.path.join(tmp, "cloud")
        run_dir = os.path.join(tmp, "run")
        os.makedirs(run_dir)
        paths = helpers.Paths(
            {"cloud_dir": cloud_dir, "run_dir": run_dir}, ds=FakeDS()
        )
        os.makedirs(paths.get_ipath(""), exist_ok=True)
        os.symlink(paths.get_ipath(""), os.path.join(cloud_dir, "instance"))
        if instance_data is not None:
            with open(paths.get_runpath("instance_data_sensitive"), "w") as f:
                json.dump(instance_data, f)

        kind = opts.get("kind", "user")
        records = Records()
        root = logging.getLogger()
        root.addHandler(records)
        result = {"error": None}
        try:
            msg = user_data.UserDataProcessor(paths).process(raw)
        except Exception as e:  # upstream raises: nothing is consumed
            result["error"] = str(e)
            msg = None
        if msg is not None:
            result["parts"] = [
                {
                    "content_type": p.get_content_type(),
                    "filename": p.get_filename(),
                    "launch_index": p.get("Launch-Index"),
                }
                for p in msg.walk()
                if p.get_content_maintype() != "multipart"
            ]
            if kind == "user" and opts.get("launch_index") is not None:
                msg = launch_index.Filter(opts["launch_index"]).apply(msg)
            hopts = {"paths": paths, "datasource": FakeDS()}
            if kind == "vendor":
                hopts.update(
                    script_path="vendor_scripts",
                    cloud_config_path="vendor_cloud_config",
                )
            elif kind == "vendor2":
                hopts.update(
                    script_path="vendor_scripts",
                    cloud_config_path="vendor2_cloud_config",
                )
            cc = CloudConfigPartHandler(**hopts)
            ss = ShellScriptPartHandler(**hopts)
            bh = BootHookPartHandler(**hopts)
            mods = [
                cc,
                ss,
                ShellScriptByFreqPartHandler(PER_ALWAYS, **hopts),
                ShellScriptByFreqPartHandler(PER_INSTANCE, **hopts),
                ShellScriptByFreqPartHandler(PER_ONCE, **hopts),
                bh,
                JinjaTemplatePartHandler(**hopts, sub_handlers=[cc, ss, bh]),
            ]
            c_handlers = helpers.ContentHandlers()
            for mod in mods:
                c_handlers.register(mod, overwrite=False)
            idir = paths.get_ipath("handlers")
            os.makedirs(idir, exist_ok=True)
            sys.path.insert(0, idir)
            for mod in mods:
                handlers.call_begin(mod, None, PER_INSTANCE)
            part_data = {
                "handlers": c_handlers,
                "handlerdir": idir,
                "data": None,
                "frequency": PER_INSTANCE,
                "handlercount": 0,
                "excluded": opts.get("disabled_handlers") or [],
            }
            handlers.walk(msg, handlers.walker_callback, data=part_data)
            for mod in mods:
                handlers.call_end(mod, None, PER_INSTANCE)
            sys.path.remove(idir)

            cc_name = {
                "user": "cloud-config.txt",
                "vendor": "vendor-cloud-config.txt",
                "vendor2": "vendor2-cloud-config.txt",
            }[kind]
            with open(os.path.join(paths.get_ipath(""), cc_name)) as f:
                text = f.read()
            result["cloud_config_text"] = text
            result["cloud_config"] = yaml.safe_load(text) if text else None
            scripts = []
            for rel, content in walk_files(os.path.join(cloud_dir, "scripts")):
                scripts.append({"path": "scripts/" + rel, "content": content})
            for rel, content in walk_files(paths.get_ipath("scripts")):
                scripts.append({"path": "instance/scripts/" + rel, "content": content})
            result["scripts"] = scripts
            result["boothooks"] = [
                {"filename": rel, "content": content}
                for rel, content in walk_files(paths.get_ipath("boothooks"))
            ]
        root.removeHandler(records)
        result["warnings"] = records.messages

        def norm(v):
            if isinstance(v, str):
                return v.replace(base, "@@BASE@@")
            if isinstance(v, list):
                return [norm(x) for x in v]
            if isinstance(v, dict):
                return {k: norm(x) for k, x in v.items()}
            return v

        return norm(result)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = "http://127.0.0.1:%d" % server.server_address[1]
    Handler.base = base
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # Upstream sleeps 1 s between its 10 retries; the outcome is the same.
    url_helper.time.sleep = lambda _s: None
    boot_hook.subp.subp = lambda *a, **k: ("", "")
    logging.getLogger().setLevel(logging.DEBUG)

    with open(os.path.join(CORPUS, "options.json")) as f:
        options = json.load(f)
    with open(os.path.join(CORPUS, "instance-data.json")) as f:
        instance_data = json.load(f)
    os.makedirs(EXPECTED, exist_ok=True)
    for name in sorted(os.listdir(CORPUS)):
        path = os.path.join(CORPUS, name)
        if not os.path.isfile(path) or name in ("options.json", "instance-data.json"):
            continue
        with open(path, "rb") as f:
            raw = f.read().replace(b"@@BASE@@", base.encode())
        opts = options.get(name, {})
        idata = None if opts.get("no_instance_data") else instance_data
        result = run_case(name, raw, opts, idata, base)
        with open(os.path.join(EXPECTED, name + ".json"), "w") as f:
            json.dump(result, f, indent=1, sort_keys=True, ensure_ascii=False)
            f.write("\n")
        print(name, "error" if result["error"] else "ok", len(result["warnings"]), "warnings")
    server.shutdown()


if __name__ == "__main__":
    main()
