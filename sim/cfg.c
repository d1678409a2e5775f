/*
 * cfg.c: experiment files (see cfg.h).
 *
 * Pipeline: libyaml events -> a small node tree with marks -> flat entries (dotted key, scalar
 * text, file:line:col) -> applied one by one to a struct cfg through the schema table, which
 * knows each key's type, range, choices, default and help. Defaults are text too and go through
 * the same parser, so `lensim schema` shows exactly what a run uses.
 */
#include "cfg.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "alloc.h"
#include "batch.h"
#include "ff.h" /* issue 13 */
#include "presets.h"
#include "replica.h"

/* ---- the schema ---- */

/* T_CHOICE: an int-sized enum member, named through the owning module's choice set. T_LIST: a
 * YAML list of scalars, kept as comma-joined text (a string in the dump). T_DIRNAME: a string
 * that names a directory under results/: not empty, no '/', no "..", no leading '.', so that it
 * can neither leave results/ nor hide in it. */
enum ftype { T_STR, T_LIST, T_CHOICE, T_U32, T_U64, T_F64, T_BOOL, T_DIRNAME };

/* The names of a preset table (calib/presets.h), for help texts. */
typedef char *(*names_fn)(char *buf, size_t n, const char *sep);

struct field {
    const char              *key;
    enum ftype               type;
    size_t                   off, size;
    const char              *def; /* the default as text; NULL: required, no default */
    double                   min, max;
    const struct sim_choice *choices; /* T_CHOICE: the set, or NULL */
    names_fn                 presets; /* T_STR naming a preset: the table's names, or NULL */
    const char              *unit;
    const char              *help;
};

#define AT(m) offsetof(struct cfg, m), sizeof(((struct cfg *)0)->m)
#define FD(k, m, h)                                        \
    {                                                      \
        k, T_DIRNAME, AT(m), NULL, 0, 0, NULL, NULL, "", h \
    }
#define FS(k, m, d, h)                              \
    {                                               \
        k, T_STR, AT(m), d, 0, 0, NULL, NULL, "", h \
    }
#define FP(k, m, d, names, h)                        \
    {                                                \
        k, T_STR, AT(m), d, 0, 0, NULL, names, "", h \
    }
#define FL(k, m, d, h)                               \
    {                                                \
        k, T_LIST, AT(m), d, 0, 0, NULL, NULL, "", h \
    }
#define FC(k, m, d, set, h)                           \
    {                                                 \
        k, T_CHOICE, AT(m), d, 0, 0, set, NULL, "", h \
    }
#define FN(k, t, m, d, lo, hi, u, h)             \
    {                                            \
        k, t, AT(m), d, lo, hi, NULL, NULL, u, h \
    }
#define FB(k, m, d, h)                               \
    {                                                \
        k, T_BOOL, AT(m), d, 0, 1, NULL, NULL, "", h \
    }

const struct sim_choice cfg_compat_choices[] = {
    {"none", CFG_COMPAT_NONE, "lensim's own serving model"},
    {"ssjf", CFG_COMPAT_SSJF,
     "the SSJF paper's public simulator: its jobs, batching and starvation rule (ssjf.*)"},
    {NULL, 0, NULL},
};

/* Defaults of the synthetic workload: log-normal lengths fitted to the Azure LLM inference 2023
 * conversation trace (19,366 requests; mean and sd of ln(tokens)) and its mean rate, 5.53 req/s
 * (../shared/data/traces/azure2023/README.md). */
