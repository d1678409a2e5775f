/*
 * compat_ssjf.c: SSJF's public simulator, re-stated (compat_ssjf.h: the semantics and the source,
 * LLM-serving-with-proxy-models model-serving/ at 4b86686; file:line cited at each rule below).
 */
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

/* ---- stopping: the caller's progress hook, polled in every loop that can run long ----
 * (Poisson slots at a tiny rate, the batches of a repetition, the sorts of a large queue, the
 * clock's 1-second slices over a long idle gap or batch). Each
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
    double   a;           /* arrival_time, s */
    double   e;           /* execution_duration, s: continuous batches shorten it */
    double   e0;          /* the full service time, for the rows */
    double   p;           /* predicted_execution_duration, s */
    double   age;         /* curr_waiting_time, s (SJF/SSJF) */
    double   start, done; /* last start; completion (NAN: never ran) */
    uint32_t tokens, cls;
};

/* round(0.1 + 0.02 L, 2) (job.py:251, 255): the double nearest (10 + 2 L) / 100, which is what
 * Python's round gives (checked for every L below 2 10^6 and a million random L below 10^7). */
static double service_s(uint32_t units) { return (double)(10 + 2 * (int64_t)units) / 100.0; }

/* Arrivals of one repetition (job.py:184-197), in seconds, never rounded. Returns 0, SIM_ENOMEM
 * or SIM_EINTR. */
static int arrivals(const struct cfg *c, gsl_rng *r, struct job *j, size_t n, struct poll *poll)
{
    if (c->arrival == TRACE_ARR_BATCH) {
        for (size_t i = 0; i < n; i++)
            j[i].a = 0;
        return SIM_OK;
    }
    if (c->arrival == TRACE_ARR_POISSON) {
        /* Counts per 1-second slot, int(N / rate) slots, extended until N arrivals: arrivals at
         * whole seconds (job.py:76-92, 185-189). */
        size_t k = 0; /* slot by slot: the same law as int(N/rate) slots, then extensions */
        for (size_t s = 0; k < n; s++) {
            if (stop_asked(poll, 1)) /* n / rate slots: hours at a tiny rate */
                return SIM_EINTR;
            unsigned cnt = gsl_ran_poisson(r, c->rate);
            for (unsigned q = 0; q < cnt && k < n; q++)
                j[k++].a = (double)s;
        }
        return SIM_OK;
    }
    /* Gamma: N gaps, sorted ascending, summed one by one as np.cumsum does (job.py:193-197). */
    double *g = sim_malloc(n * sizeof *g);
    if (!g)
        return SIM_ENOMEM;
    double shape = 1.0 / (c->cv * c->cv), scale = c->cv * c->cv / c->rate, t = 0;
    for (size_t i = 0; i < n; i++)
        g[i] = gsl_ran_gamma(r, shape, scale);
    gsl_sort(g, 1, n);
    for (size_t i = 0; i < n; i++) {
        t += g[i];
        j[i].a = t;
    }
    sim_free(g);
    return SIM_OK;
}

/* ---- the authors' clock ----
 * Time is a float that moves in slices of at most 1 s; the part of a slice a job did not use is
 * carried into the next step (sjf.py:54, 75-87, 133-143; fcfs.py:40, 59-68, 79-87). Only the
 * float rounding of the clock depends on the slices, never a decision, but the rounding decides
 * ties such as `arrival <= t`, so the steps are re-stated operation by operation and the clock
 * is the original's to the last bit. */
struct clk {
    double t, slice;
};

/* The jobs not yet in the SJF/SSJF queue, and the queue. */
struct sjfq {
    struct job *j;
    size_t      n, next; /* j[next..n) have not joined the queue */
    size_t     *w, nw;   /* wait_queue, in its order */
};

/* Append to the queue every job that has arrived by t, in arrival order (sjf.py:67-72). */
static void admit(struct sjfq *q, double t)
{
    while (q->next < q->n && q->j[q->next].a <= t)
        q->w[q->nw++] = q->next++;
}

/* Run for d seconds (sjf.py:133-151, fcfs.py:79-87). After every slice the SJF/SSJF loop admits
 * the jobs arrived so far (q; NULL for FCFS, which admits when it forms a batch). Returns 0 or
 * SIM_EINTR. */
