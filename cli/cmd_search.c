/*
 * cmd_search.c (issue 13, item 7): `lensim search EXPERIMENT.yaml --target 'p99_ttft_ms<2000'
 * --over workload.rate|workload.rate_scale|cluster.replicas [--lo X] [--hi X] [--tol F] [-j N]`.
 * Capacity search: the largest arrival rate (or rate scale) at which every target holds, or the
 * fewest replicas at which every target holds, on the experiment's first run (with any --set).
 * Method: the search keeps a value known to pass and one known to fail and probes N points
 * between them per round, evenly spaced (N = -j, 1 by default: bisection), each probe a whole
 * run kept as DIR/probe-NN_<key>-<value>; it stops when the two are within --tol of the passing
 * value (rates; default 1 %) or adjacent (replicas). Assumes the targets get no easier with load
 * (with more replicas, no harder); a probe that breaks that order is reported in the table.
 * DIR/search.csv lists every probe, its targets' values and whether it passed.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "afile.h"
#include "alloc.h"
#include "cfg.h"
#include "cmds.h"
#include "met.h"
#include "opts.h"
#include "run.h"
#include "runjobs.h"
#include "table.h"
#include "trace.h"

enum { MAX_TARGETS = 8, MAX_PROBES = 256 };
static const double MIN_TOL = 1e-9; /* --tol's floor */

struct target {
    char   key[64];
    int    op; /* '<', 'l' (<=), '>', 'g' (>=) */
    double bound;
    char   text[96];
};

struct probe {
    double             x;
    int                pass;
    struct met_summary sum;
    char               name[CFG_STR_MAX];
};

static void usage(FILE *f)
{
    fprintf(f, "usage: lensim search EXPERIMENT.yaml --target METRIC<OP>VALUE [--target ...]\n"
               "                     --over workload.rate|workload.rate_scale|cluster.replicas\n"
               "                     [--lo X] [--hi X] [--tol F] [-j N] [-o DIR] [--set K=V]...\n"
               "                     [--data-dir DIR] [--force] [-q]\n\n"
               "Capacity search on the experiment's first run: the largest rate (or rate scale)\n"
               "at which every target holds, or the fewest replicas. Each probe is a whole run,\n"
               "kept as DIR/probe-NN_<key>-<value>; DIR/search.csv lists them. DIR defaults to\n"
               "results/<name>-search; one that holds results is refused unless --force,\n"
               "which removes them first.\n\n"
               "  --target T   a summary.json value and a bound: p99_ttft_ms<2000,\n"
               "               slo_attainment>=0.99, mean_tpot_ms<=100 (all must hold)\n"
               "  --over KEY   what to search over\n"
               "  --lo, --hi   the range (rates: required; replicas: 1 and 64 by default)\n"
               "  --tol F      rates: stop when the passing and failing values are within F of\n"
               "               the passing one (default 0.01; at least 1e-9); a search that\n"
               "               needs more than 256 probes stops there with exit status 1\n"
               "  -j N         N probes per round, in worker processes (0: one per CPU;\n"
               "               default 1: bisection)\n\n"
               "exit status: 0 answer found, 1 a run failed or no value in range passes,\n"
               "2 invalid experiment or option, 3 input/output error, 128+N stopped by signal N\n");
}

static int parse_target(const char *s, struct target *t)
{
    const char *p = strpbrk(s, "<>");
    if (!p || p == s || (size_t)(p - s) >= sizeof t->key)
        return -1;
    memcpy(t->key, s, (size_t)(p - s));
    t->key[p - s] = 0;
    int eq = p[1] == '=';
    t->op = p[0] == '<' ? (eq ? 'l' : '<') : (eq ? 'g' : '>');
    char *end;
    errno = 0;
    t->bound = strtod(p + 1 + eq, &end);
    if (end == p + 1 + eq || *end || errno || !isfinite(t->bound))
        return -1;
    snprintf(t->text, sizeof t->text, "%s", s);
    double             v;
    struct met_summary z = {0};
    return met_value(&z, t->key, &v) ? -2 : 0;
}

static int holds(const struct target *t, const struct met_summary *s, double *v)
{
    met_value(s, t->key, v);
    if (isnan(*v))
        return 0; /* no value (no request finished, no SLO): not met */
    switch (t->op) {
    case '<': return *v < t->bound;
    case 'l': return *v <= t->bound;
    case '>': return *v > t->bound;
    default: return *v >= t->bound;
    }
}

static int parse_num(const char *flag, const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(*v) || *v <= 0) {
        fprintf(stderr, "lensim search: %s %s: a positive number\n", flag, s);
        return -1;
    }
    return 0;
}

