/* sweep.c: grid generation and timing (see sweep.h). */
#include "sweep.h"

#include <math.h>
#include <string.h>

#include "alloc.h"
#include "rng.h"

static uint32_t clampu(double v, uint32_t lo, uint32_t hi)
{
    if (!(v >= lo))
        return lo;
    if (v > hi)
        return hi;
    return (uint32_t)llround(v);
}

/* Log-uniform integer in [lo, hi]. */
static uint32_t log_uniform(rng_t *r, uint32_t lo, uint32_t hi)
{
    if (hi <= lo)
        return lo;
    double u = gsl_rng_uniform(r);
    return clampu(exp(log((double)lo) + u * (log((double)hi + 0.999) - log((double)lo))), lo, hi);
}

/* One point's shape before its lengths are drawn. */
struct shape {
    enum cal_point_kind kind;
    uint32_t            n_dec, ctx_mean, n_pre, plen_mean;
};

static void features(struct cal_point *p)
{
    struct cal_batch f = {0};
    f.decode_seqs = p->n_dec;
    for (uint32_t i = 0; i < p->n_dec; i++)
        f.decode_ctx += p->ctx[i];
    for (uint32_t i = 0; i < p->n_pre; i++) {
        f.prefill_tok += p->plen[i];
        f.prefill_sq += (double)p->plen[i] * p->plen[i];
    }
    p->feat = f;
}

/* Fit the shape into the limits: shrink counts and lengths until it fits. */
static int fits(const struct cal_grid_opts *o, const struct shape *s)
{
    /* Drawn lengths reach 1.5 x the mean context and 1.25 x the mean prompt. */
    size_t pl = (size_t)s->plen_mean * 5 / 4 + 1;
    size_t rows = (size_t)s->n_dec + (size_t)s->n_pre * pl;
    size_t kv = (size_t)s->n_dec * (s->ctx_mean * 3 / 2 + 1) + (size_t)s->n_pre * pl;
    return s->n_dec + s->n_pre <= o->max_seqs && rows <= o->max_batch_tok && kv <= o->max_kv_tok;
}

static void shrink(const struct cal_grid_opts *o, struct shape *s)
{
    for (int guard = 0; guard < 200 && !fits(o, s); guard++) {
        if (s->n_pre > 1 && (size_t)s->n_pre * s->plen_mean > o->max_batch_tok / 2)
            s->n_pre--;
        else if (s->plen_mean > 8 &&
                 (size_t)s->n_dec + (size_t)s->n_pre * (s->plen_mean * 5 / 4 + 1) >
                     o->max_batch_tok)
            s->plen_mean = s->plen_mean * 3 / 4;
        else if (s->ctx_mean > 16)
            s->ctx_mean = s->ctx_mean * 3 / 4;
        else if (s->n_dec > 1)
            s->n_dec = s->n_dec * 3 / 4;
        else if (s->n_pre > 1)
            s->n_pre--;
        else
            break;
    }
}

size_t cal_grid_kv_need(const struct cal_grid *g)
{
    size_t need = 0;
    for (size_t i = 0; i < g->n; i++) {
        const struct cal_point *p = &g->pt[i];
        size_t k = (size_t)(p->feat.decode_ctx + p->feat.decode_seqs + p->feat.prefill_tok);
        need = k > need ? k : need;
    }
    return need;
}

