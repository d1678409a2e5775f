/*
 * calib.c: calibration (see calib.h and calib/PROFILE.md).
 *
 * Steps: choose the grid limits for the model on this device (or from the options); create the
 * backend with a KV pool that holds the largest point; time every point (cal_grid_run); write
 * the raw CSV (temporary file, then rename); fit the piecewise model (cal_latfit) on the
 * training points; score it on the held-out ones; time the length predictor; measure the usable
 * KV capacity; write PROFILE.yaml. With tp N the backend runs one GPU's shard (heads, KV heads,
 * MLP width and vocabulary divided by N) and the two all-reduces per layer are added to the
 * fitted coefficients analytically from the link bandwidth (cal_allreduce_cost: lensim links no
 * NCCL).
 */
#include "calib.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "afile.h"
#include "alloc.h"
#include "analytic.h"
#include "kern.h"
#include "latfit.h"
#include "presets.h"
#include "profile.h"
#include "sha256.h"
#include "sweep.h"
#include "timing.h"

/* One calibration: what each step finds, for the steps after it. */
struct cal_run {
    const struct cal_calibrate_opts *o;
    const struct cal_model          *m;
    struct kern_shape                sh;
    int                              gpu;           /* o->backend is "cuda" */
    size_t                           eb;            /* bytes per weight and KV element */
    size_t                           free0, total0; /* device memory before we start */
    double                           room;          /* bytes a server has after the weights */
    struct cal_grid_opts             go;
    struct cal_grid                  g;
    struct kern_opts                 ko;
    struct kern_info                 ki;
    struct cal_time_opts             t;
    double                           sweep_s, kv_cap;
    char                             date[32];
    char                             csv[1024];
    struct cal_obs                  *obs;
    struct cal_latfit_report         rep;
    double                           pred1, pred32; /* predictor seconds, batches of 1 and 32 */
    struct cal_profile               p;
};

void cal_calibrate_opts_default(struct cal_calibrate_opts *o)
{
    *o = (struct cal_calibrate_opts){.backend = "cpu",
                                     .grid = "full",
                                     .tp = 1,
                                     .seed = 1,
                                     .layout = KERN_KV_PAGED,
                                     .graphs = 1,
                                     .mem_util = 0.90};
}

/* The shard of m that one of tp GPUs holds. */
static int shard(const struct cal_model *m, uint32_t tp, struct kern_shape *s)
{
    if (m->heads % tp || m->ffn % tp || (m->kv_heads >= tp && m->kv_heads % tp))
        return -1;
    *s = (struct kern_shape){.layers = m->layers,
                             .hidden = m->hidden,
                             .heads = m->heads / tp,
                             .kv_heads = m->kv_heads >= tp ? m->kv_heads / tp : 1,
                             .head_dim = m->head_dim,
                             .ffn = m->ffn / tp,
                             .vocab = (m->vocab + tp - 1) / tp,
                             .gated_mlp = m->gated_mlp};
    return 0;
}

static size_t weight_bytes_of(const struct kern_shape *s, size_t eb)
{
    size_t qkv = (size_t)(s->heads + 2 * s->kv_heads) * s->head_dim;
    size_t per = 2 * (size_t)s->hidden + qkv * s->hidden +
                 (size_t)s->hidden * s->heads * s->head_dim +
                 (size_t)(s->gated_mlp ? 3 : 2) * s->ffn * s->hidden;
    return eb * (per * s->layers + 2 * (size_t)s->vocab * s->hidden + s->hidden);
}

static const char *kind_name(enum cal_point_kind k)
{
    return k == CAL_PT_DECODE ? "decode" : k == CAL_PT_PREFILL ? "prefill" : "mixed";
}

static void put_list(FILE *f, const uint32_t *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        fprintf(f, "%s%u", i ? ":" : "", v[i]);
}

