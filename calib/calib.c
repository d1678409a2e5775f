/*
 * calib.c: `lensim calibrate` (see calib.h and calib/PROFILE.md).
 *
 * Steps: choose the grid limits for the model on this device (or from the flags); create the
 * backend with a KV pool that holds the largest point; time every point (cal_grid_run); write
 * the raw CSV (temporary file, then rename); fit the piecewise model (cal_latfit) on the
 * training points; score it on the held-out ones; time the length predictor; measure the usable
 * KV capacity; write PROFILE.yaml. With --tp N the backend runs one GPU's shard (heads, KV heads,
 * MLP width and vocabulary divided by N) and the two all-reduces per layer are added to the
 * fitted coefficients analytically from the link bandwidth (lensim links no NCCL).
 */
#include "calib.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "afile.h"
#include "alloc.h"
#include "kern.h"
#include "latfit.h"
#include "presets.h"
#include "profile.h"
#include "sha256.h"
#include "sweep.h"
#include "timing.h"

/* Latency of one all-reduce step across GPUs (NVLink), seconds; as in analytic.c. */
#define ALLREDUCE_ALPHA_S 8e-6

struct args {
    const char *backend, *model, *out, *grid, *csv, *gpu;
    uint32_t    tp, max_seqs, max_ctx, max_prompt, max_batch_tok;
    size_t      points;
    uint64_t    seed;
    int         layout, graphs, device, quiet, threads;
    double      mem_util, link_gbps;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lensim calibrate --model NAME -o PROFILE.yaml [options]\n"
            "\n"
            "Times whole serving iterations of the model over a grid of decode, prefill and\n"
            "mixed batches, fits the piecewise latency model (calib/profile.h) with GSL, scores\n"
            "it on held-out points, times the length predictor, measures the usable KV memory,\n"
            "and writes PROFILE.yaml plus the raw measurements beside it (PROFILE.csv).\n"
            "\n"
            "options:\n"
            "  --backend cpu|cuda     where to run the kernels (default cpu)\n"
            "  --model NAME           model preset (calib/presets.c), e.g. tiny, llama-2-7b\n"
            "  --tp N                 tensor-parallel degree: time one GPU's shard (default 1)\n"
            "  -o, --output PATH      profile to write\n"
            "  --csv PATH             raw measurements (default: PATH with .csv)\n"
            "  --grid full|small|quick  grid size and repeats (default full)\n"
            "  --points N             grid points, overriding --grid\n"
            "  --seed S               grid, weights and held-out split (default 1)\n"
            "  --kv-layout paged|contiguous  KV cache layout (default paged)\n"
            "  --max-seqs N --max-ctx N --max-prompt N --max-batch-tok N\n"
            "                         grid limits (defaults: the model's serving range on the\n"
            "                         backend; see calib/PROFILE.md)\n"
            "  --mem-util U           fraction of device memory a server may use (default 0.90)\n"
            "  --gpu PRESET           GPU preset for the tp>1 link bandwidth (default: from the\n"
            "                         device name)\n"
            "  --link-gbps G          GPU-GPU link bandwidth, GB/s one way (overrides --gpu)\n"
            "  --no-graphs            cuda: launch kernels directly instead of CUDA graphs\n"
            "  --device N             cuda device ordinal (default 0)\n"
            "  --threads N            cpu: BLAS threads (default 1, for stable timings)\n"
            "  -q, --quiet            no progress\n"
            "  -h, --help             this text\n"
            "\n"
            "exit status: 0 written, 1 the fit failed, 2 bad usage, 3 I/O error, 77 no GPU\n");
}