static const struct field fields[] = {
    FD("name", name, "experiment name (required); results go to results/<name>"),
    FS("description", description, "", "free text, copied into the manifest"),
    FN("seed", T_U64, seed, "1", 0, 1.8e19, "",
       "experiment seed: every random stream derives from it"),
    /* issue 14: seeds and confidence */
    FN("seeds", T_U32, seeds, "1", 1, 1000, "runs",
       "run every run with seeds seed, seed+1, ..., seed+seeds-1 (lensim run --seeds N sets it); "
       "above 1, RUN_DIR/seed-S/ holds each seed's files (those `--seed S --seeds 1` writes), "
       "results_seeds.csv one row per run and seed, and results.csv/json the mean over seeds of "
       "each metric m plus m_ci95, the half-width of its 95 % Student-t confidence interval "
       "(t(0.975, seeds-1) s / sqrt(seeds), s the sample standard deviation), and `seeds`; a run "
       "whose seeds do not all finish is a failed row naming them (no mean over fewer seeds)"),

    FP("model.name", model, "llama-2-7b", cal_model_names,
       "model preset, or 'custom' with the shape below"),
    FN("model.layers", T_U32, m_layers, "0", 0, 1000, "", "decoder layers (0 = the preset's)"),
    FN("model.hidden", T_U32, m_hidden, "0", 0, 1e6, "", "hidden size (0 = the preset's)"),
    FN("model.heads", T_U32, m_heads, "0", 0, 1e4, "", "attention heads (0 = the preset's)"),
    FN("model.kv_heads", T_U32, m_kv_heads, "0", 0, 1e4, "", "key/value heads (0 = the preset's)"),
    FN("model.head_dim", T_U32, m_head_dim, "0", 0, 1e4, "", "head dimension (0 = the preset's)"),
    FN("model.ffn", T_U32, m_ffn, "0", 0, 1e7, "", "MLP inner size (0 = the preset's)"),
    FN("model.vocab", T_U32, m_vocab, "0", 0, 1e7, "", "vocabulary size (0 = the preset's)"),
    FN("model.dtype_bytes", T_U32, m_dtype, "0", 0, 8, "bytes",
       "bytes per weight and KV element (0 = the preset's)"),
    FN("model.max_ctx", T_U32, m_max_ctx, "0", 0, 1e7, "tokens",
       "native context length (0 = the preset's)"),
    FB("model.gated_mlp", m_gated, "true", "custom shapes: SwiGLU MLP (3 matrices) rather than 2"),
    FN("model.params", T_F64, m_params, "0", 0, 1e13, "parameters",
       "parameter count (0 = the preset's)"),

    FP("hardware.gpu", gpu, "a100-80gb", cal_gpu_names, "GPU preset"),
    FN("hardware.tp", T_U32, tp, "1", 1, 64, "GPUs", "GPUs per replica (tensor-parallel degree)"),
    FN("hardware.mem_util", T_F64, mem_util, "0.9", 1e-3, 1, "fraction",
       "share of GPU memory for weights and KV (vLLM's gpu_memory_utilization)"),
    FN("hardware.host_bw_gbps", T_F64, host_bw_gbps, "0", 0, 1e4, "GB/s",
       "host link for KV swapping (0 = the preset's PCIe)"),

    FS("perf.profile", profile, "analytic",
       "'analytic' (roofline from model and GPU) or a profile YAML written by lensim calibrate"),
    /* issue 12 */
    FB("perf.allow_mismatch", allow_mismatch, "false",
       "run a profile measured on another device than hardware.gpu, or for another model than "
       "model.name (refused otherwise)"),
    /* issue 14 (s3): how flat the latency-vs-batch curve is (S3's FasterTransformer baseline) */
    FN("perf.iter_overhead_ms", T_F64, iter_overhead_ms, "0", 0, 1e5, "ms",
       "fixed time added to every iteration of a piecewise profile (framework, launch and "
       "synchronisation overhead a roofline leaves out): the batch-independent part of the "
       "latency-vs-batch curve grows, so the curve flattens"),

    FN("cluster.replicas", T_U32, replicas, "1", 1, 1e5, "", "serving replicas"),
    FC("cluster.router", router, "round_robin", serve_router_choices,
       "how arrivals are spread over replicas"),

    FC("workload.source", source, "synthetic", trace_format_choices,
       "the generator, or a trace format"),
    FS("workload.path", path, "", "trace file (relative: experiment dir, then data dir)"),
    FN("workload.requests", T_U64, requests, "0", 0, 1e12, "requests",
       "first N requests (0 = all; the generator needs N or end_s)"),
    FN("workload.rate", T_F64, rate, "5.53", 1e-9, 1e9, "req/s",
       "arrival rate of the generator and of lengths-only files"),
    FC("workload.arrival", arrival, "poisson", trace_arrival_choices,
       "arrival process of the generator and of lengths-only files"),
    FN("workload.cv", T_F64, cv, "1", 1e-6, 1e3, "",
       "coefficient of variation of Gamma inter-arrival times"),
    FN("workload.rate_scale", T_F64, rate_scale, "1", 1e-9, 1e9, "x",
       "replay faster (>1) or slower: arrival times are divided by it"),
    FN("workload.start_s", T_F64, start_s, "0", 0, 1e12, "s",
       "window start, in the source's seconds from its first row"),
    FN("workload.end_s", T_F64, end_s, "0", 0, 1e12, "s", "window end (0 = none)"),
    FN("workload.max_prompt_tokens", T_U32, max_prompt, "0", 0, 1e7, "tokens",
       "clamp longer prompts (0 = no cap)"),
    FN("workload.max_output_tokens", T_U32, max_output, "0", 0, 1e7, "tokens",
       "clamp longer outputs (0 = no cap)"),
    FC("workload.lengths", lengths, "lognormal", trace_lengths_choices, "the generator's lengths"),
    FN("workload.prompt_mu", T_F64, prompt_mu, "6.6333", -10, 30, "ln tokens",
       "mean of ln(prompt tokens) (Azure 2023 conv fit)"),
    FN("workload.prompt_sigma", T_F64, prompt_sigma, "0.9852", 0, 10, "ln tokens",
       "sd of ln(prompt tokens)"),
    FN("workload.output_mu", T_F64, output_mu, "5.0190", -10, 30, "ln tokens",
       "mean of ln(output tokens)"),
    FN("workload.output_sigma", T_F64, output_sigma, "0.8590", 0, 10, "ln tokens",
       "sd of ln(output tokens)"),
    FS("workload.lengths_path", lengths_path, "",
       "file to resample lengths from (any trace format)"),
    /* issue 14 */
    FS("workload.column", column, "",
       "alpaca_eval files (source or lengths_path): the model whose response lengths are the "
       "outputs, e.g. text_davinci_003"),
    FB("workload.skip_bad", skip_bad, "false",
       "skip malformed trace rows (counted) instead of failing"),

    FC("engine.batching", batching, "continuous", batch_choices,
       "how requests are grouped into iterations"),
    FN("engine.max_batch", T_U32, max_batch, "256", 1, 1e6, "sequences",
       "largest batch (max_num_seqs)"),
    FN("engine.max_batched_tokens", T_U32, max_batched_tokens, "0", 0, 1e8, "tokens",
       "tokens per iteration (0 = max(8192, max_seq_len))"),
    FN("engine.max_wait_s", T_F64, max_wait_s, "0", 0, 1e6, "s",
       "dynamic batching: longest wait for a full batch"),
    FC("engine.memory", memory, "max", kv_policy_choices,
       "how KV memory is reserved for a request"),
    FN("engine.block_size", T_U32, block_size, "16", 1, 65536, "tokens",
       "paged: tokens per KV block"),
    FN("engine.max_seq_len", T_U32, max_seq_len, "0", 0, 1e7, "tokens",
       "prompt + output limit (0 = the model's context)"),
    FN("engine.watermark", T_F64, watermark, "0.01", 0, 0.99, "fraction",
       "paged: blocks kept free at admission"),
    /* issue 10 (tables): force the KV block count (Vidur's num_blocks). */
    FN("engine.kv_blocks", T_U32, kv_blocks, "0", 0, 1e9, "blocks",
       "paged: KV blocks per replica (0 = from the memory left by the weights)"),
    FC("engine.preemption", preemption, "recompute", replica_preempt_choices,
       "how a preempted request keeps its tokens"),
    FC("engine.overflow", overflow, "next_bucket", kv_overflow_choices,
       "predicted memory: new reservation after a misprediction"),
    FC("engine.queue", queue, "calendar", evq_kind_choices,
       "event queue implementation (results are identical)"),
    FB("engine.check", check, "false", "check every invariant after every event (slow)"),
    /* issue 10: scheduling rules (batch.h) */
    FC("engine.scheduler", scheduler, "mixed", batch_rule_choices,
       "continuous batching's rule: which prefills and decodes share an iteration"),
    FN("engine.chunk_size", T_U32, chunk_size, "0", 0, 1e8, "tokens",
       "sarathi: tokens per iteration, decodes and prefill chunks (0 = Vidur's 512)"),
    FB("engine.prefix_caching", prefix_caching, "false",
       "vllm_v1: share KV blocks of equal prompt prefixes (Mooncake hash_ids)"),
    /* issue 11: live execution mode (sim/exec_live.h; live.* below) */
    FC("engine.mode", mode, "sim", exec_mode_choices,
       "sim: the perf profile times iterations; live: they run on kernels (live.*)"),
    /* issue 13: exact fast-forward (sim/ff.h) */
    FC("engine.fast_forward", fast_forward, "auto", ff_mode_choices,
       "auto: a replica runs iterations that cannot change its batch (no arrival, completion, "
       "memory event, admission or preemption before they end) without an event each; the "
       "outputs are byte-identical to off (one event per iteration), only faster; never in "
       "live mode or with engine.check"),

    FC("policy.name", policy, "fcfs", sched_policy_choices, "scheduling policy"),
    FN("policy.aging_s", T_F64, aging_s, "0", 0, 1e9, "s",
       "serve oldest first once the front waited this long (0 = off)"),
    FN("policy.aging_factor", T_F64, aging_factor, "0", 0, 1e9, "x",
       "... or this many times its estimated service time (0 = off)"),

    FC("predictor.name", predictor, "oracle", pred_kind_choices, "output-length predictor"),
    FN("predictor.cost_s", T_F64, pred_cost_s, "0", 0, 1e3, "s",
       "time per prediction, charged before the request can be scheduled (issue 11: engine.mode "
       "live runs the predictor kernel instead and charges its time, per live.clock)"),
    FN("predictor.sigma", T_F64, pred_sigma, "0.5", 0, 10, "", "noisy: sd of the log-normal error"),
    FN("predictor.buckets", T_U32, pred_buckets, "10", 1, 64, "",
       "buckets of equal width up to max_seq_len (S3: 10)"),
    FL("predictor.edges", pred_edges, "",
       "explicit bucket upper edges, increasing (overrides buckets)"),
    FS("predictor.path", pred_path, "", "confusion matrix or replayed predictions"),

    FC("compat", compat, "none", cfg_compat_choices, "reproduce a paper's simulator semantics"),
    FN("ssjf.jobs", T_U32, ssjf_jobs, "50", 1, 1e5, "jobs",
       "compat ssjf: jobs per repetition (NUM_JOBS; the loop is quadratic in it)"),
    FN("ssjf.repeats", T_U32, ssjf_repeats, "20", 1, 1e6, "",
       "compat ssjf: repetitions averaged (NUM_EXP_RUNS)"),
    FS("ssjf.predictions", ssjf_predictions,
       "predictions/ssjf_lmsys_vicuna13b/predictions_warmup_multi_cls_1000K.csv",
       "compat ssjf: true lengths and predicted classes, one row per job candidate"),
    FN("ssjf.batch_wait_s", T_F64, ssjf_wait_s, "10", 0, 1e6, "s",
       "compat ssjf: FCFS waits this long for a batch to fill (BATCH_WAIT_TIMEOUT)"),
    FN("ssjf.starvation_s", T_F64, ssjf_starve_s, "100", 0, 1e9, "s",
       "compat ssjf: age that switches SJF/SSJF to oldest first"),
    FN("ssjf.starvation_factor", T_F64, ssjf_starve_k, "10", 0, 1e9, "x",
       "compat ssjf: ... or this many times the true remaining service time"),

    FN("slo.ttft_ms", T_F64, slo_ttft_ms, "0", 0, 1e9, "ms",
       "goodput SLO on time to first token (0 = none); a request meets the SLOs when it meets "
       "every one set: request_goodput counts those per second, slo_attainment over all "
       "requests (a failed request is a miss), slo_attainment_completed over completed ones"),
    FN("slo.tpot_ms", T_F64, slo_tpot_ms, "0", 0, 1e9, "ms",
       "goodput SLO on time per output token (0 = none)"),
    FN("slo.e2el_ms", T_F64, slo_e2el_ms, "0", 0, 1e9, "ms",
       "goodput SLO on end-to-end latency (0 = none)"),
    FN("slo.norm_latency_ms", T_F64, slo_norm_ms, "0", 0, 1e9, "ms/token",
       "goodput SLO on end-to-end latency per output token (0 = none)"),

    FB("outputs.requests_csv", out_requests, "true", "write requests.csv (one row per request)"),
    FN("outputs.timeline_rows", T_U32, out_timeline_rows, "2000", 0, 1e7, "rows",
       "timeline.csv rows per replica (0 = none)"),

    /* issue 11: live execution mode (sim/exec_live.h) */
    FC("live.backend", live_backend, "cpu", kern_backend_choices,
       "live: where the forward passes run (cuda without a GPU: exit 77)"),
    FC("live.clock", live_clock, "measured", live_clock_choices,
       "live: what an iteration costs on the virtual clock"),
    FC("live.timer", live_timer, "wall", live_timer_choices,
       "live, clock measured: wall time, or the thread's CPU time (shared machines)"),
    FN("live.max_bytes", T_F64, live_max_bytes, "0", 0, 1e15, "bytes",
       "live: weights + KV + workspace budget, checked before allocating (0 = half the free "
       "memory)"),
    FN("live.threads", T_U32, live_threads, "1", 1, 1024, "threads",
       "live, cpu: BLAS threads (1 matches lensim calibrate's default)"),
};
enum { N_FIELDS = sizeof fields / sizeof *fields };

static const struct field *field_find(const char *key)
{
    for (size_t i = 0; i < N_FIELDS; i++)
        if (!strcmp(fields[i].key, key))
            return &fields[i];
    return NULL;
}

static int has_group(const char *g)
{
    size_t n = strlen(g);
    for (size_t i = 0; i < N_FIELDS; i++)
        if (!strncmp(fields[i].key, g, n) && fields[i].key[n] == '.')
            return 1;
    return 0;
}

/* ---- entries: a dotted key, its scalar text and where it was written ---- */

struct mark {
    const char *file; /* NULL: a default */
    int         line, col;
};

