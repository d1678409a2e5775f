/*
 * decode_bench.c: `lensim-decode-bench` (issue 18), decode-attention bandwidth on a CUDA GPU as a
 * fraction of the measured copy bandwidth, for calib/gpu-check.sh.
 *
 *   lensim-decode-bench [--device N] [--paged] [--reps N]
 *
 * Shapes: head_dim 128, 32 query heads; MHA (32 KV heads) and GQA with G = 4 (8 KV heads) and
 * G = 8 (4 KV heads); batch B in {1, 8, 64} rows, each attending to ctx in {1024, 4096, 16384}
 * keys (every row its own sequence). One cache of the largest shape (17.2 GB at MHA, B 64,
 * ctx 16k) is allocated once and reused. Each point: 2 warm-up runs, then `reps` (default 10)
 * runs each after an L2 flush, median. Bytes = K and V read once: 2 x B x ctx x kv_heads x 128 x
 * 2; the copy ceiling is a 1 GiB device-to-device copy, bytes read + written, median of 10.
 * Expected device time on an H200: under 10 s (about 3 s of kernels, the rest start-up and fills).
 *
 * Output: "ceiling copy X GB/s", then one line per point:
 *   decode_bw <mha|gqa4|gqa8> B=<b> ctx=<n> <median> us <GB/s> GB/s <percent>% of copy
 * Exit status: 0; 77 without a CUDA backend or device; 1 on a CUDA error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "decode_plan.h"
#include "kern_internal.h"

enum { D = 128, H = 32, MAXB = 64, MAXCTX = 16384 };

struct bench {
    kern_backend_t              *b;
    const struct kern_variant   *v;
    struct kern_attn_decode_args a;
    void                        *src, *dst;
    size_t                       copy_bytes;
};

static int run_decode(struct bench *x) { return x->v->fn.attn_decode(&x->b->ctx, &x->a); }
static int run_copy(struct bench *x) { return kern__dev_copy(x->b, x->dst, x->src, x->copy_bytes); }

static int cmp_d(const void *p, const void *q)
{
    double a = *(const double *)p, b = *(const double *)q;
    return a < b ? -1 : a > b;
}

/* Median seconds of reps runs (after 2 untimed), each after an L2 flush when flush. */
static int median(struct bench *x, int (*fn)(struct bench *), int reps, int flush, double *out)
{
    const struct kern__dev *d = x->b->dev;
    double                  t[64];
    int                     rc = 0;
    for (int i = 0; i < 2 && !rc; i++)
        rc = fn(x);
    for (int i = 0; i < reps && !rc; i++) {
        rc = flush ? d->flush(x->b) : 0;
        rc = rc ? rc : d->timer_start(x->b);
        rc = rc ? rc : fn(x);
        rc = rc ? rc : d->timer_stop(x->b, &t[i]);
    }
    if (rc)
        return rc;
    qsort(t, (size_t)reps, sizeof t[0], cmp_d);
    *out = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
    return SIM_OK;
}

