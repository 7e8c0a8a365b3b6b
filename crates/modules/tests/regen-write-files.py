#!/usr/bin/env python3
"""Regenerate fixtures/write_files_decode.json from upstream cloud-init.

Run with the oracle's Python:
    /var/tmp/cloud-init-oracle/venv/bin/python crates/modules/tests/regen-write-files.py

For each (encoding, content) case the file records what upstream's
cc_write_files.extract_contents(content, canonicalize_extraction(encoding))
returns (base64 of the bytes) or the exception text; for each permissions
value, what decode_perms returns (and whether it warned).
"""
import base64
import gzip
import json
import logging
import os

from cloudinit.config import cc_write_files as wf

GZ = base64.b64encode(gzip.compress(b"hello gz\n", mtime=0)).decode()

DECODE_CASES = [
    ("b64", "aGVsbG8K"),
    ("base64", "aGVs\nbG8K\n"),
    ("B64", "  aGVsbG8gd29ybGQ=  "),
    ("b64", "aGVsbG8"),
    ("b64", "aGVsbG8gd"),
    ("b64", "YQ==YQ=="),
    ("b64", "a!G@V#s$b%G&8*K"),
    ("b64", "YWI="),
    ("b64", "YWJjZA"),
    ("b64", "YWJjZA="),
    ("b64", ""),
    ("gz+b64", GZ),
    ("gzip+base64", GZ),
    ("gz+base64", GZ),
    ("gzip+b64", GZ),
    ("gz", "not gzip"),
    ("gzip", "x"),
    ("text/plain", "plain ü\n"),
    (None, "none enc"),
    ("", "empty enc"),
    ("bogus", "unknown enc"),
]

PERM_CASES = ["0644", "644", "0o755", " 600 ", "6_44", "rwx", 420, 493, True, "", "0x1ff", "0755", "1777", 0, "8"]


class Catch(logging.Handler):
    def __init__(self):
        super().__init__()
        self.msgs = []

    def emit(self, record):
        if record.levelno >= logging.WARNING:
            self.msgs.append(record.getMessage())


def main():
    catch = Catch()
    logging.getLogger().addHandler(catch)
    logging.getLogger().setLevel(logging.DEBUG)
    decode = []
    for enc, content in DECODE_CASES:
        catch.msgs.clear()
        case = {"encoding": enc, "content": content}
        try:
            out = wf.extract_contents(content, wf.canonicalize_extraction(enc))
            if isinstance(out, str):
                out = out.encode()
            case["result_b64"] = base64.b64encode(out).decode()
        except Exception as e:  # noqa: BLE001 - recording upstream's error
            case["error"] = str(e)
        case["warnings"] = list(catch.msgs)
        decode.append(case)
    perms = []
    for p in PERM_CASES:
        catch.msgs.clear()
        perms.append({"perm": p, "mode": wf.decode_perms(p, 0o644), "warnings": list(catch.msgs)})
    out = {"decode": decode, "perms": perms}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "write_files_decode.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
