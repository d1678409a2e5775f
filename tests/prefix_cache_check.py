#!/usr/bin/env python3
"""prefix_cache_check.py: lensim's vLLM v1 prefix caching (engine.prefix_caching, sim/kv.c)
against an independent model of it, on the real Mooncake conversation trace.

    prefix_cache_check.py LENSIM SOURCE_ROOT [N]

The first N (default 1500) requests of conversation_trace.jsonl, their arrivals moved so far
apart that each runs alone, go through lensim (vllm_v1, llama-3-8b on one H200: about 57,000
blocks of 16 tokens, far fewer than the requests need in all, so cached blocks are evicted).
The model below replays them one at a time: a pool of the same number of blocks whose free list
is kept in LRU order (a new block is taken from the head and loses its key; a finished
request's blocks go to the tail, its last block first), keys = the prefix of the request's
hash_ids and the index of the 16-token block inside its 512-token block (Mooncake: equal
prefixes of hash_ids share their cache), hits = the longest cached prefix of full prompt
blocks, at most (prompt - 1) // 16 of them (vLLM computes the last token). A request holds, at
the end, the blocks of prompt + output - 1 tokens. The prefix-cache query and hit tokens of
lensim's summary.json must equal the model's exactly. Exits 77 without a data directory
($LENSIM_DATA, else SOURCE_ROOT/../shared/data).
"""
import json
import os
import subprocess
import sys
import tempfile
from collections import OrderedDict


def model(rows, n_blocks):
    free = OrderedDict((b, None) for b in range(n_blocks))  # block -> its key, LRU order
    table = {}
    q = h = 0
    for r in rows:
        L, O, ids = r["input_length"], r["output_length"], r["hash_ids"]
        full = min(L // 16, len(ids) * 32)
        keys = [(tuple(ids[: j // 32 + 1]), j % 32) for j in range(full)]
        held = []
        for j in range(min(full, (L - 1) // 16)):
            b = table.get(keys[j])
            if b is None:
                break
            held.append(b)
            free.pop(b)
        q += L
        h += len(held) * 16
        for j in range(len(held), (L + O - 1 + 15) // 16):
            b, k = free.popitem(last=False)
            if k is not None:
                del table[k]
            held.append(b)
            if j < full and keys[j] not in table:
                table[keys[j]] = b
        for j in reversed(range(len(held))):
            b = held[j]
            free[b] = keys[j] if j < full and table.get(keys[j]) == b else None
    return q, h


def main(argv):
    lensim, root = argv[1], argv[2]
    n = int(argv[3]) if len(argv) > 3 else 1500
    data = os.environ.get("LENSIM_DATA") or os.path.join(root, "..", "shared", "data")
    src = os.path.join(data, "traces", "mooncake", "conversation_trace.jsonl")
    if not os.path.exists(src):
        print("no data directory (%s): skipped" % data)
        return 77
    rows = []
    with open(src) as f:
        for line in f:
            if len(rows) == n:
                break
            rows.append(json.loads(line))
    with tempfile.TemporaryDirectory() as tmp:
        trace = os.path.join(tmp, "seq.jsonl")
        with open(trace, "w") as g:
            for i, r in enumerate(rows):  # one at a time: 10^4 s apart
                g.write(json.dumps(dict(r, timestamp=i * 10_000_000)) + "\n")
        exp = os.path.join(tmp, "apc.yaml")
        with open(exp, "w") as g:
            g.write("name: apc\nmodel: llama-3-8b\nhardware: {gpu: h200, tp: 1}\n"
                    "workload: {source: mooncake, path: %s}\n"
                    "engine: {scheduler: vllm_v1, max_seq_len: 131072, prefix_caching: true}\n"
                    "outputs: {timeline_rows: 0}\n" % trace)
        out = os.path.join(tmp, "out")
        r = subprocess.run([lensim, "run", exp, "-o", out], capture_output=True, text=True)
        if r.returncode:
            print(r.stdout, r.stderr)
            return 1
        with open(os.path.join(out, "run", "summary.json")) as f:
            s = json.load(f)
        with open(os.path.join(out, "run", "manifest.yaml")) as f:
            cap = [int(l.split(":")[1]) for l in f if l.startswith("kv_capacity_tokens:")][0]
    want_q, want_h = model(rows, cap // 16)
    got_q, got_h = s["prefix_cache_query_tokens"], s["prefix_cache_hit_tokens"]
    print("%d requests, %d blocks: query %d (model %d), hits %d (model %d), rate %.4f"
          % (n, cap // 16, got_q, want_q, got_h, want_h, got_h / got_q))
    if s["preemptions"] or (got_q, got_h) != (want_q, want_h):
        print("FAIL: lensim differs from the model (or preempted: %d)" % s["preemptions"])
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
