#!/usr/bin/env python3
"""Check `lensim trace stats` against an independent computation in Python.

usage: trace_stats_check.py cli LENSIM
       trace_stats_check.py data LENSIM SOURCE_ROOT

cli:  small files written to a temporary directory: the figures of a hand-made trace, the
      exit statuses (0 success, 2 malformed input, bad usage or a missing file) and the
      file:line message on stderr. Needs no data.
data: the real traces. Each is parsed here with the csv / json and datetime modules (no code
      shared with lensim), the same figures are computed (count, first-to-last duration,
      (n - 1) / duration, token mean and numpy-style linear-interpolation percentiles, max,
      population sd / mean of the gaps), and every figure lensim prints must agree to its last
      printed digit (half a unit in that place; lensim prints 4 to 9 decimals). Exits 77 when no
      data directory is found: $LENSIM_DATA, else SOURCE_ROOT/../shared/data.
"""
import csv
import datetime
import json
import math
import os
import subprocess
import sys
import tempfile


def quantile(sorted_xs, p):
    """numpy.quantile's default ("linear"): x[floor(h)] + frac(h) (x[ceil] - x[floor])."""
    h = (len(sorted_xs) - 1) * p
    lo = math.floor(h)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (h - lo) * (sorted_xs[hi] - sorted_xs[lo])


def figures(arrivals_ns, prompts, outputs):
    n = len(arrivals_ns)
    out = {"requests": n}
    dur = (arrivals_ns[-1] - arrivals_ns[0]) / 1e9
    out["duration_s"] = dur
    out["rate_rps"] = (n - 1) / dur
    for name, xs in (("prompt", prompts), ("output", outputs)):
        s = sorted(xs)
        out[name + "_mean"] = sum(s) / n
        for p in (50, 90, 99):
            out["%s_p%d" % (name, p)] = quantile(s, p / 100)
        out[name + "_max"] = s[-1]
    gaps = [(b - a) / 1e9 for a, b in zip(arrivals_ns, arrivals_ns[1:])]
    m = sum(gaps) / len(gaps)
    sd = math.sqrt(sum((g - m) ** 2 for g in gaps) / len(gaps))
    out["interarrival_cv"] = sd / m
    return out


def run(lensim, *args):
    return subprocess.run([lensim, "trace", "stats", *args], capture_output=True, text=True)


def parse(stdout):
    vals = {}
    for line in stdout.splitlines():
        if line.startswith("#") or ":" not in line:
            continue
        k, v = line.split(":", 1)
        vals[k.strip()] = v.strip()
    return vals


failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what)


def compare(label, lensim, path, want, args=(), keys=None):
    r = run(lensim, path, *args)
    check(r.returncode == 0, "%s: exit %d, stderr %s" % (label, r.returncode, r.stderr.strip()))
    got = parse(r.stdout)
    for k, v in want.items():
        if keys is not None and k not in keys:
            continue
        if k not in got:
            check(False, "%s: lensim printed no %s" % (label, k))
            continue
        g = float(got[k])
        # Agreement to the last digit lensim prints: half a unit in that place (plus a hair
        # for the binary representation of the Python figure).
        decimals = len(got[k].split(".")[1]) if "." in got[k] else 0
        ok = abs(g - v) <= 0.5 * 10.0**-decimals * (1 + 1e-6) + 1e-12 * abs(v)
        check(ok, "%s: %s = %s, Python says %r" % (label, k, got[k], v))
        if ok:
            print("ok   %-40s %-18s %s" % (label, k, got[k]))


def azure_rows(path):
    """(arrival ns from the first row, prompt, output) with datetime for the civil date."""
    arr, pr, out = [], [], []
    t0 = None
    with open(path, newline="") as f:
        rd = csv.reader(f)
        assert next(rd) == ["TIMESTAMP", "ContextTokens", "GeneratedTokens"]
        for ts, c, g in rd:
            day = datetime.datetime.strptime(ts[:19], "%Y-%m-%d %H:%M:%S")
            frac = int(ts[20:].ljust(9, "0"))
            if t0 is None:
                t0 = (day, frac)
            d = day - t0[0]
            arr.append((d.days * 86400 + d.seconds) * 10**9 + frac - t0[1])
            pr.append(int(c))
            out.append(int(g))
    return arr, pr, out


def mooncake_rows(path):
    arr, pr, out = [], [], []
    with open(path) as f:
        for line in f:
            o = json.loads(line)
            arr.append(o["timestamp"] * 10**6)
            pr.append(o["input_length"])
            out.append(o["output_length"])
    t0 = arr[0]
    return [a - t0 for a in arr], pr, out


def lengths_rows(path):
    pr, out = [], []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            pr.append(int(float(row["num_prefill_tokens"])))
            out.append(int(float(row["num_decode_tokens"])))
    return pr, out


