#!/usr/bin/env python3
"""summary.json against an independent computation from requests.csv and timeline.csv (issue 17).

Usage: metric_check.py LENSIM            runs the cases below in a temporary directory
       metric_check.py --dir RUN_DIR [--requests N] [--slo ttft,tpot,e2el,norm]
                                         checks one run directory

Every figure of summary.json is recomputed here with definitions written from METRICS.md (vLLM's
`calculate_metrics()`), not from lensim's code, and compared to the printed precision (6 decimals)
unless a tolerance below says otherwise:
  - completed, token totals, duration (first arrival to last completion), throughputs;
  - goodput and SLO attainment: a request is good iff every SLO set holds (ttft, tpot, e2el,
    norm = e2el / output tokens), each with <=;
  - mean, median, population std, p90, p99 of ttft, tpot (requests with more than one output
    token), e2el, queue and norm, percentiles by linear interpolation between order statistics
    (numpy.percentile's default: position q (n - 1));
  - ITL pooled over tokens: its mean is exactly sum(e2el - ttft) / sum(output - 1) (every token
    after the first closes one gap, and the gaps of a request add up to its decode span); its
    median, p90, p99 and std from the token times rebuilt from the timeline (a request running
    without preemption gets a token at every iteration boundary of its replica between its first
    token and its finish; the timeline prints microseconds, so these five get 2e-3 ms);
  - KV usage (mean over time, weighted by iteration length, per replica; peak), mean batch size
    and iteration count from the timeline's iteration rows (kv_cache_usage_perc has 4 decimals:
    1e-5 of tolerance), preemptions and mispredictions as sums of the per-request columns;
  - ssjf_throughput as the SSJF simulator computes it (simulator.py: pos = int(percentile(
    range(n), 25)) = floor(0.25 (n - 1)); pos / finish time of the pos-th completion, 0-based,
    from the first arrival).
requests.csv and timeline.csv are read by column name; leading '#' lines are skipped; a `status`
column, when present, tells completed rows from the others.
"""
import json
import math
import os
import re
import subprocess
import sys
import tempfile

FAILED_STATUS = ("failed", "fail", "rejected", "dropped", "error")


def read_csv(path):
    with open(path) as f:
        lines = [ln.rstrip("\n") for ln in f if not ln.startswith("#")]
    head = lines[0].split(",")
    return [dict(zip(head, ln.split(","))) for ln in lines[1:] if ln]


def quantile(xs, q):
    """Linear interpolation between order statistics at position q (n - 1) (numpy default)."""
    s = sorted(xs)
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (pos - lo) * (s[hi] - s[lo])


def stats(xs):
    n = len(xs)
    mean = sum(xs) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / n)
    return {"mean": mean, "median": quantile(xs, 0.5), "std": std, "p90": quantile(xs, 0.9),
            "p99": quantile(xs, 0.99)}


class Checker:
    def __init__(self, name):
        self.name, self.errors, self.checked = name, [], set()

    def eq(self, summary, key, want, tol=None):
        self.checked.add(key)
        got = summary.get(key)
        if got is None:
            self.errors.append(f"{self.name}: {key} missing from summary.json")
            return
        if tol is None:  # printed with 6 decimals: half a unit of the last place, and rounding
            tol = 0.5e-6 + 1e-9 * abs(want)
        if not abs(got - want) <= tol:
            self.errors.append(f"{self.name}: {key} = {got}, recomputed {want:.9g} (tol {tol:g})")


