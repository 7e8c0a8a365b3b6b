#!/usr/bin/env python3
"""Regenerate tests/fixtures/users_groups_upstream.json from upstream cloud-init.

Runs upstream's users_groups module (normalize_users_groups + create_group +
create_user) in-process with every side effect mocked, and records the
commands it would run, the sudo/doas rules and the authorized keys it would
install. Run with the oracle's Python:

    /var/tmp/cloud-init-oracle/venv/bin/python crates/modules/tests/regen-users-fixtures.py
"""
import json
import os
from unittest import mock

from cloudinit import distros, ssh_util, subp, util
from cloudinit.config import cc_users_groups
from cloudinit.helpers import Paths

DEBIAN_DEFAULT = {
    "name": "debian", "lock_passwd": True, "gecos": "Debian",
    "groups": ["adm", "audio", "cdrom", "dialout", "dip", "floppy", "plugdev", "sudo", "video"],
    "sudo": ["ALL=(ALL) NOPASSWD:ALL"], "shell": "/bin/bash",
}

CASES = [
    {"name": "default_user_only", "distro": "debian", "cfg": {"users": ["default"]}},
    {"name": "full_user", "distro": "debian", "cfg": {
        "groups": ["admingrp", {"cloud-users": ["root", "sys"]}],
        "users": ["default", {
            "name": "foobar", "gecos": "Foo B. Bar", "primary_group": "foobar",
            "groups": "users, admingrp", "selinux_user": "staff_u", "expiredate": "2032-09-01",
            "inactive": "5", "uid": 1234, "homedir": "/srv/foobar", "shell": "/bin/zsh",
            "sudo": "ALL=(ALL) NOPASSWD:ALL", "lock_passwd": False,
            "passwd": "$6$j212wezy$7H/1LT4f9/N3wpgNunhsIqtMj62OKiS3nyNwuizouQc3u7MbYCarYeAHWYPYb2FT.lbioDm2RLkJPb9BZMN1O/",
            "ssh_authorized_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFoo foo@host"],
            "no_log_init": True,
        }]}},
    {"name": "system_and_no_home", "distro": "debian", "cfg": {"users": [
        {"name": "svc", "system": True, "no_user_group": True, "lock_passwd": True},
        {"name": "nohome", "no_create_home": True, "create_groups": False, "groups": ["ghost"]},
        {"name": "plain", "plain_text_passwd": "s3cret", "lock_passwd": False, "sudo": ["ALL=(ALL) ALL", "ALL=(root) /bin/ls"]},
        {"name": "hashed", "hashed_passwd": "$6$abc$def", "sudo": None},
    ]}},
    {"name": "existing_user", "distro": "debian", "existing_users": ["bob"],
     "cfg": {"users": [{"name": "bob", "gecos": "Bob", "passwd": "$6$x$y", "lock_passwd": True,
                        "ssh_authorized_keys": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC bob@x"}]}},
    {"name": "existing_group", "distro": "debian", "existing_groups": ["staff"], "existing_users": ["al"],
     "cfg": {"groups": {"staff": ["al", "nobody-here"], "fresh": "al"}, "users": []}},
    {"name": "legacy_user_key", "distro": "debian", "cfg": {"user": "ops", "users": ["default"]}},
    {"name": "default_entry_overrides", "distro": "debian",
     "cfg": {"users": [{"name": "default", "shell": "/bin/zsh", "groups": ["wheel"]}, "anne, ben"]}},
    {"name": "alpine_default_doas", "distro": "alpine", "default_user": {
        "name": "alpine", "lock_passwd": True, "gecos": "alpine Cloud User", "groups": ["adm", "wheel"],
        "doas": ["permit nopass alpine"], "sudo": ["ALL=(ALL) NOPASSWD:ALL"], "shell": "/bin/ash"},
     "cfg": {"users": ["default"]}},
    {"name": "redirect_user", "distro": "debian", "cloud_keys": ["ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQD meta@x"],
     "cfg": {"users": ["default", {"name": "guest", "ssh_redirect_user": True}]}},
]


def run_case(case):
    events = []
    users = set(case.get("existing_users", [])) | {"root"}
    groups = set(case.get("existing_groups", [])) | {"root"}

    def fake_subp(args, data=None, **kw):
        events.append(["cmd", list(args), data])
        if args[0] == "useradd":
            users.add(args[1])
        if args[0] == "groupadd":
            groups.add(args[1])
        return subp.SubpResult("", "")

    def fake_keys(keys, username, options=None):
        events.append(["keys", username, sorted(keys), options])

    def fake_sudo(self, user, rules, sudo_file=None):
        events.append(["sudo", user, rules])

    def fake_doas(self, user, rules, doas_file=None):
        events.append(["doas", user, rules])

    cls = distros.fetch(case["distro"])
    sysinfo = {"default_user": case.get("default_user", DEBIAN_DEFAULT)}
    d = cls(case["distro"], sysinfo, Paths({}))
    cloud = mock.Mock()
    cloud.distro = d
    cloud.get_public_ssh_keys.return_value = case.get("cloud_keys", [])
    with mock.patch.object(subp, "subp", side_effect=fake_subp), \
         mock.patch.object(subp, "which", return_value="/usr/bin/x"), \
         mock.patch.object(util, "is_user", side_effect=lambda n: n in users), \
         mock.patch.object(util, "is_group", side_effect=lambda n: n in groups), \
         mock.patch.object(util, "system_is_snappy", return_value=False), \
         mock.patch.object(ssh_util, "setup_user_keys", side_effect=fake_keys), \
         mock.patch.object(cls, "write_sudo_rules", fake_sudo), \
         mock.patch.object(cls, "write_doas_rules", fake_doas), \
         mock.patch.object(cls, "_shadow_file_has_empty_user_password", return_value=False), \
         mock.patch("os.path.islink", return_value=False):
        error = None
        try:
            cc_users_groups.handle("users_groups", json.loads(json.dumps(case["cfg"])), cloud, [])
        except Exception as e:  # noqa: BLE001 - recorded as the module error
            error = str(e)
    out = dict(case)
    out["events"] = events
    out["error"] = error
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    result = [run_case(c) for c in CASES]
    path = os.path.join(here, "fixtures", "users_groups_upstream.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"wrote {path} ({len(result)} cases)")


if __name__ == "__main__":
    main()
