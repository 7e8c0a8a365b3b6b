#!/usr/bin/env python3
"""Regenerate fixtures/should-wait.json: upstream's decision whether the
network stage needs the network, per raw user-data blob, with the warning it
logs. Run with the oracle's Python:

    /var/tmp/cloud-init-oracle/venv/bin/python crates/cli/tests/regen-should-wait.py
"""
import json
import logging
import os

from cloudinit.cmd import main

CASES = [
    "",
    "#cloud-config\n",
    "#cloud-config\nusers: [ {name: nobody-here\nruncmd:\n  - : : [\n",
    "#cloud-config\nruncmd:\n  - echo hi\n   bad: [indent\n",
    "#cloud-config\nbootcmd: [echo a]\n",
    "#cloud-config\nbootcmd: []\n",
    "#cloud-config\nmounts: [[srv, /srv]]\n",
    "#cloud-config\nmounts: []\n",
    "#cloud-config\nrandom_seed: {command: [pollinate]}\n",
    "#cloud-config\nrandom_seed: {file: /dev/urandom}\n",
    "#cloud-config\nwrite_files: [{path: /a, source: {uri: 'http://x/y'}}]\n",
    "#cloud-config\nwrite_files: [{path: /a, source: {uri: /etc/hostname}}]\n",
    "#cloud-config\nwrite_files: [{path: /a, source: {uri: 'file:///etc/x'}}]\n",
    "#cloud-config\nwrite_files: [{path: /a, content: x}]\nruncmd: [ls]\n",
    "#cloud-config\n- a\n",
    "#cloud-config\njust a string\n",
    "#cloud-config-archive\n[]\n",
    "#cloud-config-jsonp\n[]\n",
    "  #CLOUD-CONFIG\na: 1\n",
    "#!/bin/sh\necho hi\n",
    "#include\nhttp://example.invalid/x\n",
    "#cloud-boothook\necho\n",
    "## template: jinja\n#cloud-config\na: 1\n",
    "Content-Type: multipart/mixed; boundary=x\n\n--x--\n",
    "#cloud-config\nusers:\n  - name: a\n    ssh_authorized_keys: [k]\nssh_pwauth: true\n",
]


class Grab(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append([record.levelname, record.getMessage()])


def main_():
    grab = Grab()
    logging.getLogger().addHandler(grab)
    logging.getLogger().setLevel(logging.DEBUG)
    out = []
    for text in CASES:
        grab.records = []
        wait, reason = main._should_wait_via_user_data(text.encode())
        out.append({"raw": text, "wait": wait, "reason": reason,
                    "warnings": [m for lvl, m in grab.records if lvl == "WARNING"]})
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "fixtures", "should-wait.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main_()
