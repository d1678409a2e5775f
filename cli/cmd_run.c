/*
 * cmd_run.c: `lensim run EXPERIMENT.yaml`: resolve and build every run of the experiment (a
 * setting that cannot work is an error at its file:line:col before anything is written), run
 * them in order, write each run's files and the experiment's results.csv and results.json (one
 * row per run, an infeasible or failed run with its reason while the others go on: exit 1), and
 * print a summary table and, per run, a warning about requests that failed or were cut. A folder
 * that already holds results is refused without --force (issue 12). The output directory is locked for the whole command (DIR/.lock): a second
 * `lensim run` into it is refused at once. SIGINT, SIGTERM, SIGHUP and SIGPIPE stop the current
 * run cleanly: finished runs stay on disk, the interrupted one leaves nothing, and the exit status
 * is 128 + the signal (130, 143, 129, 141).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef LENSIM_HAVE_MPI
#include <mpi.h>
#endif

#include "afile.h"
#include "alloc.h"
#include "batch.h"
#include "cfg.h"
#include "cmds.h"
#include "opts.h"
#include "run.h"
#include "rows.h"
#include "runjobs.h"
#include "table.h"
#include "trace.h"
#include "version.h"

/* The signal that asked the command to stop (0: none). SIGINT, SIGTERM and SIGHUP all stop it
 * the same way: the current run is abandoned at its next progress poll and its temporary files
 * removed; the exit status is 128 + the signal, as if the signal had ended the process. So does
 * SIGPIPE, a reader of the table that went away (`lensim run X | head`): by default it killed the
 * process mid-sweep, leaving results.csv.tmp* and the current run's temporary directory behind
 * (exit 141 as well, but nothing left over now). */
static volatile sig_atomic_t interrupted;

static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
enum { N_STOP_SIGNALS = sizeof stop_signals / sizeof stop_signals[0] };

static void on_signal(int sig)
{
    if (!interrupted)
        interrupted = sig;
}

/* The progress line (issue 12 item 6): one line of at most 79 characters (or the terminal's
 * width less one, if narrower), redrawn at most every 200 ms: the run, its name as far as it
 * fits, a bar, the share of requests done, the wall time the run has taken and the time it
 * still needs at that pace (ETA), then "writing outputs" once the simulation has finished. */
struct bar {
    int         on;
    int64_t     last, t0; /* last redraw; the run's start (sim_wall_ns) */
    size_t      run, n_runs;
    const char *name;
};

