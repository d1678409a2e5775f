#!/usr/bin/env python3
"""Mutation testing of lensim's simulator code (issue 17): how many plausible one-line bugs does
the fast test suite notice?

The mutants come from universalmutator (pip install universalmutator; its C rules, regexp based:
https://github.com/agroce/universalmutator), generated for every .c file under sim/, calib/,
traces/ and engine/. A seeded random sample of N of them is built and tested, one at a time, in
a scratch copy of the tree (BUILD/mutation/src, its own build directory), so the working tree is
never touched. For each mutant:
  - it does not compile:             "invalid", left out of the score;
  - it is listed in equivalent.txt:  "equivalent" (no behaviour change), left out of the score;
  - a fast test fails or times out:  "killed";
  - every fast test passes:          "survived", printed with its diff.
Score = killed / (killed + survived).

The fast tests are the meson suites given by --suites (default: unit) less the slow calibration
suite (--no-suites, default: calib), run with --maxfail 1 so a killed mutant stops at its first
failing test. --compare-without T1,T2 first runs the suite without those tests, then the rest
when the mutant survived: one pass gives the score before and after those tests were added.

Usage: tests/mutation/mutation.py [--n 200] [--seed 17] [--build build] [--jobs 2]
"""
import argparse
import difflib
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

FOLDERS = ("sim", "calib", "traces", "engine")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def sh(cmd, cwd=None, timeout=None, quiet=True):
    """Run cmd; return (status, output). A timeout is status None. cmd runs in its own process
    group, and a timeout kills the whole group: a mutant that loops forever lives in a test
    program that meson started, which killing meson alone would leave running."""
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
        return p.returncode, out
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, _ = p.communicate()
        return None, out or ""
    except BaseException:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
        raise


def kill_under(folder):
    """SIGKILL every process whose program lies under folder (Linux /proc)."""
    folder = os.path.realpath(folder) + os.sep
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
        except OSError:
            continue
        if exe.removesuffix(" (deleted)").startswith(folder):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass


def sources(root):
    out = []
    for d in FOLDERS:
        for f in sorted(os.listdir(os.path.join(root, d))):
            if f.endswith(".c"):
                out.append(f"{d}/{f}")
    return out


def find_mutate():
    m = shutil.which("mutate")
    if not m:
        local = os.path.expanduser("~/.local/bin/mutate")
        if os.path.exists(local):
            return local
        sys.exit("mutation: universalmutator's `mutate` is not installed: "
                 "python3 -m pip install --user universalmutator")
    return m


def mutants_of(mutate, root, rel):
    """Every mutant of one file as (line number, original line, replacement text)."""
    with open(os.path.join(root, rel)) as f:
        orig = f.read().split("\n")
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, os.path.basename(rel))
        shutil.copy(os.path.join(root, rel), src)
        mdir = os.path.join(tmp, "m")
        os.mkdir(mdir)
        rc, log = sh([mutate, src, "c", "--noCheck", "--mutantDir", mdir], cwd=tmp)
        if rc != 0:
            sys.exit(f"mutation: mutate failed on {rel}:\n{log[-2000:]}")
        for name in os.listdir(mdir):
            with open(os.path.join(mdir, name)) as f:
                mut = f.read().split("\n")
            sm = difflib.SequenceMatcher(None, orig, mut, autojunk=False)
            ops = [op for op in sm.get_opcodes() if op[0] != "equal"]
            if len(ops) != 1:
                continue
            tag, i1, i2, j1, j2 = ops[0]
            if tag == "replace" and i2 - i1 == 1:
                out.append((i1 + 1, orig[i1], "\n".join(mut[j1:j2])))
            elif tag == "insert" and i1 > 0:  # a line added after line i1
                out.append((i1, orig[i1 - 1], "\n".join([orig[i1 - 1]] + mut[j1:j2])))
            elif tag == "delete" and i2 - i1 == 1:
                out.append((i1 + 1, orig[i1], ""))
    return out


