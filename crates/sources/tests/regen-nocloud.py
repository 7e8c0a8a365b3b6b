#!/usr/bin/env python3
"""Regenerate fixtures/nocloud-oracle.json from upstream cloud-init (the oracle).

Run with the oracle's Python:
    /var/tmp/cloud-init-oracle/venv/bin/python crates/sources/tests/regen-nocloud.py

Each scenario describes a target root (files, SMBIOS serial), a kernel
command line, a system config and a stage. The script builds that root in a
temp dir, points upstream's DataSourceNoCloud / DataSourceNoCloudNet /
DataSourceNone at it (cloud_dir = ROOT/var/lib/cloud, DMI and blkid mocked),
and records what upstream reports. Paths are written back relative to the
root ("@ROOT@" in inputs), so the Rust test can replay them on its own root.
"""
import json
import logging
import os
import sys
import tempfile
from unittest import mock

from cloudinit import dmi, helpers, util
from cloudinit.sources import DataSourceNoCloud as NC
from cloudinit.sources import DataSourceNone as DN

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "nocloud-oracle.json")

SEED = "/var/lib/cloud/seed/nocloud"
SEED_NET = "/var/lib/cloud/seed/nocloud-net"
MD_FULL = (
    "instance-id: iid-seed-1\n"
    "local-hostname: node1.example.com\n"
    "public-keys:\n  - ssh-ed25519 AAAA1 a@b\n  - ssh-rsa AAAA2 c@d\n"
    "availability-zone: az-1\nregion: reg-1\nlaunch-index: 3\n"
)
UD = "#cloud-config\nruncmd: [echo hi]\n"
VD = "#cloud-config\npackages: [x]\n"
NC_V2 = "network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n"
NC_V1 = "version: 1\nconfig:\n  - type: physical\n    name: eth0\n    subnets:\n      - type: dhcp\n"


def seed(d, **files):
    return {f"{d}/{k.replace('_', '-')}": v for k, v in files.items()}


SCENARIOS = [
    dict(name="seed-dir-full", files=seed(SEED, meta_data=MD_FULL, user_data=UD, vendor_data=VD, network_config=NC_V2)),
    dict(name="seed-net-dir-only", files=seed(SEED_NET, meta_data="instance-id: net-dir\n", user_data=UD)),
    dict(name="both-seed-dirs-first-wins", files={**seed(SEED, meta_data="instance-id: first\n", user_data="one"), **seed(SEED_NET, meta_data="instance-id: second\n", user_data="two")}),
    dict(name="seed-dir-missing-user-data", files=seed(SEED, meta_data="instance-id: x\n")),
    dict(name="nothing", files={}),
    dict(name="cmdline-overrides-seed", cmdline="ro ds=nocloud;i=cmd-iid;h=cmdhost quiet", files=seed(SEED, meta_data=MD_FULL, user_data=UD)),
    dict(name="dmi-beats-cmdline", serial="ds=nocloud;i=ser-iid", cmdline="ds=nocloud;i=cmd-iid;h=cmdhost"),
    dict(name="dmi-serial-only", serial="ds=nocloud;h=serialhost;i=ser-iid"),
    dict(name="cmdline-file-seedfrom", cmdline="ds=nocloud;s=file://@ROOT@/srv/seed/;h=cmdh", files=seed("/srv/seed", meta_data="instance-id: from-file\nlocal-hostname: fh\nfoo: bar\n", user_data=UD, network_config=NC_V1)),
    dict(name="cmdline-path-seedfrom-no-slash", cmdline="ds=nocloud;s=@ROOT@/srv/seed", files=seed("/srv/seed", meta_data="instance-id: from-path\n", user_data=UD, vendor_data=VD)),
    dict(name="cmdline-seedfrom-missing", cmdline="ds=nocloud;s=@ROOT@/nonexistent/"),
    dict(name="cfg-seedfrom-over-seed-dir", cfg={"datasource": {"NoCloud": {"seedfrom": "@ROOT@/srv/seed/"}}}, files={**seed(SEED, meta_data="instance-id: seeddir\nseedfrom: /bogus/\n", user_data="#sd\n", vendor_data="#vd\n"), **seed("/srv/seed", meta_data="instance-id: srv\nlocal-hostname: srvhost\n", user_data=UD)}),
    dict(name="cfg-user-and-meta-data-dict", cfg={"datasource": {"NoCloud": {"user-data": "#cloud-config\n", "meta-data": {"instance-id": "cfg-iid", "local-hostname": "cfghost"}}}}),
    dict(name="cfg-meta-data-string", cfg={"datasource": {"NoCloud": {"user-data": "#cc\n", "meta-data": "instance-id: cfgstr\n"}}}),
    dict(name="cfg-meta-data-without-user-data", cfg={"datasource": {"NoCloud": {"meta-data": {"instance-id": "lonely"}}}}),
    dict(name="cmdline-http-seed-in-local-stage", cmdline="ds=nocloud;s=http://192.0.2.1/", files=seed(SEED, meta_data="instance-id: x\n", user_data=UD)),
    dict(name="dsmode-local-and-ip-hostname", files=seed(SEED, meta_data="dsmode: local\nlocal-hostname: 10.1.2.3\n", user_data="x", network_config=NC_V1)),
    dict(name="dsmode-invalid", files=seed(SEED, meta_data="dsmode: bogus\n", user_data="x")),
    dict(name="dsmode-disabled", files=seed(SEED, meta_data="dsmode: disabled\n", user_data="x")),
    dict(name="meta-data-malformed", files=seed(SEED, meta_data="instance-id: [bad\n", user_data="x")),
    dict(name="meta-data-is-a-list", files=seed(SEED, meta_data="- a\n- b\n", user_data="x")),
    dict(name="meta-data-empty", files=seed(SEED, meta_data="", user_data="")),
    dict(name="network-config-malformed", files=seed(SEED, meta_data="instance-id: m\n", user_data="x", network_config="[bad")),
    dict(name="network-config-empty-file", files=seed(SEED, meta_data="instance-id: m\n", user_data="x", network_config="")),
    dict(name="eni-in-meta-data", files=seed(SEED, meta_data="instance-id: eni\nnetwork-interfaces: |\n  auto eth0\n  iface eth0 inet dhcp\n", user_data="x")),
    dict(name="public-keys-dict-and-cloud-name", files=seed(SEED, meta_data="instance-id: k\ncloud-name: MyCloud\npublic-keys:\n  k1: [a, '', b]\n  k2: c\n", user_data="x")),
    dict(name="public-keys-string", files=seed(SEED, meta_data="instance-id: k\npublic-keys: |\n  key-one\n  key-two\n", user_data="x")),
    dict(name="instance-id-int", files=seed(SEED, meta_data="instance-id: 12345\n", user_data="x")),
    dict(name="custom-fs-label", cfg={"datasource": {"NoCloud": {"fs_label": "mydata"}}}, files=seed(SEED, meta_data="instance-id: lbl\n", user_data="x")),
    dict(name="net-stage-nocloud-net-cmdline", stage="network", cmdline="ds=nocloud-net", files=seed(SEED, meta_data="instance-id: i-1\n", user_data=UD)),
    dict(name="net-stage-not-detected", stage="network", files=seed(SEED, meta_data="instance-id: i-1\n", user_data=UD)),
    dict(name="net-stage-single-datasource-list", stage="network", cfg={"datasource_list": ["NoCloud"]}, files=seed(SEED, meta_data="instance-id: i-1\n", user_data=UD)),
    dict(name="net-stage-file-seed-rejected", stage="network", cmdline="ds=nocloud;s=@ROOT@/srv/seed/", files=seed("/srv/seed", meta_data="instance-id: f\n", user_data=UD)),
    dict(name="net-stage-serial-nocloud", stage="network", serial="ds=nocloud;i=ser-net", files=seed(SEED, meta_data="instance-id: i-1\n", user_data=UD)),
    dict(name="none-with-config", ds="None", stage="network", cfg={"datasource": {"None": {"userdata_raw": "#cloud-config\n", "metadata": {"instance-id": "x", "local-hostname": "n1", "cloud-name": "Fallback"}}}}),
    dict(name="none-empty", ds="None", stage="network"),
]


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def text(v):
    if v is None:
        return None
    if isinstance(v, bytes):
        return v.decode("utf-8")
    return v


