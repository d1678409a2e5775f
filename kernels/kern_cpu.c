/*
 * kern_cpu.c: the CPU device (host memory, wall-clock timing) and the CPU op variants.
 *
 * Variants (registered in kern.c):
 *   gemm v1         cache-blocked C with a packed transposed B panel (no BLAS needed);
 *   gemm v2         cblas_sgemm (OpenBLAS), when built with BLAS;
 *   attn_decode v1  per row and KV head: scores of the head group in scratch, softmax, then one
 *                   pass over V (three passes, no per-key rescaling as in the online form);
 *   attn_prefill v1 per prompt and head: S = scale Q K^T by the best GEMM, causal softmax in
 *                   place, O = P V (the GPU's unfused structure, on the CPU).
 * The element-wise ops (norms, RoPE, KV append, activations, gathers) run the references.
 * Everything is fp32; there is no cache flush between timed repeats (CPU timings are warm).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "kern_internal.h"
#include "kern_rand.h"
#include "ref.h"

#ifdef LENSIM_HAVE_BLAS
#include <cblas.h>
#endif
#ifdef LENSIM_HAVE_OPENBLAS
#include <dlfcn.h>
#endif

/* ---- BLAS ---- */

#ifdef LENSIM_HAVE_OPENBLAS
/* Issue 13: OpenBLAS is opened here, on first use, instead of linked: its library constructor
 * starts a worker thread per core that spins for about 0.1 s, and every lensim command paid for
 * it (a second core burnt during each `lensim run`, ~4 % of its wall time on one core) although
 * only the CPU backend's kernels call it. The soname first, through the loader's search path,
 * as a linked program finds it (on Debian that follows the libopenblas.so.0 alternative the
 * administrator chose: pthread, openmp or serial); then the library the linker would have taken
 * (LENSIM_OPENBLAS_PATH, from pkg-config: a prefix the loader does not search). RTLD_LOCAL: its cblas_sgemm must not take the place of GSL's CBLAS, nor GSL's
 * take its place here. Single-threaded, like the backends that call it. */
typedef void (*sgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint,
                         blasint, blasint, float, const float *, blasint, const float *, blasint,
                         float, float *, blasint);
typedef void (*set_threads_fn)(int);
/* The pointer types must match cblas.h's declarations (_Generic does not evaluate its operand,
 * so this references no symbol). */
_Static_assert(_Generic(&cblas_sgemm, sgemm_fn : 1, default : 0), "cblas_sgemm's type");
_Static_assert(_Generic(&openblas_set_num_threads, set_threads_fn : 1, default : 0),
               "openblas_set_num_threads' type");

static struct {
    int            tried, ok;
    sgemm_fn       sgemm;
    set_threads_fn set_threads;
    char           why[512];
} ob;

static void *ob_sym(void *h, const char *name)
{
    dlerror();
    return dlsym(h, name);
}

static int ob_open(void)
{
    if (ob.tried)
        return ob.ok;
    ob.tried = 1;
    static const char *const names[] = {"libopenblas.so.0", LENSIM_OPENBLAS_PATH};
    void                    *h = NULL;
    size_t                   len = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !h; i++) {
        if (!names[i][0])
            continue;
        h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char *e = dlerror();
            len += (size_t)snprintf(ob.why + len, len < sizeof ob.why ? sizeof ob.why - len : 0,
                                    "%s%s", len ? "; " : "", e ? e : names[i]);
            if (len >= sizeof ob.why)
                len = sizeof ob.why - 1;
        }
    }
    if (!h)
        return 0;
    /* Object and function pointers: POSIX dlsym's documented conversion. */
    void *f = ob_sym(h, "cblas_sgemm"), *t = ob_sym(h, "openblas_set_num_threads");
    if (!f || !t) {
        snprintf(ob.why, sizeof ob.why, "the OpenBLAS library opened lacks %s",
                 !f ? "cblas_sgemm" : "openblas_set_num_threads");
        dlclose(h);
        return 0;
    }
    memcpy(&ob.sgemm, &f, sizeof ob.sgemm);
    memcpy(&ob.set_threads, &t, sizeof ob.set_threads);
    return ob.ok = 1;
}
#define BLAS_SGEMM ob.sgemm
#elif defined(LENSIM_HAVE_BLAS)
#define BLAS_SGEMM cblas_sgemm
#endif

