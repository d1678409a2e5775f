#!/usr/bin/env python3
"""Summarise an SSJF sweep the way the paper does (auto_eval_barplot.py, PAPERS.md 2.5), with 95 %
confidence intervals over seeds (issue 14).

For each batching mode: keep every other x of the sweep (rate for Poisson, cv for Gamma: the 1st,
3rd, 5th... values), average each policy's per-x mean JCT and throughput over them, then report
the JCT change (policy - FCFS) / FCFS (negative: a reduction) and the throughput ratio
policy / FCFS, with both throughput definitions: the paper's 25th-percentile rate
(ssjf_throughput) and N / makespan.

Intervals. With `seeds: N` (N > 1), DIR/results_seeds.csv holds every run once per seed. Each
headline (a policy's mean JCT, its JCT change, its throughputs and their ratios) is computed per
seed from that seed's rows alone, exactly as above, and the figure reported is the mean of the N
per-seed headlines with the half-width of its 95 % Student-t interval,
    t(0.975, N - 1) * s / sqrt(N),  s the sample standard deviation of the N per-seed values.
The seeds are independent replications (each runs the experiment's `repeats`), so this interval
is exact under the t model: no delta method or error propagation through the ratio is needed.
Within a seed every policy sees the same jobs and arrivals (compat: ssjf draws them from the seed
alone: common random numbers), so a per-seed ratio is a paired comparison and its interval is
narrower than one built from the policies' separate intervals. The mean of per-seed ratios
differs slightly from the ratio of the mean columns of results.csv; the former is what has an
interval. Without results_seeds.csv (one seed) the figures are those of results.csv alone.

Usage: tools/ssjf_summary.py RESULTS_DIR [x_column] [--json]   (x_column: rate or cv; default
rate). --json prints {batching: {policy: {quantity: [mean, half-width or null]}}, "seeds": N,
"x_kept": [...]} instead of the table.
"""
import csv
import json
import math
import os
import sys
from collections import defaultdict

# t(0.975, df) for df 1..30 (a standard table); above 30 the Cornish-Fisher expansion below,
# within 1e-4 of the exact value there.
T975 = [None, 12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004,
        2.262157, 2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816,
        2.100922, 2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529,
        2.051831, 2.048407, 2.045230, 2.042272]


def t975(df):
    if df < len(T975):
        return T975[df]
    z = 1.959964
    return (z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3))


def interval(xs):
    """Mean and 95 % t half-width of xs (None for a single value)."""
    n = len(xs)
    m = sum(xs) / n
    if n < 2:
        return m, None
    s = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))
    return m, t975(n - 1) * s / math.sqrt(n)


QUANTITIES = ("jct_s", "jct_change_pct", "thr25", "thr25_ratio", "nmk", "nmk_ratio")


def headlines(by, xs):
    """One seed's headlines: {batching: {policy: {quantity: value}}}; by[b][p][x] = row."""
    out = {}
    for b in ("none", "dynamic", "continuous"):
        if b not in by:
            continue
        agg = {}
        for p in ("fcfs", "sjf", "ssjf"):
            if p not in by[b]:
                continue
            sel = [by[b][p][x] for x in xs[b]]
            agg[p] = tuple(sum(float(r[k]) for r in sel) / len(sel)
                           for k in ("mean_e2el_ms", "ssjf_throughput", "request_throughput"))
        f = agg["fcfs"]
        out[b] = {p: {"jct_s": jct / 1000, "jct_change_pct": 100 * (jct - f[0]) / f[0],
                      "thr25": thr, "thr25_ratio": thr / f[1], "nmk": nmk,
                      "nmk_ratio": nmk / f[2]}
                  for p, (jct, thr, nmk) in agg.items()}
    return out


def load(d, xcol):
    """Rows per seed: {seed: by[b][p][x] = row}, from results_seeds.csv or results.csv."""
    path = os.path.join(d, "results_seeds.csv")
    if not os.path.exists(path):
        path = os.path.join(d, "results.csv")
    per_seed = defaultdict(lambda: defaultdict(lambda: defaultdict(dict)))
    base = {}  # run -> its first seed (seeds are base, base + 1, ...)
    rows = list(csv.DictReader(open(path)))
    for r in rows:
        base[r["run"]] = min(base.get(r["run"], int(r["seed"])), int(r["seed"]))
    for r in rows:
        if r["status"] != "ok":
            sys.exit(f"ssjf_summary: {path}: run {r['run']} seed {r['seed']} is {r['status']}: "
                     f"{r['reason']}")
        k = int(r["seed"]) - base[r["run"]]
        per_seed[k][r["batching"]][r["policy"]][float(r[xcol])] = r
    return per_seed


def main():
    args = [a for a in sys.argv[1:] if a != "--json"]
    as_json = "--json" in sys.argv[1:]
    d = args[0]
    xcol = args[1] if len(args) > 1 else "rate"
    per_seed = load(d, xcol)
    first = per_seed[min(per_seed)]
    xs = {b: sorted(first[b]["fcfs"].keys())[::2] for b in first}
    runs = [headlines(per_seed[k], xs) for k in sorted(per_seed)]
    n = len(runs)
    summary = {b: {p: {q: interval([h[b][p][q] for h in runs]) for q in QUANTITIES}
                   for p in runs[0][b]} for b in runs[0]}
    kept = xs[next(iter(xs))]
    if as_json:
        json.dump({"seeds": n, "x_column": xcol, "x_kept": kept, "headlines": summary}, sys.stdout,
                  indent=1)
        print()
        return

    def pm(v, fmt, suffix=""):
        m, h = v
        return fmt.format(m) + suffix + ("" if h is None else "\u00b1" + fmt.replace("+", "").format(h) + suffix)

    print(f"{'batching':<11} {'policy':<6} {'mean JCT s':>13} {'JCT vs FCFS':>15} "
          f"{'thr@25%':>13} {'ratio':>11} {'N/makespan':>13} {'ratio':>11}")
    for b, pol in summary.items():
        for p, q in pol.items():
            print(f"{b:<11} {p:<6} {pm(q['jct_s'], '{:.2f}'):>13} "
                  f"{pm(q['jct_change_pct'], '{:+.1f}', '%'):>15} "
                  f"{pm(q['thr25'], '{:.3f}'):>13} {pm(q['thr25_ratio'], '{:.2f}', 'x'):>11} "
                  f"{pm(q['nmk'], '{:.3f}'):>13} {pm(q['nmk_ratio'], '{:.2f}', 'x'):>11}")
    print(f"x values kept ({xcol}): {kept}")
    if n > 1:
        print(f"each figure: the mean over {n} seeds \u00b1 the half-width of its 95 % t interval "
              f"(headline computed per seed, then t({n - 1}) over seeds)")


if __name__ == "__main__":
    main()
