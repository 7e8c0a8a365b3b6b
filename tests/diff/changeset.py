#!/usr/bin/env python3
"""What a boot changed in a root, with run-to-run noise filtered out, and the
comparison of two such change sets (upstream's and ours).

usage:
  changeset.py snapshot ROOT OUT.json        record every entry's metadata before a boot
  changeset.py diff ROOT SNAPSHOT.json       print the boot's filtered change set (JSON)
  changeset.py compare EXPECTED ACTUAL [--deliberate FILE]
                                             print the differences; exit 1 if any
Only the standard library: it runs on the CI machine's python3 and in the harness.

A change set maps each path (relative to the root, with a leading "/") that the
boot added, changed or removed to its new state: kind, mode, owner and group by
name, content (text, or the sha256 of binary data), link target. A file counts
as changed when its mtime, size, mode, owner or type moved *and* its content or
attributes differ from the snapshot's; a directory only by its own attributes.

The noise filter is the part of this file between NOISE and END NOISE: paths
that are never compared, paths whose content is never compared, and rewrites of
content that differs by run (generated keys, password salts, timestamps). It is
tested by running upstream twice on each case (tests/diff/regen.sh) and by
tests/diff/test_changeset.py.
"""
import difflib
import fnmatch
import hashlib
import json
import os
import re
import stat
import sys

# NOISE ------------------------------------------------------------------------

# Never walked: kernel and device trees, and the scratch space of the harness.
SKIP_TREES = ["/proc", "/sys", "/dev", "/run/lock", "/var/tmp/.harness"]
# /run is kept only for cloud-init's own directory.
RUN_KEEP = "/run/cloud-init"

# Never compared at all, whatever they hold.
IGNORE = [
    "*/__pycache__",  # upstream's byte code, written on import
    "*/__pycache__/*",
]

# Existence, kind, mode and owner are compared; content is not, because it
# holds timestamps, uptimes, random data or a log of the run.
CONTENT_NOISE = [
    "/var/log/cloud-init.log",
    "/var/log/cloud-init-output.log",
    "/var/log/lastlog",
    "/var/log/faillog",
    "/var/log/wtmp",
    "/var/log/btmp",
    "/var/lib/cloud/instances/*/sem/*",
    "/var/lib/cloud/sem/*",
    # Once-per-boot markers of the network step hold a pid and a time.
    "/run/cloud-init/sem/*",
    "/var/lib/cloud/instances/*/boot-finished",
    # Upstream's pickled datasource holds timestamps (ours is compared as JSON).
    "/var/lib/cloud/instances/*/obj.pkl",
    # MIME boundaries are random.
    "/var/lib/cloud/instances/*/user-data.txt.i",
    "/var/lib/cloud/instances/*/vendor-data.txt.i",
    "/var/lib/cloud/instances/*/vendor-data2.txt.i",
    # Generated host private keys.
    "/etc/ssh/ssh_host_*_key",
    # Random seed and machine state written by tools run during the boot.
    "/var/lib/systemd/random-seed",
    "/etc/ssh/moduli",
]

# Shadow-style files: field index of password hashes and of the day of the last
# change, which vary by run (salt) and by date.
SHADOW_FILES = {"/etc/shadow": (1, 2), "/etc/shadow-": (1, 2), "/etc/gshadow": (1, None), "/etc/gshadow-": (1, None)}

# JSON documents of cloud-init's own state: keys whose values vary by run.
JSON_NOISE_KEYS = {
    "start", "finished", "last_update", "uptime", "timestamp", "boot_finished",
}


def _hash_shape(h):
    """A password field without its secret: locked or not, the hash scheme."""
    if h in ("", "*", "!", "!*", "x"):
        return h
    lock = "!" if h.startswith("!") else ""
    body = h.lstrip("!")
    m = re.match(r"^\$([0-9a-z]+)\$", body)
    if m:
        return f"{lock}<hash ${m.group(1)}$>"
    return f"{lock}<hash>" if body else h


def _normalise_shadow(text, hash_field, day_field):
    out = []
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) > hash_field:
            parts[hash_field] = _hash_shape(parts[hash_field])
        if day_field is not None and len(parts) > day_field and parts[day_field]:
            parts[day_field] = "<day>"
        out.append(":".join(parts))
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def _strip_json(v):
    if isinstance(v, dict):
        return {k: ("<noise>" if k in JSON_NOISE_KEYS and v[k] is not None else _strip_json(x)) for k, x in v.items()}
    if isinstance(v, list):
        return [_strip_json(x) for x in v]
    return v


