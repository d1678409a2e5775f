#!/usr/bin/env python3
"""Paper reproduction report (issue 14): runs the papers' experiments, extracts lensim's figure
for each claim of docs/claims.json, and generates docs/REPRODUCTION.md and docs/figures/.

  tools/reproduce.py run    --lensim BIN --out DIR [-j N]   run every experiment claims.json lists
  tools/reproduce.py report --results DIR [--docs docs]     extract, write the data file, figures
                                                             and REPRODUCTION.md
  tools/reproduce.py check  [--docs docs]                   the document is up to date: re-render
                                                             it from its data file and compare, and
                                                             compare the recorded input hashes

The document is rendered only from docs/reproduction-data.json (the figures lensim produced, with
the hashes of every input they came from) and docs/claims.json (the papers' claims, bands and
paragraphs), so `check` needs no experiment run: it fails when the document was edited by hand,
when claims.json, this script or an experiment file changed after the last `make reproduce`.

Intervals: each run of an experiment may have several seeds (the experiment's `seeds:` key,
results_seeds.csv); a headline is computed per seed exactly as the paper computes it (so ratios
are paired within a seed), then its mean and a 95 % Student-t interval over the seeds (t quantiles
from the table below; tests/reproduce_check.py checks them by integrating the t density). With one
seed the interval is not stated.
"""
import argparse
import csv
import hashlib
import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# t_{0.975, df} for df = 1..30 (two-sided 95 %); beyond 30 the normal quantile is within 2 %.
T975 = [12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004,
        2.262157, 2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905,
        2.109816, 2.100922, 2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899,
        2.059539, 2.055529, 2.051831, 2.048407, 2.045230, 2.042272]


def t975(df):
    return T975[df - 1] if df <= len(T975) else 1.959964


def mean_ci(xs):
    """(mean, half-width of the 95 % t interval or None for one value)."""
    n = len(xs)
    m = sum(xs) / n
    if n < 2:
        return m, None
    s = math.sqrt(sum((x - m) ** 2 for x in xs) / (n - 1))
    return m, t975(n - 1) * s / math.sqrt(n)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def load_claims(docs):
    with open(os.path.join(docs, "claims.json")) as f:
        return json.load(f)


def inputs_of(claims, docs):
    """Every file the document depends on, relative to the repository root."""
    files = [os.path.relpath(os.path.join(docs, "claims.json"), ROOT),
             os.path.relpath(os.path.abspath(__file__), ROOT)]
    files += ["experiments/%s.yaml" % e for e in claims["experiments"]]
    return files


# ---- per-seed rows ----

def seed_tables(expdir):
    """List of per-seed row lists of an experiment's results: results_seeds.csv (one row per run
    and seed, written when the experiment has `seeds:` > 1) grouped by seed, else results.csv as
    the one seed. Every run must be ok in every seed."""
    path = os.path.join(expdir, "results_seeds.csv")
    if not os.path.exists(path):
        path = os.path.join(expdir, "results.csv")
    with open(path) as f:
        rows = list(csv.DictReader(f))
    bad = sorted({r["run"] for r in rows if r.get("status", "ok") != "ok"})
    if bad:
        raise SystemExit("reproduce: %s: runs not ok: %s" % (path, ", ".join(bad)))
    by = {}
    for r in rows:
        by.setdefault(int(r["seed"]), []).append(r)
    tables = [by[k] for k in sorted(by)]
    runs = [sorted(r["run"] for r in t) for t in tables]
    if any(x != runs[0] for x in runs):
        raise SystemExit("reproduce: %s: the seeds do not hold the same runs" % path)
    return tables


# ---- extractors: one per claim kind; each returns rows of (label, [per-seed values]) ----

def ssjf_aggregate(rows, xcol):
    """batching -> policy -> (mean JCT, thr@25 %, N/makespan) averaged over every other x, as
    auto_eval_barplot.py does (PAPERS.md 2.5)."""
    by = {}
    for r in rows:
        by.setdefault(r["batching"], {}).setdefault(r["policy"], {})[float(r[xcol])] = r
    out = {}
    for b, pol in by.items():
        xs = sorted(pol["fcfs"].keys())[::2]
        out[b] = {}
        for p, byx in pol.items():
            sel = [byx[x] for x in xs]
            out[b][p] = tuple(sum(float(r[k]) for r in sel) / len(sel)
                              for k in ("mean_e2el_ms", "ssjf_throughput", "request_throughput"))
    return out