int main(int argc, char **argv)
{
    int device = 0, paged = 0, reps = 10;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc)
            device = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--paged"))
            paged = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: lensim-decode-bench [--device N] [--paged] [--reps 1..64]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > 64) {
        fprintf(stderr, "lensim-decode-bench: --reps must be 1..64\n");
        return 2;
    }
    struct sim_msg err = {{0}};
    struct bench   x = {0};
    if (kern__backend_bare("cuda", device, 256, &x.b, &err)) {
        fprintf(stderr, "lensim-decode-bench: %s\n", err.text);
        return 77;
    }
    const struct kern__dev *d = x.b->dev;
    int                     rc = 0;
    /* scratch for the largest plan of any point */
    size_t work = 0;
    for (uint32_t kv = H; kv >= H / 8; kv /= 2) {
        size_t w = kern_decode_work(MAXB, H, kv, D, MAXCTX, x.b->ctx.n_sm);
        work = w > work ? w : work;
    }
    void    *scratch = NULL;
    size_t   kv_el = (size_t)MAXB * MAXCTX * H * D; /* the MHA cache, largest */
    void    *k = NULL, *v = NULL, *q = NULL, *o = NULL;
    int32_t *meta = NULL, hmeta[2 * MAXB];
    /* paged: one block table of 16-token blocks, row r's blocks in a shuffled order */
    uint32_t bt = 16, nb = MAXB * MAXCTX / 16;
    int32_t *table = NULL, *htable = NULL;
    rc = d->alloc(x.b, &scratch, work ? work : 256) || d->alloc(x.b, &k, 2 * kv_el) ||
         d->alloc(x.b, &v, 2 * kv_el) || d->alloc(x.b, &q, 2 * (size_t)MAXB * H * D) ||
         d->alloc(x.b, &o, 2 * (size_t)MAXB * H * D) ||
         d->alloc(x.b, (void **)&meta, sizeof hmeta) ||
         d->alloc(x.b, (void **)&table, sizeof(int32_t) * nb);
    if (rc) {
        fprintf(stderr, "lensim-decode-bench: cannot allocate %.1f GB on the device\n",
                4.0 * kv_el / 1e9);
        kern_backend_free(x.b);
        return 1;
    }
    x.b->ctx.work = scratch;
    x.b->ctx.work_bytes = work;
    rc = d->fill(x.b, k, kv_el, 11, 1.0f, 0.0f);
    rc = rc ? rc : d->fill(x.b, v, kv_el, 12, 1.0f, 0.0f);
    rc = rc ? rc : d->fill(x.b, q, (size_t)MAXB * H * D, 13, 1.0f, 0.0f);
    htable = sim_malloc(sizeof(int32_t) * nb);
    if (!htable)
        rc = SIM_ENOMEM;
    for (uint32_t i = 0; !rc && i < nb; i++) /* a fixed scatter: block i -> i x 40503 mod nb */
        htable[i] = (int32_t)((uint64_t)i * 40503u % nb); /* gcd(40503, 2^16) = 1: a permutation */
    rc = rc ? rc : d->h2d(x.b, table, htable, sizeof(int32_t) * nb);
    sim_free(htable);

    /* the copy ceiling */
    x.copy_bytes = (size_t)1 << 30;
    x.src = k;
    x.dst = v;
    double tc = 0;
    rc = rc ? rc : median(&x, run_copy, 10, 0, &tc);
    double copy_bps = 2.0 * (double)x.copy_bytes / tc;
    if (!rc)
        printf("ceiling copy %.0f GB/s (1 GiB device-to-device, read + write)\n", copy_bps / 1e9);
    rc = rc ? rc : d->fill(x.b, v, kv_el, 12, 1.0f, 0.0f);

    static const uint32_t kvs[] = {H, H / 4, H / 8}, bs[] = {1, 8, 64},
                          ctxs[] = {1024, 4096, MAXCTX};
    static const char *names[] = {"mha", "gqa4", "gqa8"};
    for (int gi = 0; gi < 3 && !rc; gi++)
        for (int bi = 0; bi < 3 && !rc; bi++)
            for (int ci = 0; ci < 3 && !rc; ci++) {
                uint32_t B = bs[bi], L = ctxs[ci], KV = kvs[gi];
                for (uint32_t r = 0; r < B; r++) {
                    hmeta[r] = (int32_t)r;        /* slot */
                    hmeta[MAXB + r] = (int32_t)L; /* len */
                }
                rc = d->h2d(x.b, meta, hmeta, sizeof hmeta);
                x.a = (struct kern_attn_decode_args){
                    .kv = {.layout = paged ? KERN_KV_PAGED : KERN_KV_CONTIGUOUS,
                           .kv_heads = KV,
                           .head_dim = D,
                           .k = k,
                           .v = v,
                           .slot_stride_tok = L,
                           .block_tok = bt,
                           .block_table = table,
                           .table_stride = L / bt},
                    .n = B,
                    .n_heads = H,
                    .q = q,
                    .ldq = (size_t)H * D,
                    .slot = meta,
                    .len = meta + MAXB,
                    .max_len = L,
                    .o = o,
                    .ldo = (size_t)H * D,
                    .scale = 0.08838835f};
                x.v = kern_variant_best(KERN_OP_ATTN_DECODE, KERN_BACKEND_CUDA, &x.a);
                if (!x.v) {
                    fprintf(stderr, "lensim-decode-bench: no decode variant for %s\n", names[gi]);
                    rc = SIM_ECONFIG;
                    break;
                }
                double t = 0;
                rc = rc ? rc : median(&x, run_decode, reps, 1, &t);
                if (rc)
                    break;
                double bytes = 2.0 * B * L * KV * D * 2;
                printf("decode_bw %-4s B=%-2u ctx=%-5u %9.1f us %7.0f GB/s %5.1f%% of copy\n",
                       names[gi], B, L, t * 1e6, bytes / t / 1e9, 100.0 * bytes / t / copy_bps);
                fflush(stdout);
            }
    if (rc)
        fprintf(stderr, "lensim-decode-bench: failed: %s\n", sim_strerror(rc));
    d->free(x.b, k), d->free(x.b, v), d->free(x.b, q), d->free(x.b, o);
    d->free(x.b, meta), d->free(x.b, table), d->free(x.b, scratch);
    x.b->ctx.work = NULL;
    kern_backend_free(x.b);
    return rc ? 1 : 0;
}
