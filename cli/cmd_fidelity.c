/*
 * cmd_fidelity.c: `lensim fidelity LIVE_DIR [SIM_DIR]` (issue 11): how far the simulation is from
 * a live run of the same experiment. From LIVE_DIR/iterations.csv: per-iteration error of the
 * profile's prediction against the measured time (MAPE and max, by iteration kind: prefill,
 * decode, mixed), against wall time and against the thread's CPU time, and the live executor's
 * overhead outside the kernels, and the level: the median over the iterations of measured over
 * predicted time, and the MAPE left once every prediction is scaled by it (a uniform shift, e.g.
 * the machine's load changed between calibration and run, against noise and the model's form).
 * With SIM_DIR (the same experiment, engine.mode sim): TTFT, TPOT
 * and E2E latency, mean/p50/p90/p99, live vs simulated, and the simulation's relative error.
 * The report names the profile (path, device it was calibrated on) and the live run's device.
 * A figure (predicted vs measured per iteration; the two E2E CDFs) goes to
 * figures/fidelity_RUN.png beside the live run's directory (where `lensim plot` puts a results
 * directory's figures: a run directory holds files only, so that a run done again replaces it
 * whole) when gnuplot is on the PATH.
 * Percentiles: linear interpolation between order statistics (Hyndman & Fan type 7, numpy's
 * default). A directory holding one run directory `run` may be given for the run itself.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "cmds.h"
#include "run.h"

struct col {
    double *v;
    size_t  n, cap;
};

static int push(struct col *c, double x)
{
    return SIM_GROW(c->v, c->cap, c->n + 1) ? -1 : (c->v[c->n++] = x, 0);
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir itself, or dir/run when dir holds the experiment's one run. */
static int run_dir(const char *dir, const char *need, char *out, size_t n)
{
    char p[2048];
    snprintf(p, sizeof p, "%s/%s", dir, need);
    if (is_file(p))
        return snprintf(out, n, "%s", dir), 0;
    snprintf(p, sizeof p, "%s/run/%s", dir, need);
    if (is_file(p))
        return snprintf(out, n, "%s/run", dir), 0;
    fprintf(stderr, "lensim fidelity: %s: no %s (give a run's directory)\n", dir, need);
    return -1;
}

/* Read the named columns of a CSV with a header line ('#' lines skipped). Returns 0 or -1. */
static int read_csv(const char *path, const char *const *names, int n_names, struct col *cols,
                    struct col *kinds)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "lensim fidelity: cannot open %s\n", path);
        return -1;
    }
    char line[4096];
    int  idx[16], kind_idx = -1, have_header = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        line[strcspn(line, "\r\n")] = 0;
        char *fld[64];
        int   nf = 0;
        for (char *p = line; nf < 64;) {
            fld[nf++] = p;
            char *c = strchr(p, ',');
            if (!c)
                break;
            *c = 0;
            p = c + 1;
        }
        if (!have_header) {
            have_header = 1;
            for (int k = 0; k < n_names; k++) {
                idx[k] = -1;
                for (int j = 0; j < nf; j++)
                    if (!strcmp(fld[j], names[k]))
                        idx[k] = j;
                if (idx[k] < 0) {
                    fprintf(stderr, "lensim fidelity: %s has no column %s\n", path, names[k]);
                    rc = -1;
                }
            }
            for (int j = 0; j < nf; j++)
                if (kinds && !strcmp(fld[j], "kind"))
                    kind_idx = j;
            if (rc)
                break;
            continue;
        }
        for (int k = 0; k < n_names && !rc; k++) {
            char  *end;
            double x = idx[k] < nf ? strtod(fld[idx[k]], &end) : NAN;
            if (idx[k] >= nf || end == fld[idx[k]])
                x = NAN; /* an empty cell: e.g. no TPOT for a one-token output */
            rc = push(&cols[k], x);
        }
        if (kinds && !rc) {
            const char *kd = kind_idx >= 0 && kind_idx < nf ? fld[kind_idx] : "";
            rc = push(kinds, !strcmp(kd, "prefill") ? 0 : !strcmp(kd, "decode") ? 1 : 2);
        }
    }
    fclose(f);
    return rc;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct stats {
    double mean, p50, p90, p99;
    size_t n;
};

