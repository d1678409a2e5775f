/* compat_ssjf.c: SSJF's public simulator, re-stated (see compat_ssjf.h for the semantics). */
#include "compat_ssjf.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "alloc.h"
#include "rng.h"

enum { TICKS_PER_S = 100 };

/* ---- stopping: the caller's progress hook, polled in every loop that can run long ----
 * (Poisson slots at a tiny rate, the batches of a repetition, the sorts of a large queue). Each
 * loop counts its work in steps of at most a few hundred nanoseconds (a Poisson draw, a batch, a
 * comparison) and the hook is asked once per POLL_EVERY steps, so that a stop request is seen
 * within milliseconds at a cost of one addition per step. */
enum { POLL_EVERY = 1 << 16 };

struct poll {
    serve_progress_fn  fn; /* may be NULL */
    void              *ctx;
    struct serve_stats st; /* jobs finished so far, for the progress bar */
    uint64_t           steps;
};

/* Count `work` steps; once per POLL_EVERY steps ask the hook. Returns 1 when it asked to stop. */
static int stop_asked(struct poll *p, uint64_t work)
{
    if (!p->fn || (p->steps += work) < POLL_EVERY)
        return 0;
    p->steps = 0;
    return p->fn(p->ctx, &p->st) != 0;
}

const char compat_ssjf_rows_header[] =
    "repeat,job,arrival_s,tokens,predicted_class,service_s,last_start_s,completion_s,jct_s";

struct rowset {
    uint32_t *len, *cls;
    size_t    n;
};

/* The predictions file: ",output_token_length,predicted_length,latency,model". */
static int load_rows(const char *path, struct rowset *rs, struct sim_msg *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return sim_msg_set(err, SIM_EIO, "%s: %s", path, strerror(errno));
    char   line[512];
    size_t lineno = 0, cap = 0, cap2 = 0;
    int    rc = SIM_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (lineno == 1) {
            if (!strstr(line, "output_token_length") || !strstr(line, "predicted_length")) {
                rc = sim_msg_set(err, SIM_EINPUT,
                                 "%s:1: expected the header ,output_token_length,"
                                 "predicted_length,latency,model",
                                 path);
                goto out;
            }
            continue;
        }
        char *p = strchr(line, ','), *end;
        if (!p) {
            rc = sim_msg_set(err, SIM_EINPUT, "%s:%zu: missing columns", path, lineno);
            goto out;
        }
        unsigned long len = strtoul(p + 1, &end, 10);
        if (end == p + 1 || *end != ',' || len == 0 || len > 10000000) {
            rc = sim_msg_set(err, SIM_EINPUT, "%s:%zu: output_token_length: bad value", path,
                             lineno);
            goto out;
        }
        p = end + 1;
        double cls = strtod(p, &end);
        if (end == p || (*end != ',' && *end != '\n') || cls < 0 || cls > 1000 ||
            cls != floor(cls)) {
            rc = sim_msg_set(err, SIM_EINPUT, "%s:%zu: predicted_length: expected a class index",
                             path, lineno);
            goto out;
        }
        if (SIM_GROW(rs->len, cap, rs->n + 1) || SIM_GROW(rs->cls, cap2, rs->n + 1)) {
            rc = sim_msg_set(err, SIM_ENOMEM, "out of memory");
            goto out;
        }
        rs->len[rs->n] = (uint32_t)len;
        rs->cls[rs->n] = (uint32_t)cls;
        rs->n++;
    }
    if (ferror(f))
        rc = sim_msg_set(err, SIM_EIO, "%s: read error", path);
out:
    fclose(f);
    return rc;
}

struct job {
    int64_t  a;      /* arrival tick */
    int64_t  e, rem; /* service and remaining service, ticks */
    int64_t  p;      /* predicted service, ticks */
    int64_t  age;    /* ticks waited, SJF/SSJF aging */
    int64_t  start, done;
    uint32_t tokens, cls;
};

