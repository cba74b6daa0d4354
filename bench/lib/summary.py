#!/usr/bin/env python3
"""Prints the benchmark summary table from a results file and exits 1 if a target was missed.

Each line of the results file is tab-separated:

    metric  plinth  peer  unit  check  target

check is one of
    ratio  pass when plinth / peer <= target
    max    pass when plinth <= target (peer is shown for reference)
    eq     pass when plinth == target (as text)
    info   no target; shown for context
A missing measurement is `-`; a row with a check and a missing plinth value fails.
"""

import sys


def num(text):
    try:
        return float(text)
    except ValueError:
        return None


def fmt(value, unit):
    v = num(value)
    if v is None:
        return value
    if unit == "s":
        return f"{v:.3f} s"
    if unit == "MiB":
        return f"{v:.1f} MiB"
    if v == int(v):
        return f"{int(v)}{(' ' + unit) if unit else ''}"
    return f"{v:g}{(' ' + unit) if unit else ''}"


def evaluate(plinth, peer, unit, check, target):
    """Returns (ratio text, target text, result text)."""
    p, q, t = num(plinth), num(peer), num(target)
    ratio = f"{p / q:.3f}" if p is not None and q not in (None, 0.0) else "-"
    if check == "ratio":
        if p is None or not q:
            return ratio, f"<= {target}x", "-"
        return ratio, f"<= {target}x", "PASS" if p / q <= t else "FAIL"
    if check == "max":
        return ratio, f"<= {fmt(target, unit)}", "-" if p is None else ("PASS" if p <= t else "FAIL")
    if check == "eq":
        return ratio if unit not in ("", "bool") else "-", f"= {target}", "PASS" if plinth == target else "FAIL"
    return ratio, "(info)", ""


def main():
    rows = []
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                rows.append(line.split("\t"))
    table = [("metric", "plinth", "peer", "ratio", "target", "result")]
    failed = 0
    for metric, plinth, peer, unit, check, target in rows:
        ratio, tgt, result = evaluate(plinth, peer, unit, check, target)
        if result in ("FAIL", "-") and check != "info":
            failed += 1
            result = "FAIL" if result == "FAIL" else "FAIL (not measured)"
        table.append((metric, fmt(plinth, unit), fmt(peer, unit), ratio, tgt, result))
    widths = [max(len(r[i]) for r in table) for i in range(6)]
    sep = "-+-".join("-" * w for w in widths)
    for i, row in enumerate(table):
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if i == 0:
            print(sep)
    print()
    print(f"{failed} target(s) missed" if failed else "all targets met")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
