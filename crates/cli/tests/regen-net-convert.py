#!/usr/bin/env python3
"""Regenerate tests/net_convert/<case>/expected/ with upstream's CLI (the oracle).

  python3 crates/cli/tests/regen-net-convert.py

Each case directory holds `input` and `args` (the net-convert arguments
besides -p and -d). The oracle's `cloud-init devel net-convert -p input ARGS
-d OUT` runs in a fresh OUT; its tree is copied to expected/ with a MANIFEST
of "<octal mode> <path>" lines. A failing run is recorded as a single
"ERROR <exit code>" MANIFEST line. Look-ups upstream makes on the machine
(interfaces by MAC, Azure NIC drivers) find nothing matching the cases'
MACs, which is what the tests assume of the machine they run on.
"""
import os
import shutil
import stat
import subprocess
import sys
import tempfile

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "net_convert")
ORACLE = os.environ.get("ORACLE", "/work/shared/oracle/cloud-init-oracle")


def main():
    cases = sorted(d for d in os.listdir(HERE) if os.path.isdir(os.path.join(HERE, d)))
    for case in cases:
        cdir = os.path.join(HERE, case)
        with open(os.path.join(cdir, "args")) as fh:
            args = fh.read().split()
        dest = os.path.join(cdir, "expected")
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(dest)
        out = tempfile.mkdtemp(prefix="netconv-")
        try:
            run = subprocess.run(
                [ORACLE, "devel", "net-convert", "-p", os.path.join(cdir, "input"),
                 "-d", out] + args,
                capture_output=True, text=True)
            manifest = []
            if run.returncode != 0:
                sys.stderr.write("%s: exit %d\n%s\n" % (case, run.returncode, run.stderr[-2000:]))
                manifest = ["ERROR %d" % run.returncode]
            else:
                for dirpath, _dirs, files in os.walk(out):
                    for name in files:
                        src = os.path.join(dirpath, name)
                        rel = os.path.relpath(src, out)
                        mode = stat.S_IMODE(os.stat(src).st_mode)
                        manifest.append("%04o %s" % (mode, rel))
                        os.makedirs(os.path.join(dest, os.path.dirname(rel)), exist_ok=True)
                        shutil.copyfile(src, os.path.join(dest, rel))
            with open(os.path.join(dest, "MANIFEST"), "w") as fh:
                fh.write("".join(m + "\n" for m in sorted(manifest)))
        finally:
            shutil.rmtree(out, ignore_errors=True)
    print("regenerated %d cases" % len(cases))


if __name__ == "__main__":
    main()
