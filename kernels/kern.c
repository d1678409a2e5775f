/*
 * kern.c: the variant registry (R17) and the device-independent serving iteration (see kern.h).
 *
 * Memory of a backend, all on its device: weights (one allocation), the KV cache
 * ([layer][K|V][pool tokens][kv_heads][head_dim]), activations for max_batch_tok rows, op
 * scratch, and the batch metadata (int32: token, position, slot, attention length per row;
 * last row per sequence). The paged pool's free list starts as a seeded shuffle of the block
 * ids, so a sequence's blocks are scattered through the pool as in a long-running server.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#ifdef LENSIM_CUDA_PLUGIN
#include <dlfcn.h>
#include <unistd.h>
#endif

#include "alloc.h"
#include "decode_plan.h"
#include "kern_internal.h"
#include "kern_rand.h"

/* ---- registry ---- */

static int supports_blas(const void *args)
{
    (void)args;
    return kern__cpu_have_blas();
}

static const struct kern_variant variants[] = {
    {KERN_OP_GEMM,
     1,
     KERN_BACKEND_CPU,
     "blocked C, packed B panel",
     {.gemm = kern__cpu_gemm_blocked},
     NULL},
    {KERN_OP_GEMM,
     2,
     KERN_BACKEND_CPU,
     "cblas_sgemm",
     {.gemm = kern__cpu_gemm_blas},
     supports_blas},
    {KERN_OP_RMSNORM, 1, KERN_BACKEND_CPU, "reference", {.rmsnorm = kern__cpu_rmsnorm}, NULL},
    {KERN_OP_ROPE, 1, KERN_BACKEND_CPU, "reference", {.rope = kern__cpu_rope}, NULL},
    {KERN_OP_KV_APPEND, 1, KERN_BACKEND_CPU, "reference", {.kv_append = kern__cpu_kv_append}, NULL},
    {KERN_OP_ATTN_DECODE,
     1,
     KERN_BACKEND_CPU,
     "scores, softmax, V pass",
     {.attn_decode = kern__cpu_attn_decode},
     NULL},
    {KERN_OP_ATTN_PREFILL,
     1,
     KERN_BACKEND_CPU,
     "GEMM S, causal softmax, GEMM PV",
     {.attn_prefill = kern__cpu_attn_prefill},
     NULL},
    {KERN_OP_ACT, 1, KERN_BACKEND_CPU, "reference", {.act = kern__cpu_act}, NULL},
    {KERN_OP_EMBED, 1, KERN_BACKEND_CPU, "reference", {.embed = kern__cpu_embed}, NULL},
    {KERN_OP_EMBAG, 1, KERN_BACKEND_CPU, "reference", {.embag = kern__cpu_embag}, NULL},
    {KERN_OP_BIAS_ACT, 1, KERN_BACKEND_CPU, "reference", {.bias_act = kern__cpu_bias_act}, NULL},
};

static const char *const op_names[KERN_OP_COUNT] = {
    "gemm",         "rmsnorm", "rope",  "kv_append", "attn_decode",
    "attn_prefill", "act",     "embed", "embag",     "bias_act",
};

/* ---- the CUDA plugin (issue 13) ---- */

#ifdef LENSIM_CUDA_PLUGIN
static const struct kern__plugin *plugin;
static int                        plugin_tried;
static char                       plugin_why[512] = "the cuda plugin has not been looked for";

/* Candidate i (0, 1) of the plugin's path: beside the running binary, then one folder up (the
 * test programs sit in build/tests, the plugin in build/). 0, or -1 when there is none. */
static int plugin_path(int i, char *out, size_t size)
{
    char    exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -1;
    *slash = 0;
    int w = snprintf(out, size, "%s/%slensim-cuda.so", exe, i ? "../" : "");
    return w > 0 && (size_t)w < size ? 0 : -1;
}

/* The plugin, opened on first call; NULL with the reason in plugin_why when it cannot be. */
static const struct kern__plugin *cuda_plugin(void)
{
    if (plugin_tried)
        return plugin;
    plugin_tried = 1;
    char path[2][4200] = {"?", "?"};
    for (int i = 0; i < 2; i++) {
        if (plugin_path(i, path[i], sizeof path[i]) || access(path[i], F_OK))
            continue;
        void *h = dlopen(path[i], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            snprintf(plugin_why, sizeof plugin_why, "cannot load the cuda plugin: %.400s",
                     dlerror());
            return NULL;
        }
        const struct kern__plugin *p = dlsym(h, "kern__cuda_plugin");
        if (!p || p->abi != KERN__PLUGIN_ABI || p->backend_size != sizeof(struct kern_backend)) {
            snprintf(plugin_why, sizeof plugin_why,
                     "%.300s is not this build's cuda plugin (%s); rebuild it with this binary",
                     path[i], p ? "another interface version" : "no kern__cuda_plugin symbol");
            dlclose(h);
            return NULL;
        }
        return plugin = p; /* kept open until exit */
    }
    snprintf(plugin_why, sizeof plugin_why,
             "the cuda backend's plugin lensim-cuda.so is missing: looked for %.200s and %.200s",
             path[0], path[1]);
    return NULL;
}
#endif

const char *kern_cuda_why(void)
{
#ifdef LENSIM_CUDA_PLUGIN
    return cuda_plugin() ? NULL : plugin_why;
#else
    return "the cuda backend is not built into this binary "
           "(meson -Dcuda=enabled needs nvcc and cuBLAS)";
#endif
}

/* The CUDA registry rows (opening the plugin), or none. */
static const struct kern_variant *cuda_variants(size_t *n)
{
#ifdef LENSIM_CUDA_PLUGIN
    const struct kern__plugin *p = cuda_plugin();
    if (p) {
        *n = p->n_variants;
        return p->variants;
    }
#endif
    *n = 0;
    return NULL;
}

const struct kern_variant *kern_variants(size_t *n)
{
    enum { N_CPU = sizeof variants / sizeof variants[0] };
    static struct kern_variant all[N_CPU + 64];
    static size_t              n_all;
    if (!n_all) {
        size_t                     nc;
        const struct kern_variant *c = cuda_variants(&nc);
        memcpy(all, variants, sizeof variants);
        if (nc > sizeof all / sizeof all[0] - N_CPU)
            nc = sizeof all / sizeof all[0] - N_CPU;
        if (nc)
            memcpy(all + N_CPU, c, nc * sizeof *c);
        n_all = N_CPU + nc;
    }
    *n = n_all;
    return all;
}