/* The raw CSV with its manifest (R24), through a temporary file. */
static int write_csv(const struct cal_run *r, struct sim_msg *err)
{
    const struct cal_calibrate_opts *a = r->o;
    const struct kern_info          *ki = &r->ki;
    const struct cal_grid           *g = &r->g;
    const struct cal_time_opts      *t = &r->t;
    const char                      *path = r->csv, *date = r->date;
    struct sim_afile                 af;
    int                              rc = sim_afile_open(&af, path, err);
    if (rc)
        return rc;
    FILE *f = af.f;
    fprintf(f, "# lensim calibration measurements (calib/PROFILE.md)\n");
    fprintf(f, "# model: %s\n# tp: %u\n# backend: %s\n# device: %s\n# driver: %s\n# cuda: %s\n",
            a->model, a->tp, ki->backend, ki->device, ki->driver, ki->runtime);
    fprintf(f, "# blas: %s\n# date: %s\n# seed: %llu\n# kv_layout: %s\n", ki->blas, date,
            (unsigned long long)a->seed, a->layout == KERN_KV_PAGED ? "paged" : "contiguous");
    fprintf(f, "# timed_unit: one whole iteration (embedding, all layers, final norm, LM head)\n");
    fprintf(f, "# timing: warmup %u, repeats %u..%u, budget %.3g s per point, %s, median\n",
            t->warmup, t->min_repeats, t->repeats, t->budget_s,
            t->warm ? "warm caches" : "L2 flushed before each repeat");
    fprintf(f, "id,kind,set,decode_seqs,decode_ctx,prefill_tok,prefill_sq,n_tok,median_s,p10_s,"
               "p90_s,min_s,repeats,contexts,prompts\n");
    for (size_t i = 0; i < g->n; i++) {
        const struct cal_point *p = &g->pt[i];
        fprintf(f, "%zu,%s,%s,%.0f,%.0f,%.0f,%.0f,%.0f,%.9g,%.9g,%.9g,%.9g,%u,", i,
                kind_name(p->kind), p->heldout ? "heldout" : "train", p->feat.decode_seqs,
                p->feat.decode_ctx, p->feat.prefill_tok, p->feat.prefill_sq,
                p->feat.decode_seqs + p->feat.prefill_tok, p->t.median_s, p->t.p10_s, p->t.p90_s,
                p->t.min_s, p->t.n);
        put_list(f, p->ctx, p->n_dec);
        fputc(',', f);
        put_list(f, p->plen, p->n_pre);
        fputc('\n', f);
    }
    return sim_afile_commit(&af, err);
}

/* Run the grid's largest point a few times, untimed. */
static int warm_up(kern_backend_t *b, struct cal_grid *g, struct sim_msg *err)
{
    struct cal_grid one = *g;
    size_t          big = 0;
    for (size_t i = 1; i < g->n; i++)
        if (g->pt[i].feat.decode_seqs + g->pt[i].feat.prefill_tok >
            g->pt[big].feat.decode_seqs + g->pt[big].feat.prefill_tok)
            big = i;
    one.pt = &g->pt[big];
    one.n = 1;
    struct cal_time_opts  t = {.warmup = 2, .repeats = 1, .warm = 1};
    struct cal_time_stats keep = g->pt[big].t;
    int                   rc = cal_grid_run(b, &one, &t, 1, NULL, NULL, err);
    g->pt[big].t = keep;
    return rc;
}

static int pred_run(void *ctx) { return kern_pred_run(ctx); }

