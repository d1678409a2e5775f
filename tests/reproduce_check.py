#!/usr/bin/env python3
"""Checks of tools/reproduce.py (issue 14) against computations it does not make itself:
- its t quantiles: the Student-t CDF integrated numerically (Simpson's rule on the density,
  Gamma functions from math.lgamma) at each tabulated t_{0.975,df} must be 0.975;
- the SSJF headline on a hand-made results table, computed by hand below;
- the verdict rule at the band's edges;
- `check` on the repository's docs/: the report is what its data renders to and its inputs are
  unchanged (fails when REPRODUCTION.md is edited by hand or an input changed: run
  `make reproduce`)."""
import math
import os
import sys
import tempfile

ROOT = sys.argv[1]
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(ROOT, "tools"))
import reproduce as R  # noqa: E402

fails = 0


def check(cond, what):
    global fails
    if not cond:
        fails += 1
        print("FAIL: " + what)


def t_cdf(x, df, n=20000):
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    f = lambda t: c * (1 + t * t / df) ** (-(df + 1) / 2)
    h = x / n
    s = f(0) + f(x) + sum((4 if i % 2 else 2) * f(i * h) for i in range(1, n))
    return 0.5 + s * h / 3


for df in range(1, 31):
    p = t_cdf(R.t975(df), df)
    check(abs(p - 0.975) < 2e-6, "t975(%d) = %g: CDF %.7f" % (df, R.t975(df), p))

# mean_ci on 3 values: mean 2, s = 1, half-width t_{0.975,2} / sqrt(3) = 4.302653 / 1.7320508
m, h = R.mean_ci([1.0, 2.0, 3.0])
check(abs(m - 2) < 1e-12 and abs(h - 2.4841377) < 1e-6, "mean_ci([1,2,3]) = %r, %r" % (m, h))
check(R.mean_ci([5.0])[1] is None, "one value has no interval")

# SSJF headline by hand: x in {1, 2, 3}; every other x keeps 1 and 3.
# fcfs JCT (ms) 100, 999, 300 -> mean over kept 200; ssjf 60, 1, 140 -> 100: reduction -50 %.
# thr@25: fcfs 1, -, 3 -> 2; ssjf 4, -, 6 -> 5: ratio 2.5. N/makespan fcfs 2,2 ssjf 3,3 -> 1.5.
rows = []
for p, jct, thr, nmk in (("fcfs", (100, 999, 300), (1, 7, 3), (2, 9, 2)),
                         ("ssjf", (60, 1, 140), (4, 7, 6), (3, 9, 3))):
    for i, x in enumerate((1, 2, 3)):
        rows.append({"batching": "none", "policy": p, "rate": str(x), "mean_e2el_ms": str(jct[i]),
                     "ssjf_throughput": str(thr[i]), "request_throughput": str(nmk[i])})
agg = R.ssjf_aggregate(rows, "rate")
check(abs(R.ssjf_metric(agg, "none", "ssjf", "jct_reduction_pct") + 50) < 1e-9, "JCT reduction")
check(abs(R.ssjf_metric(agg, "none", "ssjf", "thr25_ratio") - 2.5) < 1e-9, "thr25 ratio")
check(abs(R.ssjf_metric(agg, "none", "ssjf", "nmk_ratio") - 1.5) < 1e-9, "N/makespan ratio")

# Verdicts: the band's edges are inside; an interval that reaches the band is said so.
check(R.verdict({"mean": 2.2, "ci95": None}, (2.2, 3.6)) == "inside", "lower edge")
check(R.verdict({"mean": 3.6, "ci95": 0.1}, (2.2, 3.6)) == "inside", "upper edge")
check(R.verdict({"mean": 2.0, "ci95": 0.25}, (2.2, 3.6)).startswith("outside; interval"),
      "overlap")
check(R.verdict({"mean": 2.0, "ci95": 0.1}, (2.2, 3.6)) == "outside (below)", "below")

# The repository's report is up to date; and an edited copy is caught.
class A:
    docs = os.path.join(ROOT, "docs")


check(R.cmd_check(A) == 0, "docs/REPRODUCTION.md is up to date (run `make reproduce`)")
with tempfile.TemporaryDirectory() as d:
    for f in ("claims.json", "reproduction-data.json", "REPRODUCTION.md"):
        with open(os.path.join(ROOT, "docs", f)) as src, open(os.path.join(d, f), "w") as dst:
            dst.write(src.read().replace("| inside |", "| inside! |", 1)
                      if f == "REPRODUCTION.md" else src.read())
    os.makedirs(os.path.join(d, "figures"))
    for f in os.listdir(os.path.join(ROOT, "docs", "figures")):
        open(os.path.join(d, "figures", f), "w").close()
    check(R.render(R.load_claims(d), __import__("json").load(
        open(os.path.join(d, "reproduction-data.json")))) !=
        open(os.path.join(d, "REPRODUCTION.md")).read(), "a hand edit is detected")

print("reproduce_check: %d failed" % fails)
sys.exit(1 if fails else 0)