/* Arrivals of one repetition (job.py). Returns 0, SIM_ENOMEM or SIM_EINTR. */
static int arrivals(const struct cfg *c, gsl_rng *r, struct job *j, size_t n, struct poll *poll)
{
    if (c->arrival == TRACE_ARR_BATCH) {
        for (size_t i = 0; i < n; i++)
            j[i].a = 0;
        return SIM_OK;
    }
    if (c->arrival == TRACE_ARR_POISSON) {
        /* Counts per 1-second slot, int(N / rate) slots, extended until N arrivals. */
        size_t k = 0; /* slot by slot: the same law as int(N/rate) slots, then extensions */
        for (size_t s = 0; k < n; s++) {
            if (stop_asked(poll, 1)) /* n / rate slots: hours at a tiny rate */
                return SIM_EINTR;
            unsigned cnt = gsl_ran_poisson(r, c->rate);
            for (unsigned q = 0; q < cnt && k < n; q++)
                j[k++].a = (int64_t)s * TICKS_PER_S;
        }
        return SIM_OK;
    }
    /* Gamma: N gaps, sorted ascending, summed. */
    double *g = sim_malloc(n * sizeof *g);
    if (!g)
        return SIM_ENOMEM;
    double shape = 1.0 / (c->cv * c->cv), scale = c->cv * c->cv / c->rate, t = 0;
    for (size_t i = 0; i < n; i++)
        g[i] = gsl_ran_gamma(r, shape, scale);
    gsl_sort(g, 1, n);
    for (size_t i = 0; i < n; i++) {
        t += g[i];
        j[i].a = llround(t * TICKS_PER_S);
    }
    sim_free(g);
    return SIM_OK;
}

/* Start batch[0..nb) at *t and run it: a static batch to its longest member, a continuous one
 * to its first completion. Advances *t, stamps start and completion times, and moves the members
 * still unfinished (remaining time reduced) to the front of batch, in batch order. Returns how
 * many are left. */
static size_t run_batch(struct job *j, size_t *batch, size_t nb, int continuous, int64_t *t)
{
    int64_t d = continuous ? INT64_MAX : 0;
    for (size_t k = 0; k < nb; k++) {
        int64_t rem = j[batch[k]].rem;
        j[batch[k]].start = *t;
        if (continuous ? rem < d : rem > d)
            d = rem;
    }
    *t += d;
    size_t left = 0;
    for (size_t k = 0; k < nb; k++) {
        struct job *x = &j[batch[k]];
        if (x->rem <= d) {
            x->done = *t;
        } else {
            x->rem -= d;
            batch[left++] = batch[k];
        }
    }
    return left;
}

/* ---- FCFS ---- */

/* Work arrays, allocated once per run: q holds 2n, batch B, w and ord n entries each. */
struct scratch {
    size_t *q, *batch, *w, *ord;
};

/* Returns 0 or SIM_EINTR. */
static int run_fcfs(struct job *j, size_t n, size_t B, int continuous, int64_t wait,
                    const struct scratch *sc, struct poll *poll)
{
    size_t *q = sc->q, head = n, tail = n; /* deque in [head, tail) */
    size_t *batch = sc->batch;
    for (size_t i = 0; i < n; i++)
        q[tail++] = i;
    int64_t t = 0;
    while (head < tail) {
        if (stop_asked(poll, 1))
            return SIM_EINTR;
        if (t < j[q[head]].a)
            t = j[q[head]].a;
        size_t nb = 0;
        while (nb < B && head < tail && j[q[head]].a <= t + wait)
            batch[nb++] = q[head++];
        int64_t s = nb == B ? j[batch[nb - 1]].a : t + wait;
        if (s > t)
            t = s;
        size_t nl = run_batch(j, batch, nb, continuous, &t);
        for (size_t k = 0; k < nl; k++)
            q[--head] = batch[k]; /* back at the head, one at a time: reversed */
    }
    return SIM_OK;
}

/* ---- SJF / SSJF ---- */

static int64_t key_of(const struct job *x, int ssjf) { return ssjf ? x->p : x->rem; }

/* Stable insertion sort of idx[0..n) by key (ascending) or by age (descending). O(n^2): tens of
 * seconds for the largest queue (ssjf.jobs = 10^5), so it polls. Returns 0 or SIM_EINTR (idx
 * then partly sorted). */
static int stable_sort(size_t *idx, size_t n, const struct job *j, int by_age, int ssjf,
                       struct poll *poll)
{
    for (size_t i = 1; i < n; i++) {
        if (stop_asked(poll, i)) /* at most i comparisons follow */
            return SIM_EINTR;
        size_t v = idx[i], k = i;
        while (k > 0) {
            const struct job *a = &j[idx[k - 1]], *b = &j[v];
            int               before = by_age ? b->age > a->age : key_of(b, ssjf) < key_of(a, ssjf);
            if (!before)
                break;
            idx[k] = idx[k - 1];
            k--;
        }
        idx[k] = v;
    }
    return SIM_OK;
}

/* Sets *ran to the number of jobs that ran (n, or n - 1 by the idle-last-job quirk). Returns 0
 * or SIM_EINTR. */
