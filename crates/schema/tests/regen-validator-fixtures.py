#!/usr/bin/env python3
"""Regenerate tests/fixtures/validator.jsonl: random mutations of the corpus
configs (fixed seed) with upstream's verdict from its validator, in-process.

Run with the oracle's Python (it imports cloudinit and yaml):
  /var/tmp/cloud-init-oracle/venv/bin/python crates/schema/tests/regen-validator-fixtures.py
tests/validator_diff.rs checks our validator against every line.
Every top-level key of upstream's schema may be added, and below it any
property name the schema knows; configs with values ci-yaml cannot
represent (huge ints, infinities) are left out.
"""
import copy
import json
import os
import random

import yaml
from cloudinit.config.schema import get_schema, validate_cloudconfig_schema, SchemaValidationError
HERE = os.path.dirname(os.path.abspath(__file__))
D = os.path.join(HERE, "corpus")
OUT = os.path.join(HERE, "fixtures", "validator.jsonl")
random.seed(20261126)
base = []
for n in sorted(os.listdir(D)):
    try:
        v = yaml.safe_load(open(os.path.join(D, n), encoding="utf-8"))
    except Exception:
        continue
    if isinstance(v, dict):
        try:
            json.dumps(v)
        except Exception:
            continue
        if any(not isinstance(k, str) for k in v):
            continue
        if "Infinity" in json.dumps(v) or "123456789012345678901234567890" in json.dumps(v):
            continue
        base.append(v)
_OLD_COVERED = ["hostname","fqdn","users","user","groups","chpasswd","ssh_pwauth","password","write_files","runcmd","bootcmd","manage_etc_hosts","timezone","locale","random_seed","final_message","ssh_keys","ssh_genkeytypes","ssh","ssh_publish_hostkeys","merge_how","cloud_init_modules","launch-index","ssh_key_console_blacklist","authkey_hash"]
VALS = [None, True, False, 0, 5, -1, 1.5, "", "x", "root:pw", "RANDOM", "text", "rsa", "template", "localhost", "list", "append", [], [1], ["a"], ["a","a"], [None], {}, {"name": "a"}, {"name": 1}, {"x": 1}, {"name": "a", "type": "RANDOM"}, {"name":"a","password":"p"}, [["a"]], [{"name":"a"}], {"snapuser":"s"}]
def _names(node, acc):
    if isinstance(node, dict):
        for k, val in node.items():
            if k in ("properties", "patternProperties") and isinstance(val, dict):
                acc.update(n for n in val if not n.startswith("^"))
            _names(val, acc)
    elif isinstance(node, list):
        for val in node:
            _names(val, acc)
    return acc
COVERED = sorted(get_schema()["properties"])
SUBKEYS = sorted(_names(get_schema()["$defs"], set()) | {"bogus"})


def mutate(v, depth=0):
    if isinstance(v, dict):
        v = dict(v)
        r = random.random()
        keys = list(v)
        if keys and r < 0.5:
            k = random.choice(keys)
            v[k] = mutate(v[k], depth+1) if random.random() < 0.6 else copy.deepcopy(random.choice(VALS))
        elif r < 0.7 and keys:
            del v[random.choice(keys)]
        else:
            k = random.choice(COVERED if depth == 0 else SUBKEYS)
            v[k] = copy.deepcopy(random.choice(VALS))
        return v
    if isinstance(v, list):
        v = list(v)
        if v and random.random() < 0.6:
            i = random.randrange(len(v)); v[i] = mutate(v[i], depth+1)
        else:
            v.append(copy.deepcopy(random.choice(VALS)))
        return v
    return copy.deepcopy(random.choice(VALS))
schema = get_schema()
cases = []
for _ in range(3000):
    c = copy.deepcopy(random.choice(base))
    for _ in range(random.randint(1, 3)):
        c = mutate(c)
    cases.append(c)
want = []
for c in cases:
    try:
        validate_cloudconfig_schema(c, schema=schema, strict=True, log_deprecations=False)
        want.append({"errors": [], "deprecations": []})
    except SchemaValidationError as e:
        want.append({"errors": [list(p) for p in (e.schema_errors or [])], "deprecations": [list(p) for p in (e.schema_deprecations or [])]})
with open(OUT, "w", encoding="utf-8") as f:
    for c, w in zip(cases, want):
        f.write(json.dumps({"config": c, **w}, ensure_ascii=False) + "\n")
print(f"wrote {len(cases)} cases to {OUT}")
