/*
 * kern.h: the kernel backend API (one serving iteration of a model shape, on the CPU or on a
 * CUDA GPU) and the registry of kernel variants (R17).
 *
 * A backend owns random weights for every layer (generated on its device from a seed), a KV
 * cache (contiguous slots or a paged block pool), workspace, and the stream/BLAS handles. One
 * iteration = embedding gather, for every layer [RMSNorm, QKV GEMM, RoPE, KV append, attention
 * (decode rows: split-context kernel over the cache; prompts starting at 0: causal prefill),
 * output GEMM + residual, RMSNorm, gate/up GEMM, activation, down GEMM + residual], then the
 * final RMSNorm and LM head on each sequence's last token. Precision: fp32 on the CPU; bf16
 * storage with fp32 accumulation on CUDA.
 * Use: kern_backend_new, then per batch kern_prepare (validates, assigns KV blocks, uploads the
 * batch's metadata: not timed) and kern_run (enqueues the iteration: this is what is timed).
 * Cost: kern_prepare O(rows + blocks touched); kern_run is the model's work.
 * Ownership: the backend is opaque (kern_backend_free; NULL is a no-op). Not thread-safe.
 * Errors: SIM_ENOMEM, SIM_ECUDA, SIM_ENODEV (backend not built or no GPU), SIM_ECONFIG (shape or
 * batch out of the limits given at creation), SIM_ENOSPC (KV pool exhausted), with a reason in
 * the caller's struct sim_msg.
 */
#ifndef LENSIM_KERN_H
#define LENSIM_KERN_H

#include <stddef.h>
#include <stdint.h>

#include "choice.h"
#include "kern_ops.h"
#include "sim.h"

/* A decoder-only transformer's shape, as one GPU (or the CPU) sees it (already divided by the
 * tensor-parallel degree). */
struct kern_shape {
    uint32_t layers, hidden, heads, kv_heads, head_dim, ffn, vocab;
    int      gated_mlp; /* 1: SwiGLU (gate+up, down); 0: GELU (up, down) */
};

/* The length predictor: hashed text features -> embedding bag -> hidden ReLU layers -> class
 * logits (output-length buckets). Sized by these numbers only, so that a larger predictor (a
 * DistilBERT-sized model) can be timed by the same calls once its ops exist. */
struct kern_pred_shape {
    uint32_t features; /* hash buckets (rows of the embedding table) */
    uint32_t dim;      /* embedding and hidden width */
    uint32_t layers;   /* hidden layers after the embedding bag */
    uint32_t classes;  /* output buckets */
};

struct kern_opts {
    const char         *backend; /* a kern_backend_choices name; NULL = "cpu" */
    uint64_t            seed;    /* weights, KV contents and pseudo-random token ids */
    enum kern_kv_layout kv_layout;
    uint32_t            block_tok;      /* paged: tokens per block (default 16) */
    uint32_t            max_slots;      /* sequences the cache can hold at once */
    uint32_t            max_ctx;        /* tokens per sequence (context + new) */
    size_t              kv_tokens;      /* paged pool size in tokens (0: max_slots x max_ctx) */
    uint32_t            max_batch_tok;  /* rows (tokens) per iteration */
    uint32_t            max_seqs;       /* sequences per iteration */
    uint32_t            max_prompt;     /* longest prompt prefilled from position 0 */
    int                 graphs;         /* CUDA: capture each prepared iteration in a graph */
    int                 device;         /* CUDA device ordinal */
    int                 cpu_threads;    /* CPU: BLAS threads (0: one, for stable timings) */
    const struct kern_pred_shape *pred; /* NULL: no predictor */
    uint32_t                      pred_max_req;  /* predictor batch limit */
    uint32_t                      pred_max_feat; /* hashed features per request, at most */
    /* issue 11: CPU: kern_timer_* measure the calling thread's CPU time instead of wall time
     * (on a shared machine, leaves out the time other processes took; single-threaded BLAS). */
    int cpu_time;
};