/* ---- GEMM ---- */

enum { GB_K = 256, GB_N = 64 };

int kern__cpu_gemm_blocked(const struct kern_ctx *c, const struct kern_gemm_args *a)
{
    (void)c;
    const float *A = a->a, *B = a->b;
    float       *C = a->c;
    float       *bt = sim_malloc(sizeof *bt * GB_K * GB_N); /* B panel, transposed: [k][n] */
    if (!bt)
        return SIM_ENOMEM;
    for (uint32_t i = 0; i < a->m; i++)
        for (uint32_t j = 0; j < a->n; j++)
            C[i * a->ldc + j] = a->beta == 0 ? 0.0f : a->beta * C[i * a->ldc + j];
    for (uint32_t j0 = 0; j0 < a->n; j0 += GB_N) {
        uint32_t nb = a->n - j0 < GB_N ? a->n - j0 : GB_N;
        for (uint32_t k0 = 0; k0 < a->k; k0 += GB_K) {
            uint32_t kb = a->k - k0 < GB_K ? a->k - k0 : GB_K;
            for (uint32_t j = 0; j < nb; j++)
                for (uint32_t k = 0; k < kb; k++)
                    bt[k * GB_N + j] = B[(j0 + j) * a->ldb + k0 + k];
            for (uint32_t i = 0; i < a->m; i++) {
                float        acc[GB_N] = {0};
                const float *ar = A + i * a->lda + k0;
                /* Inner loop over n is contiguous and independent: it vectorises without
                 * reassociating sums. */
                for (uint32_t k = 0; k < kb; k++) {
                    float        av = ar[k];
                    const float *br = bt + k * GB_N;
                    for (uint32_t j = 0; j < GB_N; j++)
                        acc[j] += av * br[j];
                }
                float *cr = C + i * a->ldc + j0;
                for (uint32_t j = 0; j < nb; j++)
                    cr[j] += a->alpha * acc[j];
            }
        }
    }
    sim_free(bt);
    return SIM_OK;
}

int kern__cpu_have_blas(void)
{
#ifdef LENSIM_HAVE_OPENBLAS
    return ob_open();
#elif defined(LENSIM_HAVE_BLAS)
    return 1;
#else
    return 0;
#endif
}

int kern__cpu_gemm_blas(const struct kern_ctx *c, const struct kern_gemm_args *a)
{
    (void)c;
#ifdef LENSIM_HAVE_BLAS
    if (a->m == 0 || a->n == 0)
        return SIM_OK;
    if (!kern__cpu_have_blas())
        return SIM_EIO; /* as cpu_init */
    BLAS_SGEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)a->m, (int)a->n, (int)a->k, a->alpha,
               a->a, (int)a->lda, a->b, (int)a->ldb, a->beta, a->c, (int)a->ldc);
    return SIM_OK;
#else
    (void)a;
    return SIM_ENODEV;
#endif
}

static int gemm_nt(const struct kern_ctx *c, const struct kern_gemm_args *a)
{
    return kern__cpu_have_blas() ? kern__cpu_gemm_blas(c, a) : kern__cpu_gemm_blocked(c, a);
}

/* C[m][n] = A[m][k] . B[k][n] (B not transposed), overwriting C. */
static void gemm_nn(uint32_t m, uint32_t n, uint32_t k, const float *A, size_t lda, const float *B,
                    size_t ldb, float *C, size_t ldc)
{
#ifdef LENSIM_HAVE_BLAS
    if (kern__cpu_have_blas()) {
        BLAS_SGEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, A,
                   (int)lda, B, (int)ldb, 0.0f, C, (int)ldc);
        return;
    }
