/* met.c: metrics, exact statistics and result writers (see met.h). */
#include "met.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_statistics_double.h>

#include "alloc.h"
#include "rows.h"
#include "stats.h"

const char met_requests_header[] =
    "id,replica,arrival_s,prompt_tokens,output_tokens,predicted_tokens,queue_s,ttft_s,tpot_s,"
    "e2el_s,finish_s,preemptions,mispredictions,status";

const char *const met_fail_names[MET_N_FAIL] = {"prompt_too_long", "kv_capacity"};

struct tl_row {
    simtime_t t;
    uint32_t  batch, waiting;
    uint64_t  kv_used_tok;
    double    kv_util;
};

struct tl {
    struct tl_row *rows; /* grown as samples come, up to timeline_rows */
    size_t         n, cap;
    simtime_t      interval, last;
};

struct met {
    struct met_cfg cfg;
    int            prefix_on; /* issue 10: met_prefix was called */
    uint64_t       prefix_q, prefix_hit;
    /* Per request (completed). */
    double   *ttft, *tpot, *e2el, *queue, *finish, *norm;
    size_t    n, cap, n_tpot;
    uint64_t  good, failed, in_tok, out_tok;
    uint64_t  failed_why[MET_N_FAIL], truncated, longest_cut;
    simtime_t first_arr, last_arr; /* of every request, completed or failed */
    simtime_t last_finish;
    /* ITL: gap v seconds, counted w times (tokens). */
    struct met_wrec *itl;
    size_t           n_itl, cap_itl;
    uint64_t         itl_total; /* issue 13: sum of w, and of v w in arrival order */
    double           itl_sum;
    uint32_t        *itl_hash; /* issue 13: past ITL_MERGE_AT records, index + 1 by gap (0: free) */
    /* Issue 13: before merging, itl[reps[j].i] stands for reps[j].n consecutive records (v, w)
     * (the equal gaps of the decoders a pause held, reported one after another; reps ascending
     * by i; a record not listed stands for one), and n_logical
     * counts the records as they came. NULL once merging. */
    struct itl_rep {
        size_t   i;
        uint64_t n;
    } * itl_reps;
    size_t   n_reps, cap_reps, n_logical;
    size_t   itl_last;  /* merging: the record the last gap went to (a repeat skips the hash) */
    unsigned itl_hbits; /* the hash table has 2^itl_hbits slots; 0: not merging yet */
    /* Iterations. */
    uint64_t   iterations, batch_sum, tokens;
    double     kv_time_sum; /* sum of kv_util x duration, seconds */
    double     peak_kv;
    uint64_t   preempt, mispredict, wasted_tok;
    double     wasted_s;
    struct tl *tl;
};

met_t *met_new(const struct met_cfg *cfg)
{
    met_t *m = sim_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->cfg = *cfg;
    if (cfg->timeline_rows) {
        m->tl = sim_calloc(cfg->n_replicas, sizeof *m->tl);
        if (!m->tl)
            goto fail;
        for (uint32_t i = 0; i < cfg->n_replicas; i++)
            m->tl[i].last = -1;
    }
    return m;
fail:
    met_free(m);
    return NULL;
}

void met_free(met_t *m)
{
    if (!m)
        return;
    sim_free(m->ttft);
    sim_free(m->tpot);
    sim_free(m->e2el);
    sim_free(m->queue);
    sim_free(m->finish);
    sim_free(m->norm);
    sim_free(m->itl);
    sim_free(m->itl_hash);
    sim_free(m->itl_reps);
    if (m->tl)
        for (uint32_t i = 0; i < m->cfg.n_replicas; i++)
            sim_free(m->tl[i].rows);
    sim_free(m->tl);
    sim_free(m);
}

static double sec(simtime_t ns) { return (double)ns / (double)SIM_NS_PER_S; }

static int grow_all(met_t *m)
{
    if (m->n < m->cap)
        return SIM_OK;
    /* Issue 13: past 2^20 requests, grow by a quarter (realloc moves large blocks by remapping,
     * not copying), so that 10^7 requests leave at most 25 % unused rather than 100 %. */
    size_t   cap = !m->cap ? 1024 : m->cap < ((size_t)1 << 20) ? 2 * m->cap : m->cap + m->cap / 4;
    double **arr[] = {&m->ttft, &m->tpot, &m->e2el, &m->queue, &m->finish, &m->norm};
    for (size_t i = 0; i < 6; i++) {
        double *p = sim_realloc(*arr[i], cap * sizeof **arr[i]);
        if (!p)
            return SIM_ENOMEM;
        *arr[i] = p;
    }
    m->cap = cap;
    return SIM_OK;
}

static int any_slo(const struct met_cfg *c)
{
    return c->slo_ttft_s > 0 || c->slo_tpot_s > 0 || c->slo_e2el_s > 0 || c->slo_norm_s > 0;
}

/* The longest request (prompt + asked output) that max_seq_len or the KV pool cut or refused:
 * the engine.max_seq_len that would admit every one (the run's warning names it). */
/* Every request, completed or failed, for the arrival rate the run saw. */
static void note_arrival(met_t *m, const struct req *r)
{
    if (m->n + m->failed == 1 || r->arrival_ns < m->first_arr)
        m->first_arr = r->arrival_ns;
    if (m->n + m->failed == 1 || r->arrival_ns > m->last_arr)
        m->last_arr = r->arrival_ns;
}

