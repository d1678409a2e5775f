/*
 * effit_main.c: `effit`, the tool that fits the analytic model's efficiency curves
 * (calib/analytic.h) to Vidur's measured A100 profiles, and evaluates the model for a
 * cross-check (tools/analytic_vs_vidur.py).
 *
 *   effit fit VIDUR_DIR [GPU [DEV]] fit every curve to VIDUR_DIR/profiling (the shared
 *                                  data/vidur folder) of device folder DEV (a100) with the
 *                                  datasheet peaks of GPU preset GPU (a100-80gb); print each
 *                                  fit's residuals and cal_eff_DEV's initializer
 *   effit check VIDUR_DIR GPU DEV  residuals of cal_eff_a100 carried to GPU against the
 *                                  GEMM and elementwise profiles of device folder DEV (h100)
 *   effit time MODEL GPU TP        read "decode_seqs decode_ctx prefill_tok prefill_sq" lines
 *                                  on stdin, print the curves' time and the profile's (seconds)
 *
 * A dev tool: errors go to stderr with exit status 1.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytic.h"
#include "effit.h"
#include "presets.h"
#include "profile.h"

#define MAXCOL 80

/* A CSV file read whole: header names and numeric cells (NaN where empty or text). */
struct table {
    char   *name[MAXCOL];
    size_t  ncol, nrow;
    double *cell; /* nrow x ncol */
};

static void die(const char *what, const char *arg)
{
    fprintf(stderr, "effit: %s%s%s\n", what, arg ? ": " : "", arg ? arg : "");
    exit(1);
}

static size_t split(char *line, char **out)
{
    size_t n = 0;
    char  *p = line;
    for (;;) {
        char *c = strchr(p, ',');
        if (n < MAXCOL)
            out[n++] = p;
        if (!c)
            break;
        *c = 0;
        p = c + 1;
    }
    char *nl = strpbrk(out[n - 1], "\r\n");
    if (nl)
        *nl = 0;
    return n;
}

static void table_read(const char *path, struct table *t)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        die("cannot open", path);
    static char line[65536];
    char       *f[MAXCOL];
    memset(t, 0, sizeof *t);
    if (!fgets(line, sizeof line, fp))
        die("empty file", path);
    t->ncol = split(line, f);
    for (size_t j = 0; j < t->ncol; j++)
        t->name[j] = strdup(f[j]);
    size_t cap = 1024;
    t->cell = malloc(cap * t->ncol * sizeof *t->cell);
    if (!t->cell)
        die("out of memory", NULL);
    while (fgets(line, sizeof line, fp)) {
        if (t->nrow == cap) {
            cap *= 2;
            t->cell = realloc(t->cell, cap * t->ncol * sizeof *t->cell);
            if (!t->cell)
                die("out of memory", NULL);
        }
        size_t n = split(line, f);
        for (size_t j = 0; j < t->ncol; j++) {
            char  *end;
            double v = j < n ? strtod(f[j], &end) : NAN;
            if (j >= n || end == f[j] || *end)
                v = NAN;
            t->cell[t->nrow * t->ncol + j] = v;
            if (j < n && (!strcmp(f[j], "True") || !strcmp(f[j], "False")))
                t->cell[t->nrow * t->ncol + j] = f[j][0] == 'T';
        }
        t->nrow++;
    }
    fclose(fp);
}

static void table_free(struct table *t)
{
    for (size_t j = 0; j < t->ncol; j++)
        free(t->name[j]);
    free(t->cell);
}

static size_t col(const struct table *t, const char *name)
{
    for (size_t j = 0; j < t->ncol; j++)
        if (!strcmp(t->name[j], name))
            return j;
    die("no column", name);
    return 0;
}

/* The column's index, or (size_t)-1 when the file has none (a model without that kernel). */
static size_t col_opt(const struct table *t, const char *name)
{
    for (size_t j = 0; j < t->ncol; j++)
        if (!strcmp(t->name[j], name))
            return j;
    return (size_t)-1;
}