/* Median seconds of one predictor forward pass over n_req requests of 256 hashed features. */
static int time_predictor(const struct cal_calibrate_opts *a, uint32_t n_req, double *out,
                          struct sim_msg *err)
{
    /* Sized like a fastText-style proxy: 2^18 hash buckets, width 256, two hidden layers, ten
     * output-length buckets. */
    struct kern_pred_shape ps = {.features = 1u << 18, .dim = 256, .layers = 2, .classes = 10};
    struct kern_opts       o = {.backend = a->backend,
                                .seed = a->seed,
                                .pred = &ps,
                                .pred_max_req = 64,
                                .pred_max_feat = 256,
                                .device = a->device,
                                .cpu_threads = a->threads,
                                .cpu_time = a->cpu_time};
    kern_backend_t        *b;
    int                    rc = kern_backend_new(NULL, &o, &b, err);
    if (rc)
        return rc;
    uint32_t nf[64];
    for (uint32_t i = 0; i < 64; i++)
        nf[i] = 256;
    rc = kern_pred_prepare(b, n_req, nf, err);
    struct cal_time_opts  t = {.warmup = 3, .repeats = 21, .min_repeats = 5, .budget_s = 0.2};
    struct cal_time_stats st;
    if (!rc)
        rc = cal_time(b, pred_run, b, &t, &st);
    if (!rc)
        *out = st.median_s;
    else if (!err || !err->text[0])
        sim_msg_set(err, rc, "predictor timing: %s", sim_strerror(rc));
    kern_backend_free(b);
    return rc;
}

/* Defaults of the grid limits for the model on the backend (see PROFILE.md). */
void cal_calibrate_limits(const struct cal_calibrate_opts *a, const struct cal_model *m, int gpu,
                          struct cal_grid_opts *g)
{
    int quick = !strcmp(a->grid, "quick"), small = !strcmp(a->grid, "small");
    g->max_seqs = a->max_seqs ? a->max_seqs : gpu ? 256 : quick ? 16 : 32;
    g->max_ctx = a->max_ctx ? a->max_ctx : gpu ? m->max_ctx : quick ? 256 : 1024;
    g->max_prompt = a->max_prompt ? a->max_prompt : gpu ? m->max_ctx : quick ? 128 : 256;
    g->max_batch_tok = a->max_batch_tok ? a->max_batch_tok : gpu ? 8192 : quick ? 160 : 320;
    if (g->max_ctx > m->max_ctx)
        g->max_ctx = m->max_ctx;
    if (g->max_prompt > g->max_ctx)
        g->max_prompt = g->max_ctx;
    if (g->max_prompt > g->max_batch_tok)
        g->max_prompt = g->max_batch_tok;
    g->n_points = a->points ? a->points : quick ? 48 : small ? 80 : gpu ? 160 : 120;
    g->heldout_frac = 0.2;
    g->seed = a->seed;
}