/* Set over = x in e and build the first run with it, then free it: 0, or the reason the probe
 * cannot run, placed (cfg_place_msg). Leaves the --set in e (a later one overrides it). */
static int probe_check(cfg_exp_t *e, const char *over, double x, const char *data_dir,
                       struct sim_msg *err)
{
    char        set[128];
    struct cfg  c;
    struct run *r = sim_malloc(sizeof *r);
    int         rc;
    if (!r)
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    snprintf(set, sizeof set, "%s=%.17g", over, x);
    if (!(rc = cfg_add_set(e, set, err)) && !(rc = cfg_resolve(e, 0, &c, err))) {
        if ((rc = run_build(&c, cfg_dir(e), data_dir, r, err)))
            cfg_place_msg(e, 0, err);
        run_fini(r);
    }
    sim_free(r);
    return rc;
}

/* search's own options (opts.h's callback): --target, --over, --lo, --hi, --tol. */
struct search_opts {
    const char   *over;
    struct target tg[MAX_TARGETS];
    size_t        n_tg;
    double        lo, hi, tol;
};

static int search_opt(void *ctx, struct cli_opts *o, int argc, char **argv, int *i)
{
    struct search_opts *so = ctx;
    const char         *a = argv[*i], *v;
    if (strcmp(a, "--target") && strcmp(a, "--over") && strcmp(a, "--lo") && strcmp(a, "--hi") &&
        strcmp(a, "--tol"))
        return CLI_OPTS_NOT_MINE;
    if (!(v = cli_opts_value(o, argc, argv, i)) || (strcmp(a, "--target") && cli_opts_once(o, a)))
        return CLI_EXIT_USAGE;
    if (!strcmp(a, "--target")) {
        int t = so->n_tg < MAX_TARGETS ? parse_target(v, &so->tg[so->n_tg]) : -3;
        if (t) {
            fprintf(stderr, "lensim search: --target %s: %s\n", v,
                    t == -2   ? "no such summary.json value (p99_ttft_ms, slo_attainment, "
                                "mean_tpot_ms, request_throughput, ...)"
                    : t == -3 ? "at most 8 targets"
                              : "expected METRIC<VALUE, <=, > or >=, e.g. p99_ttft_ms<2000");
            return CLI_EXIT_USAGE;
        }
        so->n_tg++;
    } else if (!strcmp(a, "--over")) {
        so->over = v;
        if (strcmp(v, "workload.rate") && strcmp(v, "workload.rate_scale") &&
            strcmp(v, "cluster.replicas")) {
            fprintf(stderr,
                    "lensim search: --over %s: one of workload.rate, workload.rate_scale, "
                    "cluster.replicas\n",
                    v);
            return CLI_EXIT_USAGE;
        }
    } else {
        double *x = a[2] == 'l' ? &so->lo : a[2] == 'h' ? &so->hi : &so->tol;
        if (parse_num(a, v, x))
            return CLI_EXIT_USAGE;
        /* A finer width than this is below what the doubles between lo and hi can split
         * (about 1e-16 relative): the search would probe one rate again and again. */
        if (x == &so->tol && *x < MIN_TOL) {
            fprintf(stderr, "lensim search: --tol %s: from %g (a relative width)\n", v, MIN_TOL);
            return CLI_EXIT_USAGE;
        }
    }
    return 0;
}

