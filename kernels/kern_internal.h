/*
 * kern_internal.h: what kern.c (the device-independent iteration), kern_cpu.c and kern_cuda.c
 * (the two devices) share (R5: kern__ names, never in a public header).
 *
 * A device is a table of memory, copy, fill, timing and graph operations; kern.c lays out the
 * weights, KV cache and workspace through it and runs the ops through the variant registry.
 */
#ifndef LENSIM_KERN_INTERNAL_H
#define LENSIM_KERN_INTERNAL_H

#include "kern.h"

struct kern__dev {
    const char          *name;
    enum kern_backend_id id;
    size_t               elem_bytes;
    /* Open the device (stream, BLAS handle, timers); fill b->ctx. 0, SIM_ENODEV or SIM_ECUDA. */
    int (*init)(kern_backend_t *b, struct sim_msg *err);
    void (*fini)(kern_backend_t *b);
    /* Device memory: 0 or SIM_ENOMEM. free(NULL) is a no-op. */
    int (*alloc)(kern_backend_t *b, void **p, size_t bytes);
    void (*free)(kern_backend_t *b, void *p);
    /* Host staging memory (pinned on CUDA). */
    int (*alloc_host)(kern_backend_t *b, void **p, size_t bytes);
    void (*free_host)(kern_backend_t *b, void *p);
    /* Copies; both complete before returning. */
    int (*h2d)(kern_backend_t *b, void *dst, const void *src, size_t bytes);
    int (*d2h)(kern_backend_t *b, void *dst, const void *src, size_t bytes);
    /* Device-to-device copy, enqueued (not waited for). */
    int (*d2d)(kern_backend_t *b, void *dst, const void *src, size_t bytes);
    /* n elements of the device type: offset + scale * kern_rand_u(seed, i). */
    int (*fill)(kern_backend_t *b, void *p, size_t n, uint64_t seed, float scale, float offset);
    int (*sync)(kern_backend_t *b);
    int (*timer_start)(kern_backend_t *b);
    int (*timer_stop)(kern_backend_t *b, double *seconds);
    int (*flush)(kern_backend_t *b);
    void (*info)(const kern_backend_t *b, struct kern_info *out);
    /* Graphs (NULL on the CPU): capture what `fn` enqueues; launch; drop. */
    int (*graph_capture)(kern_backend_t *b, int (*fn)(kern_backend_t *), void **graph);
    int (*graph_launch)(kern_backend_t *b, void *graph);
    void (*graph_drop)(kern_backend_t *b, void *graph);
};

extern const struct kern__dev kern__dev_cpu;
#ifdef LENSIM_HAVE_CUDA
extern const struct kern__dev kern__dev_cuda;
int                           kern__cuda_device_count(void);
int                           kern__cuda_mem(int device, size_t *free_bytes, size_t *total_bytes);
#endif

/* Issue 13: the CUDA backend is a plugin, lensim-cuda.so beside the binary, so that commands
 * that never touch a GPU do not map libcudart and cuBLAS (220 MB of RSS, 70 ms at start-up).
 * The plugin exports one object, kern__cuda_plugin; kern.c opens it on first use of the cuda
 * backend and refuses it unless abi and backend_size match its own (a plugin from another build
 * would otherwise read struct kern_backend with another layout). */
#define KERN__PLUGIN_ABI 1u
struct kern__plugin {
    unsigned                   abi;
    size_t                     backend_size; /* sizeof(struct kern_backend) in the plugin */
    const struct kern__dev    *dev;
    const struct kern_variant *variants;
    size_t                     n_variants;
    int (*device_count)(void);
    int (*mem)(int device, size_t *free_bytes, size_t *total_bytes);
    /* Unused since issue 18 (kern.c sizes the scratch with kernels/decode_plan.c, built into
     * lensim too); kept so that the plugin's layout does not change. */
    size_t (*attn_decode_work)(uint32_t n, uint32_t n_heads, uint32_t kv_heads, uint32_t head_dim,
                               uint32_t max_len, int n_sm);
};

struct kern__layer {
    void *attn_norm, *wqkv, *wo, *mlp_norm, *wgu, *wdown;
};

/* Fields are private to kern.c, except dev_state (the device's own) and ctx. */
struct kern_backend {
    const struct kern__dev *dev;
    void                   *dev_state;
    struct kern_ctx         ctx;
    struct kern_opts        o;
    int                     have_model, have_pred;
    struct kern_shape       m;
    struct kern_pred_shape  ps;