static void note_cut(met_t *m, const struct req *r)
{
    uint64_t need = (uint64_t)r->prompt_tok + (r->asked_tok ? r->asked_tok : r->output_tok);
    if (need > m->longest_cut)
        m->longest_cut = need;
}

static int row_failed(met_t *m)
{
    return sim_msg_set(m->cfg.err, SIM_EIO, "%s: cannot write: %s",
                       m->cfg.requests_name ? m->cfg.requests_name : "requests.csv",
                       strerror(errno));
}

int met_finish(met_t *m, const struct req *r)
{
    if (grow_all(m))
        return SIM_ENOMEM;
    double ttft = sec(r->first_token_ns - r->arrival_ns);
    double e2el = sec(r->finish_ns - r->arrival_ns);
    double queue = sec(r->sched_ns - r->arrival_ns);
    double tpot = r->output_tok > 1 ? (e2el - ttft) / (r->output_tok - 1) : 0.0;
    m->ttft[m->n] = ttft;
    m->e2el[m->n] = e2el;
    m->queue[m->n] = queue;
    m->finish[m->n] = sec(r->finish_ns);
    double norm = e2el / r->output_tok;
    m->norm[m->n] = norm;
    m->n++;
    if (r->output_tok > 1)
        m->tpot[m->n_tpot++] = tpot;
    m->in_tok += r->prompt_tok;
    m->out_tok += r->output_tok;
    if (r->finish_ns > m->last_finish)
        m->last_finish = r->finish_ns;
    if (any_slo(&m->cfg) && (m->cfg.slo_ttft_s <= 0 || ttft <= m->cfg.slo_ttft_s) &&
        (m->cfg.slo_tpot_s <= 0 || tpot <= m->cfg.slo_tpot_s) &&
        (m->cfg.slo_e2el_s <= 0 || e2el <= m->cfg.slo_e2el_s) &&
        (m->cfg.slo_norm_s <= 0 || norm <= m->cfg.slo_norm_s))
        m->good++;
    note_arrival(m, r);
    if (r->asked_tok) {
        m->truncated++;
        note_cut(m, r);
    }
    char   line[MET_ROW_MAX]; /* issue 13: formatted by rows.c, not fprintf */
    size_t len = m->cfg.requests_csv
                     ? met_request_row(line, r, sec(r->arrival_ns), queue, ttft, tpot, e2el,
                                       sec(r->finish_ns), r->asked_tok ? "truncated" : "done")
                     : 0;
    if (len && fwrite(line, 1, len, m->cfg.requests_csv) != len)
        return row_failed(m);
    return SIM_OK;
}

int met_fail(met_t *m, const struct req *r, enum met_fail_reason why)
{
    SIM_ASSERT(why < MET_N_FAIL);
    m->failed++;
    m->failed_why[why]++;
    note_arrival(m, r);
    note_cut(m, r);
    /* The request's row: what it asked for, and empty fields for what never happened. */
    if (m->cfg.requests_csv &&
        fprintf(m->cfg.requests_csv, "%llu,,%.9f,%u,%u,,,,,,,0,0,failed_%s\n",
                (unsigned long long)r->id, sec(r->arrival_ns), r->prompt_tok,
                r->asked_tok ? r->asked_tok : r->output_tok, met_fail_names[why]) < 0)
        return row_failed(m);
    return SIM_OK;
}

/* Issue 13: once ITL_MERGE_AT records have come, records of equal gap are merged (weights
 * added: exact, the multiset is the same): the records are compacted once (met_wcompact) and
 * from then on a hash table from gap to record finds the one to add to, so that memory follows
 * the distinct iteration times rather than the iterations. Runs with fewer records than that
 * keep their records in arrival order, a repeat of the last record counted as a repetition of it
 * (itl_reps, listed only for records that repeat), so the sd sums the same terms in the same
 * order as one record per gap did. */
enum { ITL_MERGE_AT = 1 << 20 };

static size_t itl_slot(uint64_t bits, unsigned hbits)
{
    return (size_t)((bits * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - hbits));
}

/* (Re)build the hash table with 2^hbits slots over the records. 0 or SIM_ENOMEM. */
static int itl_rehash(met_t *m, unsigned hbits)
{
    uint32_t *h = sim_calloc((size_t)1 << hbits, sizeof *h);
    if (!h)
        return SIM_ENOMEM;
    size_t mask = ((size_t)1 << hbits) - 1;
    for (size_t i = 0; i < m->n_itl; i++) {
        uint64_t u;
        memcpy(&u, &m->itl[i].v, sizeof u);
        size_t k = itl_slot(u, hbits);
        while (h[k])
            k = (k + 1) & mask;
        h[k] = (uint32_t)(i + 1);
    }
    sim_free(m->itl_hash);
    m->itl_hash = h;
    m->itl_hbits = hbits;
    return SIM_OK;
}

/* Issue 13: before merging, the records as they come, a record equal to the last one (same gap
 * and weight) counted as a repetition of it: the same sequence of records in less memory. */