def mode_data(lensim, root):
    data = os.environ.get("LENSIM_DATA") or os.path.join(root, "..", "shared", "data")
    if not os.path.isdir(data):
        print("SKIP: no data directory (%s); set LENSIM_DATA to run the real-trace checks" % data)
        return 77
    tr = os.path.join(data, "traces")
    for name in ("AzureLLMInferenceTrace_conv.csv", "AzureLLMInferenceTrace_code.csv"):
        p = os.path.join(tr, "azure2023", name)
        want = figures(*azure_rows(p))
        compare(name, lensim, p, want)
        # The README's figures, as a sanity check of this script itself.
        if name.endswith("conv.csv"):
            check(want["requests"] == 19366 and round(want["rate_rps"], 2) == 5.53 and
                  want["prompt_p50"] == 1020 and want["output_p50"] == 129,
                  "Python's own figures disagree with the azure2023 README")
    p = os.path.join(tr, "mooncake", "conversation_trace.jsonl")
    compare("conversation_trace.jsonl", lensim, p, figures(*mooncake_rows(p)))
    # Lengths-only: arrivals are generated, so compare the token figures only.
    p = os.path.join(tr, "lengths_only", "bwb_stats_llama2_tokenizer_filtered_v2.csv")
    pr, out = lengths_rows(p)
    want = figures(list(range(len(pr))), pr, out)
    compare("bwb (lengths)", lensim, p, want,
            keys={k for k in want if k.startswith(("prompt", "output", "requests"))})
    # A window and rate scale: the rows of the conv trace with arrival in [600, 1200) s, shifted
    # and divided by 4.
    arr, pr, out = azure_rows(os.path.join(tr, "azure2023", "AzureLLMInferenceTrace_conv.csv"))
    sel = [i for i, a in enumerate(arr) if 600 * 10**9 <= a < 1200 * 10**9]
    want = figures([(arr[i] - 600 * 10**9) / 4 for i in sel], [pr[i] for i in sel],
                   [out[i] for i in sel])
    compare("conv window [600,1200) /4", lensim,
            "traces/azure2023/AzureLLMInferenceTrace_conv.csv", want,
            args=("--data-dir", data, "--t-start", "600", "--t-end", "1200", "--rate-scale", "4"))
    return 1 if failures else 0


def mode_cli(lensim):
    with tempfile.TemporaryDirectory() as d:
        good = os.path.join(d, "good.csv")
        with open(good, "w") as f:
            f.write("arrival_s,prompt_tokens,output_tokens\n"
                    "0,10,1\n1,20,2\n3,30,3\n6,40,4\n10,1000,5\n")
        want = figures([0, 10**9, 3 * 10**9, 6 * 10**9, 10 * 10**9], [10, 20, 30, 40, 1000],
                       [1, 2, 3, 4, 5])
        # Hand-checked: 4 gaps 1, 2, 3, 4 s: mean 2.5, population sd sqrt(1.25); p90 of the
        # prompts: h = 3.6, 40 + 0.6 * 960 = 616.
        check(want["rate_rps"] == 0.4 and abs(want["prompt_p90"] - 616) < 1e-9 and
              abs(want["interarrival_cv"] - math.sqrt(1.25) / 2.5) < 1e-12,
              "the script's own figures are wrong")
        compare("good.csv", lensim, good, want)
        r = run(lensim, good, "--max-prompt", "100", "--max-requests", "4")
        v = parse(r.stdout)
        check(r.returncode == 0 and v.get("requests") == "4" and v.get("clamped_prompt") == "0",
              "--max-requests/--max-prompt: %s" % r.stdout)
        r = run(lensim, good, "--max-prompt", "15")
        v = parse(r.stdout)
        check(v.get("clamped_prompt") == "4" and v.get("prompt_max") == "15",
              "--max-prompt 15: %s" % r.stdout)

        bad = os.path.join(d, "bad.csv")
        with open(bad, "w") as f:
            f.write("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                    "2023-11-16 18:15:46.6805900,374,44\n"
                    "2023-11-16 18:15:47.0,abc,1\n")
        r = run(lensim, bad)
        check(r.returncode == 2 and bad + ':3: ContextTokens: not a number: "abc"' in r.stderr,
              "bad row: exit %d, stderr %r" % (r.returncode, r.stderr))
        r = run(lensim, bad, "--skip-bad")
        v = parse(r.stdout)
        check(r.returncode == 0 and v.get("requests") == "1" and v.get("skipped_bad") == "1",
              "--skip-bad: exit %d, %s" % (r.returncode, r.stdout))
        empty = os.path.join(d, "empty.csv")
        open(empty, "w").close()
        r = run(lensim, empty)
        check(r.returncode == 2 and empty + ": empty" in r.stderr,
              "empty file: exit %d, stderr %r" % (r.returncode, r.stderr))
        r = run(lensim, os.path.join(d, "missing.csv"))
        check(r.returncode == 2 and "missing.csv: no such file" in r.stderr,
              "missing file: exit %d, stderr %r" % (r.returncode, r.stderr))
        r = run(lensim, good, "--no-such-option", "1")
        check(r.returncode == 2, "unknown option: exit %d" % r.returncode)
        r = run(lensim, good, "--rate-scale", "fast")
        check(r.returncode == 2, "bad option value: exit %d" % r.returncode)
        r = run(lensim, "--help")
        check(r.returncode == 0 and "interarrival_cv" in r.stdout, "--help: exit %d" % r.returncode)
        r = run(lensim, "synthetic", "--seed", "7")
        v = parse(r.stdout)
        check(r.returncode == 0 and v.get("requests") == "10000" and
              abs(float(v["rate_rps"]) - 5.53) < 5 * 5.53 / math.sqrt(9999),
              "synthetic: exit %d, %s" % (r.returncode, r.stdout))
        r2 = run(lensim, "synthetic", "--seed", "7")
        check(r2.stdout == r.stdout, "synthetic: the same seed printed different figures")
        r = run(lensim, "synthetic", "--requests", "500", "--arrival", "batch")
        v = parse(r.stdout)
        check(r.returncode == 0 and v.get("requests") == "500" and v.get("duration_s") ==
              "0.000000000", "synthetic batch: %s" % r.stdout)
        r = subprocess.run([lensim, "trace", "nonsense"], capture_output=True, text=True)
        check(r.returncode == 2, "unknown subcommand: exit %d" % r.returncode)
    return 1 if failures else 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "cli":
        return mode_cli(argv[2])
    if len(argv) >= 4 and argv[1] == "data":
        return mode_data(argv[2], argv[3])
    print(__doc__)
    return 2


if __name__ == "__main__":
    status = main(sys.argv)
    print("%d failures" % len(failures))
    sys.exit(status)
