/*
 * cmd_plot.c: `lensim plot DIR`: figures that follow the experiment in DIR (issue 12 item 7).
 *
 * What is plotted is read from the results, not assumed: results.csv gives the runs and their
 * metrics, each run's manifest.yaml its full configuration (`config:`). A configuration key whose
 * value differs between runs was swept (or set by a `runs:` entry). The x axis is the numeric
 * swept key that names the runs (its `LEAF-VALUE` is part of every run name, which is how
 * cfg.c names sweep points), preferring rate, rate_scale, cv, max_batch, replicas, tp; every
 * other difference between runs makes a series, labelled by the run name without the x part.
 * With more than 6 series, a categorical swept key with 2 to 4 values (the fewest; the first in
 * manifest order on a tie) becomes panels instead (SSJF's batching modes side by side).
 * Series keep one colour in every figure of the experiment.
 *
 * Figures (DIR/figures/NAME.FMT), each drawn only when it applies:
 *   sweep        x = the swept key: throughput (and goodput), SLO attainment, TTFT, TPOT, E2E
 *                (mean solid, p99 dashed), failed requests; a panel whose values are all
 *                missing is left out. Only when there is a numeric swept key.
 *   runs         the same metrics as bars from zero, one bar per run. Only without such a key.
 *   latency_cdf  CDFs of TTFT and E2E latency (JCT for `compat: ssjf`), one panel per x value
 *                (at most 4, evenly spread); each CDF is drawn from 1001 quantiles, so that a
 *                run of millions of requests makes a small figure.
 *   timeline     batch size and KV-cache use on replica 0, one small panel per run (at most
 *                16, evenly spread), each timeline reduced to at most 1000 steps (the maximum of
 *                each bucket, so that peaks stay).
 * A figure name that does not apply any more is removed from DIR/figures in every format.
 * A run of several seeds (issue 14) is drawn from results.csv's means; its CDFs and timeline
 * from its first seed's files (RUN/seed-S/).
 *
 * lensim writes each gnuplot script (data inline) to a temporary file; gnuplot draws to a pipe
 * and lensim writes the figure through an atomic file, so that a figure appears only when gnuplot
 * succeeded and every byte reached the disk. Whatever gnuplot prints on stderr is passed on,
 * prefixed by the figure's name (a warning is a figure to fix); LENSIM_PLOT_KEEP keeps the
 * scripts (their paths on stderr) for whoever changes a figure. Needs gnuplot on the PATH and
 * says how to get it when it is missing; nothing else in lensim needs it.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "afile.h"
#include "alloc.h"
#include "cmds.h"
#include "run.h"

enum {
    CDF_POINTS = 1000,  /* quantile steps of a CDF (1001 points) */
    TL_POINTS = 1000,   /* at most this many timeline steps per panel */
    MAX_CDF_COLS = 4,   /* x values shown as CDF panels */
    MAX_TL_PANELS = 16, /* runs shown as timeline panels */
    FIG_W = 1200,       /* figure width, pixels */
    N_PALETTE = 12,
};

/* Twelve colours that stay apart (matplotlib's tab10 without its grey, and three darker ones);
 * the 13th series reuses the first colour with dashes and another point type. */
static const char *const palette[N_PALETTE] = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#17becf", "#bcbd22", "#000080", "#808000", "#ff1493",
};

/* ---- small helpers ---- */

/* Split a CSV line in place into at most max fields (quotes and "" honoured). Returns the count. */
static size_t csv_split(char *s, char **f, size_t max)
{
    size_t n = 0;
    s[strcspn(s, "\r\n")] = 0;
    for (;;) {
        char *w = s, *start = s;
        if (*s == '"') {
            start = w = ++s;
            while (*s && !(*s == '"' && s[1] != '"')) {
                if (*s == '"')
                    s++;
                *w++ = *s++;
            }
            if (*s == '"')
                s++;
            while (*s && *s != ',')
                s++;
        } else {
            while (*s && *s != ',')
                w = ++s;
        }
        int more = *s == ',';
        *w = 0;
        if (n < max)
            f[n++] = start;
        if (!more)
            return n;
        s++;
    }
}

/* The number in s, or NaN when s is empty or not all a number. */
static double num(const char *s)
{
    char *end;
    if (!s || !*s)
        return NAN;
    double v = strtod(s, &end);
    while (*end == ' ')
        end++;
    return *end ? NAN : v;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char  *d = sim_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* A gnuplot string literal: single quotes, a quote doubled. */
static void gp_str(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

static void gp_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, " %.9g", v);
    else
        fputs(" NaN", f);
}

/* ---- the experiment: runs, their settings, x axis and series ---- */

struct kv {
    char *key, *val;
};

struct prun {
    char      *name;
    char     **cell; /* results.csv row (borrowed from struct exp) */
    struct kv *cfg;  /* manifest config, flattened "a.b.c" -> value */
    size_t     n_cfg;
    double     x; /* NaN without an x axis */
    int        series, panel;
};

struct exp {
    const char  *dir;
    char        *results; /* results.csv text, fields point into it */
    char       **head;
    size_t       n_cols;
    struct prun *run;
    size_t       n_runs;
    char         xkey[200]; /* "" when there is no numeric swept key */
    const char  *xleaf;
    char       **series; /* labels, owned */
    size_t       n_series;
    char         pleaf[128]; /* the key whose values are panels ("" = one panel) */
    char       **panel;      /* its values, owned */
    size_t       n_panels;
    int          compat; /* requests.csv has jct_s (compat: ssjf) */
};

static const char *cfg_get(const struct prun *r, const char *key)
{
    for (size_t i = 0; i < r->n_cfg; i++)
        if (!strcmp(r->cfg[i].key, key))
            return r->cfg[i].val;
    return NULL;
}

/* The `config:` section of a manifest (indented two spaces a level, as run.c writes it) as
 * flattened keys. A missing manifest gives no keys. Returns 0 or SIM_ENOMEM. */
static int read_manifest(const char *dir, struct prun *r)
{
    char path[4096], line[1024], stack[8][128];
    snprintf(path, sizeof path, "%s/%s/manifest.yaml", dir, r->name);
    FILE *f = fopen(path, "r");
    if (!f)
        return SIM_OK;
    int    in = 0, rc = SIM_OK;
    size_t cap = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        size_t ind = strspn(line, " ");
        if (ind == 0) {
            in = !strcmp(line, "config:");
            continue;
        }
        char *colon = strstr(line, ":");
        if (!in || line[ind] == '-' || line[ind] == '#' || !colon || ind % 2 || ind / 2 > 8)
            continue;
        size_t lvl = ind / 2 - 1;
        *colon = 0;
        snprintf(stack[lvl], sizeof stack[lvl], "%s", line + ind);
        char *v = colon + 1;
        while (*v == ' ')
            v++;
        if (!*v)
            continue; /* a mapping: its keys follow */
        size_t vl = strlen(v);
        if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
            v[vl - 1] = 0;
            v++;
        }
        char key[1100] = "";
        for (size_t i = 0; i <= lvl; i++)
            snprintf(key + strlen(key), sizeof key - strlen(key), "%s%s", i ? "." : "", stack[i]);
        if (r->n_cfg == cap) {
            size_t     nc = cap ? 2 * cap : 64;
            struct kv *g = sim_realloc(r->cfg, nc * sizeof *g);
            if (!g) {
                rc = SIM_ENOMEM;
                break;
            }
            r->cfg = g;
            cap = nc;
        }
        struct kv *e = &r->cfg[r->n_cfg];
        e->key = xstrdup(key);
        e->val = xstrdup(v);
        if (!e->key || !e->val) {
            sim_free(e->key);
            sim_free(e->val);
            rc = SIM_ENOMEM;
        } else {
            r->n_cfg++;
        }
    }
    fclose(f);
    return rc;
}