const char *kern_op_name(enum kern_op op)
{
    return (unsigned)op < KERN_OP_COUNT ? op_names[op] : NULL;
}

int kern_op_find(const char *name)
{
    for (int i = 0; i < KERN_OP_COUNT; i++)
        if (!strcmp(op_names[i], name))
            return i;
    return -1;
}

const struct kern_variant *kern_variant_best(enum kern_op op, enum kern_backend_id be,
                                             const void *args)
{
    const struct kern_variant *best = NULL, *tab = variants;
    size_t                     n = sizeof variants / sizeof variants[0];
    if (be != KERN_BACKEND_CPU) /* the CPU path never opens the plugin */
        tab = cuda_variants(&n);
    for (size_t i = 0; i < n; i++) {
        const struct kern_variant *v = &tab[i];
        if (v->op != op || v->backend != be || (best && best->version >= v->version))
            continue;
        if (v->supports && !v->supports(args))
            continue;
        best = v;
    }
    return best;
}

int kern_have_cuda(void) { return kern_cuda_why() == NULL; }

int kern_cuda_device_count(void)
{
#ifdef LENSIM_CUDA_PLUGIN
    return cuda_plugin() ? plugin->device_count() : 0;
#else
    return 0;
#endif
}

/* issue 18 kcheck */
size_t kern__cuda_attn_decode_work(uint32_t n, uint32_t n_heads, uint32_t kv_heads,
                                   uint32_t head_dim, uint32_t max_len, int n_sm)
{
#ifdef LENSIM_CUDA_PLUGIN
    if (cuda_plugin())
        return plugin->attn_decode_work(n, n_heads, kv_heads, head_dim, max_len, n_sm);
#else
    (void)n, (void)n_heads, (void)kv_heads, (void)head_dim, (void)max_len, (void)n_sm;
#endif
    return 0;
}
/* end issue 18 kcheck */

const struct sim_choice kern_backend_choices[] = {
    {"cpu", KERN_BACKEND_CPU, "the host: C reference kernels over OpenBLAS"},
    {"cuda", KERN_BACKEND_CUDA, "an NVIDIA GPU: CUDA kernels and cuBLAS (needs -Dcuda=enabled)"},
    {NULL, 0, NULL},
};

int kern_backend_of(const char *name, enum kern_backend_id *id, struct sim_msg *err)
{
    const struct sim_choice *c = sim_choice_find(kern_backend_choices, name);
    char                     names[64];
    if (!c)
        return sim_msg_set(err, SIM_ECONFIG, "unknown backend '%s' (%s)", name,
                           sim_choice_list(kern_backend_choices, names, sizeof names));
    *id = (enum kern_backend_id)c->value;
    return SIM_OK;
}

/* The device table of a backend, or NULL when this binary lacks it. */
static const struct kern__dev *dev_of(enum kern_backend_id id)
{
#ifdef LENSIM_CUDA_PLUGIN
    if (id == KERN_BACKEND_CUDA)
        return cuda_plugin() ? plugin->dev : NULL;
#endif
    return id == KERN_BACKEND_CPU ? &kern__dev_cpu : NULL;
}

int kern_device_mem(const char *backend, int device, size_t *free_bytes, size_t *total_bytes,
                    struct sim_msg *err)
{
    enum kern_backend_id id = KERN_BACKEND_CPU;
    int                  rc = kern_backend_of(backend, &id, err);
    if (rc)
        return rc;
    if (id == KERN_BACKEND_CPU) {
        (void)device;
        if (kern__cpu_mem(free_bytes, total_bytes))
            return sim_msg_set(err, SIM_EIO, "cannot read /proc/meminfo");
        return SIM_OK;
    }
#ifdef LENSIM_CUDA_PLUGIN
    if (!cuda_plugin())
        return sim_msg_set(err, SIM_ENODEV, "%s", plugin_why);
    if ((rc = plugin->mem(device, free_bytes, total_bytes)))
        return sim_msg_set(err, rc, "cuda device %d: cannot read its memory (%s)", device,
                           rc == SIM_ENODEV ? "no such device" : "CUDA error");
    return SIM_OK;
#else
    return sim_msg_set(err, SIM_ENODEV, "the cuda backend is not built into this binary");
#endif
}

uint16_t kern_f32_to_bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);          /* round to nearest, ties to even */
    return (uint16_t)(u >> 16);
}