def pool_of(root, work):
    """All mutants of the tree, cached by the sources' hash and the tool's version."""
    mutate = find_mutate()
    h = hashlib.sha256()
    rels = sources(root)
    for rel in rels:
        h.update(rel.encode())
        with open(os.path.join(root, rel), "rb") as f:
            h.update(f.read())
    rc, ver = sh([sys.executable, "-m", "pip", "show", "universalmutator"])
    h.update(ver.encode() if rc == 0 else b"?")
    cache = os.path.join(work, f"pool-{h.hexdigest()[:16]}.json")
    if os.path.exists(cache):
        with open(cache) as f:
            return json.load(f)
    pool = []
    t0 = time.time()
    for rel in rels:
        for line, old, new in mutants_of(mutate, root, rel):
            pool.append({"file": rel, "line": line, "old": old, "new": new})
    pool.sort(key=lambda m: (m["file"], m["line"], m["new"]))
    # The same change can come from two rules: keep one.
    uniq, seen = [], set()
    for m in pool:
        k = (m["file"], m["line"], m["new"])
        if k not in seen:
            seen.add(k)
            uniq.append(m)
    with open(cache, "w") as f:
        json.dump(uniq, f)
    print(f"mutation: {len(uniq)} mutants of {len(rels)} files ({time.time() - t0:.0f} s)",
          flush=True)
    return uniq


def load_equivalent(path):
    """equivalent.txt: `file | original line | mutated line | reason`, lines stripped."""
    eq = {}
    if not os.path.exists(path):
        return eq
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = [p.strip() for p in line.rstrip("\n").split(" | ")]
            if len(parts) != 4 or not parts[3]:
                sys.exit(f"{path}:{n}: expected `file | original | mutant | reason`")
            eq[tuple(parts[:3])] = parts[3]
    return eq


def given_mutants(path, src):
    """Mutants named in a file: survivors of an earlier run, or hand-planted bugs."""
    if path.endswith(".json"):
        with open(path) as f:
            return [{k: r[k] for k in ("file", "line", "old", "new")}
                    for r in json.load(f) if r["status"] == "survived"]
    out = []
    with open(path) as f:
        for n, row in enumerate(f, 1):
            if not row.strip() or row.startswith("#"):
                continue
            parts = [p.strip() for p in row.rstrip("\n").split(" | ")]
            if len(parts) != 4:
                sys.exit(f"{path}:{n}: expected `file | original line | mutated line | name`")
            rel, old, new, name = parts
            with open(os.path.join(src, rel)) as g:
                lines = g.read().split("\n")
            hits = [i for i, ln in enumerate(lines) if ln.strip() == old]
            if len(hits) != 1:
                sys.exit(f"{path}:{n}: `{old}` found {len(hits)} times in {rel}")
            indent = lines[hits[0]][:len(lines[hits[0]]) - len(lines[hits[0]].lstrip())]
            out.append({"file": rel, "line": hits[0] + 1, "old": lines[hits[0]],
                        "new": indent + new, "name": name})
    return out


def key_of(m):
    return (m["file"], m["old"].strip(), " ".join(m["new"].split("\n")).strip())


def copy_tree(root, dst):
    rc, out = sh(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root)
    if rc != 0:
        sys.exit("mutation: git ls-files failed: " + out)
    for rel in out.split("\0"):
        if not rel or not os.path.isfile(os.path.join(root, rel)):
            continue
        d = os.path.join(dst, rel)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        s = os.path.join(root, rel)
        if not os.path.exists(d) or open(s, "rb").read() != open(d, "rb").read():
            shutil.copy(s, d)  # a fresh mtime, so that ninja rebuilds what an old mutant left


def diff_of(m):
    new = m["new"].split("\n") if m["new"] else []
    return "\n".join(difflib.unified_diff([m["old"]], new, f"a/{m['file']}:{m['line']}",
                                          f"b/{m['file']}:{m['line']}", lineterm="", n=0))