/* A duration for the progress line: 12.3s, 4m05s, 1h02m. */
static void fmt_dur(char *b, size_t n, double s)
{
    if (s < 60)
        snprintf(b, n, "%.1fs", s);
    else if (s < 3600)
        snprintf(b, n, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else
        snprintf(b, n, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
}

static int term_cols(void)
{
    struct winsize ws;
    int            w = 80;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_col < 80)
        w = ws.ws_col;
    return w - 1;
}

/* Draw "  run I/N NAME [BAR] TAIL" in at most term_cols() characters: NAME gives way (its end is
 * kept: it tells the runs of a sweep apart), then BAR, then the end of the line. */
static void bar_draw(const struct bar *b, const char *bar, const char *tail)
{
    char head[32], line[512], rest[128];
    int  w = term_cols(), len = (int)strlen(b->name);
    snprintf(head, sizeof head, "  run %zu/%zu ", b->run + 1, b->n_runs);
    snprintf(rest, sizeof rest, "%s%s%-28s", bar, *bar ? " " : "", tail); /* 28: the bar stays */
    int room = w - (int)strlen(head) - (int)strlen(rest) - 1;
    if (room < 8 && *bar) {
        snprintf(rest, sizeof rest, "%s", tail);
        room = w - (int)strlen(head) - (int)strlen(rest) - 1;
    }
    if (room < 4)
        room = 4;
    if (len <= room)
        snprintf(line, sizeof line, "%s%-*s %s", head, room, b->name, rest);
    else
        snprintf(line, sizeof line, "%s..%s %s", head, b->name + len - (room - 2), rest);
    if ((int)strlen(line) > w && w > 0)
        line[w] = 0;
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
}

static int progress(void *ctx, const struct serve_stats *s, uint64_t total)
{
    struct bar *b = ctx;
    if (interrupted)
        return 1;
    if (!b->on)
        return 0;
    int64_t now = sim_wall_ns();
    char    tail[80], el[16], eta[16];
    fmt_dur(el, sizeof el, (double)(now - b->t0) / 1e9);
    if (!s) { /* the simulation is over: the summary and the files are next */
        snprintf(tail, sizeof tail, "100%% %s, writing outputs", el);
        bar_draw(b, "[##########]", tail);
        return 0;
    }
    if (now - b->last < 200 * SIM_NS_PER_MS)
        return 0;
    b->last = now;
    uint64_t done = s->finished + s->failed;
    if (total) {
        double frac = (double)done / (double)total;
        int    pct = (int)(100.0 * frac);
        char   bar[13];
        for (int i = 0; i < 10; i++)
            bar[i + 1] = i < pct / 10 ? '#' : '.';
        bar[0] = '[';
        bar[11] = ']';
        bar[12] = 0;
        if (done > 0)
            fmt_dur(eta, sizeof eta, (double)(now - b->t0) / 1e9 * (1 - frac) / frac);
        else
            snprintf(eta, sizeof eta, "--");
        snprintf(tail, sizeof tail, "%3d%% %s, ETA %s", pct, el, eta);
        bar_draw(b, bar, tail);
    } else {
        snprintf(tail, sizeof tail, "%llu done, %s", (unsigned long long)done, el);
        bar_draw(b, "", tail);
    }
    return 0;
}

static void usage(FILE *f)
{
    char queues[64];
    sim_choice_list(evq_kind_choices, queues, sizeof queues);
    fprintf(f,
            "usage: lensim run EXPERIMENT.yaml [-o DIR] [--force] [--seed N] [--seeds N]\n"
            "                  [--set KEY=VALUE]... [--queue %s] [--data-dir DIR] [--check] [-q]\n"
            "                  [-j N] [--resume] [--only GLOB]\n\n"
            "Run every run of an experiment (its sweep or runs list) and write, per run,\n"
            "DIR/<run>/{requests.csv,timeline.csv,summary.json,manifest.yaml}, and\n"
            "DIR/results.csv and DIR/results.json with one row per run (a run that cannot run\n"
            "is a row with its status and reason; the others go on). DIR defaults to\n"
            "results/<name>. Requests that failed or were cut are counted, and each run that\n"
            "had some says so on stderr with the setting that would admit them.\n\n"
            "  -o DIR           output directory\n"
            "  --force          replace the results already in DIR (refused without it)\n"
            "  --seed N         same as --set seed=N\n"
            "  --seeds N        run every run with seeds seed .. seed+N-1 (1 to 1000; same as\n"
            "                   --set seeds=N): DIR/<run>/seed-S/ per seed, DIR/results_seeds.csv\n"
            "                   a row per seed, results.csv the means and m_ci95, the 95 %% CI\n"
            "                   half-width of each metric m\n"
            "  --set KEY=VALUE  override a setting for every run (lensim schema lists keys); on\n"
            "                   a swept key it replaces the sweep; KEY=[a,b] sweeps KEY\n"
            "  --queue Q        same as --set engine.queue=Q; results are identical\n"
            "  --data-dir DIR   where traces live (default: $LENSIM_DATA, then ../shared/data)\n"
            "  --check          check every invariant after every event (slow)\n"
            "  -q, --quiet      no progress bar, no table and no info messages\n"
            "  -j N             N runs at a time in worker processes (0: one per CPU);\n"
            "                   the files are the same as with -j 1\n"
            "  --resume         keep runs whose files are complete in DIR (manifest with\n"
            "                   this run's experiment hash); run the others\n"
            "  --only GLOB      only the runs whose names match GLOB (results.csv lists them;\n"
            "                   into a DIR that holds results, with --resume or --force)\n\n"
            "exit status: 0 done, 1 a run failed, 2 invalid experiment or option (nothing\n"
            "written), "
            "3 input/output error or DIR in use by another lensim run,\n"
            "128+N stopped by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP,\n"
            "141 SIGPIPE: the reader of the table went away)\n",
            queues);
}

/* ---- results.csv and results.json: one row per run ---- */

/* The keys the experiment varies (cfg_varied_keys), at most this many as columns. */
enum { MAX_VARIED = 64 };

/* Issue 14: with seeds > 1 for some run (`seeded`), results.csv and results.json carry per run
 * the mean over its seeds in the metric columns, then `seeds` and m_ci95 for every metric column
 * m (appended after the other columns, so that readers by position are not disturbed), and
 * results_seeds.csv (`per`) one row per run and seed with the columns of a single-seed
 * results.csv. Without seeds, nothing of this is written: the files are as before. */
struct results {
    struct sim_afile csv, json, per;
    const char      *varied[MAX_VARIED];
    size_t           n_varied, rows;
    int              seeded;
    const char      *metric[MET_CSV_MAX_COLS]; /* the metric columns' names (into names) */
    size_t           n_metric;
    char             names[4096];
};

/* One row's metric values: one run's summary (sum), the mean over its seeds (mean and ci, each
 * of n_metric values, NaN when missing: issue 14), or neither (a run that did not finish). */
struct row_vals {
    const struct met_summary *sum;
    const double             *mean, *ci;
    uint32_t                  seeds;
};

/* A CSV field: as is, or quoted (RFC 4180) when it holds a comma, a quote or a line break. */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* A JSON string (quotes, backslashes and control characters escaped). */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* A mean or half-width as results.csv (missing "") or results.json (missing "null") shows it:
 * 6 decimals, as met.c writes the metrics. */
static void put_num(FILE *f, double v, const char *missing)
{
    if (isfinite(v))
        fprintf(f, "%.6f", v);
    else
        fputs(missing, f);
}

/* results.csv: the run's settings that tell runs apart, then the summary's columns (met.c),
 * then (issue 12) its status and why it failed, what ran it (model, GPU, GPUs = tp x replicas),
 * its seed, and every key the experiment varies by its full name (workload.rate). The leading
 * columns keep their places (figure scripts read them by position). Issue 14: `seeds` and the
 * m_ci95 columns last, when seeded (then `seeds` is not among the varied keys: it has its
 * column); f is results.csv or results_seeds.csv (extras 0: no issue 14 columns). */
static void results_header_csv(const struct results *r, FILE *f, int extras)
{
    fprintf(f, "run,policy,memory,batching,predictor,rate,cv,rate_scale,replicas,max_batch");
    met_csv_header(f);
    fprintf(f, ",status,reason,model,gpu,tp,gpus,seed");
    for (size_t k = 0; k < r->n_varied; k++) {
        fputc(',', f);
        csv_field(f, r->varied[k]);
    }
    if (extras) {
        fputs(",seeds", f);
        for (size_t k = 0; k < r->n_metric; k++)
            fprintf(f, ",%s_ci95", r->metric[k]);
    }
    fputc('\n', f);
}

static void results_header(struct results *r)
{
    results_header_csv(r, r->csv.f, r->seeded);
    if (r->seeded)
        results_header_csv(r, r->per.f, 0);
    fputs("[\n", r->json.f);
}

/* One row of results.csv (extras: with the issue 14 columns) or results_seeds.csv into f. */
static void results_row_csv(const struct results *r, FILE *f, const struct cfg *c,
                            const struct row_vals *v, const char *status, const char *reason,
                            int extras)
{
    char v_[CFG_STR_MAX];
    csv_field(f, c->run_name);
    fprintf(
        f, ",%s,%s,%s,%s,%.15g,%.15g,%.15g,%u,%u", sim_choice_name(sched_policy_choices, c->policy),
        sim_choice_name(kv_policy_choices, c->memory), sim_choice_name(batch_choices, c->batching),
        sim_choice_name(pred_kind_choices, c->predictor), c->rate, c->cv, c->rate_scale,
        c->replicas, c->max_batch);
    if (v->mean) {
        for (size_t k = 0; k < r->n_metric; k++) {
            fputc(',', f);
            put_num(f, v->mean[k], "");
        }
    } else {
        met_csv_row(v->sum, f);
    }
    fprintf(f, ",%s,", status);
    csv_field(f, reason);
    fputc(',', f);
    csv_field(f, c->model);
    fputc(',', f);
    csv_field(f, c->gpu);
    fprintf(f, ",%u,%llu,%llu", c->tp, (unsigned long long)c->tp * c->replicas,
            (unsigned long long)c->seed);
    for (size_t k = 0; k < r->n_varied; k++) {
        cfg_value_text(c, r->varied[k], v_, sizeof v_);
        fputc(',', f);
        csv_field(f, v_);
    }
    if (extras) {
        fprintf(f, ",%u", v->seeds);
        for (size_t k = 0; k < r->n_metric; k++) {
            fputc(',', f);
            put_num(f, v->ci ? v->ci[k] : NAN, "");
        }
    }
    fputc('\n', f);
}

/* One run's row of results.csv and results.json: v says which values (see struct row_vals). */
static void results_row(struct results *r, const struct cfg *c, const struct row_vals *v,
                        const char *status, const char *reason)
{
    FILE *j = r->json.f;
    results_row_csv(r, r->csv.f, c, v, status, reason, r->seeded);

    /* The same row, typed: numbers as numbers, a missing value as null. */
    fprintf(j, "%s  {\"run\": ", r->rows ? ",\n" : "");
    json_str(j, c->run_name);
    fprintf(j, ", \"status\": \"%s\", \"reason\": ", status);
    if (*reason)
        json_str(j, reason);
    else
        fputs("null", j);
    fprintf(j,
            ", \"policy\": \"%s\", \"memory\": \"%s\", \"batching\": \"%s\", "
            "\"predictor\": \"%s\", \"rate\": %.15g, \"cv\": %.15g, \"rate_scale\": %.15g, "
            "\"replicas\": %u, \"max_batch\": %u, \"model\": ",
            sim_choice_name(sched_policy_choices, c->policy),
            sim_choice_name(kv_policy_choices, c->memory),
            sim_choice_name(batch_choices, c->batching),
            sim_choice_name(pred_kind_choices, c->predictor), c->rate, c->cv, c->rate_scale,
            c->replicas, c->max_batch);
    json_str(j, c->model);
    fputs(", \"gpu\": ", j);
    json_str(j, c->gpu);
    fprintf(j, ", \"tp\": %u, \"gpus\": %llu, \"seed\": %llu", c->tp,
            (unsigned long long)c->tp * c->replicas, (unsigned long long)c->seed);
    if (v->mean) {
        for (size_t k = 0; k < r->n_metric; k++) {
            fprintf(j, ", \"%s\": ", r->metric[k]);
            put_num(j, v->mean[k], "null");
        }
    } else {
        met_json_row(v->sum, j);
    }
    if (r->seeded) { /* issue 14 */
        fprintf(j, ", \"seeds\": %u, \"ci95\": {", v->seeds);
        for (size_t k = 0; k < r->n_metric; k++) {
            fprintf(j, "%s\"%s\": ", k ? ", " : "", r->metric[k]);
            put_num(j, v->ci ? v->ci[k] : NAN, "null");
        }
        fputc('}', j);
    }
    if (r->n_varied) {
        fputs(", \"settings\": {", j);
        for (size_t k = 0; k < r->n_varied; k++) {
            fprintf(j, "%s", k ? ", " : "");
            json_str(j, r->varied[k]);
            fputs(": ", j);
            cfg_value_json(c, r->varied[k], j);
        }
        fputc('}', j);
    }
    fputc('}', j);
    r->rows++;
}

/* The results table (issue 12 item 6): at most TABLE_COLS columns. The run column is as wide
 * as the longest name, up to what the metric columns leave; a longer name is printed whole on
 * its own line, its values on the next. Goodput and SLO attainment appear when any run has an
 * SLO. */
enum { TABLE_COLS = 100 };

struct table {
    int slo, name_w;
    int seeded;          /* issue 14: the seeds table below */
    int col[6];          /* its columns' indices among results.csv's metric columns */
    int seeds_w, cols_w; /* the width of its seeds column and of its metric columns */
};

/* Issue 14: when some run has seeds > 1, the table shows per run its seeds, then for a few
 * metrics the mean over seeds and the half-width of its 95 % confidence interval (mean±hw; a
 * single-seed run: the mean alone). results.csv has every metric. */
static const struct {
    const char *col, *title; /* results.csv column, table title */
    double      scale;       /* table unit per column unit */
    int         w, prec;     /* width (display characters), most decimals */
} seed_cols[6] = {
    {"completed", "done", 1, 9, 1},
    {"failed", "fail", 1, 7, 1},
    {"request_throughput", "req/s", 1, 13, 3},
    {"mean_ttft_ms", "TTFT ms", 1, 14, 1},
    {"mean_e2el_ms", "E2E s", 1e-3, 13, 3},
    {"p99_e2el_ms", "p99 E2E s", 1e-3, 13, 3},
};

/* "mean±hw" (or the mean alone when hw is NaN; "-" when the mean is) in at most w display
 * characters (the ± is two bytes in UTF-8): the most decimals up to prec that fit, then
 * three significant digits. Returns the display width. */
static int fit_pm(char *b, size_t n, double mean, double hw, int prec, int w)
{
    if (!isfinite(mean)) {
        snprintf(b, n, "-");
        return 1;
    }
    for (int p = prec; p >= 0; p--) {
        int len = isfinite(hw) ? snprintf(b, n, "%.*f\u00b1%.*f", p, mean, p, hw) - 1
                               : snprintf(b, n, "%.*f", p, mean);
        if (len <= w)
            return len;
    }
    return isfinite(hw) ? snprintf(b, n, "%.3g\u00b1%.2g", mean, hw) - 1
                        : snprintf(b, n, "%.3g", mean);
}

static void table_header(struct table *t, const struct cfg *cfgs, size_t n)
{
    int longest = 3;
    t->slo = 0;
    t->seeded = 0;
    for (size_t i = 0; i < n; i++) {
        const struct cfg *c = &cfgs[i];
        if (c->slo_ttft_ms > 0 || c->slo_tpot_ms > 0 || c->slo_e2el_ms > 0 || c->slo_norm_ms > 0)
            t->slo = 1;
        if ((int)strlen(c->run_name) > longest)
            longest = (int)strlen(c->run_name);
        t->seeded |= c->seeds > 1;
    }
    if (t->seeded) {
        char        buf[4096];
        const char *names[MET_CSV_MAX_COLS];
        size_t      nm = met_csv_names(buf, sizeof buf, names, MET_CSV_MAX_COLS);
        t->seeds_w = 5;
        t->cols_w = 0;
        for (int k = 0; k < 6; k++) {
            t->col[k] = -1;
            for (size_t i = 0; i < nm; i++)
                if (!strcmp(names[i], seed_cols[k].col))
                    t->col[k] = (int)i;
            t->cols_w += 1 + seed_cols[k].w;
        }
        int room = TABLE_COLS - 1 - t->seeds_w - t->cols_w;
        t->name_w = longest < room ? longest : room < 3 ? 3 : room;
        printf("%-*s %*s", t->name_w, "run", t->seeds_w, "seeds");
        for (int k = 0; k < 6; k++)
            printf(" %*s", seed_cols[k].w, seed_cols[k].title);
        putchar('\n');
        return;
    }
    int room = TABLE_COLS - met_table_width(t->slo);
    t->name_w = longest < room ? longest : room < 3 ? 3 : room;
    printf("%-*s", t->name_w, "run");
    met_table_header(stdout, t->slo);
    putchar('\n');
}

static void table_name(const struct table *t, const char *name)
{
    if ((int)strlen(name) > t->name_w)
        printf("%s\n%-*s", name, t->name_w, "");
    else
        printf("%-*s", t->name_w, name);
}

static void table_row(const struct table *t, const char *name, const struct run_result *r)
{
    table_name(t, name);
    met_table_row(&r->sum, stdout, t->slo);
    putchar('\n');
}

/* Issue 14: a run's row of the seeds table: its seeds, then mean±hw of the seed columns (mean
 * and ci indexed as results.csv's metric columns; ci NULL for a single seed). */
static void table_row_seeds(const struct table *t, const char *name, uint32_t seeds,
                            const double *mean, const double *ci)
{
    table_name(t, name);
    printf(" %*u", t->seeds_w, seeds);
    for (int k = 0; k < 6; k++) {
        char   b[64];
        int    i = t->col[k];
        double m = i < 0 ? NAN : mean[i] * seed_cols[k].scale;
        double h = i < 0 || !ci ? NAN : ci[i] * seed_cols[k].scale;
        int    len = fit_pm(b, sizeof b, m, h, seed_cols[k].prec, seed_cols[k].w);
        printf(" %*s%s", len < seed_cols[k].w ? seed_cols[k].w - len : 0, "", b);
    }
    putchar('\n');
}

/* Take DIR/.lock exclusively (flock) so that two runs never mix their files in one directory;
 * *fd gets the lock's descriptor, path its name. Returns 0, or SIM_EIO with the reason in err:
 * "DIR: in use by another lensim run" when another process holds it (no waiting). */
static int lock_dir(const char *dir, char *path, size_t n, int *fd, struct sim_msg *err)
{
    snprintf(path, n, "%s/.lock", dir);
    for (;;) {
        int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (f < 0)
            return sim_msg_set(err, SIM_EIO, "%s: %s", path, strerror(errno));
        if (flock(f, LOCK_EX | LOCK_NB)) {
            int e = errno;
            close(f);
            if (e == EWOULDBLOCK)
                return sim_msg_set(err, SIM_EIO,
                                   "%s: in use by another lensim run (it holds %s); let it "
                                   "finish, or write elsewhere with -o",
                                   dir, path);
            return sim_msg_set(err, SIM_EIO, "%s: cannot lock: %s", path, strerror(e));
        }
        /* The previous holder removes the file as it leaves (unlock_dir): if it did so after
         * we opened it, our lock is on a name that is gone, so take the file there now. */
        struct stat held, now;
        if (fstat(f, &held) == 0 && stat(path, &now) == 0 && held.st_dev == now.st_dev &&
            held.st_ino == now.st_ino) {
            *fd = f;
            return SIM_OK;
        }
        close(f);
    }
}

/* Remove the lock file, then release it (in this order: see lock_dir). Cannot fail. */
static void unlock_dir(int fd, const char *path)
{
    unlink(path);
    close(fd);
}

/* ---- issue 12: an output directory that already holds results ---- */

/* Is `name` in dir something a lensim run writes (a run directory, with its manifest; results.csv
 * or results.json; figures)? */
static int is_output(const char *dir, const char *name)
{
    char        p[2200];
    struct stat st;
    if (!strcmp(name, "results.csv") || !strcmp(name, "results.json") || !strcmp(name, "figures") ||
        !strcmp(name, "results_seeds.csv") || !strcmp(name, "search.csv"))
        return 1;
    snprintf(p, sizeof p, "%s/%s/manifest.yaml", dir, name);
    if (stat(p, &st) == 0)
        return 1;
    /* Issue 14: a run of several seeds keeps them in RUN/seed-S/, each with its manifest; one
     * stopped before its own manifest was written still holds results. */
    snprintf(p, sizeof p, "%s/%s", dir, name);
    DIR *d = opendir(p);
    int  found = 0;
    if (!d)
        return 0;
    for (struct dirent *de; !found && (de = readdir(d));) {
        char q[2500];
        snprintf(q, sizeof q, "%s/%s/manifest.yaml", p, de->d_name);
        found = !strncmp(de->d_name, "seed-", 5) && stat(q, &st) == 0;
    }
    closedir(d);
    return found;
}

/* Remove path, a file or a directory tree. Returns 0 or SIM_EIO with the path and cause. */
static int remove_tree(const char *path, struct sim_msg *err)
{
    struct stat st;
    if (lstat(path, &st))
        return errno == ENOENT ? SIM_OK
                               : sim_msg_set(err, SIM_EIO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d)
            return sim_msg_set(err, SIM_EIO, "%s: %s", path, strerror(errno));
        struct dirent *de;
        int            rc = SIM_OK;
        while (!rc && (de = readdir(d))) {
            char p[2200];
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            snprintf(p, sizeof p, "%s/%s", path, de->d_name);
            rc = remove_tree(p, err);
        }
        closedir(d);
        if (rc)
            return rc;
        if (rmdir(path))
            return sim_msg_set(err, SIM_EIO, "%s: cannot remove: %s", path, strerror(errno));
        return SIM_OK;
    }
    if (unlink(path))
        return sim_msg_set(err, SIM_EIO, "%s: cannot remove: %s", path, strerror(errno));
    return SIM_OK;
}

