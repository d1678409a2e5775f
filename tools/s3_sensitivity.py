#!/usr/bin/env python3
"""Where S3's 6.49x comes from: summarise experiments/s3-sensitivity.yaml (issue 14).

Reads RESULTS_DIR/results.csv, a grid over model x prompt_mu x output_sigma x
perf.iter_overhead_ms with three runs per point (orca, s3, s3-oracle), and prints the ratios of
offline throughput (request_throughput = completed / makespan) S3 / ORCA and S3-oracle / ORCA:
  1. one factor at a time from the base point (the s3-offline.yaml setting: Alpaca-fitted
     lengths, no iteration overhead), per model;
  2. the points where S3 reaches the paper's 6.49x, and each model's best point with the ratio
     of mean batch sizes (what a perfectly flat latency-vs-batch curve would turn into the
     throughput ratio);
  3. with --all, every point of the grid.
The share of outputs beyond the first bucket is computed from the log-normal:
P(round(X) > e) = 1 - Phi((ln(e + 0.5) - mu) / sigma), X ~ logN(mu, sigma), e the first bucket's
upper edge max_seq_len // buckets (204 for 2048 / 10; sim/pred.c's equal_edges), output_mu, e's
settings read from the runs' manifest.yaml.
With FIG.png, draws the four panels with gnuplot (pngcairo).

Usage: tools/s3_sensitivity.py RESULTS_DIR [FIG.png] [--all]
Exit status: 0, 1 on a missing run or a run with failed requests, 2 on bad usage or input.
"""
import csv
import math
import os
import subprocess
import sys
import tempfile
from collections import defaultdict

PAPER = 6.49
RUNS = ("orca", "s3", "s3-oracle")
KEYS = ("model.name", "workload.prompt_mu", "workload.output_sigma", "perf.iter_overhead_ms")
# Model sizes (parameters, billions) of the presets swept, calib/presets.c.
PARAMS = {"gpt-j-6b": 6.053, "vicuna-13b": 13.016, "gpt-neox-20b": 20.55, "opt-30b": 29.975,
          "llama-2-7b": 6.738, "llama-2-13b": 13.016, "opt-13b": 12.853}


def die(msg, status=2):
    print(f"s3_sensitivity: {msg}", file=sys.stderr)
    sys.exit(status)


def phi(z):
    return 0.5 * math.erfc(-z / math.sqrt(2))


# The first bucket's upper edge, max_seq_len * 1 // buckets (sim/pred.c's equal_edges): set by
# settings() from the runs' manifests.
FIRST_EDGE = None


def share_beyond(mu, sigma):
    """P(round(X) > FIRST_EDGE) for X ~ logN(mu, sigma)."""
    if sigma == 0:
        return 0.0 if math.exp(mu) < FIRST_EDGE + 0.5 else 1.0
    return 1 - phi((math.log(FIRST_EDGE + 0.5) - mu) / sigma)