typedef struct kern_backend kern_backend_t;

/* Create a backend for shape m (NULL: predictor only). Returns 0 and *out (owned, free with
 * kern_backend_free), or an error with the reason in err and *out NULL. SIM_ENODEV when the
 * backend is not built or no device is present. */
int  kern_backend_new(const struct kern_shape *m, const struct kern_opts *o, kern_backend_t **out,
                      struct sim_msg *err);
void kern_backend_free(kern_backend_t *b);

/* One sequence of a batch: n_new tokens at positions start .. start+n_new-1 of KV slot `slot`.
 * Decode: n_new 1, start = context. Prefill: start 0, n_new = prompt. Anything else is a chunked
 * prefill (its rows go through the decode-attention kernel). tokens: n_new ids or NULL for
 * pseudo-random ids. The slot's cache must hold positions < start: kern_prepare allocates the
 * blocks if needed (their contents are then whatever the pool holds, which is fine for timing). */
struct kern_seq {
    uint32_t       slot, start, n_new;
    const int32_t *tokens;
};
struct kern_batch {
    size_t                 n_seqs;
    const struct kern_seq *seqs;
};

/* Validate b against the limits, allocate KV blocks, lay out rows (decode and chunked rows
 * first, prompts after) and upload the metadata. Returns 0, SIM_ECONFIG or SIM_ENOSPC (reason
 * in err; the previously prepared batch is then no longer runnable). */
int kern_prepare(kern_backend_t *b, const struct kern_batch *batch, struct sim_msg *err);
/* Enqueue the prepared iteration (asynchronous on CUDA: kern_sync waits). Running it again
 * rewrites the same KV positions, so repeats are idempotent. Returns 0 or SIM_ECUDA. */
int kern_run(kern_backend_t *b);
/* Wait for queued work. Returns 0 or SIM_ECUDA. */
int kern_sync(kern_backend_t *b);
/* Copy the last run's logits (one row of vocab per sequence, in batch order) to host floats;
 * out holds n_seqs x vocab. Synchronises. Returns 0 or SIM_ECUDA. */
int kern_logits(kern_backend_t *b, float *out, size_t n_floats);
/* Forget every slot's blocks (the pool becomes free again). Cannot fail. */
void kern_kv_reset(kern_backend_t *b);

/* Predictor: prepare a batch of n_req requests with n_feat[r] hashed features each (ids drawn
 * from the seed), then kern_pred_run enqueues the forward pass. */
int kern_pred_prepare(kern_backend_t *b, uint32_t n_req, const uint32_t *n_feat,
                      struct sim_msg *err);
int kern_pred_run(kern_backend_t *b);

/* Timing hooks for calib/timing.c: a device-side interval (CUDA events; the wall clock on the
 * CPU) and a last-level-cache flush (a memset of twice the L2 on CUDA; a no-op on the CPU,
 * whose timings are warm). kern_timer_stop synchronises and returns seconds. */
int kern_timer_start(kern_backend_t *b);
int kern_timer_stop(kern_backend_t *b, double *seconds);
int kern_flush_cache(kern_backend_t *b);

struct kern_info {
    char   backend[16];
    char   device[128];                        /* "NVIDIA H200" or the CPU model name */
    char   driver[64];                         /* CUDA driver version, "" on the CPU */
    char   runtime[32];                        /* CUDA runtime version, "" on the CPU */
    char   blas[32];                           /* "cublas", "cblas" or "plain C" */
    size_t elem_bytes;                         /* 4 (fp32) or 2 (bf16) */
    size_t weight_bytes, work_bytes, kv_bytes; /* what this backend allocated */
    size_t kv_bytes_per_token;                 /* all layers, K and V */
    size_t mem_total, mem_free;                /* device (or host) memory now */
    int    n_sm;
    size_t l2_bytes;
    /* Issue 18: graph captures of prepared iterations that succeeded and failed (a failed one
     * ran with direct launches), and the last failure's reason. */
    unsigned graph_captures, graph_failures;
    char     graph_why[96];
};
/* Fill *out. Cannot fail. */
void kern_backend_info(const kern_backend_t *b, struct kern_info *out);