static double at(const struct table *t, size_t r, size_t c) { return t->cell[r * t->ncol + c]; }

/* ---- point sets ---- */

struct pts {
    struct cal_effit_point *p;
    size_t                  n, cap;
};

static void push(struct pts *s, const double *x, size_t nx, double y)
{
    if (!(y > 0))
        return; /* a timing of 0 (below the profiler's resolution) carries no information */
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4096;
        s->p = realloc(s->p, s->cap * sizeof *s->p);
        if (!s->p)
            die("out of memory", NULL);
    }
    memset(&s->p[s->n], 0, sizeof s->p[s->n]);
    memcpy(s->p[s->n].x, x, nx * sizeof *x);
    s->p[s->n++].y = y;
}

static int by_x0(const void *a, const void *b)
{
    double x = ((const struct cal_effit_point *)a)->x[0],
           y = ((const struct cal_effit_point *)b)->x[0];
    return (x > y) - (x < y);
}

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- models (times in ms, as the profiles are) ---- */

struct ctx {
    const struct cal_gpu *g;
};

static struct cal_eff eff_from(const struct cal_eff *base) { return *base; }

/* x: tokens, N, K, element bytes. par: tau (us), bw_eff, fl_eff, m0. */
static double gemm_fn(const double *par, const double *x, const void *c)
{
    const struct ctx *cx = c;
    struct cal_eff    f = eff_from(&cal_eff_a100);
    f.gemm_tau_s = par[0] * 1e-6;
    f.gemm_bw_eff = par[1];
    f.gemm_fl_eff = par[2];
    f.gemm_m0 = par[3];
    f.gemm_knee = 1 + par[4]; /* k >= 1: never costlier than weight traffic plus compute */
    return 1e3 * cal_gemm_s(&f, cx->g, x[0], x[1], x[2], x[3]);
}

/* x: tokens, bytes per token, kind (0 norm, 1 rope, 2 act, 3 add). par: tau (us), 4 effs. */
static double elt_fn(const double *par, const double *x, const void *c)
{
    const struct ctx *cx = c;
    struct cal_eff    f = eff_from(&cal_eff_a100);
    f.elt_tau_s = par[0] * 1e-6;
    return 1e3 * cal_elt_s(&f, cx->g, x[0], x[1], par[1 + (int)x[2]]);
}

/* x: bytes, tp. par: alpha (us), bw_eff. */
static double ar_fn(const double *par, const double *x, const void *c)
{
    const struct ctx *cx = c;
    struct cal_eff    f = eff_from(&cal_eff_a100);
    f.ar_alpha_s = par[0] * 1e-6;
    f.ar_bw_eff = par[1];
    f.ar_knee = 1 + par[2]; /* k >= 1: never costlier than latency plus transfer */
    return 1e3 * cal_allreduce_s(&f, cx->g, (uint32_t)x[1], x[0]);
}

/* x: context tokens read, KV bytes per token. par: tau (us), bw_eff. */
static double dec_fn(const double *par, const double *x, const void *c)
{
    const struct ctx *cx = c;
    struct cal_eff    f = eff_from(&cal_eff_a100);
    f.dec_tau_s = par[0] * 1e-6;
    f.dec_bw_eff = par[1];
    return 1e3 * cal_dec_attn_s(&f, cx->g, x[0], x[1]);
}

/* x: c^2, c, heads, head_dim. par: tau (us), fl_eff, c0. */
static double pre_fn(const double *par, const double *x, const void *c)
{
    const struct ctx *cx = c;
    struct cal_eff    f = eff_from(&cal_eff_a100);
    f.pre_tau_s = par[0] * 1e-6;
    f.pre_fl_eff = par[1];
    f.pre_c0 = par[2];
    return 1e3 * cal_pre_attn_s(&f, cx->g, x[0], x[1], x[2], x[3]);
}

/* ---- data ---- */

