#!/usr/bin/env python3
"""Summarize results.tsv from run_estimator_benchmarks.sh as Markdown tables.

Usage: summarize_benchmarks.py RESULTS.tsv [LOG_DIR]
Best (minimum) wall time of the runs per job and tool; peak RSS is the maximum over
the runs. hemosurv's KM + log-rank job is one process (`km --logrank`).
Ratios are other tool / hemosurv (higher = hemosurv faster). With LOG_DIR, the phase
times printed by the R and lifelines scripts (their best run) are listed too.
"""
import csv
import os
import re
import sys
from collections import defaultdict


def main():
    rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
    logs = sys.argv[2] if len(sys.argv) > 2 else None
    runs = defaultdict(list)
    for r in rows:
        runs[(r["job"], r["tool"])].append(r)
    best = {}
    for k, rs in runs.items():
        b = min(rs, key=lambda r: float(r["wall_s"]))
        best[k] = {
            "wall": float(b["wall_s"]),
            "peak_mb": max(int(r["peak_kb"]) for r in rs) / 1024,
            "walls": [float(r["wall_s"]) for r in rs],
            "loads": [float(r["load1_before"]) for r in rs],
            "run": b["run"],
            "cpu": float(b["user_s"]) + float(b["sys_s"]),
        }
    jobs = []
    for r in rows:
        if r["job"] not in jobs:
            jobs.append(r["job"])
    for job in jobs:
        tools = {t: v for (j, t), v in best.items() if j == job}
        print(f"\n### {job}\n")
        ref = {}
        for fmt in ("csv", "parquet"):
            for name in (f"hemosurv-km+logrank-{fmt}", f"hemosurv-cox-{fmt}", f"hemosurv-cif-{fmt}"):
                if name in tools:
                    ref[fmt] = tools[name]["wall"]
        print("| tool | best wall s | CPU s (user+sys) | peak MB | all runs (s) | load before runs | ratio vs hemosurv CSV | ratio vs hemosurv Parquet |")
        print("|---|---:|---:|---:|---|---|---:|---:|")
        for t, v in tools.items():
            rc = f"{v['wall'] / ref['csv']:.1f}×" if "csv" in ref and not t.startswith("hemosurv") else ""
            rp = f"{v['wall'] / ref['parquet']:.1f}×" if "parquet" in ref and not t.startswith("hemosurv") else ""
            walls = ", ".join(f"{w:.2f}" for w in v["walls"])
            loads = ", ".join(f"{x:.1f}" for x in v["loads"])
            print(f"| {t} | {v['wall']:.2f} | {v['cpu']:.2f} | {v['peak_mb']:.0f} | {walls} | {loads} | {rc} | {rp} |")
        if logs:
            for t, v in tools.items():
                p = os.path.join(logs, f"{job}.{t}.{v['run']}.stderr")
                if os.path.exists(p):
                    phases = re.findall(r"phase (\S+)\s+([\d.]+) s", open(p).read())
                    if phases:
                        print(f"\n{t} phases (best run): " + ", ".join(f"{a} {b} s" for a, b in phases))


if __name__ == "__main__":
    main()