static int run_for(struct clk *k, double d, struct sjfq *q, struct poll *poll)
{
    while (d > 0) {
        if (stop_asked(poll, 1))
            return SIM_EINTR;
        d -= k->slice;
        if (d < 0) { /* done within this slice: keep the rest of it */
            k->t += d + k->slice;
            k->slice = -d;
        } else {
            k->t += k->slice;
            k->slice = 1;
        }
        if (q)
            admit(q, k->t);
    }
    return SIM_OK;
}

/* The batch's length: static batches run to their longest member (sjf.py:122, fcfs.py:57),
 * continuous ones to their shortest (sjf_dynamic.py:114, fcfs_dynamic.py:208). */
static double batch_len(const struct job *j, const size_t *batch, size_t nb, int continuous)
{
    double d = j[batch[0]].e;
    for (size_t k = 1; k < nb; k++) {
        double e = j[batch[k]].e;
        if (continuous ? e < d : e > d)
            d = e;
    }
    return d;
}

/* ---- FCFS (fcfs.py, fcfs_dynamic.py) ---- */

/* Work arrays, allocated once per run: q holds 2n, batch B, w and tmp n entries each. */
struct scratch {
    size_t *q, *batch, *w, *tmp;
};

/* Returns 0 or SIM_EINTR. */
static int run_fcfs(struct job *j, size_t n, size_t B, int continuous, double wait,
                    const struct scratch *sc, struct poll *poll)
{
    size_t    *q = sc->q, head = n, tail = n; /* deque in [head, tail) */
    size_t    *batch = sc->batch;
    struct clk k = {0, 1};
    for (size_t i = 0; i < n; i++)
        q[tail++] = i;
    while (head < tail) {
        if (stop_asked(poll, 1))
            return SIM_EINTR;
        if (k.t < j[q[head]].a) /* fcfs.py:48-49 */
            k.t = j[q[head]].a;
        size_t nb = 0; /* fcfs.py:50-51: arrivals within the wait count, up to B */
        while (nb < B && head < tail && j[q[head]].a <= k.t + wait)
            batch[nb++] = q[head++];
        /* A full batch starts at its last member's arrival, one that is not full after the wait
         * (fcfs.py:53-56). */
        double s = nb == B ? j[batch[nb - 1]].a : k.t + wait;
        double d = batch_len(j, batch, nb, continuous);
        if (fabs(k.slice) < 0.005) /* round(time_slice, 2) == 0 (fcfs.py:60-61) */
            k.slice = 1;
        while (k.t < s) { /* fcfs.py:62-68: the slice is not reset to 1 here */
            if (stop_asked(poll, 1))
                return SIM_EINTR;
            if (k.t + k.slice < s) {
                k.t += k.slice;
            } else {
                k.slice = 1 - (s - k.t);
                k.t = s;
            }
        }
        for (size_t m = 0; m < nb; m++)
            j[batch[m]].start = k.t;
        if (run_for(&k, d, NULL, poll))
            return SIM_EINTR;
        for (size_t m = 0; m < nb; m++) {
            struct job *x = &j[batch[m]];
            if (!continuous || x->e <= d) {
                x->done = k.t;
            } else { /* fcfs_dynamic.py:243-247: back at the head one at a time: reversed */
                x->e = fmax(x->e - d, 0);
                q[--head] = batch[m];
            }
        }
    }
    return SIM_OK;
}

/* ---- SJF / SSJF (sjf.py, sjf_dynamic.py) ---- */

/* Does x go strictly before y: by key ascending (SSJF: predicted, SJF: execution_duration, the
 * remaining time in continuous mode), or by age descending? */
static int before(const struct job *x, const struct job *y, int by_age, int ssjf)
{
    if (by_age)
        return x->age > y->age;
    return ssjf ? x->p < y->p : x->e < y->e;
}

/* Python's sorted(): stable, so equal keys keep the queue's order (reverse=True too). Sorts
 * w[0..n) by merging runs, tmp holds n entries; O(n) when already sorted, O(n log n) at worst.
 * Returns 0 or SIM_EINTR (w then unchanged or sorted). */
