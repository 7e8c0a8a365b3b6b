#!/usr/bin/env python3
"""Regenerate the /etc/hosts fixtures with upstream cloud-init:

- fixtures/hosts.debian.out: hosts.debian.tmpl rendered for
  hostname=myhost, fqdn=myhost.example.com (manage_etc_hosts: true);
- fixtures/hosts_localhost_out.txt: Debian's update_etc_hosts (manage_etc_hosts:
  localhost) applied to fixtures/hosts_localhost_in.txt.

    /var/tmp/cloud-init-oracle/venv/bin/python crates/modules/tests/regen-hosts.py
"""
import os
import shutil
import tempfile

from cloudinit import templater
from cloudinit.distros import debian

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
TPL = "/var/tmp/cloud-init-oracle/root/etc/cloud/templates/hosts.debian.tmpl"
PARAMS = {"hostname": "myhost", "fqdn": "myhost.example.com"}

with open(TPL) as f:
    rendered = templater.render_string(f.read(), PARAMS)
with open(os.path.join(HERE, "hosts.debian.out"), "w") as f:
    f.write(rendered)

with tempfile.TemporaryDirectory() as tmp:
    hosts = os.path.join(tmp, "hosts")
    shutil.copy(os.path.join(HERE, "hosts_localhost_in.txt"), hosts)
    d = debian.Distro("debian", {}, None)
    d.hosts_fn = hosts
    d.update_etc_hosts(PARAMS["hostname"], PARAMS["fqdn"])
    shutil.copy(hosts, os.path.join(HERE, "hosts_localhost_out.txt"))