int search_cmd(int argc, char **argv)
{
    struct cli_opts    o;
    struct search_opts so = {.tol = 0.01};
    size_t             n_pr = 0;
    int                status = 0, rc = 0, lock = -1, capped = 0;
    struct probe      *pr = sim_calloc(MAX_PROBES, sizeof *pr);
    struct cfg        *batch = sim_calloc(64, sizeof *batch);
    cfg_exp_t         *e = NULL;
    struct sim_msg     err = {{0}};
    char               lock_path[1100], dir[1024];
    struct sim_afile   csv = {0};
    if ((status = cli_opts_init(&o, "search", argc)))
        goto out;
    if (!pr || !batch) {
        status = CLI_EXIT_FAILED;
        goto out;
    }
    if ((status = cli_opts_parse(&o, argc, argv, search_opt, &so)))
        goto out;
    if (o.help) {
        usage(stdout);
        goto out;
    }
    const char          *file = o.file, *outdir = o.outdir, *over = so.over;
    const struct target *tg = so.tg;
    size_t               n_tg = so.n_tg;
    double               lo = so.lo, hi = so.hi, tol = so.tol;
    int                  jobs = o.jobs, quiet = o.quiet;
    int                  integer = over && !strcmp(over, "cluster.replicas");
    if (!file || !n_tg || !over) {
        fprintf(stderr, "lensim search: needs an experiment, --target and --over\n");
        usage(stderr);
        status = CLI_EXIT_USAGE;
        goto out;
    }
    if (integer) {
        lo = lo ? lo : 1;
        hi = hi ? hi : 64;
        if (lo != floor(lo) || hi != floor(hi)) {
            fprintf(stderr, "lensim search: --lo and --hi: whole numbers of replicas\n");
            status = CLI_EXIT_USAGE;
            goto out;
        }
    }
    if (!lo || !hi || lo >= hi) {
        fprintf(stderr, "lensim search: --over %s needs --lo below --hi\n", over);
        status = CLI_EXIT_USAGE;
        goto out;
    }

    char data_dir[1024] = "";
    if ((rc = cli_opts_load(&o, &e, data_dir, sizeof data_dir, &err)))
        goto fail;
    struct cfg base;
    if ((rc = cfg_resolve(e, 0, &base, &err)))
        goto fail;
    /* Both ends of the range are built (and freed) before anything is written: a probe that
     * cannot run (a rate on a trace that has its own arrival times, weights that do not fit) is
     * an error here, never a missing summary later. A table profile is parsed once for every
     * probe (cal_table_keep; workers inherit it). */
    cal_table_keep(1);
    for (int end = 0; end < 2; end++)
        if ((rc = probe_check(e, over, end ? hi : lo, data_dir, &err)))
            goto fail;
    if (snprintf(dir, sizeof dir, "%s", outdir ? outdir : "") >= (int)sizeof dir - 200) {
        rc = sim_msg_set(&err, SIM_ECONFIG, "-o: path too long");
        goto fail;
    }
    if (!outdir)
        snprintf(dir, sizeof dir, "results/%.200s-search", base.name);
    if ((rc = cli_lock_dir(dir, o.force, lock_path, sizeof lock_path, &lock, &err)))
        goto fail;
    if (!quiet)
        printf("lensim search %s: %s over %s in [%g, %g] -> %s\n", file, tg[0].text, over, lo, hi,
               dir);

    /* good passes, bad fails; rates: good < bad; replicas: bad < good. */
    double good = NAN, bad = NAN;
    double pts[64];
    size_t n_pts = 0;
    pts[n_pts++] = lo;
    pts[n_pts++] = hi;
    for (int round = 0; n_pts; round++) {
        /* One probe per point: resolve with the value set, name it, run the batch. */
        for (size_t k = 0; k < n_pts; k++) {
            char set[128];
            snprintf(set, sizeof set, "%s=%.17g", over, pts[k]);
            if ((rc = cfg_add_set(e, set, &err)) || (rc = cfg_resolve(e, 0, &batch[k], &err)))
                goto fail;
            snprintf(batch[k].run_name, sizeof batch[k].run_name, "probe-%02zu_%s-%.6g",
                     n_pr + k + 1, strchr(over, '.') + 1, pts[k]);
        }
        struct met_summary sums[64];
        double             walls[64];
        rc = cli_run_batch(e, batch, n_pts, jobs, dir, data_dir, sums, walls, &err);
        if (rc)
            goto fail;
        for (size_t k = 0; k < n_pts && n_pr < MAX_PROBES; k++) {
            struct probe *p = &pr[n_pr++];
            p->x = pts[k];
            p->sum = sums[k];
            snprintf(p->name, sizeof p->name, "%s", batch[k].run_name);
            p->pass = 1;
            for (size_t t = 0; t < n_tg; t++) {
                double v;
                p->pass &= holds(&tg[t], &sums[k], &v);
            }
            if (!quiet) {
                printf("  %-32s %s", p->name, p->pass ? "pass" : "FAIL");
                for (size_t t = 0; t < n_tg; t++) {
                    double v;
                    holds(&tg[t], &sums[k], &v);
                    printf("  %s = %.6g", tg[t].key, v);
                }
                printf("\n");
                fflush(stdout);
            }
        }
        /* The first round holds the lightest load (lo; replicas: hi): a target with no value
         * there (an slo_* value with no slo.* set, a latency of a run where nothing finished)
         * has none to search for; that is the experiment's fault, not the load's. */
        for (size_t t = 0; round == 0 && t < n_tg; t++) {
            size_t k = integer ? 1 : 0;
            double v;
            holds(&tg[t], &pr[k].sum, &v);
            if (isnan(v)) {
                rc = sim_msg_set(&err, SIM_ECONFIG,
                                 "--target %s: no value at %s = %.6g (%s), the lightest load: "
                                 "%s",
                                 tg[t].text, over, pr[k].x, pr[k].name,
                                 strncmp(tg[t].key, "slo_", 4) &&
                                         strcmp(tg[t].key, "request_goodput")
                                     ? "no request finished there"
                                     : "set an SLO (slo.ttft_ms, slo.tpot_ms or slo.e2el_ms)");
                goto fail;
            }
        }
        /* Update the bracket from every probe so far: the first failure in the direction of
         * more load, and the passing value just before it. */
        good = bad = NAN;
        for (size_t i = 0; i < n_pr; i++) {
            double x = pr[i].x;
            if (!pr[i].pass && (isnan(bad) || (integer ? x > bad : x < bad)))
                bad = x;
        }
        for (size_t i = 0; i < n_pr; i++) {
            double x = pr[i].x;
            int    side = isnan(bad) || (integer ? x > bad : x < bad);
            if (pr[i].pass && side && (isnan(good) || (integer ? x < good : x > good)))
                good = x;
        }
        n_pts = 0;
        if (isnan(good) || isnan(bad))
            break; /* nothing passes in range, or everything does */
        double width = fabs(bad - good);
        if (integer ? width <= 1 : width <= tol * good)
            break;
        size_t want = (size_t)jobs;
        if (integer && width - 1 < want)
            want = (size_t)(width - 1);
        double a = integer ? bad : good;
        for (size_t k = 1; k <= want; k++) {
            double x = a + width * (double)k / (double)(want + 1);
            if (integer)
                x = floor(x + 0.5);
            if (n_pts && x == pts[n_pts - 1])
                continue;
            pts[n_pts++] = x;
        }
        if (n_pr + n_pts > MAX_PROBES) {
            capped = 1; /* the next round would pass the limit: stopped short of --tol */
            break;
        }
    }

    /* search.csv: every probe in order, written whole or not at all (afile.h). */
    char path[1300];
    snprintf(path, sizeof path, "%s/search.csv", dir);
    if ((rc = sim_afile_open(&csv, path, &err)))
        goto fail;
    fprintf(csv.f, "probe,%s,pass", over);
    for (size_t t = 0; t < n_tg; t++)
        fprintf(csv.f, ",%s", tg[t].key);
    fputc('\n', csv.f);
    for (size_t i = 0; i < n_pr; i++) {
        fprintf(csv.f, "%s,%.17g,%d", pr[i].name, pr[i].x, pr[i].pass);
        for (size_t t = 0; t < n_tg; t++) {
            double v;
            holds(&tg[t], &pr[i].sum, &v);
            fprintf(csv.f, ",%.6f", v);
        }
        fputc('\n', csv.f);
    }
    if ((rc = sim_afile_commit(&csv, &err)))
        goto fail;
    if (isnan(good)) {
        printf("no %s in [%g, %g] meets every target (%zu probes)\n", over, lo, hi, n_pr);
        status = CLI_EXIT_FAILED;
    } else if (isnan(bad)) {
        printf("every probe meets the targets: the answer lies %s %g (%zu probes)\n",
               integer ? "at or below" : "at or above", good, n_pr);
    } else if (capped) {
        fprintf(stderr,
                "lensim search: stopped after %zu probes (the limit is %d) before --tol was "
                "met: %.17g passes, %.17g fails, %.3g%% apart (search.csv lists the probes)\n",
                n_pr, MAX_PROBES, good, bad, 100 * fabs(bad - good) / good);
        status = CLI_EXIT_FAILED;
    } else if (integer) {
        printf("answer: %s = %.0f (%.0f fails; %zu probes)\n", over, good, bad, n_pr);
    } else {
        printf("answer: %s = %.6g (passes; %.6g fails: within %.3g%%; %zu probes)\n", over, good,
               bad, 100 * (bad - good) / good, n_pr);
    }
    goto out;
fail:
    if (rc == SIM_EINTR) {
        fprintf(stderr, "lensim search: interrupted; finished probes are kept\n");
        status = 128 + cli_interrupted();
    } else {
        fprintf(stderr, "lensim search: %s\n", err.text[0] ? err.text : sim_strerror(rc));
        status = cli_exit_status(rc);
    }
out:
    cal_table_keep(0);
    sim_afile_discard(&csv);
    if (lock >= 0)
        cli_unlock_dir(lock, lock_path);
    cfg_free(e);
    cli_opts_fini(&o);
    sim_free(pr);
    sim_free(batch);
    return status;
}