int cal_grid_make(const struct cal_grid_opts *o, struct cal_grid *g, struct sim_msg *err)
{
    memset(g, 0, sizeof *g);
    if (o->max_seqs < 2 || o->max_ctx < 32 || o->max_prompt < 16 || o->max_batch_tok < 32 ||
        o->max_kv_tok < 256 || o->n_points < 24)
        return sim_msg_set(err, SIM_ECONFIG,
                           "grid limits too small (need at least 2 sequences, context 32, "
                           "prompt 16, 32 tokens per batch, 256 KV tokens, 24 points)");
    size_t        n = o->n_points;
    struct shape *sh = sim_calloc(n, sizeof *sh);
    rng_t        *r = rng_new(o->seed, RNG_CALIB_GRID);
    g->pt = sim_calloc(n, sizeof *g->pt);
    if (!sh || !r || !g->pt) {
        sim_free(sh);
        rng_free(r);
        cal_grid_free(g);
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    }
    uint32_t maxp = o->max_prompt < o->max_batch_tok ? o->max_prompt : o->max_batch_tok;
    /* Anchors: the corners the fit must not extrapolate to. */
    struct shape anchors[] = {
        {CAL_PT_DECODE, 1, 16, 0, 0},
        {CAL_PT_DECODE, 1, o->max_ctx - 1, 0, 0},
        {CAL_PT_DECODE, o->max_seqs, 16, 0, 0},
        {CAL_PT_DECODE, o->max_seqs, o->max_ctx - 1, 0, 0},
        {CAL_PT_PREFILL, 0, 0, 1, 16},
        {CAL_PT_PREFILL, 0, 0, 1, maxp},
        {CAL_PT_PREFILL, 0, 0, 4, maxp / 4},
        {CAL_PT_MIXED, o->max_seqs / 2, o->max_ctx / 4, 1, maxp / 2},
    };
    size_t na = sizeof anchors / sizeof anchors[0];
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        struct shape s;
        if (i < na) {
            s = anchors[i];
        } else {
            double u = gsl_rng_uniform(r);
            s.kind = u < 0.45 ? CAL_PT_DECODE : u < 0.7 ? CAL_PT_PREFILL : CAL_PT_MIXED;
            s.n_dec = s.kind == CAL_PT_PREFILL ? 0 : log_uniform(r, 1, o->max_seqs);
            s.ctx_mean = s.kind == CAL_PT_PREFILL ? 0 : log_uniform(r, 16, o->max_ctx - 1);
            s.n_pre = s.kind == CAL_PT_DECODE    ? 0
                      : gsl_rng_uniform(r) < 0.6 ? 1
                                                 : log_uniform(r, 2, 8);
            s.plen_mean = s.kind == CAL_PT_DECODE ? 0 : log_uniform(r, 8, maxp);
            if (s.kind == CAL_PT_MIXED && s.n_pre == 0)
                s.n_pre = 1;
        }
        shrink(o, &s);
        sh[i] = s;
        total += s.n_dec + s.n_pre;
    }
    g->lens = sim_malloc(sizeof *g->lens * (total + 1));
    if (!g->lens) {
        sim_free(sh);
        rng_free(r);
        cal_grid_free(g);
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    }
    uint32_t *l = g->lens;
    for (size_t i = 0; i < n; i++) {
        struct cal_point   *p = &g->pt[i];
        const struct shape *s = &sh[i];
        p->kind = s->kind;
        p->n_dec = s->n_dec;
        p->n_pre = s->n_pre;
        p->ctx = l;
        for (uint32_t j = 0; j < s->n_dec; j++)
            *l++ = clampu(s->ctx_mean * (0.5 + gsl_rng_uniform(r)), 1, o->max_ctx - 1);
        p->plen = l;
        for (uint32_t j = 0; j < s->n_pre; j++) {
            /* Prompts of one point vary by +-25 %, so prefill_sq is not n x len^2. */
            uint32_t v = clampu(s->plen_mean * (0.75 + 0.5 * gsl_rng_uniform(r)), 2, maxp);
            *l++ = v;
        }
        /* Re-check the drawn lengths against the token and KV limits (the draws may exceed the
         * means used by shrink); trim prompts first. */
        size_t rows = p->n_dec, kv = 0;
        for (uint32_t j = 0; j < p->n_dec; j++)
            kv += p->ctx[j] + 1;
        for (uint32_t j = 0; j < p->n_pre; j++) {
            size_t room = o->max_batch_tok - rows;
            if (p->plen[j] > room)
                p->plen[j] = room >= 2 ? (uint32_t)room : 2;
            rows += p->plen[j];
            kv += p->plen[j];
        }
        if (kv > o->max_kv_tok) /* cannot happen after shrink with ctx <= 1.5 mean */
            SIM_ASSERT(!"grid point over the KV limit");
        features(p);
        p->heldout = i >= na && gsl_rng_uniform(r) < o->heldout_frac;
    }
    g->n = n;
    sim_free(sh);
    rng_free(r);
    return SIM_OK;
}

void cal_grid_free(struct cal_grid *g)
{
    sim_free(g->pt);
    sim_free(g->lens);
    memset(g, 0, sizeof *g);
}

static int run_once(void *ctx) { return kern_run(ctx); }

int cal_grid_run(kern_backend_t *b, struct cal_grid *g, const struct cal_time_opts *t,
                 unsigned rounds, void (*progress)(size_t done, size_t total, void *ctx),
                 void *pctx, struct sim_msg *err)
{
    size_t cap = 0;
    for (size_t i = 0; i < g->n; i++)
        cap = g->pt[i].n_dec + g->pt[i].n_pre > cap ? g->pt[i].n_dec + g->pt[i].n_pre : cap;
    struct kern_seq       *seq = sim_calloc(cap ? cap : 1, sizeof *seq);
    struct cal_time_stats *st = sim_malloc(sizeof *st);
    if (!seq || !st) {
        sim_free(seq);
        sim_free(st);
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    }
    if (rounds < 1)
        rounds = 1;
    struct cal_time_opts tr = *t;
    tr.repeats = (t->repeats + rounds - 1) / rounds;
    tr.min_repeats = (t->min_repeats + rounds - 1) / rounds;
    tr.budget_s = t->budget_s / rounds;
    int rc = SIM_OK;
    for (size_t i = 0; i < g->n; i++)
        g->pt[i].t.n = 0;
    for (unsigned r = 0; r < rounds && !rc; r++)
        for (size_t i = 0; i < g->n && !rc; i++) {
            struct cal_point *p = &g->pt[i];
            uint32_t          k = 0;
            for (uint32_t j = 0; j < p->n_dec; j++, k++)
                seq[k] = (struct kern_seq){.slot = k, .start = p->ctx[j], .n_new = 1};
            for (uint32_t j = 0; j < p->n_pre; j++, k++)
                seq[k] = (struct kern_seq){.slot = k, .start = 0, .n_new = p->plen[j]};
            struct kern_batch batch = {.n_seqs = k, .seqs = seq};
            kern_kv_reset(b);
            rc = kern_prepare(b, &batch, err);
            if (!rc) {
                rc = cal_time(b, run_once, b, &tr, st);
                if (rc)
                    sim_msg_set(err, rc, "timing point %zu: %s", i, sim_strerror(rc));
            }
            if (!rc) {
                for (unsigned j = 0; j < st->n && p->t.n < CAL_TIME_MAX_REPEATS; j++)
                    p->t.sample_s[p->t.n++] = st->sample_s[j];
                cal_time_summarise(&p->t);
            }
            if (progress)
                progress(r * g->n + i + 1, rounds * g->n, pctx);
        }
    sim_free(seq);
    sim_free(st);
    return rc;
}