# Python's tempfile names ("tmp" and 8 random characters), quoted in errors.
TEMP_NAME = re.compile(r"/tmp[a-z0-9_]{8}(?=[./'\"\\]|$)")


def _normalise_status(text):
    """status.json / result.json: which stages ran, and their errors."""
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    return TEMP_NAME.sub("/tmp<random>", json.dumps(_strip_json(doc), indent=1, sort_keys=True))


def _normalise_instance_data(text):
    """instance-data: the facts of this machine, minus values that vary by run."""
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    # Kernel, uptime and interpreter facts of the machine that ran the boot.
    for key in ("sys_info",):
        doc.pop(key, None)
    v1 = doc.get("v1")
    if isinstance(v1, dict):
        for key in ("python_version", "kernel_release", "machine", "system_platform"):
            if key in v1:
                v1[key] = "<machine>"
    return json.dumps(_strip_json(doc), indent=1, sort_keys=True)


def _normalise_host_pub(text):
    parts = text.split()
    return f"{parts[0] if parts else ''} <key> {' '.join(parts[2:])}".rstrip() + "\n"


CREATED_BY = re.compile(r"^(# (?:Created|Added) by cloud-init)(?: v\. \S+)? on .*$", re.M)


def normalise_content(path, text):
    """Rewrite the run-dependent parts of a text file's content."""
    if path in SHADOW_FILES:
        h, d = SHADOW_FILES[path]
        return _normalise_shadow(text, h, d)
    if fnmatch.fnmatch(path, "/etc/ssh/ssh_host_*_key.pub"):
        return _normalise_host_pub(text)
    if path in ("/var/lib/cloud/data/status.json", "/var/lib/cloud/data/result.json",
                "/run/cloud-init/status.json", "/run/cloud-init/result.json"):
        return _normalise_status(text)
    if fnmatch.fnmatch(path, "/run/cloud-init/instance-data*.json"):
        return _normalise_instance_data(text)
    return CREATED_BY.sub(r"\1 <version and date>", text)

# END NOISE --------------------------------------------------------------------


def _match(path, patterns):
    return any(fnmatch.fnmatchcase(path, p) for p in patterns)


def _walk(root):
    """Yield (relative path with leading /, lstat) for every entry of the root."""
    root = os.path.abspath(root)
    stack = ["/"]
    while stack:
        rel = stack.pop()
        full = root + rel if rel != "/" else root
        try:
            names = os.listdir(full)
        except OSError:
            continue
        for name in names:
            p = (rel.rstrip("/") + "/" + name)
            if p in SKIP_TREES or _match(p, IGNORE):
                continue
            if p.startswith("/run/") and not (p == RUN_KEEP or p.startswith(RUN_KEEP + "/")):
                continue
            try:
                st = os.lstat(root + p)
            except OSError:
                continue
            yield p, st
            if stat.S_ISDIR(st.st_mode):
                stack.append(p)


def _kind(mode):
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "link"
    return "other"


# Text files whose content the snapshot keeps, so that a change to them is
# reported as the lines it removed and added: the image's own lines (which
# may differ between two roots, e.g. a package's system user) are not part
# of what the boot did.
KEEP_TEXT_UNDER = "/etc/"
KEEP_TEXT_MAX = 256 * 1024


def snapshot(root):
    """Metadata of every entry, enough to tell later whether it moved, and
    the text of small files under /etc."""
    snap = {}
    root = os.path.abspath(root)
    for p, st in _walk(root):
        entry = [st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns]
        if (p.startswith(KEEP_TEXT_UNDER) and stat.S_ISREG(st.st_mode)
                and st.st_size <= KEEP_TEXT_MAX and not _match(p, CONTENT_NOISE)):
            try:
                entry.append(_read(root, p).decode("utf-8"))
            except (OSError, UnicodeDecodeError):
                pass
        snap[p] = entry
    return snap


