#!/usr/bin/env python3
"""Tests of the change-set walk, the noise filter and the comparison
(run by crates/cli/tests/differential.rs: python3 -m unittest)."""
import json
import os
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import changeset  # noqa: E402


def write(root, path, data, mode=0o644):
    full = os.path.join(root, path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    os.chmod(full, mode)


class Roots(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        write(self.root, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n")
        write(self.root, "/etc/group", "root:x:0:\nadm:x:4:\n")
        write(self.root, "/etc/keep", "unchanged\n")
        write(self.root, "/etc/same", "same bytes\n")
        write(self.root, "/etc/gone", "to be removed\n")
        os.makedirs(os.path.join(self.root, "proc"))
        os.makedirs(os.path.join(self.root, "run/lock"))
        self.snap = changeset.snapshot(self.root)
        # A pristine copy, as the harness keeps the root it copied from.
        self.base = tempfile.TemporaryDirectory()
        os.system(f"cp -a {self.root}/. {self.base.name}/")

    def tearDown(self):
        self.tmp.cleanup()
        self.base.cleanup()

    def changes(self):
        return changeset.diff(self.root, self.snap, self.base.name)

    def test_added_changed_removed_and_untouched(self):
        write(self.root, "/etc/new", "hello\n", 0o600)
        os.chown(os.path.join(self.root, "etc/new"), 0, 4)
        write(self.root, "/etc/keep", "changed!!\n")
        os.remove(os.path.join(self.root, "etc/gone"))
        os.symlink("../etc/new", os.path.join(self.root, "etc/link"))
        c = self.changes()
        self.assertEqual(c["/etc/new"], {"change": "added", "kind": "file", "mode": "0600",
                                         "owner": "root", "group": "adm", "content": "hello\n"})
        self.assertEqual(c["/etc/keep"]["change"], "changed")
        self.assertEqual(c["/etc/keep"]["edits"], ["- unchanged", "+ changed!!"])
        self.assertEqual(c["/etc/gone"], {"change": "removed"})
        self.assertEqual(c["/etc/link"]["link"], "../etc/new")
        self.assertNotIn("/etc/passwd", c)

    def test_long_text_is_kept_as_its_digest(self):
        big = "Name: x\n" * (changeset.CONTENT_TEXT_MAX // 8 + 1)
        write(self.root, "/var/cache/debconf/templates.dat", big)
        e = self.changes()["/var/cache/debconf/templates.dat"]
        self.assertNotIn("content", e)
        self.assertEqual(e["size"], len(big))
        import hashlib
        self.assertEqual(e["text_sha256"], hashlib.sha256(big.encode()).hexdigest())

    def test_etc_edits_leave_out_the_images_own_lines(self):
        # Two images that differ by a package's user: the boot's edit is the same.
        write(self.root, "/etc/passwd", "root:x:0:0:root:/root:/bin/bash\ndebian:x:1000:1000::/home/debian:/bin/bash\n")
        write(self.root, "/var/lib/x/state", "new\n")
        c = self.changes()
        self.assertEqual(c["/etc/passwd"]["edits"], ["+ debian:x:1000:1000::/home/debian:/bin/bash"])
        self.assertEqual(c["/var/lib/x/state"]["content"], "new\n")

    def test_rewrite_with_same_bytes_is_no_change(self):
        path = os.path.join(self.root, "etc/same")
        os.utime(path, ns=(1, 1))
        self.assertNotIn("/etc/same", self.changes())

    def test_mode_change_is_a_change(self):
        os.chmod(os.path.join(self.root, "etc/same"), 0o600)
        self.assertEqual(self.changes()["/etc/same"]["mode"], "0600")

    def test_kernel_trees_run_and_pycache_are_not_walked(self):
        write(self.root, "/proc/cmdline", "x")
        write(self.root, "/run/other/file", "x")
        write(self.root, "/run/lock/x", "x")
        write(self.root, "/usr/lib/python3/__pycache__/m.pyc", b"\0")
        write(self.root, "/run/cloud-init/enabled", "")
        c = self.changes()
        self.assertEqual(sorted(c), ["/run/cloud-init", "/run/cloud-init/enabled",
                                     "/usr", "/usr/lib", "/usr/lib/python3"])
        self.assertIn("/run/cloud-init/enabled", c)

    def test_binary_content_is_hashed(self):
        write(self.root, "/var/tmp/bin", b"\xff\xfe\x00")
        e = self.changes()["/var/tmp/bin"]
        self.assertEqual(e["size"], 3)
        self.assertEqual(len(e["sha256"]), 64)
        self.assertNotIn("content", e)

    def test_noise_content_is_not_recorded_but_attributes_are(self):
        write(self.root, "/var/log/cloud-init.log", "2026-12-07 log line\n", 0o640)
        write(self.root, "/var/lib/cloud/instances/i-1/sem/config_x", "1733.2\n")
        write(self.root, "/etc/ssh/ssh_host_ed25519_key", "PRIVATE", 0o600)
        c = self.changes()
        self.assertEqual(c["/var/log/cloud-init.log"]["mode"], "0640")
        for p in ("/var/log/cloud-init.log", "/var/lib/cloud/instances/i-1/sem/config_x",
                  "/etc/ssh/ssh_host_ed25519_key"):
            self.assertNotIn("content", c[p], p)


class Normalise(unittest.TestCase):
    def test_shadow_keeps_shape_not_secret_or_day(self):
        text = "root:*:20000:0:99999:7:::\nalice:$6$salt$hash:20001:0:99999:7:::\nbob:!$6$x$y:20001::::::\nc:!:20001::::::\n"
        out = changeset.normalise_content("/etc/shadow", text)
        self.assertEqual(out, "root:*:<day>:0:99999:7:::\nalice:<hash $6$>:<day>:0:99999:7:::\n"
                              "bob:!<hash $6$>:<day>::::::\nc:!:<day>::::::\n")

    def test_two_different_salts_normalise_equal(self):
        a = changeset.normalise_content("/etc/shadow", "u:$6$aaaa$1111:20000:0:99999:7:::\n")
        b = changeset.normalise_content("/etc/shadow", "u:$6$bbbb$2222:20001:0:99999:7:::\n")
        self.assertEqual(a, b)
        # ...but a locked account is not the same as a set password.
        c = changeset.normalise_content("/etc/shadow", "u:!:20000:0:99999:7:::\n")
        self.assertNotEqual(a, c)

    def test_host_public_key_keeps_type_and_comment(self):
        out = changeset.normalise_content("/etc/ssh/ssh_host_ed25519_key.pub", "ssh-ed25519 AAAAC3Nz root@host\n")
        self.assertEqual(out, "ssh-ed25519 <key> root@host\n")

    def test_status_keeps_errors_drops_times(self):
        doc = {"v1": {"init": {"errors": ["boom"], "start": 1.5, "finished": 2.5,
                               "recoverable_errors": {"WARNING": ["w"]}}, "stage": None}}
        out = json.loads(changeset.normalise_content("/var/lib/cloud/data/status.json", json.dumps(doc)))
        self.assertEqual(out["v1"]["init"], {"errors": ["boom"], "start": "<noise>", "finished": "<noise>",
                                             "recoverable_errors": {"WARNING": ["w"]}})
        self.assertIsNone(out["v1"]["stage"])

    def test_status_temp_names(self):
        doc = {"v1": {"init": {"errors": ["('bootcmd', Error(\"Command: ['/bin/sh', '/run/cloud-init/tmp/tmp6n22q4z4.sh']\"))"]}}}
        out = changeset.normalise_content("/var/lib/cloud/data/status.json", json.dumps(doc))
        self.assertIn("/run/cloud-init/tmp/tmp<random>.sh", out)
        self.assertNotIn("6n22q4z4", out)

    def test_created_by_line(self):
        out = changeset.normalise_content("/etc/sudoers.d/90-cloud-init-users",
                                          "# Created by cloud-init v. 25.1.4 on Mon, 07 Dec 2026 06:17:01 +0000\nx\n")
        self.assertEqual(out, "# Created by cloud-init <version and date>\nx\n")

    def test_added_by_line(self):
        # The includedir line upstream appends to /etc/sudoers.
        out = changeset.normalise_content("/etc/sudoers",
                                          "x\n# Added by cloud-init v. 25.1.4 on Tue, 08 Dec 2026 03:08:57 +0000\n")
        self.assertEqual(out, "x\n# Added by cloud-init <version and date>\n")

    def test_run_semaphores_are_content_noise(self):
        self.assertTrue(any(changeset.fnmatch.fnmatchcase("/run/cloud-init/sem/apply_network_config.once", p)
                            for p in changeset.CONTENT_NOISE))

    def test_ordinary_content_is_untouched(self):
        self.assertEqual(changeset.normalise_content("/etc/hostname", "host 2026-12-07\n"), "host 2026-12-07\n")


class Compare(unittest.TestCase):
    E = {"/a": {"change": "added", "kind": "file", "mode": "0644", "owner": "root", "group": "root", "content": "x\n"},
         "/var/lib/cloud/instances/i/obj.pkl": {"change": "added", "kind": "file"}}

    def test_equal_sets_have_no_difference(self):
        self.assertEqual(changeset.compare(self.E, dict(self.E), []), [])

    def test_every_field_and_presence_is_reported(self):
        a = json.loads(json.dumps(self.E))
        a["/a"]["mode"] = "0600"
        a["/b"] = {"change": "added", "kind": "dir"}
        del a["/var/lib/cloud/instances/i/obj.pkl"]
        d = changeset.compare(self.E, a, [])
        self.assertEqual(len(d), 3, d)
        self.assertTrue(any(x.startswith("/a: mode") for x in d))
        self.assertTrue(any(x.startswith("/b: ours only") for x in d))
        self.assertTrue(any("obj.pkl: upstream only" in x for x in d))

    def test_deliberate_rules_excuse_only_what_they_name(self):
        rules = [{"path": "/var/lib/cloud/instances/*/obj.pkl", "field": "presence", "reason": "r"}]
        a = json.loads(json.dumps(self.E))
        del a["/var/lib/cloud/instances/i/obj.pkl"]
        self.assertEqual(changeset.compare(self.E, a, rules), [])
        a["/a"]["content"] = "y\n"
        self.assertEqual(len(changeset.compare(self.E, a, rules)), 1)

    def test_message_rules_drop_list_items_only(self):
        e = {"/s": {"content": json.dumps({"w": ["Could not print networks: missing 'ip'", "real"]})}}
        a = {"/s": {"content": json.dumps({"w": ["real"]})}}
        rules = [{"path": "/s", "message": "^Could not print networks", "reason": "r"}]
        self.assertEqual(changeset.compare(e, a, rules), [])
        a = {"/s": {"content": json.dumps({"w": []})}}
        self.assertEqual(len(changeset.compare(e, a, rules)), 1)

    def test_emptied_lists_go_with_their_key(self):
        e = {"/s": {"content": json.dumps({"r": {"WARNING": ["Could not print networks: x"]}})}}
        a = {"/s": {"content": json.dumps({"r": {}})}}
        rules = [{"path": "/s", "message": "^Could not print networks", "reason": "r"}]
        self.assertEqual(changeset.compare(e, a, rules), [])

    def test_rewrite_rules_apply_to_both_sides(self):
        e = {"/s": {"content": "Running module x (<module 'cc_x' from '/usr/lib/cc_x.py'>) failed"}}
        a = {"/s": {"content": "Running module x (<module 'cc_x'>) failed"}}
        rules = [{"path": "/s", "pattern": r"(<module '[^']*') from '[^']*'>", "replace": r"\1>", "reason": "r"}]
        self.assertEqual(changeset.compare(e, a, rules), [])
        self.assertEqual(len(changeset.compare(e, a, [])), 1)

    def test_drop_keys_rules_remove_keys_at_any_depth(self):
        e = {"/c.json": {"content": json.dumps({"a": 1, "log_cfgs": [1], "m": {"log_cfgs": [2], "b": 2}})}}
        a = {"/c.json": {"content": json.dumps({"a": 1, "log_cfgs": [], "m": {"b": 2}})}}
        rules = [{"path": "/*.json", "drop_keys": ["log_cfgs"], "reason": "r"}]
        self.assertEqual(changeset.compare(e, a, rules), [])
        a = {"/c.json": {"content": json.dumps({"a": 2, "m": {"b": 2}})}}
        self.assertEqual(len(changeset.compare(e, a, rules)), 1)

    def test_the_committed_deliberate_rules_all_have_reasons(self):
        rules = changeset.load_deliberate(os.path.join(os.path.dirname(os.path.abspath(__file__)), "deliberate.json"))
        self.assertTrue(rules)
        for r in rules:
            self.assertTrue(r.get("reason"), r)
            self.assertTrue(r.get("path", "").startswith("/"), r)


if __name__ == "__main__":
    unittest.main()
