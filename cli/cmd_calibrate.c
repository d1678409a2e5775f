/*
 * cmd_calibrate.c: `lensim calibrate --model NAME -o PROFILE.yaml [options]`: argv to
 * cal_calibrate's options (calib/calib.h), a progress line on a terminal, and the exit status.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calib.h"
#include "cmds.h"
#include "kern.h"
#include "presets.h"

static void usage(FILE *f)
{
    char backends[64], models[256], gpus[128];
    fprintf(f,
            "usage: lensim calibrate --model NAME -o PROFILE.yaml [options]\n"
            "\n"
            "Times whole serving iterations of the model over a grid of decode, prefill and\n"
            "mixed batches, fits the piecewise latency model (calib/profile.h) with GSL, scores\n"
            "it on held-out points, times the length predictor, measures the usable KV memory,\n"
            "and writes PROFILE.yaml plus the raw measurements beside it (PROFILE.csv).\n"
            "\n"
            "options:\n"
            "  --backend B            where to run the kernels: %s (default cpu)\n"
            "  --model NAME           model preset: %s\n"
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
            "                         device name): %s\n"
            "  --link-gbps G          GPU-GPU link bandwidth, GB/s one way (overrides --gpu)\n"
            "  --no-graphs            cuda: launch kernels directly instead of CUDA graphs\n"
            "  --device N             cuda device ordinal (default 0)\n"
            "  --threads N            cpu: BLAS threads (default 1, for stable timings)\n"
            "  --cpu-time             cpu: time the thread's CPU time, not wall time (a shared\n"
            "                         machine; pairs with live.timer cpu)\n"
            "  -q, --quiet            no progress, summary or info messages\n"
            "  -h, --help             this text\n"
            "\n"
            "exit status: 0 written, 1 the fit failed, 2 bad usage, 3 I/O error, 77 no GPU\n",
            sim_choice_list(kern_backend_choices, backends, sizeof backends),
            cal_model_names(models, sizeof models, ", "), cal_gpu_names(gpus, sizeof gpus, ", "));
}

/* Messages name the option (`--tp`), then quote the value, escaped. */
static int bad_value(const char *flag, const char *s, const char *what)
{
    char v[256];
    fprintf(stderr, "lensim calibrate: %s: '%s' is not %s\n", flag, sim_escape(s, v, sizeof v),
            what);
    return -1;
}

static int parse_num(const char *s, const char *flag, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !(v >= lo && v <= hi)) {
        char what[80];
        snprintf(what, sizeof what, "a number in [%g, %g]", lo, hi);
        return bad_value(flag, s, what);
    }
    *out = v;
    return 0;
}