/* Where "LEAF-VALUE" sits in a run name (at its start or after '_'; VALUE runs to the next '_'
 * or the end): *b and *e delimit it. Returns 1 when found, else 0. */
static int find_token(const char *name, const char *leaf, size_t *b, size_t *e)
{
    size_t l = strlen(leaf);
    for (const char *p = name; (p = strstr(p, leaf)) != NULL; p++)
        if ((p == name || p[-1] == '_') && p[l] == '-') {
            *b = (size_t)(p - name);
            *e = *b + l + 1 + strcspn(p + l + 1, "_");
            return 1;
        }
    return 0;
}

static const char *leaf_of(const char *key)
{
    const char *d = strrchr(key, '.');
    return d ? d + 1 : key;
}

/* Is key a numeric sweep axis: numeric in every run's manifest, at least two values, and named
 * in every run name with the manifest's value? */
static int is_axis(const struct exp *x, const char *key)
{
    double first = NAN;
    int    differs = 0;
    size_t seen = 0;
    for (size_t i = 0; i < x->n_runs; i++) {
        const char *v = cfg_get(&x->run[i], key);
        double      d = num(v);
        size_t      b, e;
        if (!x->run[i].n_cfg) /* no manifest (a sweep point that could not run) */
            continue;
        if (!isfinite(d) || !find_token(x->run[i].name, leaf_of(key), &b, &e))
            return 0;
        char   tok[128];
        size_t off = b + strlen(leaf_of(key)) + 1;
        snprintf(tok, sizeof tok, "%.*s", (int)(e - off), x->run[i].name + off);
        if (num(tok) != d)
            return 0;
        if (seen++ == 0)
            first = d;
        else if (d != first)
            differs = 1;
    }
    return differs;
}

/* Remove "LEAF-VALUE" and one '_' beside it from name; VALUE into val. Returns 1, or 0 (name
 * unchanged) when the name has no such token. */
static int strip_token(char *name, const char *leaf, char *val, size_t n)
{
    size_t b, e, l = strlen(leaf);
    if (!*leaf || !find_token(name, leaf, &b, &e))
        return 0;
    snprintf(val, n, "%.*s", (int)(e - b - l - 1), name + b + l + 1);
    if (b > 0) /* drop "_LEAF-VALUE" */
        b--;
    else if (name[e] == '_') /* or "LEAF-VALUE_" */
        e++;
    memmove(name + b, name + e, strlen(name + e) + 1);
    return 1;
}

/* The name a sweep key takes in run names: its last component ("engine.batching": batching),
 * or the one before a last "name" ("policy.name": policy). */
static void name_leaf(const char *key, char *out, size_t n)
{
    const char *l = leaf_of(key);
    if (strcmp(l, "name") || l == key) {
        snprintf(out, n, "%s", l);
        return;
    }
    const char *p = l - 1;
    while (p > key && p[-1] != '.')
        p--;
    snprintf(out, n, "%.*s", (int)(l - 1 - p), p);
}

/* With many series, a categorical sweep key with 2 to 4 values (the fewest) becomes panels:
 * every run name carries it as LEAF-VALUE with the manifest's value. Fills x->pleaf. */
static void choose_panels(struct exp *x)
{
    size_t best = 5;
    x->pleaf[0] = 0;
    for (size_t k = 0; x->n_series > 6 && x->n_runs && k < x->run[0].n_cfg; k++) {
        const char *key = x->run[0].cfg[k].key;
        char        leaf[128], vals[4][64];
        size_t      nv = 0, ok = 1;
        name_leaf(key, leaf, sizeof leaf);
        if (!strcmp(leaf, x->xleaf) || !strcmp(key, "name"))
            continue;
        for (size_t i = 0; ok && i < x->n_runs; i++) {
            const char *v = cfg_get(&x->run[i], key);
            char        name[512], tok[64];
            snprintf(name, sizeof name, "%s", x->run[i].name);
            if (!strip_token(name, leaf, tok, sizeof tok) ||
                (x->run[i].n_cfg && (!v || strcmp(tok, v)))) {
                ok = 0;
                break;
            }
            size_t j = 0;
            while (j < nv && strcmp(vals[j], tok))
                j++;
            if (j == nv && (ok = nv < 4) != 0)
                snprintf(vals[nv++], sizeof vals[0], "%s", tok);
        }
        if (ok && nv >= 2 && nv < best) {
            best = nv;
            snprintf(x->pleaf, sizeof x->pleaf, "%s", leaf);
        }
    }
}

/* Series labels (and panels when x->pleaf is set): each run's name without the x and panel
 * tokens. Returns 0 or SIM_ENOMEM. */
static int label_runs(struct exp *x)
{
    for (size_t s = 0; s < x->n_series; s++)
        sim_free(x->series[s]);
    x->n_series = 0;
    for (size_t i = 0; i < x->n_runs; i++) {
        struct prun *r = &x->run[i];
        char         label[512], tok[64] = "";
        snprintf(label, sizeof label, "%s", r->name);
        if (x->xkey[0] && strip_token(label, x->xleaf, tok, sizeof tok)) {
            r->x = r->n_cfg ? num(cfg_get(r, x->xkey)) : num(tok); /* without a manifest */
            if (!*label)
                snprintf(label, sizeof label, "all runs");
        }
        r->panel = 0;
        if (x->pleaf[0] && strip_token(label, x->pleaf, tok, sizeof tok)) {
            size_t p = 0;
            while (p < x->n_panels && strcmp(x->panel[p], tok))
                p++;
            if (p == x->n_panels && !(x->panel[x->n_panels++] = xstrdup(tok)))
                return SIM_ENOMEM;
            r->panel = (int)p;
            if (!*label)
                snprintf(label, sizeof label, "all runs");
        }
        size_t s = 0;
        while (s < x->n_series && strcmp(x->series[s], label))
            s++;
        if (s == x->n_series && !(x->series[x->n_series++] = xstrdup(label)))
            return SIM_ENOMEM;
        r->series = (int)s;
    }
    return SIM_OK;
}

/* Choose the x axis, the series and the panels (see the file's head). Returns 0 or
 * SIM_ENOMEM. */
static int classify(struct exp *x)
{
    static const char *const prefer[] = {
        "workload.rate",    "workload.rate_scale", "workload.cv", "engine.max_batch",
        "cluster.replicas", "hardware.tp",         NULL,
    };
    x->xkey[0] = 0;
    for (int i = 0; prefer[i] && !x->xkey[0]; i++)
        if (is_axis(x, prefer[i]))
            snprintf(x->xkey, sizeof x->xkey, "%s", prefer[i]);
    for (size_t k = 0; x->n_runs && !x->xkey[0] && k < x->run[0].n_cfg; k++)
        if (is_axis(x, x->run[0].cfg[k].key))
            snprintf(x->xkey, sizeof x->xkey, "%s", x->run[0].cfg[k].key);
    x->xleaf = leaf_of(x->xkey);
    for (size_t i = 0; i < x->n_runs; i++)
        x->run[i].x = NAN;
    x->series = sim_calloc(x->n_runs ? x->n_runs : 1, sizeof *x->series);
    x->panel = sim_calloc(x->n_runs ? x->n_runs : 1, sizeof *x->panel);
    if (!x->series || !x->panel || label_runs(x))
        return SIM_ENOMEM;
    if (!x->xkey[0])
        return SIM_OK;
    choose_panels(x);
    return x->pleaf[0] ? label_runs(x) : SIM_OK;
}

