#!/usr/bin/env python3
"""seeds_check.py DIR (issue 14): recompute, independently of lensim's C code, what a run of
several seeds must write into DIR/results.csv and DIR/results.json from its per-seed rows in
DIR/results_seeds.csv, and check each per-seed row against the seed's own summary.json.

For every run of results.csv with seeds = N > 1 and status ok, and every metric column m (those
with an m_ci95 column):
  mean    = sum of the N per-seed values / N
  m_ci95  = t(0.975, N - 1) * s / sqrt(N), s the sample standard deviation (divisor N - 1),
with t from a printed table (Student's t, two-sided 95 %: e.g. 2.262157 for 9 degrees of
freedom), not from a library, so that the C side's GSL call is checked against something else.
A metric missing for one seed (empty field) must be missing in the mean and the half-width.
results.json must carry the same means, "ci95" and "seeds". Exit 0 when everything matches,
1 with the differences listed.
"""
import csv
import json
import math
import os
import sys

# t(0.975, df), from a standard table (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2).
T975 = {1: 12.706205, 2: 4.302653, 3: 3.182446, 4: 2.776445, 5: 2.570582, 6: 2.446912,
        7: 2.364624, 8: 2.306004, 9: 2.262157, 10: 2.228139, 11: 2.200985, 12: 2.178813,
        14: 2.144787, 19: 2.093024, 29: 2.045230}

# summary.json key of a results.csv column where the names differ (met.c's column table).
JSON_KEY = {"duration_s": "duration"}


def num(s):
    return float(s) if s != "" else None


def close(a, b, rel=1e-6, abs_=2e-6):
    return abs(a - b) <= abs_ + rel * abs(b)


def main():
    d = sys.argv[1]
    rows = list(csv.DictReader(open(os.path.join(d, "results.csv"))))
    per = list(csv.DictReader(open(os.path.join(d, "results_seeds.csv"))))
    js = {r["run"]: r for r in json.load(open(os.path.join(d, "results.json")))}
    bad = []
    n_checked = 0
    metrics = [c[:-5] for c in rows[0].keys() if c.endswith("_ci95")]
    if not metrics:
        bad.append("results.csv has no m_ci95 column")
    for r in rows:
        n = int(r["seeds"])
        seeds = [p for p in per if p["run"] == r["run"]]
        if len(seeds) != n:
            bad.append(f"{r['run']}: {len(seeds)} rows in results_seeds.csv, seeds = {n}")
            continue
        want_seeds = [int(r["seed"]) + k for k in range(n)]
        if [int(p["seed"]) for p in seeds] != want_seeds:
            bad.append(f"{r['run']}: seeds {[p['seed'] for p in seeds]}, want {want_seeds}")
        j = js[r["run"]]
        if j["seeds"] != n:
            bad.append(f"{r['run']}: results.json seeds {j['seeds']}, results.csv {n}")
        if r["status"] != "ok" or n < 2:
            continue
        for p in seeds:  # each seed's row is what its own summary.json says
            sj = json.load(open(os.path.join(d, r["run"], f"seed-{p['seed']}", "summary.json")))
            for m in ("completed", "request_throughput", "mean_e2el_ms", "p99_ttft_ms",
                      "duration_s"):
                a, b = num(p[m]), sj[JSON_KEY.get(m, m)]
                if (a is None) != (b is None) or (a is not None and not close(a, b, 0, 1e-9)):
                    bad.append(f"{r['run']} seed {p['seed']}: {m} {a} in results_seeds.csv, "
                               f"{b} in summary.json")
        t = T975[n - 1]
        for m in metrics:
            xs = [num(p[m]) for p in seeds]
            got_m, got_h = num(r[m]), num(r[m + "_ci95"])
            jm, jh = j[m], j["ci95"][m]
            if any(x is None for x in xs):
                if got_m is not None or got_h is not None or jm is not None or jh is not None:
                    bad.append(f"{r['run']}: {m} missing for a seed, yet mean {got_m} / {jm}")
                continue
            mean = sum(xs) / n
            s = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
            hw = t * s / math.sqrt(n)
            n_checked += 1
            if got_m is None or not close(got_m, mean):
                bad.append(f"{r['run']}: {m} mean {got_m}, recomputed {mean}")
            if got_h is None or not close(got_h, hw):
                bad.append(f"{r['run']}: {m}_ci95 {got_h}, recomputed {hw}")
            if jm is None or jh is None or not close(jm, got_m or 0) or not close(jh, got_h or 0):
                bad.append(f"{r['run']}: results.json {m} {jm} ± {jh}, csv {got_m} ± {got_h}")
    for b in bad[:20]:
        print("seeds_check:", b)
    print(f"seeds_check: {n_checked} means and half-widths recomputed, {len(bad)} differences")
    sys.exit(1 if bad or not n_checked else 0)


if __name__ == "__main__":
    main()
