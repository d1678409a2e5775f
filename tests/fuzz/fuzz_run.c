/*
 * fuzz_run.c: short simulations (sim/run.h) driven by a fuzzed experiment.
 *
 * Input, in sections (the markers are YAML comments, so a seed is still an experiment file):
 *     --set assignment (first line; empty: none)
 *     experiment YAML
 *     #---file       then the file that every file setting reads (workload.path,
 *                    workload.lengths_path, predictor.path, ssjf.predictions); default: a
 *                    three-request interchange CSV
 *     #---profile    then the profile that perf.profile reads when it is not `analytic`;
 *                    default: a two-piece profile for the run's model
 * Bounds, so that every input runs in milliseconds: the first RUNS_MAX runs only; at most
 * REQUESTS_MAX requests (workload.requests 0 or above it becomes REQUESTS_MAX), 8 replicas,
 * 1000 timeline rows, 20 SSJF jobs and 2 repetitions; no output directory.
 * Checks, besides fuzz.h's (sanitizers, messages, leaks): every arrived request finished or
 * failed, the output tokens counted per iteration equal the requests' (met.h), and the run is
 * deterministic (a second build and run give the same summary, bit for bit).
 */
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "fuzz.h"
#include "run.h"

enum { RUNS_MAX = 3, REQUESTS_MAX = 50 };

static const char default_file[] = "arrival_s,prompt_tokens,output_tokens\n"
                                   "0,100,20\n"
                                   "0.5,300,50\n"
                                   "1,50,5\n";

struct paths {
    char file[256];
    char profile[256]; /* "" = the default profile, written per run for its model */
};

static void set_str(char *dst, const char *src) { snprintf(dst, CFG_STR_MAX, "%s", src); }

/* Bound c and point its file settings at the input's files. */
static void bound(struct cfg *c, const struct paths *p)
{
    if (!c->requests || c->requests > REQUESTS_MAX)
        c->requests = REQUESTS_MAX;
    if (c->source != TRACE_FMT_SYNTH)
        set_str(c->path, p->file);
    if (c->lengths == TRACE_LEN_EMPIRICAL || c->lengths_path[0])
        set_str(c->lengths_path, p->file);
    if (c->pred_path[0])
        set_str(c->pred_path, p->file);
    if (c->compat == CFG_COMPAT_SSJF) {
        set_str(c->ssjf_predictions, p->file);
        if (c->ssjf_jobs > 20)
            c->ssjf_jobs = 20;
        if (c->ssjf_repeats > 2)
            c->ssjf_repeats = 2;
    }
    if (strcmp(c->profile, "analytic")) {
        if (p->profile[0]) {
            set_str(c->profile, p->profile);
        } else {
            char text[1024], path[256];
            int  n = snprintf(text, sizeof text,
                              "format: lensim-profile/1\nmodel: \"%s\"\nbackend: cpu\ntp: %u\n"
                               "latency:\n  pieces:\n"
                               "    - {max_tokens: 64, const: 1e-3, decode_seqs: 1e-5, "
                               "decode_ctx: 1e-8, prefill_tok: 1e-5}\n"
                               "    - {max_tokens: .inf, const: 2e-3, decode_seqs: 1e-5, "
                               "decode_ctx: 1e-8, prefill_tok: 1e-4, prefill_sq: 1e-9}\n"
                               "memory: {kv_bytes_per_token: 8192, kv_capacity_bytes: 1e9}\n",
                              c->model, c->tp);
            fuzz_write_file("default-profile.yaml", text, (size_t)n, path, sizeof path);
            set_str(c->profile, path);
        }
    }
    if (c->replicas > 8)
        c->replicas = 8;
    if (c->out_timeline_rows > 1000)
        c->out_timeline_rows = 1000;
}

/* Build and run c; returns run_exec's (or run_build's) code, results in *res. */
static int simulate(const struct cfg *c, const char *dir, struct run_result *res)
{
    static struct run x; /* tens of KB */
    struct sim_msg    err = {{0}};
    int               rc = run_build(c, dir, "", &x, &err);
    fuzz_expect_msg(rc, &err, "run_build");
    if (!rc) {
        rc = run_exec(&x, NULL, NULL, NULL, res, &err);
        fuzz_expect_msg(rc, &err, "run_exec");
    }
    run_fini(&x);
    return rc;
}

static void run_one(const struct cfg *resolved, const char *dir, const struct paths *p)
{
    struct cfg        c = *resolved;
    struct run_result a, b;
    bound(&c, p);
    if (simulate(&c, dir, &a))
        return;
    if (c.compat == CFG_COMPAT_NONE) {
        const struct serve_stats *s = &a.stats;
        FUZZ_CHECK(s->arrived == s->finished + s->failed,
                   "%llu arrived, %llu finished, %llu failed", (unsigned long long)s->arrived,
                   (unsigned long long)s->finished, (unsigned long long)s->failed);
        FUZZ_CHECK(a.sum.tokens_generated == a.sum.total_output_tokens,
                   "%llu tokens generated, %llu output", (unsigned long long)a.sum.tokens_generated,
                   (unsigned long long)a.sum.total_output_tokens);
    }
    FUZZ_CHECK(simulate(&c, dir, &b) == 0, "the second run fails");
    FUZZ_CHECK(!memcmp(&a.sum, &b.sum, sizeof a.sum) && !memcmp(&a.stats, &b.stats, sizeof a.stats),
               "two runs of one experiment differ");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char       *text = fuzz_text(data, size);
    char       *nl = strchr(text, '\n');
    const char *set = text;
    char       *rest = nl ? nl + 1 : NULL;
    if (nl)
        *nl = 0;
    char *head = rest ? fuzz_cut(&rest, "#---profile") : NULL;
    char *profile = rest;
    char *file = head;
    char *yaml = head ? fuzz_cut(&file, "#---file") : NULL;

    struct paths p = {{0}, {0}};
    if (file)
        fuzz_write_file("file.csv", file, strlen(file), p.file, sizeof p.file);
    else
        fuzz_write_file("file.csv", default_file, strlen(default_file), p.file, sizeof p.file);
    if (profile)
        fuzz_write_file("profile.yaml", profile, strlen(profile), p.profile, sizeof p.profile);

    uint64_t       live = fuzz_live();
    struct sim_msg err = {{0}};
    cfg_exp_t     *e = NULL;
    int            rc = cfg_load_string(yaml ? yaml : "", "fuzz.yaml", &e, &err);
    fuzz_expect_msg(rc, &err, "cfg_load_string");
    if (!rc) {
        if (*set) {
            err.text[0] = 0;
            fuzz_expect_msg(cfg_add_set(e, set, &err), &err, "cfg_add_set");
        }
        for (size_t i = 0; i < cfg_n_runs(e) && i < RUNS_MAX; i++) {
            struct cfg c;
            err.text[0] = 0;
            rc = cfg_resolve(e, i, &c, &err);
            fuzz_expect_msg(rc, &err, "cfg_resolve");
            if (!rc)
                run_one(&c, cfg_dir(e), &p);
        }
        cfg_free(e);
    }
    fuzz_expect_no_leak(live, "run");
    free(text);
    return 0;
}