/* The model, its shard, the grid and the backend's options; nothing is allocated but the grid. */
static int plan(struct cal_run *r, struct sim_msg *err)
{
    const struct cal_calibrate_opts *a = r->o;
    r->m = cal_model_find(a->model);
    if (!r->m) {
        char names[256];
        return sim_msg_set(err, SIM_ECONFIG, "unknown model '%s'; presets: %s", a->model,
                           cal_model_names(names, sizeof names, " "));
    }
    const struct cal_model *m = r->m;
    if (shard(m, a->tp, &r->sh))
        return sim_msg_set(err, SIM_ECONFIG, "%s does not split %u ways (heads %u, ffn %u)",
                           m->name, a->tp, m->heads, m->ffn);
    enum kern_backend_id be;
    int                  rc = kern_backend_of(a->backend, &be, err);
    if (rc)
        return rc;
    r->gpu = be == KERN_BACKEND_CUDA;
    r->eb = r->gpu ? 2 : 4;
    rc = kern_device_mem(a->backend, a->device, &r->free0, &r->total0, err);
    if (rc)
        return rc;

    cal_calibrate_limits(a, m, r->gpu, &r->go);
    size_t kvpt = 2 * (size_t)r->sh.layers * r->sh.kv_heads * r->sh.head_dim * r->eb;
    double wb = (double)weight_bytes_of(&r->sh, r->eb);
    /* The sweep's KV pool: half of what a server could use after the weights (the rest covers
     * workspace), and no more than max_seqs half-full contexts. */
    r->room = a->mem_util * (double)r->total0 - (double)(r->total0 - r->free0) - wb;
    if (r->room <= 0)
        return sim_msg_set(err, SIM_ECONFIG, "%s weights (%.2f GB) leave no memory on the device",
                           m->name, wb / 1e9);
    size_t kv_cap_tok = (size_t)(r->room * 0.5 / (double)kvpt);
    size_t want = (size_t)r->go.max_seqs * r->go.max_ctx / 2 + (size_t)r->go.max_batch_tok;
    r->go.max_kv_tok = want < kv_cap_tok ? want : kv_cap_tok;
    if ((rc = cal_grid_make(&r->go, &r->g, err)))
        return rc;
    r->ko = (struct kern_opts){
        .backend = a->backend,
        .seed = a->seed,
        .kv_layout = a->layout,
        .block_tok = 16,
        .max_slots = r->go.max_seqs,
        .max_ctx = r->go.max_ctx,
        .kv_tokens = cal_grid_kv_need(&r->g) + (size_t)r->go.max_seqs * 16,
        .max_batch_tok = r->go.max_batch_tok,
        .max_seqs = r->go.max_seqs,
        .max_prompt = r->go.max_prompt,
        .graphs = r->gpu && a->graphs,
        .device = a->device,
        .cpu_threads = a->threads,
        .cpu_time = a->cpu_time,
    };
    if (a->layout == KERN_KV_CONTIGUOUS && (double)r->go.max_seqs * r->go.max_ctx * kvpt > r->room)
        return sim_msg_set(err, SIM_ECONFIG,
                           "a contiguous cache of %u x %u tokens does not fit; lower --max-seqs "
                           "or --max-ctx, or use --kv-layout paged",
                           r->go.max_seqs, r->go.max_ctx);
    int quick = !strcmp(a->grid, "quick");
    r->t = r->gpu  ? (struct cal_time_opts){.warmup = 3,
                                            .repeats = 15,
                                            .min_repeats = 5,
                                            .budget_s = 0.5,
                                            .warm = 0}
           : quick ? (struct cal_time_opts){.warmup = 1,
                                            .repeats = 5,
                                            .min_repeats = 3,
                                            .budget_s = 0.05,
                                            .warm = 1}
                   : (struct cal_time_opts){.warmup = 1,
                                            .repeats = 15,
                                            .min_repeats = 6,
                                            .budget_s = 0.2,
                                            .warm = 1};
    time_t    now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(r->date, sizeof r->date, "%Y-%m-%d", &tmv);
    return SIM_OK;
}

/* Whether paths a and b name one file: the same device and inode when both exist; when neither
 * does, the same last part in the same directory (device and inode again), so that "p.yaml",
 * "./p.yaml" and "d/../p.yaml" are one file; else (a directory missing) the same text. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    int         ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
    if (ea || eb)
        return ea && eb && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    const char *la = strrchr(a, '/'), *lb = strrchr(b, '/');
    char        da[PATH_MAX], db[PATH_MAX];
    if (strcmp(la ? la + 1 : a, lb ? lb + 1 : b))
        return 0;
    if (snprintf(da, sizeof da, "%.*s/.", la ? (int)(la - a) : 1, la ? a : ".") < (int)sizeof da &&
        snprintf(db, sizeof db, "%.*s/.", lb ? (int)(lb - b) : 1, lb ? b : ".") < (int)sizeof db &&
        !stat(da, &sa) && !stat(db, &sb))
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    return !strcmp(a, b);
}

/* One output, named by its option: not a directory, and a file can be created beside it (a
 * temporary one, removed at once). SIM_ECONFIG or SIM_EIO with "option: path: why". */