float kern_bf16_to_f32(uint16_t x)
{
    uint32_t u = (uint32_t)x << 16;
    float    f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- op dispatch through the registry ---- */

#define OP_CALL(b, OP, field, args)                                                  \
    do {                                                                             \
        const struct kern_variant *v_ = kern_variant_best(OP, (b)->dev->id, (args)); \
        if (!v_)                                                                     \
            return SIM_ECONFIG;                                                      \
        int rc_ = v_->fn.field(&(b)->ctx, (args));                                   \
        if (rc_)                                                                     \
            return rc_;                                                              \
    } while (0)

/* ---- creation ---- */

static size_t align_elems(size_t n) { return (n + 127) & ~(size_t)127; } /* 256 B for bf16 */

static size_t layer_elems(const struct kern_shape *m, size_t *parts)
{
    size_t qkv = (size_t)(m->heads + 2 * m->kv_heads) * m->head_dim;
    size_t sz[6] = {
        align_elems(m->hidden),                                           /* attn_norm */
        align_elems(qkv * m->hidden),                                     /* wqkv */
        align_elems((size_t)m->hidden * m->heads * m->head_dim),          /* wo */
        align_elems(m->hidden),                                           /* mlp_norm */
        align_elems((size_t)(m->gated_mlp ? 2 : 1) * m->ffn * m->hidden), /* wgu */
        align_elems((size_t)m->hidden * m->ffn),                          /* wdown */
    };
    size_t t = 0;
    for (int i = 0; i < 6; i++) {
        if (parts)
            parts[i] = sz[i];
        t += sz[i];
    }
    return t;
}

static int check_shape(const struct kern_shape *m, struct sim_msg *err)
{
    if (!m->layers || !m->hidden || !m->heads || !m->kv_heads || !m->head_dim || !m->ffn ||
        !m->vocab)
        return sim_msg_set(err, SIM_ECONFIG, "model shape has a zero dimension");
    if (m->heads % m->kv_heads)
        return sim_msg_set(err, SIM_ECONFIG, "heads %u not a multiple of kv_heads %u", m->heads,
                           m->kv_heads);
    if (m->head_dim % 8)
        return sim_msg_set(err, SIM_ECONFIG, "head_dim %u not a multiple of 8", m->head_dim);
    return SIM_OK;
}

static int fill_matrix(kern_backend_t *b, void *p, size_t rows, size_t in, uint64_t seed)
{
    /* Uniform(-a, a) with a = sqrt(3 / in): unit-variance inputs give unit-variance outputs, so
     * activations stay finite through every layer without a trained model. */
    return b->dev->fill(b, p, rows * in, seed, sqrtf(3.0f / (float)in), 0.0f);
}

static int alloc_model(kern_backend_t *b, struct sim_msg *err)
{
    const struct kern_shape *m = &b->m;
    const struct kern__dev  *d = b->dev;
    size_t                   parts[6], le = layer_elems(m, parts);
    size_t                   emb = align_elems((size_t)m->vocab * m->hidden);
    size_t                   n_el = le * m->layers + 2 * emb + align_elems(m->hidden);
    b->weight_bytes = n_el * d->elem_bytes;
    if (d->alloc(b, &b->weights, b->weight_bytes))
        return sim_msg_set(err, SIM_ENOMEM, "%s: cannot allocate %.1f MB of weights", d->name,
                           b->weight_bytes / 1e6);
    b->layer = sim_calloc(m->layers, sizeof *b->layer);
    if (!b->layer)
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    size_t   off = 0;
    uint64_t s = b->o.seed * 1000003u;
    int      rc = 0;
    uint32_t qkv = (m->heads + 2 * m->kv_heads) * m->head_dim;
    for (uint32_t l = 0; l < m->layers && !rc; l++) {
        struct kern__layer *L = &b->layer[l];
        void **slot[6] = {&L->attn_norm, &L->wqkv, &L->wo, &L->mlp_norm, &L->wgu, &L->wdown};
        for (int i = 0; i < 6; i++) {
            *slot[i] = kern__at(b, b->weights, off);
            off += parts[i];
        }
        uint64_t ls = s + 16u * l;
        rc = rc ? rc : d->fill(b, L->attn_norm, m->hidden, ls + 1, 0.1f, 1.0f);
        rc = rc ? rc : fill_matrix(b, L->wqkv, qkv, m->hidden, ls + 2);
        rc = rc ? rc : fill_matrix(b, L->wo, m->hidden, (size_t)m->heads * m->head_dim, ls + 3);
        rc = rc ? rc : d->fill(b, L->mlp_norm, m->hidden, ls + 4, 0.1f, 1.0f);
        rc = rc ? rc : fill_matrix(b, L->wgu, (m->gated_mlp ? 2u : 1u) * m->ffn, m->hidden, ls + 5);
        rc = rc ? rc : fill_matrix(b, L->wdown, m->hidden, m->ffn, ls + 6);
    }
    b->embed = kern__at(b, b->weights, off);
    off += emb;
    b->lm_head = kern__at(b, b->weights, off);
    off += emb;
    b->final_norm = kern__at(b, b->weights, off);
    uint64_t gs = s + 16u * m->layers;
    rc = rc ? rc : d->fill(b, b->embed, (size_t)m->vocab * m->hidden, gs + 1, sqrtf(3.0f), 0.0f);
    rc = rc ? rc : fill_matrix(b, b->lm_head, m->vocab, m->hidden, gs + 2);
    rc = rc ? rc : d->fill(b, b->final_norm, m->hidden, gs + 3, 0.1f, 1.0f);
    if (rc)
        return sim_msg_set(err, rc, "%s: cannot initialise the weights", d->name);
    return SIM_OK;
}

static int alloc_kv(kern_backend_t *b, struct sim_msg *err)
{
    const struct kern_shape *m = &b->m;
    const struct kern__dev  *d = b->dev;
    struct kern_opts        *o = &b->o;
    size_t                   pool;
    if (o->kv_layout == KERN_KV_CONTIGUOUS) {
        pool = (size_t)o->max_slots * o->max_ctx;
        b->n_blocks = 0;
        b->table_stride = 0;
    } else {
        size_t want = o->kv_tokens ? o->kv_tokens : (size_t)o->max_slots * o->max_ctx;
        b->n_blocks = (uint32_t)((want + o->block_tok - 1) / o->block_tok);
        pool = (size_t)b->n_blocks * o->block_tok;
        b->table_stride = (o->max_ctx + o->block_tok - 1) / o->block_tok;
    }
    b->kv_pool_tok = pool;
    size_t n_el = 2 * (size_t)m->layers * pool * m->kv_heads * m->head_dim;
    b->kv_bytes = n_el * d->elem_bytes;
    if (d->alloc(b, &b->kv, b->kv_bytes))
        return sim_msg_set(err, SIM_ENOMEM, "%s: cannot allocate %.1f MB of KV cache", d->name,
                           b->kv_bytes / 1e6);
    /* Random contents: a decode step over a context that was never prefilled still reads
     * finite, non-zero values (timing on zeros can flatter a kernel). */
    int rc = d->fill(b, b->kv, n_el, b->o.seed ^ 0x6b76u, 1.0f, 0.0f);
    if (rc)
        return sim_msg_set(err, rc, "%s: cannot initialise the KV cache", d->name);
    if (o->kv_layout == KERN_KV_PAGED) {
        size_t tn = (size_t)o->max_slots * b->table_stride;
        b->h_table = sim_malloc(sizeof *b->h_table * tn);
        b->perm = sim_malloc(sizeof *b->perm * b->n_blocks);
        b->free_blk = sim_malloc(sizeof *b->free_blk * b->n_blocks);
        b->slot_nblk = sim_calloc(o->max_slots, sizeof *b->slot_nblk);
        if (!b->h_table || !b->perm || !b->free_blk || !b->slot_nblk ||
            d->alloc(b, (void **)&b->d_table, sizeof *b->d_table * tn))
            return sim_msg_set(err, SIM_ENOMEM, "out of memory for the block table");
        for (uint32_t i = 0; i < b->n_blocks; i++)
            b->perm[i] = (int32_t)i;
        for (uint32_t i = b->n_blocks; i > 1; i--) { /* Fisher-Yates, seeded */
            uint32_t j = (uint32_t)(kern_mix64(b->o.seed ^ (0x5eedull << 32) ^ i) % i);
            int32_t  t = b->perm[i - 1];
            b->perm[i - 1] = b->perm[j];
            b->perm[j] = t;
        }
        kern_kv_reset(b);
    }
    return SIM_OK;
}

static int alloc_work(kern_backend_t *b, struct sim_msg *err)
{
    const struct kern_shape *m = &b->m;
    const struct kern__dev  *d = b->dev;
    size_t                   T = b->o.max_batch_tok, S = b->o.max_seqs;
    size_t                   parts[8] = {
                          align_elems(T * m->hidden),                                  /* x */
                          align_elems(T * m->hidden),                                  /* xn */
                          align_elems(T * (m->heads + 2 * m->kv_heads) * m->head_dim), /* qkv */
                          align_elems(T * m->heads * m->head_dim),                     /* att */
                          align_elems(T * (m->gated_mlp ? 2 : 1) * m->ffn),            /* gu */
                          align_elems(T * m->ffn),                                     /* mlp */
                          align_elems(S * m->hidden),                                  /* last */
                          align_elems(S * m->vocab),                                   /* logits */
    };
    size_t n_el = 0;
    for (int i = 0; i < 8; i++)
        n_el += parts[i];
    b->act_bytes = n_el * d->elem_bytes;
    if (d->alloc(b, &b->act, b->act_bytes))
        return sim_msg_set(err, SIM_ENOMEM, "%s: cannot allocate %.1f MB of activations", d->name,
                           b->act_bytes / 1e6);
    void **p[8] = {&b->x, &b->xn, &b->qkv, &b->att, &b->gu, &b->mlp, &b->last, &b->logits};
    size_t off = 0;
    for (int i = 0; i < 8; i++) {
        *p[i] = kern__at(b, b->act, off);
        off += parts[i];
    }
    /* Poisoned once (finite values): nothing reads activations before writing them, but a bug
     * that did would show as a mismatch rather than as luck. */
    int rc = d->fill(b, b->act, n_el, b->o.seed ^ 0xac7u, 1.0f, 0.0f);
    if (rc)
        return sim_msg_set(err, rc, "%s: cannot initialise the activations", d->name);

    uint32_t group = m->heads / m->kv_heads;
    if (d->id == KERN_BACKEND_CPU) {
        b->scratch_bytes = kern__cpu_scratch_bytes(b->o.max_ctx, group, b->o.max_prompt);
    } else {
        /* Issue 18: the worst plan over every reachable (decode rows, length), from the planner
         * the decode kernel uses (kernels/decode_plan.c; tests/test_decode_plan.c). */
        b->scratch_bytes = kern_decode_cuda_scratch(b->o.max_seqs, b->o.max_ctx, b->o.max_prompt,
                                                    m->heads, m->kv_heads, m->head_dim,
                                                    b->ctx.n_sm);
    }
    if (b->scratch_bytes < 256)
        b->scratch_bytes = 256;
    if (d->alloc(b, &b->scratch, b->scratch_bytes))
        return sim_msg_set(err, SIM_ENOMEM, "%s: cannot allocate %.1f MB of scratch", d->name,
                           b->scratch_bytes / 1e6);
    b->ctx.work = b->scratch;
    b->ctx.work_bytes = b->scratch_bytes;

    size_t mi = 4 * T + S;
    if (d->alloc_host(b, (void **)&b->h_meta, mi * sizeof(int32_t)) ||
        d->alloc(b, (void **)&b->d_meta, mi * sizeof(int32_t)))
        return sim_msg_set(err, SIM_ENOMEM, "out of memory for batch metadata");
    b->pre_row0 = sim_malloc(sizeof *b->pre_row0 * S);
    b->pre_len = sim_malloc(sizeof *b->pre_len * S);
    if (!b->pre_row0 || !b->pre_len)
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    return SIM_OK;
}

static int alloc_pred(kern_backend_t *b, struct sim_msg *err)
{
    const struct kern_pred_shape *p = &b->ps;
    const struct kern__dev       *d = b->dev;
    if (!p->features || !p->dim || !p->classes || !b->o.pred_max_req || !b->o.pred_max_feat)
        return sim_msg_set(err, SIM_ECONFIG, "predictor shape or limits have a zero dimension");
    size_t D = p->dim, R = b->o.pred_max_req;
    size_t n_el = align_elems((size_t)p->features * D) + align_elems(D) +
                  p->layers * (align_elems(D * D) + align_elems(D)) +
                  align_elems((size_t)p->classes * D) + align_elems(p->classes) +
                  2 * align_elems(R * D) + align_elems(R * p->classes);
    b->pw_bytes = n_el * d->elem_bytes;
    b->p_w = sim_calloc(p->layers + 1, sizeof *b->p_w);
    b->p_b = sim_calloc(p->layers + 1, sizeof *b->p_b);
    if (!b->p_w || !b->p_b || d->alloc(b, &b->pw, b->pw_bytes))
        return sim_msg_set(err, SIM_ENOMEM, "%s: cannot allocate the predictor", d->name);
    int    rc = d->fill(b, b->pw, n_el, b->o.seed ^ 0x9eedu, 0.05f, 0.0f);
    size_t off = 0;
#define CARVE(ptr, n)                    \
    do {                                 \
        (ptr) = kern__at(b, b->pw, off); \
        off += align_elems(n);           \
    } while (0)
    CARVE(b->p_table, (size_t)p->features * D);
    CARVE(b->p_bias0, D);
    for (uint32_t l = 0; l < p->layers; l++) {
        CARVE(b->p_w[l], D * D);
        CARVE(b->p_b[l], D);
        rc = rc ? rc : fill_matrix(b, b->p_w[l], D, D, b->o.seed + 77u + l);
    }
    CARVE(b->p_wout, (size_t)p->classes * D);
    CARVE(b->p_bout, p->classes);
    CARVE(b->p_y0, R * D);
    CARVE(b->p_y1, R * D);
    CARVE(b->p_out, R * p->classes);
#undef CARVE
    rc = rc ? rc : fill_matrix(b, b->p_wout, p->classes, D, b->o.seed + 99u);
    size_t mi = R + 1 + R * b->o.pred_max_feat;
    if (rc || d->alloc_host(b, (void **)&b->h_pmeta, mi * sizeof(int32_t)) ||
        d->alloc(b, (void **)&b->d_pmeta, mi * sizeof(int32_t)))
        return sim_msg_set(err, rc ? rc : SIM_ENOMEM, "%s: cannot set up the predictor", d->name);
    return SIM_OK;
}

int kern_backend_new(const struct kern_shape *m, const struct kern_opts *o, kern_backend_t **out,
                     struct sim_msg *err)
{
    *out = NULL;
    enum kern_backend_id id = KERN_BACKEND_CPU; /* the default */
    if (o->backend) {
        int rc = kern_backend_of(o->backend, &id, err);
        if (rc)
            return rc;
    }
    const struct kern__dev *dev = dev_of(id);
    if (!dev)
        return sim_msg_set(err, SIM_ENODEV, "%s", kern_cuda_why());
    if (m) {
        int rc = check_shape(m, err);
        if (rc)
            return rc;
    }
    if (!m && !o->pred)
        return sim_msg_set(err, SIM_ECONFIG, "backend with neither a model nor a predictor");

    kern_backend_t *b = sim_calloc(1, sizeof *b);
    if (!b)
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    b->dev = dev;
    b->o = *o;
    b->o.backend = dev->name;
    if (!b->o.block_tok)
        b->o.block_tok = 16;
    if (!b->o.max_seqs)
        b->o.max_seqs = 1;
    if (!b->o.max_slots)
        b->o.max_slots = b->o.max_seqs;
    if (!b->o.max_ctx)
        b->o.max_ctx = 256;
    if (!b->o.max_batch_tok)
        b->o.max_batch_tok = b->o.max_seqs;
    if (b->o.max_prompt > b->o.max_ctx)
        b->o.max_prompt = b->o.max_ctx;
    if (b->o.max_prompt > b->o.max_batch_tok)
        b->o.max_prompt = b->o.max_batch_tok;
    b->o.pred = NULL;
    if (o->pred) {
        b->ps = *o->pred;
        b->have_pred = 1;
    }
    int rc = dev->init(b, err);
    if (rc) {
        dev->fini(b); /* what init opened before failing (stream, events, cuBLAS handle) */
        sim_free(b);
        return rc;
    }
    if (m) {
        b->m = *m;
        b->have_model = 1;
        rc = alloc_model(b, err);
        rc = rc ? rc : alloc_kv(b, err);
        rc = rc ? rc : alloc_work(b, err);
    }
    rc = rc ? rc : (b->have_pred ? alloc_pred(b, err) : 0);
    rc = rc ? rc : dev->sync(b);
    if (rc) {
        if (!err || !err->text[0])
            sim_msg_set(err, rc, "%s backend: %s", dev->name, sim_strerror(rc));
        kern_backend_free(b);
        return rc;
    }
    *out = b;
    return SIM_OK;
}

int kern__backend_bare(const char *backend, int device, size_t scratch_bytes, kern_backend_t **out,
                       struct sim_msg *err)
{
    *out = NULL;
    enum kern_backend_id    id;
    const struct kern__dev *dev = kern_backend_of(backend, &id, err) ? NULL : dev_of(id);
    if (!dev)
        return sim_msg_set(err, SIM_ENODEV, "backend '%s' is not built", backend);
    kern_backend_t *b = sim_calloc(1, sizeof *b);
    if (!b)
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    b->dev = dev;
    b->o.backend = dev->name;
    b->o.device = device;
    int rc = dev->init(b, err);
    if (rc) {
        dev->fini(b); /* what init opened before failing */
        sim_free(b);
        return rc;
    }
    b->scratch_bytes = scratch_bytes;
    if (dev->alloc(b, &b->scratch, scratch_bytes)) {
        kern_backend_free(b);
        return sim_msg_set(err, SIM_ENOMEM, "cannot allocate %zu bytes of scratch", scratch_bytes);
    }
    b->ctx.work = b->scratch;
    b->ctx.work_bytes = scratch_bytes;
    *out = b;
    return SIM_OK;
}

void kern_backend_free(kern_backend_t *b)
{
    if (!b)
        return;
    const struct kern__dev *d = b->dev;
    if (b->graph && d->graph_drop)
        d->graph_drop(b, b->graph);
    d->free(b, b->weights);
    d->free(b, b->kv);
    d->free(b, b->d_table);
    d->free(b, b->act);
    d->free(b, b->scratch);
    d->free(b, b->d_meta);
    d->free_host(b, b->h_meta);
    d->free(b, b->pw);
    d->free(b, b->d_pmeta);
    d->free_host(b, b->h_pmeta);
    sim_free(b->layer);
    sim_free(b->h_table);
    sim_free(b->perm);
    sim_free(b->free_blk);
    sim_free(b->slot_nblk);
    sim_free(b->pre_row0);
    sim_free(b->pre_len);
    sim_free(b->p_w);
    sim_free(b->p_b);
    d->fini(b);
    sim_free(b);
}

void kern_kv_reset(kern_backend_t *b)
{
    if (!b->have_model || b->o.kv_layout != KERN_KV_PAGED)
        return;
    size_t tn = (size_t)b->o.max_slots * b->table_stride;
    for (size_t i = 0; i < tn; i++)
        b->h_table[i] = -1;
    for (uint32_t i = 0; i < b->n_blocks; i++) /* popped from the end: perm order reversed */
        b->free_blk[i] = b->perm[b->n_blocks - 1 - i];
    b->n_free = b->n_blocks;
    memset(b->slot_nblk, 0, sizeof *b->slot_nblk * b->o.max_slots);
    b->prepared = 0;
}

/* ---- the iteration ---- */

static struct kern_kv layer_kv(const kern_backend_t *b, uint32_t l)
{
    size_t         per = b->kv_pool_tok * b->m.kv_heads * b->m.head_dim;
    struct kern_kv kv = {
        .layout = b->o.kv_layout,
        .kv_heads = b->m.kv_heads,
        .head_dim = b->m.head_dim,
        .k = kern__at(b, b->kv, 2 * l * per),
        .v = kern__at(b, b->kv, (2 * l + 1) * per),
        .slot_stride_tok = b->o.max_ctx,
        .block_tok = b->o.block_tok,
        .block_table = b->d_table,
        .table_stride = b->table_stride,
    };
    return kv;
}

static int enqueue(kern_backend_t *b)
{
    const struct kern_shape *m = &b->m;
    size_t                   T = b->o.max_batch_tok;
    const int32_t           *tok = b->d_meta, *pos = b->d_meta + T, *slot = b->d_meta + 2 * T,
                  *len = b->d_meta + 3 * T, *last = b->d_meta + 4 * T;
    uint32_t n = b->n_rows, H = m->heads, KV = m->kv_heads, d = m->head_dim, h = m->hidden;
    size_t   ldqkv = (size_t)(H + 2 * KV) * d, ldgu = (size_t)(m->gated_mlp ? 2 : 1) * m->ffn;
    float    scale = 1.0f / sqrtf((float)d);

    struct kern_embed_args ea =
        {.n = n, .dim = h, .ids = tok, .table = b->embed, .y = b->x, .ldy = h};
    OP_CALL(b, KERN_OP_EMBED, embed, &ea);
    for (uint32_t l = 0; l < m->layers; l++) {
        const struct kern__layer *L = &b->layer[l];
        struct kern_kv            kv = layer_kv(b, l);
        struct kern_rmsnorm_args  n1 = {.n = n,
                                        .dim = h,
                                        .x = b->x,
                                        .ldx = h,
                                        .rows = NULL,
                                        .w = L->attn_norm,
                                        .y = b->xn,
                                        .ldy = h,
                                        .eps = 1e-5f};
        OP_CALL(b, KERN_OP_RMSNORM, rmsnorm, &n1);
        struct kern_gemm_args g1 = {.m = n,
                                    .n = (uint32_t)ldqkv,
                                    .k = h,
                                    .a = b->xn,
                                    .lda = h,
                                    .b = L->wqkv,
                                    .ldb = h,
                                    .c = b->qkv,
                                    .ldc = ldqkv,
                                    .alpha = 1.0f,
                                    .beta = 0.0f};
        OP_CALL(b, KERN_OP_GEMM, gemm, &g1);
        struct kern_rope_args ro = {.n = n,
                                    .n_heads = H + KV,
                                    .head_dim = d,
                                    .x = b->qkv,
                                    .ldx = ldqkv,
                                    .pos = pos,
                                    .theta = 10000.0f};
        OP_CALL(b, KERN_OP_ROPE, rope, &ro);
        struct kern_kv_append_args ap = {.kv = kv,
                                         .n = n,
                                         .src = b->qkv,
                                         .ld_src = ldqkv,
                                         .k_off = (size_t)H * d,
                                         .v_off = (size_t)(H + KV) * d,
                                         .slot = slot,
                                         .pos = pos};
        OP_CALL(b, KERN_OP_KV_APPEND, kv_append, &ap);
        if (b->n_dec_rows) {
            struct kern_attn_decode_args at = {.kv = kv,
                                               .n = b->n_dec_rows,
                                               .n_heads = H,
                                               .q = b->qkv,
                                               .ldq = ldqkv,
                                               .slot = slot,
                                               .len = len,
                                               .max_len = b->max_dec_len,
                                               .o = b->att,
                                               .ldo = (size_t)H * d,
                                               .scale = scale};
            OP_CALL(b, KERN_OP_ATTN_DECODE, attn_decode, &at);
        }
        if (b->n_pre) {
            struct kern_attn_prefill_args ap2 = {.n_seqs = b->n_pre,
                                                 .row0 = b->pre_row0,
                                                 .len = b->pre_len,
                                                 .n_heads = H,
                                                 .kv_heads = KV,
                                                 .head_dim = d,
                                                 .qkv = b->qkv,
                                                 .ldqkv = ldqkv,
                                                 .o = b->att,
                                                 .ldo = (size_t)H * d,
                                                 .scale = scale};
            OP_CALL(b, KERN_OP_ATTN_PREFILL, attn_prefill, &ap2);
        }
        struct kern_gemm_args g2 = {.m = n,
                                    .n = h,
                                    .k = H * d,
                                    .a = b->att,
                                    .lda = (size_t)H * d,
                                    .b = L->wo,
                                    .ldb = (size_t)H * d,
                                    .c = b->x,
                                    .ldc = h,
                                    .alpha = 1.0f,
                                    .beta = 1.0f};
        OP_CALL(b, KERN_OP_GEMM, gemm, &g2);
        struct kern_rmsnorm_args n2 = {.n = n,
                                       .dim = h,
                                       .x = b->x,
                                       .ldx = h,
                                       .rows = NULL,
                                       .w = L->mlp_norm,
                                       .y = b->xn,
                                       .ldy = h,
                                       .eps = 1e-5f};
        OP_CALL(b, KERN_OP_RMSNORM, rmsnorm, &n2);
        struct kern_gemm_args g3 = {.m = n,
                                    .n = (uint32_t)ldgu,
                                    .k = h,
                                    .a = b->xn,
                                    .lda = h,
                                    .b = L->wgu,
                                    .ldb = h,
                                    .c = b->gu,
                                    .ldc = ldgu,
                                    .alpha = 1.0f,
                                    .beta = 0.0f};
        OP_CALL(b, KERN_OP_GEMM, gemm, &g3);
        struct kern_act_args ac = {.n = n,
                                   .ffn = m->ffn,
                                   .gated = m->gated_mlp,
                                   .x = b->gu,
                                   .ldx = ldgu,
                                   .y = b->mlp,
                                   .ldy = m->ffn};
        OP_CALL(b, KERN_OP_ACT, act, &ac);
        struct kern_gemm_args g4 = {.m = n,
                                    .n = h,
                                    .k = m->ffn,
                                    .a = b->mlp,
                                    .lda = m->ffn,
                                    .b = L->wdown,
                                    .ldb = m->ffn,
                                    .c = b->x,
                                    .ldc = h,
                                    .alpha = 1.0f,
                                    .beta = 1.0f};
        OP_CALL(b, KERN_OP_GEMM, gemm, &g4);
    }
    struct kern_rmsnorm_args nf = {.n = b->n_seqs,
                                   .dim = h,
                                   .x = b->x,
                                   .ldx = h,
                                   .rows = last,
                                   .w = b->final_norm,
                                   .y = b->last,
                                   .ldy = h,
                                   .eps = 1e-5f};
    OP_CALL(b, KERN_OP_RMSNORM, rmsnorm, &nf);
    struct kern_gemm_args gl = {.m = b->n_seqs,
                                .n = m->vocab,
                                .k = h,
                                .a = b->last,
                                .lda = h,
                                .b = b->lm_head,
                                .ldb = h,
                                .c = b->logits,
                                .ldc = m->vocab,
                                .alpha = 1.0f,
                                .beta = 0.0f};
    OP_CALL(b, KERN_OP_GEMM, gemm, &gl);
    return SIM_OK;
}

static int is_prompt(const struct kern_seq *s) { return s->start == 0 && s->n_new > 1; }

int kern_prepare(kern_backend_t *b, const struct kern_batch *batch, struct sim_msg *err)
{
    b->prepared = 0;
    if (!b->have_model)
        return sim_msg_set(err, SIM_ECONFIG, "backend has no model");
    const struct kern_opts *o = &b->o;
    if (batch->n_seqs == 0 || batch->n_seqs > o->max_seqs)
        return sim_msg_set(err, SIM_ECONFIG, "batch of %zu sequences (limit 1..%u)", batch->n_seqs,
                           o->max_seqs);
    size_t rows = 0;
    for (size_t i = 0; i < batch->n_seqs; i++) {
        const struct kern_seq *s = &batch->seqs[i];
        if (s->n_new == 0 || s->slot >= o->max_slots || (size_t)s->start + s->n_new > o->max_ctx)
            return sim_msg_set(err, SIM_ECONFIG,
                               "sequence %zu: slot %u start %u n_new %u out of the limits "
                               "(slots %u, context %u)",
                               i, s->slot, s->start, s->n_new, o->max_slots, o->max_ctx);
        if (is_prompt(s) && s->n_new > o->max_prompt)
            return sim_msg_set(err, SIM_ECONFIG, "sequence %zu: prompt of %u tokens (limit %u)", i,
                               s->n_new, o->max_prompt);
        for (size_t j = 0; j < i; j++)
            if (batch->seqs[j].slot == s->slot)
                return sim_msg_set(err, SIM_ECONFIG, "slot %u appears twice in one batch", s->slot);
        rows += s->n_new;
    }
    if (rows > o->max_batch_tok)
        return sim_msg_set(err, SIM_ECONFIG, "batch of %zu tokens (limit %u)", rows,
                           o->max_batch_tok);

    if (o->kv_layout == KERN_KV_PAGED) {
        for (size_t i = 0; i < batch->n_seqs; i++) {
            const struct kern_seq *s = &batch->seqs[i];
            uint32_t               need = (s->start + s->n_new + o->block_tok - 1) / o->block_tok;
            while (b->slot_nblk[s->slot] < need) {
                if (!b->n_free)
                    return sim_msg_set(err, SIM_ENOSPC, "KV pool of %u blocks exhausted",
                                       b->n_blocks);
                b->h_table[(size_t)s->slot * b->table_stride + b->slot_nblk[s->slot]++] =
                    b->free_blk[--b->n_free];
            }
        }
    }

    size_t   T = o->max_batch_tok;
    int32_t *tok = b->h_meta, *pos = b->h_meta + T, *slot = b->h_meta + 2 * T,
            *len = b->h_meta + 3 * T, *last = b->h_meta + 4 * T;
    uint32_t r = 0;
    b->n_pre = 0;
    b->max_dec_len = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < batch->n_seqs; i++) {
            const struct kern_seq *s = &batch->seqs[i];
            if (is_prompt(s) != pass)
                continue;
            if (pass) {
                b->pre_row0[b->n_pre] = r;
                b->pre_len[b->n_pre++] = s->n_new;
            }
            for (uint32_t j = 0; j < s->n_new; j++, r++) {
                uint32_t p = s->start + j;
                tok[r] = s->tokens ? s->tokens[j]
                                   : (int32_t)(kern_mix64(o->seed ^ ((uint64_t)s->slot << 32) ^ p) %
                                               b->m.vocab);
                if (tok[r] < 0 || (uint32_t)tok[r] >= b->m.vocab)
                    return sim_msg_set(err, SIM_ECONFIG, "token id %d out of the vocabulary",
                                       tok[r]);
                pos[r] = (int32_t)p;
                slot[r] = (int32_t)s->slot;
                len[r] = (int32_t)p + 1;
                if (!pass && p + 1 > b->max_dec_len)
                    b->max_dec_len = p + 1;
            }
            last[i] = (int32_t)r - 1;
        }
        if (!pass)
            b->n_dec_rows = r;
    }
    b->n_rows = r;
    b->n_seqs = (uint32_t)batch->n_seqs;
    const struct kern__dev *d = b->dev;
    int rc = d->h2d(b, b->d_meta, b->h_meta, (4 * T + o->max_seqs) * sizeof(int32_t));
    if (!rc && o->kv_layout == KERN_KV_PAGED)
        rc = d->h2d(b, b->d_table, b->h_table,
                    (size_t)o->max_slots * b->table_stride * sizeof(int32_t));
    if (rc)
        return sim_msg_set(err, rc, "cannot upload the batch metadata");
    if (b->graph) {
        d->graph_drop(b, b->graph);
        b->graph = NULL;
    }
    if (o->graphs && d->graph_capture) {
        /* Issue 18: a failed capture is counted and its reason kept (kern_backend_info, and the
         * calibration profile's warnings); this batch runs with direct launches and the next
         * prepare tries to capture again. */
        rc = d->graph_capture(b, enqueue, &b->graph);
        if (rc) {
            if (!b->graph_fails++)
                sim_log_warn("%s: graph capture failed (%s); launching this batch directly",
                             d->name, sim_strerror(rc));
            snprintf(b->graph_why, sizeof b->graph_why, "%s", sim_strerror(rc));
            b->graph = NULL;
        } else {
            b->graph_ok++;
        }
    }
    b->prepared = 1;
    return SIM_OK;
}