BATCHING = ("none", "dynamic", "continuous")


def ssjf_metric(agg, b, p, metric):
    f, q = agg[b]["fcfs"], agg[b][p]
    if metric == "jct_reduction_pct":
        return 100.0 * (q[0] - f[0]) / f[0]
    if metric == "thr25_ratio":
        return q[1] / f[1]
    if metric == "nmk_ratio":
        return q[2] / f[2]
    raise SystemExit("reproduce: unknown metric " + metric)


def ex_ssjf_headline(c, res):
    tabs = seed_tables(os.path.join(res, c["experiment"]))
    aggs = [ssjf_aggregate(t, c["x"]) for t in tabs]
    out = []
    for b in BATCHING:
        if b in aggs[0]:
            out.append(("%s batching" % b, [ssjf_metric(a, b, c["policy"], c["metric"])
                                            for a in aggs]))
    return out


def ex_ssjf_order(c, res):
    cache = {}
    for e in set(c["experiments"].values()):
        cache[e] = [ssjf_aggregate(t, c["x"]) for t in seed_tables(os.path.join(res, e))]
    out = []
    for b in BATCHING:
        vals = {}
        for label, e in c["experiments"].items():
            pol = label.split("-")[0]
            vals[label] = [a[b][pol][0] / 1000.0 for a in cache[e]]
        out.append((b, vals))
    return out


def run_table(res, exp):
    """run name -> list of per-seed rows."""
    tabs = seed_tables(os.path.join(res, exp))
    out = {}
    for t in tabs:
        for r in t:
            out.setdefault(r["run"], []).append(r)
    return out


def ex_best_ratio(c, res):
    runs = run_table(res, c["experiment"])
    out = []
    for name, rs in runs.items():
        if not name.startswith(c["numerator"] + "_"):
            continue
        key = name[len(c["numerator"]) + 1:]
        den = runs[c["denominator"] + "_" + key]
        out.append((rs[0][c["over"]], [float(a[c["metric"]]) / float(d[c["metric"]])
                                        for a, d in zip(rs, den)]))
    return out


def ex_peak_ratio(c, res):
    runs = run_table(res, c["experiment"])
    nseeds = len(next(iter(runs.values())))

    def peak(prefix, i):
        return max(float(rs[i][c["metric"]]) for n, rs in runs.items()
                   if n.startswith(prefix + "_"))
    return [("peak over the rate sweep",
             [peak(c["numerator"], i) / peak(c["denominator"], i) for i in range(nseeds)])]


def sensitivity():
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    sys.dont_write_bytecode = True
    import s3_sensitivity
    return s3_sensitivity


def ex_grid_best(c, res):
    """Per model, S3 / ORCA at the grid point of experiments/s3-sensitivity.yaml where it is
    largest (tools/s3_sensitivity.py reads the grid), labelled with that point's conditions."""
    S = sensitivity()
    pts, mu_out = S.load(os.path.join(res, c["experiment"]))
    out = []
    for m in S.models_of(pts):
        best = max((k for k in pts if k[0] == m), key=lambda k: S.ratios(pts[k])[c["which"]])
        _, pmu, sig, ov = best
        out.append(("%s, at prompt median %.0f tokens, %.1f %% of outputs beyond the first "
                    "bucket, +%g ms per iteration" % (m, math.exp(pmu),
                                                      100 * S.share_beyond(mu_out, sig), ov),
                    [S.ratios(pts[best])[c["which"]]]))
    return out


EXTRACT = {"ssjf_headline": ex_ssjf_headline, "ssjf_order": ex_ssjf_order,
           "best_ratio": ex_best_ratio, "peak_ratio": ex_peak_ratio, "grid_best": ex_grid_best}


def summarise(vals):
    m, h = mean_ci(vals)
    return {"mean": m, "ci95": h, "seeds": len(vals)}