struct entry {
    char       *key;
    char       *val;
    struct mark at;
};

struct entries {
    struct entry *e;
    size_t        n, cap;
};

static void entries_free(struct entries *es)
{
    for (size_t i = 0; i < es->n; i++) {
        sim_free(es->e[i].key);
        sim_free(es->e[i].val);
    }
    sim_free(es->e);
    memset(es, 0, sizeof *es);
}

static int entries_add(struct entries *es, const char *key, const char *val, struct mark at)
{
    if (SIM_GROW(es->e, es->cap, es->n + 1))
        return SIM_ENOMEM;
    struct entry *x = &es->e[es->n];
    x->key = sim_strdup(key);
    x->val = sim_strdup(val);
    x->at = at;
    if (!x->key || !x->val) {
        sim_free(x->key);
        sim_free(x->val);
        return SIM_ENOMEM;
    }
    es->n++;
    return SIM_OK;
}

static int msg_at(struct sim_msg *err, struct mark at, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int msg_at(struct sim_msg *err, struct mark at, const char *key, const char *fmt, ...)
{
    char    what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (!at.file)
        return sim_msg_set(err, SIM_ECONFIG, "%s: %s (default)", key, what);
    if (at.line <= 0)
        return sim_msg_set(err, SIM_ECONFIG, "%s: %s: %s", at.file, key, what);
    return sim_msg_set(err, SIM_ECONFIG, "%s:%d:%d: %s: %s", at.file, at.line, at.col, key, what);
}

/* ---- scalar parsing into a field ---- */

static int parse_into(struct cfg *c, const struct field *f, const char *v, struct mark at,
                      struct sim_msg *err)
{
    char *p = (char *)c + f->off;
    if (!*v && f->type != T_STR && f->type != T_LIST)
        return msg_at(err, at, f->key, "missing value");
    switch (f->type) {
    case T_DIRNAME:
        if (strchr(v, '/') || strstr(v, "..") || v[0] == '.')
            return msg_at(err, at, f->key,
                          "'%s' is not a directory name (no '/', no '..', no leading '.')", v);
        /* fall through */
    case T_STR:
    case T_LIST:
        if (strlen(v) >= f->size)
            return msg_at(err, at, f->key, "longer than %zu characters", f->size - 1);
        memcpy(p, v, strlen(v) + 1);
        return SIM_OK;
    case T_CHOICE: {
        const struct sim_choice *ch = sim_choice_find(f->choices, v);
        if (!ch) {
            char names[200];
            return msg_at(err, at, f->key, "'%s' is not one of %s", v,
                          sim_choice_list(f->choices, names, sizeof names));
        }
        *(int *)p = ch->value;
        return SIM_OK;
    }
    case T_BOOL: {
        static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                                    "off", "0"};
        for (int i = 0; i < 4; i++) {
            if (!strcmp(v, yes[i]) || !strcmp(v, no[i])) {
                *(int *)p = !strcmp(v, yes[i]);
                return SIM_OK;
            }
        }
        return msg_at(err, at, f->key, "expected true or false, got '%s'", v);
    }
    case T_U32:
    case T_U64:
    case T_F64: {
        char *end;
        errno = 0;
        double d = strtod(v, &end);
        while (*end == ' ')
            end++;
        if (end == v || *end || !isfinite(d) || (errno == ERANGE && d != 0))
            return msg_at(err, at, f->key, "expected a number, got '%s'", v);
        if (f->type != T_F64 && d != floor(d))
            return msg_at(err, at, f->key, "expected a whole number, got '%s'", v);
        if (d < f->min || d > f->max)
            return msg_at(err, at, f->key, "%s is out of range [%g, %g]", v, f->min, f->max);
        if (f->type == T_U32)
            *(uint32_t *)p = (uint32_t)d;
        else if (f->type == T_U64) /* plain digits exactly: a double holds only 53 bits */
            *(uint64_t *)p = strspn(v, "0123456789") == strlen(v) ? strtoull(v, NULL, 10)
                                                                  : (uint64_t)d;
        else
            *(double *)p = d;
        return SIM_OK;
    }
    }
    return SIM_ECONFIG;
}

/* "did you mean": a field whose last component equals the key's. */
static const char *suggest(const char *key)
{
    const char *last = strrchr(key, '.');
    last = last ? last + 1 : key;
    for (size_t i = 0; i < N_FIELDS; i++) {
        const char *fl = strrchr(fields[i].key, '.');
        fl = fl ? fl + 1 : fields[i].key;
        if (!strcmp(fl, last) && strcmp(fields[i].key, key))
            return fields[i].key;
    }
    return NULL;
}

static int apply_entry(struct cfg *c, struct mark *marks, const struct entry *x,
                       struct sim_msg *err)
{
    const struct field *f = field_find(x->key);
    if (!f) {
        const char *s = suggest(x->key);
        if (s)
            return msg_at(err, x->at, x->key, "unknown key (did you mean %s?)", s);
        return msg_at(err, x->at, x->key, "unknown key (lensim schema lists them all)");
    }
    int rc = parse_into(c, f, x->val, x->at, err);
    if (!rc)
        marks[f - fields] = x->at;
    return rc;
}

/* ---- YAML -> node tree ---- */

enum ntype { N_SCALAR, N_MAP, N_SEQ };

struct node {
    enum ntype   type;
    char        *val;  /* scalar */
    int          null; /* plain empty or ~ */
    struct node *kids; /* map: key, value, key, value...; seq: items */
    size_t       n, cap;
    int          line, col;
};

static void node_free(struct node *n)
{
    for (size_t i = 0; i < n->n; i++)
        node_free(&n->kids[i]);
    sim_free(n->kids);
    sim_free(n->val);
}

struct yp {
    yaml_parser_t   p;
    const char     *file;
    struct sim_msg *err;
};

static int yp_error(struct yp *y)
{
    yaml_parser_t *p = &y->p;
    if (p->error == YAML_MEMORY_ERROR)
        return sim_msg_set(y->err, SIM_ENOMEM, "out of memory");
    const yaml_mark_t *m = p->problem ? &p->problem_mark : &p->context_mark;
    return sim_msg_set(y->err, SIM_ECONFIG, "%s:%zu:%zu: YAML syntax: %s%s%s", y->file, m->line + 1,
                       m->column + 1, p->problem ? p->problem : "error", p->context ? " " : "",
                       p->context ? p->context : "");
}

static int parse_node(struct yp *y, yaml_event_t *ev, struct node *out, int depth);

/* Parse children until the end event of a mapping or sequence. */
static int parse_children(struct yp *y, struct node *out, yaml_event_type_t end, int depth)
{
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&y->p, &ev))
            return yp_error(y);
        if (ev.type == end) {
            yaml_event_delete(&ev);
            return SIM_OK;
        }
        if (SIM_GROW(out->kids, out->cap, out->n + 1)) {
            yaml_event_delete(&ev);
            return sim_msg_set(y->err, SIM_ENOMEM, "out of memory");
        }
        struct node *k = &out->kids[out->n];
        memset(k, 0, sizeof *k);
        out->n++;
        int rc = parse_node(y, &ev, k, depth + 1);
        yaml_event_delete(&ev);
        if (rc)
            return rc;
    }
}

static int parse_node(struct yp *y, yaml_event_t *ev, struct node *out, int depth)
{
    out->line = (int)ev->start_mark.line + 1;
    out->col = (int)ev->start_mark.column + 1;
    if (depth > 16)
        return sim_msg_set(y->err, SIM_ECONFIG, "%s:%d:%d: nested too deeply", y->file, out->line,
                           out->col);
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        out->type = N_SCALAR;
        const char *v = (const char *)ev->data.scalar.value;
        size_t      len = ev->data.scalar.length;
        out->null = ev->data.scalar.plain_implicit &&
                    (len == 0 || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null"));
        out->val = sim_malloc(len + 1);
        if (!out->val)
            return sim_msg_set(y->err, SIM_ENOMEM, "out of memory");
        memcpy(out->val, v, len);
        out->val[len] = 0;
        if (strlen(out->val) != len)
            return sim_msg_set(y->err, SIM_ECONFIG, "%s:%d:%d: NUL byte in a value", y->file,
                               out->line, out->col);
        return SIM_OK;
    }
    case YAML_MAPPING_START_EVENT:
        out->type = N_MAP;
        return parse_children(y, out, YAML_MAPPING_END_EVENT, depth);
    case YAML_SEQUENCE_START_EVENT:
        out->type = N_SEQ;
        return parse_children(y, out, YAML_SEQUENCE_END_EVENT, depth);
    case YAML_ALIAS_EVENT:
        return sim_msg_set(y->err, SIM_ECONFIG, "%s:%d:%d: YAML aliases are not supported", y->file,
                           out->line, out->col);
    default:
        return sim_msg_set(y->err, SIM_ECONFIG, "%s:%d:%d: unexpected YAML event", y->file,
                           out->line, out->col);
    }
}