def settings(d, runs):
    """output_mu and the first bucket edge, the same in every run's manifest.yaml."""
    global FIRST_EDGE
    seen = set()
    for run in runs:
        path = os.path.join(d, run, "manifest.yaml")
        got = {}
        try:
            with open(path) as f:
                for line in f:
                    k, _, v = line.strip().partition(": ")
                    if k in ("output_mu", "max_seq_len", "buckets", "edges", "lengths"):
                        got[k] = v.strip('"')
        except OSError as e:
            die(f"{path}: {e.strerror}")
        if got.get("lengths") != "lognormal" or got.get("edges") or len(got) != 5:
            die(f"{path}: expected log-normal lengths and equal buckets (lengths, output_mu, "
                f"max_seq_len, buckets, edges), got {got}")
        try:
            seen.add((float(got["output_mu"]), int(got["max_seq_len"]) // int(got["buckets"])))
        except ValueError as e:
            die(f"{path}: {e}")
    if len(seen) != 1:
        die(f"{d}: runs differ in output_mu or first bucket edge: {sorted(seen)}")
    mu, FIRST_EDGE = seen.pop()
    return mu


def load(d):
    path = os.path.join(d, "results.csv")
    try:
        f = open(path, newline="")
    except OSError as e:
        die(f"{path}: {e.strerror}")
    with f:
        rd = csv.DictReader(f)
        need = set(KEYS) | {"run", "request_throughput", "failed", "mean_batch_size", "mean_itl_ms"}
        missing = [k for k in sorted(need) if k not in (rd.fieldnames or [])]
        if missing:
            die(f"{path}:1: missing columns {', '.join(missing)} (is it s3-sensitivity's?)")
        pts = defaultdict(dict)
        names = []
        for lineno, r in enumerate(rd, start=2):
            run = r["run"].split("_", 1)[0]
            if run not in RUNS:
                die(f"{path}:{lineno}: run '{r['run']}' is none of {', '.join(RUNS)}")
            try:
                key = (r["model.name"], float(r["workload.prompt_mu"]),
                       float(r["workload.output_sigma"]), float(r["perf.iter_overhead_ms"]))
                thr = float(r["request_throughput"])
                failed = int(r["failed"])
                batch = float(r["mean_batch_size"])
                itl = float(r["mean_itl_ms"]) if r["mean_itl_ms"] else float("nan")
            except ValueError as e:
                die(f"{path}:{lineno}: {e}")
            if run in pts[key]:
                die(f"{path}:{lineno}: run {run} given twice for {key}")
            pts[key][run] = (thr, failed, batch, itl)
            names.append(r["run"])
    bad = 0
    for key, runs in sorted(pts.items()):
        for run in RUNS:
            if run not in runs:
                print(f"s3_sensitivity: {path}: no {run} run at {key}", file=sys.stderr)
                bad = 1
            elif runs[run][1]:
                print(f"s3_sensitivity: {path}: {run} at {key} has {runs[run][1]} failed "
                      "requests", file=sys.stderr)
                bad = 1
    if bad:
        sys.exit(1)
    if not pts:
        die(f"{path}: no runs")
    return pts, settings(d, names)


def ratios(runs):
    o = runs["orca"][0]
    return runs["s3"][0] / o, runs["s3-oracle"][0] / o


def base_of(pts):
    """The base point: the Alpaca fit (prompt_mu 3.2765, output_sigma 1.1945), no overhead, when
    swept; otherwise each factor's first value."""
    vals = [sorted({k[i] for k in pts}) for i in range(1, 4)]
    want = (3.2765, 1.1945, 0.0)
    return tuple(w if w in v else v[0] for w, v in zip(want, vals)), vals


def models_of(pts):
    return sorted({k[0] for k in pts}, key=lambda m: (PARAMS.get(m, 1e9), m))


def report(pts, mu_out, show_all):
    (b_pmu, b_sig, b_ov), (pmus, sigs, ovs) = base_of(pts)
    models = models_of(pts)
    print("S3 / ORCA and S3-oracle / ORCA, offline throughput (completed / makespan)")
    print(f"base point: prompt median {math.exp(b_pmu):.0f} tokens, "
          f"{100 * share_beyond(mu_out, b_sig):.1f} % of outputs beyond the first bucket "
          f"(output_sigma {b_sig}), iter_overhead_ms {b_ov:g}")
    w = max(len(m) for m in models)

    def row(label, key):
        if key not in pts:
            return
        s, o = ratios(pts[key])
        r = pts[key]
        print(f"  {label:<22} {key[0]:<{w}} {s:6.2f}x {o:6.2f}x  {r['orca'][2]:5.0f} "
              f"{r['s3'][2]:5.0f} {r['s3-oracle'][2]:5.0f}  {r['orca'][3]:6.1f} {r['s3'][3]:6.1f}")

    hdr = (f"  {'':<22} {'model':<{w}} {'S3':>7} {'oracle':>7}  {'mean batch':^17}  "
           f"{'mean ITL ms':^13}\n"
           f"  {'':<22} {'':<{w}} {'':>7} {'':>7}  {'orca':>5} {'s3':>5} {'s3-or':>5}  "
           f"{'orca':>6} {'s3':>6}")
    print("\n1. prompt length (median tokens)")
    print(hdr)
    for p in pmus:
        for m in models:
            row(f"prompt {math.exp(p):.0f}", (m, p, b_sig, b_ov))
    print(f"\n2. share of outputs beyond the first bucket (> {FIRST_EDGE} tokens)")
    print(hdr)
    for s in sigs:
        for m in models:
            row(f"{100 * share_beyond(mu_out, s):.1f} % (sigma {s:g})", (m, b_pmu, s, b_ov))
    print("\n3. model size")
    print(hdr)
    for m in models:
        row(f"{PARAMS.get(m, float('nan')):.1f} B parameters", (m, b_pmu, b_sig, b_ov))
    print("\n4. flatness: fixed time added to every iteration")
    print(hdr)
    for ov in ovs:
        for m in models:
            row(f"+{ov:g} ms", (m, b_pmu, b_sig, ov))

    def cond(k):
        return (f"{k[0]:<{w}} prompt {math.exp(k[1]):4.0f}  beyond {100 * share_beyond(mu_out, k[2]):4.1f} %"
                f"  +{k[3]:g} ms")

    reach = sorted((k for k in pts if ratios(pts[k])[0] >= PAPER),
                   key=lambda k: -ratios(pts[k])[0])
    print(f"\n5. points where S3 reaches {PAPER}x ({len(reach)} of {len(pts)})")
    for k in reach:
        s, o = ratios(pts[k])
        print(f"  {cond(k)}   S3 {s:5.2f}x  oracle {o:5.2f}x")
    oreach = [k for k in pts if ratios(pts[k])[1] >= PAPER]
    print(f"   (the S3-ordered oracle reaches it at {len(oreach)} points)")
    print("\n6. each model's best point; 'flat limit': S3's mean batch / ORCA's, the ratio a "
          "perfectly flat latency-vs-batch curve would give")
    for m in models:
        k = max((k for k in pts if k[0] == m), key=lambda k: ratios(pts[k])[0])
        s, o = ratios(pts[k])
        r = pts[k]
        print(f"  {cond(k)}   S3 {s:5.2f}x  oracle {o:5.2f}x  flat limit "
              f"{r['s3'][2] / r['orca'][2]:5.2f}x")
    if show_all:
        print("\n7. every point")
        for k in sorted(pts, key=lambda k: (PARAMS.get(k[0], 1e9), k)):
            s, o = ratios(pts[k])
            print(f"  {cond(k)}   S3 {s:5.2f}x  oracle {o:5.2f}x")


def figure(pts, mu_out, out):
    (b_pmu, b_sig, b_ov), (pmus, sigs, ovs) = base_of(pts)
    models = models_of(pts)
    tmp = tempfile.mkdtemp(prefix="s3sens-")

    def write(name, xs, keyf, xf):
        p = os.path.join(tmp, name)
        with open(p, "w") as f:
            for m in models:
                f.write(f"# {m}\n")
                for x in xs:
                    k = keyf(m, x)
                    if k in pts:
                        s, o = ratios(pts[k])
                        f.write(f"{xf(x)} {s:.6f} {o:.6f}\n")
                f.write("\n\n")
        return p

    fa = write("a", pmus, lambda m, p: (m, p, b_sig, b_ov), lambda p: f"{math.exp(p):.3f}")
    fb = write("b", sigs, lambda m, s: (m, b_pmu, s, b_ov),
               lambda s: f"{100 * share_beyond(mu_out, s):.4f}")
    fd = write("d", ovs, lambda m, ov: (m, b_pmu, b_sig, ov), lambda ov: f"{ov:g}")
    fc = os.path.join(tmp, "c")
    with open(fc, "w") as f:  # one block per overhead, x = model size
        for ov in ovs:
            f.write(f"# +{ov:g} ms\n")
            for m in models:
                k = (m, b_pmu, b_sig, ov)
                if k in pts:
                    s, o = ratios(pts[k])
                    f.write(f"{PARAMS.get(m, float('nan'))} {s:.6f} {o:.6f}\n")
            f.write("\n\n")
    colors = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]

    def plots(path, labels):
        parts = []
        for i, lab in enumerate(labels):
            c = colors[i % len(colors)]
            parts.append(f"'{path}' index {i} using 1:2 with linespoints lw 2 pt 7 lc rgb '{c}' "
                         f"title '{lab} S3'")
            parts.append(f"'{path}' index {i} using 1:3 with linespoints lw 1 dt 2 pt 6 "
                         f"lc rgb '{c}' title '{lab} oracle'")
        parts.append(f"{PAPER} with lines lc rgb 'black' dt 3 title '6.49x (paper)'")
        return ", \\\n    ".join(parts)

    base = (f"prompt {math.exp(b_pmu):.0f}, {100 * share_beyond(mu_out, b_sig):.1f} % beyond, "
            f"+{b_ov:g} ms")
    gp = f"""set terminal pngcairo size 1400,1000 font ',10'
set output '{out}'
set multiplot layout 2,2 title 'S3 / ORCA offline throughput (solid: S3; dashed: S3-ordered oracle); others at {base}'
set grid
set key font ',8' opaque
set ylabel 'throughput ratio over ORCA'
set yrange [0:*]
set logscale x
set xlabel 'prompt median (tokens)'
set title '(a) prompt length'
set key top right
plot {plots(fa, models)}
unset logscale x
set xlabel 'outputs beyond the first bucket (%)'
set title '(b) share beyond the first bucket ({FIRST_EDGE} tokens)'
set xrange [-1:*]
plot {plots(fb, models)}
set xlabel 'model size (billions of parameters)'
set title '(c) model size (one line per iteration overhead)'
set xrange [*:*]
set key bottom right
plot {plots(fc, [f'+{ov:g} ms' for ov in ovs])}
set xlabel 'fixed time added to every iteration (ms)'
set title '(d) flatness of the latency-vs-batch curve'
plot {plots(fd, models)}
unset multiplot
"""
    gpf = os.path.join(tmp, "fig.gp")
    with open(gpf, "w") as f:
        f.write(gp)
    r = subprocess.run(["gnuplot", gpf], capture_output=True, text=True)
    if r.returncode:
        die(f"gnuplot failed ({gpf}): {r.stderr.strip()}", 1)
    for n in ("a", "b", "c", "d", "fig.gp"):
        os.remove(os.path.join(tmp, n))
    os.rmdir(tmp)
    print(f"\nfigure: {out}")


def main(argv):
    args = [a for a in argv if a != "--all"]
    if len(args) not in (1, 2) or any(a.startswith("-") for a in args):
        die("usage: tools/s3_sensitivity.py RESULTS_DIR [FIG.png] [--all]")
    pts, mu_out = load(args[0])
    report(pts, mu_out, "--all" in argv)
    if len(args) == 2:
        figure(pts, mu_out, args[1])


if __name__ == "__main__":
    main(sys.argv[1:])
