#!/usr/bin/env python3
"""Regenerate tests/fixtures/openstack-oracle.json and oracle-oci-oracle.json:
upstream's DataSourceOpenStack / DataSourceOracleNet crawl the ci-imds
emulator (127.0.0.1 only) serving tests/fixtures/openstack-seed and
tests/fixtures/oracle-seed.

Run from the repo root with the oracle's Python:
  CARGO_TARGET_DIR=/var/tmp/target-openstack cargo build -p ci-cli --bin cloud-init
  /var/tmp/cloud-init-oracle/venv/bin/python crates/sources/tests/regen-openstack.py \
      /var/tmp/target-openstack/debug/cloud-init

The emulator runs as `cloud-init devel imds-serve --cloud <cloud> --seed DIR
--listen 127.0.0.1:PORT`. Upstream reads OpenStack's EC2-compatible tree
from 169.254.169.254 whatever the metadata URL; it is pointed at the
emulator here (as ours does). Host look-ups are stubbed: NICs by MAC, DMI,
the iSCSI check and netfailover detection. Bytes in metadata are stored as
upstream's JSON dump shows them (text, else `ci-b64:<base64>`); the
emulator's URL is replaced by `URL`.
"""
import base64
import functools
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from unittest import mock

from cloudinit import helpers
from cloudinit.sources import DataSourceOpenStack as osmod
from cloudinit.sources import DataSourceOracle as ocimod
from cloudinit.sources.helpers import openstack as oshelp

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
OS_MACS = {"fa:16:3e:9c:bf:3d": "ens3"}
OCI_MACS = {"02:00:17:00:aa:01": "ens3", "02:00:17:00:aa:02": "ens4"}
OCI_UUID = "a1b2c3d4-0000-1111-2222-333344445555"


def plain(obj, url):
    """JSON-able copy: bytes as upstream dumps them, the URL as `URL`."""
    if isinstance(obj, bytes):
        try:
            return plain(obj.decode("utf-8"), url)
        except UnicodeDecodeError:
            return "ci-b64:" + base64.b64encode(obj).decode()
    if isinstance(obj, str):
        return obj.replace(url, "URL")
    if isinstance(obj, dict):
        return {k: plain(v, url) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v, url) for v in obj]
    return obj


class Distro:
    fallback_interface = "ens3"
    network_renderer = None


def serve(binary, cloud, seed):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen(
        [binary, "devel", "imds-serve", "--cloud", cloud, "--seed", seed,
         "--listen", "127.0.0.1:%d" % port],
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, "http://127.0.0.1:%d" % port


def common(ds, url):
    hn = ds.get_hostname()
    return {
        "metadata": plain(ds.metadata, url),
        "userdata_raw": plain(ds.userdata_raw, url),
        "vendordata_raw": plain(ds.vendordata_raw, url),
        "vendordata2_raw": plain(ds.vendordata2_raw, url),
        "network_config": plain(ds.network_config, url),
        "instance_id": ds.get_instance_id(),
        "hostname": hn.hostname,
        "fqdn": ds.get_hostname(fqdn=True).hostname,
        "public_keys": ds.get_public_ssh_keys(),
        "platform_type": ds.platform_type,
        "subplatform": plain(ds.subplatform, url),
        "cloud_name": ds.cloud_name,
        "region": ds.region,
        "availability_zone": ds.availability_zone,
    }


def openstack(binary):
    proc, url = serve(binary, "openstack", os.path.join(FIX, "openstack-seed"))
    try:
        real = oshelp.ec2.get_instance_metadata
        cfg = {"datasource": {"OpenStack": {
            "metadata_urls": [url], "max_wait": 5, "timeout": 2, "retries": 1}}}
        with tempfile.TemporaryDirectory() as tmp, mock.patch.object(
            oshelp.ec2, "get_instance_metadata",
            functools.partial(real, metadata_address=url),
        ), mock.patch.object(
            oshelp.net, "get_interfaces_by_mac", return_value=dict(OS_MACS)
        ), mock.patch.object(
            oshelp.net, "get_ib_hwaddrs_by_interface", return_value={}
        ):
            paths = helpers.Paths({"cloud_dir": tmp})
            ds = osmod.DataSourceOpenStack(cfg, Distro(), paths)
            assert ds._get_data()
            out = common(ds, url)
            out["ec2_metadata"] = plain(ds.ec2_metadata, url)
            out["str"] = str(ds)
        return out
    finally:
        proc.terminate()
        proc.wait()


def oracle(binary):
    proc, url = serve(binary, "oracle", os.path.join(FIX, "oracle-seed"))
    pattern = url + "/opc/v{version}/{path}/"
    real = ocimod.read_opc_metadata
    out = {}
    try:
        for name, extra in [("default", {}), ("secondary", {"configure_secondary_nics": True})]:
            cfg = {"datasource": {"Oracle": dict({"max_wait": 5, "timeout": 2}, **extra)}}
            with tempfile.TemporaryDirectory() as tmp, mock.patch.object(
                ocimod, "read_opc_metadata",
                lambda real=real, **kw: real(**dict(kw, metadata_patterns=[pattern])),
            ), mock.patch.object(
                ocimod, "get_interfaces_by_mac", return_value=dict(OCI_MACS)
            ), mock.patch.object(
                ocimod, "_ensure_netfailover_safe", lambda cfg: None
            ), mock.patch.object(
                ocimod.dmi, "read_dmi_data", return_value=OCI_UUID
            ):
                paths = helpers.Paths({"cloud_dir": tmp})
                ds = ocimod.DataSourceOracleNet(cfg, Distro(), paths)
                ds._network_config_source.is_applicable = lambda: False
                assert ds._get_data()
                out[name] = common(ds, url)
                out[name]["config"] = cfg["datasource"]["Oracle"]
        return out
    finally:
        proc.terminate()
        proc.wait()


def main():
    binary = sys.argv[1]
    for fname, fn in [("openstack-oracle.json", openstack), ("oracle-oci-oracle.json", oracle)]:
        data = fn(binary)
        with open(os.path.join(FIX, fname), "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.write("\n")
        print("wrote", fname, file=sys.stderr)


if __name__ == "__main__":
    main()
