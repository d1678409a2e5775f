/*
 * kern_ops.h: the argument structs of every kernel op, shared by the plain-C references
 * (kernels/ref/), the CPU variants (kern_cpu.c) and the CUDA variants (kernels/<op>.cu).
 *
 * Layout: every matrix is row-major with an explicit leading dimension (elements between rows).
 * Element type: float on the CPU backend and in the references, bf16 (stored as uint16_t) on
 * the CUDA backend; pointers are `void *` and the backend implies the type. Index arrays
 * (int32_t) live where the data lives (host for CPU, device for CUDA) unless a field says "host".
 * Ownership: args borrow every pointer for the duration of the call.
 * Errors: variants return 0, SIM_ECUDA (launch or cuBLAS failure) or SIM_ECONFIG (shape the
 * variant does not support: check `supports` first); references assert their preconditions.
 */
#ifndef LENSIM_KERN_OPS_H
#define LENSIM_KERN_OPS_H

#include <stddef.h>
#include <stdint.h>

enum kern_backend_id { KERN_BACKEND_CPU = 0, KERN_BACKEND_CUDA = 1 };

/* Where an op runs: the backend's stream and BLAS handle, and a scratch buffer it may use. */
struct kern_ctx {
    enum kern_backend_id backend;
    void                *stream; /* cudaStream_t, or NULL */
    void                *blas;   /* cublasHandle_t, or NULL */
    void                *work;   /* scratch memory on the backend's device */
    size_t               work_bytes;
    int                  n_sm; /* multiprocessors (CUDA); sizes split-context grids */
};

/* C[m][n] = alpha * A[m][k] . B[n][k]^T + beta * C (the "linear layer" form: B holds weights as
 * [out][in]). FLOPs 2mnk. */
struct kern_gemm_args {
    uint32_t    m, n, k;
    const void *a;
    size_t      lda;
    const void *b;
    size_t      ldb;
    void       *c;
    size_t      ldc;
    float       alpha, beta;
};

/* y[i] = x[r] / sqrt(mean(x[r]^2) + eps) * w, r = rows ? rows[i] : i (rows gathers, e.g. the last
 * token of each sequence before the LM head). */
struct kern_rmsnorm_args {
    uint32_t       n, dim;
    const void    *x;
    size_t         ldx;
    const int32_t *rows; /* n row indices into x, or NULL */
    const void    *w;
    void          *y;
    size_t         ldy;
    float          eps;
};

/* Rotary position embedding in place (GPT-NeoX / Llama "rotate half" pairing): for each row i,
 * each of n_heads heads of head_dim starting at column 0, and j < head_dim/2,
 * (x_j, x_{j+d/2}) <- (x_j c - x_{j+d/2} s, x_j s + x_{j+d/2} c), angle pos[i] * theta^(-2j/d). */
struct kern_rope_args {
    uint32_t       n, n_heads, head_dim;
    void          *x;
    size_t         ldx;
    const int32_t *pos;
    float          theta;
};

enum kern_kv_layout { KERN_KV_CONTIGUOUS = 0, KERN_KV_PAGED = 1 };

/* One layer's KV cache. Token t of slot s lives at
 *   contiguous: k + ((s * slot_stride_tok + t) * kv_heads + h) * head_dim
 *   paged:      k + ((block_table[s * table_stride + t / block_tok] * block_tok + t % block_tok)
 *                    * kv_heads + h) * head_dim
 * and likewise in v. */
struct kern_kv {
    enum kern_kv_layout layout;
    uint32_t            kv_heads, head_dim;
    void               *k, *v;
    uint32_t            slot_stride_tok; /* contiguous */
    uint32_t            block_tok;       /* paged */
    const int32_t      *block_table;     /* paged */
    uint32_t            table_stride;    /* paged: blocks per slot in the table */
};

/* Write row i's key and value (src + i*ld_src + k_off, + v_off; kv_heads x head_dim each) into
 * the cache at (slot[i], pos[i]). */
struct kern_kv_append_args {
    struct kern_kv kv;
    uint32_t       n;
    const void    *src;
    size_t         ld_src, k_off, v_off;
    const int32_t *slot, *pos;
};

/* Attention of n query rows over the cache: row i's n_heads heads (q + i*ldq) attend to keys
 * 0 .. len[i]-1 of slot[i]; head h uses KV head h / (n_heads / kv_heads) (grouped-query).
 * o[i] = softmax(scale q.K^T) V. max_len (host) bounds len[]. */
struct kern_attn_decode_args {
    struct kern_kv kv;
    uint32_t       n, n_heads;
    const void    *q;
    size_t         ldq;
    const int32_t *slot, *len;
    uint32_t       max_len;
    void          *o;
    size_t         ldo;
    float          scale;
};

/* Causal self-attention of n_seqs prompts that start at position 0. Sequence s holds rows
 * row0[s] .. row0[s]+len[s]-1 of qkv (host arrays); each row is [Q heads | K heads | V heads]
 * (n_heads, kv_heads, kv_heads heads of head_dim). Output rows go to o at the same row index. */
struct kern_attn_prefill_args {
    uint32_t        n_seqs;
    const uint32_t *row0, *len; /* host */
    uint32_t        n_heads, kv_heads, head_dim;
    const void     *qkv;
    size_t          ldqkv;
    void           *o;
    size_t          ldo;
    float           scale;
};

/* MLP activation. gated: y[i][j] = silu(x[i][j]) * x[i][ffn + j] (SwiGLU, gate then up);
 * otherwise y[i][j] = gelu_tanh(x[i][j]). */
struct kern_act_args {
    uint32_t    n, ffn;
    int         gated;
    const void *x;
    size_t      ldx;
    void       *y;
    size_t      ldy;
};

/* y[i] = table[ids[i]] (rows of dim). */
struct kern_embed_args {
    uint32_t       n, dim;
    const int32_t *ids;
    const void    *table;
    void          *y;
    size_t         ldy;
};

/* Embedding bag (hashed text features, fastText style): y[r] = relu(mean over
 * j in [offs[r], offs[r+1]) of table[idx[j]] + bias). */
struct kern_embag_args {
    uint32_t       n, dim;
    const int32_t *offs, *idx;
    const void    *table, *bias;
    void          *y;
    size_t         ldy;
};

/* In place: x[i][j] = act(x[i][j] + bias[j]), act = relu when relu, identity otherwise. */
struct kern_bias_act_args {
    uint32_t    n, dim;
    void       *x;
    size_t      ldx;
    const void *bias;
    int         relu;
};

#endif