def extract(claims, res):
    data = {}
    for p in claims["papers"]:
        for c in p["claims"]:
            rows = EXTRACT[c["kind"]](c, res)
            if c["kind"] == "ssjf_order":
                data[c["id"]] = [{"label": b, "values": {k: summarise(v) for k, v in vals.items()}}
                                 for b, vals in rows]
            else:
                data[c["id"]] = [{"label": l, **summarise(v)} for l, v in rows]
            if "also_metric" in c:
                rows = EXTRACT[c["kind"]](dict(c, metric=c["also_metric"]), res)
                data[c["id"] + "/also"] = [{"label": l, **summarise(v)} for l, v in rows]
    return data


def figure_data(claims, res):
    """Series for the figures (not rendered in the text; kept so figures can be redrawn)."""
    fig = {}
    if "s3-offline" in claims["experiments"]:
        runs = run_table(res, "s3-offline")
        models = []
        for n, rs in runs.items():
            if n.startswith("orca_"):
                models.append(rs[0]["model"])
        series = {}
        for name in ("s3", "s3-perfect", "oracle", "vllm"):
            series[name] = []
            for m in models:
                k = "%s_model-%s" % (name, m)
                if k in runs:
                    v = [float(a["request_throughput"]) / float(d["request_throughput"])
                         for a, d in zip(runs[k], runs["orca_model-" + m])]
                    series[name].append({"model": m, **summarise(v)})
        fig["s3_offline"] = series
    if "s3-online" in claims["experiments"]:
        runs = run_table(res, "s3-online")
        series = {}
        for n, rs in sorted(runs.items(), key=lambda kv: (kv[0].split("_")[0],
                                                          float(kv[1][0]["rate"]))):
            series.setdefault(n.split("_")[0], []).append(
                {"rate": float(rs[0]["rate"]),
                 **summarise([float(r["request_goodput"]) for r in rs])})
        fig["s3_online"] = series
    return fig


# ---- rendering (pure: data + claims -> text) ----

def fmt(v, metric):
    if metric == "jct_reduction_pct":
        return "%+.1f %%" % v
    return "%.2f×" % v if metric != "seconds" else "%.2f s" % v


def fmt_ci(e, metric):
    s = fmt(e["mean"], metric)
    if e["ci95"] is not None:
        s += " ± " + (("%.1f" % e["ci95"]) if metric == "jct_reduction_pct" else
                      ("%.2f" % e["ci95"]))
    return s


def verdict(e, band):
    lo, hi = band
    m, h = e["mean"], e["ci95"] or 0.0
    if lo <= m <= hi:
        return "inside"
    if m + h >= lo and m - h <= hi:
        return "outside; interval overlaps"
    return "outside (below)" if m < lo else "outside (above)"


def band_text(c):
    lo, hi = c["band"]
    m = c.get("metric", "")
    t = ("%+.1f … %+.1f %%" % (lo, hi)) if m == "jct_reduction_pct" else ("%.2f … %.2f×" % (lo, hi))
    return t


