#!/usr/bin/env python3
"""Mutation testing of lensim's simulator code (issue 17): how many plausible one-line bugs does
the fast test suite notice?

The mutants come from universalmutator (pip install universalmutator; its C rules, regexp based:
https://github.com/agroce/universalmutator), generated for every .c file under sim/, calib/,
traces/ and engine/. A seeded random sample of N of them is built and tested, one at a time, in
a scratch copy of the tree (BUILD/mutation/src, its own build directory), so the working tree is
never touched. The sample is a prefix of the pool in a seeded random order: --n mutants, or with
--scored K as many as it takes to score K. For each mutant, cheapest check first:
  - listed in equivalent.txt:                "equivalent" (reason given there), not built;
  - its own object file does not compile:    "invalid", nothing linked or run;
  - its object's code (debugging sections stripped) is the original's: "equivalent" (trivial
    compiler equivalence: the program is the same);
  - a fast test's outcome changes or it times out: "killed";
  - every fast test it can reach passes:     "survived", printed with its diff (a mutant in code
    that no fast test's program contains survives too, and is marked so).
Score = killed / (killed + survived).

The fast tests are the meson suites given by --suites (default: unit) less --no-suites (default:
calib, the slow calibration), and the tests named by --tests (default: schema_md, which compares
the schema's text with experiments/SCHEMA.md). They are run directly (commands from meson introspect), one at a
time, fastest first (each test's unmutated time), each with its own limit (4x its unmutated time
+ 10 s), and only those whose programs the mutant changed (a test whose executables and
dependencies are byte-identical to the unmutated build's cannot notice it). The first test whose
outcome changes kills the mutant and ends its run. --compare-without T1,T2 runs those tests
after all the others: one pass gives the score before and after they were added.

Usage: tests/mutation/mutation.py [--n 200 | --scored 200] [--seed 17] [--build build]
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


def sh(cmd, cwd=None, timeout=None, env=None):
    """Run cmd; return (status, output). A timeout is status None. cmd runs in its own process
    group, and a timeout kills the whole group: a mutant that loops forever lives in a test
    program that meson started, which killing meson alone would leave running."""
    if env is not None:
        env = {**os.environ, **env}
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, start_new_session=True, env=env, errors="replace")
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
            eq[tuple(squash(p) for p in parts[:3])] = parts[3]
    return eq


def given_mutants(path, src):
    """Mutants named in a file: survivors of an earlier run, or hand-planted bugs."""
    if path.endswith(".json"):
        # The tree may have changed since that run: a survivor is re-found by its original line's
        # text (the occurrence nearest its old line number). One whose line is gone no longer
        # exists; it is listed and left out, never applied at a line number that now holds
        # something else (that would test a different mutant).
        with open(path) as f:
            rows = [{k: r[k] for k in ("file", "line", "old", "new")}
                    for r in json.load(f) if r["status"] == "survived"]
        out, gone = [], []
        for r in rows:
            with open(os.path.join(src, r["file"])) as g:
                lines = g.read().split("\n")
            hits = [i + 1 for i, ln in enumerate(lines) if ln == r["old"]]
            if not hits:
                gone.append(r)
                continue
            at = min(hits, key=lambda n: (abs(n - r["line"]), n))
            if at != r["line"]:
                r["moved_from"] = r["line"]
                r["line"] = at
            out.append(r)
        for r in gone:
            print(f"mutation: {r['file']}:{r['line']}: its line is no longer in the tree "
                  f"(`{r['old'].strip()}`): left out", flush=True)
        if gone:
            print(f"mutation: {len(gone)} of {len(rows)} survivors left out: their code changed",
                  flush=True)
        return out
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


def squash(text):
    """Runs of white space (line breaks of an inserted line too) as one space."""
    return " ".join(text.split())


def key_of(m):
    return (m["file"], squash(m["old"]), squash(m["new"]))


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


class Fast:
    """The fast tests, run directly (not through meson test): each test alone, fastest first,
    stopping at the first that fails, and only the tests whose programs the mutant changed."""

    def __init__(self, bld, suites, no_suites, extra, only, env):
        self.bld = os.path.realpath(bld)
        self.env = env
        rc, out = sh(["meson", "introspect", "--tests", bld])
        if rc != 0:
            sys.exit("mutation: meson introspect --tests failed:\n" + out[-2000:])
        tests = json.loads(out)
        rc, out = sh(["meson", "introspect", "--targets", bld])
        if rc != 0:
            sys.exit("mutation: meson introspect --targets failed:\n" + out[-2000:])
        files_of = {t["id"]: t["filename"] for t in json.loads(out)}
        want = set(filter(None, suites.split(",")))
        skip = set(filter(None, no_suites.split(",")))
        self.tests = []
        for t in tests:
            ss = {x.split(":")[-1] for x in t["suite"]}
            if (not ss & want or ss & skip) and t["name"] not in extra:
                continue
            if only and t["name"] not in only:
                continue
            cwd = t["workdir"] or self.bld
            files = set()
            for c in t["cmd"]:  # the programs and arguments that the build makes
                f = os.path.realpath(os.path.join(cwd, c))
                if f.startswith(self.bld + os.sep) and os.path.isfile(f):
                    files.add(f)
            for d in t["depends"]:
                files.update(os.path.realpath(f) for f in files_of.get(d, []))
            self.tests.append({"name": t["name"], "cmd": t["cmd"], "cwd": cwd,
                               "env": t["env"], "timeout": t["timeout"] or 30,
                               "files": sorted(files),
                               "targets": sorted(os.path.relpath(f, self.bld) for f in files)})
        self.hashes = {}

    def digest(self, f):
        """sha256 of a built file, cached by its mtime and size."""
        st = os.stat(f)
        k = (st.st_mtime_ns, st.st_size)
        c = self.hashes.get(f)
        if c and c[0] == k:
            return c[1]
        with open(f, "rb") as g:
            h = hashlib.sha256(g.read()).hexdigest()
        self.hashes[f] = (k, h)
        return h

    def snapshot(self):
        return {f: self.digest(f) for t in self.tests for f in t["files"]}

    def run_one(self, t, limit):
        """(outcome, seconds, output): outcome is pass, fail, skip or timeout."""
        env = dict(os.environ)
        env.update(self.env)
        env.update(t["env"])
        env.setdefault("MALLOC_PERTURB_", "165")  # as meson test does, but fixed: reproducible
        t0 = time.time()
        rc, out = sh(t["cmd"], cwd=t["cwd"], timeout=limit, env=env)
        if rc is None:  # a test that started programs in sessions of their own: find them
            kill_under(self.bld)
        dt = time.time() - t0
        return ("timeout" if rc is None else "pass" if rc == 0 else "skip" if rc == 77
                else "fail"), dt, out

    def baseline(self):
        """Run every fast test on the unmutated build: its outcome, time and limit."""
        self.base = self.snapshot()
        bad = []
        for t in self.tests:
            t["outcome"], t["seconds"], out = self.run_one(t, max(1800, t["timeout"] * 3))
            t["limit"] = min(max(20.0, 4 * t["seconds"] + 10), max(30.0, 3 * t["timeout"]))
            if t["outcome"] in ("fail", "timeout"):
                bad.append(t["name"])
        if bad:  # only tests meson expects to fail (should_fail) may fail here
            rc, out = sh(["meson", "test", "-C", self.bld, "--no-rebuild"] + bad, env=self.env)
            if rc != 0:
                sys.exit("mutation: the unmutated suite fails (" + ", ".join(bad) +
                         "); fix it first\n" + out[-2000:])
        self.tests.sort(key=lambda t: (t["seconds"], t["name"]))
        return bad

    def changed(self, t):
        """Whether test t's programs differ from the unmutated build's."""
        return any(self.digest(f) != self.base[f] for f in t["files"])


def objects_of(bld, src):
    """Each source file's object files, from compile_commands.json."""
    with open(os.path.join(bld, "compile_commands.json")) as f:
        cc = json.load(f)
    out = {}
    for e in cc:
        rel = os.path.relpath(os.path.realpath(os.path.join(e["directory"], e["file"])),
                              os.path.realpath(src))
        out.setdefault(rel, []).append(e["output"])
    return out