/* ---- variant registry (R17) ---- */

enum kern_op {
    KERN_OP_GEMM = 0,
    KERN_OP_RMSNORM,
    KERN_OP_ROPE,
    KERN_OP_KV_APPEND,
    KERN_OP_ATTN_DECODE,
    KERN_OP_ATTN_PREFILL,
    KERN_OP_ACT,
    KERN_OP_EMBED,
    KERN_OP_EMBAG,
    KERN_OP_BIAS_ACT,
    KERN_OP_COUNT
};

union kern_fn {
    int (*gemm)(const struct kern_ctx *, const struct kern_gemm_args *);
    int (*rmsnorm)(const struct kern_ctx *, const struct kern_rmsnorm_args *);
    int (*rope)(const struct kern_ctx *, const struct kern_rope_args *);
    int (*kv_append)(const struct kern_ctx *, const struct kern_kv_append_args *);
    int (*attn_decode)(const struct kern_ctx *, const struct kern_attn_decode_args *);
    int (*attn_prefill)(const struct kern_ctx *, const struct kern_attn_prefill_args *);
    int (*act)(const struct kern_ctx *, const struct kern_act_args *);
    int (*embed)(const struct kern_ctx *, const struct kern_embed_args *);
    int (*embag)(const struct kern_ctx *, const struct kern_embag_args *);
    int (*bias_act)(const struct kern_ctx *, const struct kern_bias_act_args *);
};

struct kern_variant {
    enum kern_op         op;
    int                  version;
    enum kern_backend_id backend;
    const char          *desc;
    union kern_fn        fn;
    /* 1 when the variant handles these args (the op's args struct), 0 otherwise; NULL: all. */
    int (*supports)(const void *args);
};

/* The variants built into this binary and its cuda plugin (opened by this call when built
 * with CUDA); *n receives the count. Never NULL. */
const struct kern_variant *kern_variants(size_t *n);
/* The op's name ("gemm", "attn_decode", ...); NULL for an unknown op. */
const char *kern_op_name(enum kern_op op);
/* Op by name, or -1. */
int kern_op_find(const char *name);
/* The highest-version variant of op on backend that supports args, or NULL. */
const struct kern_variant *kern_variant_best(enum kern_op op, enum kern_backend_id be,
                                             const void *args);

/* bf16 helpers (round to nearest even; NaN stays NaN). */
uint16_t kern_f32_to_bf16(float x);
float    kern_bf16_to_f32(uint16_t x);

/* The backends' names and help (kern_opts.backend), values enum kern_backend_id. */
extern const struct sim_choice kern_backend_choices[];
/* The backend named `name`: returns 0 with *id set, or SIM_ECONFIG with "unknown backend 'x'
 * (cpu|cuda)" in err. Whether this binary has that backend is not checked (kern_have_cuda). */
int kern_backend_of(const char *name, enum kern_backend_id *id, struct sim_msg *err);

/* Free and total memory of a backend's device before any backend is created: host RAM
 * (MemAvailable, MemTotal) for "cpu", the GPU's for "cuda". Returns 0, SIM_ENODEV or SIM_EIO. */
int kern_device_mem(const char *backend, int device, size_t *free_bytes, size_t *total_bytes,
                    struct sim_msg *err);

/* 1 when this binary has the CUDA backend: built with it and, since issue 13, its plugin
 * lensim-cuda.so loads (beside the binary or one folder up). Opens the plugin on first call. */
int kern_have_cuda(void);
/* NULL when the CUDA backend is usable, else why not (a static string, for an error message). */
const char *kern_cuda_why(void);
/* Number of CUDA devices visible (0 when none or not built). */
int kern_cuda_device_count(void);

#endif