def check_dir(d, n_requests=None, slo=None, name=None):
    """Check one run directory; returns a list of disagreements."""
    c = Checker(name or d)
    with open(os.path.join(d, "summary.json")) as f:
        s = json.load(f)
    rows = read_csv(os.path.join(d, "requests.csv"))
    done = [r for r in rows if r.get("status", "ok").strip().lower() not in FAILED_STATUS]
    done = [r for r in done if r.get("finish_s", "") not in ("", "nan", "-")]
    n = len(done)
    f = lambda r, k: float(r[k])
    arrival0 = min(f(r, "arrival_s") for r in rows)
    fin = [f(r, "finish_s") for r in done]
    dur = max(fin) - arrival0
    inp = sum(int(r["prompt_tokens"]) for r in done)
    out = sum(int(r["output_tokens"]) for r in done)
    c.eq(s, "completed", n, 0)
    if n_requests is not None:
        c.eq(s, "failed", n_requests - n, 0)
    c.eq(s, "total_input_tokens", inp, 0)
    c.eq(s, "total_output_tokens", out, 0)
    c.eq(s, "duration", dur, 1.5e-6)
    c.eq(s, "request_throughput", n / dur, 1e-6 * n / dur + 0.5e-6)
    c.eq(s, "output_throughput", out / dur, 1e-6 * out / dur + 0.5e-6)
    c.eq(s, "total_token_throughput", (inp + out) / dur, 1e-6 * (inp + out) / dur + 0.5e-6)

    per = {
        "ttft": [f(r, "ttft_s") for r in done],
        "tpot": [f(r, "tpot_s") for r in done if int(r["output_tokens"]) > 1],
        "e2el": [f(r, "e2el_s") for r in done],
        "queue": [f(r, "queue_s") for r in done],
        "norm_latency": [f(r, "e2el_s") / int(r["output_tokens"]) for r in done],
    }
    # TPOT by its definition, from the other columns: (e2el - ttft) / (output - 1).
    for r in done:
        k = int(r["output_tokens"])
        want = (f(r, "e2el_s") - f(r, "ttft_s")) / (k - 1) if k > 1 else 0.0
        if abs(f(r, "tpot_s") - want) > 2e-9:
            c.errors.append(f"{c.name}: request {r['id']}: tpot_s {r['tpot_s']} != {want:.9f}")
            break
    for m, xs in per.items():
        st = stats(xs)
        for k in ("mean", "median", "std", "p90", "p99"):
            c.eq(s, f"{k}_{m}_ms", st[k] * 1e3, 2e-6)  # 9-decimal inputs, 6-decimal output
    c.eq(s, "mean_jct_ms", stats(per["e2el"])["mean"] * 1e3, 2e-6)

    if slo:
        lim = dict(zip(("ttft", "tpot", "e2el", "norm"), slo))
        good = 0
        for r in done:
            k = int(r["output_tokens"])
            v = {"ttft": f(r, "ttft_s"), "tpot": f(r, "tpot_s"), "e2el": f(r, "e2el_s"),
                 "norm": f(r, "e2el_s") / k}
            good += all(v[m] <= lim[m] / 1e3 for m in lim if lim[m] > 0)
        c.eq(s, "request_goodput", good / dur, 1e-6 * good / dur + 0.5e-6)
        c.eq(s, "slo_attainment", good / n)
        c.attainment = good / n

    else:  # no SLO: no goodput to report (null, not 0 and not the throughput)
        for key in ("request_goodput", "slo_attainment"):
            c.checked.add(key)
            if s.get(key, 0) is not None:
                c.errors.append(f"{c.name}: {key} = {s.get(key)} without an SLO, expected null")

    # ITL mean: sum of decode spans over the number of gaps.
    gaps_n = sum(int(r["output_tokens"]) - 1 for r in done)
    span = sum(f(r, "e2el_s") - f(r, "ttft_s") for r in done)
    if gaps_n:
        c.eq(s, "mean_itl_ms", span / gaps_n * 1e3, 2e-6)

    c.eq(s, "preemptions", sum(int(r["preemptions"]) for r in done), 0)
    c.eq(s, "mispredictions", sum(int(r["mispredictions"]) for r in done), 0)

    # SSJF's throughput.
    fs = sorted(fin)
    pos = math.floor(0.25 * (n - 1))
    t = fs[pos] - arrival0
    c.eq(s, "ssjf_throughput", pos / t if t > 0 else float("nan"), 1e-6 * pos / t + 0.5e-6)

    tl_path = os.path.join(d, "timeline.csv")
    if os.path.exists(tl_path):
        check_timeline(c, s, read_csv(tl_path), done, dur, s.get("preemptions", 0) == 0,
                       replicas_of(d))
    return c