static int parse_u(const char *s, const char *flag, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !(v >= lo && v <= hi)) {
        fprintf(stderr, "lensim calibrate: %s: '%s' is not a number in [%g, %g]\n", flag, s, lo,
                hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
    enum { O_BACKEND = 256, O_MODEL, O_TP, O_CSV, O_GRID, O_POINTS, O_SEED, O_LAYOUT, O_MSEQ,
           O_MCTX, O_MPROMPT, O_MTOK, O_MEM, O_GPU, O_LINK, O_NOGRAPH, O_DEVICE, O_THREADS };
    static const struct option opts[] = {
        {"backend", required_argument, 0, O_BACKEND}, {"model", required_argument, 0, O_MODEL},
        {"tp", required_argument, 0, O_TP},           {"output", required_argument, 0, 'o'},
        {"csv", required_argument, 0, O_CSV},         {"grid", required_argument, 0, O_GRID},
        {"points", required_argument, 0, O_POINTS},   {"seed", required_argument, 0, O_SEED},
        {"kv-layout", required_argument, 0, O_LAYOUT}, {"max-seqs", required_argument, 0, O_MSEQ},
        {"max-ctx", required_argument, 0, O_MCTX},    {"max-prompt", required_argument, 0, O_MPROMPT},
        {"max-batch-tok", required_argument, 0, O_MTOK}, {"mem-util", required_argument, 0, O_MEM},
        {"gpu", required_argument, 0, O_GPU},         {"link-gbps", required_argument, 0, O_LINK},
        {"no-graphs", no_argument, 0, O_NOGRAPH},     {"device", required_argument, 0, O_DEVICE},
        {"threads", required_argument, 0, O_THREADS}, {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},                {0, 0, 0, 0},
    };
    *a = (struct args){.backend = "cpu", .grid = "full", .tp = 1, .seed = 1,
                       .layout = KERN_KV_PAGED, .graphs = 1, .mem_util = 0.90};
    optind = 1;
    opterr = 0;
    int c;
    double v;
    while ((c = getopt_long(argc, argv, ":o:qh", opts, NULL)) != -1) {
        switch (c) {
        case O_BACKEND: a->backend = optarg; break;
        case O_MODEL: a->model = optarg; break;
        case 'o': a->out = optarg; break;
        case O_CSV: a->csv = optarg; break;
        case O_GRID: a->grid = optarg; break;
        case O_GPU: a->gpu = optarg; break;
        case O_NOGRAPH: a->graphs = 0; break;
        case 'q': a->quiet = 1; break;
        case 'h': usage(stdout); return 1;
        case O_LAYOUT:
            if (!strcmp(optarg, "paged"))
                a->layout = KERN_KV_PAGED;
            else if (!strcmp(optarg, "contiguous"))
                a->layout = KERN_KV_CONTIGUOUS;
            else {
                fprintf(stderr, "lensim calibrate: --kv-layout: 'paged' or 'contiguous'\n");
                return -1;
            }
            break;
        case O_TP: case O_POINTS: case O_SEED: case O_MSEQ: case O_MCTX: case O_MPROMPT:
        case O_MTOK: case O_DEVICE: case O_THREADS:
            if (parse_u(optarg, argv[optind - 1], 0, 1e12, &v) || v != floor(v))
                return -1;
            if (c == O_TP) a->tp = (uint32_t)v;
            if (c == O_POINTS) a->points = (size_t)v;
            if (c == O_SEED) a->seed = (uint64_t)v;
            if (c == O_MSEQ) a->max_seqs = (uint32_t)v;
            if (c == O_MCTX) a->max_ctx = (uint32_t)v;
            if (c == O_MPROMPT) a->max_prompt = (uint32_t)v;
            if (c == O_MTOK) a->max_batch_tok = (uint32_t)v;
            if (c == O_DEVICE) a->device = (int)v;
            if (c == O_THREADS) a->threads = (int)v;
            break;
        case O_MEM:
            if (parse_u(optarg, "--mem-util", 0.05, 1.0, &a->mem_util))
                return -1;
            break;
        case O_LINK:
            if (parse_u(optarg, "--link-gbps", 0.1, 1e5, &a->link_gbps))
                return -1;
            break;
        case ':':
            fprintf(stderr, "lensim calibrate: %s needs a value\n", argv[optind - 1]);
            return -1;
        default:
            fprintf(stderr, "lensim calibrate: unknown option '%s' (see --help)\n",
                    argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "lensim calibrate: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!a->model || !a->out) {
        fprintf(stderr, "lensim calibrate: --model and -o are required (see --help)\n");
        return -1;
    }
    if (strcmp(a->backend, "cpu") && strcmp(a->backend, "cuda")) {
        fprintf(stderr, "lensim calibrate: --backend: 'cpu' or 'cuda', not '%s'\n", a->backend);
        return -1;
    }
    if (strcmp(a->grid, "full") && strcmp(a->grid, "small") && strcmp(a->grid, "quick")) {
        fprintf(stderr, "lensim calibrate: --grid: full, small or quick\n");
        return -1;
    }
    if (a->tp < 1 || a->tp > 64) {
        fprintf(stderr, "lensim calibrate: --tp: 1 to 64\n");
        return -1;
    }
    return 0;
}

/* The shard of m that one of tp GPUs holds. */
static int shard(const struct cal_model *m, uint32_t tp, struct kern_shape *s)
{
    if (m->heads % tp || m->ffn % tp || (m->kv_heads >= tp && m->kv_heads % tp))
        return -1;
    *s = (struct kern_shape){m->layers, m->hidden, m->heads / tp,
                             m->kv_heads >= tp ? m->kv_heads / tp : 1, m->head_dim, m->ffn / tp,
                             (m->vocab + tp - 1) / tp, m->gated_mlp};
    return 0;
}

static size_t weight_bytes_of(const struct kern_shape *s, size_t eb)
{
    size_t qkv = (size_t)(s->heads + 2 * s->kv_heads) * s->head_dim;
    size_t per = 2 * (size_t)s->hidden + qkv * s->hidden + (size_t)s->hidden * s->heads * s->head_dim +
                 (size_t)(s->gated_mlp ? 3 : 2) * s->ffn * s->hidden;
    return eb * (per * s->layers + 2 * (size_t)s->vocab * s->hidden + s->hidden);
}

struct prog {
    int     quiet;
    int64_t t0;
};

static void progress(size_t done, size_t total, void *ctx)
{
    struct prog *p = ctx;
    if (p->quiet || !isatty(2) || (done % 10 && done != total))
        return;
    fprintf(stderr, "\rlensim: timed %zu/%zu points (%.1f s)", done, total,
            (double)(sim_wall_ns() - p->t0) * 1e-9);
    if (done == total)
        fputc('\n', stderr);
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
static int write_csv(const char *path, const struct args *a, const struct kern_info *ki,
                     const char *date, const struct cal_grid *g, const struct cal_time_opts *t,
                     struct sim_msg *err)
{
    struct sim_afile af;
    int rc = sim_afile_open(&af, path, err);
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
                p->feat.decode_seqs + p->feat.prefill_tok, p->t.median_s, p->t.p10_s,
                p->t.p90_s, p->t.min_s, p->t.n);
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
    size_t big = 0;
    for (size_t i = 1; i < g->n; i++)
        if (g->pt[i].feat.decode_seqs + g->pt[i].feat.prefill_tok >
            g->pt[big].feat.decode_seqs + g->pt[big].feat.prefill_tok)
            big = i;
    one.pt = &g->pt[big];
    one.n = 1;
    struct cal_time_opts t = {.warmup = 2, .repeats = 1, .warm = 1};
    struct cal_time_stats keep = g->pt[big].t;
    int rc = cal_grid_run(b, &one, &t, 1, NULL, NULL, err);
    g->pt[big].t = keep;
    return rc;
}

static int pred_run(void *ctx) { return kern_pred_run(ctx); }

/* Median seconds of one predictor forward pass over n_req requests of 256 hashed features. */
static int time_predictor(const struct args *a, uint32_t n_req, double *out, struct sim_msg *err)
{
    /* Sized like a fastText-style proxy: 2^18 hash buckets, width 256, two hidden layers, ten
     * output-length buckets. */
    struct kern_pred_shape ps = {1u << 18, 256, 2, 10};
    struct kern_opts o = {.backend = a->backend, .seed = a->seed, .pred = &ps,
                          .pred_max_req = 64, .pred_max_feat = 256, .device = a->device,
                          .cpu_threads = a->threads};
    kern_backend_t *b;
    int rc = kern_backend_new(NULL, &o, &b, err);
    if (rc)
        return rc;
    uint32_t nf[64];
    for (uint32_t i = 0; i < 64; i++)
        nf[i] = 256;
    rc = kern_pred_prepare(b, n_req, nf, err);
    struct cal_time_opts t = {.warmup = 3, .repeats = 21, .min_repeats = 5, .budget_s = 0.2};
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

static int exit_status(int rc)
{
    switch (rc) {
    case SIM_OK: return 0;
    case SIM_ENODEV: return 77;
    case SIM_EIO: return 3;
    case SIM_EFIT: return 1;
    default: return 2;
    }
}

/* Defaults of the grid limits for the model on the backend (see PROFILE.md). */
static void limits(const struct args *a, const struct cal_model *m, struct cal_grid_opts *g)
{
    int gpu = !strcmp(a->backend, "cuda");
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

int cal_calibrate_cmd(int argc, char **argv)
{
    struct args a;
    int prc = parse_args(argc, argv, &a);
    if (prc)
        return prc > 0 ? 0 : 2;
    int64_t t_start = sim_wall_ns();
    struct sim_msg err = {{0}};
    const struct cal_model *m = cal_model_find(a.model);
    if (!m) {
        fprintf(stderr, "lensim calibrate: unknown model '%s'; presets:", a.model);
        for (const struct cal_model *p = cal_models; p->name; p++)
            fprintf(stderr, " %s", p->name);
        fputc('\n', stderr);
        return 2;
    }
    struct kern_shape sh;
    if (shard(m, a.tp, &sh)) {
        fprintf(stderr, "lensim calibrate: %s does not split %u ways (heads %u, ffn %u)\n",
                m->name, a.tp, m->heads, m->ffn);
        return 2;
    }
    int gpu = !strcmp(a.backend, "cuda");
    size_t eb = gpu ? 2 : 4;
    size_t free0 = 0, total0 = 0;
    int rc = kern_device_mem(a.backend, a.device, &free0, &total0, &err);
    if (rc) {
        fprintf(stderr, "lensim calibrate: %s\n", err.text);
        return exit_status(rc);
    }

    struct cal_grid_opts go;
    limits(&a, m, &go);
    size_t kvpt = 2 * (size_t)sh.layers * sh.kv_heads * sh.head_dim * eb;
    double wb = (double)weight_bytes_of(&sh, eb);
    /* The sweep's KV pool: half of what a server could use after the weights (the rest covers
     * workspace), and no more than max_seqs half-full contexts. */
    double room = a.mem_util * (double)total0 - (double)(total0 - free0) - wb;
    if (room <= 0) {
        fprintf(stderr, "lensim calibrate: %s weights (%.2f GB) leave no memory on the device\n",
                m->name, wb / 1e9);
        return 2;
    }
    size_t kv_cap_tok = (size_t)(room * 0.5 / (double)kvpt);
    size_t want = (size_t)go.max_seqs * go.max_ctx / 2 + (size_t)go.max_batch_tok;
    go.max_kv_tok = want < kv_cap_tok ? want : kv_cap_tok;

    struct cal_grid g;
    rc = cal_grid_make(&go, &g, &err);
    if (rc) {
        fprintf(stderr, "lensim calibrate: %s\n", err.text);
        return exit_status(rc);
    }
    struct kern_opts ko = {
        .backend = a.backend, .seed = a.seed, .kv_layout = (enum kern_kv_layout)a.layout,
        .block_tok = 16, .max_slots = go.max_seqs, .max_ctx = go.max_ctx,
        .kv_tokens = cal_grid_kv_need(&g) + (size_t)go.max_seqs * 16,
        .max_batch_tok = go.max_batch_tok, .max_seqs = go.max_seqs, .max_prompt = go.max_prompt,
        .graphs = gpu && a.graphs, .device = a.device, .cpu_threads = a.threads,
    };
    if (a.layout == KERN_KV_CONTIGUOUS &&
        (double)go.max_seqs * go.max_ctx * kvpt > room) {
        fprintf(stderr, "lensim calibrate: a contiguous cache of %u x %u tokens does not fit; "
                        "lower --max-seqs or --max-ctx, or use --kv-layout paged\n",
                go.max_seqs, go.max_ctx);
        cal_grid_free(&g);
        return 2;
    }
    if (!a.quiet)
        sim_log_info("calibrating %s (tp %u) on %s: %zu points, batch <= %u seqs / %u tokens, "
                     "context <= %u, prompt <= %u, KV pool %zu tokens",
                     m->name, a.tp, a.backend, g.n, go.max_seqs, go.max_batch_tok, go.max_ctx,
                     go.max_prompt, ko.kv_tokens);
    kern_backend_t *b = NULL;
    rc = kern_backend_new(&sh, &ko, &b, &err);
    if (rc) {
        fprintf(stderr, "lensim calibrate: %s\n", err.text);
        cal_grid_free(&g);
        return exit_status(rc);
    }
    struct kern_info ki;
    kern_backend_info(b, &ki);

    int quick = !strcmp(a.grid, "quick");
    struct cal_time_opts t = gpu ? (struct cal_time_opts){3, 15, 5, 0.5, 0}
                             : quick ? (struct cal_time_opts){1, 5, 3, 0.05, 1}
                                     : (struct cal_time_opts){1, 15, 6, 0.2, 1};
    struct prog pg = {a.quiet, sim_wall_ns()};
    /* A short untimed warm-up of the whole machine (page faults, clocks, BLAS buffers). */
    rc = warm_up(b, &g, &err);
    rc = rc ? rc : cal_grid_run(b, &g, &t, gpu ? 1 : 3, progress, &pg, &err);
    double sweep_s = (double)(sim_wall_ns() - pg.t0) * 1e-9;
    /* Usable KV memory (vLLM's gpu_memory_utilization): mem_util of the device less what others
     * used before us, our weights and our workspace. Our own sweep pool is not counted against
     * it: a server would use that memory for its cache. */
    double kv_cap = a.mem_util * (double)total0 - (double)(total0 - free0) -
                    (double)ki.weight_bytes - (double)ki.work_bytes;
    kern_backend_free(b);
    if (rc) {
        fprintf(stderr, "\nlensim calibrate: %s\n", err.text);
        cal_grid_free(&g);
        return exit_status(rc);
    }

    char date[32];
    time_t now = time(NULL);
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(date, sizeof date, "%Y-%m-%d", &tmv);

    /* Raw CSV beside the profile. */
    char csv[1024];
    if (a.csv) {
        snprintf(csv, sizeof csv, "%s", a.csv);
    } else {
        snprintf(csv, sizeof csv, "%s", a.out);
        char *dot = strrchr(csv, '.'), *slash = strrchr(csv, '/');
        if (dot && (!slash || dot > slash))
            *dot = 0;
        strncat(csv, ".csv", sizeof csv - strlen(csv) - 1);
    }
    rc = write_csv(csv, &a, &ki, date, &g, &t, &err);
    if (rc) {
        fprintf(stderr, "lensim calibrate: %s\n", err.text);
        cal_grid_free(&g);
        return exit_status(rc);
    }

    struct cal_obs *obs = sim_calloc(g.n, sizeof *obs);
    if (!obs) {
        cal_grid_free(&g);
        fprintf(stderr, "lensim calibrate: out of memory\n");
        return 2;
    }
    for (size_t i = 0; i < g.n; i++)
        obs[i] = (struct cal_obs){g.pt[i].feat, g.pt[i].t.median_s, g.pt[i].heldout};
    struct cal_latfit_report rep;
    struct cal_latfit_opts lo = {.max_pieces = CAL_MAX_PIECES, .seed = (unsigned)a.seed};
    rc = cal_latfit(obs, g.n, &lo, &rep, &err);
    if (rc) {
        fprintf(stderr, "lensim calibrate: %s (raw measurements kept in %s)\n", err.text, csv);
        sim_free(obs);
        cal_grid_free(&g);
        return exit_status(rc);
    }

    double pred1 = 0, pred32 = 0;
    rc = time_predictor(&a, 1, &pred1, &err);
    rc = rc ? rc : time_predictor(&a, 32, &pred32, &err);
    if (rc) {
        fprintf(stderr, "lensim calibrate: %s\n", err.text);
        sim_free(obs);
        cal_grid_free(&g);
        return exit_status(rc);
    }

    struct cal_profile p;
    memset(&p, 0, sizeof p);
    snprintf(p.model, sizeof p.model, "%s", m->name);
    snprintf(p.source, sizeof p.source, "measured");
    snprintf(p.backend, sizeof p.backend, "%s", ki.backend);
    snprintf(p.device, sizeof p.device, "%s", ki.device);
    snprintf(p.driver, sizeof p.driver, "%s", ki.driver);
    snprintf(p.cuda, sizeof p.cuda, "%s", ki.runtime);
    snprintf(p.date, sizeof p.date, "%s", date);
    p.tp = a.tp;
    p.n_pieces = rep.n_pieces;
    memcpy(p.piece, rep.piece, sizeof p.piece);
    if (a.tp > 1) {
        /* Two ring all-reduces of n_tok x hidden activations per layer (Megatron-LM). */
        double link = a.link_gbps * 1e9;
        if (!(link > 0)) {
            const struct cal_gpu *gp = a.gpu ? cal_gpu_find(a.gpu) : NULL;
            for (const struct cal_gpu *q = cal_gpus; !gp && q->name; q++) {
                char dev[128];
                snprintf(dev, sizeof dev, "%s", ki.device);
                for (char *c = dev; *c; c++)
                    *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
                char key[32];
                snprintf(key, sizeof key, "%s", q->name);
                char *dash = strchr(key, '-');
                if (dash)
                    *dash = 0;
                if (strstr(dev, key))
                    gp = q;
            }
            link = gp ? gp->link_bw : 0;
        }
        if (!(link > 0)) {
            fprintf(stderr, "lensim calibrate: --tp %u needs --link-gbps or --gpu PRESET (the "
                            "device '%s' matches no GPU preset)\n", a.tp, ki.device);
            sim_free(obs);
            cal_grid_free(&g);
            return 2;
        }
        double ar = 2.0 * (a.tp - 1) / a.tp * m->hidden * eb;
        for (size_t k = 0; k < p.n_pieces; k++) {
            p.piece[k].coef[CAL_T_CONST] += 2.0 * m->layers * ALLREDUCE_ALPHA_S;
            p.piece[k].coef[CAL_T_DECODE_SEQS] += 2.0 * m->layers * ar / link;
            p.piece[k].coef[CAL_T_PREFILL_TOK] += 2.0 * m->layers * ar / link;
        }
    }
    p.kv_bytes_per_token = (double)ki.kv_bytes_per_token;
    p.kv_capacity_bytes = kv_cap > 0 ? kv_cap : 0;
    p.weight_bytes = (double)ki.weight_bytes;
    p.predictor_cost_s = pred1;
    p.mape_heldout = rep.mape_heldout;
    p.maxerr_heldout = rep.maxerr_heldout;
    const char *base = strrchr(csv, '/');
    snprintf(p.raw_csv, sizeof p.raw_csv, "%.255s", base ? base + 1 : csv);
    if (cal_sha256_file(csv, p.raw_sha256)) {
        fprintf(stderr, "lensim calibrate: %s: cannot read back\n", csv);
        sim_free(obs);
        cal_grid_free(&g);
        return 3;
    }

    /* The free-form info section. */
    char info[4096];
    size_t k = 0;
#define INFO(...) k += (size_t)snprintf(info + k, k < sizeof info ? sizeof info - k : 0, __VA_ARGS__)
    INFO("  timed_unit: \"one whole iteration: embedding, %u layers, final norm, LM head\"\n",
         sh.layers);
    INFO("  timing: {warmup: %u, repeats: %u, min_repeats: %u, budget_s: %g, l2_flush: %s, "
         "statistic: median}\n", t.warmup, t.repeats, t.min_repeats, t.budget_s,
         t.warm ? "false" : "true");
    INFO("  grid: {points: %zu, train: %zu, heldout: %zu, max_seqs: %u, max_ctx: %u, "
         "max_prompt: %u, max_batch_tok: %u, max_kv_tok: %zu, seed: %llu, kv_layout: %s}\n",
         g.n, rep.n_train, rep.n_heldout, go.max_seqs, go.max_ctx, go.max_prompt,
         go.max_batch_tok, go.max_kv_tok, (unsigned long long)a.seed,
         a.layout == KERN_KV_PAGED ? "paged" : "contiguous");
    INFO("  fit: {cv_mape: %.4g, cv_mape_one_piece: %.4g, mape_train: %.4g, weights: "
         "\"1/T^2\"}\n", rep.cv_mape, rep.cv_mape_1, rep.mape_train);
    INFO("  stderr:\n");
    for (size_t q = 0; q < rep.n_pieces; q++) {
        INFO("    - [");
        for (int j = 0; j < CAL_TERMS; j++)
            INFO("%s%.4g", j ? ", " : "", rep.held0[q][j] ? 0.0 : rep.fit[q].err[j]);
        INFO("]\n");
    }
    INFO("  predictor: {shape: \"2^18 buckets, 256 wide, 2 hidden, 10 classes, 256 features\", "
         "batch1_s: %.4g, batch32_per_req_s: %.4g}\n", pred1, pred32 / 32);
    INFO("  blas: \"%s\"\n  sweep_s: %.1f\n", ki.blas, sweep_s);
    if (a.tp > 1)
        INFO("  tp_allreduce: \"analytic, added to const, decode_seqs and prefill_tok\"\n");
    if (rep.warn[0]) {
        INFO("  warnings: \"");
        for (const char *c = rep.warn; *c; c++)
            INFO("%s", *c == '"' ? "'" : (char[2]){*c, 0});
        INFO("\"\n");
    }
#undef INFO
    if (k >= sizeof info)
        info[sizeof info - 1] = 0;
    rc = cal_profile_save_info(a.out, &p, info, &err);
    if (rc) {
        fprintf(stderr, "lensim calibrate: %s\n", err.text);
        sim_free(obs);
        cal_grid_free(&g);
        return exit_status(rc);
    }

    if (!a.quiet) {
        printf("%s on %s (%s, %s): %zu pieces\n", m->name, ki.device, ki.backend, ki.blas,
               rep.n_pieces);
        printf("  %-10s %12s %12s %12s %12s %12s\n", "n_tok <=", "const s", "decode_seqs",
               "decode_ctx", "prefill_tok", "prefill_sq");
        for (size_t q = 0; q < p.n_pieces; q++) {
            printf("  %-10.0f", p.piece[q].max_tokens);
            for (int j = 0; j < CAL_TERMS; j++)
                printf(" %12.4g", p.piece[q].coef[j]);
            printf("\n  %-10s", "+-");
            for (int j = 0; j < CAL_TERMS; j++)
                printf(" %12.2g", rep.held0[q][j] ? 0.0 : rep.fit[q].err[j]);
            printf("   (%zu points)\n", rep.n_in_piece[q]);
        }
        printf("  cross-validated MAPE %.2f %% (one line: %.2f %%); train MAPE %.2f %%\n",
               rep.cv_mape, rep.cv_mape_1, rep.mape_train);
        printf("  held-out MAPE %.2f %%, max %.2f %% over %zu points\n", rep.mape_heldout,
               rep.maxerr_heldout, rep.n_heldout);
        printf("  KV: %.0f bytes/token, usable %.2f GB; predictor %.1f us/request (batch 1), "
               "%.2f us/request (batch 32)\n",
               p.kv_bytes_per_token, p.kv_capacity_bytes / 1e9, pred1 * 1e6, pred32 / 32 * 1e6);
        printf("  wrote %s and %s in %.1f s (sweep %.1f s)\n", a.out, csv,
               (double)(sim_wall_ns() - t_start) * 1e-9, sweep_s);
    }
    if (rep.warn[0])
        sim_log_warn("%s", rep.warn);
    sim_free(obs);
    cal_grid_free(&g);
    return 0;
}