/* Parse a whole single-document stream into *root (a mapping; an empty file is an error). */
static int parse_yaml(struct yp *y, struct node *root)
{
    int rc = SIM_OK, docs = 0;
    memset(root, 0, sizeof *root);
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&y->p, &ev))
            return yp_error(y);
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT) {
            int line = (int)ev.start_mark.line + 1;
            yaml_event_delete(&ev);
            if (++docs > 1)
                return sim_msg_set(y->err, SIM_ECONFIG, "%s:%d:1: one YAML document expected",
                                   y->file, line);
            yaml_event_t body;
            if (!yaml_parser_parse(&y->p, &body))
                return yp_error(y);
            rc = parse_node(y, &body, root, 0);
            yaml_event_delete(&body);
            if (rc)
                return rc;
            continue;
        }
        yaml_event_delete(&ev);
    }
    if (!docs)
        return sim_msg_set(y->err, SIM_ECONFIG, "%s:1:1: empty experiment file", y->file);
    if (root->type != N_MAP)
        return sim_msg_set(y->err, SIM_ECONFIG, "%s:%d:%d: expected a mapping of settings", y->file,
                           root->line, root->col);
    return SIM_OK;
}

/* ---- node tree -> entries ---- */

/* Nodes made from a --set value (issue 12: `--set KEY=[a,b]` sweeps) have col -1. */
static struct mark mark_of(const char *file, const struct node *n)
{
    if (n->col < 0)
        return (struct mark){"--set", 0, 0};
    return (struct mark){file, n->line, n->col};
}

/* The earlier key of mapping `map` spelled like key i, or NULL. */
static const struct node *earlier_key(const struct node *map, size_t i)
{
    for (size_t j = 0; j < i; j += 2)
        if (map->kids[j].val && map->kids[i].val && !strcmp(map->kids[j].val, map->kids[i].val))
            return &map->kids[j];
    return NULL;
}

/* Join a sequence of scalars with commas (list-valued keys). */
static int join_seq(const char *file, const char *key, const struct node *v, char *buf, size_t n,
                    struct sim_msg *err)
{
    buf[0] = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (v->kids[i].type != N_SCALAR)
            return msg_at(err, mark_of(file, &v->kids[i]), key, "expected a list of scalars");
        size_t len = strlen(buf);
        if (snprintf(buf + len, n - len, "%s%s", i ? "," : "", v->kids[i].val) >= (int)(n - len))
            return msg_at(err, mark_of(file, v), key, "list too long");
    }
    return SIM_OK;
}

static int flatten(const char *file, const struct node *map, const char *prefix,
                   struct entries *out, struct sim_msg *err)
{
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct node *k = &map->kids[i], *v = &map->kids[i + 1];
        if (k->type != N_SCALAR)
            return sim_msg_set(err, SIM_ECONFIG, "%s:%d:%d: keys must be plain words", file,
                               k->line, k->col);
        char key[200];
        if (snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", k->val) >=
            (int)sizeof key)
            return msg_at(err, mark_of(file, k), k->val, "key too long");
        const struct node *first = earlier_key(map, i);
        if (first)
            return msg_at(err, mark_of(file, k), key, "given twice (first at line %d)",
                          first->line);
        for (size_t j = 0; j < out->n; j++)
            if (!strcmp(out->e[j].key, key))
                return msg_at(err, mark_of(file, k), key, "given twice (first at line %d)",
                              out->e[j].at.line);
        if (v->type == N_MAP) {
            if (field_find(key))
                return msg_at(err, mark_of(file, k), key, "expected a single value, not a mapping");
            if (*prefix || !has_group(key))
                return msg_at(err, mark_of(file, k), key,
                              has_group(key) ? "nested too deeply" : "unknown group");
            int rc = flatten(file, v, key, out, err);
            if (rc)
                return rc;
            continue;
        }
        char                buf[CFG_STR_MAX];
        const char         *val = v->val;
        const struct field *f = field_find(key);
        if (v->type == N_SEQ) {
            if (!f || f->type != T_LIST)
                return msg_at(err, mark_of(file, v), key,
                              f ? "expected a single value, not a list" : "unknown key");
            int rc = join_seq(file, key, v, buf, sizeof buf, err);
            if (rc)
                return rc;
            val = buf;
        } else if (v->null) {
            return msg_at(err, mark_of(file, v), key, "missing value");
        }
        if (!f && has_group(key)) { /* `policy: sjf` means `policy.name: sjf` */
            char nk[220];
            snprintf(nk, sizeof nk, "%s.name", key);
            if (field_find(nk))
                strncat(key, ".name", sizeof key - strlen(key) - 1);
        }
        int rc = entries_add(out, key, val, mark_of(file, v));
        if (rc)
            return sim_msg_set(err, rc, "out of memory");
    }
    return SIM_OK;
}

/* ---- the experiment ---- */

struct run {
    char           name[CFG_STR_MAX];
    struct entries set;
};

struct cfg_exp {
    char           file[PATH_MAX]; /* as given: messages name it */
    char           dir[PATH_MAX];  /* its directory: relative paths are looked up there */
    struct node    root;           /* the file's tree: --set may rebuild the sweep from it */
    struct entries base;
    struct entries cli;
    struct run    *runs;
    size_t         n_runs;
};

static void free_runs(cfg_exp_t *e)
{
    for (size_t i = 0; i < e->n_runs; i++)
        entries_free(&e->runs[i].set);
    sim_free(e->runs);
    e->runs = NULL;
    e->n_runs = 0;
}

void cfg_free(cfg_exp_t *e)
{
    if (!e)
        return;
    entries_free(&e->base);
    entries_free(&e->cli);
    free_runs(e);
    node_free(&e->root);
    sim_free(e);
}

size_t      cfg_n_runs(const cfg_exp_t *e) { return e->n_runs; }
const char *cfg_dir(const cfg_exp_t *e) { return e->dir; }

/* A directory-name-safe rendering of a value. */
static void slug(char *dst, size_t n, const char *s)
{
    size_t k = 0;
    for (; *s && k + 1 < n; s++)
        dst[k++] = isalnum((unsigned char)*s) || *s == '.' || *s == '-' ? *s : '_';
    dst[k] = 0;
}

/* A swept key as applied: `policy` stands for `policy.name`. */
static void sweep_key(char *key, size_t n, const char *k)
{
    snprintf(key, n, "%s", k);
    if (!field_find(key) && has_group(key))
        strncat(key, ".name", n - strlen(key) - 1);
}

static int cmp_run_name(const void *a, const void *b)
{
    const struct run *const *x = a, *const *y = b;
    int                      c = strcmp((*x)->name, (*y)->name);
    return c ? c : (*x > *y) - (*x < *y); /* equal names in run order */
}

/* Runs share nothing on disk, so two must not have one name. Reports the second run of the
 * first clash, at the `runs:` entry or the swept value that made it. O(n log n). */
static int check_run_names(cfg_exp_t *e, const struct node *runs, const struct node *sweep,
                           size_t n_sweep, struct sim_msg *err)
{
    const struct run **v = sim_malloc(e->n_runs * sizeof *v);
    if (!v)
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    for (size_t i = 0; i < e->n_runs; i++)
        v[i] = &e->runs[i];
    qsort(v, e->n_runs, sizeof *v, cmp_run_name);
    size_t a = 0, b = SIZE_MAX;
    for (size_t i = 1; i < e->n_runs; i++) {
        size_t x = (size_t)(v[i - 1] - e->runs), y = (size_t)(v[i] - e->runs);
        if (!strcmp(v[i - 1]->name, v[i]->name) && y < b) {
            a = x;
            b = y;
        }
    }
    sim_free(v);
    if (b == SIZE_MAX)
        return SIM_OK;
    const char *name = e->runs[b].name;
    if (a / n_sweep != b / n_sweep)
        return msg_at(err, mark_of(e->file, &runs->kids[b / n_sweep]), "runs",
                      "two runs named '%s'", name);
    const struct node *at = sweep; /* the outermost swept value that differs */
    for (size_t i = 0, stride = n_sweep; i + 1 < sweep->n; i += 2) {
        const struct node *vals = &sweep->kids[i + 1];
        stride /= vals->n;
        if ((a % n_sweep) / stride % vals->n != (b % n_sweep) / stride % vals->n) {
            at = &vals->kids[(b % n_sweep) / stride % vals->n];
            break;
        }
    }
    return msg_at(err, mark_of(e->file, at), "sweep", "two runs named '%s'", name);
}