/* "LEAF=VALUE" of panel p, or "" with one panel. */
static const char *panel_name(const struct exp *x, int p, char *b, size_t n)
{
    if (x->n_panels > 1)
        snprintf(b, n, "%s=%s", x->pleaf, x->panel[p]);
    else
        b[0] = 0;
    return b;
}

static void exp_free(struct exp *x)
{
    for (size_t i = 0; i < x->n_runs; i++) {
        for (size_t k = 0; k < x->run[i].n_cfg; k++) {
            sim_free(x->run[i].cfg[k].key);
            sim_free(x->run[i].cfg[k].val);
        }
        sim_free(x->run[i].cfg);
        sim_free(x->run[i].cell);
    }
    for (size_t s = 0; s < x->n_series; s++)
        sim_free(x->series[s]);
    sim_free(x->series);
    for (size_t p = 0; p < x->n_panels; p++)
        sim_free(x->panel[p]);
    sim_free(x->panel);
    sim_free(x->run);
    sim_free(x->head);
    sim_free(x->results);
}

/* Read DIR/results.csv and the runs' manifests. Returns 0, SIM_ENOMEM, SIM_EIO or SIM_EINPUT
 * (no header with a `run` column), with the reason in err. */
static int exp_load(struct exp *x, const char *dir, struct sim_msg *err)
{
    char path[2100];
    memset(x, 0, sizeof *x);
    x->dir = dir;
    snprintf(path, sizeof path, "%s/results.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return sim_msg_set(err, SIM_EIO, "%s: %s", path, strerror(errno));
    size_t cap = 0, len = 0;
    char  *buf = NULL;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            char *g = sim_realloc(buf, cap = 2 * cap + 8192);
            if (!g) {
                sim_free(buf);
                fclose(f);
                return sim_msg_set(err, SIM_ENOMEM, "out of memory");
            }
            buf = g;
        }
        size_t n = fread(buf + len, 1, 4096, f);
        len += n;
        if (n < 4096)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    buf[len] = 0;
    x->results = buf;
    if (bad)
        return sim_msg_set(err, SIM_EIO, "%s: cannot read", path);
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    char *save = NULL, *line = strtok_r(buf, "\n", &save);
    while (line && line[0] == '#') /* a comment line before the header (older results) */
        line = strtok_r(NULL, "\n", &save);
    if (!line)
        return sim_msg_set(err, SIM_EINPUT, "%s: no header row", path);
    size_t maxc = 1;
    for (const char *p = line; *p; p++)
        maxc += *p == ',';
    x->head = sim_calloc(maxc, sizeof *x->head);
    x->run = sim_calloc(lines, sizeof *x->run);
    if (!x->head || !x->run)
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    x->n_cols = csv_split(line, x->head, maxc);
    if (strcmp(x->head[0], "run"))
        return sim_msg_set(err, SIM_EINPUT, "%s: the first column is not `run`", path);
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        if (line[0] == '#' || !line[strspn(line, " \r")])
            continue;
        struct prun *r = &x->run[x->n_runs];
        if (!(r->cell = sim_calloc(x->n_cols, sizeof *r->cell)))
            return sim_msg_set(err, SIM_ENOMEM, "out of memory");
        size_t n = csv_split(line, r->cell, x->n_cols);
        for (size_t i = n; i < x->n_cols; i++)
            r->cell[i] = "";
        r->name = r->cell[0];
        x->n_runs++;
        if (read_manifest(dir, r))
            return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    }
    if (classify(x))
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    return SIM_OK;
}

/* A run's value in results.csv column `col`, NaN when the column or the value is missing. */
static double val(const struct exp *x, const struct prun *r, const char *col)
{
    for (size_t i = 0; i < x->n_cols; i++)
        if (!strcmp(x->head[i], col))
            return num(r->cell[i]);
    return NAN;
}

/* ---- per-run data files ---- */

/* Issue 14: where a run's FILE is: DIR/RUN/FILE, or for a run of several seeds (its manifest's
 * config has `seeds`), the first seed's DIR/RUN/seed-S/FILE (S: the run's `seed`). */
static void run_path(const struct exp *x, const struct prun *r, const char *file, char *path,
                     size_t n)
{
    const char *seed = cfg_get(r, "seed");
    if (cfg_get(r, "seeds") && seed)
        snprintf(path, n, "%s/%s/seed-%s/%s", x->dir, r->name, seed, file);
    else
        snprintf(path, n, "%s/%s/%s", x->dir, r->name, file);
}

/* Values of the named columns of DIR/RUN/FILE. For requests.csv (tl == 0): the finite values of
 * col[0] into a sorted array. For timeline.csv (tl == 1): replica 0's rows (time, batch, KV %).
 * Returns the count (0 when the file or a column is missing); *out owned (sim_free). */
