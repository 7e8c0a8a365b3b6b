#!/usr/bin/env python3
"""Regenerate PyYAML's verdicts on the reader and repair fixtures.

Run with the oracle's interpreter (PyYAML 6), from anywhere:
    /var/tmp/cloud-init-oracle/venv/bin/python crates/yaml/tests/oracle/regen.py

Writes verdicts.json beside this script: a list of cases, each
  {"name", "text", "ok": true,  "value": <normalised yaml.safe_load(text)>}
or
  {"name", "text", "ok": false, "error": {...}}
where a reader error (an unacceptable character) records "position" and
"problem" and "text" (str(e)), and any other error records PyYAML's
problem/context texts and marks (1-based [line, column]).

The documents are built here (control characters are easier to read as
code than as committed bytes); tests/oracle_verdicts.rs compares ci-yaml
against this file without needing the oracle.
"""
import importlib.util
import json
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "regen_expected", os.path.join(HERE, "..", "regen-expected.py"))
_corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_corpus)
normalise = _corpus.normalise


def mark(m):
    return None if m is None else [m.line + 1, m.column + 1]


def many_quoted(n):
    """n quoted scalars, each with an under-indented continuation line
    (PyYAML reads any indentation there; YAML 1.2 does not)."""
    body = "".join(f'  k{i}: "v\nw"\n' for i in range(n))
    return "#cloud-config\ntop:\n" + body