/* Count (clear = 0) or remove (clear = 1) the results already in dir, so that no stale run
 * directory or figure sits beside a new results.csv. Returns the count found, or a negative
 * code with the reason in err. A missing dir holds none. */
static long old_outputs(const char *dir, int clear, struct sim_msg *err)
{
    DIR *d = opendir(dir);
    long n = 0;
    if (!d)
        return errno == ENOENT ? 0 : sim_msg_set(err, SIM_EIO, "%s: %s", dir, strerror(errno));
    struct dirent *de;
    int            rc = SIM_OK;
    while (!rc && (de = readdir(d))) {
        if (de->d_name[0] == '.' || !is_output(dir, de->d_name))
            continue;
        n++;
        if (clear) {
            char p[2200];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            rc = remove_tree(p, err);
        }
    }
    closedir(d);
    return rc ? rc : n;
}

/* Refuse (force = 0) or clear (force = 1) the results already in the locked dir. 0, or the
 * reason in err: SIM_ECONFIG "DIR: holds the results of an earlier run" with what to do
 * (resume_hint: --resume is one of the ways), or SIM_EIO. */
static int claim_dir(const char *dir, int force, int resume_hint, struct sim_msg *err)
{
    long n_old = old_outputs(dir, force, err);
    if (n_old < 0)
        return (int)n_old;
    if (n_old > 0 && !force)
        return sim_msg_set(err, SIM_ECONFIG,
                           "%s: holds the results of an earlier run; --force replaces them, "
                           "%sor write elsewhere with -o",
                           dir, resume_hint ? "--resume keeps the finished ones, " : "");
    return SIM_OK;
}

/* The end-of-run warning (issue 12): requests that failed or were cut, and the setting that
 * would admit them. Composed whole, then written with one call: -j's workers share stderr, and
 * a line written in pieces came out interleaved with another worker's. */