static int run_sjf(struct job *j, size_t n, size_t B, int continuous, int ssjf, int64_t starve,
                   double factor, const struct scratch *sc, struct poll *poll, size_t *ran_out)
{
    size_t *w = sc->w, *ord = sc->ord, *batch = sc->batch;
    size_t  nw = 0, next = 0, ran = n;
    int64_t t = 0;
    for (;;) {
        if (stop_asked(poll, 1))
            return SIM_EINTR;
        if (nw == 0) {
            if (next >= n)
                break;
            if (next == n - 1 && n > 1) { /* quirk: an idle system never runs the last job */
                j[next].done = -1;
                ran = n - 1;
                break;
            }
            if (t < j[next].a)
                t = j[next].a;
        }
        while (next < n && j[next].a <= t)
            w[nw++] = next++;
        memcpy(ord, w, nw * sizeof *ord);
        if (stable_sort(ord, nw, j, 1, ssjf, poll)) /* by age, oldest first */
            return SIM_EINTR;
        const struct job *h = &j[ord[0]];
        int aging = (double)h->age > (double)starve || (double)h->age > factor * (double)h->rem;
        if (!aging) {
            memcpy(ord, w, nw * sizeof *ord);
            if (stable_sort(ord, nw, j, 0, ssjf, poll))
                return SIM_EINTR;
        }
        size_t nb = nw < B ? nw : B;
        for (size_t k = 0; k < nb; k++)
            batch[k] = ord[k];
        /* Remove the batch from W, keeping the others' order. */
        size_t m = 0;
        for (size_t i = 0; i < nw; i++) {
            int in = 0;
            for (size_t k = 0; k < nb; k++)
                in |= w[i] == batch[k];
            if (!in)
                w[m++] = w[i];
        }
        nw = m;
        int64_t t0 = t;
        size_t  nl = run_batch(j, batch, nb, continuous, &t);
        int64_t d = t - t0;
        for (size_t k = 0; k < nl; k++)
            w[nw++] = batch[k]; /* at the tail, original p kept */
        for (size_t i = 0; i < nw; i++)
            j[w[i]].age += d;
    }
    *ran_out = ran;
    return SIM_OK;
}