def replicas_of(d):
    """cluster.replicas from the run's manifest (the resolved configuration), or None."""
    with open(os.path.join(d, "manifest.yaml")) as f:
        m = re.search(r"\n  cluster:\n    replicas: (\d+)\n", f.read())
    return int(m.group(1)) if m else None


def check_timeline(c, s, tl, done, dur, no_preemption, replicas):
    reps = sorted({int(r["replica"]) for r in tl})
    kv_time, peak, batch_sum, iters = 0.0, 0.0, 0, 0
    bounds = {}
    for rep in reps:
        rows = [r for r in tl if int(r["replica"]) == rep]
        ts = [float(r["time_s"]) for r in rows]
        bounds[rep] = ts
        for i, r in enumerate(rows):
            b = int(r["batch_size"])
            if b == 0:
                continue
            # An iteration row: it lasts until the replica's next row (the next iteration, or
            # the idle row at its end).
            if i + 1 == len(rows):
                c.errors.append(f"{c.name}: replica {rep}: the last timeline row is busy")
                return
            u = float(r["kv_cache_usage_perc"]) / 100
            kv_time += u * (ts[i + 1] - ts[i])
            peak = max(peak, u)
            batch_sum += b
            iters += 1
    c.eq(s, "iterations", iters, 0)
    c.eq(s, "mean_batch_size", batch_sum / iters, 0.5e-6 + 1e-9 * batch_sum / iters)
    c.eq(s, "peak_kv_cache_usage", peak, 0.6e-6)
    # Over every replica of the cluster, busy or not (an idle replica has no timeline row).
    c.eq(s, "mean_kv_cache_usage", kv_time / (dur * (replicas or len(reps))), 1e-5)
    if not no_preemption:
        return
    # ITL from token times: every boundary of the request's replica in (first token, finish].
    import bisect
    gaps = []
    for r in done:
        k = int(r["output_tokens"])
        if k < 2:
            continue
        ts = bounds[int(r["replica"])]
        a = float(r["arrival_s"])
        t0, t1 = a + float(r["ttft_s"]), a + float(r["e2el_s"])
        lo = bisect.bisect_right(ts, t0 + 1.5e-6)
        hi = bisect.bisect_right(ts, t1 - 1.5e-6)
        tok = [t0] + ts[lo:hi] + [t1]
        if len(tok) - 1 != k - 1:
            c.errors.append(f"{c.name}: request {r['id']}: {len(tok) - 1} gaps in the timeline, "
                            f"{k - 1} expected (is the timeline decimated?)")
            return
        gaps += [tok[i + 1] - tok[i] for i in range(len(tok) - 1)]
    if gaps:
        st = stats(gaps)
        for k in ("median", "std", "p90", "p99"):
            c.eq(s, f"{k}_itl_ms", st[k] * 1e3, 2e-3)


# ---- the cases ----

BASE = ("seed: {seed}\nworkload: {{requests: {n}, rate: {rate}, max_prompt_tokens: {mp}, "
        "max_output_tokens: 400}}\n")