/* Build the runs: `runs` entries (or one empty run) times the sweep's product. */
static int build_runs(cfg_exp_t *e, const struct node *runs, const struct node *sweep,
                      struct sim_msg *err)
{
    const char *file = e->file;
    size_t      n_base = 1, n_sweep = 1;
    if (runs) {
        if (runs->type != N_SEQ || runs->n == 0)
            return msg_at(err, mark_of(file, runs), "runs",
                          "expected a non-empty list of mappings");
        n_base = runs->n;
    }
    if (sweep) {
        if (sweep->type != N_MAP || sweep->n == 0)
            return msg_at(err, mark_of(file, sweep), "sweep",
                          "expected a mapping: key -> list of values");
        for (size_t i = 0; i + 1 < sweep->n; i += 2) {
            const struct node *v = &sweep->kids[i + 1];
            char               key[200], other[200];
            if (sweep->kids[i].type != N_SCALAR) /* every later use reads the key's text */
                return msg_at(err, mark_of(file, &sweep->kids[i]), "sweep",
                              "keys must be plain words");
            sweep_key(key, sizeof key, sweep->kids[i].val);
            for (size_t j = 0; j < i; j += 2) {
                sweep_key(other, sizeof other, sweep->kids[j].val);
                if (!strcmp(key, other))
                    return msg_at(err, mark_of(file, &sweep->kids[i]), key,
                                  "given twice (first at line %d)", sweep->kids[j].line);
            }
            if (v->type != N_SEQ || v->n == 0)
                return msg_at(err, mark_of(file, v), sweep->kids[i].val,
                              "expected a non-empty list of values to sweep");
            if (n_sweep > 100000 / v->n)
                return msg_at(err, mark_of(file, v), "sweep", "more than 100000 runs");
            n_sweep *= v->n;
        }
    }
    if (n_base * n_sweep > 100000)
        return msg_at(err, mark_of(file, sweep ? sweep : runs), "sweep", "more than 100000 runs");
    e->runs = sim_calloc(n_base * n_sweep, sizeof *e->runs);
    if (!e->runs)
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    e->n_runs = n_base * n_sweep; /* cfg_free walks them: only once they exist */
    for (size_t b = 0; b < n_base; b++) {
        for (size_t s = 0; s < n_sweep; s++) {
            struct run *r = &e->runs[b * n_sweep + s];
            char        name[CFG_STR_MAX] = "";
            if (runs) {
                const struct node *m = &runs->kids[b];
                if (m->type != N_MAP)
                    return msg_at(err, mark_of(file, m), "runs",
                                  "each run is a mapping of settings");
                struct entries tmp = {0};
                int            rc = flatten(file, m, "", &tmp, err);
                for (size_t j = 0; !rc && j < tmp.n; j++) {
                    if (!strcmp(tmp.e[j].key, "name"))
                        slug(name, sizeof name, tmp.e[j].val);
                    else
                        rc = entries_add(&r->set, tmp.e[j].key, tmp.e[j].val, tmp.e[j].at);
                }
                entries_free(&tmp);
                if (rc)
                    return rc == SIM_ENOMEM ? sim_msg_set(err, rc, "out of memory") : rc;
                if (!*name)
                    snprintf(name, sizeof name, "run%zu", b);
                if (name[0] == '.') /* a directory name: not . or .., not hidden */
                    name[0] = '_';
            }
            size_t idx = s;
            for (size_t i = 0; sweep && i + 1 < sweep->n; i += 2) {
                const struct node *k = &sweep->kids[i], *v = &sweep->kids[i + 1];
                size_t             stride = 1;
                for (size_t j = i + 2; j + 1 < sweep->n; j += 2)
                    stride *= sweep->kids[j + 1].n;
                const struct node *val = &v->kids[(idx / stride) % v->n];
                if (val->type != N_SCALAR || val->null)
                    return msg_at(err, mark_of(file, val), k->val, "sweep values must be scalars");
                char key[200];
                sweep_key(key, sizeof key, k->val);
                if (entries_add(&r->set, key, val->val, mark_of(file, val)))
                    return sim_msg_set(err, SIM_ENOMEM, "out of memory");
                const char *last = strrchr(k->val, '.');
                char        sv[64];
                slug(sv, sizeof sv, val->val);
                size_t len = strlen(name);
                snprintf(name + len, sizeof name - len, "%s%s-%s", len ? "_" : "",
                         last ? last + 1 : k->val, sv);
            }
            snprintf(r->name, sizeof r->name, "%s", *name ? name : "run");
        }
    }
    return e->n_runs > 1 ? check_run_names(e, runs, sweep, n_sweep, err) : SIM_OK;
}

static int defaults(struct cfg *c, struct mark *marks)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_FIELDS; i++) {
        SIM_ASSERT(fields[i].type != T_CHOICE || fields[i].size == sizeof(int)); /* an enum */
        if (marks)
            marks[i] = (struct mark){0};
        if (!fields[i].def) /* required: stays empty until the file sets it */
            continue;
        struct sim_msg m;
        int            rc = parse_into(c, &fields[i], fields[i].def, (struct mark){0}, &m);
        SIM_ASSERT(rc == 0); /* the schema's own defaults must parse */
    }
    return SIM_OK;
}

/* Check the base settings and every run now, so that nothing starts on a bad file. */
static int check_runs(const cfg_exp_t *e, struct sim_msg *err)
{
    struct cfg  c;
    struct mark marks[N_FIELDS];
    int         rc;
    defaults(&c, marks);
    for (size_t i = 0; i < e->base.n; i++)
        if ((rc = apply_entry(&c, marks, &e->base.e[i], err)))
            return rc;
    if (!c.name[0])
        return sim_msg_set(err, SIM_ECONFIG, "%s:%d:%d: name: missing required key", e->file,
                           e->root.line, e->root.col);
    for (size_t r = 0; r < e->n_runs; r++) {
        struct cfg rc_cfg = c;
        for (size_t i = 0; i < e->runs[r].set.n; i++)
            if ((rc = apply_entry(&rc_cfg, marks, &e->runs[r].set.e[i], err)))
                return rc;
    }
    return SIM_OK;
}

static int load_from_parser(struct yp *y, const char *path, cfg_exp_t **out, struct sim_msg *err)
{
    struct node root;
    cfg_exp_t  *e = NULL;
    int         rc = parse_yaml(y, &root);
    if (rc)
        goto out;
    e = sim_calloc(1, sizeof *e);
    if (!e) {
        rc = sim_msg_set(err, SIM_ENOMEM, "out of memory");
        goto out;
    }
    e->root = root; /* kept: --set may rebuild the runs from its sweep */
    root = (struct node){0};
    if (strlen(path) >= sizeof e->file) { /* kept whole, or refused: never cut */
        rc = sim_msg_set(err, SIM_ECONFIG, "%.200s...: path too long (%zu bytes; at most %zu)",
                         path, strlen(path), sizeof e->file - 1);
        goto out;
    }
    snprintf(e->file, sizeof e->file, "%s", path);
    snprintf(e->dir, sizeof e->dir, "%s", path);
    char *slash = strrchr(e->dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(e->dir, sizeof e->dir, ".");
    /* Split off sweep and runs; flatten the rest. */
    const struct node *sweep = NULL, *runs = NULL;
    struct node        rest = {.type = N_MAP};
    rest.kids = sim_calloc(e->root.n ? e->root.n : 1, sizeof *rest.kids);
    if (!rest.kids) {
        rc = sim_msg_set(err, SIM_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i + 1 < e->root.n; i += 2) {
        const char        *k = e->root.kids[i].val;
        const struct node *first = earlier_key(&e->root, i);
        if (first && (!strcmp(k, "sweep") || !strcmp(k, "runs"))) {
            rc = msg_at(err, mark_of(e->file, &e->root.kids[i]), k,
                        "given twice (first at line %d)", first->line);
            sim_free(rest.kids);
            goto out;
        }
        if (k && !strcmp(k, "sweep"))
            sweep = &e->root.kids[i + 1];
        else if (k && !strcmp(k, "runs"))
            runs = &e->root.kids[i + 1];
        else {
            rest.kids[rest.n++] = e->root.kids[i];
            rest.kids[rest.n++] = e->root.kids[i + 1];
        }
    }
    rc = flatten(e->file, &rest, "", &e->base, err);
    sim_free(rest.kids); /* shallow: the nodes belong to root */
    if (rc)
        goto out;
    if ((rc = build_runs(e, runs, sweep, err)))
        goto out;
    rc = check_runs(e, err);
out:
    node_free(&root);
    if (rc) {
        cfg_free(e);
        e = NULL;
    }
    *out = e;
    return rc;
}

int cfg_load(const char *path, cfg_exp_t **out, struct sim_msg *err)
{
    *out = NULL;
    FILE *f;
    int   rc = sim_open_input(path, &f, err);
    if (rc)
        return rc;
    struct yp y = {.file = path, .err = err};
    if (!yaml_parser_initialize(&y.p)) {
        fclose(f);
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    }
    yaml_parser_set_input_file(&y.p, f);
    rc = load_from_parser(&y, path, out, err);
    yaml_parser_delete(&y.p);
    if (ferror(f) && !rc)
        rc = sim_msg_set(err, SIM_EIO, "%s: read error", path);
    fclose(f);
    return rc;
}

int cfg_load_string(const char *text, const char *name, cfg_exp_t **out, struct sim_msg *err)
{
    *out = NULL;
    struct yp y = {.file = name, .err = err};
    if (!yaml_parser_initialize(&y.p))
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    yaml_parser_set_input_string(&y.p, (const unsigned char *)text, strlen(text));
    int rc = load_from_parser(&y, name, out, err);
    yaml_parser_delete(&y.p);
    return rc;
}

/* The value of the file's top-level key k (`sweep`, `runs`), or NULL. */
static struct node *root_value(cfg_exp_t *e, const char *k)
{
    for (size_t i = 0; i + 1 < e->root.n; i += 2)
        if (e->root.kids[i].val && !strcmp(e->root.kids[i].val, k))
            return &e->root.kids[i + 1];
    return NULL;
}

/* A node made by --set (col -1: messages name --set as its place). */
static struct node *add_kid(struct node *parent, enum ntype type, const char *val)
{
    if (SIM_GROW(parent->kids, parent->cap, parent->n + 1))
        return NULL;
    struct node *k = &parent->kids[parent->n];
    memset(k, 0, sizeof *k);
    k->type = type;
    k->col = -1;
    if (val && !(k->val = sim_strdup(val)))
        return NULL;
    parent->n++;
    return k;
}

/* `--set KEY=[a,b]`, or --set on a key the experiment sweeps (issue 12): the sweep over KEY
 * becomes these values (a new sweep key goes innermost), and the runs and their names are built
 * again, so that every run's name says the value it ran with. `values` is the text inside the
 * brackets, or one value. */
static int set_sweep(cfg_exp_t *e, const char *key, const char *values, struct sim_msg *err)
{
    struct node seq = {.type = N_SEQ, .col = -1};
    char        buf[1024], *save = NULL;
    int         rc = SIM_OK;
    if (snprintf(buf, sizeof buf, "%s", values) >= (int)sizeof buf)
        return sim_msg_set(err, SIM_ECONFIG, "--set: %s: value list too long", key);
    for (char *v = strtok_r(buf, ",", &save); v; v = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*v))
            v++;
        for (size_t n = strlen(v); n && isspace((unsigned char)v[n - 1]); n--)
            v[n - 1] = 0;
        struct entry x = {(char *)key, v, {"--set", 0, 0}};
        struct cfg   c;
        struct mark  marks[N_FIELDS];
        defaults(&c, marks);
        if (!*v)
            rc = sim_msg_set(err, SIM_ECONFIG, "--set: %s: empty value in the list", key);
        else if (!(rc = apply_entry(&c, marks, &x, err)) && !add_kid(&seq, N_SCALAR, v))
            rc = sim_msg_set(err, SIM_ENOMEM, "out of memory");
        if (rc)
            break;
    }
    if (!rc && seq.n == 0)
        rc = sim_msg_set(err, SIM_ECONFIG, "--set: %s: expected a value or [a, b, ...]", key);
    if (rc) {
        node_free(&seq);
        return rc;
    }
    struct node *sweep = root_value(e, "sweep");
    if (!sweep) {
        if (!add_kid(&e->root, N_SCALAR, "sweep") || !add_kid(&e->root, N_MAP, NULL)) {
            node_free(&seq);
            return sim_msg_set(err, SIM_ENOMEM, "out of memory");
        }
        sweep = &e->root.kids[e->root.n - 1];
    }
    struct node *slot = NULL;
    for (size_t i = 0; i + 1 < sweep->n; i += 2) {
        char k[200];
        sweep_key(k, sizeof k, sweep->kids[i].val ? sweep->kids[i].val : "");
        if (!strcmp(k, key))
            slot = &sweep->kids[i + 1];
    }
    if (!slot) {
        if (!add_kid(sweep, N_SCALAR, key) || !add_kid(sweep, N_SEQ, NULL)) {
            node_free(&seq);
            return sim_msg_set(err, SIM_ENOMEM, "out of memory");
        }
        slot = &sweep->kids[sweep->n - 1];
    }
    node_free(slot);
    *slot = seq;
    free_runs(e);
    if ((rc = build_runs(e, root_value(e, "runs"), root_value(e, "sweep"), err)))
        return rc;
    return check_runs(e, err);
}