static void warn_cut(const char *name, const struct run *x, const struct met_summary *s)
{
    const uint64_t *f = s->failed_why;
    if (!s->failed && !s->truncated && !s->clamped_prompt)
        return;
    char   line[2048];
    size_t n = 0;
#define WARN_ADD(...)                                                      \
    do {                                                                   \
        if (n < sizeof line)                                               \
            n += (size_t)snprintf(line + n, sizeof line - n, __VA_ARGS__); \
    } while (0)
    WARN_ADD("lensim run: warning: run %s, of %llu requests:", name,
             (unsigned long long)(s->completed + s->failed));
    const char *sep = "";
    if (f[MET_FAIL_PROMPT]) {
        WARN_ADD("%s %llu failed (prompt >= engine.max_seq_len %u)", sep,
                 (unsigned long long)f[MET_FAIL_PROMPT], x->serve.kv.max_seq_len);
        sep = ",";
    }
    if (f[MET_FAIL_KV]) {
        WARN_ADD("%s %llu failed (more KV memory than a replica has)", sep,
                 (unsigned long long)f[MET_FAIL_KV]);
        sep = ",";
    }
    if (s->truncated) {
        WARN_ADD("%s %llu cut at max_seq_len %u (outputs truncated)", sep,
                 (unsigned long long)s->truncated, x->serve.kv.max_seq_len);
        sep = ",";
    }
    if (s->clamped_prompt)
        WARN_ADD("%s %llu prompts clamped to %u tokens (workload.max_prompt_tokens)", sep,
                 (unsigned long long)s->clamped_prompt, x->trace.max_prompt_tok);
    if (f[MET_FAIL_PROMPT] || s->truncated)
        WARN_ADD("; engine.max_seq_len: %llu would admit them whole (model context %u)",
                 (unsigned long long)s->longest_cut, x->model.max_ctx);
    if (f[MET_FAIL_KV])
        WARN_ADD("; more KV memory (hardware.tp, hardware.mem_util, a larger hardware.gpu) "
                 "would admit the others");
#undef WARN_ADD
    fflush(stdout); /* after the run's table row, also when stdout is a pipe */
    fprintf(stderr, "%s\n", line);
}

/* ---- issue 13: worker processes (-j), --resume, --only ---- */

/* What one run gives back, from this process or through a worker's pipe. */
struct job_out {
    int                rc;
    struct met_summary sum;
    double             wall_s;
    struct sim_msg     err;
};

enum job_state {
    JOB_SKIP,      /* not selected (--only) */
    JOB_TODO,      /* to run here */
    JOB_RUNNING,   /* in a worker */
    JOB_DONE,      /* ran here (out[i].rc says how) */
    JOB_RESUMED,   /* complete in DIR already (--resume) */
    JOB_REMOTE,    /* another MPI rank's */
    JOB_INFEASIBLE /* cannot run (why[i]): a row of results.csv, and the sweep goes on */
};

/* Whether a run's failure stops the others (issue 12): an interruption, an I/O error or lack of
 * memory does, and so does any failure of an experiment's only run; any other failure is
 * recorded as the run's row and the others go on. */
static int fatal_rc(int rc, size_t n)
{
    return rc && (n == 1 || rc == SIM_EINTR || rc == SIM_EIO || rc == SIM_ENOMEM);
}

/* ---- issue 13: MPI (meson -Dmpi=enabled) ---- */

/* This process's rank and the number of ranks: 0 and 1 without MPI, or when not started by an
 * MPI launcher (mpirun, srun: recognised by the environment variables they set), so that an MPI
 * build still runs as a plain program. */
static int mpi_rank, mpi_size = 1;

static void mpi_start(int *argc, char ***argv)
{
#ifdef LENSIM_HAVE_MPI
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE") && !getenv("PMIX_RANK"))
        return;
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &mpi_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mpi_size);
#else
    (void)argc, (void)argv;
#endif
}

static void mpi_stop(void)
{
#ifdef LENSIM_HAVE_MPI
    int on = 0;
    MPI_Initialized(&on);
    if (on)
        MPI_Finalize();
#endif
}

/* Rank 0's value of *v on every rank. */
static void mpi_share(int *v)
{
#ifdef LENSIM_HAVE_MPI
    if (mpi_size > 1)
        MPI_Bcast(v, 1, MPI_INT, 0, MPI_COMM_WORLD);
#else
    (void)v;
#endif
}

struct set_opts {
    int         quiet, jobs, resume, force;
    const char *only; /* NULL: every run */
};

/* One job: a run, or (issue 14) one seed of a run of several seeds. A run's jobs are
 * consecutive, its seeds in order. */
struct job {
    struct cfg c;                     /* the run's settings; a seed's: seed S, seeds 1 */
    char       sub[CFG_STR_MAX + 32]; /* its directory under DIR: RUN, or RUN/seed-S */
    size_t     run;                   /* the run it belongs to */
};

/* Build and run job j into dir/<j->sub>; the result in *o. */
static void exec_one(const cfg_exp_t *e, const struct job *j, const char *dir, const char *data_dir,
                     struct bar *bar, struct job_out *o)
{
    struct run *x = sim_malloc(sizeof *x);
    memset(o, 0, sizeof *o);
    if (!x) {
        o->rc = sim_msg_set(&o->err, SIM_ENOMEM, "out of memory");
        return;
    }
    struct run_result res;
    char              rdir[1400];
    snprintf(rdir, sizeof rdir, "%s/%s", dir, j->sub);
    bar->name = j->sub;
    bar->t0 = sim_wall_ns();
    o->rc = run_build(&j->c, cfg_dir(e), data_dir, x, &o->err);
    if (!o->rc)
        o->rc = run_exec(x, rdir, progress, bar, &res, &o->err);
    if (bar->on)
        fprintf(stderr, "\r\033[K");
    if (!o->rc) {
        o->sum = res.sum;
        o->wall_s = res.wall_s;
        warn_cut(j->sub, x, &res.sum);
    }
    run_fini(x);
    sim_free(x);
}

/* --resume: is dir/<j->sub> a finished run of exactly this configuration? Its manifest must carry
 * the job's experiment hash and its summary.json must read back whole (run_exec renames the
 * directory into place only when every file is written). Fills o from the summary. */
static int run_complete(const struct job *j, const char *dir, struct job_out *o)
{
    char path[1500], line[256], want[64];
    snprintf(path, sizeof path, "%s/%s/manifest.yaml", dir, j->sub);
    snprintf(want, sizeof want, "experiment_hash: \"%016llx\"\n",
             (unsigned long long)cfg_hash(&j->c));
    FILE *f = fopen(path, "r");
    int   match = 0;
    if (!f)
        return 0;
    while (!match && fgets(line, sizeof line, f))
        match = !strcmp(line, want);
    fclose(f);
    snprintf(path, sizeof path, "%s/%s/summary.json", dir, j->sub);
    if (!match || !(f = fopen(path, "r")))
        return 0;
    memset(o, 0, sizeof *o);
    int ok = met_read_json(f, &o->sum) == SIM_OK;
    fclose(f);
    return ok;
}