def on_term(signum, frame):
    raise KeyboardInterrupt  # restore the mutated file, then report what was done


def main():
    signal.signal(signal.SIGTERM, on_term)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=int(os.environ.get("MUTANTS", 200)))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("MUTATION_SEED", 17)))
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--suites", default="unit")
    ap.add_argument("--no-suites", default="calib")
    ap.add_argument("--only", default="", help="comma-separated tests: run just these")
    ap.add_argument("--compare-without", default="",
                    help="comma-separated tests: also score the suite without them")
    ap.add_argument("--equivalent", default=os.path.join(HERE, "equivalent.txt"))
    ap.add_argument("--list", action="store_true", help="print the sample and stop")
    ap.add_argument("--all-failures", action="store_true",
                    help="run every fast test on each mutant and list all that fail")
    ap.add_argument("--mutants", help="test these instead of a sample: a results-*.json of an "
                    "earlier run (its survivors), or a text file of `file | original line | "
                    "mutated line | name` rows (bugs planted by hand)")
    a = ap.parse_args()

    work = os.path.abspath(os.path.join(ROOT, a.build, "mutation"))
    src, bld = os.path.join(work, "src"), os.path.join(work, "build")
    os.makedirs(src, exist_ok=True)
    copy_tree(ROOT, src)
    # A run killed with SIGKILL may have left a mutant's object behind: rebuild that file.
    marker = os.path.join(work, "applied")
    if os.path.exists(marker):
        with open(marker) as f:
            os.utime(os.path.join(src, f.read().strip()))
        os.remove(marker)
    if a.mutants:
        pool = sample = given_mutants(a.mutants, src)
    else:
        pool = pool_of(src, work)
        sample = random.Random(a.seed).sample(pool, min(a.n, len(pool)))
    eq = load_equivalent(a.equivalent)
    if a.list:
        for m in sample:
            print(f"{m['file']}:{m['line']}: {m['new'].strip()}")
        return 0

    if not os.path.exists(os.path.join(bld, "build.ninja")):
        rc, out = sh(["meson", "setup", bld, src, "-Dcuda=disabled"])
        if rc != 0:
            sys.exit("mutation: meson setup failed:\n" + out[-3000:])
    rc, out = sh(["ninja", "-C", bld])
    if rc != 0:
        sys.exit("mutation: the unmutated tree does not build:\n" + out[-3000:])
    suite_args = []
    for s in filter(None, a.suites.split(",")):
        suite_args += ["--suite", s]
    for s in filter(None, a.no_suites.split(",")):
        suite_args += ["--no-suite", s]
    rc, out = sh(["meson", "test", "-C", bld, "--list"] + suite_args)
    names = [ln.split(" / ")[-1].strip() for ln in out.splitlines() if " / " in ln]
    if a.only:
        names = [t for t in names if t in a.only.split(",")]
    later = [t for t in filter(None, a.compare_without.split(",")) if t in names]
    first = [t for t in names if t not in later]

    def run_tests(tests, limit):
        cmd = ["meson", "test", "-C", bld, "--no-rebuild", "--maxfail",
               "0" if a.all_failures else "1",
               "--num-processes", str(a.jobs), "--logbase", "mutation"] + tests
        t0 = time.time()
        rc, out = sh(cmd, timeout=limit)
        if rc is None:  # meson starts each test in a session of its own: killing meson's group
            kill_under(bld)  # leaves a looping mutant running, so find it by its program's path
        failed = [ln.split(" / ")[-1].split()[0] for ln in out.splitlines()
                  if " / " in ln and ("FAIL" in ln or "TIMEOUT" in ln) and "EXPECTEDFAIL" not in ln]
        if a.all_failures:  # name the failing cases too (test.h prints "FAIL case")
            try:
                with open(os.path.join(bld, "meson-logs", "mutation.txt")) as f:
                    cases = [ln[5:].strip() for ln in f if ln.startswith("FAIL ")]
                failed += sorted(set(cases))
            except OSError:
                pass
        return rc, failed, time.time() - t0

    t0 = time.time()
    rc, failed, base_s = run_tests(first + later, 1800)
    if rc != 0:
        sys.exit(f"mutation: the unmutated suite fails ({', '.join(failed) or rc}); fix it first")
    limit = max(60.0, 5 * base_s)
    print(f"mutation: {len(sample)} of {len(pool)} mutants (seed {a.seed}); fast tests: "
          f"{len(names)} ({base_s:.0f} s unmutated, {limit:.0f} s limit)", flush=True)

    res = []
    try:
        test_sample(a, sample, src, bld, eq, first, later, limit, run_tests, res, work)
    except KeyboardInterrupt:
        print(f"mutation: interrupted after {len(res)} of {len(sample)} mutants", flush=True)
    report(res, later, t0, bld)
    return 0