def render(claims, data):
    L = []
    a = L.append
    a("# Paper reproduction report")
    a("")
    a("<!-- Generated by `make reproduce` (tools/reproduce.py) from docs/claims.json and")
    a("     docs/reproduction-data.json. Do not edit: a test checks it is up to date. -->")
    a("")
    a("Each claim of the papers lensim reproduces, lensim's figure with its 95 % interval over "
      "seeds, and the verdict against the band stated beside the claim. A verdict is *inside* "
      "when lensim's mean lies in the band; *interval overlaps* when only the interval reaches "
      "it.")
    a("")
    meta = data["meta"]
    a("Generated with `%s` from the experiments %s; results of one run of each, %s."
      % (meta["lensim"], ", ".join("`experiments/%s.yaml`" % e for e in claims["experiments"]),
         meta["seeds_text"]))
    a("")
    for p in claims["papers"]:
        a("## " + p["title"])
        a("")
        a(p["source"])
        a("")
        a("| claim | paper | setting | lensim | verdict |")
        a("|---|---|---|---|---|")
        for c in p["claims"]:
            d = data["claims"][c["id"]]
            if c["kind"] == "ssjf_order":
                for e in d:
                    vals = e["values"]
                    order = sorted(vals, key=lambda k: vals[k]["mean"])
                    want = list(c["experiments"].keys())
                    txt = " < ".join("%s %.1f s" % (k, vals[k]["mean"]) for k in order)
                    a("| %s | %s | %s, %s batching | %s | %s |"
                      % (c["id"], c["quote"], c["setting"], e["label"], txt,
                         "as expected" if order == want else "differs"))
                continue
            also = data["claims"].get(c["id"] + "/also", [])
            for i, e in enumerate(d):
                cell = fmt_ci(e, c["metric"])
                if i < len(also):
                    cell += " (%s: %s)" % (c["also_label"], fmt_ci(also[i], c["also_metric"]))
                a("| %s | %s | %s; %s | %s | %s |"
                  % (c["id"], band_text(c), c["setting"], e["label"], cell,
                     verdict(e, c["band"])))
        a("")
        a("### Why")
        a("")
        for c in p["claims"]:
            note = (" Band: " + c["band_note"] + ".") if "band_note" in c else ""
            a("- **%s** (%s).%s %s" % (c["id"], c["quote"], note, c["why"]))
        a("")
        a("### The paper's settings")
        a("")
        for s in p["paper_settings"]:
            a("- " + s)
        a("")
        a("### lensim's assumptions")
        a("")
        for s in p["lensim_assumptions"]:
            a("- " + s)
        a("")
        for f in data["figures"].get(p["id"], []):
            a("![%s](figures/%s)" % (f["alt"], f["file"]))
            a("")
    a("## Inputs")
    a("")
    a("| file | sha256 |")
    a("|---|---|")
    for f, h in sorted(data["inputs"].items()):
        a("| `%s` | `%s` |" % (f, h[:16]))
    a("")
    return "\n".join(L)


# ---- figures (gnuplot, SVG) ----

def gnuplot(script, cwd):
    r = subprocess.run(["gnuplot"], input=script, text=True, cwd=cwd, capture_output=True)
    if r.returncode != 0:
        raise SystemExit("reproduce: gnuplot failed:\n" + r.stderr)


