#!/usr/bin/env python3
"""Summarise an SSJF sweep the way the paper does (auto_eval_barplot.py, PAPERS.md 2.5).

For each batching mode: keep every other x of the sweep (rate for Poisson, cv for Gamma: the 1st,
3rd, 5th... values), average each policy's per-x mean JCT and throughput over them, then report
the JCT reduction (FCFS - policy) / FCFS and the throughput ratio policy / FCFS, with both
throughput definitions: the paper's 25th-percentile rate (ssjf_throughput) and N / makespan.

Usage: tools/ssjf_summary.py RESULTS_DIR [x_column]   (x_column: rate or cv; default rate)
"""
import csv
import os
import sys
from collections import defaultdict


def main():
    d = sys.argv[1]
    xcol = sys.argv[2] if len(sys.argv) > 2 else "rate"
    rows = [r for r in csv.DictReader(open(os.path.join(d, "results.csv")))]
    by = defaultdict(lambda: defaultdict(dict))  # batching -> policy -> x -> row
    for r in rows:
        by[r["batching"]][r["policy"]][float(r[xcol])] = r
    print(f"{'batching':<11} {'policy':<6} {'mean JCT s':>10} {'JCT vs FCFS':>12} "
          f"{'thr@25%':>8} {'ratio':>6} {'N/makespan':>10} {'ratio':>6}")
    for b in ("none", "dynamic", "continuous"):
        if b not in by:
            continue
        xs = sorted(by[b]["fcfs"].keys())[::2]
        agg = {}
        for p in ("fcfs", "sjf", "ssjf"):
            if p not in by[b]:
                continue
            sel = [by[b][p][x] for x in xs]
            agg[p] = tuple(sum(float(r[k]) for r in sel) / len(sel)
                           for k in ("mean_e2el_ms", "ssjf_throughput", "request_throughput"))
        f = agg["fcfs"]
        for p, (jct, thr, nmk) in agg.items():
            print(f"{b:<11} {p:<6} {jct / 1000:>10.2f} {100 * (jct - f[0]) / f[0]:>+11.1f}% "
                  f"{thr:>8.3f} {thr / f[1]:>5.2f}x {nmk:>10.3f} {nmk / f[2]:>5.2f}x")
    print(f"x values kept ({xcol}): {xs}")


if __name__ == "__main__":
    main()