def test_sample(a, sample, src, bld, eq, first, later, limit, run_tests, res, work):
    for i, m in enumerate(sample, 1):
        path = os.path.join(src, m["file"])
        with open(path) as f:
            orig = f.read()
        r = dict(m)
        k = key_of(m)
        if k in eq:
            r["status"], r["why"] = "equivalent", eq[k]
        else:
            lines = orig.split("\n")
            lines[m["line"] - 1] = m["new"] if m["new"] or not m["old"] else None
            text = "\n".join(x for x in lines if x is not None)
            with open(os.path.join(work, "applied"), "w") as f:
                f.write(m["file"])
            with open(path, "w") as f:
                f.write(text)
            try:
                brc, bout = sh(["ninja", "-C", bld], timeout=600)
                if brc != 0:
                    r["status"] = "invalid"
                else:
                    trc, failed, _ = run_tests(first, limit)
                    if trc != 0:
                        r["status"], r["by"] = "killed", failed or ["timeout"]
                        r["before"] = "killed"
                    elif later:
                        trc, failed, _ = run_tests(later, limit)
                        r["before"] = "survived"
                        r["status"] = "killed" if trc != 0 else "survived"
                        if trc != 0:
                            r["by"] = failed or ["timeout"]
                    else:
                        r["status"] = "survived"
            finally:
                with open(path, "w") as f:
                    f.write(orig)
                os.utime(path)  # newer than the mutant's object, whatever the clock did

        res.append(r)
        by = " by " + ",".join(r.get("by", [])) if r.get("by") else ""
        name = f" ({m['name']})" if m.get("name") else ""
        print(f"[{i}/{len(sample)}] {r['status']:10} {m['file']}:{m['line']}{name}{by}",
              flush=True)
        tag = os.path.basename(a.mutants).split(".")[0] if a.mutants else f"seed{a.seed}-n{a.n}"
        with open(os.path.join(work, f"results-{tag}.json"), "w") as f:
            json.dump(res, f, indent=1)


def report(res, later, t0, bld):
    sh(["ninja", "-C", bld])  # leave the scratch build unmutated

    count = {s: sum(r["status"] == s for r in res)
             for s in ("killed", "survived", "invalid", "equivalent")}
    print("\nSurviving mutants:")
    for r in res:
        if r["status"] == "survived":
            print(diff_of(r))
    scored = count["killed"] + count["survived"]
    print(f"\nmutation: {len(res)} sampled: {count['invalid']} do not compile, "
          f"{count['equivalent']} equivalent (equivalent.txt), {scored} scored")
    if scored:
        print(f"kill score: {count['killed']}/{scored} = {100.0 * count['killed'] / scored:.1f} %")
        if later:
            kb = sum(r.get("before") == "killed" for r in res)
            print(f"kill score without {','.join(later)}: {kb}/{scored} = "
                  f"{100.0 * kb / scored:.1f} %")
    print(f"time: {time.time() - t0:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