/* Does the experiment's sweep name key (`policy` standing for `policy.name`)? */
static int is_swept(cfg_exp_t *e, const char *key)
{
    struct node *sweep = root_value(e, "sweep");
    for (size_t i = 0; sweep && sweep->type == N_MAP && i + 1 < sweep->n; i += 2) {
        char k[200];
        sweep_key(k, sizeof k, sweep->kids[i].val ? sweep->kids[i].val : "");
        if (!strcmp(k, key))
            return 1;
    }
    return 0;
}

int cfg_add_set(cfg_exp_t *e, const char *assignment, struct sim_msg *err)
{
    const char *eq = strchr(assignment, '=');
    struct mark at = {"--set", 0, 0};
    if (!eq || eq == assignment)
        return sim_msg_set(err, SIM_ECONFIG, "--set: expected key=value, got '%s'", assignment);
    char   key[160];
    size_t n = (size_t)(eq - assignment);
    if (n >= sizeof key)
        return sim_msg_set(err, SIM_ECONFIG, "--set: key too long");
    memcpy(key, assignment, n);
    key[n] = 0;
    if (!field_find(key) && has_group(key))
        strncat(key, ".name", sizeof key - strlen(key) - 1);
    const char *val = eq + 1;
    size_t      vn = strlen(val);
    if (vn >= 2 && val[0] == '[' && val[vn - 1] == ']') { /* a sweep */
        char list[1024];
        if (vn - 2 >= sizeof list)
            return sim_msg_set(err, SIM_ECONFIG, "--set: %s: value list too long", key);
        memcpy(list, val + 1, vn - 2);
        list[vn - 2] = 0;
        if (!field_find(key))
            return sim_msg_set(err, SIM_ECONFIG, "--set: %s: unknown key", key);
        return set_sweep(e, key, list, err);
    }
    if (field_find(key) && is_swept(e, key)) /* the sweep is replaced: names follow values */
        return set_sweep(e, key, val, err);
    struct entry x = {key, (char *)val, at};
    struct cfg   c;
    struct mark  marks[N_FIELDS];
    defaults(&c, marks);
    int rc = apply_entry(&c, marks, &x, err);
    if (rc)
        return rc;
    return entries_add(&e->cli, key, val, at) ? sim_msg_set(err, SIM_ENOMEM, "out of memory")
                                              : SIM_OK;
}

/* ---- resolution and cross-field rules ---- */

static struct mark where(const struct mark *marks, const char *key)
{
    const struct field *f = field_find(key);
    return marks[f - fields];
}

/* Issue 10: what the scheduling rules support; the rest is refused where it was set. Under a
 * rule of issue 10, engine.memory left unset means paged, and sarathi's engine.chunk_size left
 * unset means 512 (Vidur's default: vidur/config/config.py, SarathiSchedulerConfig); the
 * resolved values are what the manifest shows. */
static int check_rule(struct cfg *c, const struct mark *m, struct sim_msg *err)
{
    const char *rule = sim_choice_name(batch_rule_choices, (int)c->scheduler);
    if (c->prefix_caching) {
        struct mark pc = where(m, "engine.prefix_caching");
        if (c->scheduler != RULE_VLLM_V1)
            return msg_at(err, pc, "engine.prefix_caching",
                          "only the vllm_v1 scheduler caches prefixes here, not '%s'", rule);
        if (512 % c->block_size)
            return msg_at(err, pc, "engine.prefix_caching",
                          "Mooncake's hash_ids cover 512 tokens each: engine.block_size (%u) "
                          "must divide 512",
                          c->block_size);
        if (c->source != TRACE_FMT_MOONCAKE && c->source != TRACE_FMT_AUTO)
            return msg_at(err, pc, "engine.prefix_caching",
                          "needs block hashes, which only Mooncake traces carry (workload.source "
                          "'%s')",
                          sim_choice_name(trace_format_choices, (int)c->source));
    }
    if (c->scheduler != RULE_SARATHI && c->chunk_size)
        return msg_at(err, where(m, "engine.chunk_size"), "engine.chunk_size",
                      "only the sarathi scheduler chunks prefills; '%s' does not", rule);
    if (c->scheduler == RULE_MIXED)
        return SIM_OK;
    struct mark at = where(m, "engine.scheduler");
    if (c->compat != CFG_COMPAT_NONE)
        return msg_at(err, at, "engine.scheduler",
                      "'%s' is not part of compat %s (its own simulator schedules)", rule,
                      sim_choice_name(cfg_compat_choices, (int)c->compat));
    if (c->batching != BATCH_CONTINUOUS)
        return msg_at(err, at, "engine.scheduler", "'%s' needs engine.batching: continuous", rule);
    if (!where(m, "engine.memory").file)
        c->memory = KV_PAGED;
    if (c->scheduler == RULE_SARATHI && !c->chunk_size && !where(m, "engine.chunk_size").file)
        c->chunk_size = 512;
    if (c->memory != KV_PAGED)
        return msg_at(err, at, "engine.scheduler",
                      "'%s' allocates KV blocks as its source does: it needs engine.memory: "
                      "paged",
                      rule);
    if (c->preemption != PREEMPT_RECOMPUTE)
        return msg_at(err, at, "engine.scheduler",
                      "'%s' preempts by recompute, as its source does (engine.preemption)", rule);
    if (c->scheduler == RULE_VLLM_V1) {
        /* vllm/config/scheduler.py, SchedulerConfig._verify_args */
        if (c->max_batched_tokens && c->max_batched_tokens < c->max_batch)
            return msg_at(err, where(m, "engine.max_batched_tokens"), "engine.max_batched_tokens",
                          "vllm_v1 needs at least engine.max_batch (%u) tokens per step, as vLLM "
                          "does",
                          c->max_batch);
        if (where(m, "engine.watermark").file)
            return msg_at(err, where(m, "engine.watermark"), "engine.watermark",
                          "vllm_v1 keeps no watermark of free blocks (vLLM v1's scheduler)");
    }
    if (c->scheduler == RULE_SARATHI) {
        if (!c->chunk_size)
            return msg_at(err, where(m, "engine.chunk_size"), "engine.chunk_size",
                          "sarathi's token budget must be at least 1");
        if (c->max_batched_tokens)
            return msg_at(err, where(m, "engine.max_batched_tokens"), "engine.max_batched_tokens",
                          "sarathi's token budget is engine.chunk_size; leave this unset");
    }
    return SIM_OK;
}