def draw(claims, data, fig, docs):
    figdir = os.path.join(docs, "figures")
    os.makedirs(figdir, exist_ok=True)
    out = {}
    # SSJF: JCT reduction and throughput ratio per batching mode, with the paper's band.
    ssjf = [c for p in claims["papers"] if p["id"] == "ssjf" for c in p["claims"]
            if c["kind"] == "ssjf_headline"]
    if ssjf:
        dat = os.path.join(figdir, "ssjf.dat")
        with open(dat, "w") as f:
            for i, c in enumerate(ssjf):
                f.write("# %s %s %s\n" % (c["id"], c["experiment"], c["metric"]))
                for j, e in enumerate(data["claims"][c["id"]]):
                    f.write("%d %.6g %.6g\n" % (j, e["mean"], e["ci95"] or 0.0))
                f.write("\n\n")
        sc = ["set terminal svg size 900,380 font 'Sans,11' background rgb 'white'",
              "set termoption noenhanced", "set output 'ssjf.svg'", "set multiplot layout 1,2",
              "set xtics ('none' 0, 'dynamic' 1, 'continuous' 2)", "set xrange [-0.5:2.5]",
              "set key bottom left", "set grid y"]
        for k, (metric, title, band) in enumerate(
                (("jct_reduction_pct", "mean JCT vs FCFS (%)", (-39.6, -30.5)),
                 ("thr25_ratio", "throughput@25% vs FCFS (x)", (2.2, 3.6)))):
            idx = [(i, c) for i, c in enumerate(ssjf) if c["metric"] == metric]
            sc.append("set title '%s'" % title)
            ys = [v for _, c in idx for e in data["claims"][c["id"]]
                  for v in (e["mean"] - (e["ci95"] or 0), e["mean"] + (e["ci95"] or 0))]
            lo, hi = min(ys + list(band)), max(ys + list(band))
            sc.append("set yrange [%g:%g]" % (lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo)))
            sc.append("set object 1 rect from -0.5,%g to 2.5,%g fc rgb '#dddddd' fs solid "
                      "noborder behind" % band)
            plots = ["'ssjf.dat' index %d using ($1+%g):2:3 with yerrorbars pt %d ps 1.2 title '%s'"
                     % (i, 0.1 * n - 0.05, 5 + 2 * n, c["experiment"]) for n, (i, c) in
                     enumerate(idx)]
            sc.append("plot " + ", ".join(plots))
        sc.append("unset multiplot")
        gnuplot("\n".join(sc) + "\n", figdir)
        out["ssjf"] = [{"file": "ssjf.svg", "alt": "SSJF against FCFS per batching mode, with "
                        "the paper's band shaded"}]
    if "s3_offline" in fig:
        dat = os.path.join(figdir, "s3.dat")
        names = list(fig["s3_offline"].keys())
        with open(dat, "w") as f:
            for n in names:
                f.write("# offline %s / orca\n" % n)
                for j, e in enumerate(fig["s3_offline"][n]):
                    f.write("%d %.6g %.6g %s\n" % (j, e["mean"], e["ci95"] or 0.0, e["model"]))
                f.write("\n\n")
            for n, pts in fig.get("s3_online", {}).items():
                f.write("# online %s\n" % n)
                for e in pts:
                    f.write("%g %.6g %.6g\n" % (e["rate"], e["mean"], e["ci95"] or 0.0))
                f.write("\n\n")
        sc = ["set terminal svg size 900,380 font 'Sans,11' background rgb 'white'",
              "set termoption noenhanced", "set output 's3.svg'", "set multiplot layout 1,2", "set grid y",
              "set title 'offline throughput / ORCA max reservation'", "set key top left",
              "set xrange [-0.5:%g]" % (len(fig["s3_offline"][names[0]]) - 0.5),
              "set yrange [0:8]", "set arrow 1 from -0.5,6.49 to %g,6.49 nohead dt 2"
              % (len(fig["s3_offline"][names[0]]) - 0.5),
              "set label 1 'paper: up to 6.49x' at %g,6.8 right"
              % (len(fig["s3_offline"][names[0]]) - 0.6), "set key top left"]
        sc.append("plot " + ", ".join(
            "'s3.dat' index %d using ($1+%g):2:xtic(4) with linespoints pt %d title '%s'"
            % (i, 0.0, 5 + 2 * i, n) for i, n in enumerate(names)))
        if "s3_online" in fig:
            sc += ["unset arrow 1", "unset label 1", "set autoscale", "set yrange [0:*]",
                   "set xtics auto", "set title 'online goodput (req/s within the SLO)'",
                   "set xlabel 'arrival rate (req/s)'"]
            k0 = len(names)
            sc.append("plot " + ", ".join(
                "'s3.dat' index %d using 1:2 with linespoints pt %d title '%s'"
                % (k0 + i, 5 + 2 * i, n) for i, n in enumerate(fig["s3_online"])))
        sc.append("unset multiplot")
        gnuplot("\n".join(sc) + "\n", figdir)
        out["s3"] = [{"file": "s3.svg", "alt": "S3 offline ratios per model and online goodput"}]
    return out


# ---- commands ----

def cmd_run(a):
    claims = load_claims(a.docs)
    for e in claims["experiments"]:
        cmd = [a.lensim, "run", os.path.join(ROOT, "experiments", e + ".yaml"), "-o",
               os.path.join(a.out, e), "--force", "-j", str(a.j)]
        print("reproduce: " + " ".join(cmd), flush=True)
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL)
        if r.returncode < 0:  # killed by a signal: say so, and end as the shell would report it
            print("reproduce: %s: lensim stopped by signal %d" % (e, -r.returncode),
                  file=sys.stderr)
            sys.exit(128 - r.returncode)
        if r.returncode != 0:
            raise SystemExit("reproduce: %s failed (exit %d)" % (e, r.returncode))


def version(lensim):
    r = subprocess.run([lensim, "--version"], capture_output=True, text=True)
    return r.stdout.strip()