static int add_itl_run(met_t *m, double gap_s, uint64_t w)
{
    size_t n = m->n_itl, k = m->n_reps;
    if (n && m->itl[n - 1].v == gap_s && m->itl[n - 1].w == w) {
        if (k && m->itl_reps[k - 1].i == n - 1) {
            m->itl_reps[k - 1].n++;
        } else {
            if (k == m->cap_reps && SIM_GROW(m->itl_reps, m->cap_reps, k + 1))
                return SIM_ENOMEM;
            m->itl_reps[m->n_reps++] = (struct itl_rep){n - 1, 2};
        }
    } else {
        if (n == m->cap_itl && SIM_GROW(m->itl, m->cap_itl, n + 1))
            return SIM_ENOMEM;
        m->itl[m->n_itl++] = (struct met_wrec){.v = gap_s, .w = w};
    }
    m->n_logical++;
    return SIM_OK;
}

/* Each run of repeated records becomes one record of their summed weight (the same multiset). */
static void itl_unrun(met_t *m)
{
    for (size_t j = 0; j < m->n_reps; j++)
        m->itl[m->itl_reps[j].i].w *= m->itl_reps[j].n;
    sim_free(m->itl_reps);
    m->itl_reps = NULL;
    m->n_reps = m->cap_reps = 0;
}

static int add_itl(met_t *m, double gap_s, uint64_t w)
{
    if (!m->itl_hbits && m->n_logical < ITL_MERGE_AT) {
        if (add_itl_run(m, gap_s, w))
            return SIM_ENOMEM;
        goto counted;
    }
    if (!m->itl_hbits) { /* the first record past ITL_MERGE_AT: merge from now on */
        itl_unrun(m);
        m->n_itl = met_wcompact(m->itl, m->n_itl);
        unsigned hb = 4;
        while (((size_t)1 << hb) < 4 * m->n_itl)
            hb++;
        if (itl_rehash(m, hb))
            return SIM_ENOMEM;
    }
    if (m->itl_hbits) {
        uint64_t u;
        if (m->itl_last < m->n_itl && m->itl[m->itl_last].v == gap_s) { /* a repeat: no hash */
            m->itl[m->itl_last].w += w;
            goto counted;
        }
        memcpy(&u, &gap_s, sizeof u);
        size_t mask = ((size_t)1 << m->itl_hbits) - 1, k = itl_slot(u, m->itl_hbits);
        for (; m->itl_hash[k]; k = (k + 1) & mask) {
            struct met_wrec *x = &m->itl[m->itl_hash[k] - 1];
            if (x->v == gap_s) {
                x->w += w;
                m->itl_last = m->itl_hash[k] - 1;
                goto counted;
            }
        }
        if (SIM_GROW(m->itl, m->cap_itl, m->n_itl + 1) || m->n_itl >= UINT32_MAX - 1)
            return SIM_ENOMEM;
        m->itl_last = m->n_itl;
        m->itl[m->n_itl++] = (struct met_wrec){.v = gap_s, .w = w};
        m->itl_hash[k] = (uint32_t)m->n_itl;
        if (2 * m->n_itl > mask + 1 && itl_rehash(m, m->itl_hbits + 1)) /* load <= 1/2 */
            return SIM_ENOMEM;
    }
counted:
    m->itl_total += w;
    m->itl_sum += gap_s * w; /* the order and expression met.c always summed in */
    return SIM_OK;
}

int met_iter(met_t *m, uint32_t rep, simtime_t t, simtime_t dur, uint32_t batch,
             uint32_t itl_tokens, uint32_t tokens, double kv_util)
{
    (void)rep, (void)t;
    m->iterations++;
    m->batch_sum += batch;
    m->tokens += tokens;
    m->kv_time_sum += kv_util * sec(dur);
    if (kv_util > m->peak_kv)
        m->peak_kv = kv_util;
    return itl_tokens ? add_itl(m, sec(dur), itl_tokens) : SIM_OK;
}

int met_gap(met_t *m, simtime_t gap_ns) { return add_itl(m, sec(gap_ns), 1); }

void met_prefix(met_t *m, uint64_t query_tok, uint64_t hit_tok)
{
    m->prefix_on = 1;
    m->prefix_q = query_tok;
    m->prefix_hit = hit_tok;
}

void met_preempt(met_t *m, int misprediction, uint64_t wasted_tok, double wasted_s)
{
    m->preempt++;
    m->mispredict += misprediction != 0;
    m->wasted_tok += wasted_tok;
    m->wasted_s += wasted_s;
}

int met_sample(met_t *m, uint32_t rep, simtime_t t, uint32_t batch, uint64_t kv_used_tok,
               double kv_util, uint32_t waiting)
{
    if (!m->tl)
        return SIM_OK;
    struct tl    *tl = &m->tl[rep];
    struct tl_row row = {t, batch, waiting, kv_used_tok, kv_util};
    if (tl->n && tl->rows[tl->n - 1].t == t) { /* the same instant: the later state stands */
        tl->rows[tl->n - 1] = row;
        return SIM_OK;
    }
    if (tl->last >= 0 && t - tl->last < tl->interval)
        return SIM_OK;
    if (tl->n == m->cfg.timeline_rows) { /* full: keep every other row, sample half as often */
        if (tl->n == 1) /* halving cannot free a slot: one row keeps the first sample */
            return SIM_OK;
        size_t k = 0;
        for (size_t i = 0; i < tl->n; i += 2)
            tl->rows[k++] = tl->rows[i];
        tl->n = k;
        simtime_t span = tl->rows[k - 1].t - tl->rows[0].t;
        tl->interval = tl->interval ? 2 * tl->interval : span / (simtime_t)k + 1;
        if (t - tl->rows[k - 1].t < tl->interval)
            return SIM_OK;
    }
    if (tl->n == tl->cap) { /* room for one more row: double, up to timeline_rows */
        size_t         cap = tl->cap ? 2 * tl->cap : 64;
        size_t         most = m->cfg.timeline_rows;
        struct tl_row *rows;
        cap = cap < most ? cap : most;
        if (!(rows = sim_realloc(tl->rows, cap * sizeof *rows)))
            return SIM_ENOMEM;
        tl->rows = rows;
        tl->cap = cap;
    }
    tl->rows[tl->n++] = row;
    tl->last = t;
    return SIM_OK;
}

