#!/usr/bin/env python3
"""Regenerate tests/expected/*.json from the upstream oracle.

For every tests/corpus/*.yaml (plus a missing file), runs
`cloud-init-oracle schema -c NAME` and `... --annotate` with the corpus
directory as the working directory, and records stdout, stderr and the
exit code. tests/corpus.rs compares our output with these byte for byte.
`jinja-*` cases get `-i instance-data.json`, `net-*` cases
`-t network-config`. The corpus itself comes from the hand-written files
and tests/make-module-corpus.py and tests/make-network-corpus.py.

Usage: crates/schema/tests/regen-expected.py [NAME.yaml ...]
(only the named cases when given; the oracle is $CLOUD_INIT_ORACLE,
default /work/shared/oracle/cloud-init-oracle)
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
EXPECTED = os.path.join(HERE, "expected")
ORACLE = os.environ.get("CLOUD_INIT_ORACLE", "/work/shared/oracle/cloud-init-oracle")
MISSING = ["does-not-exist.yaml"]


# jinja cases render with a fixed instance-data, not the host's.
INSTANCE_DATA = "instance-data.json"


def run(name, annotate):
    cmd = [ORACLE, "schema", "-c", name] + (["--annotate"] if annotate else [])
    if name.startswith("jinja-"):
        cmd += ["-i", INSTANCE_DATA]
    if name.startswith("net-"):
        cmd += ["-t", "network-config"]
    p = subprocess.run(cmd, cwd=CORPUS, capture_output=True)
    return {
        "stdout": p.stdout.decode("utf-8", "surrogateescape"),
        "stderr": p.stderr.decode("utf-8", "surrogateescape"),
        "exit_code": p.returncode,
    }


def main():
    os.makedirs(EXPECTED, exist_ok=True)
    names = sorted(n for n in os.listdir(CORPUS) if n.endswith(".yaml")) + MISSING
    if len(sys.argv) > 1:
        names = sys.argv[1:]
    for name in names:
        result = {"file": name, "plain": run(name, False), "annotate": run(name, True)}
        out = os.path.join(EXPECTED, name[: -len(".yaml")] + ".json")
        with open(out, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1, ensure_ascii=False)
            f.write("\n")
    print(f"wrote {len(names)} cases to {EXPECTED}")


if __name__ == "__main__":
    main()