/* Every <dev>/<org>/<model>/mlp.csv under compute/: GEMM and elementwise points. */
static void load_mlp(const char *root, const char *dev, struct pts *gemm, struct pts *elt,
                     const char *only_model)
{
    char base[1024];
    snprintf(base, sizeof base, "%s/profiling/compute/%s", root, dev);
    DIR *d1 = opendir(base);
    if (!d1)
        die("cannot open", base);
    struct dirent *o;
    char           names[64][600];
    size_t         nn = 0;
    while ((o = readdir(d1))) {
        if (o->d_name[0] == '.' || strstr(o->d_name, ".csv"))
            continue;
        char org[1400];
        snprintf(org, sizeof org, "%s/%s", base, o->d_name);
        DIR *d2 = opendir(org);
        if (!d2 && errno == ENOTDIR)
            continue; /* a file beside the organisations' folders */
        if (!d2)      /* not skipped: the fit would silently leave out that organisation's models */
            die(strerror(errno), org);
        struct dirent *mm;
        while ((mm = readdir(d2)))
            if (mm->d_name[0] != '.' && nn < 64)
                snprintf(names[nn++], sizeof names[0], "%s/%s/mlp.csv", o->d_name, mm->d_name);
        closedir(d2);
    }
    closedir(d1);
    /* Sorted, so that the points (and the fit) do not depend on the directory order. */
    qsort(names, nn, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    for (size_t i = 0; i < nn; i++) {
        if (only_model && !strstr(names[i], only_model))
            continue;
        char path[1700];
        snprintf(path, sizeof path, "%s/%.600s", base, names[i]);
        struct table t;
        table_read(path, &t);
        size_t cnh = col(&t, "n_head"), cnkv = col(&t, "n_kv_head"), ch = col(&t, "n_embd"),
               cf = col(&t, "n_expanded_embd"), cg = col(&t, "use_gated_mlp"),
               cm = col(&t, "num_tokens"), ctp = col(&t, "num_tensor_parallel_workers");
        for (size_t r = 0; r < t.nrow; r++) {
            double nh = at(&t, r, cnh), nkv = at(&t, r, cnkv), h = at(&t, r, ch),
                   ffn = at(&t, r, cf), gated = at(&t, r, cg), m = at(&t, r, cm),
                   tp = at(&t, r, ctp), hd = h / nh;
            const char *op[4] = {"attn_pre_proj", "attn_post_proj", "mlp_up_proj", "mlp_down_proj"};
            double      n[4] = {(nh + 2 * nkv) * hd / tp, h, (gated ? 2 : 1) * ffn / tp, h};
            double      k[4] = {h, nh * hd / tp, h, ffn / tp};
            for (int g = 0; g < 4; g++) {
                char name[96];
                snprintf(name, sizeof name, "time_stats.%s.median", op[g]);
                double x[4] = {m, n[g], k[g], 2};
                push(gemm, x, 4, at(&t, r, col(&t, name)));
            }
            struct {
                const char *op;
                double      bytes;
                int         kind;
            } el[5] = {{"input_layernorm", 2 * h * 2, 0},
                       {"post_attention_layernorm", 2 * h * 2, 0},
                       {"attn_rope", 2 * (nh + nkv) / tp * hd * 2, 1},
                       {"mlp_act", (gated ? 3 : 2) * ffn / tp * 2, 2},
                       {"add", 3 * h * 2, 3}};
            for (int e = 0; e < 5; e++) {
                char name[96];
                snprintf(name, sizeof name, "time_stats.%s.median", el[e].op);
                double x[3] = {m, el[e].bytes, el[e].kind};
                size_t c = col_opt(&t, name);
                if (c != (size_t)-1)
                    push(elt, x, 3, at(&t, r, c));
            }
        }
        table_free(&t);
    }
}

/* NCCL all-reduce timings of network/<dev>_pairwise_nvlink: medians of size bins, 2 GPUs into
 * two, 4 GPUs into four. */
static void load_allreduce(const char *root, const char *dev, struct pts *two, struct pts *four)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/profiling/network/%s_pairwise_nvlink/all_reduce.csv", root,
             dev);
    struct table t;
    table_read(path, &t);
    size_t cs = col(&t, "size"), cw = col(&t, "num_workers"),
           cy = col(&t, "time_stats.all_reduce.median");
    /* Small all-reduces are noisy (7 to 70 us for the same size): the medians of size bins
     * (ratio 1.25) are fitted, the way a lookup over nearby sizes would smooth them. Sizes below
     * one token's activations (8192 x 2 bytes) never occur. */
    for (double w = 2; w <= 4; w += 2) {
        struct pts raw = {0};
        for (size_t r = 0; r < t.nrow; r++) {
            double x[2] = {at(&t, r, cs), at(&t, r, cw)};
            if (x[1] == w && x[0] >= 16384)
                push(&raw, x, 2, at(&t, r, cy));
        }
        qsort(raw.p, raw.n, sizeof *raw.p, by_x0);
        for (size_t i = 0; i < raw.n;) {
            size_t j = i;
            while (j < raw.n && raw.p[j].x[0] < raw.p[i].x[0] * 1.25)
                j++;
            double ys[4096], x[2] = {raw.p[i + (j - i) / 2].x[0], w};
            size_t k = 0;
            for (size_t q = i; q < j && k < 4096; q++)
                ys[k++] = raw.p[q].y;
            qsort(ys, k, sizeof *ys, by_double);
            if (k >= 5) /* bins of fewer rows are too noisy to weigh */
                push(w == 2 ? two : four, x, 2, ys[k / 2]); /* TP2 fitted; 4 GPUs reported */
            i = j;
        }
        free(raw.p);
    }
    table_free(&t);
}

