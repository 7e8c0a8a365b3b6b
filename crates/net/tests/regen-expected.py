#!/usr/bin/env python3
"""Regenerate tests/expected/ from upstream cloud-init (the oracle).

Run with the oracle's Python, e.g.
  /var/tmp/cloud-init-oracle/venv/bin/python crates/net/tests/regen-expected.py [renderer ...]

Each corpus case is rendered exactly as `cloud-init devel net-convert -p IN
-k yaml -D DISTRO -O RENDERER -d OUTDIR` does (same code path, in-process
for speed, with a fresh empty OUTDIR each time). Output tree:
  tests/expected/<case>/<renderer>-<distro>/<files>
  tests/expected/<case>/<renderer>-<distro>/MANIFEST   "<octal mode> <path>" per file,
      or a single "ERROR <exception>" line when upstream crashes,
      or "SAME <renderer>-<distro>" when the tree is identical to that one.
"""
import copy
import io
import os
import shutil
import stat
import sys
import tempfile

os.environ.setdefault("DEBUG_PROC_CMDLINE", "")

import yaml  # noqa: E402
from cloudinit import distros, net  # noqa: E402
from cloudinit.net import (  # noqa: E402
    eni,
    freebsd,
    netbsd,
    netplan,
    network_manager,
    network_state,
    networkd,
    openbsd,
    sysconfig,
)

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
EXPECTED = os.path.join(HERE, "expected")

ALL = ["debian", "ubuntu", "fedora", "rhel", "opensuse", "alpine", "arch", "freebsd"]
# Distros for which upstream 25.1.4 renders with each renderer (oracle README).
MATRIX = {
    "netplan": ["debian", "ubuntu", "arch"],
    "eni": ALL,
    "networkd": ALL,
    "sysconfig": ["fedora", "rhel", "opensuse"],
    "network-manager": ALL,
    # Not offered by net-convert; rendered in-process below.
    "freebsd": ["freebsd"],
    "netbsd": ["netbsd"],
    "openbsd": ["openbsd"],
}
# Where upstream crashes (netplan's `to: default` outside netplan, ...), for these
# cases the expected tree is upstream's output for the same config with the
# default route spelled out, which is what we render.
CRASH_EQUIVALENTS = {
    "v2-route-default": ("to: default", "to: 0.0.0.0/0"),
    "v2-route-default-v6": ("to: default", 'to: "::/0"'),
    # networkd looks up `ethernets` unconditionally (KeyError).
    "v2-bonds-no-ethernets": ("version: 2\n", "version: 2\nethernets: {}\n"),
}
DEFAULT_RENDERERS = [
    "netplan", "eni", "networkd", "network-manager", "sysconfig", "freebsd", "netbsd", "openbsd",
]


def render(net_yaml, distro_name, kind, outdir, openbsd_text_prefix=False):
    """Mirror cmd/devel/net_convert.handle_args for -k yaml."""
    pre_ns = yaml.safe_load(net_yaml)
    if "network" in pre_ns:
        pre_ns = pre_ns.get("network")
    if kind == "freebsd":
        # The BSD renderer edits an existing rc.conf; start from an empty
        # one. postcmds off: it would run `service netif restart` here.
        os.makedirs(os.path.join(outdir, "etc"), exist_ok=True)
        open(os.path.join(outdir, "etc", "rc.conf"), "w").close()
        r = freebsd.Renderer()
        r._postcmds = False
        ns = network_state.parse_net_config_data(pre_ns, renderer=r)
        r.render_network_state(network_state=ns, target=outdir + "/")
        return
    if kind in ("netbsd", "openbsd"):
        # As for freebsd, but NetBSD edits rc.conf (start from an empty
        # one) and OpenBSD writes hostname.<if>/mygate only. No NIC of
        # this machine may match a corpus MAC: pretend there are none.
        net.get_interfaces_by_mac = lambda *a, **k: {}
        if kind == "netbsd":
            os.makedirs(os.path.join(outdir, "etc"), exist_ok=True)
            open(os.path.join(outdir, "etc", "rc.conf"), "w").close()
        if kind == "netbsd":
            r = netbsd.Renderer()
        elif openbsd_text_prefix:
            r = OpenBSDTextPrefix()
        else:
            r = openbsd.Renderer()
        r._postcmds = False
        ns = network_state.parse_net_config_data(pre_ns, renderer=r)
        r.render_network_state(network_state=ns, target=outdir + "/")
        return
    distro_cls = distros.fetch(distro_name)
    distro = distro_cls(distro_name, {}, None)
    # net_convert mutates the class-level renderer_configs; copy so that
    # repeated in-process calls see what one CLI call sees.
    configs = copy.deepcopy(distro.renderer_configs)
    if kind == "eni":
        r_cls, config = eni.Renderer, configs.get("eni")
    elif kind == "netplan":
        r_cls, config = netplan.Renderer, configs.get("netplan", {})
        config["postcmds"] = False
        config["netplan_path"] = config["netplan_path"][1:]
        config["features"] = ["dhcp-use-domains", "ipv6-mtu"]
    elif kind == "networkd":
        r_cls, config = networkd.Renderer, configs.get("networkd")
    elif kind == "sysconfig":
        r_cls, config = sysconfig.Renderer, configs.get("sysconfig")
    else:
        r_cls, config = network_manager.Renderer, configs.get("network-manager")
    r = r_cls(config=config)
    ns = network_state.parse_net_config_data(pre_ns, renderer=r)
    r.render_network_state(network_state=ns, target=outdir + "/")


