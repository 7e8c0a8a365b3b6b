#!/usr/bin/env python3
"""Regenerate the PyYAML oracle outputs for crates/yaml/tests/corpus.

Run with the oracle's interpreter (PyYAML 6):
    /var/tmp/cloud-init-oracle/venv/bin/python crates/yaml/tests/regen-expected.py

For each corpus/NAME.yaml it writes either
  NAME.json        json.dumps(yaml.safe_load(text)) with the value mapping
                   ci-yaml documents (NaN/inf -> "NaN"/"Infinity"/"-Infinity",
                   bytes -> ci_yaml::binary's marker string (as keys:
                   UTF-8 text or base64), set -> list, date/datetime
                   -> str(), non-str keys -> json.dumps key text),
  NAME.dump.yaml   yaml.safe_dump(obj, default_flow_style=False) of the
                   JSON-normalised object (what ci_yaml::dump receives,
                   its marker strings as bytes again),
  NAME.dumps.yaml  cloud-init's safeyaml.dumps style (indent 4, ---/...),
  NAME.marks.json  dotted path -> [line, column] (1-based) of the start mark
                   of every mapping key and sequence item node, walking
                   PyYAML's composed (merge-flattened) nodes the way
                   ci_yaml::load_with_marks names paths,
or, when loading raises,
  NAME.error.json  {"line", "column"} of problem_mark (1-based), the
                   context mark when present, and the messages (null marks
                   when the exception carries none, e.g. a ValueError from a
                   constructor).
"""
import base64
import datetime
import json
import math
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def key_text(k):
    if isinstance(k, str):
        return k
    if k is True:
        return "true"
    if k is False:
        return "false"
    if k is None:
        return "null"
    if isinstance(k, float):
        if math.isnan(k):
            return "NaN"
        if math.isinf(k):
            return "Infinity" if k > 0 else "-Infinity"
        return repr(k)
    if isinstance(k, int):
        return str(k)
    if isinstance(k, bytes):
        try:
            return k.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(k).decode("ascii")
    return str(normalise(k))


# ci_yaml::binary::MARKER: how ci-yaml carries bytes in a JSON string.
BINARY_MARKER = "\ufdd0ci-binary:"


def with_bytes(v):
    """The JSON-normalised object with marker strings as bytes again."""
    if isinstance(v, dict):
        return {k: with_bytes(x) for k, x in v.items()}
    if isinstance(v, list):
        return [with_bytes(x) for x in v]
    if isinstance(v, str) and v.startswith(BINARY_MARKER):
        return base64.b64decode(v[len(BINARY_MARKER):])
    return v


def normalise(v):
    if isinstance(v, dict):
        out = {}
        for k, val in v.items():
            out[key_text(k)] = normalise(val)
        return out
    if isinstance(v, (list, tuple)):
        return [normalise(x) for x in v]
    if isinstance(v, (set, frozenset)):
        return [normalise(x) for x in sorted(v, key=repr)]
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return v
    if isinstance(v, bytes):
        return BINARY_MARKER + base64.b64encode(v).decode("ascii")
    if isinstance(v, (datetime.date, datetime.datetime)):
        return str(v)
    return v


SEQ = "tag:yaml.org,2002:seq"
MAP = "tag:yaml.org,2002:map"


def node_marks(loader, node, path, out, seen):
    join = (lambda p, part: part if not p else p + "." + part)
    tag = node.tag
    if isinstance(node, yaml.SequenceNode) and tag in (SEQ, "tag:yaml.org,2002:omap", "tag:yaml.org,2002:pairs"):
        for i, item in enumerate(node.value):
            p = join(path, str(i))
            out[p] = mark(item.start_mark)
            if tag == SEQ:
                node_marks(loader, item, p, out, seen)
            else:
                (k, v), = item.value
                node_marks(loader, k, join(p, "0"), out, seen)
                node_marks(loader, v, join(p, "1"), out, seen)
    elif isinstance(node, yaml.MappingNode) and tag in (MAP, "tag:yaml.org,2002:set"):
        loader.flatten_mapping(node)
        names = {}
        members = []
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if tag == MAP:
                name = names.setdefault(key, key_text(key))
                p = join(path, name)
                out[p] = mark(key_node.start_mark)
                node_marks(loader, value_node, p, out, seen)
            elif key not in members:
                out[join(path, str(len(members)))] = mark(key_node.start_mark)
                members.append(key)


def marks_of(text):
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        out = {}
        if node is not None:
            node_marks(loader, node, "", out, set())
        return out
    finally:
        loader.dispose()


def mark(m):
    return None if m is None else [m.line + 1, m.column + 1]


def main():
    names = sorted(f[:-5] for f in os.listdir(CORPUS) if f.endswith(".yaml")
                   and not f.endswith(".dump.yaml") and not f.endswith(".dumps.yaml"))
    for name in names:
        base = os.path.join(CORPUS, name)
        for ext in (".json", ".error.json", ".dump.yaml", ".dumps.yaml", ".marks.json"):
            if os.path.exists(base + ext):
                os.remove(base + ext)
        with open(base + ".yaml", encoding="utf-8", newline="") as f:
            text = f.read()
        try:
            obj = yaml.safe_load(text)
        except Exception as e:  # noqa: BLE001 - any failure is an expected error
            err = {
                "problem_mark": mark(getattr(e, "problem_mark", None)),
                "context_mark": mark(getattr(e, "context_mark", None)),
                "problem": getattr(e, "problem", None) or str(e),
                "context": getattr(e, "context", None),
            }
            with open(base + ".error.json", "w") as f:
                json.dump(err, f, indent=1, ensure_ascii=False)
                f.write("\n")
            continue
        with open(base + ".marks.json", "w") as f:
            json.dump(marks_of(text), f, indent=1, ensure_ascii=False)
            f.write("\n")
        norm = normalise(obj)
        with open(base + ".json", "w") as f:
            f.write(json.dumps(norm, sort_keys=False, ensure_ascii=False, indent=1))
            f.write("\n")
        plain = with_bytes(json.loads(json.dumps(norm)))
        with open(base + ".dump.yaml", "w", newline="") as f:
            f.write(yaml.safe_dump(plain, default_flow_style=False))
        with open(base + ".dumps.yaml", "w", newline="") as f:
            f.write(yaml.dump(plain, line_break="\n", indent=4, explicit_start=True,
                              explicit_end=True, default_flow_style=False,
                              Dumper=yaml.dumper.SafeDumper))
    print(f"regenerated {len(names)} corpus entries", file=sys.stderr)


if __name__ == "__main__":
    main()
