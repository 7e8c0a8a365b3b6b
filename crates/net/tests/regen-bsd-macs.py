#!/usr/bin/env python3
"""Regenerate tests/bsd-macs/{netbsd,openbsd}/ from upstream (the oracle).

  /var/tmp/cloud-init-oracle/venv/bin/python crates/net/tests/regen-bsd-macs.py

Renders bsd-macs/input.yaml with the NetBSD and OpenBSD renderers as if the
machine had the interfaces of bsd-macs/macs.txt ("<name> <mac>" lines),
starting from an empty rc.conf (NetBSD) and no resolv.conf.
"""
import os
import shutil
import tempfile

import yaml
from cloudinit import distros, net  # noqa: F401  (distros first: import cycle)
from cloudinit.net import netbsd, network_state, openbsd

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bsd-macs")


def main():
    with open(os.path.join(HERE, "macs.txt")) as fh:
        macs = dict(reversed(line.split()) for line in fh if line.strip())
    net.get_interfaces_by_mac = lambda *a, **k: dict(macs)
    with open(os.path.join(HERE, "input.yaml")) as fh:
        cfg = yaml.safe_load(fh)
    os.umask(0o022)
    for name, mod in (("netbsd", netbsd), ("openbsd", openbsd)):
        dest = os.path.join(HERE, name)
        shutil.rmtree(dest, ignore_errors=True)
        tmp = tempfile.mkdtemp()
        try:
            if name == "netbsd":
                os.makedirs(os.path.join(tmp, "etc"))
                open(os.path.join(tmp, "etc", "rc.conf"), "w").close()
            r = mod.Renderer()
            r._postcmds = False
            ns = network_state.parse_net_config_data(cfg, renderer=r)
            r.render_network_state(network_state=ns, target=tmp + "/")
            shutil.copytree(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print("regenerated", HERE)


if __name__ == "__main__":
    main()