int cfg_resolve(const cfg_exp_t *e, size_t i, struct cfg *c, struct sim_msg *err)
{
    SIM_ASSERT(i < e->n_runs);
    struct mark m[N_FIELDS];
    defaults(c, m);
    const struct entries *lists[] = {&e->base, &e->runs[i].set, &e->cli};
    for (int l = 0; l < 3; l++)
        for (size_t k = 0; k < lists[l]->n; k++) {
            int rc = apply_entry(c, m, &lists[l]->e[k], err);
            if (rc)
                return rc;
        }
    snprintf(c->run_name, sizeof c->run_name, "%s", e->runs[i].name);
    { /* issue 10 (tables): engine.kv_blocks counts blocks, which only paged memory has. */
        struct mark at = where(m, "engine.kv_blocks");
        if (!at.file)
            snprintf(c->kv_blocks_at, sizeof c->kv_blocks_at, "(default)");
        else if (at.line <= 0)
            snprintf(c->kv_blocks_at, sizeof c->kv_blocks_at, "%.250s", at.file);
        else
            snprintf(c->kv_blocks_at, sizeof c->kv_blocks_at, "%.250s:%d:%d", at.file, at.line,
                     at.col);
        if (c->kv_blocks && c->memory != KV_PAGED)
            return msg_at(err, at, "engine.kv_blocks",
                          "sets a number of KV blocks, which only engine.memory: paged has "
                          "(memory is '%s')",
                          sim_choice_name(kv_policy_choices, c->memory));
    }
    /* Issue 12: keys written in vain are refused or warned about (run.c, cmd_run.c). */
    c->rate_given = where(m, "workload.rate").file != NULL;
    c->predictor_given = where(m, "predictor.name").file != NULL;
    /* A trace file without a source: its format is detected from the file (run_build), rather
     * than the generator running and the file going unread. */
    if (c->path[0] && !where(m, "workload.source").file)
        c->source = TRACE_FMT_AUTO;
    if (c->compat == CFG_COMPAT_SSJF) {
        /* The paper's simulator draws its own jobs from ssjf.predictions. */
        if (c->policy == SCHED_S3)
            return msg_at(err, where(m, "policy.name"), "policy.name",
                          "compat ssjf runs fcfs, sjf or ssjf only");
    } else if (c->source == TRACE_FMT_SYNTH) {
        if (!c->requests && c->end_s <= 0)
            return msg_at(err, where(m, "workload.requests"), "workload.requests",
                          "the synthetic generator needs a bound: set requests or end_s");
    } else if (!c->path[0]) {
        return msg_at(err, where(m, "workload.source"), "workload.path",
                      "missing required key: source '%s' reads a file",
                      sim_choice_name(trace_format_choices, c->source));
    }
    if (c->compat != CFG_COMPAT_SSJF && c->arrival == TRACE_ARR_BATCH && !c->requests &&
        (c->source == TRACE_FMT_SYNTH || c->source == TRACE_FMT_LENGTHS))
        return msg_at(err, where(m, "workload.arrival"), "workload.requests",
                      "batch arrivals need a request count");
    /* issue 14: a column is read from an alpaca_eval file only (the format of an auto source or
     * lengths file is checked when the file is opened). */
    if (c->column[0] && c->compat != CFG_COMPAT_SSJF &&
        (c->source == TRACE_FMT_SYNTH
             ? c->lengths != TRACE_LEN_EMPIRICAL
             : c->source != TRACE_FMT_ALPACA && c->source != TRACE_FMT_AUTO))
        return msg_at(err, where(m, "workload.column"), "workload.column",
                      "names a model of an alpaca_eval file, and %s reads none",
                      c->source == TRACE_FMT_SYNTH
                          ? "the generator with log-normal lengths"
                          : sim_choice_name(trace_format_choices, c->source));
    if (c->column[0] && c->compat == CFG_COMPAT_SSJF)
        return msg_at(err, where(m, "workload.column"), "workload.column",
                      "compat ssjf draws its jobs from ssjf.predictions, not a workload file");
    if (c->lengths == TRACE_LEN_EMPIRICAL && !c->lengths_path[0])
        return msg_at(err, where(m, "workload.lengths"), "workload.lengths_path",
                      "missing required key: empirical lengths need a file");
    if ((c->predictor == PRED_CONFUSION || c->predictor == PRED_REPLAY) && !c->pred_path[0])
        return msg_at(err, where(m, "predictor.name"), "predictor.path",
                      "missing required key: the %s predictor reads a file",
                      sim_choice_name(pred_kind_choices, c->predictor));
    uint32_t       edges[PRED_MAX_BUCKETS], n_edges;
    struct sim_msg why;
    if (pred_edges_parse(c->pred_edges, edges, &n_edges, &why))
        return msg_at(err, where(m, "predictor.edges"), "predictor.edges", "%s", why.text);
    if (!strcmp(c->model, "custom") &&
        !(c->m_layers && c->m_hidden && c->m_heads && c->m_head_dim && c->m_ffn && c->m_params))
        return msg_at(err, where(m, "model.name"), "model",
                      "a custom model needs layers, hidden, heads, head_dim, ffn and params");
    int rc = check_rule(c, m, err); /* issue 10 */
    if (rc)
        return rc;
    /* issue 11: live execution mode */
    if (c->mode == EXEC_MODE_LIVE) {
        /* issue 11: realtime runs one replica's iterations as they come, on the wall clock */
        if (c->live_clock == LIVE_CLOCK_REALTIME && c->replicas != 1)
            return msg_at(err, where(m, "cluster.replicas"), "cluster.replicas",
                          "live.clock realtime runs one replica (its iterations follow the wall "
                          "clock one after another); %u replicas would need as many devices "
                          "running at once: use live.clock measured",
                          c->replicas);
        if (c->live_clock == LIVE_CLOCK_REALTIME && c->live_timer == LIVE_TIMER_CPU)
            return msg_at(err, where(m, "live.timer"), "live.timer",
                          "live.clock realtime follows the wall clock: live.timer cpu does not "
                          "apply (use wall)");
        if (c->compat == CFG_COMPAT_SSJF)
            return msg_at(err, where(m, "engine.mode"), "engine.mode",
                          "live runs lensim's serving model, not compat ssjf");
        if (c->tp != 1)
            return msg_at(err, where(m, "hardware.tp"), "hardware.tp",
                          "live runs one device: tensor parallelism %u is not supported", c->tp);
        /* issue 11: prefix caching runs live (the executor shares the KV manager's blocks) */
        if (c->live_timer == LIVE_TIMER_CPU &&
            (c->live_backend != KERN_BACKEND_CPU || c->live_threads != 1))
            return msg_at(err, where(m, "live.timer"), "live.timer",
                          "cpu measures the calling thread only: it needs live.backend cpu and "
                          "live.threads 1");
    }
    /* issue 14 (s3): the overhead is added to the perf profile's iterations, which compat ssjf
     * (its own service times) and a measured live clock (the kernels' wall time) do not use. */
    if (c->iter_overhead_ms > 0 &&
        (c->compat == CFG_COMPAT_SSJF ||
         (c->mode == EXEC_MODE_LIVE && c->live_clock == LIVE_CLOCK_MEASURED)))
        return msg_at(err, where(m, "perf.iter_overhead_ms"), "perf.iter_overhead_ms",
                      "adds to the perf profile's iteration times, which %s does not use",
                      c->compat == CFG_COMPAT_SSJF ? "compat ssjf"
                                                   : "a live run with live.clock measured");
    if (c->start_s > 0 && c->end_s > 0 && c->end_s <= c->start_s)
        return msg_at(err, where(m, "workload.end_s"), "workload.end_s",
                      "window end %g is not after its start %g", c->end_s, c->start_s);
    return SIM_OK;
}

/* ---- dump, hash, schema ---- */

static void dump_value(const struct cfg *c, const struct field *f, FILE *out)
{
    const char *p = (const char *)c + f->off;
    if (f->type == T_CHOICE) { /* written as the name it was given by */
        p = sim_choice_name(f->choices, *(const int *)p);
        SIM_ASSERT(p); /* a value outside its set: not from cfg_resolve */
    }
    switch (f->type) {
    case T_STR:
    case T_DIRNAME:
    case T_LIST:
    case T_CHOICE:
        fputc('"', out);
        for (const char *s = p; *s; s++) {
            if (*s == '"' || *s == '\\')
                fputc('\\', out);
            if ((unsigned char)*s < 0x20 || *s == 0x7f) /* YAML would fold a raw line break */
                fprintf(out, "\\x%02x", (unsigned char)*s);
            else
                fputc(*s, out);
        }
        fputc('"', out);
        break;
    case T_U32: fprintf(out, "%u", *(const uint32_t *)p); break;
    case T_U64: fprintf(out, "%llu", (unsigned long long)*(const uint64_t *)p); break;
    case T_F64: fprintf(out, "%.15g", *(const double *)p); break;
    case T_BOOL: fputs(*(const int *)p ? "true" : "false", out); break;
    }
}

