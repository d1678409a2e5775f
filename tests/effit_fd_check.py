#!/usr/bin/env python3
"""effit's scan of the Vidur profiles and its other commands (issue 17, helper mut-io).

Usage: effit_fd_check.py EFFIT VIDUR_DIR

`effit fit VIDUR a100-80gb a100` walks profiling/compute/a100/<organisation>/<model>/mlp.csv
(calib/effit_main.c, load_mlp), once for the shared fit and once per model. Checked:
  1. under a limit of 6 open descriptors (stdin, stdout, stderr and 3 to spare: the scan holds
     the device's folder and one organisation's at a time, then reads one file at a time) it
     still succeeds, and prints one residual line per model directory that Python finds under
     compute/a100/*/ (the line names a prefix of the directory's name, e.g. Llama-2-7b for
     Llama-2-7b-hf), whose GEMM and elementwise point counts add up to the shared fits' n (the
     shared fit is over the union of the models' rows). A scan that leaks one descriptor per
     organisation (a closedir removed: a surviving mutant) cannot open the third organisation's
     folder under this limit;
  2. under a limit of 4 (no descriptor to spare for an organisation's folder) it fails with
     exit status 1 and names the folder it could not open, instead of fitting on the models it
     could read;
  3. `effit check VIDUR a100-80gb a100` (the A100 curves on the A100's own profiles) reports the
     point counts and residuals calib/analytic.c quotes for the A100 fit (GEMMs 36,516, 6.4 /
     50.7 %; elementwise 45,384, 11.9 / 98.6 %; all-reduce 36 size bins, 5.2 / 21.8 %), and its five CodeLlama-34B TP2 iterations, named by their label,
     are the times `effit time codellama-34b a100-80gb 2` gives for those batches written out
     by hand (decode_seqs decode_ctx prefill_tok prefill_sq: "1 decode at 1024" = 1 1024 0 0,
     "32 decodes at 1024" = 32 32768 0 0, "128 decodes at 1024" = 128 131072 0 0, "one
     512-token prompt" = 0 0 512 262144, "one 4096-token prompt" = 0 0 4096 16777216), in ms
     at 2 decimals;
  4. a command with too few arguments (`check VIDUR`, `time MODEL GPU`) prints the usage and
     exits 1.
"""
import os
import re
import resource
import subprocess
import sys

failed = 0


def check(ok, what):
    global failed
    if not ok:
        failed += 1
        print("FAIL " + what)


def run_limited(cmd, nofile):
    def lower():
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    return subprocess.run(cmd, capture_output=True, text=True, preexec_fn=lower, close_fds=True)


def main():
    effit, vidur = sys.argv[1:3]
    base = os.path.join(vidur, "profiling", "compute", "a100")
    if not os.path.isdir(base):
        print(f"SKIP: no Vidur profiles in {vidur} (../shared/data/vidur)")
        return 77
    models = sorted(m.name for org in os.scandir(base) if org.is_dir() and org.name[0] != "."
                    for m in os.scandir(org.path) if m.name[0] != ".")
    cmd = [effit, "fit", vidur, "a100-80gb", "a100"]

    p = run_limited(cmd, 6)
    check(p.returncode == 0, f"under 6 descriptors: exit status {p.returncode}: {p.stderr[-300:]}")
    rows = re.findall(r"^  (\S+)\s+GEMMs n=(\d+)\s.*; elementwise n=(\d+)\s", p.stdout, re.M)
    names = [r[0] for r in rows]
    check(len(rows) == len(models) == 8,
          f"under 6 descriptors: {len(rows)} per-model lines {names}, {len(models)} model "
          f"directories {models} (8 shipped)")
    for m in models:
        check(sum(m.startswith(n) for n in names) == 1,
              f"model directory {m}: {sum(m.startswith(n) for n in names)} lines name it")
    for label, col in (("GEMM (all models)", 1), ("elementwise", 2)):
        g = re.search(re.escape(label) + r"\s+n=(\d+)", p.stdout)
        check(g is not None and int(g.group(1)) == sum(int(r[col]) for r in rows),
              f"{label}: n = {g and g.group(1)}, the models' lines add up to "
              f"{sum(int(r[col]) for r in rows)}")

    p = run_limited(cmd, 4)
    check(p.returncode == 1 and re.search(r"^effit: .*: " + re.escape(base) + r"/[^/\n]+$",
                                          p.stderr, re.M) is not None,
          f"under 4 descriptors: exit status {p.returncode}, stderr {p.stderr[-300:]!r}; want 1 "
          f"and the organisation's folder named")
    p = subprocess.run([effit, "check", vidur, "a100-80gb", "a100"], capture_output=True,
                       text=True)
    check(p.returncode == 0, f"effit check: exit status {p.returncode}: {p.stderr[-300:]}")
    # the shipped A100 curves on the A100's own rows: the fit's residuals that calib/analytic.c
    # quotes (GEMMs 6.4 / 50.7 %, elementwise 11.9 / 98.6 %, all-reduce 5.2 / 21.8 %)
    for what, n in (("GEMM curves on a100 as a100-80gb (n=", "36516): mean |rel| 6.4 %, max 50.7 %"),
                    ("elementwise curves on a100 as a100-80gb (n=",
                     "45384): mean |rel| 11.9 %, max 98.6 %"),
                    ("all-reduce curve on a100 as a100-80gb (TP2, n=",
                     "36 bins): mean |rel| 5.2 %, max 21.8 %")):
        check("A100 " + what + n in p.stdout, f"effit check: no `A100 {what}{n}`")
    batches = {"1 decode at 1024": "1 1024 0 0", "32 decodes at 1024": "32 32768 0 0",
               "128 decodes at 1024": "128 131072 0 0", "one 512-token prompt": "0 0 512 262144",
               "one 4096-token prompt": "0 0 4096 16777216"}
    its = dict(re.findall(r"^CodeLlama-34B TP2 on a100-80gb, (.+?)\s+own fit\s+([0-9.]+) ms", p.stdout,
                          re.M))
    check(sorted(its) == sorted(batches), f"effit check: iterations {sorted(its)}")
    t = subprocess.run([effit, "time", "codellama-34b", "a100-80gb", "2"], capture_output=True,
                       text=True, input="".join(b + "\n" for b in batches.values()))
    times = [float(line.split()[0]) for line in t.stdout.splitlines()]
    check(t.returncode == 0 and len(times) == 5, f"effit time: {t.returncode} {t.stdout!r}")
    for (label, _), s_ in zip(batches.items(), times):
        check(its.get(label) == f"{1e3 * s_:.2f}",
              f"effit check, {label}: {its.get(label)} ms; effit time: {1e3 * s_:.2f} ms")

    for args in (["check", vidur], ["time", "codellama-34b", "a100-80gb"]):
        u = subprocess.run([effit] + args, capture_output=True, text=True)
        check(u.returncode == 1 and u.stderr.startswith("usage: effit fit VIDUR_DIR"),
              f"effit {' '.join(args[:1])} with {len(args)} arguments: exit {u.returncode}, "
              f"{u.stderr[-200:]!r}")
    print("ok   effit scans every model and closes each folder" if not failed else
          f"{failed} checks failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