def code_of(bld, obj):
    """An object file without its debugging sections: two objects with the same code are the
    same program (trivial compiler equivalence)."""
    with tempfile.NamedTemporaryFile(suffix=".o") as tmp:
        rc, out = sh(["objcopy", "--strip-debug", os.path.join(bld, obj), tmp.name])
        if rc != 0:
            sys.exit("mutation: objcopy failed: " + out)
        with open(tmp.name, "rb") as f:
            return f.read()


def main():
    signal.signal(signal.SIGTERM, on_term)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=int(os.environ.get("MUTANTS", 200)))
    ap.add_argument("--scored", type=int, default=int(os.environ.get("MUTATION_SCORED", 0)),
                    help="go on past --n, in the same seeded order, until this many mutants "
                    "are scored (compile and are not equivalent)")
    ap.add_argument("--seed", type=int, default=int(os.environ.get("MUTATION_SEED", 17)))
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--jobs", type=int, default=2, help="ninja's parallel jobs")
    ap.add_argument("--suites", default="unit")
    ap.add_argument("--no-suites", default="calib")
    ap.add_argument("--tests", default="schema_md",
                    help="comma-separated tests of other suites to run too (default schema_md: "
                    "the schema's text, a sub-second test of the cli suite)")
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
    # The data the tests look for beside the source tree (SRC/../shared/data): without it the
    # real-data tests skip, and what only they would notice survives.
    shared = os.path.realpath(os.path.join(ROOT, "..", "shared"))
    link = os.path.join(work, "shared")
    if os.path.isdir(shared) and not os.path.lexists(link):
        os.symlink(shared, link)
    # A run killed with SIGKILL may have left a mutant's object behind: rebuild that file.
    marker = os.path.join(work, "applied")
    if os.path.exists(marker):
        with open(marker) as f:
            os.utime(os.path.join(src, f.read().strip()))
        os.remove(marker)
    if a.mutants:
        pool = order = given_mutants(a.mutants, src)
    else:
        pool = pool_of(src, work)
        order = list(pool)
        random.Random(a.seed).shuffle(order)  # the sample: a prefix of this seeded order
        if not a.scored:
            order = order[:a.n]
    eq = load_equivalent(a.equivalent)
    if a.list:
        for m in order[:a.n]:
            print(f"{m['file']}:{m['line']}: {m['new'].strip()}")
        return 0

    # The scratch tree is no git work tree of its own: keep git from finding the one above it,
    # whose state (vcs_tag's --dirty) would otherwise change version.h, and so every program,
    # whenever the working tree is edited during a run.
    env = {"GIT_CEILING_DIRECTORIES": work}
    if not os.path.exists(os.path.join(bld, "build.ninja")):
        # lensim_lto disabled: fat LTO objects carry intermediate code that differs where the
        # machine code does not, which would hide trivially equivalent mutants.
        rc, out = sh(["meson", "setup", bld, src, "-Dcuda=disabled", "-Dlensim_lto=disabled"],
                     env=env)
        if rc != 0:
            sys.exit("mutation: meson setup failed:\n" + out[-3000:])
    rc, out = sh(["ninja", "-C", bld, "-j", str(a.jobs)], env=env)
    if rc != 0:
        sys.exit("mutation: the unmutated tree does not build:\n" + out[-3000:])
    only = set(filter(None, a.only.split(",")))
    extra = set(filter(None, a.tests.split(",")))
    fast = Fast(bld, a.suites, a.no_suites, extra, only, env)
    t0 = time.time()
    bad = fast.baseline()
    later = set(filter(None, a.compare_without.split(","))) & {t["name"] for t in fast.tests}
    base_s = sum(t["seconds"] for t in fast.tests)
    what = (f"{len(order)} mutants from {a.mutants}" if a.mutants else
            f"{a.scored} scored mutants (seed {a.seed})" if a.scored else
            f"{len(order)} of {len(pool)} mutants (seed {a.seed})")
    print(f"mutation: {what}; fast tests: {len(fast.tests)}, "
          f"{base_s:.0f} s unmutated" + (f" ({', '.join(bad)} expected to fail)" if bad else ""),
          flush=True)

    res = []
    try:
        test_sample(a, order, src, bld, eq, fast, later, res, work, env)
    except KeyboardInterrupt:
        print(f"mutation: interrupted after {len(res)} mutants", flush=True)
    report(res, later, t0, bld, env, a)
    return 0


