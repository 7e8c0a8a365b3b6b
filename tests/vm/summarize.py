#!/usr/bin/env python3
"""Markdown summary of one or more time-to-ssh.sh result directories.

Usage: summarize.py OUTDIR...   (rows of all directories are pooled)

Medians per variant of the wall-clock times from qemu start (banner, key login) and of the
qemu process's CPU seconds at login (less sensitive to other load on a shared host), the
ratios to the no-agent baseline, and `systemd-analyze blame` medians for the units that
matter to time to SSH.
"""
import csv
import os
import re
import statistics
import sys

NAMES = {
    "agent": "(a) cloud-init-rs",
    "upstream": "(b) cloud-init 25.1.4 (Debian)",
    "baseline": "(c) no agent, key baked in",
    "deferred": "(a') cloud-init-rs, `ssh_deferred_keytypes: [rsa]`",
    "single": "(a'') cloud-init-rs, single-process layout (`cloud-init-main.service`)",
}
ALL_VARIANTS = ("agent", "deferred", "single", "upstream", "baseline")
COLS = (("t_banner_s", "banner s"), ("t_login_s", "login s"), ("qemu_cpu_login_s", "qemu CPU s at login"))
UNITS = (
    "cloud-init-local.service",
    "cloud-init-network.service",
    "cloud-init-main.service",
    "cloud-init.service",
    "cloud-config.service",
    "cloud-final.service",
    "ssh.service",
    "systemd-networkd.service",
    "systemd-networkd-wait-online.service",
    "systemd-user-sessions.service",
)
BLAME_LINE = re.compile(r"^\s*((?:[\d.]+(?:min|ms|us|µs|s)\s*)+)\s+(\S+)$")


def seconds(text):
    scale = {"min": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}
    return sum(float(v) * scale[u] for v, u in re.findall(r"([\d.]+)(min|ms|us|µs|s)", text))


CPU_LINE = re.compile(r"- \w+\.py\[DEBUG\]: (\S+) used ([\d.]+) s user and ([\d.]+) s system CPU")


def section(text, name):
    return text.split("== %s\n" % name, 1)[-1].split("\n== ", 1)[0] if "== %s\n" % name in text else ""


def load(dirs):
    rows, blame = [], {}
    global CPU, CHAIN
    CPU, CHAIN = {}, []
    for out in dirs:
        with open(os.path.join(out, "results.tsv"), encoding="utf-8") as f:
            rows += list(csv.DictReader(f, delimiter="\t"))
        for d in sorted(os.listdir(out)):
            path = os.path.join(out, d, "analyze.txt")
            if not os.path.isfile(path):
                continue
            variant = d.rsplit("-", 1)[0]
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            if variant == "agent":
                for m in CPU_LINE.finditer(section(text, "agent cpu")):
                    CPU.setdefault(m.group(1), []).append(float(m.group(2)) + float(m.group(3)))
            if variant in ("agent", "deferred", "single"):
                chain = [ln.strip() for ln in section(text, "critical-chain ssh.service").splitlines()
                         if "cloud" in ln]
                show = dict(ln.split("=", 1) for ln in
                            (section(text, "network stage") + "\n" + section(text, "sshd")).splitlines() if "=" in ln)
                CHAIN.append((d, chain, show))
            part = text.split("== blame\n", 1)[-1].split("\n== ", 1)[0]
            for line in part.splitlines():
                m = BLAME_LINE.match(line)
                if m:
                    blame.setdefault(variant, {}).setdefault(m.group(2), []).append(seconds(m.group(1)))
    return rows, blame


def values(rows, variant, col):
    return [float(r[col]) for r in rows if r["variant"] == variant and r.get(col) not in (None, "", "-")]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    rows, blame = load(sys.argv[1:])
    present = {r["variant"] for r in rows}
    variants = [v for v in ALL_VARIANTS if v in present]
    base = {c: values(rows, "baseline", c) for c, _ in COLS}
    head = ["variant", "boots"] + ["%s median (min-max)" % n for _, n in COLS]
    head += ["%s / (c)" % n for _, n in COLS]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for v in variants:
        cells, ratios = [], []
        for c, _ in COLS:
            xs = values(rows, v, c)
            cells.append("%.1f (%.1f-%.1f)" % (statistics.median(xs), min(xs), max(xs)) if xs else "-")
            ratios.append("%.2f" % (statistics.median(xs) / statistics.median(base[c])) if xs and base[c] else "-")
        n = len(values(rows, v, "t_login_s"))
        print("| %s | %d | %s | %s |" % (NAMES[v], n, " | ".join(cells), " | ".join(ratios)))
    print()
    print("| unit (`systemd-analyze blame`, median s) | %s |" % " | ".join(NAMES[v].split(",")[0] for v in variants))
    print("|---|" + "---|" * len(variants))
    for u in UNITS:
        cells = []
        for v in variants:
            xs = blame.get(v, {}).get(u)
            cells.append("%.2f" % statistics.median(xs) if xs else "-")
        if any(c != "-" for c in cells):
            print("| %s | %s |" % (u, " | ".join(cells)))
    if CPU:
        print()
        print("| (a) stage | own CPU s (user+sys, children excluded), median (min-max) |")
        print("|---|---|")
        for st, xs in CPU.items():
            print("| %s | %.2f (%.2f-%.2f) |" % (st, statistics.median(xs), min(xs), max(xs)))
    if CHAIN:
        print()
        print("| (a)/(a') boot | cloud-init units in `critical-chain ssh.service` | READY s | sshd start s | stage end s |")
        print("|---|---|---|---|---|")
        for d, chain, show in CHAIN:
            t = lambda k: "%.2f" % (int(show[k]) / 1e6) if show.get(k, "").isdigit() else "-"
            print("| %s | %s | %s | %s | %s |" % (d, "<br>".join(chain) or "-", t("ActiveEnterTimestampMonotonic"),
                                            t("ExecMainStartTimestampMonotonic"), t("ExecMainExitTimestampMonotonic")))


if __name__ == "__main__":
    main()
