/* pred.c: length predictors (see pred.h). */
#include "pred.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "alloc.h"
#include "rng.h"

const struct sim_choice pred_kind_choices[] = {
    {"oracle", PRED_ORACLE, "the true output length (and its bucket)"},
    {"noisy", PRED_NOISY,
     "the true length times exp(N(0, sigma^2)), rounded into [1, max_seq_len]"},
    {"confusion", PRED_CONFUSION,
     "a bucket classifier: the bucket is drawn from a confusion-matrix row (path)"},
    {"replay", PRED_REPLAY, "predictions recorded per request id, replayed from a file (path)"},
    {NULL, 0, NULL},
};

/* Read a count written as digits at *q (after blanks), at most max: advance *q past it and
 * return 0, or return -1 (no digits, a sign, or above max). strtoul would take "-1" and wrap it. */
static int read_count(char **q, uint64_t max, uint64_t *v)
{
    char  *s = *q + strspn(*q, " \t");
    char   digits[24];
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n >= sizeof digits)
        return -1;
    memcpy(digits, s, n);
    digits[n] = 0;
    if (sim_parse_u64(digits, max, v))
        return -1;
    *q = s + n;
    return 0;
}

int pred_edges_parse(const char *s, uint32_t edges[PRED_MAX_BUCKETS], uint32_t *n,
                     struct sim_msg *err)
{
    uint64_t prev = 0;
    *n = 0;
    while (*s) {
        size_t   len = strcspn(s, ",");
        char     tok[24];
        uint64_t v;
        if (len >= sizeof tok)
            len = sizeof tok - 1; /* too many characters for a count: refused below */
        memcpy(tok, s, len);
        tok[len] = 0;
        if (sim_parse_u64(tok, UINT32_MAX, &v) || v <= prev || (s[len] && s[len] != ','))
            return sim_msg_set(err, SIM_ECONFIG,
                               "expected increasing token counts, e.g. [141, 503, 2048]");
        if (*n == PRED_MAX_BUCKETS)
            return sim_msg_set(err, SIM_ECONFIG, "at most %d buckets", PRED_MAX_BUCKETS);
        edges[(*n)++] = (uint32_t)v;
        prev = v;
        s += len;
        if (*s)
            s++;
    }
    return SIM_OK;
}

struct replay_ent {
    uint64_t id;
    uint32_t tok;
};

struct pred {
    enum pred_kind     kind;
    double             cost_s;
    double             sigma;
    uint32_t           max_len;
    uint32_t           n;                      /* buckets */
    uint32_t           edge[PRED_MAX_BUCKETS]; /* upper edges, increasing */
    double            *cdf;                    /* confusion: n x n row CDFs */
    struct replay_ent *rep;                    /* replay: sorted by id */
    size_t             n_rep;
    rng_t             *rng;
};

static void equal_edges(pred_t *p, uint32_t n)
{
    p->n = n;
    for (uint32_t i = 0; i < n; i++)
        p->edge[i] = (uint32_t)(((uint64_t)p->max_len * (i + 1)) / n);
}

/* Confusion-matrix file: '#' comments; a line "edges: e1 e2 ... en" (upper edges, increasing);
 * then n rows of n non-negative weights (counts or probabilities; each row is normalised). */
