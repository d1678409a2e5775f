#!/usr/bin/env python3
"""vidur_tables.py: write a lensim table profile (calib/PROFILE.md, `lensim-table/1`) from the
prediction tables of Vidur's execution-time predictor.

    tools/vidur_tables.py PREDICTIONS_DIR OUT
    tools/vidur_tables.py --check PREDICTIONS_DIR PROFILE
    e.g. tools/vidur_tables.py ../shared/data/vidur/predictions \
             calib/profiles/codellama-34b-tp2-a100.table

--check reads PROFILE back, expands its rows, and compares every key a batch can look up
(per-token tables at multiples of 8, kv_cache_save at every count, every decode and prefill key)
with the prediction files, as doubles; it also checks the recorded SHA-256 of each input. Exit 0
when all match, 1 with the first difference otherwise.

The inputs are the `<op>_<hash>_predictions.csv.gz` files that Vidur's sklearn predictor
(microsoft/vidur, vidur/execution_time_predictor/sklearn_execution_time_predictor.py at commit
7d47513363ec447a741ac5e47241580b47724fbf) writes for CodeLlama-34B, TP2, A100; times in ms per
layer. Nothing is fitted or changed here: every value is copied exactly (Python's repr of the
float, which strtod reads back to the same double). The tables are made compact losslessly:

- per-token tables that Vidur looks up at the batch's token count rounded up to 8 keep only the
  multiples of 8 (no other key can be looked up), and a row is written only where the value
  changes (a row holds from its key up to the next row's);
- attn_kv_cache_save (looked up at the exact token count) keeps every key, run-length coded;
- attn_decode (batch size, kv cache size in steps of 64) is run-length coded along the kv size;
- attn_prefill (kv cache size in steps of 64, chunk size squared) is keyed by the chunk size
  (Vidur's key is round(sqrt(sum of squares))**2, a perfect square) and run-length coded along it.

The header records each input's SHA-256, the source, the licence (MIT, Microsoft: the file
LICENSE.vidur-MIT beside the data) and how Vidur combines the tables into a batch time.
"""
import bisect
import csv
import gzip
import hashlib
import os
import sys

TOKEN_OPS = [  # per-layer operators keyed by the batch's token count rounded up to 8
    "attn_pre_proj", "attn_post_proj", "attn_rope", "mlp_up_proj", "mlp_down_proj", "mlp_act",
    "input_layernorm", "post_attention_layernorm", "add", "all_reduce",
]
TOKENS_MAX = 4096  # prediction_max_tokens_per_request (Vidur's default, config.py)
TOKEN_ROUND = 8  # batch._total_num_tokens_rounded (vidur/entities/batch.py)
KV_ROUND = 64  # kv_cache_prediction_granularity (config.py)
KV_MAX = 4096
BATCH_MAX = 128  # prediction_max_batch_size
CHUNK_MAX = 4096  # prediction_max_prefill_chunk_size


def find(d, op):
    names = [n for n in os.listdir(d) if n.startswith(op + "_") and
             n.endswith("_predictions.csv.gz") and not n.endswith("_training_predictions.csv.gz")
             and n[len(op) + 1:].split("_")[0].isalnum() and len(n[len(op) + 1:].split("_")) == 2]
    if len(names) != 1:
        sys.exit(f"{d}: expected one {op}_<hash>_predictions.csv.gz, found {names}")
    return os.path.join(d, names[0])


def rows(path, header):
    with gzip.open(path, "rt", newline="") as f:
        r = csv.reader(f)
        h = next(r)
        if h != header:
            sys.exit(f"{path}: header {h}, expected {header}")
        return [row for row in r]


def val(s, path):
    v = float(s)  # the text is kept as written; strtod reads it to this same double
    if not (v >= 0):
        sys.exit(f"{path}: negative or NaN time {s}")
    return s


def rle(keys_vals):
    """[(key, text)] sorted by key -> the rows where the value changes."""
    out, prev = [], None
    for k, v in keys_vals:
        if float(v) != prev:
            out.append((k, v))
            prev = float(v)
    return out


class Keyed(list):
    """Rows (key, value) in key order, with their keys apart for bisect."""

    def __init__(self):
        super().__init__()
        self.keys = []

    def add(self, k, v):
        self.keys.append(k)
        self.append((k, v))