static void report(const char *what, const struct cal_effit_result *r, size_t n,
                   const char *const *pn, size_t p)
{
    printf("%-22s n=%-6zu mean |rel| %5.1f %%  max %6.1f %%  (%s, %zu iterations)\n    ", what, n,
           100 * r->mean_rel, 100 * r->max_rel, r->status, r->iters);
    for (size_t k = 0; k < p; k++)
        printf("%s=%.6g ", pn[k], r->par[k]);
    printf("\n");
}

static void fit_one(const char *what, cal_effit_fn fn, const struct ctx *cx, size_t p,
                    const double *par0, const struct pts *s, const char *const *pn,
                    struct cal_effit_result *r)
{
    struct sim_msg err = {{0}};
    if (cal_effit(fn, cx, p, par0, s->p, s->n, r, &err))
        die(what, err.text);
    report(what, r, s->n, pn, p);
}

static int cmd_fit(const char *root, const char *gpu, const char *dev)
{
    int        is_a100 = !strcmp(dev, "a100");
    struct ctx cx = {cal_gpu_find(gpu)};
    if (!cx.g)
        die("unknown GPU preset", gpu);
    struct pts gemm = {0}, elt = {0}, ar = {0}, ar4 = {0}, dec = {0}, pre = {0};
    load_mlp(root, dev, &gemm, &elt, NULL);

    char path[1200];
    load_allreduce(root, dev, &ar, &ar4);
    struct table t;

    /* Attention was measured on the A100 only (../shared/data/vidur/README.md): another device
     * keeps the A100's attention efficiencies, carried by its datasheet peaks. */
    snprintf(path, sizeof path, "%s/profiling/compute/a100/attention_n8192_q64_kv8_tp2_acb95f6.csv",
             root);
    table_read(path, &t);
    size_t cpre = col(&t, "is_prefill"), cb = col(&t, "batch_size"), ckv = col(&t, "kv_cache_size"),
           cc = col(&t, "prefill_chunk_size"), ch = col(&t, "n_embd"), cq = col(&t, "n_q_head"),
           ckh = col(&t, "n_kv_head"), ctp = col(&t, "num_tensor_parallel_workers"),
           cdy = col(&t, "time_stats.attn_decode.median"),
           cpy = col(&t, "time_stats.attn_prefill.median");
    for (size_t r = 0; r < t.nrow; r++) {
        double tp = at(&t, r, ctp), hd = at(&t, r, ch) / at(&t, r, cq);
        if (at(&t, r, cpre) == 0) {
            double x[2] = {at(&t, r, cb) * at(&t, r, ckv), 2 * at(&t, r, ckh) / tp * hd * 2};
            push(&dec, x, 2, at(&t, r, cdy));
        } else if (at(&t, r, ckv) == 0) { /* whole prompts; chunked rows are not modelled */
            double c = at(&t, r, cc), x[4] = {c * c, c, at(&t, r, cq) / tp, hd};
            push(&pre, x, 4, at(&t, r, cpy));
        }
    }
    table_free(&t);

    struct cal_effit_result rg, re, ra, rd, rp;
    const char             *pg[] = {"tau_us", "bw_eff", "fl_eff", "m0", "knee-1"};
    const char             *pe[] = {"tau_us", "norm_eff", "rope_eff", "act_eff", "add_eff"};
    const char             *pa[] = {"alpha_us", "bw_eff", "knee-1"};
    const char             *pd[] = {"tau_us", "bw_eff"};
    const char             *pp[] = {"tau_us", "fl_eff", "c0"};
    double g0[] = {5, 0.8, 0.7, 64, 3}, e0[] = {4, 0.5, 0.5, 0.5, 0.5}, a0[] = {30, 0.5, 2},
           d0[] = {10, 0.8}, p0[] = {10, 0.3, 500};
    printf("# effit fit %s %s\n", root, gpu);
    fit_one("GEMM (all models)", gemm_fn, &cx, 5, g0, &gemm, pg, &rg);
    fit_one("elementwise", elt_fn, &cx, 5, e0, &elt, pe, &re);
    fit_one("all-reduce (NVLink)", ar_fn, &cx, 3, a0, &ar, pa, &ra);
    if (is_a100) {
        fit_one("decode attention", dec_fn, &cx, 2, d0, &dec, pd, &rd);
        fit_one("prefill attention", pre_fn, &cx, 3, p0, &pre, pp, &rp);
    } else {
        const struct cal_eff *a = &cal_eff_a100;
        rd.par[0] = a->dec_tau_s * 1e6, rd.par[1] = a->dec_bw_eff;
        rp.par[0] = a->pre_tau_s * 1e6, rp.par[1] = a->pre_fl_eff, rp.par[2] = a->pre_c0;
        printf("attention: no %s profile; cal_eff_a100's kept\n", dev);
    }

    {
        struct cal_effit_result y;
        cal_effit_residuals(ar_fn, &cx, 3, ra.par, ar4.p, ar4.n, &y);
        printf("  on 4-GPU all-reduce rows (n=%zu): mean %.1f %% max %.1f %%\n", ar4.n,
               100 * y.mean_rel, 100 * y.max_rel);
    }
    /* Each model alone (CodeLlama-34B is the Vidur workload's): the shared fit's residuals. */
    const char *models[] = {"CodeLlama-34b",    "Llama-2-7b",   "Llama-2-70b", "Meta-Llama-3-8B",
                            "Meta-Llama-3-70B", "internlm-20b", "Qwen-72B",    "phi-2"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        struct pts              cl = {0}, cle = {0};
        struct cal_effit_result x, y;
        load_mlp(root, dev, &cl, &cle, models[i]);
        if (!cl.n)
            continue;
        cal_effit_residuals(gemm_fn, &cx, 5, rg.par, cl.p, cl.n, &x);
        cal_effit_residuals(elt_fn, &cx, 5, re.par, cle.p, cle.n, &y);
        printf(
            "  %-17s GEMMs n=%-5zu mean %4.1f %% max %5.1f %%; elementwise n=%-5zu mean %4.1f %% "
            "max %5.1f %%\n",
            models[i], cl.n, 100 * x.mean_rel, 100 * x.max_rel, cle.n, 100 * y.mean_rel,
            100 * y.max_rel);
        free(cl.p);
        free(cle.p);
    }

    printf("\nconst struct cal_eff cal_eff_%s = {\n", dev);
    printf("    .gemm_tau_s = %.4ge-6,\n    .gemm_bw_eff = %.4g,\n    .gemm_fl_eff = %.4g,\n"
           "    .gemm_m0 = %.4g,\n    .gemm_knee = %.4g,\n",
           rg.par[0], rg.par[1], rg.par[2], rg.par[3], 1 + rg.par[4]);
    printf("    .elt_tau_s = %.4ge-6,\n    .norm_bw_eff = %.4g,\n    .rope_bw_eff = %.4g,\n"
           "    .act_bw_eff = %.4g,\n    .add_bw_eff = %.4g,\n",
           re.par[0], re.par[1], re.par[2], re.par[3], re.par[4]);
    printf("    .ar_alpha_s = %.4ge-6,\n    .ar_bw_eff = %.4g,\n    .ar_knee = %.4g,\n", ra.par[0],
           ra.par[1], 1 + ra.par[2]);
    printf("    .dec_tau_s = %.4ge-6,\n    .dec_bw_eff = %.4g,\n", rd.par[0], rd.par[1]);
    printf("    .pre_tau_s = %.4ge-6,\n    .pre_fl_eff = %.4g,\n    .pre_c0 = %.4g,\n};\n",
           rp.par[0], rp.par[1], rp.par[2]);
    free(gemm.p), free(elt.p), free(ar.p), free(ar4.p), free(dec.p), free(pre.p);
    return 0;
}