/* Settings that cannot change a run's results (the tests prove it) stay out of the hash, so
 * that runs differing only in them have identical files. */
static int result_neutral(const struct field *f)
{
    return !strcmp(f->key, "engine.queue") || !strcmp(f->key, "engine.check") ||
           !strcmp(f->key, "engine.fast_forward"); /* issue 13: tests/test_ff.c proves it */
}

/* Issue 10: keys added after experiments were hashed stay out of the hash at their defaults
 * (which reproduce the old behaviour), so those experiments keep their hash. */
static int hash_skips(const struct cfg *c, const struct field *f)
{
    return (!strcmp(f->key, "engine.scheduler") && c->scheduler == RULE_MIXED) ||
           (!strcmp(f->key, "engine.chunk_size") && !c->chunk_size) ||
           (!strcmp(f->key, "engine.prefix_caching") && !c->prefix_caching) ||
           (!strcmp(f->key, "engine.kv_blocks") && !c->kv_blocks);
}

/* Issue 14: `seeds` at its default (1) is left out of manifests and the hash alike, so that a
 * single-seed run writes the very files it wrote before the key existed, and the files of seed S
 * of a many-seed run are those `--seed S` alone writes. */
static int dump_skips(const struct cfg *c, const struct field *f)
{
    return (!strcmp(f->key, "seeds") && c->seeds <= 1) || /* 0: a struct cfg not from cfg_resolve */
           (!strcmp(f->key, "engine.fast_forward") && c->fast_forward == FF_AUTO); /* issue 13 */
}

static void dump(const struct cfg *c, FILE *out, int for_hash)
{
    char group[64] = "";
    for (size_t i = 0; i < N_FIELDS; i++) {
        const struct field *f = &fields[i];
        if ((for_hash && (result_neutral(f) || hash_skips(c, f))) || dump_skips(c, f))
            continue;
        const char *dot = strchr(f->key, '.');
        if (dot) {
            size_t g = (size_t)(dot - f->key);
            if (strlen(group) != g || strncmp(group, f->key, g)) {
                snprintf(group, sizeof group, "%.*s", (int)g, f->key);
                fprintf(out, "%s:\n", group);
            }
            fprintf(out, "  %s: ", dot + 1);
        } else {
            group[0] = 0;
            fprintf(out, "%s: ", f->key);
        }
        dump_value(c, f, out);
        fputc('\n', out);
    }
}

void cfg_dump(const struct cfg *c, FILE *out) { dump(c, out, 0); }

uint64_t cfg_hash(const struct cfg *c)
{
    char  *buf = NULL;
    size_t len = 0;
    FILE  *f = open_memstream(&buf, &len);
    if (!f)
        return 0;
    dump(c, f, 1);
    fclose(f);
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)buf[i];
        h *= UINT64_C(0x100000001b3);
    }
    free(buf);
    return h;
}

const struct sim_choice *cfg_choices_of(const char *key)
{
    const struct field *f = field_find(key);
    return f ? f->choices : NULL;
}

static const char *type_name(const struct field *f)
{
    switch (f->type) {
    case T_STR:
    case T_DIRNAME: return "string";
    case T_LIST: return "list";
    case T_CHOICE: return "choice";
    case T_U32:
    case T_U64: return "integer";
    case T_F64: return "number";
    case T_BOOL: return "bool";
    }
    return "?";
}

/* The help with, for a preset name, the presets: "GPU preset (a100-40gb, h200)". */
static const char *full_help(const struct field *f, char *buf, size_t n)
{
    if (!f->presets)
        return f->help;
    char names[400];
    snprintf(buf, n, "%s (presets: %s)", f->help, f->presets(names, sizeof names, ", "));
    return buf;
}

static void schema_row(FILE *out, const struct field *f, int md)
{
    char        help[600];
    const char *def = !f->def ? "(required)" : *f->def ? f->def : "\"\"";
    if (!md) {
        fprintf(out, "%-28s %-10s %-14s %-10s %s\n", f->key, type_name(f), def, f->unit,
                full_help(f, help, sizeof help));
        for (const struct sim_choice *ch = f->choices; ch && ch->name; ch++)
            fprintf(out, "%-28s   %-20s %s\n", "", ch->name, ch->help);
        return;
    }
    fprintf(out, "| `%s` | %s | `%s` | %s | %s", f->key, type_name(f), def, f->unit,
            full_help(f, help, sizeof help));
    for (const struct sim_choice *ch = f->choices; ch && ch->name; ch++)
        fprintf(out, "<br>`%s`: %s", ch->name, ch->help);
    fprintf(out, " |\n");
}

void cfg_schema_print(FILE *out, int md)
{
    if (md)
        fprintf(
            out,
            "# Experiment keys\n\nGenerated by `lensim schema --markdown`. A group given a "
            "scalar sets its `name` (`policy: sjf`). `sweep:` maps keys to lists of values; "
            "`runs:` lists mappings of keys; each run of their product is named after its `runs:` "
            "entry and swept values (`fast_rate-2_memory-paged`; see sim/cfg.h).\n\n| key | type | "
            "default | unit | help |\n"
            "|---|---|---|---|---|\n");
    for (size_t i = 0; i < N_FIELDS; i++)
        schema_row(out, &fields[i], md);
}

/* ---- issue 12: what varies between runs, and where a run's setting was written ---- */

size_t cfg_varied_keys(const cfg_exp_t *e, const char **keys, size_t max)
{
    size_t n = 0;
    for (size_t r = 0; r < e->n_runs; r++)
        for (size_t k = 0; k < e->runs[r].set.n && n < max; k++) {
            const char *key = e->runs[r].set.e[k].key;
            int         seen = 0;
            for (size_t j = 0; j < n && !seen; j++)
                seen = !strcmp(keys[j], key);
            if (!seen)
                keys[n++] = key;
        }
    return n;
}

int cfg_value_text(const struct cfg *c, const char *key, char *buf, size_t n)
{
    const struct field *f = field_find(key);
    if (n)
        buf[0] = 0;
    if (!f)
        return SIM_ECONFIG;
    const char *p = (const char *)c + f->off;
    switch (f->type) {
    case T_CHOICE: snprintf(buf, n, "%s", sim_choice_name(f->choices, *(const int *)p)); break;
    case T_STR:
    case T_DIRNAME:
    case T_LIST: snprintf(buf, n, "%s", p); break;
    case T_U32: snprintf(buf, n, "%u", *(const uint32_t *)p); break;
    case T_U64: snprintf(buf, n, "%llu", (unsigned long long)*(const uint64_t *)p); break;
    case T_F64: snprintf(buf, n, "%.15g", *(const double *)p); break;
    case T_BOOL: snprintf(buf, n, "%s", *(const int *)p ? "true" : "false"); break;
    }
    return SIM_OK;
}

int cfg_value_json(const struct cfg *c, const char *key, FILE *f)
{
    const struct field *f_ = field_find(key);
    char                v[CFG_STR_MAX];
    if (!f_) {
        fputs("null", f);
        return SIM_ECONFIG;
    }
    cfg_value_text(c, key, v, sizeof v);
    switch (f_->type) {
    case T_U32:
    case T_U64:
    case T_F64:
    case T_BOOL: fputs(v, f); break; /* finite numbers (the schema's ranges), true or false */
    default:
        fputc('"', f);
        for (const char *p = v; *p; p++) {
            unsigned char ch = (unsigned char)*p;
            if (ch == '"' || ch == '\\')
                fprintf(f, "\\%c", ch);
            else if (ch < 0x20)
                fprintf(f, "\\u%04x", ch);
            else
                fputc(ch, f);
        }
        fputc('"', f);
    }
    return SIM_OK;
}

void cfg_place_msg(const cfg_exp_t *e, size_t i, struct sim_msg *err)
{
    SIM_ASSERT(i < e->n_runs);
    const char *colon = strstr(err->text, ": ");
    char        key[160];
    if (!colon || (size_t)(colon - err->text) >= sizeof key)
        return;
    memcpy(key, err->text, (size_t)(colon - err->text));
    key[colon - err->text] = 0;
    if (!field_find(key) && has_group(key))
        strncat(key, ".name", sizeof key - strlen(key) - 1);
    if (!field_find(key))
        return;
    struct mark           at = {0};
    const struct entries *lists[] = {&e->base, &e->runs[i].set, &e->cli};
    for (int l = 0; l < 3; l++)
        for (size_t k = 0; k < lists[l]->n; k++)
            if (!strcmp(lists[l]->e[k].key, key))
                at = lists[l]->e[k].at;
    char why[sizeof err->text];
    snprintf(why, sizeof why, "%s", colon + 2);
    if (!at.file)
        sim_msg_set(err, SIM_ECONFIG, "%s: %s: %s (default)", e->file, key, why);
    else if (at.line <= 0)
        sim_msg_set(err, SIM_ECONFIG, "%s: %s: %s", at.file, key, why);
    else
        sim_msg_set(err, SIM_ECONFIG, "%s:%d:%d: %s: %s", at.file, at.line, at.col, key, why);
}