def check(d, prof):
    """Compare PROFILE's expanded tables with the prediction files."""
    hdr, tables, cur, left = {}, {}, None, 0
    inputs = {}
    with open(prof) as f:
        for line in f:
            line = line.rstrip("\n")
            if left:
                tables[cur].append(line.split())
                left -= 1
            elif line.startswith("table "):
                _, cur, n = line.split()
                tables[cur], left = [], int(n)
            elif line.startswith("input: "):
                name, h = line[7:].split()
                inputs[name] = h
            elif ": " in line and not line.startswith("#"):
                k, v = line.split(": ", 1)
                hdr[k] = v

    def at1(rs, key):  # the value of the row with the largest key <= key (rs sorted by key)
        i = bisect.bisect_right([r[0] for r in rs], key) if not isinstance(rs, Keyed) else \
            bisect.bisect_right(rs.keys, key)
        return float(rs[i - 1][1]) if i else None

    n = 0
    for name, h in inputs.items():
        with open(os.path.join(d, name), "rb") as f:
            if hashlib.sha256(f.read()).hexdigest() != h:
                sys.exit(f"{prof}: recorded sha256 of {name} differs from the file")
    for op in TOKEN_OPS + ["attn_kv_cache_save"]:
        p = find(d, op)
        t = {int(k): float(v) for k, v in rows(p, ["num_tokens", "prediction"])}
        step = 1 if op == "attn_kv_cache_save" else TOKEN_ROUND
        rs = [(int(r[0]), float(r[1])) for r in tables[op]]
        j, cur_v = 0, None
        for k in range(step, TOKENS_MAX + 1, step):
            while j < len(rs) and rs[j][0] <= k:
                cur_v = rs[j][1]
                j += 1
            if cur_v != t[k]:
                sys.exit(f"{op} at {k}: profile {cur_v!r}, prediction {t[k]!r}")
            n += 1
    p = find(d, "attn_decode")
    by_b = {}
    for b, kv, v in tables["attn_decode"]:
        by_b.setdefault(int(b), Keyed()).add(int(kv), v)
    for b, kv, v in rows(p, ["batch_size", "kv_cache_size", "prediction"]):
        if at1(by_b.get(int(b), []), int(kv)) != float(v):
            sys.exit(f"attn_decode at {b},{kv}: differs")
        n += 1
    p = find(d, "attn_prefill")
    by_kv = {}
    for kv, c, v in tables["attn_prefill"]:
        by_kv.setdefault(int(kv), Keyed()).add(int(c), v)
    for kv, c2, v in rows(p, ["kv_cache_size", "prefill_chunk_size_squared", "prediction"]):
        c = int(round(int(c2) ** 0.5))
        if at1(by_kv.get(int(kv), []), c) != float(v):
            sys.exit(f"attn_prefill at {kv},{c2}: differs")
        n += 1
    print(f"{prof}: {n} keys match the prediction files")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--check":
        d = sys.argv[2]
        if not os.path.isdir(d) and os.environ.get("LENSIM_DATA"):
            d = os.path.join(os.environ["LENSIM_DATA"], "vidur", "predictions")
        if not os.path.isdir(d):  # meson's skip status: no data directory here
            print(f"SKIP: no prediction tables at {sys.argv[2]} (or $LENSIM_DATA/vidur/predictions)")
            sys.exit(77)
        return check(d, sys.argv[3])
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    d, out = sys.argv[1], sys.argv[2]
    inputs, sections = [], []

    for op in TOKEN_OPS + ["attn_kv_cache_save"]:
        p = find(d, op)
        inputs.append(p)
        t = {}
        for k, v in rows(p, ["num_tokens", "prediction"]):
            t[int(k)] = val(v, p)
        if sorted(t) != list(range(1, TOKENS_MAX + 1)):
            sys.exit(f"{p}: num_tokens is not exactly 1..{TOKENS_MAX}")
        step = 1 if op == "attn_kv_cache_save" else TOKEN_ROUND
        kv = [(k, t[k]) for k in range(step, TOKENS_MAX + 1, step)]
        r = rle(kv)
        sections.append((op, [f"{k} {v}" for k, v in r]))

    p = find(d, "attn_decode")
    inputs.append(p)
    t = {}
    for b, kv, v in rows(p, ["batch_size", "kv_cache_size", "prediction"]):
        t[(int(b), int(kv))] = val(v, p)
    want = {(b, kv) for b in range(1, BATCH_MAX + 1) for kv in range(0, KV_MAX + 1, KV_ROUND)}
    if set(t) != want:
        sys.exit(f"{p}: keys are not batch 1..{BATCH_MAX} x kv 0..{KV_MAX} step {KV_ROUND}")
    lines = []
    for b in range(1, BATCH_MAX + 1):
        for kv, v in rle([(kv, t[(b, kv)]) for kv in range(0, KV_MAX + 1, KV_ROUND)]):
            lines.append(f"{b} {kv} {v}")
    sections.append(("attn_decode", lines))

    p = find(d, "attn_prefill")
    inputs.append(p)
    t = {}
    for kv, c2, v in rows(p, ["kv_cache_size", "prefill_chunk_size_squared", "prediction"]):
        c2 = int(c2)
        c = int(round(c2 ** 0.5))
        if c * c != c2:
            sys.exit(f"{p}: prefill_chunk_size_squared {c2} is not a square")
        t[(int(kv), c)] = val(v, p)
    want = {(kv, c) for kv in range(0, KV_MAX + 1, KV_ROUND) for c in range(1, CHUNK_MAX + 1)}
    if set(t) != want:
        sys.exit(f"{p}: keys are not kv 0..{KV_MAX} step {KV_ROUND} x chunk 1..{CHUNK_MAX}")
    lines = []
    for kv in range(0, KV_MAX + 1, KV_ROUND):
        for c, v in rle([(c, t[(kv, c)]) for c in range(1, CHUNK_MAX + 1)]):
            lines.append(f"{kv} {c} {v}")
    sections.append(("attn_prefill", lines))

    def sha(path):
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    # Memory: K and V of 48 layers x 8 KV heads x 128 dims x 2 bytes (fp16) per token; capacity
    # as 27,904 blocks of 16 tokens, Vidur's block count for this setup (issue 10).
    kv_bytes = 2 * 48 * 8 * 128 * 2
    # fp16 weights: per layer Q, K, V, O projections and the gated MLP; embedding and LM head
    # (vocabulary 32,000, CodeLlama-34B's config.json).
    weights = 2 * (48 * (8192 * (8192 + 2 * 1024) + 8192 * 8192 + 3 * 8192 * 22016) +
                   2 * 32000 * 8192)
    head = [
        "# lensim table profile; format: calib/PROFILE.md (lensim-table/1)",
        "# Written by tools/vidur_tables.py from Vidur's prediction tables; do not edit.",
        "# Source: Microsoft Vidur (github.com/microsoft/vidur), commit",
        "#   7d47513363ec447a741ac5e47241580b47724fbf: the sklearn execution-time predictor's",
        "#   lookup tables for CodeLlama-34B, TP2, A100, a100_pairwise_nvlink.",
        "# Licence: MIT, Copyright (c) Microsoft Corporation (LICENSE.vidur-MIT beside the data).",
        "# Times: ms per layer. Values copied exactly; rows only where a value changes.",
        "format: lensim-table/1",
        "model: codellama-34b",
        "shape: 48 8192 64 8 128 22016",
        "device: a100-80gb",
        "source: vidur",
        "tp: 2",
        "layers: 48",
        f"tokens_max: {TOKENS_MAX}",
        f"token_round: {TOKEN_ROUND}",
        f"kv_round: {KV_ROUND}",
        f"kv_max: {KV_MAX}",
        f"batch_max: {BATCH_MAX}",
        f"chunk_max: {CHUNK_MAX}",
        "decode_overhead: 0.1",
        "prefill_overhead: 0.1",
        "nccl_launch_ms: 0.02",
        "nccl_skew_ms: 0",
        "post_attn_norm: 1",
        f"kv_bytes_per_token: {kv_bytes}",
        f"kv_capacity_bytes: {27904 * 16 * kv_bytes}",
        f"weight_bytes: {weights}",
    ]
    for p in inputs:
        head.append(f"input: {os.path.basename(p)} {sha(p)}")
    body = []
    for name, lines in sections:
        body.append(f"table {name} {len(lines)}")
        body.extend(lines)
    body.append("end")
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(head + body) + "\n")
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