static int load_matrix(pred_t *p, const char *path, struct sim_msg *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return sim_msg_set(err, SIM_EIO, "%s: %s", path, strerror(errno));
    char   line[4096];
    size_t lineno = 0, row = 0;
    int    rc = SIM_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '#' || *s == '\n' || *s == '\r' || !*s)
            continue;
        if (!strncmp(s, "edges:", 6)) {
            if (p->n) {
                rc = sim_msg_set(err, SIM_EINPUT, "%s:%zu: edges given twice", path, lineno);
                goto out;
            }
            char *q = s + 6;
            while (p->n < PRED_MAX_BUCKETS) {
                q += strspn(q, " \t\r\n");
                if (!*q)
                    break;
                uint64_t v;
                if (read_count(&q, 10000000, &v) || v == 0 || (p->n && v <= p->edge[p->n - 1])) {
                    rc = sim_msg_set(err, SIM_EINPUT,
                                     "%s:%zu: edges must be increasing positive token counts", path,
                                     lineno);
                    goto out;
                }
                p->edge[p->n++] = (uint32_t)v;
            }
            if (p->n < 2) {
                rc = sim_msg_set(err, SIM_EINPUT, "%s:%zu: need at least 2 bucket edges", path,
                                 lineno);
                goto out;
            }
            p->cdf = sim_calloc((size_t)p->n * p->n, sizeof *p->cdf);
            if (!p->cdf) {
                rc = sim_msg_set(err, SIM_ENOMEM, "out of memory");
                goto out;
            }
            continue;
        }
        if (!p->n) {
            rc = sim_msg_set(err, SIM_EINPUT, "%s:%zu: expected \"edges: ...\" first", path,
                             lineno);
            goto out;
        }
        if (row == p->n) {
            rc = sim_msg_set(err, SIM_EINPUT, "%s:%zu: more than %u rows", path, lineno, p->n);
            goto out;
        }
        double sum = 0, *c = p->cdf + row * p->n;
        char  *q = s, *end;
        for (uint32_t j = 0; j < p->n; j++) {
            double v = strtod(q, &end);
            if (end == q || !(v >= 0) || !isfinite(v)) {
                rc = sim_msg_set(err, SIM_EINPUT, "%s:%zu: column %u: expected a weight >= 0", path,
                                 lineno, j + 1);
                goto out;
            }
            sum += v;
            c[j] = sum;
            q = end;
        }
        while (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
            q++;
        if (*q) {
            rc = sim_msg_set(err, SIM_EINPUT, "%s:%zu: more than %u columns", path, lineno, p->n);
            goto out;
        }
        if (sum <= 0) {
            rc = sim_msg_set(err, SIM_EINPUT, "%s:%zu: row of zeros", path, lineno);
            goto out;
        }
        for (uint32_t j = 0; j < p->n; j++)
            c[j] /= sum;
        c[p->n - 1] = 1.0;
        row++;
    }
    if (ferror(f))
        rc = sim_msg_set(err, SIM_EIO, "%s: read error", path);
    else if (!p->n || row != p->n)
        rc = sim_msg_set(err, SIM_EINPUT, "%s:%zu: expected %u rows, found %zu", path, lineno, p->n,
                         row);
out:
    fclose(f);
    return rc;
}

static int cmp_rep(const void *a, const void *b)
{
    const struct replay_ent *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Replay file: optional header "id,predicted_tokens", then rows "id,tokens". */
static int load_replay(pred_t *p, const char *path, struct sim_msg *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return sim_msg_set(err, SIM_EIO, "%s: %s", path, strerror(errno));
    char   line[256];
    size_t lineno = 0, cap = 0;
    int    rc = SIM_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (lineno == 1 && !strncmp(line, "id,", 3))
            continue;
        char    *q = line;
        uint64_t id, v;
        if (read_count(&q, UINT64_MAX, &id) || *q != ',') {
            rc = sim_msg_set(err, SIM_EINPUT, "%s:%zu: expected id,predicted_tokens", path, lineno);
            goto out;
        }
        q++;
        if (read_count(&q, 10000000, &v) || v == 0 || (*q && *q != '\n' && *q != '\r')) {
            rc = sim_msg_set(err, SIM_EINPUT, "%s:%zu: predicted_tokens: expected 1..10^7", path,
                             lineno);
            goto out;
        }
        if (SIM_GROW(p->rep, cap, p->n_rep + 1)) {
            rc = sim_msg_set(err, SIM_ENOMEM, "out of memory");
            goto out;
        }
        p->rep[p->n_rep++] = (struct replay_ent){id, (uint32_t)v};
    }
    qsort(p->rep, p->n_rep, sizeof *p->rep, cmp_rep);
out:
    fclose(f);
    return rc;
}