/* Start job j in a worker process whose result comes back through *fd. 0 or -1 (errno). */
static int spawn(const cfg_exp_t *e, const struct job *j, const char *dir, const char *data_dir,
                 pid_t *pid, int *fd)
{
    int p[2];
    if (pipe(p))
        return -1;
    fflush(stdout);
    fflush(stderr);
    *pid = fork();
    if (*pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (*pid == 0) { /* the worker: one run, its result down the pipe, no atexit, no flush */
        close(p[0]);
        struct bar     bar = {0};
        struct job_out o;
        exec_one(e, j, dir, data_dir, &bar, &o);
        /* Under PIPE_BUF bytes: one write, never blocked (the pipe holds 64 KiB). */
        ssize_t w = write(p[1], &o, sizeof o);
        _exit(w == (ssize_t)sizeof o ? 0 : 1);
    }
    close(p[1]);
    *fd = p[0];
    return 0;
}

/* The worker of job j, writing into dir, has ended (status st): its result into *o. A worker
 * that gave no result (killed: SIGKILL, the OOM killer) could not remove its run's temporary
 * directory: it is removed here, so that a stopped sweep leaves nothing half-written. The
 * messages do not name the run: the caller does. */
static void reap(int fd, int st, const char *dir, const struct job *j, struct job_out *o)
{
    ssize_t r = read(fd, o, sizeof *o);
    close(fd);
    if (r == (ssize_t)sizeof *o && WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return;
    memset(o, 0, sizeof *o);
    char path[1500];
    snprintf(path, sizeof path, "%s/%s", dir, j->sub);
    sim_afile_remove_stale(path);
    if (WIFSIGNALED(st))
        o->rc = sim_msg_set(&o->err, SIM_EIO, "its worker process died of signal %d (%s)",
                            WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        o->rc = sim_msg_set(&o->err, SIM_EIO, "its worker process gave no result");
}

/* Waits until the result pipe of one of the live workers (fd[0..live)) is readable: its result
 * written, or the worker gone. Returns that worker's index, or -1 after a signal (poll is never
 * restarted, SA_RESTART or not) or 100 ms (which bounds a stop signal that lands between the
 * caller's check of `interrupted` and this wait). Issue 13: this replaced polling waitpid every
 * 5 ms, which left a worker's core idle 2.5 ms on average after each run (6 % of a 16-run sweep
 * of 0.15 s runs on two cores). */
static int ready_worker(const int *fd, int live)
{
    struct pollfd pfd[64];
    for (int k = 0; k < live; k++)
        pfd[k] = (struct pollfd){.fd = fd[k], .events = POLLIN};
    if (poll(pfd, (nfds_t)live, 100) <= 0)
        return -1;
    for (int k = 0; k < live; k++)
        if (pfd[k].revents)
            return k;
    return -1;
}

/* Run every JOB_TODO job of state[0..n), at most jobs at a time (jobs <= 1: in this process).
 * After each job ends, print_ready(ctx) is called. Stops launching at the first failure or
 * signal; jobs already started finish (their files are kept). Returns the lowest-numbered
 * failed job's index, or n when none failed. */
static size_t run_todo(const cfg_exp_t *e, const struct job *job, size_t n, enum job_state *state,
                       struct job_out *out, int jobs, const char *dir, const char *data_dir,
                       struct bar *bar, void (*print_ready)(void *), void *ctx)
{
    size_t failed = n, next = 0;
    if (jobs <= 1) {
        for (size_t i = 0; i < n && failed == n && !interrupted; i++) {
            if (state[i] != JOB_TODO)
                continue;
            bar->run = i;
            exec_one(e, &job[i], dir, data_dir, bar, &out[i]);
            state[i] = JOB_DONE;
            if (fatal_rc(out[i].rc, n))
                failed = i;
            print_ready(ctx);
        }
        return failed;
    }
    pid_t  pid[64];
    int    fd[64];
    size_t run_of[64];
    int    live = 0, stop = 0, forwarded = 0;
    if (jobs > 64)
        jobs = 64;
    for (;;) {
        stop = stop || interrupted || failed != n;
        while (!stop && live < jobs && next < n) {
            if (state[next] != JOB_TODO) {
                next++;
                continue;
            }
            if (spawn(e, &job[next], dir, data_dir, &pid[live], &fd[live])) {
                out[next].rc = sim_msg_set(&out[next].err, SIM_EIO, "cannot start a worker: %s",
                                           strerror(errno));
                state[next] = JOB_DONE;
                failed = failed < next ? failed : next;
                stop = 1;
                break;
            }
            state[next] = JOB_RUNNING;
            run_of[live++] = next++;
        }
        if (!live)
            break;
        if (interrupted && !forwarded) { /* a signal to lensim alone reaches its workers too */
            for (int k = 0; k < live; k++)
                kill(pid[k], interrupted);
            forwarded = 1;
        }
        int   st;
        pid_t w = waitpid(-1, &st, WNOHANG);
        if (w == 0) {
            int k = ready_worker(fd, live);
            if (k < 0)
                continue;
            /* Its result is in the pipe, or it died: it has ended or is ending. */
            w = waitpid(pid[k], &st, 0);
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            break; /* ECHILD: none left (cannot happen while live > 0) */
        for (int k = 0; k < live; k++) {
            if (pid[k] != w)
                continue;
            size_t i = run_of[k];
            reap(fd[k], st, dir, &job[i], &out[i]);
            state[i] = JOB_DONE;
            if (fatal_rc(out[i].rc, n) && out[i].rc != SIM_EINTR && i < failed)
                failed = i;
            pid[k] = pid[live - 1], fd[k] = fd[live - 1], run_of[k] = run_of[live - 1];
            live--;
            print_ready(ctx);
            break;
        }
    }
    return failed;
}

/* ---- issue 14: seeds and confidence ---- */

/* The mean over the seeds out[j0..j1) of each of results.csv's n_metric metric columns, and its
 * 95 % half-width (rows.h), into mean[] and ci[]. Returns 0 or SIM_ENOMEM. */
static int seed_agg(const struct job_out *out, size_t j0, size_t j1, size_t n_metric, double *mean,
                    double *ci)
{
    size_t  ns = j1 - j0;
    double *v = sim_malloc(ns * MET_CSV_MAX_COLS * sizeof *v), *x = sim_malloc(ns * sizeof *x);
    if (!v || !x) {
        sim_free(v);
        sim_free(x);
        return SIM_ENOMEM;
    }
    for (size_t s = 0; s < ns; s++) {
        size_t got = met_csv_values(&out[j0 + s].sum, v + s * MET_CSV_MAX_COLS, MET_CSV_MAX_COLS);
        SIM_ASSERT(got == n_metric);
    }
    for (size_t k = 0; k < n_metric; k++) {
        for (size_t s = 0; s < ns; s++)
            x[s] = v[s * MET_CSV_MAX_COLS + k];
        met_seed_ci(x, ns, &mean[k], &ci[k]);
    }
    sim_free(v);
    sim_free(x);
    return SIM_OK;
}

/* A run of several seeds: DIR/RUN/manifest.yaml says so (its seeds, where their files are, and
 * the run's configuration with `seeds`, which lensim plot reads), with an experiment hash of its
 * own. Files a single-seed run leaves in RUN/ (before --resume with more seeds) are removed, so
 * that no stale requests.csv sits beside the seeds. Returns 0 or SIM_EIO with the reason. */
static int write_seeds_manifest(const char *dir, const struct cfg *c, const struct job *job,
                                size_t j0, size_t j1, struct sim_msg *err)
{
    static const char *const stale[] = {"requests.csv", "timeline.csv", "summary.json",
                                        "iterations.csv"};
    struct sim_afile         m = {0};
    char                     path[1500];
    for (size_t k = 0; k < sizeof stale / sizeof *stale; k++) {
        snprintf(path, sizeof path, "%s/%s/%s", dir, c->run_name, stale[k]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/%s/manifest.yaml", dir, c->run_name);
    int rc = sim_afile_open(&m, path, err);
    if (rc)
        return rc;
    fprintf(m.f, "lensim: \"0.1.0\"\ngit_revision: \"%s\"\n", LENSIM_GIT_REV);
    fprintf(m.f, "experiment: \"%s\"\nrun: \"%s\"\nseed: %llu\nseeds: %u\n", c->name, c->run_name,
            (unsigned long long)c->seed, c->seeds);
    fprintf(m.f, "experiment_hash: \"%016llx\"\n", (unsigned long long)cfg_hash(c));
    fputs("seed_dirs:\n", m.f);
    for (size_t j = j0; j < j1; j++)
        fprintf(m.f, "  - \"%s\"\n", strrchr(job[j].sub, '/') + 1);
    fputs("config:\n", m.f);
    char  *buf = NULL;
    size_t len = 0;
    FILE  *t = open_memstream(&buf, &len);
    if (t) {
        cfg_dump(c, t);
        fclose(t);
        for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save))
            fprintf(m.f, "  %s\n", line);
        free(buf);
    }
    rc = t ? sim_afile_commit(&m, err) : sim_msg_set(err, SIM_ENOMEM, "out of memory");
    sim_afile_discard(&m);
    return rc;
}

/* The jobs of runs cfgs[0..n): one per run, or per seed of a run with seeds > 1 (seed + k for
 * k < seeds, in RUN/seed-S/, each configured as `--seed S --seeds 1` would be, so that its files
 * are exactly those). first[i]..first[i + 1] are run i's. Returns an owned array (sim_free) of
 * first[n] jobs, or NULL when out of memory. */
static struct job *make_jobs(const struct cfg *cfgs, size_t n, size_t *first)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        first[i] = m;
        m += cfgs[i].seeds > 1 ? cfgs[i].seeds : 1;
    }
    first[n] = m;
    struct job *job = sim_calloc(m ? m : 1, sizeof *job);
    if (!job)
        return NULL;
    for (size_t i = 0; i < n; i++)
        for (size_t j = first[i]; j < first[i + 1]; j++) {
            struct job *x = &job[j];
            x->c = cfgs[i];
            x->run = i;
            if (cfgs[i].seeds <= 1) {
                snprintf(x->sub, sizeof x->sub, "%s", cfgs[i].run_name);
                continue;
            }
            x->c.seed = cfgs[i].seed + (j - first[i]); /* wraps past 2^64 - 1, as a u64 does */
            x->c.seeds = 1;
            snprintf(x->sub, sizeof x->sub, "%s/seed-%llu", cfgs[i].run_name,
                     (unsigned long long)x->c.seed);
        }
    return job;
}

/* --resume (issue 14): seed folders in DIR/<run>/ that this run's jobs do not write (left by a
 * run of more seeds, or of several seeds when the run has one now) are removed, so that a run's
 * folder holds only what its manifest describes. Returns 0 or SIM_EIO with the reason. */
static int clear_stale_seeds(const char *dir, const struct job *job, size_t j0, size_t j1,
                             struct sim_msg *err)
{
    char path[1500];
    snprintf(path, sizeof path, "%s/%s", dir, job[j0].c.run_name);
    DIR *d = opendir(path);
    int  rc = SIM_OK;
    if (!d)
        return SIM_OK;
    for (struct dirent *de; !rc && (de = readdir(d));) {
        int keep = strncmp(de->d_name, "seed-", 5) != 0;
        for (size_t j = j0; j < j1 && !keep && j1 - j0 > 1; j++) /* RUN/seed-S */
            keep = !strcmp(strrchr(job[j].sub, '/') + 1, de->d_name);
        if (!keep) {
            char p[2000];
            snprintf(p, sizeof p, "%s/%s", path, de->d_name);
            rc = remove_tree(p, err);
        }
    }
    closedir(d);
    return rc;
}

struct table_ctx {
    const struct cfg     *cfgs; /* the runs */
    size_t                n, next;
    const size_t         *first; /* run i's jobs: first[i] .. first[i + 1] (issue 14) */
    const struct job     *job;
    const enum job_state *state; /* per job */
    const struct job_out *out;   /* per job */
    char *const          *why;   /* why[i]: run i cannot run, or NULL */
    int                   quiet;
    struct table          tab;
    double                wall; /* seconds the finished jobs took, summed */
};

/* Print the table rows of the runs finished in order so far (rows come out in run order with
 * any -j): a run is finished when each of its jobs is. */
static void print_ready(void *p)
{
    struct table_ctx *t = p;
    size_t            n_jobs = t->first[t->n];
    for (; t->next < t->n; t->next++) {
        size_t i = t->next, j0 = t->first[i], j1 = t->first[i + 1], bad = 0;
        for (size_t j = j0; j < j1; j++) {
            enum job_state s = t->state[j];
            if (s != JOB_SKIP && s != JOB_DONE && s != JOB_RESUMED && s != JOB_INFEASIBLE)
                return;
        }
        if (t->state[j0] == JOB_SKIP)
            continue;
        if (t->state[j0] == JOB_INFEASIBLE) {
            if (!t->quiet)
                printf("%-26.26s infeasible: %s\n", t->cfgs[i].run_name, t->why[i]);
            continue;
        }
        for (size_t j = j0; j < j1; j++) {
            if (!t->out[j].rc) {
                t->wall += t->out[j].wall_s;
                continue;
            }
            bad++;
            if (!fatal_rc(t->out[j].rc, n_jobs)) { /* one that stops the others: the caller's */
                fflush(stdout);
                fprintf(stderr, "lensim run: run %s failed: %s\n", t->job[j].sub,
                        t->out[j].err.text);
            }
        }
        if (bad || t->quiet)
            continue;
        if (!t->tab.seeded) {
            struct run_result r = {.sum = t->out[j0].sum, .wall_s = t->out[j0].wall_s};
            table_row(&t->tab, t->cfgs[i].run_name, &r);
            continue;
        }
        double      mean[MET_CSV_MAX_COLS], ci[MET_CSV_MAX_COLS];
        char        buf[4096];
        const char *names[MET_CSV_MAX_COLS];
        size_t      nm = met_csv_names(buf, sizeof buf, names, MET_CSV_MAX_COLS);
        if (seed_agg(t->out, j0, j1, nm, mean, ci) == SIM_OK)
            table_row_seeds(&t->tab, t->cfgs[i].run_name, (uint32_t)(j1 - j0), mean,
                            j1 - j0 > 1 ? ci : NULL);
    }
    fflush(stdout);
}

/* MPI: every job's result to rank 0 (job i belongs to rank i mod size). Rank 0 returns the
 * lowest-numbered failed job over all ranks (or n); the others return their own. */
static size_t mpi_gather(size_t n, enum job_state *state, struct job_out *out, size_t failed)
{
#ifdef LENSIM_HAVE_MPI
    if (mpi_size < 2)
        return failed;
    for (size_t i = 0; i < n; i++) {
        int owner = (int)(i % (size_t)mpi_size);
        if (state[i] != JOB_REMOTE && (state[i] != JOB_DONE || owner == 0))
            continue;
        if (mpi_rank == owner && owner != 0) {
            MPI_Send(&out[i], (int)sizeof out[i], MPI_BYTE, 0, (int)i, MPI_COMM_WORLD);
        } else if (mpi_rank == 0) {
            MPI_Recv(&out[i], (int)sizeof out[i], MPI_BYTE, owner, (int)i, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
            state[i] = JOB_DONE;
            if (fatal_rc(out[i].rc, n) && out[i].rc != SIM_EINTR && i < failed)
                failed = i;
        }
    }
#else
    (void)n, (void)state, (void)out;
#endif
    return failed;
}

/* Issue 14: results.csv's row of run i, whose jobs job[j0..j1) all ended (or resumed), and the
 * rows of its seeds in results_seeds.csv. A run of several seeds of which some failed is a
 * failed row that names them (its metrics empty: no mean over the seeds that finished); each
 * seed's row says how it went. Returns 1 when the run's row is a failure, or a negative code
 * (out of memory). */
static int results_run(struct results *r, const struct cfg *c, const struct job *job,
                       const struct job_out *out, size_t j0, size_t j1)
{
    size_t                ns = j1 - j0, n_bad = 0;
    const struct job_out *bad = NULL;
    struct row_vals       v = {.seeds = c->seeds > 1 ? c->seeds : 1};
    for (size_t j = j0; j < j1; j++) {
        if (r->seeded) {
            struct row_vals one = {.sum = out[j].rc ? NULL : &out[j].sum, .seeds = 1};
            results_row_csv(r, r->per.f, &job[j].c, &one, out[j].rc ? "failed" : "ok",
                            out[j].rc ? out[j].err.text : "", 0);
        }
        if (out[j].rc) {
            n_bad++;
            bad = bad ? bad : &out[j];
        }
    }
    if (ns == 1 && !n_bad) {
        v.sum = &out[j0].sum;
        results_row(r, c, &v, "ok", "");
        return 0;
    }
    if (ns == 1) {
        results_row(r, c, &v, "failed", bad->err.text);
        return 1;
    }
    if (n_bad) {
        char why[sizeof bad->err.text + 600], *p = why;
        p += snprintf(why, 300, "%zu of %zu seeds failed (seed", n_bad, ns);
        for (size_t j = j0, k = 0; j < j1 && p < why + 520; j++)
            if (out[j].rc)
                p += snprintf(p, 40, "%s %llu", k++ ? "," : "", (unsigned long long)job[j].c.seed);
        snprintf(p, (size_t)(why + sizeof why - p), "); seed %llu: %s",
                 (unsigned long long)job[bad - out].c.seed, bad->err.text);
        results_row(r, c, &v, "failed", why);
        return 1;
    }
    double mean[MET_CSV_MAX_COLS], ci[MET_CSV_MAX_COLS];
    if (seed_agg(out, j0, j1, r->n_metric, mean, ci))
        return SIM_ENOMEM;
    v.mean = mean;
    v.ci = ci;
    results_row(r, c, &v, "ok", "");
    return 0;
}

/* Run cfgs[0..n) of e into dir, holding its lock and catching the stop signals. why[i] is the
 * reason run i cannot run (found before anything was written), or NULL: such a run, and one that
 * fails as it runs (but for an interruption, an I/O error or lack of memory: fatal_rc), is a row
 * of results.csv with its status and reason, and the others go on. A run of several seeds
 * (issue 14) is a job per seed; its row comes when they all ended. results.csv and results.json
 * are written when every selected run finished or failed so. *n_failed gets the number that
 * failed. Returns 0, SIM_EINTR, or a negative code with the reason in err. */
static int run_set(const char *file, const cfg_exp_t *e, const struct cfg *cfgs, size_t n,
                   char *const *why, const char *dir, const char *data_dir,
                   const struct set_opts *so, size_t *n_failed, struct sim_msg *err)
{
    struct sigaction sa = {0}, old[N_STOP_SIGNALS];
    struct results   res_files = {0};
    char             lock_path[1100], rpath[1100];
    int              lock = -1, rc;
    size_t          *first = sim_calloc(n + 1, sizeof *first);
    struct job      *job = first ? make_jobs(cfgs, n, first) : NULL;
    size_t           m = job ? first[n] : 0; /* jobs */
    enum job_state  *state = job ? sim_calloc(m, sizeof *state) : NULL;
    struct job_out  *out = job ? sim_calloc(m, sizeof *out) : NULL;
    size_t           n_sel = 0, n_resumed = 0, n_jsel = 0;
    *n_failed = 0;
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART; /* the flag stops the run; no read or write should fail of it */
    for (int k = 0; k < N_STOP_SIGNALS; k++)
        sigaction(stop_signals[k], &sa, &old[k]);
    if (!state || !out) {
        rc = sim_msg_set(err, SIM_ENOMEM, "out of memory");
        goto out;
    }
    if (mpi_rank == 0) { /* under MPI only rank 0 holds the lock, for every rank */
        if (!(rc = run_mkdirs(dir, err)))
            rc = lock_dir(dir, lock_path, sizeof lock_path, &lock, err);
        /* Results already there (issue 12): refused without --force, which clears them, so that
         * no stale run or figure sits beside the new results.csv; --resume keeps them. */
        if (!rc && !so->resume)
            rc = claim_dir(dir, so->force, 1, err);
    }
    mpi_share(&rc);
    if (rc) {
        if (mpi_rank)
            sim_msg_set(err, rc, "%s: rank 0 could not prepare it", dir);
        goto out;
    }
    for (size_t j = 0; j < m; j++) {
        size_t i = job[j].run;
        state[j] = so->only && fnmatch(so->only, cfgs[i].run_name, 0) ? JOB_SKIP : JOB_TODO;
        if (state[j] == JOB_SKIP)
            continue;
        n_sel += j == first[i];
        n_jsel++;
        if (why[i]) {
            state[j] = JOB_INFEASIBLE; /* recorded, and the sweep goes on */
        } else if (so->resume && run_complete(&job[j], dir, &out[j])) {
            state[j] = JOB_RESUMED;
            n_resumed++;
        } else if (j % (size_t)mpi_size != (size_t)mpi_rank) {
            state[j] = JOB_REMOTE; /* another rank's */
        }
    }
    if (!n_sel) {
        rc = sim_msg_set(err, SIM_ECONFIG, "--only '%s': no run of %s has a matching name",
                         so->only, file);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        res_files.seeded |= cfgs[i].seeds > 1;
        if (so->resume && mpi_rank == 0 && state[first[i]] != JOB_SKIP && !why[i] &&
            (rc = clear_stale_seeds(dir, job, first[i], first[i + 1], err)))
            goto out;
    }
    if (mpi_rank == 0) { /* under MPI, rank 0 alone writes results.csv and results.json */
        const char *varied[MAX_VARIED];
        size_t      nv = cfg_varied_keys(e, varied, MAX_VARIED);
        for (size_t k = 0; k < nv; k++) /* issue 14: `seeds` has its own column */
            if (!res_files.seeded || strcmp(varied[k], "seeds"))
                res_files.varied[res_files.n_varied++] = varied[k];
        res_files.n_metric = met_csv_names(res_files.names, sizeof res_files.names,
                                           res_files.metric, MET_CSV_MAX_COLS);
        SIM_ASSERT(res_files.n_metric > 0);
        snprintf(rpath, sizeof rpath, "%s/results.csv", dir);
        if ((rc = sim_afile_open(&res_files.csv, rpath, err)))
            goto out;
        snprintf(rpath, sizeof rpath, "%s/results.json", dir);
        if ((rc = sim_afile_open(&res_files.json, rpath, err)))
            goto out;
        snprintf(rpath, sizeof rpath, "%s/results_seeds.csv", dir);
        if (res_files.seeded && (rc = sim_afile_open(&res_files.per, rpath, err)))
            goto out;
        results_header(&res_files);
    }
    struct bar bar = {.on = !so->quiet && isatty(2) && so->jobs <= 1 && mpi_size == 1, .n_runs = m};
    struct table_ctx tc = {.cfgs = cfgs,
                           .n = n,
                           .first = first,
                           .job = job,
                           .state = state,
                           .out = out,
                           .why = why,
                           .quiet = so->quiet};
    if (!so->quiet) {
        printf("lensim run %s: %zu run%s", file, n_sel, n_sel == 1 ? "" : "s");
        if (res_files.seeded) /* each row: the mean over seeds, its 95 % CI half-width */
            printf(" (%zu with their seeds; mean\u00b195 %% CI half-width)", n_jsel);
        printf(" -> %s\n", dir);
        table_header(&tc.tab, cfgs, n);
    }
    if (n_resumed)
        sim_log_info("--resume: %zu of %zu %s already complete in %s, kept", n_resumed, n_jsel,
                     n_jsel == n_sel ? "runs" : "runs and seeds", dir);
    print_ready(&tc);
    size_t failed = run_todo(e, job, m, state, out, so->jobs, dir, data_dir, &bar, print_ready,
                             &tc);
    failed = mpi_gather(m, state, out, failed);
    print_ready(&tc);
    if (mpi_rank) { /* rank 0 writes the results; its status is everyone's (below) */
        rc = interrupted ? SIM_EINTR : failed < m ? out[failed].rc : SIM_OK;
        if (rc && rc != SIM_EINTR)
            snprintf(err->text, sizeof err->text, "run %.120s: %.380s", job[failed].sub,
                     out[failed].err.text);
    } else if (interrupted) {
        rc = SIM_EINTR;
    } else if (failed < m) {
        rc = out[failed].rc;
        if (m > 1)
            snprintf(err->text, sizeof err->text, "run %.120s: %.380s", job[failed].sub,
                     out[failed].err.text);
        else
            *err = out[failed].err;
    } else { /* every selected run finished, or failed so that the others went on */
        rc = SIM_OK;
        for (size_t i = 0; i < n && !rc; i++) {
            size_t j0 = first[i], j1 = first[i + 1];
            if (state[j0] == JOB_SKIP)
                continue;
            if (state[j0] == JOB_INFEASIBLE) {
                struct row_vals v = {.seeds = cfgs[i].seeds};
                results_row(&res_files, &cfgs[i], &v, "infeasible", why[i]);
                (*n_failed)++;
                continue;
            }
            if (cfgs[i].seeds > 1 && (rc = write_seeds_manifest(dir, &cfgs[i], job, j0, j1, err)))
                break;
            int r = results_run(&res_files, &cfgs[i], job, out, j0, j1);
            if (r < 0)
                rc = sim_msg_set(err, r, "out of memory");
            else
                *n_failed += (size_t)r;
        }
        if (!rc) {
            fputs("\n]\n", res_files.json.f);
            if (!(rc = sim_afile_commit(&res_files.csv, err)))
                rc = sim_afile_commit(&res_files.json, err);
            if (!rc && res_files.seeded)
                rc = sim_afile_commit(&res_files.per, err);
            snprintf(rpath, sizeof rpath, "%s/results_seeds.csv", dir);
            if (!rc && !res_files.seeded) /* --resume after a run of several seeds */
                unlink(rpath);
        }
        if (!rc && !so->quiet)
            printf("%zu run%s simulated in %.3f s\n", n_jsel, n_jsel == 1 ? "" : "s", tc.wall);
    }
out:
    sim_afile_discard(&res_files.csv);
    sim_afile_discard(&res_files.json);
    sim_afile_discard(&res_files.per);
    if (lock >= 0)
        unlock_dir(lock, lock_path);
    for (int k = 0; k < N_STOP_SIGNALS; k++)
        sigaction(stop_signals[k], &old[k], NULL);
    sim_free(state);
    sim_free(out);
    sim_free(job);
    sim_free(first);
    return rc;
}

/* Before anything is written (issue 12): build every run, so that a setting that cannot work
 * (an unknown preset, weights that do not fit, a bad profile) is an error at the place the
 * experiment wrote it. A run that fails only on a combination of settings (run.h: infeasible),
 * in an experiment of several runs of which some can run, gets its reason in why[i] instead.
 * Also warns, once per message, about a predictor that the policy does not read. Returns 0, or
 * the first error with its place in err. */
static int preflight(const cfg_exp_t *e, const struct cfg *cfgs, size_t n, const char *data_dir,
                     char **why, struct sim_msg *err)
{
    struct run    *x = sim_malloc(sizeof *x);
    size_t         n_bad = 0;
    int            rc = SIM_OK, first = SIM_OK;
    char           warned[sizeof err->text] = "";
    struct sim_msg first_msg = {{0}};
    if (!x)
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        const struct cfg *c = &cfgs[i];
        if (c->predictor_given && (c->policy == SCHED_FCFS || c->policy == SCHED_SJF)) {
            struct sim_msg w;
            sim_msg_set(&w, SIM_ECONFIG,
                        "predictor.name: %s is not used: policy %s does not read predictions "
                        "(ssjf and s3 do; engine.memory: predicted does too)",
                        sim_choice_name(pred_kind_choices, c->predictor),
                        sim_choice_name(sched_policy_choices, c->policy));
            cfg_place_msg(e, i, &w);
            if (c->memory != KV_PREDICTED && strcmp(w.text, warned)) {
                fprintf(stderr, "lensim run: warning: %s\n", w.text);
                snprintf(warned, sizeof warned, "%s", w.text);
            }
        }
        int r = run_build(c, cfg_dir(e), data_dir, x, err);
        run_fini(x); /* issue 13: each build's table profile was left allocated */
        if (!r)
            continue;
        cfg_place_msg(e, i, err);
        if (!x->infeasible || n == 1) {
            rc = r; /* wrong on its own: the whole experiment is */
            break;
        }
        if (!first) {
            first = r;
            first_msg = *err;
        }
        n_bad++;
        if (!(why[i] = sim_strdup(err->text)))
            rc = sim_msg_set(err, SIM_ENOMEM, "out of memory");
    }
    if (!rc && n_bad == n) { /* nothing can run: an error, not a results table of failures */
        *err = first_msg;
        rc = first;
    }
    sim_free(x);
    return rc;
}

/* run's own options (opts.h's callback): --resume, --only GLOB, --seed N, --seeds N,
 * --check, --queue Q. */
static int run_opt(void *ctx, struct cli_opts *o, int argc, char **argv, int *i)
{
    struct set_opts *so = ctx;
    const char      *a = argv[*i], *v;
    if (!strcmp(a, "--resume")) {
        so->resume = 1;
        return 0;
    }
    if (!strcmp(a, "--check"))
        return cli_opts_add_set(o, "engine.check=true");
    if (strcmp(a, "--only") && strcmp(a, "--seed") && strcmp(a, "--seeds") && strcmp(a, "--queue"))
        return CLI_OPTS_NOT_MINE;
    if (!(v = cli_opts_value(o, argc, argv, i)) || cli_opts_once(o, a))
        return CLI_EXIT_USAGE;
    if (!strcmp(a, "--only")) {
        so->only = v;
        return 0;
    }
    if (!strcmp(a, "--seeds")) { /* issue 14 */
        char         *end;
        unsigned long k = strtoul(v, &end, 10);
        if (*end || end == v || v[0] == '-' || k < 1 || k > 1000) {
            char esc[256];
            fprintf(stderr, "lensim run: --seeds %s: a number of seeds from 1 to 1000\n",
                    sim_escape(v, esc, sizeof esc));
            return CLI_EXIT_USAGE;
        }
        char n[32];
        snprintf(n, sizeof n, "%lu", k);
        return cli_opts_add_kv(o, "seeds", n);
    }
    /* The value whole, whatever its length: cfg_add_set judges it (never cut short here). */
    return cli_opts_add_kv(o, a[2] == 'q' ? "engine.queue" : "seed", v);
}

int run_cmd(int argc, char **argv)
{
    struct cli_opts o;
    struct set_opts so = {.jobs = 1};
    cfg_exp_t      *e = NULL;
    struct sim_msg  err = {{0}};
    char          **why = NULL;
    struct cfg     *cfgs = NULL;
    size_t          n = 0, n_failed = 0;
    int             rc = SIM_OK, status = 0;
    mpi_start(&argc, &argv);
    if ((status = cli_opts_init(&o, "run", argc)) ||
        (status = cli_opts_parse(&o, argc, argv, run_opt, &so)))
        goto out;
    if (o.help) {
        usage(stdout);
        goto out;
    }
    const char *file = o.file, *outdir = o.outdir;
    int         quiet = o.quiet;
    so.jobs = o.jobs;
    so.force = o.force;
    if (so.resume && so.force) { /* one would silently lose to the other */
        fprintf(stderr, "lensim run: --resume and --force contradict each other (--resume keeps "
                        "the finished runs, --force removes them): give one\n");
        status = CLI_EXIT_USAGE;
        goto out;
    }
    if (!file) {
        usage(stderr);
        status = CLI_EXIT_USAGE;
        goto out;
    }
    char data_dir[1024] = "";
    if ((rc = cli_opts_load(&o, &e, data_dir, sizeof data_dir, &err)))
        goto fail;

    /* Resolve and build every run first: a bad run fails before anything is written. */
    n = cfg_n_runs(e);
    cfgs = sim_calloc(n, sizeof *cfgs);
    why = sim_calloc(n, sizeof *why);
    if (!cfgs || !why) {
        rc = sim_msg_set(&err, SIM_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        if ((rc = cfg_resolve(e, i, &cfgs[i], &err)))
            goto fail;
    char dir[1024]; /* run directories (dir/<run name>) and their files fit the buffers below */
    if (snprintf(dir, sizeof dir, "%s", outdir ? outdir : "") >= (int)sizeof dir) {
        rc = sim_msg_set(&err, SIM_ECONFIG, "-o: path too long (%zu bytes; at most %zu)",
                         strlen(outdir), sizeof dir - 1);
        goto fail;
    }
    if (!outdir)
        snprintf(dir, sizeof dir, "results/%s", cfgs[0].name);
    cal_table_keep(1); /* issue 13: a table profile is parsed once, not once per build */
    if ((rc = preflight(e, cfgs, n, data_dir, why, &err)))
        goto fail;

    so.quiet = quiet || mpi_rank > 0; /* under MPI, rank 0 prints */
    if (mpi_rank > 0)
        sim_log_quiet(1);
    rc = run_set(file, e, cfgs, n, why, dir, data_dir, &so, &n_failed, &err);
    mpi_share(&rc); /* every rank exits with rank 0's status */
    if (!rc && n_failed) {
        fprintf(stderr,
                "lensim run: %zu of %zu runs failed; results.csv and results.json say "
                "which and why\n",
                n_failed, n);
        status = CLI_EXIT_FAILED;
    }
    if (!rc)
        goto out;
fail:
    if (rc == SIM_EINTR) {
        if (mpi_rank == 0)
            fprintf(stderr,
                    "lensim run: interrupted; finished runs are kept, the current one is not\n");
        status = 128 + (interrupted ? interrupted : SIGINT); /* as the shell reports a signal */
    } else {
        if (mpi_rank == 0) /* under MPI, rank 0 speaks for all */
            fprintf(stderr, "lensim run: %s\n", err.text[0] ? err.text : sim_strerror(rc));
        status = cli_exit_status(rc);
    }
out:
    cal_table_keep(0);
    for (size_t i = 0; why && i < n; i++)
        sim_free(why[i]);
    sim_free(why);
    sim_free(cfgs);
    cfg_free(e);
    cli_opts_fini(&o);
    mpi_stop();
    return status;
}

/* ---- issue 13: the batch runner `lensim search` uses (cmds.h) ---- */

int cli_lock_dir(const char *dir, int force, char *path, size_t n, int *fd, struct sim_msg *err)
{
    int rc = run_mkdirs(dir, err);
    if (!rc && !(rc = lock_dir(dir, path, n, fd, err)) && (rc = claim_dir(dir, force, 0, err))) {
        unlock_dir(*fd, path);
        *fd = -1;
    }
    return rc;
}

void cli_unlock_dir(int fd, const char *path) { unlock_dir(fd, path); }

static void print_none(void *ctx) { (void)ctx; }

int cli_run_batch(const cfg_exp_t *e, const struct cfg *cfgs, size_t n, int jobs, const char *dir,
                  const char *data_dir, struct met_summary *sums, double *wall_s,
                  struct sim_msg *err)
{
    struct sigaction sa = {0}, old[N_STOP_SIGNALS];
    enum job_state  *state = sim_calloc(n, sizeof *state);
    struct job_out  *out = sim_calloc(n, sizeof *out);
    struct job      *job = sim_calloc(n, sizeof *job);
    struct bar       bar = {0};
    int              rc = SIM_OK;
    if (!state || !out || !job) {
        sim_free(state);
        sim_free(out);
        sim_free(job);
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if (cfgs[i].seeds > 1) { /* issue 14 */
            rc = sim_msg_set(err, SIM_ECONFIG,
                             "seeds: %u: lensim search decides pass or fail on one run's "
                             "metrics; over seeds it would have to choose between the mean and "
                             "its confidence interval, so it runs one seed (set seeds: 1, or "
                             "search each seed with --seed)",
                             cfgs[i].seeds);
            cfg_place_msg(e, 0, err);
        }
        job[i].c = cfgs[i];
        job[i].run = i;
        snprintf(job[i].sub, sizeof job[i].sub, "%s", cfgs[i].run_name);
        state[i] = JOB_TODO;
    }
    if (rc)
        goto done;
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    for (int k = 0; k < N_STOP_SIGNALS; k++)
        sigaction(stop_signals[k], &sa, &old[k]);
    size_t failed = run_todo(e, job, n, state, out, jobs, dir, data_dir, &bar, print_none, NULL);
    /* run_todo stops only at a fatal failure (fatal_rc: a sweep goes on past a run that cannot
     * run); here every run's summary is needed, so any failed run is the batch's failure, never
     * a zeroed summary read as a result. */
    for (size_t i = 0; i < failed; i++)
        if (out[i].rc) {
            failed = i;
            break;
        }
    if (interrupted) {
        rc = SIM_EINTR;
    } else if (failed < n) {
        rc = out[failed].rc;
        snprintf(err->text, sizeof err->text, "run %.120s: %.380s", cfgs[failed].run_name,
                 out[failed].err.text);
    } else {
        for (size_t i = 0; i < n; i++) {
            sums[i] = out[i].sum;
            wall_s[i] = out[i].wall_s;
        }
    }
    for (int k = 0; k < N_STOP_SIGNALS; k++)
        sigaction(stop_signals[k], &old[k], NULL);
done:
    sim_free(state);
    sim_free(out);
    sim_free(job);
    return rc;
}

int cli_interrupted(void) { return interrupted; }