uint32_t met_timeline_rows(const met_t *m) { return m->cfg.timeline_rows; }

uint64_t met_timeline_max_bytes(const met_t *m)
{
    if (!m->cfg.timeline_rows)
        return 0;
    return (uint64_t)m->cfg.n_replicas *
           (sizeof(struct tl) + (uint64_t)m->cfg.timeline_rows * sizeof(struct tl_row));
}

/* Issue 13: the mean and sd of the per-request arrays, as GSL computes them (gsl_stats_mean and
 * gsl_stats_variance_m: GSL 2.7's statistics/mean_source.c and variance_source.c, the library
 * lensim links): running recurrences in long double, one division per element,
 *   mean += (x[i] - mean) / (i + 1)                                 (mean: long double)
 *   delta = (long double)(x[i] - m);  var += (delta * delta - var) / (i + 1)   (m: the double mean)
 * returned as double, the variance times n / (n - 1). Each chain waits on its division, so the
 * four arrays of one length (ttft, e2el, queue, norm) run side by side here, four independent
 * chains in one loop: the same operations on the same values in the same order per array,
 * hence the same bits (tests/test_stats.c compares with GSL itself). */
enum { MOM_K = 4 };

static void moments4(double *const x[MOM_K], size_t n, double mean[MOM_K], double var_m[MOM_K])
{
    long double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    for (size_t i = 0; i < n; i++) {
        a0 += (x[0][i] - a0) / (i + 1);
        a1 += (x[1][i] - a1) / (i + 1);
        a2 += (x[2][i] - a2) / (i + 1);
        a3 += (x[3][i] - a3) / (i + 1);
    }
    mean[0] = (double)a0, mean[1] = (double)a1, mean[2] = (double)a2, mean[3] = (double)a3;
    long double v0 = 0, v1 = 0, v2 = 0, v3 = 0;
    for (size_t i = 0; i < n; i++) {
        const long double d0 = x[0][i] - mean[0], d1 = x[1][i] - mean[1];
        const long double d2 = x[2][i] - mean[2], d3 = x[3][i] - mean[3];
        v0 += (d0 * d0 - v0) / (i + 1);
        v1 += (d1 * d1 - v1) / (i + 1);
        v2 += (d2 * d2 - v2) / (i + 1);
        v3 += (d3 * d3 - v3) / (i + 1);
    }
    const long double v[MOM_K] = {v0, v1, v2, v3};
    for (int j = 0; j < MOM_K; j++) {
        const double var = (double)v[j]; /* GSL's compute_variance returns a double */
        var_m[j] = var * ((double)n / (double)(n - 1));
    }
}

/* met_stat_of for MOM_K arrays of n values each (n > 1). */
void met__stat_of4(double *const x[MOM_K], size_t n, struct met_stat *s[MOM_K])
{
    double mean[MOM_K], var_m[MOM_K];
    moments4(x, n, mean, var_m);
    static const double f[3] = {0.5, 0.9, 0.99};
    for (int j = 0; j < MOM_K; j++) {
        double q[3];
        memset(s[j], 0, sizeof *s[j]);
        s[j]->n = n;
        s[j]->mean = mean[j];
        s[j]->std = sqrt(var_m[j] * (n - 1) / n); /* as met_stat_of */
        met_quantiles(x[j], n, f, 3, q);
        s[j]->median = q[0];
        s[j]->p90 = q[1];
        s[j]->p99 = q[2];
    }
}

void met_stat_of(double *x, size_t n, struct met_stat *s)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    if (!n) {
        s->mean = s->median = s->p90 = s->p99 = s->std = NAN;
        return;
    }
    /* Issue 13: quantiles by selection (stats.h), the same elements a sort would give; mean
     * and sd in the array's own order (they differed from the sorted order's at most in the
     * last bits, below every printed digit). */
    static const double f[3] = {0.5, 0.9, 0.99};
    double              q[3];
    s->mean = gsl_stats_mean(x, 1, n);
    s->std = n > 1 ? sqrt(gsl_stats_variance_m(x, 1, n, s->mean) * (n - 1) / n) : 0.0;
    met_quantiles(x, n, f, 3, q);
    s->median = q[0];
    s->p90 = q[1];
    s->p99 = q[2];
}

