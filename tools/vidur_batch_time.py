#!/usr/bin/env python3
"""Vidur's batch time for CodeLlama-34B, TP2, A100 from its prediction tables (an independent
cross-check of lensim's analytic model; standard library only).

Follows vidur/execution_time_predictor/sklearn_execution_time_predictor.py and
vidur/entities/execution_time.py of microsoft/vidur at commit 7d47513 (read, not copied):
  - every per-token operator is looked up at the batch's token count rounded up to 8;
  - decode attention at (number of decodes, int(mean context) rounded up to 64), x1.1 when more
    than one decode (attention_decode_batching_overhead_fraction);
  - prefill attention at (sum of each prefill's cached tokens rounded up to 64,
    round(sqrt(sum of chunk^2))^2), x1.1 when more than one prefill;
  - all-reduce + 0.02 ms NCCL launch overhead, twice per layer (attention and MLP);
  - kv_cache_save looked up at the exact token count (all zeros in these tables);
  - 48 layers; CPU overheads off. Result in seconds.

Usage as a module: load(DIR) then batch_time(tables, decodes=[ctx,...], prefills=[(kv, chunk)]).
Run as a script: prints the times of a few batches.
"""
import csv
import gzip
import math
import os
import sys

LAYERS = 48
PER_TOKEN_OPS = ["attn_pre_proj", "attn_post_proj", "mlp_up_proj", "mlp_down_proj", "mlp_act",
                 "input_layernorm", "post_attention_layernorm", "attn_rope", "add"]
NCCL_LAUNCH_MS = 0.02
BATCHING_OVERHEAD = 0.1


def _read(path):
    with gzip.open(path, "rt") as f:
        return list(csv.reader(f))


def load(d):
    t = {}
    for name in os.listdir(d):
        if not name.endswith("_predictions.csv.gz") or "_training_" in name:
            continue
        op = name.rsplit("_", 2)[0]
        rows = _read(os.path.join(d, name))
        hdr, body = rows[0], rows[1:]
        if len(hdr) == 2:
            t[op] = {int(r[0]): float(r[1]) for r in body}
        else:
            t[op] = {(int(r[0]), int(r[1])): float(r[2]) for r in body}
    return t


def _up(x, g):
    return (x + g - 1) // g * g


def batch_time(t, decodes=(), prefills=()):
    """decodes: context of each decoding sequence (tokens already processed);
    prefills: (tokens already cached, tokens computed now) per prefilling sequence."""
    n_tok = len(decodes) + sum(c for _, c in prefills)
    r = _up(n_tok, 8)
    layer = sum(t[op][r] for op in PER_TOKEN_OPS)
    layer += t["attn_kv_cache_save"][n_tok]
    layer += 2 * (t["all_reduce"][r] + NCCL_LAUNCH_MS)
    if decodes:
        b = len(decodes)
        kv = _up(int(sum(decodes) / b), 64)
        layer += t["attn_decode"][(b, kv)] * (1 + BATCHING_OVERHEAD * (b > 1))
    if prefills:
        kv = sum(_up(k, 64) for k, _ in prefills)
        sq = round(math.sqrt(sum(c * c for _, c in prefills))) ** 2
        layer += t["attn_prefill"][(kv, sq)] * (1 + BATCHING_OVERHEAD * (len(prefills) > 1))
    return LAYERS * layer * 1e-3


if __name__ == "__main__":
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "..", "shared", "data", "vidur", "predictions")
    t = load(d)
    for dec, pre in [([1000] * 22, []), ([1000] * 128, []), ([], [(0, 128)])]:
        print(len(dec), pre, "%.4f ms" % (batch_time(t, dec, pre) * 1e3))
