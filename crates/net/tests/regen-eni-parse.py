#!/usr/bin/env python3
"""Regenerate tests/eni_parse/expected.json from upstream (the oracle).

  /var/tmp/cloud-init-oracle/venv/bin/python crates/net/tests/regen-eni-parse.py

Each tests/eni_parse/cases/<case>.eni is converted with upstream's
cloudinit.net.eni.convert_eni_data (what `devel net-convert -k eni` does).
The result is stored as {"config": <v1 dict>} or, when upstream raises,
{"error": "<ExceptionType>: <message>"}; v1 dicts keep upstream's key order.
"""
import json
import os

from cloudinit import distros  # noqa: F401  (import cycle in cloudinit.net)
from cloudinit.net import eni

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "eni_parse")


def main():
    out = {}
    cases = sorted(f for f in os.listdir(os.path.join(HERE, "cases")) if f.endswith(".eni"))
    for name in cases:
        with open(os.path.join(HERE, "cases", name)) as fh:
            text = fh.read()
        try:
            out[name[:-4]] = {"config": eni.convert_eni_data(text)}
        except Exception as e:  # upstream refuses this input
            out[name[:-4]] = {"error": "%s: %s" % (type(e).__name__, e)}
    with open(os.path.join(HERE, "expected.json"), "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    print("regenerated %d cases" % len(cases))


if __name__ == "__main__":
    main()