static void itl_stat(met_t *m, struct met_stat *s)
{
    memset(s, 0, sizeof *s);
    uint64_t total = m->itl_total;
    double   sum = m->itl_sum, sum2 = 0;
    s->n = total;
    if (!total) {
        s->mean = s->median = s->p90 = s->p99 = s->std = NAN;
        return;
    }
    s->mean = sum / (double)total;
    for (size_t i = 0, j = 0; i < m->n_itl; i++) { /* every record in the order met.c took */
        double   d = m->itl[i].v - s->mean;
        uint64_t reps = j < m->n_reps && m->itl_reps[j].i == i ? m->itl_reps[j++].n : 1;
        for (uint64_t k = 0; k < reps; k++)
            sum2 += d * d * m->itl[i].w;
    }
    itl_unrun(m);
    s->std = sqrt(sum2 / (double)total);
    /* Issue 13: token-weighted quantiles by weighted selection (stats.h), no sort. */
    static const double f[3] = {0.5, 0.9, 0.99};
    double              q[3];
    met_wquantiles(m->itl, m->n_itl, total, f, 3, q);
    s->median = q[0];
    s->p90 = q[1];
    s->p99 = q[2];
}

int met_summarize(met_t *m, simtime_t first_arrival_ns, struct met_summary *out)
{
    memset(out, 0, sizeof *out);
    out->completed = m->n;
    out->failed = m->failed;
    memcpy(out->failed_why, m->failed_why, sizeof out->failed_why);
    out->truncated = m->truncated;
    out->longest_cut = m->longest_cut;
    /* The rate requests arrived at: n - 1 gaps over the first to the last arrival. */
    uint64_t all = m->n + m->failed;
    out->arrival_rate = all > 1 && m->last_arr > m->first_arr
                            ? (double)(all - 1) / sec(m->last_arr - m->first_arr)
                            : NAN;
    out->total_input_tokens = m->in_tok;
    out->total_output_tokens = m->out_tok;
    out->duration_s = m->n ? sec(m->last_finish - first_arrival_ns) : 0.0;
    double d = out->duration_s > 0 ? out->duration_s : NAN;
    out->request_throughput = m->n / d;
    out->output_throughput = m->out_tok / d;
    out->total_token_throughput = (m->in_tok + m->out_tok) / d;
    out->request_goodput = any_slo(&m->cfg) ? m->good / d : NAN;
    /* A failed request met no SLO: it counts in the attainment of all requests as a miss. */
    out->slo_attainment = any_slo(&m->cfg) && m->n + m->failed
                              ? (double)m->good / (double)(m->n + m->failed)
                              : NAN;
    out->slo_attainment_completed = any_slo(&m->cfg) && m->n ? (double)m->good / m->n : NAN;
    /* SSJF's throughput (simulator.py): pos = int(percentile(range(n), 25)); pos / t[pos]. */
    if (m->n) {
        size_t pos = (size_t)(0.25 * (double)(m->n - 1));
        double t = met_select(m->finish, m->n, pos) - sec(first_arrival_ns);
        out->ssjf_throughput = t > 0 ? pos / t : NAN;
    } else {
        out->ssjf_throughput = NAN;
    }
    if (m->n > 1) { /* issue 13: the four arrays of length n side by side (met__stat_of4) */
        met__stat_of4((double *const[]){m->ttft, m->e2el, m->queue, m->norm}, m->n,
                      (struct met_stat *[]){&out->ttft, &out->e2el, &out->queue, &out->norm});
    } else {
        met_stat_of(m->ttft, m->n, &out->ttft);
        met_stat_of(m->e2el, m->n, &out->e2el);
        met_stat_of(m->queue, m->n, &out->queue);
        met_stat_of(m->norm, m->n, &out->norm);
    }
    met_stat_of(m->tpot, m->n_tpot, &out->tpot);
    itl_stat(m, &out->itl);
    out->mean_kv_util = d > 0 ? m->kv_time_sum / (d * m->cfg.n_replicas) : NAN;
    out->peak_kv_util = m->peak_kv;
    out->mean_batch_size = m->iterations ? (double)m->batch_sum / m->iterations : NAN;
    out->iterations = m->iterations;
    out->preemptions = m->preempt;
    out->mispredictions = m->mispredict;
    out->wasted_tokens = m->wasted_tok;
    out->wasted_s = m->wasted_s;
    out->prefix_on = m->prefix_on; /* issue 10 */
    out->prefix_query_tokens = m->prefix_q;
    out->prefix_hit_tokens = m->prefix_hit;
    out->prefix_hit_rate = m->prefix_q ? (double)m->prefix_hit / (double)m->prefix_q : NAN;
    out->tokens_generated = m->tokens;
    return SIM_OK;
}

/* ---- the summary's columns: one row per output value ---- */

enum col_type { COL_U64, COL_F64 };

/* A summary value and where it goes. A NULL name leaves the column out of that output, so one
 * value may appear in some outputs only, or twice at different places (ssjf_throughput sits
 * fourth in results.csv but last in summary.json). The table is in summary.json's order;
 * results.csv and the terminal table take their columns in the same order. Every output scales
 * the field by `scale` except the terminal table, which has units of its own (`tscale`). */
struct col {
    const char   *json;  /* summary.json key */
    const char   *csv;   /* results.csv column */
    const char   *title; /* terminal table title */
    enum col_type type;
    size_t        off;         /* of the field in struct met_summary */
    double        scale;       /* file value = field x scale */
    const char   *unit;        /* of the file value */
    int           width, prec; /* terminal table: printf width and decimals */
    double        tscale;      /* terminal table value = field x tscale */
};

