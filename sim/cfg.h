/*
 * cfg.h: experiment files (YAML, through libyaml) against one declarative schema (R21).
 *
 * A file holds one experiment: a name (its directory under results/, so not empty and without
 * '/', ".." or a leading '.'), the settings that differ from the defaults, and optionally
 * `sweep:` (key -> list of values; the runs are the Cartesian product, first key outermost) and
 * `runs:` (a list of mappings of dotted keys, each one run; combined with a sweep, every run is
 * swept). Keys are two levels deep at most (`workload.rate`); a group given a scalar sets its
 * `name` (`policy: sjf` means `policy.name: sjf`). Every setting is checked against the schema:
 * unknown keys, wrong types, out-of-range values, missing required ones and bad YAML are errors
 * reported as `file:line:col: key: message` (or `--set: key: message`), before any run starts.
 * A resolved run (struct cfg) has every field set: defaults, then the file, then the run's own
 * overrides, then --set overrides; cfg_dump writes it back as YAML for the run's manifest.
 * Run names (each run's directory): a `runs:` entry's `name` (else `run<i>`, 0-based), then per
 * swept key, in order, `<key's last part>-<value>`, joined with `_`: `rate-2_memory-paged`,
 * `fast_rate-2`; a lone run is `run`. Characters other than letters, digits, `.` and `-` become
 * `_`, a leading `.` too; two runs with one name are an error.
 */
#ifndef LENSIM_CFG_H
#define LENSIM_CFG_H

#include <stdint.h>
#include <stdio.h>

#include "choice.h"
#include "evq.h"
#include "exec_live.h"
#include "kv.h"
#include "pred.h"
#include "sched.h"
#include "serve.h"
#include "sim.h"
#include "trace.h"

enum { CFG_STR_MAX = 256 };

/* compat: whose simulator semantics a run follows. */
enum cfg_compat { CFG_COMPAT_NONE = 0, CFG_COMPAT_SSJF };
extern const struct sim_choice cfg_compat_choices[];

/* Choices are held as their owners' enums (the schema names them through the owners' choice
 * sets); strings are NUL-terminated. */
struct cfg {
    char     name[CFG_STR_MAX];
    char     run_name[CFG_STR_MAX]; /* set by cfg_resolve: "run" or the swept values */
    char     description[CFG_STR_MAX];
    uint64_t seed;

    char     model[64];
    uint32_t m_layers, m_hidden, m_heads, m_kv_heads, m_head_dim, m_ffn, m_vocab, m_dtype;
    uint32_t m_max_ctx;
    int      m_gated;
    double   m_params;

    char     gpu[64];
    uint32_t tp;
    double   mem_util;
    double   host_bw_gbps;

    char profile[CFG_STR_MAX];
    int  allow_mismatch; /* issue 12: a profile of another device than hardware.gpu is refused */
    /* issue 14 (s3): a fixed time added to every iteration (framework and launch overhead) */
    double iter_overhead_ms;

    uint32_t         replicas;
    enum router_kind router;

    enum trace_format  source;
    char               path[CFG_STR_MAX];
    uint64_t           requests;
    double             rate, cv, rate_scale, start_s, end_s;
    enum trace_arrival arrival;
    uint32_t           max_prompt, max_output;
    enum trace_lengths lengths;
    double             prompt_mu, prompt_sigma, output_mu, output_sigma;
    char               lengths_path[CFG_STR_MAX];
    char               column[CFG_STR_MAX]; /* issue 14: an alpaca_eval file's model */
    int                skip_bad;

    enum batching      batching;
    uint32_t           max_batch, max_batched_tokens;
    double             max_wait_s;
    enum kv_policy     memory;
    uint32_t           block_size, max_seq_len;
    double             watermark;
    enum preempt_mode  preemption;
    enum overflow_mode overflow;
    enum evq_kind      queue;
    int                check;
    enum sched_rule    scheduler;      /* issue 10 */
    uint32_t           chunk_size;     /* issue 10: sarathi's token budget */
    int                prefix_caching; /* issue 10: vllm_v1's automatic prefix caching */

    enum sched_policy policy;
    double            aging_s, aging_factor;

    enum pred_kind predictor;
    double         pred_cost_s, pred_sigma;
    uint32_t       pred_buckets;
    char           pred_edges[CFG_STR_MAX]; /* "e1,e2,...": pred_edges_parse reads it */
    char           pred_path[CFG_STR_MAX];

    enum cfg_compat compat;
    uint32_t        ssjf_jobs, ssjf_repeats;
    char            ssjf_predictions[CFG_STR_MAX];
    double          ssjf_wait_s, ssjf_starve_s, ssjf_starve_k;

