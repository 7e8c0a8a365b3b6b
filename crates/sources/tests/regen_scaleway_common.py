"""Shared by regen-{scaleway,upcloud,akamai,exoscale,cloudstack}.py: serve a
fixtures/<cloud>-seed directory with `cloud-init devel imds-serve` (the Rust
binary) on 127.0.0.1 and write what upstream's datasource made of it to
fixtures/<cloud>-oracle.json.

Usage (from the repo root, with the oracle's Python, as root for Scaleway's
privileged source port):
  cargo build -p ci-cli --bin cloud-init
  /var/tmp/cloud-init-oracle/venv/bin/python crates/sources/tests/regen-<cloud>.py \
      target/debug/cloud-init
"""
import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def fixture(name):
    return os.path.join(HERE, "fixtures", name)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Emulator:
    def __init__(self, cloud):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.argv[1], "devel", "imds-serve", "--cloud", cloud,
             "--seed", fixture(f"{cloud}-seed"),
             "--listen", f"127.0.0.1:{self.port}"],
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("emulator did not start")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def text(b):
    if b is None:
        return None
    return b.decode() if isinstance(b, bytes) else b


def write(cloud, out):
    with open(fixture(f"{cloud}-oracle.json"), "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")


def common(ds):
    """What every fixture records."""
    return {
        "metadata": ds.metadata,
        "userdata_raw": text(ds.userdata_raw),
        "vendordata_raw": text(ds.vendordata_raw),
        "instance_id": ds.get_instance_id(),
        "hostname": ds.get_hostname().hostname,
        "public_keys": ds.get_public_ssh_keys(),
        "platform_type": ds.platform_type,
        "cloud_name": ds.cloud_name,
        "region": ds.region,
        "availability_zone": ds.availability_zone,
    }


class Distro:
    fallback_interface = "ens2"
    network_renderer = None