static int stable_sort(size_t *w, size_t *tmp, size_t n, const struct job *j, int by_age, int ssjf,
                       struct poll *poll)
{
    size_t i = 1;
    while (i < n && !before(&j[w[i]], &j[w[i - 1]], by_age, ssjf))
        i++;
    if (stop_asked(poll, i)) /* i comparisons so far */
        return SIM_EINTR;
    if (i >= n)
        return SIM_OK;
    size_t *src = w, *dst = tmp;
    for (size_t run = 1; run < n; run *= 2) {
        if (stop_asked(poll, n)) {
            if (src != w)
                memcpy(w, src, n * sizeof *w);
            return SIM_EINTR;
        }
        for (size_t lo = 0; lo < n; lo += 2 * run) {
            size_t mid = lo + run < n ? lo + run : n, hi = lo + 2 * run < n ? lo + 2 * run : n;
            size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi) /* the right run's element only when strictly before */
                dst[o++] = before(&j[src[b]], &j[src[a]], by_age, ssjf) ? src[b++] : src[a++];
            while (a < mid)
                dst[o++] = src[a++];
            while (b < hi)
                dst[o++] = src[b++];
        }
        size_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != w)
        memcpy(w, src, n * sizeof *w);
    return SIM_OK;
}

/* Sets *ran_out to the number of jobs that ran (n, n - 1 when the last job arrives while the
 * system is idle, 0 when n is 1). Returns 0 or SIM_EINTR. */
static int run_sjf(struct job *j, size_t n, size_t B, int continuous, int ssjf, double wait,
                   double starve, double factor, const struct scratch *sc, struct poll *poll,
                   size_t *ran_out)
{
    struct sjfq q = {.j = j, .n = n, .w = sc->w};
    size_t     *batch = sc->batch, ran = 0;
    struct clk  k = {0, 1};
    double      prev = 0; /* prev_completion_time (sjf.py:53) */
    /* sjf.py:57: the loop stops once the queue is empty and at most the last job is left, so a
     * last job arriving while the system is idle never runs. */
    while (q.next + 1 < n || q.nw > 0) {
        if (stop_asked(poll, 1 + q.nw)) /* the passes over the queue below */
            return SIM_EINTR;
        if (q.nw == 0) { /* idle: wait for the next arrival (sjf.py:59-95) */
            double a = j[q.next].a;
            if (k.t >= a)
                admit(&q, k.t);
            while (k.t < a) {
                if (stop_asked(poll, 1))
                    return SIM_EINTR;
                if (k.t + k.slice < a) {
                    k.t += k.slice;
                    k.slice = 1;
                } else {
                    k.slice = 1 - (a - k.t);
                    k.t = a;
                    admit(&q, k.t);
                }
            }
        }
        /* Aging (sjf.py:97-106): the head of the queue sorted by age, descending and stable, is
         * the first job of the greatest age; over the threshold, or over factor times its
         * execution_duration (the true remaining time, even for SSJF), the queue becomes the age
         * order, else the key order. Either way the queue keeps that order. */
        size_t h = q.w[0];
        for (size_t i = 1; i < q.nw; i++)
            if (j[q.w[i]].age > j[h].age)
                h = q.w[i];
        int aging = j[h].age > starve || j[h].age > j[h].e * factor;
        if (stable_sort(q.w, sc->tmp, q.nw, j, aging, ssjf, poll))
            return SIM_EINTR;
        /* The batch: the queue's first B jobs (sjf.py:114-116; every queued job has arrived, so
         * the timeout test there always holds). */
        size_t nb = 0;
        while (nb < B && nb < q.nw && j[q.w[nb]].a <= k.t + wait)
            nb++;
        memcpy(batch, q.w, nb * sizeof *batch);
        memmove(q.w, q.w + nb, (q.nw - nb) * sizeof *q.w);
        q.nw -= nb;
        double d = batch_len(j, batch, nb, continuous);
        for (size_t m = 0; m < nb; m++)
            j[batch[m]].start = k.t;
        if (run_for(&k, d, &q, poll)) /* arrivals join during the batch (sjf.py:145-151) */
            return SIM_EINTR;
        for (size_t m = 0; m < nb; m++) {
            struct job *x = &j[batch[m]];
            if (!continuous || x->e <= d) {
                x->done = k.t;
                ran++;
            } else { /* sjf_dynamic.py:148-152: after the arrivals, original p kept */
                x->e = fmax(x->e - d, 0);
                q.w[q.nw++] = batch[m];
            }
        }
        /* Everyone queued now ages by the time since the previous batch ended: idle gap, jobs
         * that arrived during the batch and leftovers included (sjf.py:164-168). */
        double inc = k.t - prev;
        prev = k.t;
        for (size_t i = 0; i < q.nw; i++)
            j[q.w[i]].age += inc;
    }
    *ran_out = ran;
    return SIM_OK;
}