    double slo_ttft_ms, slo_tpot_ms, slo_e2el_ms, slo_norm_ms;

    int      out_requests;
    uint32_t out_timeline_rows;

    /* issue 10 (tables): engine.kv_blocks, and where it was set ("file:line:col", "--set" or
     * "(default)") for the checks that need the profile (run.c). */
    uint32_t kv_blocks;
    char     kv_blocks_at[300];
    /* Set by cfg_resolve, not settings (issue 12): whether the experiment wrote these keys
     * (not their defaults), for the rules that refuse or warn about a key given in vain. */
    int rate_given, predictor_given;
    /* issue 11: live execution mode (sim/exec_live.h) */
    enum exec_mode  mode;
    int             live_backend; /* enum kern_backend_id */
    enum live_clock live_clock;
    enum live_timer live_timer;
    double          live_max_bytes;
    uint32_t        live_threads;

    /* issue 14: seeds and confidence. Every run of the experiment runs with seeds seed, seed+1,
     * ..., seed+seeds-1 (lensim run; 1: the run alone, as before). */
    uint32_t seeds;
    /* issue 13: engine.fast_forward (enum ff_mode, ff.h) */
    int fast_forward;
};

typedef struct cfg_exp cfg_exp_t;

/* Parse and check an experiment file. Returns 0 and an owned experiment (free with cfg_free),
 * or a negative code with "file:line:col: key: message" in err. */
int cfg_load(const char *path, cfg_exp_t **out, struct sim_msg *err);
/* The same from a string (tests); `name` stands for the file name in messages. */
int  cfg_load_string(const char *text, const char *name, cfg_exp_t **out, struct sim_msg *err);
void cfg_free(cfg_exp_t *e);

/* Add a `key=value` override that applies to every run (the --set flag). Checked at once:
 * returns 0, or SIM_ECONFIG with "--set: key: message" in err. */
int cfg_add_set(cfg_exp_t *e, const char *assignment, struct sim_msg *err);

size_t cfg_n_runs(const cfg_exp_t *e);
/* Resolve run i (0-based) with every default applied and every cross-field rule checked.
 * Returns 0, or SIM_ECONFIG with the reason (and where the offending value came from). */
int cfg_resolve(const cfg_exp_t *e, size_t i, struct cfg *out, struct sim_msg *err);
/* The experiment file's directory (relative paths in it are tried from there first). */
const char *cfg_dir(const cfg_exp_t *e);

/* ---- issue 12: what varies between runs, and where a run's setting was written ---- */

/* The keys the experiment varies between its runs (its sweep's keys and the keys its `runs:`
 * entries set, as applied: `policy` is `policy.name`), each once, in the order first met: the
 * first max of them into keys (borrowed from e). Returns how many it wrote. Pure. */
size_t cfg_varied_keys(const cfg_exp_t *e, const char **keys, size_t max);
/* The value of key in c as plain text (a choice by its name, a number as cfg_dump writes it, a
 * string as is). Returns 0, or SIM_ECONFIG (buf "") for an unknown key. */
int cfg_value_text(const struct cfg *c, const char *key, char *buf, size_t n);
/* The same as a JSON value of the key's type (a number, true/false, or a string). Returns 0, or
 * SIM_ECONFIG (writing null) for an unknown key. */
int cfg_value_json(const struct cfg *c, const char *key, FILE *f);
/* A message "KEY: why" about run i (from run_build) becomes "file:line:col: KEY: why", the place
 * where run i's value of KEY was written (or "file: KEY: why (default)", or "--set: KEY: ...").
 * A message that does not start with a key is left as it is. */
void cfg_place_msg(const cfg_exp_t *e, size_t i, struct sim_msg *err);

/* Write c as YAML, every key with its value. */
void cfg_dump(const struct cfg *c, FILE *f);
/* 64-bit FNV-1a hash of cfg_dump's text, leaving out the settings that cannot change results
 * (engine.queue, engine.check): the experiment hash in manifests and file headers. */
uint64_t cfg_hash(const struct cfg *c);

/* The choice set of a choice key ("policy.name"), or NULL for any other key. Borrows key;
 * the set is static. */
const struct sim_choice *cfg_choices_of(const char *key);

/* Print every key with type, default, unit and help: a table, or (markdown) the page
 * experiments/SCHEMA.md. Cannot fail (stdio errors are the caller's to check on `out`). */
void cfg_schema_print(FILE *out, int markdown);

#endif
