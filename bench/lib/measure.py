#!/usr/bin/env python3
"""Times shell commands against each other: one warm-up round, then the median of N rounds.

    measure.py --runs N --out RESULT.json [--prepare CMD] NAME CMD [NAME CMD ...]

Prints the medians in seconds, one per command, space-separated, and writes every time to
RESULT.json. Each command runs through `/bin/sh -c` with its output discarded; `--prepare` runs
before every run of every command (warm-up included) and is not timed.

By default the commands are interleaved: each round runs every command once, in an order that
alternates between rounds (A B, B A, ...), so on a machine whose load changes over time both
tools see the same conditions and neither always goes first. BENCH_TIMER=hyperfine times each
command with hyperfine instead (all runs of one command, then the next), keeping its JSON next to
RESULT.json. A command that fails stops the measurement with its status and stderr.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time


def run_shell(cmd, what):
    proc = subprocess.run(["/bin/sh", "-c", cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        sys.exit(f"{what} failed with status {proc.returncode}: {cmd}")


def interleaved(args, commands):
    times = {name: [] for name, _ in commands}
    for round_no in range(args.warmup + args.runs):
        order = commands if round_no % 2 == 0 else list(reversed(commands))
        for name, cmd in order:
            if args.prepare:
                run_shell(args.prepare, "prepare command")
            start = time.perf_counter()
            run_shell(cmd, name)
            elapsed = time.perf_counter() - start
            if round_no >= args.warmup:
                times[name].append(elapsed)
    return times


def hyperfine(args, commands, exe):
    times = {}
    for name, cmd in commands:
        raw = f"{args.out}.{name}.hyperfine.json"
        argv = [exe, "--style", "basic", "--warmup", str(args.warmup), "--runs", str(args.runs),
                "--export-json", raw, "--command-name", name]
        if args.prepare:
            argv += ["--prepare", args.prepare]
        argv.append(cmd)
        if subprocess.run(argv, stdout=sys.stderr).returncode != 0:
            sys.exit(f"hyperfine failed timing {name}: {cmd}")
        with open(raw) as f:
            times[name] = json.load(f)["results"][0]["times"]
    return times


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--prepare")
    p.add_argument("--out", required=True)
    p.add_argument("pairs", nargs="+", metavar="NAME CMD")
    args = p.parse_args()
    if len(args.pairs) % 2:
        p.error("give NAME CMD pairs")
    commands = list(zip(args.pairs[0::2], args.pairs[1::2]))
    timer = os.environ.get("BENCH_TIMER", "interleaved")
    if timer == "hyperfine":
        exe = shutil.which("hyperfine")
        if not exe:
            sys.exit("BENCH_TIMER=hyperfine but hyperfine is not installed (apt-get install hyperfine)")
        times = hyperfine(args, commands, exe)
    elif timer == "interleaved":
        times = interleaved(args, commands)
    else:
        sys.exit(f"BENCH_TIMER must be `interleaved` or `hyperfine`, not `{timer}`")
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, t in times.items():
        print(f"    {name:<28} median {medians[name] * 1000:9.1f} ms   min {min(t) * 1000:9.1f}   max {max(t) * 1000:9.1f}"
              f"   ({len(t)} runs, {timer})", file=sys.stderr)
    with open(args.out, "w") as f:
        json.dump({"timer": timer, "times": times, "medians": medians}, f, indent=1)
    print(" ".join(f"{medians[name]:.6f}" for name, _ in commands))


if __name__ == "__main__":
    main()
