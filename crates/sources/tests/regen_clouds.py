"""Shared by regen-{gce,digitalocean,hetzner,vultr,aliyun}.py: serve a seed
with `cloud-init devel imds-serve` (ours) on 127.0.0.1, stub what upstream
would read from the machine (DMI, NICs, ephemeral networking), and write
what upstream's datasource produced as a JSON fixture.

Build the binary first:
  CARGO_TARGET_DIR=/var/tmp/target-gce cargo build -p ci-cli
then run a script with the oracle's Python from the repo root:
  /var/tmp/cloud-init-oracle/venv/bin/python crates/sources/tests/regen-gce.py \
      /var/tmp/target-gce/debug/cloud-init
"""
import contextlib
import json
import os
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")


@contextlib.contextmanager
def serve(binary, cloud, seed_name):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    seed = os.path.join(FIXTURES, seed_name)
    proc = subprocess.Popen(
        [binary, "devel", "imds-serve", "--cloud", cloud, "--seed", seed,
         "--listen", "127.0.0.1:%d" % port],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield "http://127.0.0.1:%d" % port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def stub_dmi(values):
    from cloudinit import dmi

    dmi.read_dmi_data = lambda key: values.get(key)


def stub_nics(macs_to_nics):
    from cloudinit import net

    net.get_interfaces_by_mac = lambda *a, **k: dict(macs_to_nics)
    net.find_fallback_nic = lambda *a, **k: sorted(macs_to_nics.values())[0]
    net.find_candidate_nics = lambda *a, **k: sorted(macs_to_nics.values())


class NoNet:
    """Stands in for EphemeralDHCPv4 / EphemeralIPNetwork: the service is
    on 127.0.0.1, nothing needs bringing up."""

    state_msg = ""

    def __init__(self, *a, **k):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


class Distro:
    name = "ubuntu"
    network_renderer = None
    fallback_interface = None

    def get_default_user(self):
        return {"name": "ubuntu"}

    def get_tmp_exec_path(self):
        return "/tmp"


def paths():
    from cloudinit import helpers

    return helpers.Paths({"cloud_dir": "/nonexistent"})


def text(b):
    if b is None:
        return None
    if isinstance(b, bytes):
        return b.decode("utf-8", "surrogateescape")
    return b


def common(ds):
    hn = ds.get_hostname()
    return {
        "metadata": ds.metadata,
        "userdata": text(ds.userdata_raw),
        "vendordata": text(ds.vendordata_raw),
        "instance_id": ds.get_instance_id(),
        "hostname": hn.hostname,
        "public_keys": ds.get_public_ssh_keys(),
        "platform_type": ds.platform_type,
        "subplatform": ds.subplatform,
        "cloud_name": ds.cloud_name,
        "region": ds.region,
        "availability_zone": ds.availability_zone,
    }


def write(name, out):
    with open(os.path.join(FIXTURES, name), "w") as f:
        json.dump(out, f, indent=2, default=str)
        f.write("\n")
