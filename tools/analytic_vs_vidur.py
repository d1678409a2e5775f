#!/usr/bin/env python3
"""lensim's analytic model (CodeLlama-34B, TP2, A100-80GB) against Vidur's batch time, computed
independently from Vidur's prediction tables (tools/vidur_batch_time.py). Issue 10, item 3.

Usage: tools/analytic_vs_vidur.py BUILD_DIR VIDUR_DATA_DIR [--check]
Prints, per batch kind, the mean and max relative error of the analytic curves
(cal_analytic_iter_s) and of the piecewise profile built from them (cal_analytic_profile, what
the simulator uses), and the worst batches. With --check (the golden test), exits 1 unless the
profile's errors stay within what calib/PROFILE.md states: mean 5 % and max 15 % over all
batches, max 10.5 % over decode batches. Exits 77 (skip) when the data folder is missing.
Standard library only.
"""
import csv
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vidur_batch_time as vbt  # noqa: E402


def grid(rng, data):
    out = []  # (kind, decode contexts, prefill chunks)
    # Every prompt of the Vidur workload as a prefill batch of its own (vllm_v0 often runs one).
    with open(os.path.join(data, "workloads", "conv_n10000_qps2.0_seed42.csv")) as f:
        for row in list(csv.DictReader(f)):
            out.append(("workload-prompt", [], [int(row["num_prefill_tokens"])]))
    ctxs = [128, 256, 512, 1024, 2048, 3072, 4096]
    for b in range(1, 129):
        for c in ctxs:
            out.append(("decode", [c] * b, []))
    for _ in range(2000):  # ragged decode batches, as a run makes them
        b = rng.randint(1, 128)
        out.append(("decode-ragged", [rng.randint(16, 4095) for _ in range(b)], []))
    for p in range(1, 4097):
        out.append(("prefill", [], [p]))
    for _ in range(2000):  # several prompts in one iteration, at most 4096 tokens
        k = rng.randint(2, 8)
        ps = [rng.randint(1, 4096 // k) for _ in range(k)]
        out.append(("prefill-multi", [], ps))
    for _ in range(2000):  # mixed: decodes plus prompts
        b = rng.randint(1, 128)
        ps = [rng.randint(1, 4096 - b) for _ in range(rng.randint(1, 2))]
        if sum(ps) + b > 4096:
            ps = [4096 - b]
        out.append(("mixed", [rng.randint(16, 4095) for _ in range(b)], ps))
    return out


def main():
    build, data = sys.argv[1], sys.argv[2]
    check = "--check" in sys.argv[3:]
    if not os.path.isdir(os.path.join(data, "predictions")):
        print("SKIP: no Vidur data in %s" % data)
        sys.exit(77)
    tables = vbt.load(os.path.join(data, "predictions"))
    rng = random.Random(42)
    batches = grid(rng, data)
    lines = []
    for _, dec, pre in batches:
        lines.append("%d %d %d %d" % (len(dec), sum(dec), sum(pre), sum(p * p for p in pre)))
    res = subprocess.run([os.path.join(build, "calib", "effit"), "time", "codellama-34b",
                          "a100-80gb", "2"], input="\n".join(lines) + "\n", capture_output=True,
                         text=True, check=True)
    ours = [tuple(map(float, l.split())) for l in res.stdout.split("\n") if l]
    assert len(ours) == len(batches)
    stats = {}
    worst = []
    for (kind, dec, pre), (curve, prof) in zip(batches, ours):
        v = vbt.batch_time(tables, dec, [(0, p) for p in pre])
        ec, ep = curve / v - 1, prof / v - 1
        for k in (kind, "all"):
            s = stats.setdefault(k, [0, 0.0, 0.0, 0.0, 0.0, 0])
            s[0] += 1
            s[1] += abs(ec)
            s[2] = max(s[2], abs(ec))
            s[3] += abs(ep)
            s[4] = max(s[4], abs(ep))
            s[5] += abs(ep) > 0.10
        worst.append((abs(ep), kind, len(dec), sum(dec) // max(len(dec), 1), pre[:4], v, prof))
    print("%-14s %6s  %-22s %-22s %s" % ("kind", "n", "curves mean / max", "profile mean / max",
                                         "profile > 10 %"))
    for k in ["decode", "decode-ragged", "prefill", "prefill-multi", "mixed", "workload-prompt",
              "all"]:
        n, sc, mc, sp, mp, over = stats[k]
        print("%-14s %6d  %6.1f %% / %6.1f %%     %6.1f %% / %6.1f %%    %5.1f %%" %
              (k, n, 100 * sc / n, 100 * mc, 100 * sp / n, 100 * mp, 100 * over / n))
    if check:
        bad = []
        n, _, _, sp, mp, _ = stats["all"]
        if sp / n > 0.05 or mp > 0.15:
            bad.append("all batches: mean %.1f %%, max %.1f %%" % (100 * sp / n, 100 * mp))
        for k in ("decode", "decode-ragged"):
            if stats[k][4] > 0.105:
                bad.append("%s: max %.1f %%" % (k, 100 * stats[k][4]))
        if bad:
            print("FAIL: beyond the stated error: " + "; ".join(bad))
            sys.exit(1)
    worst.sort(reverse=True)
    print("worst batches (profile): err kind n_dec mean_ctx prompts vidur_ms ours_ms")
    for w in worst[:8]:
        print("  %5.1f %% %-13s %3d %5d %-22s %8.3f %8.3f" %
              (100 * w[0], w[1], w[2], w[3], w[4], 1e3 * w[5], 1e3 * w[6]))


if __name__ == "__main__":
    main()