/* Allocate the work arrays for n jobs in batches of B. Returns 0 or SIM_ENOMEM. */
static int scratch_new(struct scratch *sc, size_t n, size_t B)
{
    sc->q = sim_malloc(2 * n * sizeof *sc->q);
    sc->batch = sim_malloc(B * sizeof *sc->batch);
    sc->w = sim_malloc(n * sizeof *sc->w);
    sc->tmp = sim_malloc(n * sizeof *sc->tmp);
    return sc->q && sc->batch && sc->w && sc->tmp ? SIM_OK : SIM_ENOMEM;
}

static void scratch_free(struct scratch *sc)
{
    sim_free(sc->q);
    sim_free(sc->batch);
    sim_free(sc->w);
    sim_free(sc->tmp);
}

/* Fill j[i]'s service times from its tokens and class, clear its outputs. */
static void job_reset(struct job *x)
{
    x->e = x->e0 = service_s(x->tokens);
    x->p = service_s(x->cls);
    x->age = 0;
    x->start = x->done = NAN;
}

/* Run c's policy on j[0..n) (arrival order). Returns 0 or SIM_EINTR; *ran as run_sjf. */
static int schedule(const struct cfg *c, struct job *j, size_t n, const struct scratch *sc,
                    struct poll *poll, size_t *ran)
{
    size_t B = c->batching == BATCH_NONE ? 1 : c->max_batch;
    int    continuous = c->batching == BATCH_CONTINUOUS;
    *ran = n;
    if (c->policy == SCHED_FCFS)
        return run_fcfs(j, n, B, continuous, c->ssjf_wait_s, sc, poll);
    return run_sjf(j, n, B, continuous, c->policy == SCHED_SSJF, c->ssjf_wait_s, c->ssjf_starve_s,
                   c->ssjf_starve_k, sc, poll, ran);
}

