/*
 * compat_ssjf.h: the SSJF paper's public simulator (Qiu et al., AIOps'24; repository
 * LLM-serving-with-proxy-models, model-serving/), re-stated so that the paper's numbers can be
 * reproduced inside lensim (`compat: ssjf`). Semantics, from ../shared/seeds/PAPERS.md 2.3-2.7:
 *   - a job of L true tokens takes e = 0.1 + 0.02 L seconds; its predicted time is
 *     p = 0.1 + 0.02 P with P the predicted class index (so only the order matters);
 *   - a batch of B runs at single-job speed (B parallel slots); no prompts, no memory;
 *   - FCFS takes arrivals within 10 s and idles until the timeout when the batch is not full;
 *     SJF (key e) and SSJF (key p) never wait; both switch to oldest first once the oldest job
 *     has waited more than 100 s or more than 10x its true remaining time (aging by whole batch
 *     durations, re-queued jobs included);
 *   - dynamic ("static" in the code) batches run to their longest member; continuous batches
 *     re-form at every completion: FCFS re-queues leftovers at the head in reverse order, SJF and
 *     SSJF at the tail with their original p;
 *   - Poisson arrivals are counts per 1-second slot at integer seconds; Gamma gaps are sorted
 *     before summing; each repetition draws N rows without replacement from the predictions file;
 *   - if the last job arrives while an SJF/SSJF system is idle it never runs (N - 1 jobs);
 *   - throughput = pos / t_pos with pos = int(25th percentile of range(n)) over the sorted
 *     completion times (clock from 0), next to N / makespan.
 * Time runs in integer 10 ms ticks (all inputs are multiples of 0.01 s). Results are averaged over
 * the repetitions, as the paper does.
 */
#ifndef LENSIM_COMPAT_SSJF_H
#define LENSIM_COMPAT_SSJF_H

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

extern const char compat_ssjf_rows_header[];

#endif