/* The shipped constants carried to another GPU preset, against that device's profiles. */
static int cmd_check(const char *root, const char *gpu, const char *dev)
{
    struct ctx cx = {cal_gpu_find(gpu)};
    if (!cx.g)
        die("unknown GPU preset", gpu);
    struct pts            gemm = {0}, elt = {0};
    const struct cal_eff *f = &cal_eff_a100;
    double                pg[] = {f->gemm_tau_s * 1e6, f->gemm_bw_eff, f->gemm_fl_eff, f->gemm_m0,
                                  f->gemm_knee - 1};
    double                pe[] = {f->elt_tau_s * 1e6, f->norm_bw_eff, f->rope_bw_eff, f->act_bw_eff,
                                  f->add_bw_eff};
    struct cal_effit_result r;
    load_mlp(root, dev, &gemm, &elt, NULL);
    cal_effit_residuals(gemm_fn, &cx, 5, pg, gemm.p, gemm.n, &r);
    double bias = 0, b_lo = 0, b_hi = 0;
    size_t n_lo = 0, n_hi = 0;
    for (size_t i = 0; i < gemm.n; i++) {
        double e = gemm_fn(pg, gemm.p[i].x, &cx) / gemm.p[i].y - 1;
        bias += e;
        if (gemm.p[i].x[0] <= 64)
            b_lo += e, n_lo++;
        if (gemm.p[i].x[0] >= 1024)
            b_hi += e, n_hi++;
    }
    printf("A100 GEMM curves on %s, mean signed error: %+.1f %% at <= 64 tokens (weight "
           "streaming), %+.1f %% at >= 1024 tokens (tensor cores)\n",
           dev, 100 * b_lo / (double)(n_lo ? n_lo : 1), 100 * b_hi / (double)(n_hi ? n_hi : 1));
    printf("A100 GEMM curves on %s as %s (n=%zu): mean |rel| %.1f %%, max %.1f %%, mean signed "
           "%+.1f %%\n",
           dev, gpu, gemm.n, 100 * r.mean_rel, 100 * r.max_rel, 100 * bias / (double)gemm.n);
    cal_effit_residuals(elt_fn, &cx, 5, pe, elt.p, elt.n, &r);
    printf("A100 elementwise curves on %s as %s (n=%zu): mean |rel| %.1f %%, max %.1f %%\n", dev,
           gpu, elt.n, 100 * r.mean_rel, 100 * r.max_rel);
    struct pts two = {0}, four = {0};
    double     pa[] = {f->ar_alpha_s * 1e6, f->ar_bw_eff, f->ar_knee - 1};
    load_allreduce(root, dev, &two, &four);
    cal_effit_residuals(ar_fn, &cx, 3, pa, two.p, two.n, &r);
    bias = 0;
    for (size_t i = 0; i < two.n; i++)
        bias += ar_fn(pa, two.p[i].x, &cx) / two.p[i].y - 1;
    printf("A100 all-reduce curve on %s as %s (TP2, n=%zu bins): mean |rel| %.1f %%, max %.1f %%, "
           "mean signed %+.1f %%\n",
           dev, gpu, two.n, 100 * r.mean_rel, 100 * r.max_rel, 100 * bias / (double)two.n);
    /* Whole iterations of CodeLlama-34B at TP2: the A100 curves carried against this device's
     * own fit (cal_eff_for), attention in both from the A100. */
    const struct cal_model *cl = cal_model_find("codellama-34b");
    struct cal_batch        its[] = {{.decode_seqs = 1, .decode_ctx = 1024},
                                     {.decode_seqs = 32, .decode_ctx = 32 * 1024},
                                     {.decode_seqs = 128, .decode_ctx = 128 * 1024},
                                     {.prefill_tok = 512, .prefill_sq = 512 * 512},
                                     {.prefill_tok = 4096, .prefill_sq = 4096.0 * 4096}};
    const char *itn[] = {"1 decode at 1024", "32 decodes at 1024", "128 decodes at 1024",
                         "one 512-token prompt", "one 4096-token prompt"};
    for (size_t i = 0; i < 5; i++) {
        double own = cal_analytic_iter_s(cl, cx.g, 2, cal_eff_for(cx.g), &its[i]);
        double car = cal_analytic_iter_s(cl, cx.g, 2, &cal_eff_a100, &its[i]);
        printf(
            "CodeLlama-34B TP2 on %s, %-22s own fit %7.2f ms, A100 carried %7.2f ms (%+.1f %%)\n",
            gpu, itn[i], 1e3 * own, 1e3 * car, 100 * (car / own - 1));
    }
    /* Refit on the device itself: what a fit there would give. */
    struct cal_effit_result rg;
    struct sim_msg          err = {{0}};
    if (cal_effit(gemm_fn, &cx, 5, pg, gemm.p, gemm.n, &rg, &err))
        die("refit", err.text);
    printf("GEMM refit on %s: tau %.3g us, bw_eff %.3g, fl_eff %.3g, m0 %.3g: mean %.1f %% max "
           "%.1f %%\n",
           dev, rg.par[0], rg.par[1], rg.par[2], rg.par[3], 100 * rg.mean_rel, 100 * rg.max_rel);
    free(gemm.p), free(elt.p), free(two.p), free(four.p);
    return 0;
}