static int check_output(const char *option, const char *path, struct sim_msg *err)
{
    struct stat st;
    if (!stat(path, &st) && S_ISDIR(st.st_mode))
        return sim_msg_set(err, SIM_ECONFIG, "%s: %s: is a directory", option, path);
    struct sim_afile probe;
    struct sim_msg   why;
    int              rc = sim_afile_open(&probe, path, &why);
    if (rc)
        return sim_msg_set(err, rc, "%s: %s", option, why.text);
    sim_afile_discard(&probe);
    return SIM_OK;
}

/* Settle the raw CSV's path (--csv, else -o with .csv) and check both outputs before any work:
 * each fits, neither is a directory, both can be written, and they are two files (else the
 * profile would overwrite the measurements its checksum names). Errors name the option. */
static int outputs(struct cal_run *r, struct sim_msg *err)
{
    const struct cal_calibrate_opts *a = r->o;
    size_t                           max = sizeof r->csv - 1;
    if (strlen(a->out) > max)
        return sim_msg_set(err, SIM_ECONFIG, "-o: path too long (%zu bytes; at most %zu)",
                           strlen(a->out), max);
    if (a->csv) {
        if (strlen(a->csv) > max)
            return sim_msg_set(err, SIM_ECONFIG, "--csv: path too long (%zu bytes; at most %zu)",
                               strlen(a->csv), max);
        snprintf(r->csv, sizeof r->csv, "%s", a->csv);
    } else {
        snprintf(r->csv, sizeof r->csv, "%s", a->out);
        char *dot = strrchr(r->csv, '.'), *slash = strrchr(r->csv, '/');
        if (dot && (!slash || dot > slash))
            *dot = 0;
        if (strlen(r->csv) + 4 > max)
            return sim_msg_set(err, SIM_ECONFIG,
                               "-o: path too long for the .csv beside it (%zu bytes; at most %zu)",
                               strlen(a->out), max - 4);
        strcat(r->csv, ".csv");
    }
    if (same_file(a->out, r->csv))
        return sim_msg_set(err, SIM_ECONFIG,
                           "-o and --csv name the same file, %s%s: the profile would overwrite "
                           "the measurements it is fitted to",
                           r->csv, a->csv ? "" : " (--csv defaults to -o with .csv)");
    int rc = check_output("-o", a->out, err);
    return rc ? rc : check_output("--csv", r->csv, err);
}

/* Time every grid point on a backend of its own, then measure the usable KV memory. */
static int sweep(struct cal_run *r, struct sim_msg *err)
{
    const struct cal_calibrate_opts *a = r->o;
    sim_log_info("calibrating %s (tp %u) on %s: %zu points, batch <= %u seqs / %u tokens, "
                 "context <= %u, prompt <= %u, KV pool %zu tokens",
                 r->m->name, a->tp, a->backend, r->g.n, r->go.max_seqs, r->go.max_batch_tok,
                 r->go.max_ctx, r->go.max_prompt, r->ko.kv_tokens);
    kern_backend_t *b = NULL;
    int             rc = kern_backend_new(&r->sh, &r->ko, &b, err);
    if (rc)
        return rc;
    kern_backend_info(b, &r->ki);
    int64_t t0 = sim_wall_ns();
    /* A short untimed warm-up of the whole machine (page faults, clocks, BLAS buffers). */
    rc = warm_up(b, &r->g, err);
    if (!rc)
        rc = cal_grid_run(b, &r->g, &r->t, r->gpu ? 1 : 3, a->progress, a->progress_ctx, err);
    r->sweep_s = (double)(sim_wall_ns() - t0) * 1e-9;
    { /* issue 18: graph captures that failed during the sweep (see fit()) */
        struct kern_info k2;
        kern_backend_info(b, &k2);
        r->ki.graph_captures = k2.graph_captures;
        r->ki.graph_failures = k2.graph_failures;
        snprintf(r->ki.graph_why, sizeof r->ki.graph_why, "%s", k2.graph_why);
    }
    /* Usable KV memory (vLLM's gpu_memory_utilization): mem_util of the device less what others
     * used before us, our weights and our workspace. Our own sweep pool is not counted against
     * it: a server would use that memory for its cache. */
    r->kv_cap = a->mem_util * (double)r->total0 - (double)(r->total0 - r->free0) -
                (double)r->ki.weight_bytes - (double)r->ki.work_bytes;
    kern_backend_free(b);
    return rc;
}