#endif
    for (uint32_t i = 0; i < m; i++) {
        float *cr = C + i * ldc;
        for (uint32_t j = 0; j < n; j++)
            cr[j] = 0;
        for (uint32_t t = 0; t < k; t++) {
            float av = A[i * lda + t];
            if (av == 0)
                continue;
            const float *br = B + t * ldb;
            for (uint32_t j = 0; j < n; j++)
                cr[j] += av * br[j];
        }
    }
}

/* ---- attention ---- */

size_t kern__cpu_scratch_bytes(uint32_t max_ctx, uint32_t group, uint32_t max_prompt)
{
    size_t dec = (size_t)max_ctx * (group ? group : 1);
    size_t pre = (size_t)max_prompt * max_prompt;
    return sizeof(float) * (dec > pre ? dec : pre);
}

int kern__cpu_attn_decode(const struct kern_ctx *c, const struct kern_attn_decode_args *a)
{
    const struct kern_kv *kv = &a->kv;
    uint32_t              d = kv->head_dim, group = a->n_heads / kv->kv_heads;
    if (c->work_bytes < sizeof(float) * (size_t)a->max_len * group)
        return SIM_ECONFIG;
    float       *sc = c->work; /* [group][max_len] */
    const float *K = kv->k, *V = kv->v;
    for (uint32_t i = 0; i < a->n; i++) {
        uint32_t len = (uint32_t)a->len[i], slot = (uint32_t)a->slot[i];
        for (uint32_t kh = 0; kh < kv->kv_heads; kh++) {
            const float *q0 = (const float *)a->q + i * a->ldq + (size_t)kh * group * d;
            for (uint32_t t = 0; t < len; t++) {
                const float *k = K + kern_ref_kv_offset(kv, slot, t, kh);
                for (uint32_t g = 0; g < group; g++) {
                    const float *q = q0 + g * d;
                    float        s = 0;
                    /* A reordered (vectorised) sum: fine for fp32 attention scores. */
#ifdef LENSIM_OMP_SIMD
#pragma omp simd reduction(+ : s)
#endif
                    for (uint32_t j = 0; j < d; j++)
                        s += q[j] * k[j];
                    sc[g * a->max_len + t] = s * a->scale;
                }
            }
            for (uint32_t g = 0; g < group; g++) {
                float *s = sc + g * a->max_len, m = -INFINITY, l = 0;
                for (uint32_t t = 0; t < len; t++)
                    m = s[t] > m ? s[t] : m;
                for (uint32_t t = 0; t < len; t++)
                    l += (s[t] = expf(s[t] - m));
                float *o = (float *)a->o + i * a->ldo + ((size_t)kh * group + g) * d;
                for (uint32_t j = 0; j < d; j++)
                    o[j] = 0;
                for (uint32_t t = 0; t < len; t++) {
                    const float *v = V + kern_ref_kv_offset(kv, slot, t, kh);
                    float        p = s[t] / l;
#ifdef LENSIM_OMP_SIMD
#pragma omp simd
#endif
                    for (uint32_t j = 0; j < d; j++)
                        o[j] += p * v[j];
                }
            }
        }
    }
    return SIM_OK;
}