    void               *weights; /* one allocation, carved below */
    size_t              weight_bytes;
    struct kern__layer *layer; /* host array of m.layers */
    void               *embed, *final_norm, *lm_head;

    void     *kv; /* [layer][k|v][pool tokens][kv_heads][head_dim] */
    size_t    kv_bytes, kv_pool_tok;
    uint32_t  n_blocks, table_stride;
    int32_t  *h_table, *d_table; /* [max_slots][table_stride] block ids, -1 = none */
    int32_t  *perm;              /* initial free-list order (shuffled block ids) */
    int32_t  *free_blk;
    size_t    n_free;
    uint32_t *slot_nblk;

    void  *act; /* activations workspace, carved below */
    size_t act_bytes;
    void  *x, *xn, *qkv, *att, *gu, *mlp, *last, *logits;
    void  *scratch; /* op scratch (ctx.work) */
    size_t scratch_bytes;

    int32_t  *h_meta, *d_meta; /* tokens, pos, slot, len [max_batch_tok] + last [max_seqs] */
    uint32_t  n_rows, n_dec_rows, n_seqs, n_pre, max_dec_len;
    uint32_t *pre_row0, *pre_len; /* host, max_seqs */
    int       prepared;
    void     *graph;
    unsigned  graph_ok, graph_fails; /* issue 18: captures that succeeded, failed */
    char      graph_why[96];         /* the last failure's reason */

    /* predictor */
    void    *pw; /* weights */
    size_t   pw_bytes;
    void    *p_table, *p_bias0, **p_w, **p_b, *p_wout, *p_bout;
    void    *p_y0, *p_y1, *p_out;
    int32_t *h_pmeta, *d_pmeta; /* offs [max_req + 1], idx [max_req * max_feat] */
    uint32_t p_n_req;
    int      p_prepared;
};

/* A backend with a device, a stream and `scratch_bytes` of op scratch but no model (for
 * kcheck). Returns 0 or an error with the reason in err; free with kern_backend_free. */
int kern__backend_bare(const char *backend, int device, size_t scratch_bytes, kern_backend_t **out,
                       struct sim_msg *err);
/* issue 18 kcheck: the scratch the CUDA attn_decode variant's split partials need for n rows
 * of this shape (the plugin's planner, as alloc_work sizes it); 0 with one split or without the
 * plugin. */
size_t kern__cuda_attn_decode_work(uint32_t n, uint32_t n_heads, uint32_t kv_heads,
                                   uint32_t head_dim, uint32_t max_len, int n_sm);
/* end issue 18 kcheck */
static inline int kern__dev_copy(kern_backend_t *b, void *dst, const void *src, size_t n)
{
    return b->dev->d2d(b, dst, src, n);
}

/* Element pointer arithmetic on device buffers of the backend's element type. */
static inline void *kern__at(const kern_backend_t *b, void *p, size_t elems)
{
    return (char *)p + elems * b->dev->elem_bytes;
}

/* CPU variants (kern_cpu.c), registered in kern.c. */
int kern__cpu_gemm_blocked(const struct kern_ctx *c, const struct kern_gemm_args *a);
int kern__cpu_gemm_blas(const struct kern_ctx *c, const struct kern_gemm_args *a);
int kern__cpu_attn_decode(const struct kern_ctx *c, const struct kern_attn_decode_args *a);
int kern__cpu_attn_prefill(const struct kern_ctx *c, const struct kern_attn_prefill_args *a);
int kern__cpu_rmsnorm(const struct kern_ctx *c, const struct kern_rmsnorm_args *a);
int kern__cpu_rope(const struct kern_ctx *c, const struct kern_rope_args *a);
int kern__cpu_kv_append(const struct kern_ctx *c, const struct kern_kv_append_args *a);
int kern__cpu_act(const struct kern_ctx *c, const struct kern_act_args *a);
int kern__cpu_embed(const struct kern_ctx *c, const struct kern_embed_args *a);
int kern__cpu_embag(const struct kern_ctx *c, const struct kern_embag_args *a);
int kern__cpu_bias_act(const struct kern_ctx *c, const struct kern_bias_act_args *a);
/* Scratch bytes kern__cpu_attn_decode / _prefill need. */
size_t kern__cpu_scratch_bytes(uint32_t max_ctx, uint32_t group, uint32_t max_prompt);
int    kern__cpu_have_blas(void);
/* MemAvailable and MemTotal of the host. Returns 0 or SIM_EIO. */
int kern__cpu_mem(size_t *free_bytes, size_t *total_bytes);

#endif
