/*
 * table.h: the table form of a perf profile (`lensim-table/1`, calib/PROFILE.md): measured or
 * predicted per-operator times looked up per batch and combined per layer the way Vidur's
 * execution-time predictor combines them (microsoft/vidur at commit 7d47513,
 * vidur/execution_time_predictor/sklearn_execution_time_predictor.py, the _get_*_time methods,
 * and vidur/entities/execution_time.py, model_time):
 *   n = decode sequences + prefill tokens; r = n rounded up to token_round (batch.py);
 *   attention = pre_proj(r) + post_proj(r) + rope(r) + kv_cache_save(n) + decode + prefill
 *               + tp_comm + input_layernorm(r)
 *   mlp       = up_proj(r) + down_proj(r) + act(r) + tp_comm + post_attention_layernorm(r)
 *   T         = layers * (attention + mlp + add(r)) ms
 *   decode    = attn_decode(n_dec, ceil64(floor(mean decode context))) * (1 + f_dec [n_dec > 1])
 *   prefill   = attn_prefill(sum of ceil64(each prefill's cached tokens),
 *                            round(sqrt(sum of chunk^2))) * (1 + f_pf [n_prefills > 1])
 *   tp_comm   = all_reduce(r) + nccl_launch_ms + nccl_skew_ms * tp^1.25   (tp > 1, else 0)
 * CPU overheads are not modelled (Vidur's skip_cpu_overhead_modeling, its default).
 * Cost: O(1) per batch (dense arrays filled at load). Ownership: cal_table_load returns an owned
 * table (free with cal_table_free). Errors: loading reports "file:line: what"; a lookup outside
 * the tables' ranges is SIM_ECONFIG with the batch and the range, never clamped.
 */
#ifndef LENSIM_TABLE_H
#define LENSIM_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"
#include "sim.h"

typedef struct cal_table cal_table_t;

#define CAL_TABLE_FORMAT "lensim-table/1"

/* Whether the text buf[0..len) is a table profile: its first line that is neither blank nor a
 * comment is `format: lensim-table/1`. Cannot fail. */
int cal_table_detect(const char *buf, size_t len);

/* Parse the table profile text buf[0..len) read from path (named in messages). On success *out
 * is an owned table (free with cal_table_free) and meta receives the profile's model, device,
 * tp and memory fields (n_pieces 0, source "table"). Returns 0, or SIM_ECONFIG with
 * "path:line: what" in err, or SIM_ENOMEM; *out is NULL on error. */
int cal_table_parse(const char *path, const char *buf, size_t len, cal_table_t **out,
                    struct cal_profile *meta, struct sim_msg *err);

/* Releases t (freed when no holder is left: see cal_table_keep). NULL is a no-op. */
void cal_table_free(cal_table_t *t);

/* Issue 13: on != 0: from now on each successful parse is kept, and a later parse of the very
 * same text (compared byte for byte, whatever its path) returns that table again, shared (each
 * holder releases it with cal_table_free), with the same meta, instead of parsing it again:
 * `lensim run` builds each run twice (a check of every run before any is written, then the run)
 * and a sweep's runs share their profile. on == 0: stop, and release the kept table. Off at
 * start. Tables are read-only once parsed, so sharing cannot change a result. Cannot fail
 * (keeping is best effort). Not thread-safe (lensim is single-threaded; workers are processes). */
void cal_table_keep(int on);

/* The prediction granularity of cached-token counts (Vidur's kv_cache_prediction_granularity). */
uint32_t cal_table_kv_round(const cal_table_t *t);

/* The model shape the tables were measured on: layers, hidden, heads, kv_heads, head_dim, ffn
 * (6 values, borrowed from t). */
const uint32_t *cal_table_shape(const cal_table_t *t);

/* One batch as the table form reads it. */
struct cal_table_batch {
    uint32_t decode_seqs; /* sequences computing one token */
    uint64_t decode_ctx;  /* their context (tokens their attention covers), summed */
    uint32_t prefills;    /* sequences prefilling (whole prompts or chunks) */
    uint64_t prefill_tok; /* tokens they compute */
    uint64_t prefill_sq;  /* the square of each one's new tokens, summed */
    uint64_t prefill_kv;  /* each one's cached tokens rounded up to cal_table_kv_round, summed */
};

/* Time of batch b in seconds into *s. Returns 0, or SIM_ECONFIG with the reason in why (*s
 * unchanged) when a key lies outside the tables (more tokens than tokens_max, a decode batch
 * past batch_max, a context or a chunk past the tables) or the batch is empty. Pure. */
int cal_table_latency(const cal_table_t *t, const struct cal_table_batch *b, double *s,
                      struct sim_msg *why);

#endif
