#!/usr/bin/env python3
"""ssjf_ref.py: an independent transcription of the SSJF authors' scheduling loops (issue 14).

Source: github.com/James-QiuHaoran/LLM-serving-with-proxy-models, model-serving/ at 4b86686:
fcfs.py (FCFS, static batches), fcfs_dynamic.py (FCFS, continuous), sjf.py (SJF/SSJF, static),
sjf_dynamic.py (SJF/SSJF, continuous), job.py:251-255 (service times), util.py (parameters).
Written from reading those files, not from sim/compat_ssjf.c; it keeps their float arithmetic
step by step (the 1-second time slices included), so lensim must agree to the last bit.

  ssjf_ref.py check TEST_COMPAT_EXACT [CASES] [SEED]
      draws CASES random job lists (default 3000), runs each here and through
      `TEST_COMPAT_EXACT --stdin` (lensim's compat_ssjf_schedule), and compares every job's
      completion and last start time bit for bit, and the number of jobs that ran.
  ssjf_ref.py run < cases.json
      prints this transcription's [completion, last start] per job (for checks by hand).
"""
import json
import random
import subprocess
import sys


def service(units):
    """job.py:251/255: round(const_latency + units * per_token_latency, 2)."""
    return round(0.1 + units * 0.02, 2)


class J:
    def __init__(self, idx, arrival, tokens, cls):
        self.idx = idx
        self.arrival = arrival
        self.exec = service(tokens)  # execution_duration; continuous batches shorten it
        self.pred = service(cls)  # predicted_execution_duration
        self.waited = 0  # curr_waiting_time
        self.start = None
        self.done = None


class Clock:
    """completion_time plus the carried time_slice (sjf.py:52-55, fcfs.py:39-40)."""

    def __init__(self):
        self.t = 0
        self.slice = 1

    def advance(self, duration, after_slice=None):
        # sjf.py:133-151 / fcfs.py:79-87: consume the duration slice by slice.
        left = duration
        while left > 0:
            left -= self.slice
            if left < 0:
                self.t += left + self.slice
                self.slice = abs(left)
            else:
                self.t += self.slice
                self.slice = 1
            if after_slice:
                after_slice(self.t)


def fcfs(jobs, B, continuous, timeout):
    queue = list(jobs)  # arrival order; index 0 is the head
    clk = Clock()
    while queue:
        if clk.t < queue[0].arrival:
            clk.t = queue[0].arrival
        batch = []
        while queue and len(batch) < B and queue[0].arrival <= clk.t + timeout:
            batch.append(queue.pop(0))
        target = batch[-1].arrival if len(batch) == B else clk.t + timeout
        run = (min if continuous else max)(x.exec for x in batch)
        if round(clk.slice, 2) == 0:
            clk.slice = 1
        while clk.t < target:  # fcfs.py:62-68 (slice not reset to 1 on the way)
            if clk.t + clk.slice < target:
                clk.t += clk.slice
            else:
                clk.slice = 1 - (target - clk.t)
                clk.t = target
        for x in batch:
            x.start = clk.t
        clk.advance(run)
        for x in batch:
            if not continuous or x.exec <= run:
                x.done = clk.t
            else:
                x.exec = max(x.exec - run, 0)
                queue.insert(0, x)


def sjf(jobs, B, continuous, use_pred, timeout, thres, coeff):
    waiting = []
    clk = Clock()
    prev_end = 0
    pending = list(jobs)  # not yet queued, arrival order

    def take_arrived(now):
        while pending and pending[0].arrival <= now:
            waiting.append(pending.pop(0))

    while len(pending) > 1 or waiting:  # sjf.py:57: curr_job_idx < len - 1 or queue
        if not waiting:
            nxt = pending[0].arrival
            if clk.t >= nxt:
                take_arrived(clk.t)
            while clk.t < nxt:
                if clk.t + clk.slice < nxt:
                    clk.t += clk.slice
                    clk.slice = 1
                else:
                    clk.slice = 1 - (nxt - clk.t)
                    clk.t = nxt
                    take_arrived(clk.t)
        by_key = sorted(waiting, key=lambda x: x.pred if use_pred else x.exec)
        by_age = sorted(waiting, key=lambda x: x.waited, reverse=True)
        oldest = by_age[0]
        if oldest.waited > thres or oldest.waited > oldest.exec * coeff:
            waiting[:] = by_age
        else:
            waiting[:] = by_key
        batch = []
        while waiting and len(batch) < B and waiting[0].arrival <= clk.t + timeout:
            batch.append(waiting.pop(0))
        run = (min if continuous else max)(x.exec for x in batch)
        for x in batch:
            x.start = clk.t
        clk.advance(run, take_arrived)
        for x in batch:
            if not continuous or x.exec <= run:
                x.done = clk.t
            else:
                x.exec = max(x.exec - run, 0)
                waiting.append(x)
        step = clk.t - prev_end
        prev_end = clk.t
        for x in waiting:
            x.waited += step


