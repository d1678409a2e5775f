#!/usr/bin/env python3
"""effit's scan of the Vidur profiles: every model, each directory closed (issue 17, mut-io).

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
     could read.
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
    print("ok   effit scans every model and closes each folder" if not failed else
          f"{failed} checks failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