def run_mutant(a, m, src, bld, fast, later, objs, orig_code, env, r):
    """Build the mutant, then run the fast tests it can change; fill r's status."""
    rc, _ = sh(["ninja", "-C", bld, "-j", str(a.jobs)] + objs, timeout=600, env=env)
    if rc != 0:
        r["status"] = "invalid"  # its own object does not compile: nothing is linked or run
        return
    if all(code_of(bld, o) == orig_code[o] for o in objs):
        r["status"] = "equivalent"
        r["why"] = "the same object code as the original (trivial compiler equivalence)"
        return
    # Each test's programs are linked just before it would run (a mutant the first test kills
    # links one program), and a test whose programs came out byte-identical is skipped.
    first = [t for t in fast.tests if t["name"] not in later]
    second = [t for t in fast.tests if t["name"] in later]
    by, r["ran"] = [], []
    for group in (first, second):
        for t in group:
            rc, _ = sh(["ninja", "-C", bld, "-j", str(a.jobs)] + t["targets"], timeout=600,
                       env=env)
            if rc != 0:
                r["status"] = "invalid"  # compiles, does not link
                return
            if not fast.changed(t):
                continue
            outcome, dt, out = fast.run_one(t, t["limit"])
            r["ran"].append(t["name"])
            if outcome != t["outcome"]:
                by.append(t["name"] if outcome != "timeout" else t["name"] + " (timeout)")
                if a.all_failures:  # name the failing cases too (test.h prints "FAIL case")
                    by += sorted({ln[5:].strip() for ln in out.splitlines()
                                  if ln.startswith("FAIL ")})
                else:
                    break
        if group is first:
            r["before"] = "killed" if by else "survived"
        if by and not a.all_failures:
            break
    if not r["ran"]:
        r["unreached"] = True  # no fast test's program contains the mutated code
    r["status"] = "killed" if by else "survived"
    if by:
        r["by"] = by