int pred_new(const struct pred_cfg *cfg, pred_t **out, struct sim_msg *err)
{
    *out = NULL;
    pred_t *p = sim_calloc(1, sizeof *p);
    if (!p)
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    int rc = SIM_OK;
    p->kind = cfg->kind;
    p->cost_s = cfg->cost_s;
    p->sigma = cfg->sigma;
    p->max_len = cfg->max_len;
    if ((p->kind == PRED_CONFUSION || p->kind == PRED_REPLAY) && (!cfg->path || !*cfg->path)) {
        rc = sim_msg_set(err, SIM_ECONFIG, "predictor.path: the %s predictor needs a file",
                         sim_choice_name(pred_kind_choices, (int)p->kind));
        goto fail;
    }
    if (p->kind == PRED_CONFUSION) {
        if ((rc = load_matrix(p, cfg->path, err)))
            goto fail;
    } else if (cfg->edges[0]) {
        p->n = cfg->n_buckets;
        SIM_ASSERT(p->n <= PRED_MAX_BUCKETS); /* checked by pred_edges_parse */
        memcpy(p->edge, cfg->edges, p->n * sizeof *p->edge);
    } else {
        equal_edges(p, cfg->n_buckets ? cfg->n_buckets : 10);
    }
    if (p->kind == PRED_REPLAY && (rc = load_replay(p, cfg->path, err)))
        goto fail;
    p->rng = rng_new(cfg->seed, RNG_PREDICTOR);
    if (!p->rng) {
        rc = sim_msg_set(err, SIM_ENOMEM, "out of memory");
        goto fail;
    }
    *out = p;
    return SIM_OK;
fail:
    pred_free(p);
    return rc;
}

void pred_free(pred_t *p)
{
    if (!p)
        return;
    sim_free(p->cdf);
    sim_free(p->rep);
    rng_free(p->rng);
    sim_free(p);
}

double pred_cost_s(const pred_t *p) { return p->cost_s; }

int pred_bucket_of(const pred_t *p, uint32_t tokens)
{
    uint32_t lo = 0, hi = p->n - 1; /* first edge >= tokens */
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (p->edge[mid] >= tokens)
            hi = mid;
        else
            lo = mid + 1;
    }
    return (int)lo;
}

uint32_t pred_bucket_upper(const pred_t *p, int bucket) { return p->edge[bucket]; }

uint32_t pred_next_edge(const pred_t *p, uint32_t tokens)
{
    for (uint32_t i = 0; i < p->n; i++)
        if (p->edge[i] > tokens)
            return p->edge[i] < p->max_len ? p->edge[i] : p->max_len;
    return p->max_len;
}

static uint32_t clamp_len(const pred_t *p, double v)
{
    if (!(v >= 1))
        return 1;
    if (v > p->max_len)
        return p->max_len;
    return (uint32_t)llround(v);
}

void pred_predict(pred_t *p, struct req *r)
{
    switch (p->kind) {
    case PRED_ORACLE:
        r->pred_tok = r->output_tok;
        r->pred_bucket = pred_bucket_of(p, r->output_tok);
        return;
    case PRED_NOISY:
        r->pred_tok = clamp_len(p, r->output_tok * exp(gsl_ran_gaussian(p->rng, p->sigma)));
        r->pred_bucket = pred_bucket_of(p, r->pred_tok);
        return;
    case PRED_CONFUSION: {
        const double *c = p->cdf + (size_t)pred_bucket_of(p, r->output_tok) * p->n;
        double        u = gsl_rng_uniform(p->rng);
        uint32_t      j = 0;
        while (j + 1 < p->n && u >= c[j])
            j++;
        r->pred_bucket = (int)j;
        r->pred_tok = p->edge[j] < p->max_len ? p->edge[j] : p->max_len;
        return;
    }
    case PRED_REPLAY: {
        struct replay_ent        key = {r->id, 0};
        const struct replay_ent *e = bsearch(&key, p->rep, p->n_rep, sizeof *p->rep, cmp_rep);
        r->pred_tok = e ? clamp_len(p, e->tok) : p->max_len; /* unknown: assume the worst */
        r->pred_bucket = pred_bucket_of(p, r->pred_tok);
        return;
    }
    }
}
