#!/usr/bin/env python3
"""Regenerate tests/fixtures/make_mime/: feed OUR `devel make-mime` output to
upstream 25.1.4's user-data processor and record the parts it reads, plus
upstream's `--list-types` output verbatim.

Run with the oracle's python (it imports `cloudinit`):
  CLOUD_INIT_BIN=/path/to/our/cloud-init \
  /var/tmp/cloud-init-oracle/venv/bin/python crates/cli/tests/regen-make-mime.py
The oracle wrapper (for --list-types) defaults to
/work/shared/oracle/cloud-init-oracle (override: ORACLE).
"""
import base64
import json
import os
import subprocess
import sys
import tempfile

from cloudinit import helpers
from cloudinit.user_data import UserDataProcessor

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures", "make_mime")
INPUTS = os.path.join(FIX, "inputs")
OURS = os.environ.get("CLOUD_INIT_BIN") or os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.join(HERE, "../../../target")),
    "debug",
    "cloud-init",
)
ORACLE = os.environ.get("ORACLE", "/work/shared/oracle/cloud-init-oracle")

# (file in inputs/, type given to -a), in attach order.
ATTACH = [
    ("config.yaml", "cloud-config"),
    ("script.sh", "x-shellscript"),
    ("boothook.sh", "cloud-boothook"),
    ("template.j2", "jinja2"),
    ("empty.yaml", "cloud-config"),
    ("crlf.sh", "x-shellscript"),
    ("perboot.sh", "x-shellscript-per-boot"),
    ("upper.yaml", "Cloud-Config"),
]


def upstream_parts(cmd):
    """Upstream's processor's reading of what `cmd` prints."""
    doc = subprocess.run(
        cmd, cwd=INPUTS, check=True, capture_output=True
    ).stdout
    with tempfile.TemporaryDirectory() as tmp:
        paths = helpers.Paths({"cloud_dir": tmp, "run_dir": tmp})
        msg = UserDataProcessor(paths).process(doc)
    parts = []
    for part in msg.walk():
        if part.get_content_maintype() == "multipart":
            continue
        payload = part.get_payload(decode=True) or b""
        parts.append(
            {
                "content_type": part.get_content_type(),
                "filename": part.get_filename(),
                "payload_b64": base64.b64encode(payload).decode(),
            }
        )
    return parts


def main():
    args = []
    for name, ctype in ATTACH:
        args += ["-a", f"{name}:{ctype}"]
    parts = upstream_parts([OURS, "devel", "make-mime"] + args)
    # Upstream's own make-mime must give the same parts, or the fixture
    # would record a difference instead of the expected reading.
    theirs = upstream_parts([ORACLE, "devel", "make-mime"] + args)
    if parts != theirs:
        sys.exit(f"ours and upstream's make-mime differ:\n{parts}\n{theirs}")
    with open(os.path.join(FIX, "parts.json"), "w") as f:
        json.dump({"attach": ATTACH, "parts": parts}, f, indent=2)
        f.write("\n")
    types = subprocess.run(
        [ORACLE, "devel", "make-mime", "--list-types"],
        check=True,
        capture_output=True,
    ).stdout
    with open(os.path.join(FIX, "list-types.txt"), "wb") as f:
        f.write(types)
    print(f"wrote {len(parts)} parts and the type list to {FIX}", file=sys.stderr)


if __name__ == "__main__":
    main()
