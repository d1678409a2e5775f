#!/usr/bin/env python3
"""effit reproduces the shipped efficiency constants from the shipped data (issue 17).

Usage: effit_check.py EFFIT ANALYTIC_C VIDUR_DIR

calib/analytic.c says where its constants come from: `build/calib/effit fit
../shared/data/vidur` (cal_eff_a100) and the same on the H100 profiles (cal_eff_h100), over
files it names by sha256, with the residuals it quotes. This test runs that command and checks
  - every field of the printed initializer against the one in calib/analytic.c (both printed
    with 4 significant digits: equal as numbers);
  - the A100 fit's residuals (points, mean and max |relative| error) against the figures quoted
    in calib/analytic.c's comment, written out below;
  - the eight per-model residual lines (points of one model under the shared fit) against the
    shared figures: their n add up, their largest max is the shared max, their n-weighted mean
    is the shared mean, each mean at most its max (a mutant swapping mean and max survived);
  - the H100 fit keeps the A100's attention efficiencies (the H100 has no attention profile:
    "its efficiencies are the A100's").
A mutant of calib/effit_main.c survived the fast suites because nothing ran effit; the
constants would have drifted from their documented provenance unnoticed.
"""
import os
import re
import subprocess
import sys

# calib/analytic.c, the comment above cal_eff_a100: "Residuals (mean / max |relative|): GEMMs
# ... 36,516 points 6.4 / 50.7 %; elementwise (45,384) 11.9 / 98.6 %; all-reduce (TP2, 36
# size-bin medians) 5.2 / 21.8 %; decode attention (10,240) 11.0 / 72.4 %; prefill attention
# (84 whole-prompt rows) 3.5 / 19.0 %".
A100_RESIDUALS = {
    "GEMM (all models)": (36516, 6.4, 50.7),
    "elementwise": (45384, 11.9, 98.6),
    "all-reduce (NVLink)": (36, 5.2, 21.8),
    "decode attention": (10240, 11.0, 72.4),
    "prefill attention": (84, 3.5, 19.0),
}
ATTENTION = ("dec_tau_s", "dec_bw_eff", "pre_tau_s", "pre_fl_eff", "pre_c0")

failed = 0


def check(ok, what):
    global failed
    if not ok:
        failed += 1
        print("FAIL " + what)


def initializer(text, dev):
    """The fields of `const struct cal_eff cal_eff_DEV = { .f = v, ... };` in text."""
    m = re.search(r"const struct cal_eff cal_eff_%s = \{(.*?)\};" % dev, text, re.S)
    if not m:
        return None
    return {k: float(v) for k, v in re.findall(r"\.(\w+)\s*=\s*([-+0-9.eE]+)", m.group(1))}


def main():
    effit, analytic_c, vidur = sys.argv[1:4]
    if not os.path.isdir(os.path.join(vidur, "profiling")):
        print(f"SKIP: no Vidur profiles in {vidur} (../shared/data/vidur)")
        return 77
    with open(analytic_c) as f:
        shipped = f.read()
    fits = {}
    for gpu, dev in (("a100-80gb", "a100"), ("h100-80gb", "h100")):
        p = subprocess.run([effit, "fit", vidur, gpu, dev], capture_output=True, text=True)
        check(p.returncode == 0, f"effit fit {gpu} {dev}: exit status {p.returncode}: "
              f"{p.stderr[-500:]}")
        if p.returncode:
            continue
        got, want = initializer(p.stdout, dev), initializer(shipped, dev)
        check(got is not None, f"effit fit {dev} prints no cal_eff_{dev} initializer")
        check(want is not None, f"{analytic_c} has no cal_eff_{dev}")
        if got is None or want is None:
            continue
        check(sorted(got) == sorted(want) and len(got) == 18,
              f"cal_eff_{dev} fields: printed {sorted(got)}, shipped {sorted(want)}")
        for k in want:
            check(k in got and got[k] == want[k],
                  f"cal_eff_{dev}.{k}: effit prints {got.get(k)}, calib/analytic.c has {want[k]}")
        fits[dev] = (got, p.stdout)
    if "a100" in fits:
        out = fits["a100"][1]
        for name, (n, mean, mx) in A100_RESIDUALS.items():
            m = re.search(re.escape(name) + r"\s+n=(\d+)\s+mean \|rel\|\s+([0-9.]+) %\s+max\s+"
                          r"([0-9.]+) %\s+\(success", out)
            check(m is not None, f"a100 fit: no converged residual line for {name}")
            if m:
                check((int(m.group(1)), float(m.group(2)), float(m.group(3))) == (n, mean, mx),
                      f"a100 {name}: n, mean, max = {m.groups()}, analytic.c quotes "
                      f"{(n, mean, mx)}")
        # The per-model lines (each model's points under the shared fit) are a partition of the
        # shared fit's points: their largest max is the shared max, their n-weighted mean is the
        # shared mean (within the rounding of the printed figures: 0.05 each side), and in each
        # line the mean is at most the max.
        rows = re.findall(r"^  (\S+)\s+GEMMs n=(\d+)\s+mean\s+([0-9.]+) % max\s+([0-9.]+) %; "
                          r"elementwise n=(\d+)\s+mean\s+([0-9.]+) % max\s+([0-9.]+) %$", out, re.M)
        check(len(rows) == 8, f"a100 fit: {len(rows)} per-model residual lines, want 8")
        for k, name in ((1, "GEMM (all models)"), (4, "elementwise")):
            n, mean, mx = A100_RESIDUALS[name]
            ns = [int(r[k]) for r in rows]
            means = [float(r[k + 1]) for r in rows]
            maxes = [float(r[k + 2]) for r in rows]
            if not rows:
                continue
            check(sum(ns) == n, f"a100 {name}: per-model n add up to {sum(ns)}, not {n}")
            check(max(maxes) == mx, f"a100 {name}: per-model max {max(maxes)}, shared max {mx}")
            wmean = sum(a * b for a, b in zip(ns, means)) / sum(ns)
            check(abs(wmean - mean) <= 0.1,
                  f"a100 {name}: per-model means weigh to {wmean:.3f}, shared mean {mean}")
            for r, a, b in zip(rows, means, maxes):
                check(a <= b, f"a100 {name}: {r[0]}: mean {a} above max {b}")
    if "a100" in fits and "h100" in fits:
        for k in ATTENTION:
            check(fits["h100"][0].get(k) == fits["a100"][0].get(k),
                  f"h100 keeps the A100's {k}: {fits['h100'][0].get(k)} vs "
                  f"{fits['a100'][0].get(k)}")
        check("attention: no h100 profile; cal_eff_a100's kept" in fits["h100"][1],
              "effit fit h100 does not say that it keeps the A100's attention")
    print("ok   effit reproduces cal_eff_a100 and cal_eff_h100" if not failed else
          f"{failed} checks failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