/* Fit the piecewise model on the training points. */
static int fit(struct cal_run *r, struct sim_msg *err)
{
    r->obs = sim_calloc(r->g.n, sizeof *r->obs);
    if (!r->obs)
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->g.n; i++)
        r->obs[i] = (struct cal_obs){.b = r->g.pt[i].feat,
                                     .t_s = r->g.pt[i].t.median_s,
                                     .heldout = r->g.pt[i].heldout};
    struct cal_latfit_opts lo = {.max_pieces = CAL_MAX_PIECES, .seed = (unsigned)r->o->seed};
    int                    rc = cal_latfit(r->obs, r->g.n, &lo, &r->rep, err);
    if (!rc && r->ki.graph_failures) { /* issue 18: recorded in the profile's warnings */
        size_t k = strlen(r->rep.warn);
        snprintf(r->rep.warn + k, sizeof r->rep.warn - k,
                 "%sCUDA graph capture failed for %u of %u prepared batches (%s); those were "
                 "timed with direct launches",
                 k ? "; " : "", r->ki.graph_failures, r->ki.graph_failures + r->ki.graph_captures,
                 r->ki.graph_why);
    }
    if (rc && err) {
        struct sim_msg why = *err;
        sim_msg_set(err, rc, "%.380s (raw measurements kept in %.120s)", why.text, r->csv);
    }
    return rc;
}

/* The GPU-GPU link bandwidth for tp > 1, bytes/s one way: --link-gbps, else the named GPU
 * preset, else the preset the device's name stands for. */
static int link_bps(const struct cal_run *r, double *out, struct sim_msg *err)
{
    const struct cal_calibrate_opts *a = r->o;
    const struct cal_gpu            *gp = a->gpu ? cal_gpu_find(a->gpu) : NULL;
    if (!gp)
        gp = cal_gpu_find_device(r->ki.device);
    *out = a->link_gbps > 0 ? a->link_gbps * 1e9 : gp ? gp->link_bw : 0;
    if (!(*out > 0))
        return sim_msg_set(err, SIM_ECONFIG,
                           "--tp %u needs --link-gbps or --gpu PRESET (the device '%s' matches "
                           "no GPU preset)",
                           a->tp, r->ki.device);
    return SIM_OK;
}

/* The profile from the fit, with tensor parallelism's all-reduces added. */
static int make_profile(struct cal_run *r, struct sim_msg *err)
{
    const struct cal_calibrate_opts *a = r->o;
    struct cal_profile              *p = &r->p;
    memset(p, 0, sizeof *p);
    snprintf(p->model, sizeof p->model, "%s", r->m->name);
    snprintf(p->source, sizeof p->source, "measured");
    snprintf(p->backend, sizeof p->backend, "%s", r->ki.backend);
    snprintf(p->device, sizeof p->device, "%s", r->ki.device);
    snprintf(p->driver, sizeof p->driver, "%s", r->ki.driver);
    snprintf(p->cuda, sizeof p->cuda, "%s", r->ki.runtime);
    snprintf(p->date, sizeof p->date, "%s", r->date);
    p->tp = a->tp;
    p->n_pieces = r->rep.n_pieces;
    memcpy(p->piece, r->rep.piece, sizeof p->piece);
    if (a->tp > 1) {
        double link;
        int    rc = link_bps(r, &link, err);
        if (rc)
            return rc;
        struct cal_allreduce ar = cal_allreduce_cost(r->m, a->tp, (double)r->eb, link);
        for (size_t k = 0; k < p->n_pieces; k++) {
            p->piece[k].coef[CAL_T_CONST] += ar.const_s;
            p->piece[k].coef[CAL_T_DECODE_SEQS] += ar.per_tok_s;
            p->piece[k].coef[CAL_T_PREFILL_TOK] += ar.per_tok_s;
        }
    }
    p->kv_bytes_per_token = (double)r->ki.kv_bytes_per_token;
    p->kv_capacity_bytes = r->kv_cap > 0 ? r->kv_cap : 0;
    p->weight_bytes = (double)r->ki.weight_bytes;
    p->predictor_cost_s = r->pred1;
    p->mape_heldout = r->rep.mape_heldout;
    p->maxerr_heldout = r->rep.maxerr_heldout;
    const char *base = strrchr(r->csv, '/');
    snprintf(p->raw_csv, sizeof p->raw_csv, "%.255s", base ? base + 1 : r->csv);
    if (cal_sha256_file(r->csv, p->raw_sha256))
        return sim_msg_set(err, SIM_EIO, "%s: cannot read back", r->csv);
    return SIM_OK;
}