def cases():
    out = []
    # Every class of character PyYAML's reader refuses, at the start, in
    # the middle of a value, in a key, in a comment and in quoted scalars.
    refused = [0x00, 0x01, 0x07, 0x08, 0x0B, 0x0C, 0x0E, 0x1B, 0x1F, 0x7F,
               0x80, 0x84, 0x86, 0x9F, 0xFFFE, 0xFFFF]
    for c in refused:
        ch = chr(c)
        tag = f"{c:04x}"
        out.append((f"refused_{tag}_start", f"{ch}a: 1\n"))
        out.append((f"refused_{tag}_value", f"a: b{ch}c\nd: e\n"))
        out.append((f"refused_{tag}_key", f"list:\n  - x\n  k{ch}: 1\n"))
        out.append((f"refused_{tag}_comment", f"a: 1 # note {ch}\n"))
        out.append((f"refused_{tag}_dquoted", f'a: "x{ch}"\n'))
        out.append((f"refused_{tag}_squoted", f"a: 'x{ch}'\n"))
        out.append((f"refused_{tag}_end", f"a: 1\n{ch}"))
    out += [
        ("nul_mid_document", "#cloud-config\nruncmd:\n  - echo visible\x00\n  - touch /tmp/x\nhostname: after\n"),
        ("nul_after_syntax_error", "a: [}\x00"),
        ("nul_after_bom", "\ufeffa: \x00"),
        ("control_after_multibyte", "a: 'é😀\x01'\n"),
        ("control_in_block_scalar", "a: |\n  line\n  \x1b[0m\n"),
        ("control_after_crlf", "a: b\r\nc: \x00\r\n"),
        ("escaped_controls_are_fine", 'a: "\\0\\x01\\x7f\\e"\n'),
        ("bom_at_start", "\ufeffa: 1\n"),
        ("bom_in_value", "a: \ufeff1\n"),
        ("bom_line_start", "a: 1\n\ufeffb: 2\n"),
        ("bom_in_quoted", "a: \"x\ufeffy\"\n"),
        ("printable_edges", "a: \"\u00a0\ud7ff\ue000\ufffd\U00010000\U0010ffff\"\nb: 'tab\there'\n"),
        ("nel_in_quoted", "a: \"x\x85y\"\n"),
        ("private_use_plain", "a: \ue000x\n"),
        ("del_escape_free_text", "a: x~y\n"),
        # Repairs of PyYAML-vs-YAML-1.2 whitespace differences.
        ("repairs_one", many_quoted(1)),
        ("repairs_260", many_quoted(260)),
        ("repairs_5000", many_quoted(5000)),
        ("repairs_single_quoted", "top:\n" + "".join(f"  k{i}: 'a{i}\nb''{i}'\n" for i in range(50))),
        ("repairs_tab_continuation", "top:\n" + "".join(f'  k{i}: "a{i}\n\tb{i}"\n' for i in range(50))),
        ("repairs_flow", "top:\n" + "".join(f"  k{i}: [a{i},\nb{i}]\n" for i in range(50))),
        ("repairs_flow_map", "top:\n" + "".join(f"  k{i}: {{x: a{i},\ny: b{i}}}\n" for i in range(50))),
        ("repairs_comment_after_flow", "".join(f"k{i}: [a]#c{i}\n" for i in range(50))),
        ("repairs_comment_after_quote", "".join(f"k{i}: 'a'#c{i}\n" for i in range(50))),
        ("repairs_mixed", "top:\n" + "".join(
            f'  q{i}: "a\nb"\n  f{i}: [x,\ny]\n  c{i}: [z]#c\n  s{i}: \'p\n\tq\'\n' for i in range(40))),
        ("repairs_nested_deep", "a:\n  b:\n    c:\n" + "".join(f'      k{i}: "x\n  y{i}"\n' for i in range(100))),
        ("repairs_seq_items", "top:\n  - x\n" + "".join(f'  - "a{i}\nb"\n' for i in range(100))),
        ("repairs_then_error", many_quoted(30) + "bad: *missing\n"),
        ("repairs_then_unclosed_quote", many_quoted(30) + "bad: 'x\n"),
        ("repairs_then_tab", many_quoted(30) + "bad:\t1\n"),
        ("repairs_then_duplicate_anchor", many_quoted(30) + "x: &a 1\ny: &a 2\n"),
        ("repairs_then_bad_indent", many_quoted(30) + "  bad: 1\n bad2: 2\n"),
        ("repairs_then_flow_colon", many_quoted(30) + "bad: {a: b: c}\n"),
        ("repairs_then_second_document", many_quoted(30) + "---\nx: 1\n"),
        ("repairs_then_reader_error", many_quoted(30) + "bad: \x07\n"),
        ("repairs_doc_marker_inside", 'top:\n  k: "a\n---\nb"\n'),
        # Quotes that are plain text, where the one-pass prediction of
        # repairs guesses wrong and repairs go error by error.
        ("mispredict_plain_continuation", 'top:\n  - value\n    "x\n  - "a\nb"\n'),
        ("mispredict_flow_plain", 'top:\n  k: [a\n"b", "c\nd"]\n'),
        ("mispredict_mixed", 'top:\n  - x: 1\n    y: "a\nb"\n  - z\n    "q\n  - "c\nd"\n'),
        ("mispredict_flow_plain_multiline", 'top:\n  k: [a\n"b\nc", "d\ne"]\n'),
        ("unclosed_quote_after_repairs", 'runcmd:\n  - [ sh, -c, "echo hello\nworld" ]\n  - [ a,\n b,\n\'c ]\nk: {x: 1}# comment\nq: "tab\n\tindented"\n'),
        ("quote_in_plain_not_repaired", "top:\n  k: it's\n  j: \"x\n  y\"\n"),
        ("quote_inside_block_scalar", "top:\n  k: |\n    \"not a quote\n  j: 1\n"),
        ("quote_after_comment", "top:\n  k: 1 # \"\n  j: \"a\nb\"\n"),
        # Aliases below the expansion bounds load as PyYAML does.
        ("aliases_small", "a: &a \"" + "x" * 1000 + "\"\nb: [*a, *a, *a]\nc: &c [*a, *a]\nd: [*c, *c]\n"),
    ]
    return out


def verdict(name, text):
    case = {"name": name, "text": text}
    try:
        value = yaml.safe_load(text)
    except yaml.reader.ReaderError as e:
        case["ok"] = False
        case["error"] = {"kind": "reader", "position": e.position,
                         "problem": str(e).split("\n")[0], "text": str(e)}
        return case
    except yaml.YAMLError as e:
        case["ok"] = False
        case["error"] = {
            "kind": "marked",
            "problem": getattr(e, "problem", None),
            "problem_mark": mark(getattr(e, "problem_mark", None)),
            "context": getattr(e, "context", None),
            "context_mark": mark(getattr(e, "context_mark", None)),
        }
        return case
    case["ok"] = True
    case["value"] = normalise(value)
    return case


def main():
    out = [verdict(n, t) for n, t in cases()]
    with open(os.path.join(HERE, "verdicts.json"), "w", encoding="utf-8") as f:
        # One case a line: small diffs, no deep indentation of big values.
        f.write("[\n" + ",\n".join(json.dumps(c, ensure_ascii=True) for c in out) + "\n]\n")
    print(f"wrote {len(out)} verdicts", file=sys.stderr)


if __name__ == "__main__":
    main()