static double pct(const double *s, size_t n, double q)
{
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)floor(h);
    return lo + 1 < n ? s[lo] + (h - (double)lo) * (s[lo + 1] - s[lo]) : s[n - 1];
}

static struct stats stats_of(const struct col *c)
{
    struct stats st = {NAN, NAN, NAN, NAN, 0};
    double      *s = sim_malloc(sizeof *s * (c->n + 1)), sum = 0;
    if (!s)
        return st;
    for (size_t i = 0; i < c->n; i++)
        if (isfinite(c->v[i])) {
            s[st.n++] = c->v[i];
            sum += c->v[i];
        }
    if (st.n) {
        qsort(s, st.n, sizeof *s, cmp_d);
        st.mean = sum / (double)st.n;
        st.p50 = pct(s, st.n, 0.5);
        st.p90 = pct(s, st.n, 0.9);
        st.p99 = pct(s, st.n, 0.99);
    }
    sim_free(s);
    return st;
}

/* "key: value" of a manifest's line, quotes removed ("" when absent). */
static void manifest_get(const char *dir, const char *key, char *out, size_t n)
{
    char path[2048], line[1024];
    out[0] = 0;
    snprintf(path, sizeof path, "%s/manifest.yaml", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) || line[kl] != ':')
            continue;
        char *v = line + kl + 1;
        v += strspn(v, " \"");
        v[strcspn(v, "\"\r\n")] = 0;
        snprintf(out, n, "%s", v);
        break;
    }
    fclose(f);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: lensim fidelity LIVE_DIR [SIM_DIR]\n"
               "\n"
               "Compares a live run (engine.mode live: LIVE_DIR/iterations.csv) with the perf\n"
               "profile's predictions of the same iterations (MAPE and max error by iteration\n"
               "kind, against wall and CPU time), reports the live executor's overhead outside\n"
               "the kernels, and, with SIM_DIR (the same experiment, engine.mode sim), the\n"
               "TTFT, TPOT and E2E latencies (mean, p50, p90, p99) of both and the simulation's\n"
               "relative error. Draws figures/fidelity_RUN.png beside the live run's directory\n"
               "when gnuplot is installed.\n"
               "\n"
               "exit status: 0 done, 2 bad usage or a missing or malformed file\n");
}

static void iter_table(const struct col *c, const struct col *kind, int meas)
{
    static const char *const kn[] = {"prefill", "decode", "mixed", "all"};
    printf("  %-8s %7s %9s %9s %11s %11s\n", "kind", "iters", "MAPE %", "max %", "measured s",
           "predicted s");
    for (int k = 0; k < 4; k++) {
        double sum = 0, mx = 0, tm = 0, tp = 0;
        size_t n = 0;
        for (size_t i = 0; i < c[0].n; i++) {
            if (k < 3 && (int)kind->v[i] != k)
                continue;
            double p = c[0].v[i], m = c[meas].v[i];
            if (!(m > 0))
                continue;
            double e = fabs(p - m) / m * 100;
            sum += e;
            mx = e > mx ? e : mx;
            tm += m;
            tp += p;
            n++;
        }
        if (n)
            printf("  %-8s %7zu %9.2f %9.2f %11.3f %11.3f\n", kn[k], n, sum / (double)n, mx, tm,
                   tp);
        else
            printf("  %-8s %7d %9s %9s %11s %11s\n", kn[k], 0, "-", "-", "-", "-");
    }
    /* issue 11: a uniform level (the machine ran every iteration slower or faster than when it was
     * calibrated: load, clock, memory bandwidth) against the rest (per-iteration noise and the
     * latency model's form): the median of measured / predicted over the iterations (robust to
     * the slow outliers a shared machine adds, which the totals above include), and the MAPE
     * once every prediction is scaled by it. */
    double *r = sim_malloc(sizeof *r * (c[0].n + 1)), sum = 0;
    size_t  n = 0;
    for (size_t i = 0; r && i < c[0].n; i++)
        if (c[meas].v[i] > 0 && c[0].v[i] > 0)
            r[n++] = c[meas].v[i] / c[0].v[i];
    if (n) {
        qsort(r, n, sizeof *r, cmp_d);
        double lv = pct(r, n, 0.5);
        for (size_t i = 0; i < c[0].n; i++)
            if (c[meas].v[i] > 0 && c[0].v[i] > 0)
                sum += fabs(c[0].v[i] * lv - c[meas].v[i]) / c[meas].v[i] * 100;
        printf("  level: measured / predicted, median over the iterations, %.3f; with every "
               "prediction scaled by it, MAPE %.2f %%\n",
               lv, sum / (double)n);
    }
    sim_free(r);
}