/* The profile's free-form info section (how it was measured and how well it fits). */
static void make_info(const struct cal_run *r, char *info, size_t n)
{
    const struct cal_latfit_report *rep = &r->rep;
    const struct cal_time_opts     *t = &r->t;
    size_t                          k = 0;
#define INFO(...) k += (size_t)snprintf(info + k, k < n ? n - k : 0, __VA_ARGS__)
    INFO("  timed_unit: \"one whole iteration: embedding, %u layers, final norm, LM head\"\n",
         r->sh.layers);
    INFO("  timing: {warmup: %u, repeats: %u, min_repeats: %u, budget_s: %g, l2_flush: %s, "
         "statistic: median%s}\n",
         t->warmup, t->repeats, t->min_repeats, t->budget_s, t->warm ? "false" : "true",
         r->ko.cpu_time ? ", clock: thread_cpu" : "");
    INFO("  grid: {points: %zu, train: %zu, heldout: %zu, max_seqs: %u, max_ctx: %u, "
         "max_prompt: %u, max_batch_tok: %u, max_kv_tok: %zu, seed: %llu, kv_layout: %s}\n",
         r->g.n, rep->n_train, rep->n_heldout, r->go.max_seqs, r->go.max_ctx, r->go.max_prompt,
         r->go.max_batch_tok, r->go.max_kv_tok, (unsigned long long)r->o->seed,
         r->o->layout == KERN_KV_PAGED ? "paged" : "contiguous");
    INFO("  fit: {cv_mape: %.4g, cv_mape_one_piece: %.4g, mape_train: %.4g, weights: "
         "\"1/T^2\"}\n",
         rep->cv_mape, rep->cv_mape_1, rep->mape_train);
    INFO("  stderr:\n");
    for (size_t q = 0; q < rep->n_pieces; q++) {
        INFO("    - [");
        for (int j = 0; j < CAL_TERMS; j++)
            INFO("%s%.4g", j ? ", " : "", rep->held0[q][j] ? 0.0 : rep->fit[q].err[j]);
        INFO("]\n");
    }
    INFO("  predictor: {shape: \"2^18 buckets, 256 wide, 2 hidden, 10 classes, 256 features\", "
         "batch1_s: %.4g, batch32_per_req_s: %.4g}\n",
         r->pred1, r->pred32 / 32);
    INFO("  blas: \"%s\"\n  sweep_s: %.1f\n", r->ki.blas, r->sweep_s);
    if (r->o->tp > 1)
        INFO("  tp_allreduce: \"analytic, added to const, decode_seqs and prefill_tok\"\n");
    if (rep->warn[0]) {
        INFO("  warnings: \"");
        for (const char *c = rep->warn; *c; c++)
            INFO("%s", *c == '"' ? "'" : (char[2]){*c, 0});
        INFO("\"\n");
    }
#undef INFO
    if (k >= n)
        info[n - 1] = 0;
}