static size_t read_column(const struct exp *x, const struct prun *r, const char *file,
                          const char *const *col, int ncol, double **out)
{
    char path[4096];
    run_path(x, r, file, path, sizeof path);
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char   *line = NULL, *fld[64];
    size_t  cap = 0, n = 0, room = 0;
    int     idx[4] = {-1, -1, -1, -1}, head = 0;
    double *v = NULL;
    while (getline(&line, &cap, f) > 0) {
        if (line[0] == '#')
            continue;
        size_t nf = csv_split(line, fld, 64);
        if (!head) {
            head = 1;
            for (int c = 0; c < ncol; c++)
                for (size_t i = 0; i < nf; i++)
                    if (!strcmp(fld[i], col[c]))
                        idx[c] = (int)i;
            int missing = 0;
            for (int c = 0; c < ncol; c++)
                missing |= idx[c] < 0;
            if (missing)
                break;
            continue;
        }
        double row[4];
        int    okrow = 1;
        for (int c = 0; c < ncol; c++) {
            row[c] = (size_t)idx[c] < nf ? num(fld[idx[c]]) : NAN;
            okrow &= isfinite(row[c]);
        }
        if (!okrow)
            continue;    /* failed requests have no latency */
        if (ncol == 4) { /* timeline: replica 0 only */
            if (row[0] != 0)
                continue;
            memmove(row, row + 1, 3 * sizeof *row);
        }
        int w = ncol == 4 ? 3 : 1;
        if ((n + 1) * (size_t)w > room) {
            size_t  nr = room ? 2 * room : 4096;
            double *g = sim_realloc(v, nr * sizeof *g);
            if (!g)
                break;
            v = g;
            room = nr;
        }
        memcpy(v + n * (size_t)w, row, (size_t)w * sizeof *row);
        n++;
    }
    free(line);
    fclose(f);
    *out = v;
    return n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- figure scripts ---- */

struct fig {
    FILE       *f;
    const char *fmt;
    int         w, h;
    double      legend_w; /* fraction of the width kept for the legend */
    double      top;      /* fraction of the height kept for the title */
};

/* The terminal, the title and the multiplot. */
static void fig_begin(struct fig *g, const char *title)
{
    FILE *f = g->f;
    if (!strcmp(g->fmt, "svg"))
        fprintf(f, "set terminal svg size %d,%d dynamic font 'Sans,11' background rgb 'white'\n",
                g->w, g->h);
    else if (!strcmp(g->fmt, "pdf"))
        fprintf(f, "set terminal pdfcairo size %.2fin,%.2fin font 'Sans,8'\n", g->w / 100.0,
                g->h / 100.0);
    else
        fprintf(f, "set terminal pngcairo size %d,%d font 'Sans,10' background rgb 'white'\n", g->w,
                g->h);
    fprintf(f, "set termoption noenhanced\nset multiplot title ");
    gp_str(f, title);
    fprintf(f, " font ',13'\n");
}

/* Place panel i of a rows x cols grid left of the legend and reset the panel's settings. */
static void panel_at(struct fig *g, int i, int rows, int cols)
{
    double w = (1 - g->legend_w) / cols, h = (1 - g->top) / rows;
    int    r = i / cols, c = i % cols;
    fprintf(g->f,
            "reset\nset origin %.4f,%.4f\nset size %.4f,%.4f\nset grid\nset key off\n"
            "set datafile missing 'NaN'\n",
            c * w, (1 - g->top) - (r + 1) * h, w, h);
}

/* Series s's colour, and past the palette a dash type (lines) or point type (points). */
static void series_style(FILE *f, int s, int points)
{
    if (points)
        fprintf(f, "lc rgb '%s' pt %d", palette[s % N_PALETTE], 4 + s / N_PALETTE * 2);
    else
        fprintf(f, "lc rgb '%s' dt %d", palette[s % N_PALETTE], 1 + s / N_PALETTE * 3);
}

/* The legend strip: one entry per series (its colour), then any extra entries given as
 * gnuplot plot elements. */
static void legend(struct fig *g, const struct exp *x, const char *extra, int numbered, int points)
{
    FILE *f = g->f;
    fprintf(f,
            "reset\nset origin %.4f,0\nset size %.4f,%.4f\nunset border\nunset tics\n"
            "set xrange [0:1]\nset yrange [10:11]\nset key inside left top Left reverse "
            "samplen 2\nset lmargin 0\nset rmargin 0\nplot ",
            1 - g->legend_w, g->legend_w, 1 - g->top);
    for (size_t s = 0; s < x->n_series; s++) {
        char label[600];
        if (numbered)
            snprintf(label, sizeof label, "%zu: %s", s + 1, x->series[s]);
        else
            snprintf(label, sizeof label, "%s", x->series[s]);
        fprintf(f, "%s2 with %s lw 2 ", s ? ", " : "", points ? "linespoints" : "lines");
        series_style(f, (int)s, points);
        fprintf(f, " title ");
        gp_str(f, label);
    }
    if (extra)
        fprintf(f, ", %s", extra);
    fprintf(f, "\n");
}

/* The legend's width for labels of up to n characters (about 7 px a character at 10 pt). */
static double legend_width(const struct exp *x, int numbered, size_t extra_chars)
{
    size_t n = extra_chars;
    for (size_t s = 0; s < x->n_series; s++)
        if (strlen(x->series[s]) + (numbered ? 4 : 0) > n)
            n = strlen(x->series[s]) + (numbered ? 4 : 0);
    double w = (double)(n * 7 + 70) / FIG_W;
    return w < 0.14 ? 0.14 : w > 0.45 ? 0.45 : w;
}

/* Metric panels of the sweep and runs figures: a title, up to two results.csv columns (the
 * second dashed, or hatched), and a factor to the plotted unit. */
struct metric {
    const char *title, *a, *b;
    double      scale;
    int         latency; /* may be drawn on a log scale */
};

static const struct metric metrics[] = {
    {"request throughput (req/s), and goodput", "request_throughput", "request_goodput", 1, 0},
    {"SLO attainment (%)", "slo_attainment", NULL, 100, 0},
    {"throughput @25% (req/s), SSJF's definition", "ssjf_throughput", NULL, 1, 0},
    {"TTFT (s), mean and p99", "mean_ttft_ms", "p99_ttft_ms", 1e-3, 1},
    {"TPOT (ms), mean and p99", "mean_tpot_ms", "p99_tpot_ms", 1, 1},
    {"E2E latency, JCT (s), mean and p99", "mean_e2el_ms", "p99_e2el_ms", 1e-3, 1},
    {"failed requests (% of all)", "failed", NULL, 100, 0},
};
enum { N_METRICS = sizeof metrics / sizeof metrics[0] };

/* The value of metric m's column c (0: a, 1: b) for run r, in the plotted unit. */
static double metric_val(const struct exp *x, const struct prun *r, const struct metric *m, int c)
{
    const char *col = c ? m->b : m->a;
    if (!col)
        return NAN;
    if (!strcmp(col, "failed")) {
        double fl = val(x, r, "failed"), done = val(x, r, "completed");
        return fl + done > 0 ? 100 * fl / (fl + done) : NAN;
    }
    return val(x, r, col) * m->scale;
}

/* Does metric m apply: some finite value (and, for failures and SSJF's throughput, a reason
 * to show it: some failed request; a compat experiment)? */
static int metric_applies(const struct exp *x, const struct metric *m)
{
    if (!strcmp(m->a, "ssjf_throughput") && !x->compat)
        return 0;
    for (size_t i = 0; i < x->n_runs; i++) {
        double v = metric_val(x, &x->run[i], m, 0);
        if (isfinite(v) && (strcmp(m->a, "failed") || v > 0))
            return 1;
    }
    return 0;
}

/* Has metric m a second column with some finite value (goodput without SLOs has none)? */
static int metric_b_applies(const struct exp *x, const struct metric *m)
{
    for (size_t i = 0; m->b && i < x->n_runs; i++)
        if (isfinite(metric_val(x, &x->run[i], m, 1)))
            return 1;
    return 0;
}

/* The panel's title, after `pre` on a line of its own when not empty; ", and goodput" only
 * when there is a goodput. */
static void panel_title(FILE *f, const struct exp *x, const struct metric *m, const char *pre)
{
    char        t[200];
    const char *cut = strstr(m->title, ", and goodput");
    snprintf(t, sizeof t, "%s", m->title);
    if (cut && !metric_b_applies(x, m))
        t[cut - m->title] = 0;
    fprintf(f, "set title ");
    if (*pre) {
        gp_str(f, pre);
        fprintf(f, ".\"\\n\".");
    }
    gp_str(f, t);
    fputc('\n', f);
}

static void yscale(FILE *f, const struct exp *x, const struct metric *m)
{
    double lo = INFINITY, hi = 0;
    for (size_t i = 0; i < x->n_runs; i++)
        for (int c = 0; c < 2; c++) {
            double v = metric_val(x, &x->run[i], m, c);
            if (isfinite(v) && v > 0) {
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        }
    if (m->latency && hi > 0 && hi / lo > 50)
        fprintf(f, "set logscale y\n");
    else if (!strcmp(m->a, "slo_attainment") || !strcmp(m->a, "failed"))
        fprintf(f, "set yrange [0:105]\n");
    else
        fprintf(f, "set yrange [0:*]\n");
}

static int cmp_x(const void *a, const void *b)
{
    const struct prun *p = *(const struct prun *const *)a, *q = *(const struct prun *const *)b;
    return cmp_double(&p->x, &q->x);
}

/* 1, 2 or 5 times a power of ten, at least raw. */
static double nice_step(double raw)
{
    double mag = pow(10, floor(log10(raw))), r = raw / mag;
    return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
}

static int grid_cols(int n) { return n <= 1 ? 1 : n <= 4 ? 2 : n <= 9 ? 3 : 4; }

/* sweep: metrics against the x axis, one line per series. */
static int fig_sweep(struct fig *g, const struct exp *x)
{
    const struct metric *use[N_METRICS];
    int                  n = 0;
    for (int m = 0; m < N_METRICS; m++)
        if (metric_applies(x, &metrics[m]))
            use[n++] = &metrics[m];
    if (!x->xkey[0] || !n)
        return 0;
    const struct prun **by = sim_calloc(x->n_runs, sizeof *by);
    if (!by)
        return SIM_ENOMEM;
    for (size_t i = 0; i < x->n_runs; i++)
        by[i] = &x->run[i];
    qsort(by, x->n_runs, sizeof *by, cmp_x);
    /* x values in a geometric progression (2, 8, 32: the usual max_batch or replicas sweep) are
     * drawn on a log scale, so that they are evenly spaced. */
    int geometric = 1, nd = 0;
    for (size_t i = 0; i < x->n_runs; i++) {
        if (i && by[i]->x == by[i - 1]->x)
            continue;
        if (!(by[i]->x > 0))
            geometric = 0;
        if (++nd >= 3) {
            size_t a = i, b; /* the last three distinct values */
            double r1, r2;
            for (b = a; b > 0 && by[b - 1]->x == by[a]->x;)
                b--;
            b--;
            size_t c = b;
            while (c > 0 && by[c - 1]->x == by[b]->x)
                c--;
            c--;
            r1 = by[a]->x / by[b]->x;
            r2 = by[b]->x / by[c]->x;
            if (r1 < 1.5 || fabs(r1 / r2 - 1) > 0.1)
                geometric = 0;
        }
    }
    geometric &= nd >= 3;
    /* One panel per metric; with panels of a key, a row per metric and a column per value. */
    int np = x->n_panels > 1 ? (int)x->n_panels : 1;
    int cols = np > 1 ? np : n <= 2 ? n : n == 4 ? 2 : 3, rows = np > 1 ? n : (n + cols - 1) / cols;
    g->h = 80 + rows * (np > 1 ? 300 : 330);
    g->top = 50.0 / g->h;
    g->legend_w = legend_width(x, 0, 17);
    char title[400];
    snprintf(title, sizeof title, "%s: metrics against %s", x->dir, x->xkey);
    fig_begin(g, title);
    FILE *f = g->f;
    char *has = sim_calloc(x->n_series * (size_t)np, 1); /* which (series, panel) have runs */
    if (!has) {
        sim_free(by);
        return SIM_ENOMEM;
    }
    for (size_t s = 0; s < x->n_series; s++) /* a datablock per series and panel: x, a b ... */
        for (int p = 0; p < np; p++) {
            fprintf(f, "$s%zu_%d << EOD\n", s, p);
            for (size_t i = 0; i < x->n_runs; i++) {
                if (by[i]->series != (int)s || (np > 1 && by[i]->panel != p))
                    continue;
                has[s * (size_t)np + (size_t)p] = 1;
                gp_num(f, by[i]->x);
                for (int m = 0; m < n; m++)
                    for (int c = 0; c < 2; c++)
                        gp_num(f, metric_val(x, by[i], use[m], c));
                fputc('\n', f);
            }
            fprintf(f, "EOD\n");
        }
    sim_free(by);
    for (int m = 0; m < n; m++)
        for (int p = 0; p < np; p++) {
            char pn[200];
            panel_at(g, np > 1 ? m * np + p : m, rows, cols);
            panel_title(f, x, use[m], panel_name(x, p, pn, sizeof pn));
            fprintf(f, "set xlabel ");
            gp_str(f, x->xkey);
            fprintf(f, "\n%s", geometric ? "set logscale x 2\n" : "");
            yscale(f, x, use[m]);
            int k = 0;
            for (size_t s = 0; s < x->n_series; s++) {
                if (!has[s * (size_t)np + (size_t)p])
                    continue;
                fprintf(f, "%s$s%zu_%d using 1:%d with linespoints lw 2 ", k++ ? ", " : "plot ", s,
                        p, 2 + 2 * m);
                series_style(f, (int)s, 1);
                if (metric_b_applies(x, use[m])) {
                    fprintf(f, ", $s%zu_%d using 1:%d with linespoints lw 2 dt 2 ", s, p,
                            3 + 2 * m);
                    series_style(f, (int)s, 1);
                }
            }
            fprintf(f, "\n");
        }
    sim_free(has);
    int gp = metric_b_applies(x, &metrics[0]); /* goodput: dashed like the p99s */
    legend(g, x,
           gp ? "2 with lines lw 2 lc rgb 'black' title 'mean (throughput)', 2 with lines lw 2 "
                "dt 2 lc rgb 'black' title 'p99 (goodput)'"
              : "2 with lines lw 2 lc rgb 'black' title 'mean', 2 with lines lw 2 dt 2 lc rgb "
                "'black' title 'p99'",
           0, 1);
    fprintf(f, "unset multiplot\n");
    return 1;
}

/* runs: the metrics as bars from zero, one bar per run (b hatched beside a). */
static int fig_runs(struct fig *g, const struct exp *x)
{
    const struct metric *use[N_METRICS];
    int                  n = 0;
    for (int m = 0; m < N_METRICS; m++)
        if (metric_applies(x, &metrics[m]))
            use[n++] = &metrics[m];
    if (x->xkey[0] || !n || !x->n_runs)
        return 0;
    int cols = n <= 2 ? n : n == 4 ? 2 : 3, rows = (n + cols - 1) / cols;
    g->h = 80 + rows * 330;
    g->top = 50.0 / g->h;
    g->legend_w = legend_width(x, 1, 16);
    char title[400];
    snprintf(title, sizeof title, "%s: runs side by side", x->dir);
    fig_begin(g, title);
    FILE *f = g->f;
    fprintf(f, "$r << EOD\n");
    for (size_t i = 0; i < x->n_runs; i++) {
        unsigned rgb = (unsigned)strtoul(palette[x->run[i].series % N_PALETTE] + 1, NULL, 16);
        fprintf(f, "%zu %u", i + 1, rgb);
        for (int m = 0; m < n; m++)
            for (int c = 0; c < 2; c++)
                gp_num(f, metric_val(x, &x->run[i], use[m], c));
        fputc('\n', f);
    }
    fprintf(f, "EOD\n");
    for (int m = 0; m < n; m++) {
        panel_at(g, m, rows, cols);
        panel_title(f, x, use[m], "");
        fprintf(f,
                "set xlabel 'run (see the legend)'\nset xrange [0.4:%zu.6]\nset xtics 1\n"
                "set yrange [0:*]\nset style fill solid 0.85 border rgb 'black'\n",
                x->n_runs);
        if (metric_b_applies(x, use[m]))
            fprintf(f,
                    "set boxwidth 0.38\nplot $r using ($1-0.2):%d:2 with boxes lc rgb variable, "
                    "$r using ($1+0.2):%d:2 with boxes fs pattern 2 border -1 "
                    "lc rgb variable\n",
                    3 + 2 * m, 4 + 2 * m);
        else
            fprintf(f, "set boxwidth 0.6\nplot $r using 1:%d:2 with boxes lc rgb variable\n",
                    3 + 2 * m);
    }
    int gp = metric_b_applies(x, &metrics[0]); /* goodput: hatched like the p99s */
    legend(g, x,
           gp ? "-1 with boxes fs solid 0.85 lc rgb 'grey' title 'mean (throughput)', -1 with "
                "boxes fs pattern 2 border -1 lc rgb 'grey' title 'p99 (goodput)'"
              : "-1 with boxes fs solid 0.85 lc rgb 'grey' title 'mean', -1 with boxes fs "
                "pattern 2 border -1 lc rgb 'grey' title 'p99'",
           1, 0);
    fprintf(f, "unset multiplot\n");
    return 1;
}

/* Distinct x values (sorted) shown as panels: all of them up to `max`, else `max` evenly spread.
 * Without an x axis, one NaN (every run in one panel). Returns the count. */
static int pick_x(const struct exp *x, double *out, int max)
{
    if (!x->xkey[0]) {
        out[0] = NAN;
        return 1;
    }
    double *v = sim_calloc(x->n_runs, sizeof *v);
    if (!v)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < x->n_runs; i++)
        v[n++] = x->run[i].x;
    qsort(v, n, sizeof *v, cmp_double);
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        if (!d || v[i] != v[d - 1])
            v[d++] = v[i];
    int k = (int)(d < (size_t)max ? d : (size_t)max);
    for (int i = 0; i < k; i++)
        out[i] = v[k > 1 ? (size_t)((double)i * (double)(d - 1) / (k - 1) + 0.5) : 0];
    sim_free(v);
    return k;
}

/* latency_cdf: per metric (rows) and x value (columns), one CDF per series from quantiles. */
static int fig_cdf(struct fig *g, const struct exp *x)
{
    static const char *const native[][2] = {{"ttft_s", "TTFT (s)"},
                                            {"e2el_s", "E2E latency, JCT (s)"}};
    static const char *const compat[][2] = {{"jct_s", "JCT (s)"}};
    const char *const(*mets)[2] = x->compat ? compat : native;
    int    nm = x->compat ? 1 : 2;
    double xs[MAX_CDF_COLS];
    int    nx = pick_x(x, xs, MAX_CDF_COLS);
    FILE  *f = g->f;
    int    any = 0;
    /* Datablocks first ($cM_R: metric M of run R), then the panels that use them. */
    char  *drawn = sim_calloc(x->n_runs * 2 + 1, 1);
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {0, 0};
    if (!drawn || !nx) {
        sim_free(drawn);
        return nx ? SIM_ENOMEM : 0;
    }
    int np = x->n_panels > 1 ? (int)x->n_panels : 1; /* a row per metric and panel */
    g->h = 80 + nm * np * (np > 1 ? 280 : 330);
    g->top = 50.0 / g->h;
    g->legend_w = legend_width(x, 0, 0);
    char title[400];
    snprintf(title, sizeof title, "%s: latency CDFs%s", x->dir,
             x->xkey[0] ? " (one panel per x value)" : "");
    for (int m = 0; m < nm; m++)
        for (size_t i = 0; i < x->n_runs; i++) {
            const struct prun *r = &x->run[i];
            int                show = !x->xkey[0];
            for (int c = 0; c < nx && !show; c++)
                show = r->x == xs[c];
            if (!show)
                continue;
            double *v;
            size_t  n = read_column(x, r, "requests.csv", &mets[m][0], 1, &v);
            if (!n) {
                sim_free(v);
                continue;
            }
            qsort(v, n, sizeof *v, cmp_double);
            if (!any++)
                fig_begin(g, title);
            lo[m] = v[0] < lo[m] ? v[0] : lo[m];
            hi[m] = v[n - 1] > hi[m] ? v[n - 1] : hi[m];
            fprintf(f, "$c%d_%zu << EOD\n", m, i);
            if (n <= 2 * CDF_POINTS) {
                for (size_t k = 0; k < n; k++)
                    fprintf(f, "%.9g %.9g\n", v[k], (double)(k + 1) / (double)n);
            } else {
                for (int k = 0; k <= CDF_POINTS; k++) { /* linear interpolation, numpy's */
                    double pos = (double)k / CDF_POINTS * (double)(n - 1);
                    size_t b = (size_t)pos;
                    double fr = pos - (double)b, q = b + 1 < n ? v[b + 1] : v[b];
                    fprintf(f, "%.9g %.9g\n", v[b] + fr * (q - v[b]), (double)k / CDF_POINTS);
                }
            }
            fprintf(f, "EOD\n");
            drawn[m * x->n_runs + i] = 1;
            sim_free(v);
        }
    if (!any) {
        sim_free(drawn);
        return 0;
    }
    for (int row = 0; row < nm * np; row++)
        for (int c = 0; c < nx; c++) {
            int  m = row / np, p = row % np;
            char t[300], pn[200];
            panel_at(g, row * nx + c, nm * np, nx);
            panel_name(x, p, pn, sizeof pn);
            if (x->xkey[0])
                snprintf(t, sizeof t, "%s = %g%s%s", x->xleaf, xs[c], *pn ? ", " : "", pn);
            else
                snprintf(t, sizeof t, "%s", "every run");
            fprintf(f, "set title ");
            gp_str(f, t);
            fprintf(f, "\nset xlabel ");
            gp_str(f, mets[m][1]);
            fprintf(f, "\nset ylabel 'fraction of requests'\nset yrange [0:1]\n");
            if (lo[m] > 0 && hi[m] / lo[m] > 20) /* the same range in every panel of a row */
                fprintf(f, "set logscale x\nset xrange [%.9g:%.9g]\n", lo[m], hi[m]);
            else
                fprintf(f, "set xrange [0:%.9g]\nset xtics %.9g\n", hi[m] > 0 ? hi[m] : 1,
                        nice_step((hi[m] > 0 ? hi[m] : 1) / (nx >= 3 ? 4 : 6)));
            int k = 0;
            for (size_t i = 0; i < x->n_runs; i++) {
                const struct prun *r = &x->run[i];
                if (!drawn[m * x->n_runs + i] || (x->xkey[0] && r->x != xs[c]) ||
                    (np > 1 && r->panel != p))
                    continue;
                fprintf(f, "%s$c%d_%zu using 1:2 with lines lw 2 ", k++ ? ", " : "plot ", m, i);
                series_style(f, r->series, 0);
            }
            if (!k) /* nothing in this panel: an empty frame says so */
                fprintf(f, "set label 'no requests' at graph 0.5,0.5 center\nplot 2 notitle\n");
            else
                fprintf(f, "\n");
        }
    legend(g, x, NULL, 0, 0);
    fprintf(f, "unset multiplot\n");
    sim_free(drawn);
    return 1;
}

/* timeline: one panel per run (at most MAX_TL_PANELS, evenly spread): batch size and KV use. */
static int fig_timeline(struct fig *g, const struct exp *x)
{
    static const char *const cols[] = {"replica", "time_s", "batch_size", "kv_cache_usage_perc"};
    size_t                  *pick = sim_calloc(x->n_runs + 1, sizeof *pick), np = 0, with = 0;
    if (!pick)
        return SIM_ENOMEM;
    for (size_t i = 0; i < x->n_runs; i++) { /* runs with a timeline */
        char        path[4096];
        struct stat st;
        run_path(x, &x->run[i], "timeline.csv", path, sizeof path);
        if (!stat(path, &st) && st.st_size > 0)
            pick[with++] = i;
    }
    if (!with) {
        sim_free(pick);
        return 0;
    }
    np = with < MAX_TL_PANELS ? with : MAX_TL_PANELS;
    for (size_t k = 0; k < np; k++) /* evenly spread: indices into pick[] */
        pick[k] =
            pick[np > 1 ? (size_t)((double)k * (double)(with - 1) / (double)(np - 1) + 0.5) : 0];
    int cols_n = grid_cols((int)np), rows = ((int)np + cols_n - 1) / cols_n;
    g->h = 80 + rows * 260;
    g->top = 50.0 / g->h;
    g->legend_w = legend_width(x, 0, 31);
    char title[400];
    if (np < with)
        snprintf(title, sizeof title, "%s: replica 0 over time (%zu of %zu runs)", x->dir, np,
                 with);
    else
        snprintf(title, sizeof title, "%s: replica 0 over time", x->dir);
    FILE *f = g->f;
    int   drawn = 0;
    for (size_t k = 0; k < np; k++) {
        const struct prun *r = &x->run[pick[k]];
        double            *v;
        size_t             n = read_column(x, r, "timeline.csv", cols, 4, &v);
        if (!drawn++)
            fig_begin(g, title);
        fprintf(f, "$t%zu << EOD\n", k);
        double tmax = n ? v[3 * (n - 1)] : 0;
        size_t step = (n + TL_POINTS - 1) / TL_POINTS;
        for (size_t b = 0; step && b < n; b += step) { /* the maximum of each bucket */
            double bat = 0, kv = 0;
            for (size_t j = b; j < b + step && j < n; j++) {
                bat = v[3 * j + 1] > bat ? v[3 * j + 1] : bat;
                kv = v[3 * j + 2] > kv ? v[3 * j + 2] : kv;
            }
            fprintf(f, "%.9g %.9g %.9g\n", v[3 * b], bat, kv);
        }
        fprintf(f, "EOD\n");
        sim_free(v);
        panel_at(g, (int)k, rows, cols_n);
        /* The title fits the panel: about 7 px a character at the panel's width. */
        int  fit = (int)((1 - g->legend_w) / cols_n * FIG_W / 7) - 4;
        char t[300];
        if ((int)strlen(r->name) > fit && fit > 8)
            snprintf(t, sizeof t, "%.*s...", fit - 3, r->name);
        else
            snprintf(t, sizeof t, "%s", r->name);
        fprintf(f, "set title ");
        gp_str(f, t);
        fprintf(f, " font ',9'\nset xlabel 'simulated time (s)'\nset ylabel 'batch'\n"
                   "set y2label 'KV %%'\nset yrange [0:*]\nset y2range [0:100]\n"
                   "set ytics nomirror\nset y2tics 0,25,100\n");
        if (tmax > 0) /* at most about 4 labels, so that they do not run together */
            fprintf(f, "set xtics 0,%.9g\n", nice_step(tmax / (cols_n >= 4 ? 2.5 : 4)));
        if (n) {
            fprintf(f,
                    "plot $t%zu using 1:3 axes x1y2 with steps lw 1 lc rgb '#999999', "
                    "$t%zu using 1:2 with steps lw 1.5 ",
                    k, k);
            series_style(f, r->series, 0);
            fprintf(f, "\n");
        } else {
            fprintf(f, "set label 'no rows for replica 0' at graph 0.5,0.5 center\n"
                       "set xrange [0:1]\nset yrange [0:1]\nplot 2 notitle\n");
        }
    }
    sim_free(pick);
    legend(g, x, "2 with lines lw 1 lc rgb '#999999' title 'KV cache used (%, right axis)'", 0, 0);
    fprintf(f, "unset multiplot\n");
    return 1;
}

/* ---- running gnuplot ---- */

static int on_path(const char *prog, char *out, size_t n)
{
    const char *path = getenv("PATH");
    if (!path)
        return 0;
    while (*path) {
        const char *end = strchr(path, ':');
        size_t      len = end ? (size_t)(end - path) : strlen(path);
        if (snprintf(out, n, "%.*s/%s", (int)len, path, prog) < (int)n && access(out, X_OK) == 0)
            return 1;
        path += len + (end != NULL);
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: lensim plot DIR [--format png|svg|pdf[,...]]\n\n"
               "Draw the figures of the experiment whose results are in DIR (DIR/results.csv\n"
               "and the run folders of `lensim run`) into DIR/figures/NAME.FMT:\n"
               "  sweep        metrics against the swept numeric key (rate, rate_scale, cv,\n"
               "               max_batch, replicas, tp, ...), one line per other combination\n"
               "               (with more than 6, a key of 2 to 4 values becomes panels)\n"
               "  runs         the same metrics as bars, when no numeric key was swept\n"
               "  latency_cdf  TTFT and E2E latency CDFs, a panel per x value (at most 4)\n"
               "  timeline     batch size and KV-cache use on replica 0, a panel per run\n"
               "Goodput and SLO attainment are drawn when SLOs are set, p99 beside the means,\n"
               "failed requests when there are any. A series keeps its colour in every figure.\n\n"
               "  --format F   png (default), svg or pdf, or several: png,svg (both = png,svg)\n"
               "With LENSIM_PLOT_KEEP set, each figure's gnuplot script (data inline) is kept\n"
               "and its path printed on stderr: edit it, then gnuplot SCRIPT > FIGURE.\n\n"
               "Needs gnuplot. exit status: 0 done, 1 gnuplot failed, 2 bad usage or no\n"
               "results in DIR, 3 gnuplot not installed or a figure could not be written\n");
}

/* Draw the script `gp_path` into `out`: gnuplot writes the figure to a pipe and lensim writes it
 * through an atomic file, so that the figure appears only when gnuplot succeeded, drew something
 * and every byte reached the disk; otherwise no file of that name is left. gnuplot's stderr goes
 * to `errfd`. Returns CLI_EXIT_OK, CLI_EXIT_FAILED or CLI_EXIT_IO, having said why on stderr. */
static int render(const char *gp, const char *gp_path, int errfd, const char *out)
{
    struct sim_afile a;
    struct sim_msg   err;
    int              fd[2];
    if (sim_afile_open(&a, out, &err)) {
        fprintf(stderr, "lensim plot: %s\n", err.text);
        return CLI_EXIT_IO;
    }
    pid_t pid = -1;
    if (pipe(fd) == 0 && (pid = fork()) < 0) {
        close(fd[0]);
        close(fd[1]);
    }
    if (pid < 0) {
        fprintf(stderr, "lensim plot: cannot start gnuplot: %s\n", strerror(errno));
        sim_afile_discard(&a);
        remove(out);
        return CLI_EXIT_FAILED;
    }
    if (pid == 0) {
        close(fd[0]);
        if (dup2(fd[1], STDOUT_FILENO) >= 0 && dup2(errfd, STDERR_FILENO) >= 0) {
            close(fd[1]);
            execl(gp, "gnuplot", gp_path, (char *)NULL);
        }
        _exit(127);
    }
    close(fd[1]);
    char    buf[65536];
    size_t  total = 0;
    ssize_t n;
    /* Read to the end even after a failed write (commit reports it), so gnuplot never blocks. */
    while ((n = read(fd[0], buf, sizeof buf)) != 0)
        if (n > 0) {
            sim_afile_write(&a, buf, (size_t)n);
            total += (size_t)n;
        } else if (errno != EINTR) {
            break;
        }
    close(fd[0]);
    int st = -1; /* not "exited 0" should waitpid fail */
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    int status = CLI_EXIT_OK;
    if (!WIFEXITED(st) || WEXITSTATUS(st)) {
        fprintf(stderr, "lensim plot: gnuplot failed on %s (status %d)\n", out,
                WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        status = CLI_EXIT_FAILED;
    } else if (!total) {
        fprintf(stderr, "lensim plot: gnuplot drew nothing for %s\n", out);
        status = CLI_EXIT_FAILED;
    } else if (sim_afile_commit(&a, &err)) {
        fprintf(stderr, "lensim plot: %s\n", err.text);
        status = CLI_EXIT_IO;
    }
    if (status) { /* no figure of that name: an earlier one would not match the results */
        sim_afile_discard(&a);
        remove(out);
    }
    return status;
}

/* Pass on what gnuplot printed on stderr (in errfd), each line prefixed by the figure's name. */
static void relay(int errfd, const char *name)
{
    char  line[1024];
    FILE *f = fdopen(dup(errfd), "r");
    if (!f)
        return;
    rewind(f);
    while (fgets(line, sizeof line, f))
        if (line[strspn(line, " \n")])
            fprintf(stderr, "lensim plot: %s: gnuplot: %s%s", name, line,
                    strchr(line, '\n') ? "" : "\n");
    fclose(f);
}

enum { N_FIGS = 4 };
typedef int (*fig_fn)(struct fig *g, const struct exp *x);
static const struct {
    const char *name;
    fig_fn      fn;
} figs[N_FIGS] = {
    {"sweep", fig_sweep},
    {"runs", fig_runs},
    {"latency_cdf", fig_cdf},
    {"timeline", fig_timeline},
};
/* Names of earlier lensim versions' figures: removed, they no longer follow the results. */
static const char *const old_figs[] = {"rate_sweep", "ssjf", NULL};
static const char *const all_fmts[] = {"png", "svg", "pdf", NULL};

static void remove_figure(const char *fig, const char *name)
{
    for (int k = 0; all_fmts[k]; k++) {
        char out[2300];
        snprintf(out, sizeof out, "%s/%s.%s", fig, name, all_fmts[k]);
        remove(out);
    }
}

/* Write figure i of x in format fmt, if it applies. Returns CLI_EXIT_OK (also when it does
 * not apply: *drawn says), CLI_EXIT_FAILED or CLI_EXIT_IO. */
static int draw(const char *gp, const char *fig, const struct exp *x, int i, const char *fmt,
                int *drawn)
{
    const char *td = getenv("TMPDIR");
    char        tmpl[1100], etmpl[1100];
    if (!td || !*td || strlen(td) > 1000)
        td = "/tmp";
    snprintf(tmpl, sizeof tmpl, "%s/lensim-plot-XXXXXX", td);
    snprintf(etmpl, sizeof etmpl, "%s/lensim-plot-err-XXXXXX", td);
    int sfd = mkstemp(tmpl), efd = sfd >= 0 ? mkstemp(etmpl) : -1;
    if (sfd < 0 || efd < 0) {
        fprintf(stderr, "lensim plot: cannot create a temporary file: %s\n", strerror(errno));
        if (sfd >= 0) {
            close(sfd);
            unlink(tmpl);
        }
        return CLI_EXIT_IO;
    }
    unlink(etmpl);
    FILE      *f = fdopen(sfd, "w");
    struct fig g = {.f = f, .fmt = fmt, .w = FIG_W, .h = 600};
    int        rc = f ? figs[i].fn(&g, x) : SIM_ENOMEM;
    int        status = CLI_EXIT_OK;
    *drawn = rc > 0;
    if (f && fclose(f)) /* fclose closes sfd */
        rc = SIM_EIO;
    else if (!f)
        close(sfd);
    if (rc < 0) {
        fprintf(stderr, "lensim plot: %s: %s\n", figs[i].name, sim_strerror(rc));
        status = rc == SIM_EIO ? CLI_EXIT_IO : CLI_EXIT_FAILED;
        *drawn = 0;
    } else if (rc > 0) {
        char out[2300];
        snprintf(out, sizeof out, "%s/%s.%s", fig, figs[i].name, fmt);
        status = render(gp, tmpl, efd, out);
        relay(efd, figs[i].name);
        if (!status)
            printf("%s\n", out);
    }
    if (rc > 0 && getenv("LENSIM_PLOT_KEEP")) /* for whoever changes the figures */
        fprintf(stderr, "lensim plot: %s script kept in %s\n", figs[i].name, tmpl);
    else
        unlink(tmpl);
    close(efd);
    return status;
}

/* Does the first run with a requests.csv have SSJF's per-job rows (jct_s)? */
static int is_compat(const struct exp *x)
{
    static const char *const jct[] = {"jct_s"};
    for (size_t i = 0; i < x->n_runs; i++) {
        char        path[4096];
        struct stat st;
        run_path(x, &x->run[i], "requests.csv", path, sizeof path);
        if (stat(path, &st))
            continue;
        double *v;
        size_t  n = read_column(x, &x->run[i], "requests.csv", jct, 1, &v);
        sim_free(v);
        return n > 0;
    }
    return 0;
}

int plot_cmd(int argc, char **argv)
{
    const char *dir = NULL, *fmt = NULL;
    char        esc[256];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            if (fmt) { /* the later one would silently win: a list says both */
                fprintf(stderr, "lensim plot: --format given twice (for several: png,svg)\n");
                return CLI_EXIT_USAGE;
            }
            fmt = argv[++i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "lensim plot: unknown or incomplete option '%s'\n",
                    sim_escape(argv[i], esc, sizeof esc));
            return CLI_EXIT_USAGE;
        } else if (!dir) {
            dir = argv[i];
        } else {
            fprintf(stderr, "lensim plot: one results directory at a time ('%s')\n",
                    sim_escape(argv[i], esc, sizeof esc));
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (!fmt)
        fmt = "png";
    if (!dir) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    /* --format: a comma-separated list of png, svg, pdf (both = png,svg), each once. */
    const char *fmts[4] = {NULL};
    int         nf = 0;
    char        fbuf[64];
    if (!strcmp(fmt, "both"))
        fmt = "png,svg";
    snprintf(fbuf, sizeof fbuf, "%s", fmt);
    for (char *save = NULL, *t = strtok_r(fbuf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int k = 0;
        while (all_fmts[k] && strcmp(all_fmts[k], t))
            k++;
        int dup = 0;
        for (int j = 0; j < nf; j++)
            dup |= fmts[j] == all_fmts[k];
        if (!all_fmts[k] || dup || nf == 3) {
            nf = 0;
            break;
        }
        fmts[nf++] = all_fmts[k];
    }
    if (!nf || strlen(fmt) >= sizeof fbuf) {
        fprintf(stderr, "lensim plot: --format must be png, svg or pdf, or a list of them "
                        "(png,svg)\n");
        return CLI_EXIT_USAGE;
    }
    /* A file where the directory belongs, or a directory where results.csv belongs: invalid
     * input (2), as from every command, not an input/output error. */
    char        results[2048];
    struct stat st;
    snprintf(results, sizeof results, "%s/results.csv", dir);
    if ((!stat(dir, &st) && !S_ISDIR(st.st_mode)) || (!stat(results, &st) && S_ISDIR(st.st_mode))) {
        int d = !stat(dir, &st) && !S_ISDIR(st.st_mode);
        fprintf(stderr, "lensim plot: %s: %s\n", sim_escape(d ? dir : results, esc, sizeof esc),
                d ? "not a directory (give the folder `lensim run` wrote)" : "is a directory");
        return CLI_EXIT_USAGE;
    }
    if (access(results, R_OK)) {
        int e = errno;
        fprintf(stderr, "lensim plot: %s: %s (run `lensim run` first)\n", results, strerror(e));
        return cli_exit_status(sim_err_of_errno(e));
    }
    char gp[2048];
    if (!on_path("gnuplot", gp, sizeof gp)) {
        fprintf(stderr,
                "lensim plot: gnuplot is not installed. On Debian or Ubuntu:\n"
                "    sudo apt-get install gnuplot-nox\n"
                "(the results in %s are complete without it)\n",
                dir);
        return CLI_EXIT_IO;
    }
    struct exp     x;
    struct sim_msg err;
    int            rc = exp_load(&x, dir, &err);
    if (rc) {
        fprintf(stderr, "lensim plot: %s\n", err.text);
        exp_free(&x);
        return cli_exit_status(rc);
    }
    x.compat = is_compat(&x);
    char fig[2048];
    snprintf(fig, sizeof fig, "%s/figures", dir);
    if (run_mkdirs(fig, &err)) {
        fprintf(stderr, "lensim plot: %s\n", err.text);
        exp_free(&x);
        return CLI_EXIT_IO;
    }
    for (int k = 0; old_figs[k]; k++)
        remove_figure(fig, old_figs[k]);
    int status = CLI_EXIT_OK, any = 0;
    for (int i = 0; i < N_FIGS && status != CLI_EXIT_IO; i++) { /* a full disk stops it */
        int drawn = 0;
        for (int k = 0; k < nf && status != CLI_EXIT_IO; k++) {
            int s = draw(gp, fig, &x, i, fmts[k], &drawn);
            if (s && (status == CLI_EXIT_OK || s == CLI_EXIT_IO))
                status = s;
            if (!drawn)
                break;
        }
        if (!drawn) /* does not apply: no figure of that name may stay */
            remove_figure(fig, figs[i].name);
        any |= drawn;
    }
    if (!any && status == CLI_EXIT_OK)
        fprintf(stderr, "lensim plot: %s: no run with results, nothing to draw\n", results);
    exp_free(&x);
    return status;
}