def test_sample(a, order, src, bld, eq, fast, later, res, work, env):
    objs_of = objects_of(bld, src)
    orig_code = {}
    scored = 0
    for i, m in enumerate(order, 1):
        if a.scored and scored >= a.scored:
            break
        t0 = time.time()
        path = os.path.join(src, m["file"])
        with open(path) as f:
            orig = f.read()
        r = dict(m)
        k = key_of(m)
        objs = objs_of.get(m["file"], [])
        if k in eq:
            r["status"], r["why"] = "equivalent", eq[k]
        elif not objs:
            r["status"] = "survived"  # built into no program
            r["unreached"] = True
        else:
            if any(o not in orig_code for o in objs):  # the unmutated objects' code, once
                rc, out = sh(["ninja", "-C", bld, "-j", str(a.jobs)] + objs, env=env)
                if rc != 0:
                    sys.exit("mutation: the unmutated tree does not build:\n" + out[-3000:])
                for o in objs:
                    orig_code[o] = code_of(bld, o)
            lines = orig.split("\n")
            # A deleted line becomes an empty one, so that later lines keep their numbers
            # (__LINE__ in messages) and the compiler-equivalence check stays exact.
            if lines[m["line"] - 1] != m["old"]:
                sys.exit(f"mutation: {m['file']}:{m['line']} does not hold the mutant's original "
                         f"line `{m['old'].strip()}`")
            lines[m["line"] - 1] = m["new"]
            with open(os.path.join(work, "applied"), "w") as f:
                f.write(m["file"])
            with open(path, "w") as f:
                f.write("\n".join(lines))
            try:
                run_mutant(a, m, src, bld, fast, later, objs, orig_code, env, r)
            finally:
                with open(path, "w") as f:
                    f.write(orig)
                os.utime(path)  # newer than the mutant's object, whatever the clock did
        r["seconds"] = round(time.time() - t0, 1)
        if r["status"] in ("killed", "survived"):
            scored += 1
        res.append(r)
        by = " by " + ",".join(r.get("by", [])) if r.get("by") else ""
        note = " (no fast test runs it)" if r.get("unreached") else ""
        if r["status"] == "equivalent" and "compiler" in r.get("why", ""):
            note = " (same object code)"
        name = f" ({m['name']})" if m.get("name") else ""
        print(f"[{i}] {r['status']:10} {m['file']}:{m['line']}{name}{by}{note} "
              f"{r['seconds']:.0f} s", flush=True)
        tag = (os.path.basename(a.mutants).split(".")[0] if a.mutants else
               f"seed{a.seed}-" + (f"s{a.scored}" if a.scored else f"n{a.n}"))
        with open(os.path.join(work, f"results-{tag}.json"), "w") as f:
            json.dump(res, f, indent=1)


def report(res, later, t0, bld, env, a):
    sh(["ninja", "-C", bld, "-j", str(a.jobs)], env=env)  # leave the scratch build unmutated

    count = {s: sum(r["status"] == s for r in res)
             for s in ("killed", "survived", "invalid", "equivalent")}
    tce = sum(r["status"] == "equivalent" and "compiler" in r.get("why", "") for r in res)
    unreached = sum(bool(r.get("unreached")) for r in res)
    print("\nSurviving mutants:")
    for r in res:
        if r["status"] == "survived":
            print(diff_of(r) + ("   [no fast test runs this code]" if r.get("unreached")
                                else ""))
    scored = count["killed"] + count["survived"]
    print(f"\nmutation: {len(res)} sampled: {count['invalid']} do not compile, "
          f"{count['equivalent']} equivalent ({count['equivalent'] - tce} listed in "
          f"equivalent.txt, {tce} with the same object code), {scored} scored: "
          f"{count['killed']} killed, {count['survived']} survived "
          f"({unreached} in code no fast test runs)")
    if scored:
        print(f"kill score: {count['killed']}/{scored} = {100.0 * count['killed'] / scored:.1f} %")
        if later:
            kb = sum(r.get("before") == "killed" for r in res)
            print(f"kill score without {','.join(sorted(later))}: {kb}/{scored} = "
                  f"{100.0 * kb / scored:.1f} %")
    for s in ("invalid", "equivalent", "killed", "survived"):
        xs = [r["seconds"] for r in res if r["status"] == s and "seconds" in r]
        if xs:
            print(f"  {s:10} {len(xs):4d} mutants, {sum(xs) / len(xs):5.1f} s each")
    print(f"time: {time.time() - t0:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