/* The fitted pieces with their standard errors, the fit's scores and what was written. */
static void print_summary(const struct cal_run *r, FILE *f, double wall_s)
{
    const struct cal_latfit_report *rep = &r->rep;
    const struct cal_profile       *p = &r->p;
    fprintf(f, "%s on %s (%s, %s): %zu pieces\n", r->m->name, r->ki.device, r->ki.backend,
            r->ki.blas, rep->n_pieces);
    fprintf(f, "  %-10s", "n_tok <=");
    for (int j = 0; j < CAL_TERMS; j++)
        fprintf(f, " %12s", j == CAL_T_CONST ? "const s" : cal_term_name((size_t)j));
    fputc('\n', f);
    for (size_t q = 0; q < p->n_pieces; q++) {
        fprintf(f, "  %-10.0f", p->piece[q].max_tokens);
        for (int j = 0; j < CAL_TERMS; j++)
            fprintf(f, " %12.4g", p->piece[q].coef[j]);
        fprintf(f, "\n  %-10s", "+-");
        for (int j = 0; j < CAL_TERMS; j++)
            fprintf(f, " %12.2g", rep->held0[q][j] ? 0.0 : rep->fit[q].err[j]);
        fprintf(f, "   (%zu points)\n", rep->n_in_piece[q]);
    }
    fprintf(f, "  cross-validated MAPE %.2f %% (one line: %.2f %%); train MAPE %.2f %%\n",
            rep->cv_mape, rep->cv_mape_1, rep->mape_train);
    fprintf(f, "  held-out MAPE %.2f %%, max %.2f %% over %zu points\n", rep->mape_heldout,
            rep->maxerr_heldout, rep->n_heldout);
    fprintf(f,
            "  KV: %.0f bytes/token, usable %.2f GB; predictor %.1f us/request (batch 1), "
            "%.2f us/request (batch 32)\n",
            p->kv_bytes_per_token, p->kv_capacity_bytes / 1e9, r->pred1 * 1e6,
            r->pred32 / 32 * 1e6);
    fprintf(f, "  wrote %s and %s in %.1f s (sweep %.1f s)\n", r->o->out, r->csv, wall_s,
            r->sweep_s);
}

int cal_calibrate(const struct cal_calibrate_opts *o, FILE *summary, struct sim_msg *err)
{
    int64_t         t_start = sim_wall_ns();
    struct cal_run *r = sim_calloc(1, sizeof *r);
    if (!r)
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    r->o = o;
    char info[4096];
    int  rc;
    if ((rc = outputs(r, err)) || (rc = plan(r, err)) || (rc = sweep(r, err)) ||
        (rc = write_csv(r, err)) || (rc = fit(r, err)) ||
        (rc = time_predictor(o, 1, &r->pred1, err)) ||
        (rc = time_predictor(o, 32, &r->pred32, err)) || (rc = make_profile(r, err)))
        goto out;
    /* Never write a profile the loader refuses (the fit holds the terms it checks at 0, and the
     * all-reduce terms only add; this is the last line of defence). */
    if ((rc = cal_profile_check_latency(&r->p, "the fitted profile", err))) {
        struct sim_msg why = *err;
        sim_msg_set(err, rc, "%.380s; not written (raw measurements kept in %.120s)", why.text,
                    r->csv);
        goto out;
    }
    make_info(r, info, sizeof info);
    if ((rc = cal_profile_save_info(o->out, &r->p, info, err)))
        goto out;
    if (summary)
        print_summary(r, summary, (double)(sim_wall_ns() - t_start) * 1e-9);
    if (r->rep.warn[0])
        sim_log_warn("%s", r->rep.warn);
out:
    sim_free(r->obs);
    cal_grid_free(&r->g);
    sim_free(r);
    return rc;
}