CASES = [
    # name, yaml, requests, slo (ms: ttft, tpot, e2el, norm), what it must show
    ("slo", BASE.format(seed=3, n=300, rate=6, mp=1500) +
     "engine: {memory: paged, max_batch: 32}\nslo: {ttft_ms: 60, tpot_ms: 30, e2el_ms: 4000}\n"
     "outputs: {timeline_rows: 100000}\n", 300, (60, 30, 4000, 0), "slo"),
    ("norm-slo", BASE.format(seed=4, n=200, rate=6, mp=1500) +
     "engine: {memory: oracle, max_batch: 16}\npolicy: sjf\nslo: {norm_latency_ms: 35}\n"
     "outputs: {timeline_rows: 100000}\n", 200, (0, 0, 0, 35), "slo"),
    ("preempt", BASE.format(seed=5, n=300, rate=30, mp=1500) +
     "model: llama-2-13b\nhardware: {gpu: a100-40gb}\nengine: {memory: paged, max_seq_len: 2048}\n"
     "slo: {ttft_ms: 500}\noutputs: {timeline_rows: 100000}\n", 300, (500, 0, 0, 0), "preempt"),
    ("mispredict", BASE.format(seed=6, n=300, rate=20, mp=1500) +
     "engine: {memory: predicted, max_seq_len: 2048}\npolicy: s3\n"
     "predictor: {name: noisy, sigma: 1}\nhardware: {gpu: a100-40gb}\nmodel: llama-2-13b\n"
     "outputs: {timeline_rows: 100000}\n", 300, None, "mispredict"),
    ("fail", BASE.format(seed=7, n=200, rate=5, mp=4000) +
     "engine: {max_seq_len: 1024}\noutputs: {timeline_rows: 100000}\n", 200, None, "fail"),
    ("replicas", BASE.format(seed=8, n=300, rate=15, mp=1500) +
     "cluster: {replicas: 3, router: least_outstanding}\noutputs: {timeline_rows: 100000}\n"
     "slo: {e2el_ms: 3000}\n", 300, (0, 0, 3000, 0), "slo"),
    ("one-at-a-time", BASE.format(seed=9, n=100, rate=2, mp=1500) +
     "engine: {batching: none}\noutputs: {timeline_rows: 100000}\n", 100, None, None),
]


def run_cases(lensim):
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, yaml, n, slo, shows in CASES:
            path = os.path.join(tmp, name + ".yaml")
            with open(path, "w") as fh:
                fh.write(f"name: {name}\n" + yaml)
            out = os.path.join(tmp, "out-" + name)
            p = subprocess.run([lensim, "run", "-q", path, "-o", out], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            if p.returncode != 0:
                errors.append(f"{name}: lensim run failed ({p.returncode}): {p.stdout[-2000:]}")
                continue
            d = next(w for w, _, files in os.walk(out) if "summary.json" in files)
            c = check_dir(d, n, slo, name)
            with open(os.path.join(d, "summary.json")) as fh:
                s = json.load(fh)
            # The case must exercise what it is there for, or it checks nothing.
            if shows == "slo" and not 0 < getattr(c, "attainment", 0) < 1:
                c.errors.append(f"{name}: SLO attainment {getattr(c, 'attainment', None)} is "
                                "not strictly between 0 and 1: the SLOs decide nothing")
            if shows == "preempt" and not s["preemptions"] > 0:
                c.errors.append(f"{name}: no preemption")
            if shows == "mispredict" and not s["mispredictions"] > 0:
                c.errors.append(f"{name}: no misprediction")
            if shows == "fail" and not s["failed"] > 0:
                c.errors.append(f"{name}: no failed request")
            unchecked = sorted(set(s) - c.checked - {"wasted_tokens", "wasted_s"})
            print(f"{name}: {len(c.checked)} figures checked (completed {s['completed']}, failed "
                  f"{s['failed']}, preemptions {s['preemptions']}, mispredictions "
                  f"{s['mispredictions']}, SLO attainment {s['slo_attainment']})"
                  + (f"; not recomputed here: {', '.join(unchecked)}" if unchecked else ""))
            errors += c.errors
    return errors


def main(argv):
    if len(argv) >= 3 and argv[1] == "--dir":
        n, slo = None, None
        if "--requests" in argv:
            n = int(argv[argv.index("--requests") + 1])
        if "--slo" in argv:
            slo = tuple(float(x) for x in argv[argv.index("--slo") + 1].split(","))
        errors = check_dir(argv[2], n, slo).errors
    elif len(argv) == 2:
        errors = run_cases(argv[1])
    else:
        print(__doc__)
        return 2
    for e in errors:
        print("FAIL", e)
    print("ok" if not errors else f"{len(errors)} disagreements")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