int kern__cpu_attn_prefill(const struct kern_ctx *c, const struct kern_attn_prefill_args *a)
{
    uint32_t     d = a->head_dim, group = a->n_heads / a->kv_heads;
    const float *X = a->qkv;
    for (uint32_t s = 0; s < a->n_seqs; s++) {
        uint32_t r0 = a->row0[s], L = a->len[s];
        if (c->work_bytes < sizeof(float) * (size_t)L * L)
            return SIM_ECONFIG;
        float *S = c->work;
        for (uint32_t h = 0; h < a->n_heads; h++) {
            const float *q = X + r0 * a->ldqkv + (size_t)h * d;
            const float *k = X + r0 * a->ldqkv + (size_t)(a->n_heads + h / group) * d;
            const float *v = X + r0 * a->ldqkv + (size_t)(a->n_heads + a->kv_heads + h / group) * d;
            struct kern_gemm_args g = {.m = L,
                                       .n = L,
                                       .k = d,
                                       .a = q,
                                       .lda = a->ldqkv,
                                       .b = k,
                                       .ldb = a->ldqkv,
                                       .c = S,
                                       .ldc = L,
                                       .alpha = a->scale};
            int                   rc = gemm_nt(c, &g);
            if (rc)
                return rc;
            for (uint32_t i = 0; i < L; i++) {
                float *row = S + (size_t)i * L, m = -INFINITY, l = 0;
                for (uint32_t t = 0; t <= i; t++)
                    m = row[t] > m ? row[t] : m;
                for (uint32_t t = 0; t <= i; t++)
                    l += (row[t] = expf(row[t] - m));
                for (uint32_t t = 0; t <= i; t++)
                    row[t] /= l;
                for (uint32_t t = i + 1; t < L; t++)
                    row[t] = 0;
            }
            gemm_nn(L, d, L, S, L, v, a->ldqkv, (float *)a->o + r0 * a->ldo + (size_t)h * d,
                    a->ldo);
        }
    }
    return SIM_OK;
}

/* ---- element-wise ops: the references ---- */

int kern__cpu_rmsnorm(const struct kern_ctx *c, const struct kern_rmsnorm_args *a)
{
    (void)c;
    kern_ref_rmsnorm(a);
    return SIM_OK;
}
int kern__cpu_rope(const struct kern_ctx *c, const struct kern_rope_args *a)
{
    (void)c;
    kern_ref_rope(a);
    return SIM_OK;
}
int kern__cpu_kv_append(const struct kern_ctx *c, const struct kern_kv_append_args *a)
{
    (void)c;
    kern_ref_kv_append(a);
    return SIM_OK;
}
int kern__cpu_act(const struct kern_ctx *c, const struct kern_act_args *a)
{
    (void)c;
    kern_ref_act(a);
    return SIM_OK;
}
int kern__cpu_embed(const struct kern_ctx *c, const struct kern_embed_args *a)
{
    (void)c;
    kern_ref_embed(a);
    return SIM_OK;
}
int kern__cpu_embag(const struct kern_ctx *c, const struct kern_embag_args *a)
{
    (void)c;
    kern_ref_embag(a);
    return SIM_OK;
}
int kern__cpu_bias_act(const struct kern_ctx *c, const struct kern_bias_act_args *a)
{
    (void)c;
    kern_ref_bias_act(a);
    return SIM_OK;
}

/* ---- the CPU device ---- */

struct cpu_state {
    int64_t t0_ns;
};

static int cpu_init(kern_backend_t *b, struct sim_msg *err)
{
    struct cpu_state *s = sim_calloc(1, sizeof *s);
    if (!s)
        return sim_msg_set(err, SIM_ENOMEM, "cpu backend: out of memory");
    b->dev_state = s;
    b->ctx.backend = KERN_BACKEND_CPU;
#ifdef LENSIM_HAVE_OPENBLAS
    /* A build with OpenBLAS whose library cannot be opened now is a broken install: refused,
     * not run on the plain-C GEMM (which would time other kernels than the build says). An I/O
     * error naming the library, not SIM_ENODEV: its exit status 77 reads as a skip in meson, and
     * the CPU is always there. */
    if (!ob_open()) {
        b->dev_state = NULL;
        sim_free(s);
        return sim_msg_set(err, SIM_EIO, "cpu backend: cannot open OpenBLAS: %s", ob.why);
    }
    /* One thread by default: the timings must not depend on what else runs on the machine's
     * other cores (CI runs two tests at once on two cores). */
    ob.set_threads(b->o.cpu_threads > 0 ? b->o.cpu_threads : 1);
#endif
    return SIM_OK;
}