def simulate(case):
    """case: policy, batching (none|dynamic|continuous, lensim's names), B, wait, starve, factor,
    jobs [[arrival, tokens, cls]...]. Returns ([done, start] per job, jobs that ran)."""
    jobs = [J(i, a, t, c) for i, (a, t, c) in enumerate(case["jobs"])]
    B = 1 if case["batching"] == "none" else case["B"]
    cont = case["batching"] == "continuous"
    if case["policy"] == "fcfs":
        fcfs(jobs, B, cont, case["wait"])
    else:
        sjf(jobs, B, cont, case["policy"] == "ssjf", case["wait"], case["starve"], case["factor"])
    return [[x.done, x.start] for x in jobs], sum(x.done is not None for x in jobs)


def random_case(rng):
    n = rng.choice([1, 2, 3, 5, 8, 13, 21, 34])
    kind = rng.choice(["seconds", "gamma", "ticks", "batch"])
    rate = rng.choice([0.05, 0.3, 1.0, 3.0])
    if kind == "seconds":  # Poisson-like: whole seconds, often several at once
        arr, t = [], 0
        for _ in range(n):
            t += rng.choice([0, 0, 1, 2, 5, 20])
            arr.append(float(t))
    elif kind == "gamma":  # sorted Gamma gaps, summed (job.py:193-197)
        cv = rng.choice([1, 2, 4])
        gaps = sorted(rng.gammavariate(1 / cv**2, cv**2 / rate) for _ in range(n))
        arr, t = [], 0
        for g in gaps:
            t += g
            arr.append(t)
    elif kind == "ticks":  # multiples of 0.01 s: float ties at batch ends
        arr, t = [], 0
        for _ in range(n):
            t += rng.choice([0, 1, 10, 30, 100, 250]) / 100
            arr.append(round(t, 2))
    else:
        arr = [0.0] * n
    jobs = []
    for a in arr:
        tokens = rng.choice([rng.randint(1, 60), rng.randint(1, 511), rng.choice([10, 20, 45, 95])])
        cls = min(4, tokens // 100) if rng.random() < 0.6 else rng.randint(0, 4)
        jobs.append([a, tokens, cls])
    return {
        "policy": rng.choice(["fcfs", "sjf", "ssjf"]),
        "batching": rng.choice(["none", "dynamic", "continuous"]),
        "B": rng.choice([1, 2, 3, 4]),
        "wait": rng.choice([10, 10, 2.5, 0.5, 0, 1.234, 0.005]),
        "starve": rng.choice([100, 100, 3, 12.5, 3.333]),
        "factor": rng.choice([10, 10, 1.5, 1000]),
        "jobs": jobs,
    }


def lensim_text(cases):
    out = []
    for c in cases:
        out.append("case %s %s %d %r %r %r %d" % (c["policy"], c["batching"], c["B"],
                                                  float(c["wait"]), float(c["starve"]),
                                                  float(c["factor"]), len(c["jobs"])))
        out.extend("%r %d %d" % (float(a), t, k) for a, t, k in c["jobs"])
    return "\n".join(out) + "\n"


def check(binary, count, seed):
    rng = random.Random(seed)
    cases = [random_case(rng) for _ in range(count)]
    res = subprocess.run([binary, "--stdin"], input=lensim_text(cases), capture_output=True,
                         text=True)
    if res.returncode:
        print("lensim failed:", res.stderr)
        return 1
    lines = res.stdout.splitlines()
    pos, bad, jobs = 0, 0, 0
    for k, c in enumerate(cases):
        head = lines[pos].split()
        pos += 1
        want, ran = simulate(c)
        got = [[float(v) for v in lines[pos + i].split()] for i in range(len(c["jobs"]))]
        pos += len(c["jobs"])
        same = int(head[2]) == ran
        for (wd, ws), (gd, gs) in zip(want, got):
            jobs += 1
            if wd is None:
                same &= gd != gd and gs != gs  # NaN: never ran
            else:
                same &= float(wd) == gd and float(ws) == gs
        if not same:
            bad += 1
            if bad <= 3:
                print("case %d differs: %s\n  ref    %s (ran %d)\n  lensim %s (ran %s)" %
                      (k, json.dumps(c), want, ran, got, head[2]))
    print("ssjf_ref: %d cases, %d jobs, %d cases differ" % (count, jobs, bad))
    return 1 if bad else 0


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "check":
        count = int(sys.argv[3]) if len(sys.argv) > 3 else 3000
        seed = int(sys.argv[4]) if len(sys.argv) > 4 else 14
        return check(sys.argv[2], count, seed)
    if len(sys.argv) == 2 and sys.argv[1] == "run":
        print(json.dumps([simulate(c)[0] for c in json.load(sys.stdin)]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