def run(sc):
    root = tempfile.mkdtemp()
    sub = lambda s: s.replace("@ROOT@", root) if isinstance(s, str) else s
    for path, content in sc.get("files", {}).items():
        full = root + path
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(content)
    cfg = json.loads(sub(json.dumps(sc.get("cfg", {}))))
    paths = helpers.Paths({"cloud_dir": root + "/var/lib/cloud", "run_dir": root + "/run/cloud-init"})
    serial = sc.get("serial")
    os.environ["DEBUG_PROC_CMDLINE"] = sub(sc.get("cmdline", ""))
    stage = sc.get("stage", "local")
    if sc.get("ds") == "None":
        cls = DN.DataSourceNone
    else:
        cls = NC.DataSourceNoCloud if stage == "local" else NC.DataSourceNoCloudNet
    cap = Capture()
    logging.getLogger().addHandler(cap)
    fake_dmi = lambda k: serial if k == "system-serial-number" else None
    try:
        with mock.patch.object(dmi, "read_dmi_data", fake_dmi), mock.patch.object(
            util, "find_devs_with", lambda *a, **k: []
        ), mock.patch.object(util, "is_lxd", lambda: False):
            ds = cls(cfg, None, paths)
            try:
                found = bool(ds.get_data())
                error = False
            except Exception:
                found = False
                error = True
            norm = lambda s: s.replace(root, "") if isinstance(s, str) else s
            exp = {"found": found, "error": error, "display": norm(str(ds))}
            if found:
                md = json.loads(norm(json.dumps(ds.metadata)))
                exp.update(
                    metadata=md,
                    instance_id=ds.get_instance_id(),
                    hostname=ds.get_hostname(metadata_only=True).hostname,
                    fqdn=ds.get_hostname(fqdn=True, metadata_only=True).hostname,
                    subplatform=norm(ds.subplatform),
                    platform=ds.platform_type,
                    cloud_name=ds.cloud_name,
                    region=ds.region,
                    availability_zone=ds.availability_zone,
                    launch_index=ds.launch_index,
                    public_keys=ds.get_public_ssh_keys(),
                    dsmode=ds.dsmode,
                    userdata=text(ds.userdata_raw),
                    vendordata=text(ds.vendordata_raw),
                    check_instance_id=bool(ds.check_instance_id(cfg)),
                )
                if "network-interfaces" not in md:
                    exp["network_config"] = ds.network_config
            exp["warnings"] = len(cap.records)
    finally:
        logging.getLogger().removeHandler(cap)
    return exp


def main():
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(logging.NullHandler())
    root.setLevel(logging.DEBUG)
    out = []
    for sc in SCENARIOS:
        entry = {k: v for k, v in sc.items()}
        entry.setdefault("stage", "local")
        entry.setdefault("ds", "NoCloud")
        entry["expect"] = run(sc)
        out.append(entry)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(out)} scenarios to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
