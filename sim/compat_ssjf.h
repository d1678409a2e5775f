/*
 * compat_ssjf.h: the SSJF paper's public simulator (Qiu et al., AIOps'24), re-stated so that the
 * paper's numbers can be reproduced inside lensim (`compat: ssjf`).
 *
 * Source: github.com/James-QiuHaoran/LLM-serving-with-proxy-models, folder model-serving/, commit
 * 4b86686 (read with the search tool): job.py:184-197, 244-258 (jobs), fcfs.py:30-99 and
 * fcfs_dynamic.py:185-248 (FCFS), sjf.py:43-169 and sjf_dynamic.py:44-159 (SJF and SSJF, the
 * latter with use_prediction), simulator.py:17-82 (metrics), util.py:6-26 (parameters),
 * eval.py:16-162 and auto_eval.py:44-105 (a repetition, the averaging). The repository's
 * STATIC_BATCHING is lensim's `dynamic`, its DYNAMIC_BATCHING lensim's `continuous`.
 *   - a job of L true tokens takes e = round(0.1 + 0.02 L, 2) s; its predicted time is
 *     p = round(0.1 + 0.02 P, 2) with P the predicted class index (only the order matters);
 *   - a batch of B runs at single-job speed (B parallel slots); no prompts, no memory;
 *   - FCFS: the clock jumps to the head's arrival; a batch takes jobs arriving within
 *     ssjf.batch_wait_s (10 s), up to B; a full batch starts at its last member's arrival, one
 *     that is not full idles until now + 10 s;
 *   - SJF (key: execution time, the remaining one in continuous mode) and SSJF (key p) never
 *     wait. When the queue is empty the clock moves to the next arrival. Before each batch the
 *     queue is stably sorted, by key, or by age (oldest first) when the oldest job (the first of
 *     the greatest age in queue order) has waited more than 100 s or more than 10x its true
 *     remaining time; the queue keeps that order, so later ties break by it. Jobs arriving
 *     during a batch join the queue as they arrive; after the batch every queued job (those
 *     arrivals and the continuous leftovers included) ages by the time since the previous
 *     batch ended (idle gaps included);
 *   - static batches run to their longest member; continuous batches to their shortest, then
 *     re-form: FCFS puts leftovers back at the head one by one (reversed), SJF and SSJF append
 *     them after the jobs that arrived during the batch, with their original p;
 *   - SJF/SSJF stop once the queue is empty and only the last job has not arrived: a last job
 *     that arrives while the system is idle never runs (N - 1 jobs; a single job never runs);
 *   - arrivals: Poisson counts per 1-second slot at whole seconds; Gamma gaps sorted, then
 *     summed (floats, never rounded); each repetition draws N rows without replacement;
 *   - throughput = pos / t_pos with pos = int(25th percentile of range(n)) over the sorted
 *     completion times (clock from 0), next to N / makespan; JCT mean and p99 and the mean wait
 *     per repetition, averaged over the repetitions.
 * Time is a double, and the clock moves as the original's does, in slices of at most 1 s with the
 * remainder carried (only the float rounding depends on it): tests/ssjf_ref.py, a separate
 * transcription checked against the authors' code, agrees with this one bit for bit.
 */
#ifndef LENSIM_COMPAT_SSJF_H
#define LENSIM_COMPAT_SSJF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cfg.h"
#include "met.h"
#include "serve.h"

/* Run the repetitions of c with the predictions file at `path`; write one row per job to rows
 * (may be NULL) and the averaged metrics to *out. progress (may be NULL) is polled in every long
 * loop with the jobs finished so far (s->finished) and stops the run when it returns nonzero.
 * Returns 0, SIM_EINTR when stopped, or SIM_EIO / SIM_EINPUT / SIM_ECONFIG / SIM_ENOMEM with the
 * reason in err. */
int compat_ssjf_run(const struct cfg *c, const char *path, FILE *rows, serve_progress_fn progress,
                    void *progress_ctx, struct met_summary *out, struct sim_msg *err);

/* One job of compat_ssjf_schedule: arrival_s, tokens and cls are inputs; start_s (the last start)
 * and done_s (completion; NAN when the job never ran) are outputs. */
struct compat_ssjf_job {
    double   arrival_s;
    uint32_t tokens, cls;
    double   start_s, done_s;
};

/* Run the scheduling loop of c's policy and batching once on jobs[0..n), given in non-decreasing
 * arrival order (the authors' schedule() sorts them so); c->ssjf_jobs is not used. Sets *ran to
 * the jobs that completed. Returns 0, SIM_EINPUT (arrivals out of order), SIM_ECONFIG (policy
 * s3) or SIM_ENOMEM, with the reason in err. For tests that compare job by job. */
int compat_ssjf_schedule(const struct cfg *c, struct compat_ssjf_job *jobs, size_t n, size_t *ran,
                         struct sim_msg *err);

extern const char compat_ssjf_rows_header[];

#endif
