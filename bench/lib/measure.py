#!/usr/bin/env python3
"""Times shell commands: one warm-up run, then the median of N runs.

    measure.py --runs N --out RESULT.json [--prepare CMD] [--name NAME] CMD

Uses hyperfine when it is on PATH (its JSON is kept next to RESULT.json); otherwise a plain loop
with the same protocol (prepare before every run, warm-up included, output discarded). Prints the
median in seconds on stdout and writes {"median": s, "times": [...]} to RESULT.json. A command that
fails stops the measurement with its exit status and output.
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time


def run_shell(cmd, quiet):
    out = subprocess.DEVNULL if quiet else None
    proc = subprocess.run(["/bin/sh", "-c", cmd], stdout=out, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        sys.exit(f"command failed with status {proc.returncode}: {cmd}")


def own_loop(args):
    times = []
    for i in range(args.runs + args.warmup):
        if args.prepare:
            run_shell(args.prepare, True)
        start = time.perf_counter()
        run_shell(args.command, True)
        elapsed = time.perf_counter() - start
        if i >= args.warmup:
            times.append(elapsed)
    return times


def hyperfine(args, exe):
    raw = args.out + ".hyperfine.json"
    cmd = [exe, "--style", "basic", "--warmup", str(args.warmup), "--runs", str(args.runs), "--export-json", raw]
    if args.name:
        cmd += ["--command-name", args.name]
    if args.prepare:
        cmd += ["--prepare", args.prepare]
    cmd.append(args.command)
    proc = subprocess.run(cmd, stdout=sys.stderr)
    if proc.returncode != 0:
        sys.exit(f"hyperfine failed with status {proc.returncode} timing: {args.command}")
    with open(raw) as f:
        return json.load(f)["results"][0]["times"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--prepare")
    p.add_argument("--name")
    p.add_argument("--out", required=True)
    p.add_argument("command")
    args = p.parse_args()
    exe = shutil.which("hyperfine")
    times = hyperfine(args, exe) if exe else own_loop(args)
    median = statistics.median(times)
    with open(args.out, "w") as f:
        json.dump({"median": median, "times": times, "tool": "hyperfine" if exe else "loop"}, f)
    if not exe:
        print(f"  {args.name or args.command}: median {median:.3f} s of {times}", file=sys.stderr)
    print(f"{median:.6f}")


if __name__ == "__main__":
    main()