static void cpu_fini(kern_backend_t *b)
{
    sim_free(b->dev_state);
    b->dev_state = NULL;
}

static int cpu_alloc(kern_backend_t *b, void **p, size_t bytes)
{
    (void)b;
    *p = sim_malloc(bytes);
    return *p ? SIM_OK : SIM_ENOMEM;
}

static void cpu_free(kern_backend_t *b, void *p)
{
    (void)b;
    sim_free(p);
}

static int cpu_copy(kern_backend_t *b, void *dst, const void *src, size_t bytes)
{
    (void)b;
    if (bytes)
        memcpy(dst, src, bytes);
    return SIM_OK;
}

static int cpu_fill(kern_backend_t *b, void *p, size_t n, uint64_t seed, float scale, float off)
{
    (void)b;
    float *f = p;
    for (size_t i = 0; i < n; i++)
        f[i] = off + scale * kern_rand_u(seed, i);
    return SIM_OK;
}

static int cpu_sync(kern_backend_t *b)
{
    (void)b;
    return SIM_OK;
}

/* issue 11: wall time, or the thread's CPU time when the options ask for it. */
static int64_t cpu_now_ns(const kern_backend_t *b)
{
    struct timespec ts;
    if (!b->o.cpu_time || clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
        return sim_wall_ns();
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cpu_timer_start(kern_backend_t *b)
{
    ((struct cpu_state *)b->dev_state)->t0_ns = cpu_now_ns(b);
    return SIM_OK;
}

static int cpu_timer_stop(kern_backend_t *b, double *s)
{
    *s = (double)(cpu_now_ns(b) - ((struct cpu_state *)b->dev_state)->t0_ns) * 1e-9;
    return SIM_OK;
}

static int cpu_flush(kern_backend_t *b)
{
    (void)b;
    return SIM_OK;
}

/* "key: value" from a /proc file, into out (trimmed). Returns 1 when found. */
static int proc_field(const char *path, const char *key, char *out, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char   line[512];
    int    found = 0;
    size_t kl = strlen(key);
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) != 0)
            continue;
        char *v = strchr(line + kl, ':');
        if (!v)
            continue;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        v[strcspn(v, "\n")] = 0;
        snprintf(out, n, "%s", v);
        found = 1;
    }
    fclose(f);
    return found;
}

int kern__cpu_mem(size_t *free_bytes, size_t *total_bytes)
{
    char v[64];
    if (!proc_field("/proc/meminfo", "MemTotal", v, sizeof v))
        return SIM_EIO;
    *total_bytes = (size_t)strtoull(v, NULL, 10) * 1024;
    if (!proc_field("/proc/meminfo", "MemAvailable", v, sizeof v))
        return SIM_EIO;
    *free_bytes = (size_t)strtoull(v, NULL, 10) * 1024;
    return SIM_OK;
}

static void cpu_info(const kern_backend_t *b, struct kern_info *out)
{
    (void)b;
    if (!proc_field("/proc/cpuinfo", "model name", out->device, sizeof out->device))
        snprintf(out->device, sizeof out->device, "cpu");
    snprintf(out->blas, sizeof out->blas, "%s", kern__cpu_have_blas() ? "cblas" : "plain C");
    kern__cpu_mem(&out->mem_free, &out->mem_total);
}

const struct kern__dev kern__dev_cpu = {
    .name = "cpu",
    .id = KERN_BACKEND_CPU,
    .elem_bytes = sizeof(float),
    .init = cpu_init,
    .fini = cpu_fini,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .alloc_host = cpu_alloc,
    .free_host = cpu_free,
    .h2d = cpu_copy,
    .d2h = cpu_copy,
    .d2d = cpu_copy,
    .fill = cpu_fill,
    .sync = cpu_sync,
    .timer_start = cpu_timer_start,
    .timer_stop = cpu_timer_stop,
    .flush = cpu_flush,
    .info = cpu_info,
};