#define OFF(m) offsetof(struct met_summary, m)
#define U64(json, csv, m, unit)                            \
    {                                                      \
        json, csv, NULL, COL_U64, OFF(m), 1, unit, 0, 0, 1 \
    }
#define F64(json, csv, m, scale, unit)                         \
    {                                                          \
        json, csv, NULL, COL_F64, OFF(m), scale, unit, 0, 0, 1 \
    }
/* ... and shown in the terminal table. */
#define U64T(json, csv, m, unit, title, w)                  \
    {                                                       \
        json, csv, title, COL_U64, OFF(m), 1, unit, w, 0, 1 \
    }
#define F64T(json, csv, m, scale, unit, title, w, p, ts)         \
    {                                                            \
        json, csv, title, COL_F64, OFF(m), scale, unit, w, p, ts \
    }

static const struct col cols[] = {
    U64T("completed", "completed", completed, "requests", "done", 7),
    U64T("failed", "failed", failed, "requests", "fail", 5),
    /* Issue 12: why requests failed, how many were cut, what the workload and memory clamped. */
    U64("failed_prompt_too_long", "failed_prompt_too_long", failed_why[MET_FAIL_PROMPT],
        "requests"),
    U64("failed_kv_capacity", "failed_kv_capacity", failed_why[MET_FAIL_KV], "requests"),
    U64T("truncated", "truncated", truncated, "requests", "trunc", 5),
    U64("longest_cut_request_tokens", "longest_cut_request_tokens", longest_cut, "tokens"),
    U64("clamped_prompts", "clamped_prompts", clamped_prompt, "requests"),
    U64("kv_reservations_clamped", "kv_reservations_clamped", kv_clamped, "reservations"),
    U64("total_input_tokens", NULL, total_input_tokens, "tokens"),
    U64("total_output_tokens", NULL, total_output_tokens, "tokens"),
    F64("duration", "duration_s", duration_s, 1, "s"),
    F64("arrival_rate", "arrival_rate", arrival_rate, 1, "req/s"), /* issue 12: effective */
    F64T("request_throughput", "request_throughput", request_throughput, 1, "req/s", "req/s", 8, 3,
         1),
    F64T("output_throughput", "output_throughput", output_throughput, 1, "tok/s", "tok/s", 9, 1, 1),
    F64(NULL, "ssjf_throughput", ssjf_throughput, 1, "req/s"),
    F64("total_token_throughput", NULL, total_token_throughput, 1, "tok/s"),
    F64("request_goodput", "request_goodput", request_goodput, 1, "req/s"),
    F64("slo_attainment", "slo_attainment", slo_attainment, 1, "fraction"),
    F64("slo_attainment_completed", "slo_attainment_completed", slo_attainment_completed, 1,
        "fraction"),
    F64T("mean_ttft_ms", "mean_ttft_ms", ttft.mean, 1e3, "ms", "TTFT ms", 9, 1, 1e3),
    F64("median_ttft_ms", NULL, ttft.median, 1e3, "ms"),
    F64("std_ttft_ms", NULL, ttft.std, 1e3, "ms"),
    F64("p90_ttft_ms", NULL, ttft.p90, 1e3, "ms"),
    F64T("p99_ttft_ms", "p99_ttft_ms", ttft.p99, 1e3, "ms", "p99 TTFT", 9, 1, 1e3),
    F64T("mean_tpot_ms", "mean_tpot_ms", tpot.mean, 1e3, "ms", "TPOT ms", 8, 2, 1e3),
    F64("median_tpot_ms", NULL, tpot.median, 1e3, "ms"),
    F64("std_tpot_ms", NULL, tpot.std, 1e3, "ms"),
    F64("p90_tpot_ms", NULL, tpot.p90, 1e3, "ms"),
    F64("p99_tpot_ms", "p99_tpot_ms", tpot.p99, 1e3, "ms"),
    F64("mean_itl_ms", "mean_itl_ms", itl.mean, 1e3, "ms"),
    F64("median_itl_ms", NULL, itl.median, 1e3, "ms"),
    F64("std_itl_ms", NULL, itl.std, 1e3, "ms"),
    F64("p90_itl_ms", NULL, itl.p90, 1e3, "ms"),
    F64("p99_itl_ms", NULL, itl.p99, 1e3, "ms"),
    F64T("mean_e2el_ms", "mean_e2el_ms", e2el.mean, 1e3, "ms", "E2E s", 9, 3, 1),
    F64("median_e2el_ms", "median_e2el_ms", e2el.median, 1e3, "ms"),
    F64("std_e2el_ms", NULL, e2el.std, 1e3, "ms"),
    F64("p90_e2el_ms", NULL, e2el.p90, 1e3, "ms"),
    F64T("p99_e2el_ms", "p99_e2el_ms", e2el.p99, 1e3, "ms", "p99 E2E", 9, 3, 1),
    F64("mean_jct_ms", NULL, e2el.mean, 1e3, "ms"), /* JCT, the scheduling papers' name */
    F64("mean_queue_ms", "mean_queue_ms", queue.mean, 1e3, "ms"),
    F64("median_queue_ms", NULL, queue.median, 1e3, "ms"),
    F64("std_queue_ms", NULL, queue.std, 1e3, "ms"),
    F64("p90_queue_ms", NULL, queue.p90, 1e3, "ms"),
    F64("p99_queue_ms", NULL, queue.p99, 1e3, "ms"),
    F64("mean_norm_latency_ms", NULL, norm.mean, 1e3, "ms/token"),
    F64("median_norm_latency_ms", NULL, norm.median, 1e3, "ms/token"),
    F64("std_norm_latency_ms", NULL, norm.std, 1e3, "ms/token"),
    F64("p90_norm_latency_ms", NULL, norm.p90, 1e3, "ms/token"),
    F64("p99_norm_latency_ms", NULL, norm.p99, 1e3, "ms/token"),
    F64T("mean_kv_cache_usage", "mean_kv_cache_usage", mean_kv_util, 1, "fraction", "KV%", 5, 1,
         100),
    F64("peak_kv_cache_usage", "peak_kv_cache_usage", peak_kv_util, 1, "fraction"),
    F64T("mean_batch_size", "mean_batch_size", mean_batch_size, 1, "sequences", "batch", 6, 1, 1),
    U64("iterations", NULL, iterations, "iterations"),
    U64("preemptions", "preemptions", preemptions, "preemptions"),
    U64("mispredictions", "mispredictions", mispredictions, "requests"),
    U64("wasted_tokens", NULL, wasted_tokens, "tokens"),
    F64("wasted_s", NULL, wasted_s, 1, "s"),
    F64("ssjf_throughput", NULL, ssjf_throughput, 1, "req/s"),
};
enum { N_COLS = sizeof cols / sizeof *cols };