class OpenBSDTextPrefix(openbsd.Renderer):
    """OpenBSD's renderer as if it spelled an int route prefix as text.

    Upstream concatenates the prefix into `!route add` lines and crashes
    with a TypeError when it is an int (every IPv6 route); the equivalent
    tree is what it writes for the prefix as a string (as it does for the
    `::` default route it makes from a static6 gateway).
    """

    def set_route(self, network, netmask, gateway):
        super().set_route(network, str(netmask), gateway)


def render_equivalent(case, text, distro_name, kind, outdir):
    """After an upstream crash: render an equivalent input, or the same
    input with the crash fixed; the note says which, None if none works."""
    attempts = []
    if case in CRASH_EQUIVALENTS:
        old, new = CRASH_EQUIVALENTS[case]
        attempts.append((text.replace(old, new), False, repr(new)))
    if kind == "openbsd":
        attempts.append((text, True, "the route prefix as text"))
        if case in CRASH_EQUIVALENTS:
            attempts.append((text.replace(old, new), True,
                             "%r and the route prefix as text" % new))
    for variant, text_prefix, note in attempts:
        shutil.rmtree(outdir, ignore_errors=True)
        os.makedirs(outdir)
        try:
            render(variant, distro_name, kind, outdir, text_prefix)
        except Exception:
            continue
        return note
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    return None


def signature(tree):
    parts = []
    for dirpath, _dirs, files in sorted(os.walk(tree)):
        for name in sorted(files):
            p = os.path.join(dirpath, name)
            with open(p, "rb") as fh:
                parts.append((os.path.relpath(p, tree), fh.read()))
    return repr(parts)


def main():
    renderers = sys.argv[1:] or DEFAULT_RENDERERS
    cases = sorted(f[:-5] for f in os.listdir(CORPUS) if f.endswith(".yaml"))
    os.umask(0o022)
    for case in cases:
        with open(os.path.join(CORPUS, case + ".yaml")) as fh:
            text = fh.read()
        for kind in renderers:
            seen = {}  # tree signature -> label, to store identical trees once
            for distro_name in MATRIX[kind]:
                dest = os.path.join(EXPECTED, case, "%s-%s" % (kind, distro_name))
                shutil.rmtree(dest, ignore_errors=True)
                os.makedirs(dest)
                tmp = tempfile.mkdtemp(prefix="netconv-")
                try:
                    manifest = []
                    note = []
                    try:
                        render(text, distro_name, kind, tmp)
                    except Exception as e:  # upstream crash: record it
                        note = render_equivalent(case, text, distro_name, kind, tmp)
                        if note is None:
                            manifest = ["ERROR %s: %s" % (type(e).__name__, e)]
                        else:
                            note = ["# upstream: %s: %s; tree rendered with %s"
                                    % (type(e).__name__, e, note)]
                    if not manifest:
                        for dirpath, _dirs, files in os.walk(tmp):
                            for name in files:
                                src = os.path.join(dirpath, name)
                                rel = os.path.relpath(src, tmp)
                                mode = stat.S_IMODE(os.stat(src).st_mode)
                                manifest.append("%04o %s" % (mode, rel))
                                os.makedirs(os.path.join(dest, os.path.dirname(rel)), exist_ok=True)
                                shutil.copyfile(src, os.path.join(dest, rel))
                    with open(os.path.join(dest, "MANIFEST"), "w") as fh:
                        fh.write("".join(n + "\n" for n in note))
                        fh.write("".join(sorted(m.split("\n")[0] + "\n" for m in manifest)))
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
                label = "%s-%s" % (kind, distro_name)
                sig = signature(dest)
                if sig in seen:
                    # Same bytes and modes as another distro's tree: keep
                    # one copy and point at it.
                    shutil.rmtree(dest)
                    os.makedirs(dest)
                    with open(os.path.join(dest, "MANIFEST"), "w") as fh:
                        fh.write("SAME %s\n" % seen[sig])
                else:
                    seen[sig] = label
    print("regenerated %d cases for %s" % (len(cases), ", ".join(renderers)))


if __name__ == "__main__":
    main()