int compat_ssjf_run(const struct cfg *c, const char *path, FILE *rows, serve_progress_fn progress,
                    void *progress_ctx, struct met_summary *out, struct sim_msg *err)
{
    struct rowset  rs = {0};
    int            rc = load_rows(path, &rs, err);
    size_t         n = c->ssjf_jobs, R = c->ssjf_repeats;
    size_t         B = c->batching == BATCH_NONE ? 1 : c->max_batch;
    int            continuous = c->batching == BATCH_CONTINUOUS;
    int            policy = c->policy == SCHED_FCFS ? 0 : c->policy == SCHED_SJF ? 1 : 2;
    struct job    *j = NULL;
    size_t        *all = NULL, *pick = NULL;
    double        *jct = NULL, *wt = NULL, *mean_jct = NULL, *thr = NULL, *nmk = NULL, *p99 = NULL;
    gsl_rng       *r = NULL;
    struct scratch sc = {0};
    size_t         n_jct = 0;
    struct poll    poll = {.fn = progress, .ctx = progress_ctx};
    memset(out, 0, sizeof *out);
    if (rc)
        goto out;
    if (c->policy == SCHED_S3) {
        rc = sim_msg_set(err, SIM_ECONFIG, "compat ssjf: policy must be fcfs, sjf or ssjf");
        goto out;
    }
    if (rs.n < n) {
        rc = sim_msg_set(err, SIM_ECONFIG, "compat ssjf: %s has %zu rows, fewer than %zu jobs",
                         path, rs.n, n);
        goto out;
    }
    j = sim_calloc(n, sizeof *j);
    all = sim_malloc(rs.n * sizeof *all);
    pick = sim_malloc(n * sizeof *pick);
    jct = sim_malloc(n * R * sizeof *jct);
    wt = sim_malloc(n * R * sizeof *wt);
    mean_jct = sim_malloc(R * sizeof *mean_jct);
    p99 = sim_malloc(R * sizeof *p99);
    thr = sim_malloc(R * sizeof *thr);
    nmk = sim_malloc(R * sizeof *nmk);
    r = rng_new(c->seed, RNG_COMPAT);
    sc.q = sim_malloc(2 * n * sizeof *sc.q);
    sc.batch = sim_malloc(B * sizeof *sc.batch);
    sc.w = sim_malloc(n * sizeof *sc.w);
    sc.ord = sim_malloc(n * sizeof *sc.ord);
    if (!sc.q || !sc.batch || !sc.w || !sc.ord || !j || !all || !pick || !jct || !wt || !mean_jct ||
        !p99 || !thr || !nmk || !r) {
        rc = sim_msg_set(err, SIM_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < rs.n; i++)
        all[i] = i;
    int64_t wait = llround(c->ssjf_wait_s * TICKS_PER_S);
    int64_t starve = llround(c->ssjf_starve_s * TICKS_PER_S);
    for (size_t rep = 0; rep < R; rep++) {
        memset(j, 0, n * sizeof *j);
        if ((rc = arrivals(c, r, j, n, &poll))) {
            sim_msg_set(err, rc, rc == SIM_EINTR ? "interrupted" : "out of memory");
            goto out;
        }
        gsl_ran_choose(r, pick, n, all, rs.n, sizeof *pick); /* without replacement ... */
        gsl_ran_shuffle(r, pick, n, sizeof *pick);           /* ... in random order */
        for (size_t i = 0; i < n; i++) {
            struct job *x = &j[i];
            x->tokens = rs.len[pick[i]];
            x->cls = rs.cls[pick[i]];
            x->e = x->rem = 10 + 2 * (int64_t)x->tokens; /* round(0.1 + 0.02 L, 2) s */
            x->p = 10 + 2 * (int64_t)x->cls;
            x->start = x->done = 0;
        }
        size_t ran = n;
        rc = policy == 0 ? run_fcfs(j, n, B, continuous, wait, &sc, &poll)
                         : run_sjf(j, n, B, continuous, policy == 2, starve, c->ssjf_starve_k, &sc,
                                   &poll, &ran);
        if (rc) {
            sim_msg_set(err, rc, "interrupted");
            goto out;
        }
        double *cj = jct + n_jct, *done = sim_malloc(n * sizeof *done);
        if (!done) {
            rc = sim_msg_set(err, SIM_ENOMEM, "out of memory");
            goto out;
        }
        size_t k = 0;
        double last = 0;
        for (size_t i = 0; i < n; i++) {
            const struct job *x = &j[i];
            if (x->done < 0)
                continue;
            cj[k] = (double)(x->done - x->a) / TICKS_PER_S;
            wt[n_jct + k] = (double)(x->start - x->a) / TICKS_PER_S;
            done[k] = (double)x->done / TICKS_PER_S;
            if (done[k] > last)
                last = done[k];
            if (rows)
                fprintf(rows, "%zu,%zu,%.2f,%u,%u,%.2f,%.2f,%.2f,%.2f\n", rep, i,
                        (double)x->a / TICKS_PER_S, x->tokens, x->cls, (double)x->e / TICKS_PER_S,
                        (double)x->start / TICKS_PER_S, done[k], cj[k]);
            k++;
        }
        SIM_ASSERT(k == ran);
        mean_jct[rep] = gsl_stats_mean(cj, 1, k);
        double *tmp = sim_malloc(k * sizeof *tmp);
        if (!tmp) {
            sim_free(done);
            rc = sim_msg_set(err, SIM_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(tmp, cj, k * sizeof *tmp);
        gsl_sort(tmp, 1, k);
        p99[rep] = gsl_stats_quantile_from_sorted_data(tmp, 1, k, 0.99);
        sim_free(tmp);
        gsl_sort(done, 1, k);
        size_t pos = (size_t)(0.25 * (double)(k - 1)); /* int(np.percentile(range(n), 25)) */
        thr[rep] = done[pos] > 0 ? (double)pos / done[pos] : NAN;
        nmk[rep] = last > 0 ? (double)k / last : NAN;
        sim_free(done);
        n_jct += k;
        poll.st.finished = n_jct;
    }
    out->completed = n_jct;
    out->failed = n * R - n_jct;
    out->ttft.mean = out->ttft.median = out->ttft.p90 = out->ttft.p99 = out->ttft.std = NAN;
    out->tpot = out->itl = out->norm = out->ttft;
    /* JCT: pooled statistics, but the mean and p99 as the paper computes them: per repetition,
     * then averaged. */
    met_stat_of(jct, n_jct, &out->e2el);
    out->e2el.mean = gsl_stats_mean(mean_jct, 1, R);
    out->e2el.p99 = gsl_stats_mean(p99, 1, R);
    met_stat_of(wt, n_jct, &out->queue);
    out->ssjf_throughput = gsl_stats_mean(thr, 1, R);
    out->request_throughput = gsl_stats_mean(nmk, 1, R);
    out->duration_s = NAN;
    out->output_throughput = out->total_token_throughput = NAN;
    out->request_goodput = out->slo_attainment = NAN;
    out->mean_kv_util = out->peak_kv_util = out->mean_batch_size = NAN;
out:
    sim_free(sc.q);
    sim_free(sc.batch);
    sim_free(sc.w);
    sim_free(sc.ord);
    sim_free(rs.len);
    sim_free(rs.cls);
    sim_free(j);
    sim_free(all);
    sim_free(pick);
    sim_free(jct);
    sim_free(wt);
    sim_free(mean_jct);
    sim_free(p99);
    sim_free(thr);
    sim_free(nmk);
    rng_free(r);
    return rc;
}