static uint64_t col_u64(const struct col *c, const struct met_summary *s)
{
    return *(const uint64_t *)((const char *)s + c->off);
}

static double col_f64(const struct col *c, const struct met_summary *s)
{
    return *(const double *)((const char *)s + c->off);
}

/* The file value of column c: an integer, a fixed-point number, or `missing` for NaN and
 * infinities (JSON null, an empty CSV field). */
static void put_value(FILE *f, const struct col *c, const struct met_summary *s,
                      const char *missing)
{
    double v = c->type == COL_F64 ? col_f64(c, s) : 0;
    if (c->type == COL_U64)
        fprintf(f, "%llu", (unsigned long long)col_u64(c, s));
    else if (isfinite(v))
        fprintf(f, "%.6f", v * c->scale);
    else
        fputs(missing, f);
}

int met_write_json(const struct met_summary *s, FILE *f)
{
    size_t last = 0;
    for (size_t i = 0; i < N_COLS; i++)
        if (cols[i].json)
            last = i;
    fprintf(f, "{\n");
    for (size_t i = 0; i < N_COLS; i++) {
        if (!cols[i].json)
            continue;
        fprintf(f, "  \"%s\": ", cols[i].json);
        put_value(f, &cols[i], s, "null");
        fputs(i == last && !s->prefix_on ? "\n" : ",\n", f);
    }
    if (s->prefix_on) { /* issue 10: only runs with prefix caching have these */
        fprintf(f, "  \"prefix_cache_query_tokens\": %llu,\n  \"prefix_cache_hit_tokens\": %llu,\n",
                (unsigned long long)s->prefix_query_tokens,
                (unsigned long long)s->prefix_hit_tokens);
        if (isfinite(s->prefix_hit_rate))
            fprintf(f, "  \"prefix_cache_hit_rate\": %.6f\n", s->prefix_hit_rate);
        else
            fputs("  \"prefix_cache_hit_rate\": null\n", f);
    }
    fprintf(f, "}\n");
    return ferror(f) ? SIM_EIO : SIM_OK;
}

void met_csv_header(FILE *f)
{
    for (size_t i = 0; i < N_COLS; i++)
        if (cols[i].csv)
            fprintf(f, ",%s", cols[i].csv);
}

void met_csv_row(const struct met_summary *s, FILE *f)
{
    for (size_t i = 0; i < N_COLS; i++) {
        if (!cols[i].csv)
            continue;
        fputc(',', f);
        if (s)
            put_value(f, &cols[i], s, "");
    }
}

void met_json_row(const struct met_summary *s, FILE *f)
{
    for (size_t i = 0; i < N_COLS; i++) {
        if (!cols[i].csv)
            continue;
        fprintf(f, ", \"%s\": ", cols[i].csv);
        if (s)
            put_value(f, &cols[i], s, "null");
        else
            fputs("null", f);
    }
}

/* ---- the terminal table (issue 12 item 6: it fits 100 columns) ----
 * A column is as wide as its title (at least 4), and its value is written to fit: fewer
 * decimals first (from the table's prec down to none), then k/M/G for thousands, millions,
 * billions (full values are in results.csv). Goodput and SLO attainment are shown only when an
 * SLO is set (they are NaN otherwise); they take the titles below unless the table gives them. */
static const struct {
    const char *json, *title;
    int         prec;
    double      tscale;
} slo_cols[] = {{"request_goodput", "good/s", 2, 1}, {"slo_attainment", "SLO%", 1, 100}};