/* Digits only (sim_parse_u64): no sign to wrap, no fraction, at most max. */
static int parse_count(const char *s, const char *flag, uint64_t max, uint64_t *out)
{
    if (sim_parse_u64(s, max, out)) {
        char what[80];
        snprintf(what, sizeof what, "a whole number in [0, %llu]", (unsigned long long)max);
        return bad_value(flag, s, what);
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct cal_calibrate_opts *a, int *quiet)
{
    enum {
        O_BACKEND = 256,
        O_MODEL,
        O_TP,
        O_CSV,
        O_GRID,
        O_POINTS,
        O_SEED,
        O_LAYOUT,
        O_MSEQ,
        O_MCTX,
        O_MPROMPT,
        O_MTOK,
        O_MEM,
        O_GPU,
        O_LINK,
        O_NOGRAPH,
        O_DEVICE,
        O_THREADS,
        O_CPU_TIME /* issue 11 */
    };
    static const struct option opts[] = {
        {"backend", required_argument, 0, O_BACKEND},
        {"model", required_argument, 0, O_MODEL},
        {"tp", required_argument, 0, O_TP},
        {"output", required_argument, 0, 'o'},
        {"csv", required_argument, 0, O_CSV},
        {"grid", required_argument, 0, O_GRID},
        {"points", required_argument, 0, O_POINTS},
        {"seed", required_argument, 0, O_SEED},
        {"kv-layout", required_argument, 0, O_LAYOUT},
        {"max-seqs", required_argument, 0, O_MSEQ},
        {"max-ctx", required_argument, 0, O_MCTX},
        {"max-prompt", required_argument, 0, O_MPROMPT},
        {"max-batch-tok", required_argument, 0, O_MTOK},
        {"mem-util", required_argument, 0, O_MEM},
        {"gpu", required_argument, 0, O_GPU},
        {"link-gbps", required_argument, 0, O_LINK},
        {"no-graphs", no_argument, 0, O_NOGRAPH},
        {"device", required_argument, 0, O_DEVICE},
        {"threads", required_argument, 0, O_THREADS},
        {"cpu-time", no_argument, 0, O_CPU_TIME},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    cal_calibrate_opts_default(a);
    optind = 1;
    opterr = 0;
    int c, li = -1;
    while ((c = getopt_long(argc, argv, ":o:qh", opts, &li)) != -1) {
        char     flag[40]; /* the option as written: "--tp" */
        uint64_t v;
        snprintf(flag, sizeof flag, "--%s", li >= 0 ? opts[li].name : "?");
        li = -1;
        switch (c) {
        case O_BACKEND: a->backend = optarg; break;
        case O_MODEL: a->model = optarg; break;
        case 'o': a->out = optarg; break;
        case O_CSV: a->csv = optarg; break;
        case O_GRID: a->grid = optarg; break;
        case O_GPU: a->gpu = optarg; break;
        case O_NOGRAPH: a->graphs = 0; break;
        case 'q': *quiet = 1; break;
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
        case O_TP:
        case O_MSEQ:
        case O_MCTX:
        case O_MPROMPT:
        case O_MTOK:
            if (parse_count(optarg, flag, UINT32_MAX, &v))
                return -1;
            if (c == O_TP)
                a->tp = (uint32_t)v;
            else if (c == O_MSEQ)
                a->max_seqs = (uint32_t)v;
            else if (c == O_MCTX)
                a->max_ctx = (uint32_t)v;
            else if (c == O_MPROMPT)
                a->max_prompt = (uint32_t)v;
            else
                a->max_batch_tok = (uint32_t)v;
            break;
        case O_POINTS:
            if (parse_count(optarg, flag, 10000000, &v))
                return -1;
            a->points = (size_t)v;
            break;
        case O_SEED:
            if (parse_count(optarg, flag, UINT64_MAX, &a->seed))
                return -1;
            break;
        case O_DEVICE:
        case O_THREADS:
            if (parse_count(optarg, flag, 4096, &v))
                return -1;
            if (c == O_DEVICE)
                a->device = (int)v;
            else
                a->threads = (int)v;
            break;
        case O_CPU_TIME: a->cpu_time = 1; break;
        case O_MEM:
            if (parse_num(optarg, flag, 0.05, 1.0, &a->mem_util))
                return -1;
            break;
        case O_LINK:
            if (parse_num(optarg, flag, 0.1, 1e5, &a->link_gbps))
                return -1;
            break;
        case ':': {
            char o[256];
            fprintf(stderr, "lensim calibrate: %s needs a value\n",
                    sim_escape(argv[optind - 1], o, sizeof o));
            return -1;
        }
        default: {
            char o[256];
            fprintf(stderr, "lensim calibrate: unknown option '%s' (see --help)\n",
                    sim_escape(argv[optind - 1], o, sizeof o));
            return -1;
        }
        }
    }
    if (optind < argc) {
        char arg[256];
        fprintf(stderr, "lensim calibrate: unexpected argument '%s'\n",
                sim_escape(argv[optind], arg, sizeof arg));
        return -1;
    }
    if (!a->model || !a->out) {
        fprintf(stderr, "lensim calibrate: --model and -o are required (see --help)\n");
        return -1;
    }
    enum kern_backend_id be;
    struct sim_msg       why;
    if (kern_backend_of(a->backend, &be, &why)) {
        fprintf(stderr, "lensim calibrate: --backend: %s\n", why.text);
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

struct prog {
    int     on;   /* a terminal, and not -q */
    int     open; /* a progress line is on the screen, unfinished */
    int64_t t0;
};

static void progress(size_t done, size_t total, void *ctx)
{
    struct prog *p = ctx;
    if (!p->on || (done % 10 && done != total))
        return;
    fprintf(stderr, "\rlensim: timed %zu/%zu points (%.1f s)", done, total,
            (double)(sim_wall_ns() - p->t0) * 1e-9);
    p->open = done != total;
    if (!p->open)
        fputc('\n', stderr);
}

int calibrate_cmd(int argc, char **argv)
{
    struct cal_calibrate_opts o;
    int                       quiet = 0;
    int                       prc = parse_args(argc, argv, &o, &quiet);
    if (prc)
        return prc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    if (quiet)
        sim_log_quiet(1);
    struct prog pg = {.on = !quiet && isatty(2), .t0 = sim_wall_ns()};
    o.progress = progress;
    o.progress_ctx = &pg;
    struct sim_msg err = {{0}};
    int            rc = cal_calibrate(&o, quiet ? NULL : stdout, &err);
    if (rc)
        fprintf(stderr, "%slensim calibrate: %s\n", pg.open ? "\n" : "",
                err.text[0] ? err.text : sim_strerror(rc));
    return cli_exit_status(rc);
}