static void figure(const char *live, const char *sim)
{
    char        fig[2100], png[4200];
    const char *slash = strrchr(live, '/'), *run = slash ? slash + 1 : live;
    if (slash)
        snprintf(fig, sizeof fig, "%.*s/figures", (int)(slash - live), live);
    else
        snprintf(fig, sizeof fig, "../figures"); /* the working directory is the run */
    snprintf(png, sizeof png, "%s/fidelity_%s.png", fig, run);
    if (run_mkdirs(fig, &(struct sim_msg){0}))
        return;
    FILE *g = popen("gnuplot 2>/dev/null", "w");
    if (!g) {
        printf("figure: gnuplot not available\n");
        return;
    }
    fprintf(g,
            "set terminal pngcairo size 1200,500\nset output '%s'\n"
            "set datafile separator ','\nset datafile commentschars '#'\nset key autotitle "
            "columnhead\nset multiplot layout 1,2\n"
            "set title 'per iteration'\nset xlabel 'measured s'\nset ylabel 'predicted s'\n"
            "set logscale xy\nplot '%s/iterations.csv' using 11:10 with points pt 7 ps 0.3 "
            "title 'wall', '' using 14:10 with points pt 7 ps 0.3 title 'thread CPU', x with "
            "lines title 'y = x'\n"
            "unset logscale\nset title 'E2E latency CDF'\nset xlabel 'E2E s'\nset ylabel "
            "'fraction'\nplot '%s/requests.csv' using 10:(1.0) smooth cnormal title 'live'",
            png, live, live);
    if (sim)
        fprintf(g, ", '%s/requests.csv' using 10:(1.0) smooth cnormal title 'simulated'", sim);
    fprintf(g, "\nunset multiplot\n");
    int st = pclose(g);
    printf("figure: %s%s\n", png, st ? " (gnuplot failed)" : "");
}