/* Is column c shown, and with what title, decimals and factor? */
static int table_col(const struct col *c, int slo, const char **title, int *prec, double *ts)
{
    *title = c->title;
    *prec = c->prec;
    *ts = c->tscale;
    for (size_t k = 0; k < sizeof slo_cols / sizeof *slo_cols; k++)
        if (c->json && !strcmp(c->json, slo_cols[k].json)) {
            if (!slo)
                return 0;
            if (!c->title) {
                *title = slo_cols[k].title;
                *prec = slo_cols[k].prec;
                *ts = slo_cols[k].tscale;
            }
        }
    return *title != NULL;
}

static int table_w(const char *title)
{
    int w = (int)strlen(title);
    return w < 4 ? 4 : w;
}

/* v in at most w characters (see above). */
static void put_fit(FILE *f, double v, int prec, int w)
{
    static const char sfx[] = "kMGTP";
    char              b[64];
    if (!isfinite(v)) {
        fprintf(f, " %*s", w, "-");
        return;
    }
    for (int p = prec; p >= 0; p--)
        if (snprintf(b, sizeof b, "%.*f", p, v) <= w) {
            fprintf(f, " %*s", w, b);
            return;
        }
    double x = v;
    for (int k = 0; sfx[k]; k++) {
        x /= 1000;
        for (int p = 1; p >= 0; p--)
            if (snprintf(b, sizeof b, "%.*f%c", p, x, sfx[k]) <= w) {
                fprintf(f, " %*s", w, b);
                return;
            }
    }
    fprintf(f, " %*.*e", w, 0, v);
}

int met_table_width(int slo)
{
    int         w = 0, prec;
    const char *t;
    double      ts;
    for (size_t i = 0; i < N_COLS; i++)
        if (table_col(&cols[i], slo, &t, &prec, &ts))
            w += 1 + table_w(t);
    return w;
}

void met_table_header(FILE *f, int slo)
{
    int         prec;
    const char *t;
    double      ts;
    for (size_t i = 0; i < N_COLS; i++)
        if (table_col(&cols[i], slo, &t, &prec, &ts))
            fprintf(f, " %*s", table_w(t), t);
}

void met_table_row(const struct met_summary *s, FILE *f, int slo)
{
    int         prec;
    const char *t;
    double      ts;
    for (size_t i = 0; i < N_COLS; i++) {
        const struct col *c = &cols[i];
        if (!table_col(c, slo, &t, &prec, &ts))
            continue;
        if (c->type == COL_U64)
            put_fit(f, (double)col_u64(c, s), 0, table_w(t));
        else
            put_fit(f, col_f64(c, s) * ts, prec, table_w(t));
    }
}

int met_write_timeline(const met_t *m, FILE *f)
{
    fprintf(f, "replica,time_s,batch_size,kv_used_tokens,kv_cache_usage_perc,"
               "num_requests_waiting\n");
    if (m->tl)
        for (uint32_t r = 0; r < m->cfg.n_replicas; r++)
            for (size_t i = 0; i < m->tl[r].n; i++) {
                const struct tl_row *x = &m->tl[r].rows[i];
                char                 line[MET_ROW_MAX];
                fwrite(line, 1,
                       met_timeline_row(line, r, sec(x->t), x->batch, x->kv_used_tok,
                                        100.0 * x->kv_util, x->waiting),
                       f); /* issue 13; errors: ferror below */
            }
    return ferror(f) ? SIM_EIO : SIM_OK;
}

/* Issue 13 (--resume): the summary back from summary.json as met_write_json wrote it. */
int met_read_json(FILE *f, struct met_summary *s)
{
    char line[512];
    int  seen = 0, want = 0;
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < N_COLS; i++)
        want += cols[i].json != NULL;
    while (fgets(line, sizeof line, f)) {
        char *q = strchr(line, '"'), *q2 = q ? strchr(q + 1, '"') : NULL;
        if (!q2 || q2[1] != ':')
            continue;
        *q2 = 0;
        const char *v = q2 + 2;
        while (*v == ' ')
            v++;
        for (size_t i = 0; i < N_COLS; i++) {
            const struct col *c = &cols[i];
            if (!c->json || strcmp(c->json, q + 1))
                continue;
            char *end;
            errno = 0;
            if (c->type == COL_U64) {
                unsigned long long u = strtoull(v, &end, 10);
                if (end == v || errno)
                    return SIM_ECONFIG;
                *(uint64_t *)((char *)s + c->off) = u;
            } else if (!strncmp(v, "null", 4)) {
                *(double *)((char *)s + c->off) = NAN;
            } else {
                double d = strtod(v, &end);
                if (end == v)
                    return SIM_ECONFIG;
                *(double *)((char *)s + c->off) = d / c->scale;
            }
            seen++;
        }
    }
    return !ferror(f) && seen == want ? SIM_OK : SIM_ECONFIG;
}

/* Issue 13 (`lensim search --target`): a summary value by its summary.json key. */
int met_value(const struct met_summary *s, const char *key, double *v)
{
    for (size_t i = 0; i < N_COLS; i++) {
        const struct col *c = &cols[i];
        if (!c->json || strcmp(c->json, key))
            continue;
        *v = c->type == COL_U64 ? (double)col_u64(c, s) : col_f64(c, s) * c->scale;
        return SIM_OK;
    }
    return SIM_ECONFIG;
}