int kern_run(kern_backend_t *b)
{
    SIM_ASSERT(b->prepared);
    if (b->graph)
        return b->dev->graph_launch(b, b->graph);
    return enqueue(b);
}

int kern_sync(kern_backend_t *b) { return b->dev->sync(b); }

int kern_logits(kern_backend_t *b, float *out, size_t n_floats)
{
    SIM_ASSERT(b->prepared && n_floats >= (size_t)b->n_seqs * b->m.vocab);
    size_t n = (size_t)b->n_seqs * b->m.vocab;
    int    rc = b->dev->sync(b);
    if (rc)
        return rc;
    if (b->dev->elem_bytes == sizeof(float))
        return b->dev->d2h(b, out, b->logits, n * sizeof(float));
    uint16_t *tmp = sim_malloc(n * sizeof *tmp);
    if (!tmp)
        return SIM_ENOMEM;
    rc = b->dev->d2h(b, tmp, b->logits, n * sizeof *tmp);
    for (size_t i = 0; !rc && i < n; i++)
        out[i] = kern_bf16_to_f32(tmp[i]);
    sim_free(tmp);
    return rc;
}

/* ---- predictor ---- */

int kern_pred_prepare(kern_backend_t *b, uint32_t n_req, const uint32_t *n_feat,
                      struct sim_msg *err)
{
    b->p_prepared = 0;
    if (!b->have_pred)
        return sim_msg_set(err, SIM_ECONFIG, "backend has no predictor");
    if (n_req == 0 || n_req > b->o.pred_max_req)
        return sim_msg_set(err, SIM_ECONFIG, "predictor batch of %u (limit 1..%u)", n_req,
                           b->o.pred_max_req);
    int32_t *offs = b->h_pmeta, *idx = b->h_pmeta + b->o.pred_max_req + 1;
    offs[0] = 0;
    for (uint32_t r = 0; r < n_req; r++) {
        if (n_feat[r] > b->o.pred_max_feat)
            return sim_msg_set(err, SIM_ECONFIG, "request %u: %u features (limit %u)", r, n_feat[r],
                               b->o.pred_max_feat);
        offs[r + 1] = offs[r] + (int32_t)n_feat[r];
        for (int32_t j = offs[r]; j < offs[r + 1]; j++)
            idx[j] = (int32_t)(kern_mix64(b->o.seed ^ 0xfea7u ^ ((uint64_t)r << 32) ^ (uint64_t)j) %
                               b->ps.features);
    }
    /* idx is uploaded at its fixed offset, so the layout matches h_pmeta. */
    int rc = b->dev->h2d(b, b->d_pmeta, b->h_pmeta,
                         (b->o.pred_max_req + 1 + (size_t)offs[n_req]) * sizeof(int32_t));
    if (rc)
        return sim_msg_set(err, rc, "cannot upload the predictor batch");
    b->p_n_req = n_req;
    b->p_prepared = 1;
    return SIM_OK;
}