def line_edits(path, old, new):
    """The lines a change removed ("-") and added ("+"), in order, both sides
    normalised; unchanged lines are left out."""
    a = normalise_content(path, old).splitlines()
    b = normalise_content(path, new).splitlines()
    return [l for l in difflib.ndiff(a, b) if l[:2] in ("- ", "+ ")]


def _names(root, table):
    out = {}
    try:
        with open(os.path.join(root, "etc", table), encoding="utf-8", errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split(":")
                if len(parts) > 2:
                    out[int(parts[2]) if parts[2].isdigit() else parts[2]] = parts[0]
    except FileNotFoundError:
        pass
    return out


def _read(root, path):
    with open(root + path, "rb") as f:
        return f.read()


def describe(root, path, st, users, groups, base_root=None):
    entry = {
        "kind": _kind(st.st_mode),
        "mode": "%04o" % stat.S_IMODE(st.st_mode),
        "owner": users.get(st.st_uid, st.st_uid),
        "group": groups.get(st.st_gid, st.st_gid),
    }
    if entry["kind"] == "link":
        entry["link"] = os.readlink(root + path)
    elif entry["kind"] == "file":
        if _match(path, CONTENT_NOISE):
            return entry
        data = _read(root, path)
        try:
            text = normalise_content(path, data.decode("utf-8"))
        except UnicodeDecodeError:
            entry["sha256"] = hashlib.sha256(data).hexdigest()
            entry["size"] = len(data)
        else:
            record_text(entry, text)
    return entry


# Text longer than this is kept as the sha256 and size of its normalised form
# (debconf's templates.dat is a megabyte), so that fixtures stay small.
CONTENT_TEXT_MAX = 256 * 1024


def record_text(entry, text):
    """Store normalised TEXT in ENTRY: itself, or its digest when long."""
    if len(text) > CONTENT_TEXT_MAX:
        raw = text.encode("utf-8")
        entry["text_sha256"] = hashlib.sha256(raw).hexdigest()
        entry["size"] = len(raw)
    else:
        entry["content"] = text


def diff(root, snap, base_root=None):
    """The change set of ROOT against SNAP (from snapshot()).

    BASE_ROOT, when given, is the untouched root the snapshot was taken of
    (or any root with the same files): a file whose mtime moved is compared
    with it, so rewriting identical content is not a change.
    """
    root = os.path.abspath(root)
    users = _names(root, "passwd")
    groups = _names(root, "group")
    out = {}
    seen = set()
    for p, st in _walk(root):
        seen.add(p)
        before = snap.get(p)
        if before is None:
            e = describe(root, p, st, users, groups)
            e["change"] = "added"
            out[p] = e
            continue
        now = [st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns]
        old_text = before[5] if len(before) > 5 else None
        if stat.S_ISDIR(st.st_mode):
            if now[:3] == before[:3]:
                continue
        elif now == before[:5]:
            continue
        if old_text is not None and stat.S_ISREG(st.st_mode):
            try:
                new_text = _read(root, p).decode("utf-8")
            except UnicodeDecodeError:
                new_text = None
            if new_text is not None:
                if new_text == old_text and now[:3] == before[:3]:
                    continue
                e = describe(root, p, st, users, groups)
                for k in ("content", "text_sha256", "size"):
                    e.pop(k, None)
                e["edits"] = line_edits(p, old_text, new_text)
                e["change"] = "changed"
                out[p] = e
                continue
        if now[:4] == before[:4] and stat.S_ISREG(st.st_mode) and base_root:
            # Only the mtime moved: a rewrite with the same bytes is no change.
            try:
                if _read(base_root, p) == _read(root, p):
                    continue
            except OSError:
                pass
        if now[:4] == before[:4] and stat.S_ISLNK(st.st_mode):
            continue
        e = describe(root, p, st, users, groups)
        e["change"] = "changed"
        out[p] = e
    for p in snap:
        if p not in seen and not _match(p, IGNORE):
            out[p] = {"change": "removed"}
    return out


# Comparison -------------------------------------------------------------------

def load_deliberate(path):
    """Differences kept on purpose: a list of {path, field?, ours?, reason}."""
    if not path:
        return []
    with open(path, encoding="utf-8") as f:
        return json.load(f)["differences"]


def _excused(rules, path, field):
    for r in rules:
        if "message" in r or "pattern" in r or "drop_keys" in r:
            continue
        if fnmatch.fnmatchcase(path, r["path"]) and r.get("field", "*") in ("*", field):
            return True
    return False


def _rewrite_json(text, walk):
    """`walk` applied to a JSON document, dumped back; text that is not JSON
    is returned as it is."""
    if text is None:
        return text
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    return json.dumps(walk(doc), indent=1, sort_keys=True)


def _drop_messages(text, patterns):
    """Remove the list items of a JSON document (status.json's errors and
    warnings) that a deliberate rule names; other content is unchanged."""
    if not patterns:
        return text

    def dropped(x):
        return isinstance(x, str) and any(re.search(p, x) for p in patterns)

    def walk(v):
        if isinstance(v, dict):
            # A list emptied by the rules goes with its key: upstream records
            # a level only once something was logged at it.
            return {k: walk(x) for k, x in v.items()
                    if not (isinstance(x, list) and x and all(dropped(i) for i in x))}
        if isinstance(v, list):
            return [walk(x) for x in v if not dropped(x)]
        return v

    return _rewrite_json(text, walk)


def _drop_keys(text, keys):
    """Remove the named keys, at any depth, from a JSON document."""
    if not keys:
        return text

    def walk(v):
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items() if k not in keys}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return _rewrite_json(text, walk)


