#!/usr/bin/env python3
"""Times `dl bench` against the PyTorch scripts in `torch/`, interleaved.

For each repetition, workload and thread count it runs the PyTorch script,
then `dl bench` on the matching `.dl` file, each as a fresh process, one
after the other (never at the same time). A run during which other
processes used more than `--max-other` of the CPUs (its `other_cpu_frac`)
is redone, up to `--retries` times. Every kept run's JSON line, with the
process's peak resident memory (`peak_rss_mib`, from `wait4`), goes to
`--out`; the summary table (medians, ratio torch/dl, peak memory) is
printed at the end and can be rebuilt from that file with `--summary`.

Usage (from the repository root, after `cargo build --release`):
    python3 bench/compare.py --reps 3 --out bench-results.jsonl
    python3 bench/compare.py --only lenet5 resnet18 --threads 1 --reps 5
    python3 bench/compare.py --summary bench-results.jsonl
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = ["logreg", "mlp", "mlp_mnist", "lenet5", "rnn", "lstm", "resnet18"]
# Warm-up steps and step counts of the PyTorch scripts' defaults, given to
# `dl bench` so that both sides time the same loop.
WARMUP = {"logreg": 20, "mlp": 20, "mlp_mnist": 20, "lenet5": 5, "rnn": 5, "lstm": 5, "resnet18": 2}
STEPS = {"resnet18": 30}


def measure(cmd):
    """Runs `cmd` to completion; returns (JSON line as dict, peak RSS MiB)."""
    # NOTE: wait4 instead of communicate(), which reaps the child and loses
    # its resource usage; stderr goes to a file so that neither pipe can
    # fill up while the other is read.
    with tempfile.TemporaryFile() as err_file:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err_file)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        err_file.seek(0)
        err = err_file.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.decode()}")
    line = [l for l in out.decode().splitlines() if l.startswith("{")][-1]
    row = json.loads(line)
    row["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)  # Linux: KiB
    return row


def command(side, workload, threads, dl):
    if side == "torch":
        return [sys.executable, os.path.join(HERE, "torch", f"torch_{workload}.py"), "--threads", str(threads)]
    cmd = [dl, "--threads", str(threads), "bench", os.path.join(HERE, f"{workload}.dl"),
           "--warmup", str(WARMUP[workload])]
    if workload in STEPS:
        cmd += ["--steps", str(STEPS[workload])]
    return cmd


def summary(rows):
    print("| workload | threads | torch s | dl s | ratio torch/dl | torch peak MiB | dl peak MiB | runs (torch, dl) |")
    print("|---|---|---|---|---|---|---|---|")
    for w in WORKLOADS:
        for t in sorted({r["threads"] for r in rows}):
            side = {f: [r for r in rows if r["name"] == w and r["threads"] == t and r["framework"] == f]
                    for f in ("torch", "dl")}
            if not side["torch"] or not side["dl"]:
                continue
            med = {f: statistics.median(r["seconds"] for r in side[f]) for f in side}
            rss = {f: max(r["peak_rss_mib"] for r in side[f]) for f in side}
            print(f"| {w} | {t} | {med['torch']:.3f} | {med['dl']:.3f} | {med['torch'] / med['dl']:.2f} "
                  f"| {rss['torch']:.0f} | {rss['dl']:.0f} | {len(side['torch'])}, {len(side['dl'])} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", nargs="*", default=WORKLOADS, choices=WORKLOADS)
    ap.add_argument("--threads", nargs="*", type=int, default=[1, 2])
    ap.add_argument("--dl", default="target/release/dl")
    ap.add_argument("--out", default="bench-results.jsonl")
    ap.add_argument("--max-other", type=float, default=0.05)
    ap.add_argument("--retries", type=int, default=5)
    ap.add_argument("--summary", metavar="JSONL", help="only print the table of an earlier run")
    args = ap.parse_args()
    if args.summary:
        with open(args.summary) as f:
            summary([json.loads(l) for l in f if l.strip()])
        return
    rows = []
    with open(args.out, "a") as out:
        for rep in range(args.reps):
            for w in args.only:
                for t in args.threads:
                    for side in ("torch", "dl"):
                        for attempt in range(args.retries + 1):
                            row = measure(command(side, w, t, args.dl))
                            if row["other_cpu_frac"] <= args.max_other:
                                break
                            print(f"redo {side} {w} {t}: other_cpu_frac {row['other_cpu_frac']}", file=sys.stderr)
                            time.sleep(5)
                        rows.append(row)
                        out.write(json.dumps(row) + "\n")
                        out.flush()
                        print(f"rep {rep + 1} {side:5} {w:9} {t}t {row['seconds']:.3f} s "
                              f"{row['peak_rss_mib']:.0f} MiB other {row['other_cpu_frac']}", file=sys.stderr)
    summary(rows)


if __name__ == "__main__":
    main()
