/*
 * presets.h: model shapes and GPU datasheet figures, each with its source in presets.c.
 *
 * A model shape is what the kernels, the KV memory model and the analytic (roofline) profile
 * need; a GPU preset is what the analytic profile and the KV capacity need. Tables are
 * read-only; lookups are by case-insensitive name.
 */
#ifndef LENSIM_PRESETS_H
#define LENSIM_PRESETS_H

#include <stddef.h>
#include <stdint.h>

struct cal_model {
    const char *name;
    uint32_t    layers;
    uint32_t    hidden;   /* model (residual) width */
    uint32_t    heads;    /* query heads */
    uint32_t    kv_heads; /* key/value heads (< heads with grouped-query attention) */
    uint32_t    head_dim;
    uint32_t    ffn; /* MLP inner width */
    uint32_t    vocab;
    uint32_t    dtype_bytes; /* 2 for fp16/bf16 weights and KV */
    uint32_t    max_ctx;     /* native context length, tokens */
    int         gated_mlp;   /* 1: SwiGLU (3 matrices), 0: GELU/ReLU MLP (2 matrices) */
    double      n_params;    /* parameter count, including embeddings */
};

struct cal_gpu {
    const char *name;
    double      mem_bytes;  /* device memory as the driver reports it */
    double      hbm_bw;     /* bytes/s, datasheet */
    double      peak_flops; /* dense fp16/bf16 tensor FLOP/s, datasheet */
    double      pcie_bw;    /* host link bytes/s, one direction */
    double      link_bw;    /* GPU-GPU (NVLink) bytes/s, one direction, for tensor parallelism */
};

/* NULL-terminated tables (the terminator has name NULL). */
extern const struct cal_model cal_models[];
extern const struct cal_gpu   cal_gpus[];

/* Lookups by name, case-insensitive. NULL when unknown. */
const struct cal_model *cal_model_find(const char *name);
const struct cal_gpu   *cal_gpu_find(const char *name);

/* The preset names in table order, joined by sep ("a100-40gb, h200"), into buf of n > 0 bytes
 * (truncated if need be, always NUL-terminated): for help texts and "unknown name" errors.
 * Returns buf. Cannot fail. */
char *cal_model_names(char *buf, size_t n, const char *sep);
char *cal_gpu_names(char *buf, size_t n, const char *sep);
/* The GPU preset a driver's device name ("NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-40GB")
 * stands for: a preset whose family (its name up to the first '-', "h100") appears in the
 * device name, case-insensitive; of several, the one whose size suffix ("40gb") appears too,
 * else the first in the table. NULL when none does. */
const struct cal_gpu *cal_gpu_find_device(const char *device);

/* KV-cache bytes per token of one sequence: 2 (K and V) x layers x kv_heads x head_dim x dtype. */
double cal_model_kv_bytes_per_token(const struct cal_model *m);
/* Weight bytes: n_params x dtype_bytes. */
double cal_model_weight_bytes(const struct cal_model *m);

#endif