def _show(field, e, a):
    if field == "content" and isinstance(e, str) and isinstance(a, str):
        lines = difflib.unified_diff(e.splitlines(), a.splitlines(), "upstream", "ours", lineterm="", n=2)
        return "\n".join("    " + l for l in lines)
    return f"    upstream: {json.dumps(e)}\n    ours:     {json.dumps(a)}"


def compare(expected, actual, rules):
    """Human-readable differences between two change sets, minus the deliberate ones."""
    diffs = []
    for path in sorted(set(expected) | set(actual)):
        e, a = expected.get(path), actual.get(path)
        if e == a:
            continue
        if e is None or a is None:
            if _excused(rules, path, "presence"):
                continue
            who = "upstream only" if a is None else "ours only"
            diffs.append(f"{path}: {who}: {json.dumps(e if a is None else a, sort_keys=True)}")
            continue
        msgs = [r["message"] for r in rules if "message" in r and fnmatch.fnmatchcase(path, r["path"])]
        rewrites = [(r["pattern"], r["replace"]) for r in rules
                    if "pattern" in r and fnmatch.fnmatchcase(path, r["path"])]
        drop = {k for r in rules if "drop_keys" in r and fnmatch.fnmatchcase(path, r["path"])
                for k in r["drop_keys"]}
        for field in sorted(set(e) | set(a)):
            ev, av = e.get(field), a.get(field)
            if field == "content":
                for pat, rep in rewrites:
                    ev = re.sub(pat, rep, ev) if isinstance(ev, str) else ev
                    av = re.sub(pat, rep, av) if isinstance(av, str) else av
                if msgs:
                    ev, av = _drop_messages(ev, msgs), _drop_messages(av, msgs)
                if drop:
                    ev, av = _drop_keys(ev, drop), _drop_keys(av, drop)
            if ev != av and not _excused(rules, path, field):
                diffs.append(f"{path}: {field}:\n" + _show(field, ev, av))
    return diffs


def main(argv):
    if len(argv) >= 3 and argv[0] == "snapshot":
        with open(argv[2], "w", encoding="utf-8") as f:
            json.dump(snapshot(argv[1]), f)
        return 0
    if len(argv) >= 3 and argv[0] == "diff":
        with open(argv[2], encoding="utf-8") as f:
            snap = json.load(f)
        base = argv[3] if len(argv) > 3 else None
        print(json.dumps(diff(argv[1], snap, base), indent=1, sort_keys=True))
        return 0
    if len(argv) >= 3 and argv[0] == "compare":
        rules = []
        if len(argv) >= 5 and argv[3] == "--deliberate":
            rules = load_deliberate(argv[4])
        with open(argv[1], encoding="utf-8") as f:
            expected = json.load(f)
        with open(argv[2], encoding="utf-8") as f:
            actual = json.load(f)
        diffs = compare(expected.get("changes", expected), actual.get("changes", actual), rules)
        for d in diffs:
            print(d)
        return 1 if diffs else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