int compat_ssjf_schedule(const struct cfg *c, struct compat_ssjf_job *jobs, size_t n, size_t *ran,
                         struct sim_msg *err)
{
    *ran = 0;
    if (c->policy == SCHED_S3)
        return sim_msg_set(err, SIM_ECONFIG, "compat ssjf: policy must be fcfs, sjf or ssjf");
    for (size_t i = 1; i < n; i++)
        if (!(jobs[i].arrival_s >= jobs[i - 1].arrival_s))
            return sim_msg_set(err, SIM_EINPUT, "compat ssjf: job %zu arrives before job %zu", i,
                               i - 1);
    size_t         B = c->batching == BATCH_NONE ? 1 : c->max_batch;
    struct scratch sc = {0};
    struct poll    poll = {0};
    struct job    *j = sim_calloc(n ? n : 1, sizeof *j);
    int            rc = scratch_new(&sc, n ? n : 1, B);
    if (!j || rc) {
        rc = sim_msg_set(err, SIM_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        j[i].a = jobs[i].arrival_s;
        j[i].tokens = jobs[i].tokens;
        j[i].cls = jobs[i].cls;
        job_reset(&j[i]);
    }
    rc = schedule(c, j, n, &sc, &poll, ran); /* no hook: cannot be stopped */
    for (size_t i = 0; i < n; i++) {
        jobs[i].start_s = j[i].start;
        jobs[i].done_s = j[i].done;
    }
out:
    scratch_free(&sc);
    sim_free(j);
    return rc;
}

int compat_ssjf_run(const struct cfg *c, const char *path, FILE *rows, serve_progress_fn progress,
                    void *progress_ctx, struct met_summary *out, struct sim_msg *err)
{
    struct rowset  rs = {0};
    int            rc = load_rows(path, &rs, err);
    size_t         n = c->ssjf_jobs, R = c->ssjf_repeats;
    size_t         B = c->batching == BATCH_NONE ? 1 : c->max_batch;
    struct job    *j = NULL;
    size_t        *all = NULL, *pick = NULL;
    double        *jct = NULL, *wt = NULL, *done = NULL, *mean_jct = NULL, *mean_wt = NULL;
    double        *thr = NULL, *nmk = NULL, *p99 = NULL;
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
    done = sim_malloc(n * sizeof *done);
    mean_jct = sim_malloc(R * sizeof *mean_jct);
    mean_wt = sim_malloc(R * sizeof *mean_wt);
    p99 = sim_malloc(R * sizeof *p99);
    thr = sim_malloc(R * sizeof *thr);
    nmk = sim_malloc(R * sizeof *nmk);
    r = rng_new(c->seed, RNG_COMPAT);
    if (scratch_new(&sc, n, B) || !j || !all || !pick || !jct || !wt || !done || !mean_jct ||
        !mean_wt || !p99 || !thr || !nmk || !r) {
        rc = sim_msg_set(err, SIM_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < rs.n; i++)
        all[i] = i;
    for (size_t rep = 0; rep < R; rep++) {
        memset(j, 0, n * sizeof *j);
        if ((rc = arrivals(c, r, j, n, &poll))) {
            sim_msg_set(err, rc, rc == SIM_EINTR ? "interrupted" : "out of memory");
            goto out;
        }
        /* DataFrame.sample(n): N rows without replacement, in random order (job.py:244). */
        gsl_ran_choose(r, pick, n, all, rs.n, sizeof *pick);
        gsl_ran_shuffle(r, pick, n, sizeof *pick);
        for (size_t i = 0; i < n; i++) {
            j[i].tokens = rs.len[pick[i]];
            j[i].cls = rs.cls[pick[i]];
            job_reset(&j[i]);
        }
        size_t ran;
        if ((rc = schedule(c, j, n, &sc, &poll, &ran))) {
            sim_msg_set(err, rc, "interrupted");
            goto out;
        }
        /* simulator.py:17-82 over the jobs that completed: JCT = completion - arrival, waiting =
         * last start - arrival, throughput at the 25th percentile of completions. */
        double *cj = jct + n_jct, sum_jct = 0, sum_wt = 0, last = 0;
        size_t  k = 0;
        for (size_t i = 0; i < n; i++) {
            const struct job *x = &j[i];
            if (isnan(x->done))
                continue;
            cj[k] = x->done - x->a;
            wt[n_jct + k] = x->start - x->a;
            done[k] = x->done;
            sum_jct += cj[k];
            sum_wt += wt[n_jct + k];
            if (done[k] > last)
                last = done[k];
            if (rows)
                fprintf(rows, "%zu,%zu,%.6f,%u,%u,%.2f,%.6f,%.6f,%.6f\n", rep, i, x->a, x->tokens,
                        x->cls, x->e0, x->start, x->done, cj[k]);
            k++;
        }
        SIM_ASSERT(k == ran);
        mean_jct[rep] = mean_wt[rep] = p99[rep] = thr[rep] = nmk[rep] = NAN;
        if (k) {
            mean_jct[rep] = sum_jct / (double)k;
            mean_wt[rep] = sum_wt / (double)k;
            gsl_sort(done, 1, k);
            size_t pos = (size_t)(0.25 * (double)(k - 1)); /* int(np.percentile(range(n), 25)) */
            thr[rep] = done[pos] > 0 ? (double)pos / done[pos] : NAN;
            nmk[rep] = last > 0 ? (double)k / last : NAN;
            memcpy(done, cj, k * sizeof *done); /* np.percentile(JCTs, 99), linear */
            gsl_sort(done, 1, k);
            p99[rep] = gsl_stats_quantile_from_sorted_data(done, 1, k, 0.99);
        }
        n_jct += k;
        poll.st.finished = n_jct;
    }
    out->completed = n_jct;
    out->failed = n * R - n_jct;
    out->ttft.mean = out->ttft.median = out->ttft.p90 = out->ttft.p99 = out->ttft.std = NAN;
    out->tpot = out->itl = out->norm = out->ttft;
    /* JCT and waiting: pooled statistics, but the means and p99 as the paper computes them: per
     * repetition, then averaged (auto_eval.py:55-95). */
    met_stat_of(jct, n_jct, &out->e2el);
    out->e2el.mean = gsl_stats_mean(mean_jct, 1, R);
    out->e2el.p99 = gsl_stats_mean(p99, 1, R);
    met_stat_of(wt, n_jct, &out->queue);
    out->queue.mean = gsl_stats_mean(mean_wt, 1, R);
    out->ssjf_throughput = gsl_stats_mean(thr, 1, R);
    out->request_throughput = gsl_stats_mean(nmk, 1, R);
    out->duration_s = NAN;
    out->output_throughput = out->total_token_throughput = NAN;
    out->request_goodput = out->slo_attainment = NAN;
    out->mean_kv_util = out->peak_kv_util = out->mean_batch_size = NAN;
out:
    scratch_free(&sc);
    sim_free(rs.len);
    sim_free(rs.cls);
    sim_free(j);
    sim_free(all);
    sim_free(pick);
    sim_free(jct);
    sim_free(wt);
    sim_free(done);
    sim_free(mean_jct);
    sim_free(mean_wt);
    sim_free(p99);
    sim_free(thr);
    sim_free(nmk);
    rng_free(r);
    return rc;
}
