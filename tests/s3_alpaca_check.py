#!/usr/bin/env python3
"""s3_alpaca_check.py LENSIM SOURCE_ROOT: issue 14, the alpaca_eval source on the real files.

An independent reading of ../shared/data/prompts/alpaca_eval/derived/ (Python's csv and json, not
lensim's parsers): pair each row of output_llama2_tokens.csv with its idx's instr_llama2_tokens
from instructions.jsonl, output = the text_davinci_003 count + 1 (end-of-sequence token), and
compare the figures `lensim trace stats FILE --column text_davinci_003` prints (requests, and
the mean, p50, p90, p99 (numpy's linear interpolation) and max of prompt and output tokens).
Also checks the two counts the S3 experiments quote: 2 empty responses, and the share of outputs
beyond the first bucket (> 204 tokens) on the raw counts. Exits 77 (skip) without the data.
"""
import csv
import json
import os
import subprocess
import sys


def pct(xs, p):
    s = sorted(xs)
    h = (len(s) - 1) * p / 100
    lo = int(h)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (h - lo) * (s[hi] - s[lo])


def main():
    lensim, root = sys.argv[1], sys.argv[2]
    data = os.environ.get("LENSIM_DATA") or os.path.join(root, "..", "shared", "data")
    d = os.path.join(data, "prompts", "alpaca_eval", "derived")
    mat = os.path.join(d, "output_llama2_tokens.csv")
    if not os.path.exists(mat):
        print(f"SKIP: no {mat}")
        sys.exit(77)
    prompt = {}
    with open(os.path.join(d, "instructions.jsonl")) as f:
        for line in f:
            o = json.loads(line)
            prompt[o["idx"]] = o["instr_llama2_tokens"]
    pairs = []
    with open(mat, newline="") as f:
        for r in csv.DictReader(f):
            pairs.append((prompt[int(r["idx"])], int(r["text_davinci_003"])))
    raw = [o for _, o in pairs]
    want = {"requests": len(pairs)}
    for name, xs in (("prompt", [p for p, _ in pairs]), ("output", [o + 1 for o in raw])):
        want[f"{name}_mean"] = sum(xs) / len(xs)
        for q in (50, 90, 99):
            want[f"{name}_p{q}"] = pct(xs, q)
        want[f"{name}_max"] = max(xs)
    out = subprocess.run([lensim, "trace", "stats", mat, "--column", "text_davinci_003",
                          "--data-dir", data], capture_output=True, text=True)
    if out.returncode:
        print(f"FAIL lensim trace stats: {out.stderr.strip()}")
        sys.exit(1)
    got = {}
    for line in out.stdout.splitlines():
        k, _, v = line.partition(": ")
        if k in want:
            got[k] = float(v)
    bad = 0
    for k, v in want.items():
        if k not in got or abs(got[k] - v) > 1e-4 * max(1, abs(v)):
            print(f"FAIL {k}: lensim {got.get(k)}, independent {v}")
            bad = 1
        else:
            print(f"ok   {k}: {v:g}")
    empty = sum(1 for o in raw if o == 0)
    beyond = sum(1 for o in raw if o > 204) / len(raw)
    print(f"{'ok  ' if empty == 2 else 'FAIL'} empty responses: {empty} (the experiments say 2)")
    print(f"{'ok  ' if abs(beyond - 0.0758) < 5e-4 else 'FAIL'} beyond 204 tokens: "
          f"{100 * beyond:.2f} % (the experiments say 7.6 %)")
    sys.exit(1 if bad or empty != 2 or abs(beyond - 0.0758) >= 5e-4 else 0)


if __name__ == "__main__":
    main()