def replace_file(path, text):
    """Write text to path through a temporary file beside it, renamed into place when whole."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def cmd_report(a):
    claims = load_claims(a.docs)
    data = {"meta": {}, "claims": extract(claims, a.results)}
    seeds = sorted({e["seeds"] for v in data["claims"].values() for e in v if "seeds" in e} |
                   {x["seeds"] for v in data["claims"].values() for e in v if "values" in e
                    for x in e["values"].values()})
    data["meta"]["lensim"] = version(a.lensim)
    data["meta"]["seeds_text"] = ("%s seed%s per run" % ("/".join(map(str, seeds)),
                                                         "" if seeds == [1] else "s"))
    fig = figure_data(claims, a.results)
    data["figure_series"] = fig
    data["figures"] = draw(claims, data, fig, a.docs)
    if "s3-sensitivity" in claims["experiments"]:
        S = sensitivity()
        pts, mu_out = S.load(os.path.join(a.results, "s3-sensitivity"))
        with open(os.devnull, "w") as null:
            old, sys.stdout = sys.stdout, null
            try:
                S.figure(pts, mu_out, os.path.join(a.docs, "figures", "s3-sensitivity.png"))
            finally:
                sys.stdout = old
        data["figures"].setdefault("s3", []).append(
            {"file": "s3-sensitivity.png", "alt": "S3 / ORCA against prompt length, the share "
             "of outputs beyond the first bucket, model size and iteration overhead"})
    data["inputs"] = {f: sha256(os.path.join(ROOT, f)) for f in inputs_of(claims, a.docs)}
    # Render first, then replace both files whole: a failure leaves the old pair, never a
    # truncated document or a data file the document does not match.
    text = render(claims, data)
    replace_file(os.path.join(a.docs, "reproduction-data.json"),
                 json.dumps(data, indent=1, sort_keys=True) + "\n")
    replace_file(os.path.join(a.docs, "REPRODUCTION.md"), text)
    print("reproduce: wrote %s" % os.path.join(a.docs, "REPRODUCTION.md"))


def cmd_check(a):
    claims = load_claims(a.docs)
    with open(os.path.join(a.docs, "reproduction-data.json")) as f:
        data = json.load(f)
    bad = 0
    now = {f: sha256(os.path.join(ROOT, f)) for f in inputs_of(claims, a.docs)}
    for f in sorted(set(now) | set(data["inputs"])):
        if now.get(f) != data["inputs"].get(f):
            print("reproduce check: %s changed since the report was generated" % f)
            bad = 1
    for p in claims["papers"]:
        for c in p["claims"]:
            if c["id"] not in data["claims"]:
                print("reproduce check: claim %s has no figure in the data file" % c["id"])
                bad = 1
    for figs in data["figures"].values():
        for fg in figs:
            if not os.path.exists(os.path.join(a.docs, "figures", fg["file"])):
                print("reproduce check: figure %s is missing" % fg["file"])
                bad = 1
    if not bad:
        with open(os.path.join(a.docs, "REPRODUCTION.md")) as f:
            have = f.read()
        if have != render(claims, data):
            print("reproduce check: docs/REPRODUCTION.md differs from what its data renders to "
                  "(edited by hand?)")
            bad = 1
    if bad:
        print("reproduce check: run `make reproduce` to regenerate the report")
        return 1
    print("reproduce check: docs/REPRODUCTION.md is up to date")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--lensim", default=os.path.join(ROOT, "build", "lensim"))
    r.add_argument("--out", default=os.path.join(ROOT, "results", "reproduce"))
    r.add_argument("-j", type=int, default=2)
    r.add_argument("--docs", default=os.path.join(ROOT, "docs"))
    g = sub.add_parser("report")
    g.add_argument("--results", default=os.path.join(ROOT, "results", "reproduce"))
    g.add_argument("--lensim", default=os.path.join(ROOT, "build", "lensim"))
    g.add_argument("--docs", default=os.path.join(ROOT, "docs"))
    c = sub.add_parser("check")
    c.add_argument("--docs", default=os.path.join(ROOT, "docs"))
    a = ap.parse_args()
    a.docs = os.path.abspath(a.docs)
    # Bad input (a missing file or lensim, a malformed claims.json or results file) is one line
    # and exit 2, as lensim's own invalid input is; Ctrl-C is 130. Never a traceback.
    try:
        if a.cmd == "run":
            cmd_run(a)
        elif a.cmd == "report":
            cmd_report(a)
        else:
            sys.exit(cmd_check(a))
    except KeyboardInterrupt:
        print("reproduce: interrupted", file=sys.stderr)
        sys.exit(130)
    except OSError as e:
        where = e.filename if e.filename is not None else ""
        print("reproduce: %s%s%s" % (where, ": " if where else "", e.strerror or e),
              file=sys.stderr)
        sys.exit(2)
    except (ValueError, KeyError, IndexError) as e:
        print("reproduce: %s: %r" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
