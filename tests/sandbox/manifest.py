#!/usr/bin/env python3
"""Describe what a first boot did to a root, as JSON, so that two roots
provisioned from the same seed (ours and upstream's) can be compared.

usage: manifest.py ROOT [BASE_ROOT]
BASE_ROOT (the pristine image) lets us report only users and groups the boot added.
Only stdlib; runs on the CI machine's python3.
"""
import hashlib
import json
import os
import stat
import sys

# Files a first boot from tests/sandbox seeds creates or changes.
FILES = [
    "/etc/hostname",
    "/etc/hosts",
    "/etc/timezone",
    "/etc/sudoers.d/90-cloud-init-users",
    "/etc/ssh/sshd_config.d/50-cloud-init.conf",
    "/etc/motd.d/10-demo",
    "/opt/app/config.json",
    "/home/alice/notes.txt",
    "/etc/vendor-marker",
    "/home/alice/.ssh/authorized_keys",
    "/home/debian/.ssh/authorized_keys",
    "/root/.ssh/authorized_keys",
    "/var/tmp/demo-runcmd",
    "/etc/mime/from-jinja",
    "/etc/mime/second-part",
    "/var/tmp/mime-runcmd",
    "/var/tmp/user-script",
    "/var/tmp/per-boot",
    "/var/tmp/boothook",
    "/var/tmp/seed-random",
    "/etc/default/locale",
    "/etc/ssh/ssh_host_ed25519_key.pub",
    "/home/carol/.ssh/authorized_keys",
    "/var/lib/cloud/scripts/per-boot/per-boot.sh",
]
HOST_KEY_TYPES = ["rsa", "ecdsa", "ed25519", "dsa"]


def read_table(root, name):
    rows = {}
    try:
        with open(os.path.join(root, "etc", name), encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split(":")
                if parts and parts[0]:
                    rows[parts[0]] = parts
    except FileNotFoundError:
        pass
    return rows


def names(root):
    users = {p[2]: p[0] for p in read_table(root, "passwd").values() if len(p) > 2}
    groups = {p[2]: p[0] for p in read_table(root, "group").values() if len(p) > 2}
    return users, groups


def describe_file(root, path, users, groups):
    full = os.path.join(root, path.lstrip("/"))
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        return None
    entry = {
        "mode": oct(stat.S_IMODE(st.st_mode)),
        "owner": users.get(str(st.st_uid), st.st_uid),
        "group": groups.get(str(st.st_gid), st.st_gid),
    }
    if stat.S_ISLNK(st.st_mode):
        entry["link"] = os.readlink(full)
    elif stat.S_ISREG(st.st_mode):
        with open(full, "rb") as f:
            data = f.read()
        try:
            entry["content"] = data.decode("utf-8")
        except UnicodeDecodeError:
            entry["sha256"] = hashlib.sha256(data).hexdigest()
    return entry


def main():
    root = sys.argv[1]
    base = sys.argv[2] if len(sys.argv) > 2 else None
    users, groups = names(root)
    passwd = read_table(root, "passwd")
    shadow = read_table(root, "shadow")
    group = read_table(root, "group")
    base_passwd = read_table(base, "passwd") if base else {}
    base_group = read_table(base, "group") if base else {}
    out = {"users": {}, "groups": {}, "files": {}}
    for name, p in sorted(passwd.items()):
        if name in base_passwd:
            continue
        pw = shadow.get(name, ["", ""])[1] if name in shadow else None
        out["users"][name] = {
            "primary_group": groups.get(p[3], p[3]),
            "system": int(p[2]) < 1000,
            "gecos": p[4],
            "home": p[5],
            "shell": p[6],
            "home_exists": os.path.isdir(os.path.join(root, p[5].lstrip("/"))),
            "password": "locked" if pw is not None and pw.startswith("!") else ("set" if pw not in (None, "", "*") else "none"),
            "expire_days": shadow[name][7] if name in shadow and len(shadow[name]) > 7 else None,
        }
    root_pw = shadow.get("root", ["", ""])[1] if "root" in shadow else None
    out["root_password"] = "locked" if root_pw is not None and root_pw.startswith("!") else ("set" if root_pw not in (None, "", "*") else "none")
    for name, g in sorted(group.items()):
        members = sorted(m for m in g[3].split(",") if m) if len(g) > 3 else []
        before = base_group.get(name)
        before_members = sorted(m for m in before[3].split(",") if m) if before and len(before) > 3 else None
        if before is None or before_members != members:
            out["groups"][name] = members
    for path in FILES:
        d = describe_file(root, path, users, groups)
        if d is not None:
            out["files"][path] = d
    out["host_keys"] = sorted(
        t for t in HOST_KEY_TYPES
        if os.path.exists(os.path.join(root, f"etc/ssh/ssh_host_{t}_key"))
    )
    inst = os.path.join(root, "var/lib/cloud/instance")
    if os.path.islink(inst):
        # The link is absolute on the target; resolve it inside the root.
        target = os.readlink(inst)
        inst = os.path.join(root if target.startswith("/") else os.path.dirname(inst), target.lstrip("/"))
    out["instance_link"] = os.readlink(os.path.join(root, "var/lib/cloud/instance")) if os.path.islink(os.path.join(root, "var/lib/cloud/instance")) else None
    out["semaphores"] = sorted(os.listdir(os.path.join(inst, "sem"))) if os.path.isdir(os.path.join(inst, "sem")) else []
    out["instance_files"] = sorted(os.listdir(inst)) if os.path.isdir(inst) else []
    run = os.path.join(root, "run/cloud-init")
    out["run_files"] = sorted(os.listdir(run)) if os.path.isdir(run) else []
    try:
        with open(os.path.join(run, "instance-data.json"), encoding="utf-8") as f:
            idata = json.load(f)
        v1 = idata.get("v1", {})
        keep = ["cloud_name", "cloud-name", "instance_id", "instance-id", "local_hostname",
                "local-hostname", "platform", "subplatform", "region", "availability_zone",
                "availability-zone", "public_ssh_keys", "cloud_id", "distro"]
        out["instance_data_v1"] = {k: v1.get(k) for k in keep}
        out["instance_data_keys"] = sorted(idata.keys())
        out["instance_data_v1_keys"] = sorted(v1.keys())
    except (FileNotFoundError, ValueError):
        out["instance_data_v1"] = None
    print(json.dumps(out, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
