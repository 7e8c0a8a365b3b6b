#!/usr/bin/env python3
"""Regenerate tests/merge_cases/*/expected.json with upstream cloud-init's
own mergers. Run with the oracle's interpreter:

    /var/tmp/cloud-init-oracle/venv/bin/python crates/config/tests/regen-merge.py

Case folders are named by mode:
  spec-*   inputs (*.yaml, sorted) merged left to right with the spec in the
           `spec` file: cloudinit.mergers.construct(string_extract_mergers).
  many-*   cloudinit.util.mergemanydict(inputs): earlier wins.
  parts-*  each input is one user-data cloud-config part fed to upstream's
           CloudConfigPartHandler; optional `headers` file: one Merge-Type
           header per part per line (empty line = none).
expected.json holds the inputs as PyYAML loaded them (so the Rust test does
not depend on our YAML loader), and upstream's result.
"""

import copy
import json
import os
import sys

import yaml

from cloudinit import mergers, util
from cloudinit.handlers import cloud_config

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "merge_cases")


class _Paths:
    def get_ipath(self, _name):
        return None


def _inputs(d):
    names = sorted(f for f in os.listdir(d) if f.endswith(".yaml"))
    texts = []
    for n in names:
        with open(os.path.join(d, n), encoding="utf-8") as fh:
            texts.append(fh.read())
    return names, texts


def run_spec(d, texts):
    with open(os.path.join(d, "spec"), encoding="utf-8") as fh:
        spec = fh.read().strip()
    values = [yaml.safe_load(t) for t in texts]
    out = {"mode": "spec", "spec": spec, "inputs": values}
    merger = mergers.construct(mergers.string_extract_mergers(spec))
    acc = copy.deepcopy(values[0])
    for i, v in enumerate(values[1:], start=1):
        try:
            acc = merger.merge(acc, copy.deepcopy(v))
        except Exception as e:  # upstream raises: record where and what
            out["error_at"] = i
            out["error"] = type(e).__name__
            break
    out["result"] = acc
    return out


def run_many(texts):
    values = [yaml.safe_load(t) for t in texts]
    result = util.mergemanydict(copy.deepcopy(values))
    return {"mode": "many", "inputs": values, "result": result}


def run_parts(d, names, texts):
    headers = [""] * len(texts)
    hp = os.path.join(d, "headers")
    if os.path.exists(hp):
        with open(hp, encoding="utf-8") as fh:
            lines = fh.read().split("\n")
        for i in range(len(texts)):
            headers[i] = lines[i].strip() if i < len(lines) else ""
    h = cloud_config.CloudConfigPartHandler(_Paths())
    h.handle_part(None, "__begin__", None, None, None, None)
    skipped, value_errors = [], []
    for i, (name, text) in enumerate(zip(names, texts)):
        before = len(h.file_names)
        hdrs = {"Merge-Type": headers[i]} if headers[i] else {}
        h.handle_part(None, "text/cloud-config", name, text, None, hdrs)
        if len(h.file_names) == before:
            skipped.append(i)
            if name in h.error_file_names:
                value_errors.append(i)
    inputs = []
    for t in texts:
        v = yaml.safe_load(t)
        inputs.append(v if isinstance(v, dict) else None)
    return {
        "mode": "parts",
        "inputs": inputs,
        "headers": headers,
        "result": h.cloud_buf,
        "skipped": skipped,
        "value_errors": value_errors,
    }


def main():
    count = 0
    for case in sorted(os.listdir(CASES)):
        d = os.path.join(CASES, case)
        if not os.path.isdir(d):
            continue
        names, texts = _inputs(d)
        if case.startswith("spec-"):
            out = run_spec(d, texts)
        elif case.startswith("many-"):
            out = run_many(texts)
        elif case.startswith("parts-"):
            out = run_parts(d, names, texts)
        else:
            sys.exit("unknown case kind: %s" % case)
        with open(os.path.join(d, "expected.json"), "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=1)
            fh.write("\n")
        count += 1
    print("wrote %d cases" % count)


if __name__ == "__main__":
    main()