static int cmd_time(const char *model, const char *gpu, const char *tps)
{
    const struct cal_model *m = cal_model_find(model);
    const struct cal_gpu   *g = cal_gpu_find(gpu);
    if (!m || !g)
        die("unknown model or GPU preset", m ? gpu : model);
    uint32_t           tp = (uint32_t)atoi(tps);
    struct cal_profile p;
    struct sim_msg     err = {{0}};
    if (cal_analytic_profile(m, g, tp, 0.9, &p, &err))
        die("profile", err.text);
    struct cal_batch b = {0};
    while (scanf("%lf %lf %lf %lf", &b.decode_seqs, &b.decode_ctx, &b.prefill_tok, &b.prefill_sq) ==
           4)
        printf("%.9g %.9g\n", cal_analytic_iter_s(m, g, tp, cal_eff_for(g), &b),
               cal_profile_latency(&p, &b));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && argc <= 5 && !strcmp(argv[1], "fit"))
        return cmd_fit(argv[2], argc > 3 ? argv[3] : "a100-80gb", argc > 4 ? argv[4] : "a100");
    if (argc == 5 && !strcmp(argv[1], "check"))
        return cmd_check(argv[2], argv[3], argv[4]);
    if (argc == 5 && !strcmp(argv[1], "time"))
        return cmd_time(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: effit fit VIDUR_DIR [GPU [DEV]] | effit check VIDUR_DIR GPU DEV | "
                    "effit time MODEL GPU TP < batches\n");
    return 1;
}