int fidelity_cmd(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (argc < 2 || argc > 3) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    char live[2048], sim[2048];
    if (run_dir(argv[1], "iterations.csv", live, sizeof live) ||
        (argc == 3 && run_dir(argv[2], "requests.csv", sim, sizeof sim)))
        return CLI_EXIT_USAGE;
    static const char *const icols[] = {"predicted_s", "measured_s", "cpu_s", "kernel_s", "copy_s"};
    struct col               ic[5] = {{0}}, kind = {0};
    char                     path[2100];
    snprintf(path, sizeof path, "%s/iterations.csv", live);
    int rc = read_csv(path, icols, 5, ic, &kind);
    if (rc || !ic[0].n) {
        if (!rc)
            fprintf(stderr, "lensim fidelity: %s has no iterations\n", path);
        return CLI_EXIT_USAGE;
    }
    char v[512], w[512];
    manifest_get(live, "profile", v, sizeof v);
    manifest_get(live, "profile_device", w, sizeof w);
    printf("fidelity of %s\nprofile: %s (calibrated on %s)\n", live, v, w[0] ? w : "?");
    manifest_get(live, "  backend", v, sizeof v);
    manifest_get(live, "  device", w, sizeof w);
    printf("live run on: %s (%s backend)\n", w[0] ? w : "?", v[0] ? v : "?");
    if (argc == 3) {
        manifest_get(sim, "profile", v, sizeof v);
        printf("simulated run: %s (profile %s)\n", sim, v);
    }
    printf("\nper-iteration prediction error against wall time:\n");
    iter_table(ic, &kind, 1);
    printf("per-iteration prediction error against the thread's CPU time:\n");
    iter_table(ic, &kind, 2);
    double tw = 0, tk = 0, tc = 0;
    for (size_t i = 0; i < ic[0].n; i++) {
        tw += ic[1].v[i];
        tk += ic[3].v[i];
        tc += ic[4].v[i];
    }
    printf("live overhead outside the kernels: %.2f %% of iteration time (%.3f s of %.3f s; "
           "swap copies %.3f s)\n",
           tw > 0 ? 100 * (tw - tk - tc) / tw : 0.0, tw - tk - tc, tw, tc);
    manifest_get(live, "  predictions", v, sizeof v); /* issue 11: the predictor's kernel */
    if (v[0] && atof(v) > 0) {
        double n = atof(v);
        manifest_get(live, "  predict_s", w, sizeof w);
        double meas = atof(w);
        manifest_get(live, "  predict_charged_s", w, sizeof w);
        double charged = atof(w);
        manifest_get(live, "    cost_s", w, sizeof w); /* config: predictor.cost_s */
        printf("length predictor on the kernel: %.0f predictions, %.1f us each measured, %.1f us "
               "each charged; predictor.cost_s (what the simulation charges): %.1f us\n",
               n, 1e6 * meas / n, 1e6 * charged / n, 1e6 * atof(w));
    }
    if (argc == 3) {
        static const char *const rcols[] = {"ttft_s", "tpot_s", "e2el_s"};
        static const char *const rn[] = {"TTFT", "TPOT", "E2E"};
        struct col               lr[3] = {{0}}, sr[3] = {{0}};
        char                     lp[2100], sp[2100];
        snprintf(lp, sizeof lp, "%s/requests.csv", live);
        snprintf(sp, sizeof sp, "%s/requests.csv", sim);
        if (read_csv(lp, rcols, 3, lr, NULL) || read_csv(sp, rcols, 3, sr, NULL))
            return CLI_EXIT_USAGE;
        printf("\nrequest latencies (s), live vs simulated; error = (sim - live) / live:\n");
        printf("  %-5s %-5s %10s %10s %9s   (requests %zu live, %zu simulated)\n", "", "", "live",
               "simulated", "error %", lr[0].n, sr[0].n);
        for (int k = 0; k < 3; k++) {
            struct stats a = stats_of(&lr[k]), b = stats_of(&sr[k]);
            double la[4] = {a.mean, a.p50, a.p90, a.p99}, sb[4] = {b.mean, b.p50, b.p90, b.p99};
            static const char *const qn[] = {"mean", "p50", "p90", "p99"};
            for (int q = 0; q < 4; q++)
                printf("  %-5s %-5s %10.4f %10.4f %+9.2f\n", q ? "" : rn[k], qn[q], la[q], sb[q],
                       la[q] > 0 ? 100 * (sb[q] - la[q]) / la[q] : NAN);
            sim_free(lr[k].v);
            sim_free(sr[k].v);
        }
    }
    for (int k = 0; k < 5; k++)
        sim_free(ic[k].v);
    sim_free(kind.v);
    figure(live, argc == 3 ? sim : NULL);
    return CLI_EXIT_OK;
}