int kern_pred_run(kern_backend_t *b)
{
    SIM_ASSERT(b->p_prepared);
    const struct kern_pred_shape *p = &b->ps;
    uint32_t                      R = b->p_n_req, D = p->dim;
    const int32_t                *offs = b->d_pmeta, *idx = b->d_pmeta + b->o.pred_max_req + 1;
    struct kern_embag_args        eb = {.n = R,
                                        .dim = D,
                                        .offs = offs,
                                        .idx = idx,
                                        .table = b->p_table,
                                        .bias = b->p_bias0,
                                        .y = b->p_y0,
                                        .ldy = D};
    OP_CALL(b, KERN_OP_EMBAG, embag, &eb);
    void *in = b->p_y0, *outb = b->p_y1;
    for (uint32_t l = 0; l < p->layers; l++) {
        struct kern_gemm_args g = {.m = R,
                                   .n = D,
                                   .k = D,
                                   .a = in,
                                   .lda = D,
                                   .b = b->p_w[l],
                                   .ldb = D,
                                   .c = outb,
                                   .ldc = D,
                                   .alpha = 1.0f,
                                   .beta = 0.0f};
        OP_CALL(b, KERN_OP_GEMM, gemm, &g);
        struct kern_bias_act_args ba =
            {.n = R, .dim = D, .x = outb, .ldx = D, .bias = b->p_b[l], .relu = 1};
        OP_CALL(b, KERN_OP_BIAS_ACT, bias_act, &ba);
        void *t = in;
        in = outb;
        outb = t;
    }
    struct kern_gemm_args go = {.m = R,
                                .n = p->classes,
                                .k = D,
                                .a = in,
                                .lda = D,
                                .b = b->p_wout,
                                .ldb = D,
                                .c = b->p_out,
                                .ldc = p->classes,
                                .alpha = 1.0f,
                                .beta = 0.0f};
    OP_CALL(b, KERN_OP_GEMM, gemm, &go);
    struct kern_bias_act_args bo =
        {.n = R, .dim = p->classes, .x = b->p_out, .ldx = p->classes, .bias = b->p_bout, .relu = 0};
    OP_CALL(b, KERN_OP_BIAS_ACT, bias_act, &bo);
    return SIM_OK;
}

/* ---- timing and information ---- */

int kern_timer_start(kern_backend_t *b) { return b->dev->timer_start(b); }
int kern_timer_stop(kern_backend_t *b, double *s) { return b->dev->timer_stop(b, s); }
int kern_flush_cache(kern_backend_t *b) { return b->dev->flush(b); }

void kern_backend_info(const kern_backend_t *b, struct kern_info *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->backend, sizeof out->backend, "%s", b->dev->name);
    out->elem_bytes = b->dev->elem_bytes;
    out->weight_bytes = b->weight_bytes + b->pw_bytes;
    out->work_bytes = b->act_bytes + b->scratch_bytes;
    out->kv_bytes = b->kv_bytes;
    if (b->have_model)
        out->kv_bytes_per_token = 2 * (size_t)b->m.layers * b->m.kv_heads * b->m.head_dim *
                                  b->dev->elem_bytes;
    out->n_sm = b->ctx.n_sm;
    out->graph_captures = b->graph_ok; /* issue 18 */
    out->graph_failures = b->graph_fails;
    snprintf(out->graph_why, sizeof out->graph_why, "%s", b->graph_why);
    b->dev->info(b, out);
}
