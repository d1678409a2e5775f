/* run.c: one run, from a resolved configuration to a finished run on disk (see run.h). */
#include "run.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "afile.h"
#include "alloc.h"
#include "analytic.h"
#include "table.h"
#include "compat_ssjf.h"
#include "version.h"

/* The largest KV capacity in tokens a run accepts: far beyond any device, and exact in a double
 * and a uint64_t. */
#define RUN_KV_TOK_MAX 1e18

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Find `path`: absolute as is; else beside the experiment file, in the working directory, or in
 * the data directory. */
static int resolve(const char *key, const char *path, const char *cfg_dir, const char *data_dir,
                   char *out, size_t n, struct sim_msg *err)
{
    if (path[0] == '/') {
        snprintf(out, n, "%s", path);
        if (exists(out))
            return SIM_OK;
    } else {
        const char *bases[] = {cfg_dir, ".", data_dir};
        for (int i = 0; i < 3; i++) {
            if (!bases[i] || !*bases[i])
                continue;
            if (snprintf(out, n, "%s/%s", bases[i], path) >= (int)n)
                continue;
            if (exists(out))
                return SIM_OK;
        }
    }
    out[0] = 0;
    return sim_msg_set(err, SIM_ENOENT,
                       "%s: cannot find '%s' (looked beside the experiment, in the working "
                       "directory and in the data directory%s%s%s)",
                       key, path, data_dir && *data_dir ? " " : "",
                       data_dir && *data_dir ? data_dir : "",
                       data_dir && *data_dir ? "" : ": none");
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

/* Issue 13: `lensim run` builds each run twice (the check of every run first, then the run), and
 * hashing a table profile (497 KB, one dependent multiply per byte) took 1 % of a conv_n50000
 * run each time. The bytes last hashed are kept with their hash: a file read back equal to them
 * (compared chunk by chunk as it is read: a twentieth of the hash's time, no second copy) has
 * that hash. Exact whatever happened to the file in between: at the first byte that differs,
 * the bytes before it (equal to the kept ones) and the rest are hashed and become the kept
 * copy. The copy is plain malloc, outside the counting allocator (a cache of the process, not a
 * run's memory; forked workers inherit it; no threads build runs). Out of memory, the file is
 * hashed without keeping it; on a read error, what could be read is hashed, as before. */
static struct {
    unsigned char *text;
    size_t         n;
    uint64_t       h;
} hash_memo;

static void memo_drop(void)
{
    free(hash_memo.text);
    hash_memo.text = NULL;
    hash_memo.n = 0;
}

static uint64_t file_hash(const char *path)
{
    const uint64_t basis = UINT64_C(0xcbf29ce484222325);
    FILE          *f = fopen(path, "rb");
    if (!f)
        return 0;
    uint64_t       h = basis;
    int            same = hash_memo.text != NULL, keep = 1;
    size_t         off = 0, cap = 0;
    unsigned char *copy = NULL; /* the new kept copy, once the file differs */
    unsigned char  buf[65536];
    size_t         n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (same && (off + n > hash_memo.n || memcmp(hash_memo.text + off, buf, n))) {
            same = 0; /* bytes [0, off) are the kept ones */
            h = fnv(basis, hash_memo.text, off);
            cap = 2 * (off + n);
            if (!(copy = malloc(cap)))
                keep = 0;
            else
                memcpy(copy, hash_memo.text, off);
        }
        if (!same) {
            h = fnv(h, buf, n);
            if (keep && off + n > cap) {
                size_t         want = cap ? 2 * cap : sizeof buf * 8;
                unsigned char *t = want >= off + n ? realloc(copy, want) : NULL;
                if (!t)
                    keep = 0, free(copy), copy = NULL;
                else
                    copy = t, cap = want;
            }
            if (keep)
                memcpy(copy + off, buf, n);
        }
        off += n;
    }
    int err = ferror(f);
    fclose(f);
    if (same) { /* every byte read equals the kept ones: the file is the copy or a prefix */
        if (off == hash_memo.n)
            return hash_memo.h;
        h = fnv(basis, hash_memo.text, off);
        if (err)
            return h;
        hash_memo.n = off;
        hash_memo.h = h;
        return h;
    }
    if (err || !keep) {
        free(copy);
        if (!keep)
            memo_drop();
        return h;
    }
    memo_drop();
    unsigned char *fit = off ? realloc(copy, off) : NULL; /* no spare capacity kept */
    hash_memo.text = fit ? fit : copy;
    hash_memo.n = off;
    hash_memo.h = h;
    return h;
}

static int build_model(const struct cfg *c, struct cal_model *m, struct sim_msg *err)
{
    if (!strcmp(c->model, "custom")) {
        memset(m, 0, sizeof *m);
        m->name = "custom";
        m->dtype_bytes = 2;
        m->max_ctx = 2048;
        m->gated_mlp = c->m_gated;
    } else {
        const struct cal_model *p = cal_model_find(c->model);
        char                    names[400];
        if (!p)
            return sim_msg_set(err, SIM_ECONFIG,
                               "model.name: unknown model '%s' (presets: %s; or custom)", c->model,
                               cal_model_names(names, sizeof names, ", "));
        *m = *p;
    }
#define OV(field, v) \
    if (v)           \
        m->field = v;
    OV(layers, c->m_layers)
    OV(hidden, c->m_hidden)
    OV(heads, c->m_heads)
    OV(kv_heads, c->m_kv_heads)
    OV(head_dim, c->m_head_dim)
    OV(ffn, c->m_ffn)
    OV(vocab, c->m_vocab)
    OV(dtype_bytes, c->m_dtype)
    OV(max_ctx, c->m_max_ctx)
    OV(n_params, c->m_params)
#undef OV
    if (!m->kv_heads)
        m->kv_heads = m->heads;
    if (!m->dtype_bytes || !m->layers || !m->head_dim || !m->kv_heads)
        return sim_msg_set(err, SIM_ECONFIG, "model: incomplete shape");
    return SIM_OK;
}

/* issue 10 (tables): whether the model's shape is the one the table profile was measured on
 * (a custom model may use a table profile of its exact shape). */
static int shape_fits_table(const struct run *x)
{
    const struct cal_model *m = &x->model;
    const uint32_t         *s = cal_table_shape(x->cost.prof.table);
    return s[0] == m->layers && s[1] == m->hidden && s[2] == m->heads && s[3] == m->kv_heads &&
           s[4] == m->head_dim && s[5] == m->ffn;
}

/* workload.path without workload.source: the format the file's name and header tell (trace.h),
 * read before the run so that the rules that depend on it apply. */
static int detect_format(struct trace_opts *t, struct sim_msg *err)
{
    trace_t *probe = NULL;
    int      rc = trace_open(t, &probe, err);
    if (rc) {
        struct sim_msg m = *err;
        return sim_msg_set(err, rc, "workload.path: %s", m.text);
    }
    t->format = trace_format_of(probe);
    trace_close(probe);
    return SIM_OK;
}

int run_build(const struct cfg *c, const char *cfg_dir, const char *data_dir, struct run *x,
              struct sim_msg *err)
{
    int rc;
    memset(x, 0, sizeof *x);
    x->cfg = *c;
    snprintf(x->data_dir, sizeof x->data_dir, "%s", data_dir ? data_dir : "");
    if (c->compat == CFG_COMPAT_SSJF &&
        (rc = resolve("ssjf.predictions", c->ssjf_predictions, cfg_dir, data_dir, x->compat_path,
                      sizeof x->compat_path, err)))
        return rc;
    if ((rc = build_model(c, &x->model, err)))
        return rc;
    x->gpu = cal_gpu_find(c->gpu);
    char names[200];
    if (!x->gpu)
        return sim_msg_set(err, SIM_ECONFIG, "hardware.gpu: unknown GPU '%s' (%s)", c->gpu,
                           cal_gpu_names(names, sizeof names, ", "));
    /* Issue 12: combinations that cannot run are refused here, named by a key, so that a sweep
     * records the point and goes on (x->infeasible) and a lone run fails before anything is
     * written. Tensor parallelism splits the attention heads over the GPUs (Megatron-LM, Shoeybi
     * et al. 2019, section 3): tp must divide them, as vLLM requires (vllm-project/vllm
     * vllm/config/model.py at 18ec662, verify_with_parallel_config: "Total number of attention
     * heads ... must be divisible by tensor parallel size"). */
    if (x->model.heads && x->model.heads % c->tp) {
        x->infeasible = 1;
        return sim_msg_set(err, SIM_ECONFIG,
                           "hardware.tp: %u does not divide %s's %u attention heads (tensor "
                           "parallelism splits the heads over the GPUs)",
                           c->tp, x->model.name, x->model.heads);
    }
    if (!strcmp(c->profile, "analytic")) {
        double wbytes = cal_model_weight_bytes(&x->model);
        if (c->tp * x->gpu->mem_bytes * c->mem_util - wbytes <= 0) {
            x->infeasible = 1;
            return sim_msg_set(err, SIM_ECONFIG,
                               "hardware.gpu: %s weights (%.1f GB) do not fit in %u x %s at "
                               "mem_util %.2f (raise hardware.tp, or take a larger GPU)",
                               x->model.name, wbytes / 1e9, c->tp, x->gpu->name, c->mem_util);
        }
    }

    /* Perf profile. */
    if (!strcmp(c->profile, "analytic")) {
        if ((rc = cal_analytic_profile(&x->model, x->gpu, c->tp, c->mem_util, &x->cost.prof, err)))
            return rc;
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        for (size_t i = 0; i < x->cost.prof.n_pieces; i++)
            h = fnv(h, &x->cost.prof.piece[i], sizeof x->cost.prof.piece[i]);
        h = fnv(h, &x->cost.prof.kv_capacity_bytes, sizeof(double));
        x->profile_hash = h;
    } else {
        if ((rc = resolve("perf.profile", c->profile, cfg_dir, data_dir, x->profile_path,
                          sizeof x->profile_path, err)))
            return rc;
        if ((rc = cal_profile_load(x->profile_path, &x->cost.prof, err))) {
            struct sim_msg m = *err; /* named by its key, so that the run places it */
            return sim_msg_set(err, rc, "perf.profile: %s", m.text);
        }
        if (strcmp(x->cost.prof.model, x->model.name) && !c->allow_mismatch &&
            !(x->cost.prof.table && !strcmp(x->model.name, "custom")))
            return sim_msg_set(err, SIM_ECONFIG,
                               "perf.profile: %s was calibrated for model '%s', the experiment "
                               "uses '%s' (set perf.allow_mismatch: true to run it anyway)",
                               x->profile_path, x->cost.prof.model, x->model.name);
        x->profile_hash = file_hash(x->profile_path);
        /* issue 10 (tables): a table profile holds per-layer times of one shard of one model at
         * one tensor-parallel degree on one GPU; any other setup would read the wrong times. */
        if (x->cost.prof.table) {
            const uint32_t *s = cal_table_shape(x->cost.prof.table);
            if (!shape_fits_table(x))
                return sim_msg_set(err, SIM_ECONFIG,
                                   "perf.profile: %s holds tables for a model of %u layers, "
                                   "hidden %u, %u heads, %u KV heads of %u, MLP %u; the "
                                   "experiment's model differs",
                                   x->profile_path, s[0], s[1], s[2], s[3], s[4], s[5]);
            if (x->cost.prof.tp != c->tp)
                return sim_msg_set(err, SIM_ECONFIG,
                                   "perf.profile: %s holds tables for tp %u, the experiment "
                                   "uses hardware.tp %u",
                                   x->profile_path, x->cost.prof.tp, c->tp);
            if (x->cost.prof.device[0] && strcmp(x->cost.prof.device, x->gpu->name))
                return sim_msg_set(err, SIM_ECONFIG,
                                   "perf.profile: %s holds tables for GPU '%s', the experiment "
                                   "uses hardware.gpu '%s'",
                                   x->profile_path, x->cost.prof.device, x->gpu->name);
        }
        /* Issue 12: a profile measured on another device times another machine. */
        const struct cal_gpu *dev = cal_gpu_find_device(x->cost.prof.device);
        if (dev != x->gpu && !c->allow_mismatch)
            return sim_msg_set(err, SIM_ECONFIG,
                               "perf.profile: %s was measured on '%s'%s%s, the experiment's "
                               "hardware.gpu is '%s' (set perf.allow_mismatch: true to run it "
                               "anyway)",
                               x->profile_path, x->cost.prof.device, dev ? ", preset " : "",
                               dev ? dev->name : "", x->gpu->name);
    }
    /* issue 14 (s3): a fixed overhead per iteration is the profile's constant term raised by it
     * in every piece (profile.h: T = c[0] + ...); a table profile has no such term. */
    if (c->iter_overhead_ms > 0) {
        if (x->cost.prof.table) {
            cal_profile_fini(&x->cost.prof); /* its tables: nothing else will free them */
            return sim_msg_set(err, SIM_ECONFIG,
                               "perf.iter_overhead_ms: %s is a table profile; the overhead "
                               "applies to piecewise profiles (analytic or lensim calibrate's)",
                               x->profile_path);
        }
        for (size_t i = 0; i < x->cost.prof.n_pieces; i++)
            x->cost.prof.piece[i].coef[CAL_T_CONST] += c->iter_overhead_ms / 1e3;
        x->profile_hash = fnv(x->profile_hash, &c->iter_overhead_ms, sizeof(double));
    }
    x->cost.swap_bw = c->host_bw_gbps > 0 ? c->host_bw_gbps * 1e9 : x->gpu->pcie_bw;

    /* Cluster and engine. */
    struct serve_cfg *s = &x->serve;
    s->replicas = c->replicas;
    uint32_t max_seq = c->max_seq_len ? c->max_seq_len : x->model.max_ctx;
    s->max_batch = c->max_batch;
    s->max_batched_tokens = c->max_batched_tokens ? c->max_batched_tokens
                                                  : (max_seq > 8192 ? max_seq : 8192);
    s->max_wait_s = c->max_wait_s;
    s->router = c->router;
    s->batching = c->batching;
    s->preempt = c->preemption;
    s->overflow = c->overflow;
    s->kv.policy = c->memory;
    s->queue = c->queue;
    s->rule = c->scheduler; /* issue 10 */
    s->chunk_size = c->chunk_size;
    s->fast_forward = c->fast_forward;               /* issue 13 */
    s->kv.vidur_blocks = c->scheduler != RULE_MIXED; /* vllm_v1 counts the same (batch_v1.c) */
    s->kv.prefix_caching = c->prefix_caching;
    s->kv.src_block_tok = 512; /* Mooncake's hash_ids: one per 512 tokens (traces/FORMAT.md) */
    if (s->batching == BATCH_NONE)
        s->max_batch = 1;
    /* Range-checked before the conversion: a double beyond uint64_t (or NaN) would be undefined
     * behaviour there. Profiles bound both sizes (calib/profile.c); this guards the rest. */
    const struct cal_profile *pr = &x->cost.prof;
    double                    cap_tok = floor(pr->kv_capacity_bytes / pr->kv_bytes_per_token);
    if (!(cap_tok <= RUN_KV_TOK_MAX))
        return sim_msg_set(err, SIM_ECONFIG,
                           "perf.profile: KV capacity kv_capacity_bytes %g / kv_bytes_per_token "
                           "%g = %g tokens is out of range (at most %g)",
                           pr->kv_capacity_bytes, pr->kv_bytes_per_token, cap_tok, RUN_KV_TOK_MAX);
    s->kv.capacity_tok = cap_tok > 0 ? (uint64_t)cap_tok : 0;
    if (c->kv_blocks) { /* issue 10 (tables): a forced block count, within the device memory */
        double tok = (double)c->kv_blocks * c->block_size;
        double need = tok * pr->kv_bytes_per_token,
               have = c->tp * x->gpu->mem_bytes - pr->weight_bytes;
        if (!(need <= have))
            return sim_msg_set(err, SIM_ECONFIG,
                               "%s: engine.kv_blocks: %u blocks of %u tokens take %.4g GB of KV "
                               "cache, more than the %.4g GB that %u x %s (%.4g GB each) hold "
                               "beside %.4g GB of weights",
                               c->kv_blocks_at, c->kv_blocks, c->block_size, need / 1e9, have / 1e9,
                               c->tp, x->gpu->name, x->gpu->mem_bytes / 1e9,
                               pr->weight_bytes / 1e9);
        s->kv.capacity_tok = (uint64_t)tok;
    }
    s->kv.block_tok = c->block_size;
    s->kv.watermark = c->watermark;
    /* vllm_v1 keeps none (cfg.c refuses engine.watermark there): set after c->watermark, whose
     * default (0.01) would otherwise stand. */
    if (c->scheduler == RULE_VLLM_V1)
        s->kv.watermark = 0;
    s->kv.max_seq_len = max_seq;
    /* Issue 12: the KV pool's own limits (kv.c), found here so that a sweep records the point
     * and a lone run fails before anything is written. */
    uint64_t units = s->kv.policy == KV_PAGED && s->kv.block_tok
                         ? s->kv.capacity_tok / s->kv.block_tok
                         : s->kv.capacity_tok;
    if (units == 0) {
        x->infeasible = 1;
        return sim_msg_set(err, SIM_ECONFIG,
                           "hardware.mem_util: no KV-cache memory is left beside %s's weights "
                           "on %u x %s",
                           x->model.name, c->tp, x->gpu->name);
    }
    if (s->kv.policy == KV_MAX && s->kv.capacity_tok < max_seq) {
        x->infeasible = 1;
        return sim_msg_set(err, SIM_ECONFIG,
                           "engine.max_seq_len: the KV pool (%llu tokens) holds no max-length "
                           "sequence (%u tokens), which engine.memory: max reserves per request",
                           (unsigned long long)s->kv.capacity_tok, max_seq);
    }
    s->policy = sched_ops_of(c->policy);
    s->sched.aging_s = c->aging_s;
    s->sched.aging_factor = c->aging_factor;
    s->seed = c->seed;
#ifdef SIM_DEBUG_CHECKS
    s->check = 1; /* a checking build (-Ddebug_checks=true) checks every run */
#else
    s->check = c->check;
#endif

    /* Workload. */
    struct trace_opts *t = &x->trace;
    trace_opts_default(t);
    t->format = c->source;
    t->arrival = c->arrival;
    t->column = c->column[0] ? c->column : NULL; /* issue 14 */
    if (t->format != TRACE_FMT_SYNTH) {
        if ((rc = resolve("workload.path", c->path, cfg_dir, data_dir, x->trace_path,
                          sizeof x->trace_path, err)))
            return rc;
        t->path = x->trace_path;
        if (t->format == TRACE_FMT_AUTO && (rc = detect_format(t, err)))
            return rc;
        /* Issue 12: a replay keeps its own arrival times, so a rate would go unused. */
        if (c->rate_given && t->format != TRACE_FMT_LENGTHS &&
            t->format != TRACE_FMT_ALPACA) /* issue 14: no arrivals either */
            return sim_msg_set(err, SIM_ECONFIG,
                               "workload.rate: a %s trace replays its own arrival times, so a "
                               "rate would be ignored; use workload.rate_scale to replay it "
                               "faster or slower",
                               trace_format_name(t->format));
    }
    t->data_dir = x->data_dir[0] ? x->data_dir : NULL;
    t->rate_scale = c->rate_scale;
    t->max_requests = c->requests;
    t->t_start_s = c->start_s;
    t->t_end_s = c->end_s;
    t->max_prompt_tok = c->max_prompt;
    /* The generator's log-normal prompt tail reaches far past any model's context (the
     * default's, 35k tokens at 10^5 requests): unless workload.max_prompt_tokens says otherwise,
     * its prompts are clamped to max_seq_len - 1, so that every one can run (its output may then
     * be cut at max_seq_len). Both are counted: clamped_prompts and truncated (issue 12). */
    if (t->format == TRACE_FMT_SYNTH && !c->max_prompt && max_seq > 1)
        t->max_prompt_tok = max_seq - 1;
    t->max_output_tok = c->max_output;
    t->skip_bad = c->skip_bad;
    t->rate = c->rate;
    t->cv = c->cv;
    t->seed = c->seed;
    t->lengths = c->lengths;
    t->prompt_mu = c->prompt_mu;
    t->prompt_sigma = c->prompt_sigma;
    t->output_mu = c->output_mu;
    t->output_sigma = c->output_sigma;
    if (t->lengths == TRACE_LEN_EMPIRICAL) {
        if ((rc = resolve("workload.lengths_path", c->lengths_path, cfg_dir, data_dir,
                          x->lengths_path, sizeof x->lengths_path, err)))
            return rc;
        t->lengths_path = x->lengths_path;
        t->lengths_format = TRACE_FMT_AUTO;
    }

    /* Predictor. */
    struct pred_cfg *p = &x->pred;
    p->kind = c->predictor;
    p->cost_s = c->pred_cost_s;
    p->sigma = c->pred_sigma;
    p->n_buckets = c->pred_buckets;
    p->max_len = max_seq;
    p->seed = c->seed;
    if (c->pred_edges[0]) {
        struct sim_msg why;
        if ((rc = pred_edges_parse(c->pred_edges, p->edges, &p->n_buckets, &why)))
            return sim_msg_set(err, rc, "predictor.edges: %s", why.text);
    }
    if (c->pred_path[0]) {
        if ((rc = resolve("predictor.path", c->pred_path, cfg_dir, data_dir, x->pred_path,
                          sizeof x->pred_path, err)))
            return rc;
        p->path = x->pred_path;
    }
    return SIM_OK;
}

void run_fini(struct run *x) { cal_profile_fini(&x->cost.prof); }

/* issue 11: the live executor for x, its rows to iters (may be NULL). */
static int live_open(const struct run *x, FILE *iters, live_t **out, struct sim_msg *err)
{
    const struct cal_model *m = &x->model;
    struct kern_shape       sh = {.layers = m->layers,
                                  .hidden = m->hidden,
                                  .heads = m->heads,
                                  .kv_heads = m->kv_heads,
                                  .head_dim = m->head_dim,
                                  .ffn = m->ffn,
                                  .vocab = m->vocab,
                                  .gated_mlp = m->gated_mlp};
    const struct serve_cfg *s = &x->serve;
    struct live_cfg         lc = {
                .backend = sim_choice_name(kern_backend_choices, x->cfg.live_backend),
                .clock = x->cfg.live_clock,
                .timer = x->cfg.live_timer,
                .max_bytes = x->cfg.live_max_bytes,
                .threads = x->cfg.live_threads,
                .seed = x->cfg.seed,
                .replicas = s->replicas,
                .max_batch = s->max_batch,
                .max_batched_tokens = s->max_batched_tokens,
                .max_seq_len = s->kv.max_seq_len,
                .block_tok = s->kv.block_tok,
                .capacity_tok = s->kv.capacity_tok,
                .paged = s->kv.policy == KV_PAGED,
                .swap = s->preempt == PREEMPT_SWAP,
                .pred_cost_s = x->cfg.pred_cost_s, /* issue 11: the predictor kernel runs */
                .prefix = s->kv.prefix_caching,    /* issue 11 */
                .src_block_tok = s->kv.src_block_tok,
                .iters = iters,
    };
    return live_new(&lc, &sh, &x->cost, out, err);
}

int run_mkdirs(const char *path, struct sim_msg *err)
{
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return sim_msg_set(err, SIM_EIO, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || !*p) {
            char save = *p;
            *p = 0;
            if (mkdir(buf, 0777) && errno != EEXIST)
                return sim_msg_set(err, SIM_EIO, "%s: %s", buf, strerror(errno));
            *p = save;
            if (!save)
                break;
        }
    }
    return SIM_OK;
}

/* ---- output files: a set in a temporary directory, renamed when the run is complete ---- */

/* mkdir -p the directory that holds path ("" and "/" need none). */
static int mkdirs_parent(const char *path, struct sim_msg *err)
{
    const char *slash = strrchr(path, '/');
    char        parent[1024];
    if (!slash || slash == path)
        return SIM_OK;
    if (snprintf(parent, sizeof parent, "%.*s", (int)(slash - path), path) >= (int)sizeof parent)
        return sim_msg_set(err, SIM_EIO, "%s: path too long", path);
    return run_mkdirs(parent, err);
}

static void write_manifest(FILE *f, const struct run *x, const struct run_result *r)
{
    fprintf(f, "lensim: \"0.1.0\"\ngit_revision: \"%s\"\n", LENSIM_GIT_REV);
    fprintf(f, "experiment: \"%s\"\nrun: \"%s\"\nseed: %llu\n", x->cfg.name, x->cfg.run_name,
            (unsigned long long)x->cfg.seed);
    fprintf(f, "experiment_hash: \"%016llx\"\n", (unsigned long long)cfg_hash(&x->cfg));
    fprintf(f, "profile: \"%s\"\nprofile_hash: \"%016llx\"\n",
            x->profile_path[0] ? x->profile_path : "analytic", (unsigned long long)x->profile_hash);
    fprintf(f, "profile_source: \"%s\"\nprofile_device: \"%s\"\n", x->cost.prof.source,
            x->cost.prof.device);
    fprintf(f, "kv_capacity_tokens: %llu\nkv_bytes_per_token: %.0f\n",
            (unsigned long long)x->serve.kv.capacity_tok, x->cost.prof.kv_bytes_per_token);
    fprintf(f, "max_seq_len: %u\nmax_batched_tokens: %u\n", x->serve.kv.max_seq_len,
            x->serve.max_batched_tokens);
    fprintf(f, "queue: \"%s\"\n", evq_kind_name(x->serve.queue));
    fprintf(f, "trace: \"%s\"\n", x->trace_path[0] ? x->trace_path : "synthetic");
    if (x->have_live) { /* issue 11: what the live executor ran on, and where its time went */
        const struct live_stats *l = &x->live;
        fprintf(f,
                "live:\n  backend: \"%s\"\n  device: \"%s\"\n  device_bytes: %zu\n"
                "  iterations: %llu\n  prefills: %llu\n  reprefills: %llu\n  swap_out: %llu\n"
                "  swap_in: %llu\n  wall_s: %.6f\n  cpu_s: %.6f\n  kernel_s: %.6f\n  copy_s: %.6f\n"
                "  predicted_s: %.6f\n  overhead_pct: %.3f\n",
                l->backend, l->device, l->device_bytes, (unsigned long long)l->iters,
                (unsigned long long)l->prefills, (unsigned long long)l->reprefills,
                (unsigned long long)l->swap_out, (unsigned long long)l->swap_in, l->wall_s,
                l->cpu_s, l->kernel_s, l->copy_s, l->pred_s,
                l->wall_s > 0 ? 100 * (l->wall_s - l->kernel_s - l->copy_s) / l->wall_s : 0.0);
        if (l->predictions) /* issue 11: the predictor kernel ran */
            fprintf(f, "  predictions: %llu\n  predict_s: %.6f\n  predict_charged_s: %.6f\n",
                    (unsigned long long)l->predictions, l->predict_s, l->predict_charged_s);
        if (x->serve.kv.prefix_caching) /* issue 11 */
            fprintf(f, "  prefix_hit_tok: %llu\n", (unsigned long long)l->prefix_hit_tok);
        if (x->cfg.live_clock == LIVE_CLOCK_REALTIME) /* issue 11 */
            fprintf(f, "  realtime_wait_s: %.6f\n  realtime_lag_s: %.6f\n", l->wait_s, l->lag_s);
    }
    fprintf(f,
            "stats:\n  arrived: %llu\n  finished: %llu\n  failed: %llu\n  truncated: %llu\n"
            "  events: %llu\n  aging_overrides: %llu\n",
            (unsigned long long)r->stats.arrived, (unsigned long long)r->stats.finished,
            (unsigned long long)r->stats.failed, (unsigned long long)r->stats.truncated,
            (unsigned long long)r->stats.events, (unsigned long long)r->stats.aging_overrides);
    /* Issue 12: what the workload and the memory model clamped, and why requests failed. */
    fprintf(f,
            "  failed_prompt_too_long: %llu\n  failed_kv_capacity: %llu\n"
            "  clamped_prompts: %llu\n  kv_reservations_clamped: %llu\n",
            (unsigned long long)r->sum.failed_why[MET_FAIL_PROMPT],
            (unsigned long long)r->sum.failed_why[MET_FAIL_KV],
            (unsigned long long)r->sum.clamped_prompt, (unsigned long long)r->stats.clamped);
    fprintf(f, "workload_max_prompt_tokens: %u\n", x->trace.max_prompt_tok);
    fprintf(f, "memory:\n  peak_bytes: %zu\n  allocations: %llu\n", r->peak_bytes,
            (unsigned long long)r->allocations);
    fprintf(f, "config:\n");
    char  *buf = NULL;
    size_t len = 0;
    FILE  *m = open_memstream(&buf, &len);
    if (m) {
        cfg_dump(&x->cfg, m);
        fclose(m);
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
            fprintf(f, "  %s\n", line);
        free(buf);
    }
}

struct prog {
    run_progress_fn fn;
    void           *ctx;
    uint64_t        total;
};

static int progress_tramp(void *ctx, const struct serve_stats *s)
{
    struct prog *p = ctx;
    return p->fn ? p->fn(p->ctx, s, p->total) : 0;
}

int run_exec(struct run *x, const char *dir, run_progress_fn progress, void *pctx,
             struct run_result *res, struct sim_msg *err)
{
    struct sim_afile_dir set = {0};
    struct sim_afile     req = {0}, sum = {0}, tl = {0}, man = {0};
    struct sim_afile     its = {0}; /* issue 11: iterations.csv of a live run */
    live_t              *live = NULL;
    struct exec          lex;
    trace_t             *src = NULL;
    pred_t              *pred = NULL;
    met_t               *met = NULL;
    int                  rc;
    memset(res, 0, sizeof *res);
    if (dir) {
        if ((rc = mkdirs_parent(dir, err)) || (rc = sim_afile_dir_open(&set, dir, err)))
            goto out;
        if (x->cfg.out_requests) {
            if ((rc = sim_afile_open_in(&req, &set, "requests.csv", err)))
                goto out;
            fprintf(req.f, "%s\n",
                    x->compat_path[0] ? compat_ssjf_rows_header : met_requests_header);
        }
    }
    /* The run's own memory, from here (after the output files' names, whose length follows the
     * output path): manifest.yaml must not depend on where it is written. */
    sim_alloc_peak_reset();
    struct sim_alloc_stats a0 = sim_alloc_stats();
    if (x->compat_path[0]) { /* the SSJF paper's simulator instead of the serving model */
        struct prog pg = {progress, pctx, (uint64_t)x->cfg.ssjf_jobs * x->cfg.ssjf_repeats};
        int64_t     t0 = sim_wall_ns();
        if ((rc = compat_ssjf_run(&x->cfg, x->compat_path, req.f, progress_tramp, &pg, &res->sum,
                                  err)))
            goto out;
        res->wall_s = (double)(sim_wall_ns() - t0) / 1e9;
        res->stats.finished = res->sum.completed;
        if (progress) /* issue 12 item 6, as below */
            (void)progress(pctx, NULL, pg.total);
        goto write;
    }
    if ((rc = trace_open(&x->trace, &src, err)))
        goto out;
    if ((rc = pred_new(&x->pred, &pred, err)))
        goto out;
    struct met_cfg mc = {
        .slo_ttft_s = x->cfg.slo_ttft_ms / 1e3,
        .slo_tpot_s = x->cfg.slo_tpot_ms / 1e3,
        .slo_e2el_s = x->cfg.slo_e2el_ms / 1e3,
        .slo_norm_s = x->cfg.slo_norm_ms / 1e3,
        .n_replicas = x->serve.replicas,
        .timeline_rows = dir ? x->cfg.out_timeline_rows : 0,
        .requests_csv = req.f,
        .requests_name = req.name,
        .err = err,
    };
    met = met_new(&mc);
    if (!met) {
        rc = sim_msg_set(err, SIM_ENOMEM, "out of memory");
        goto out;
    }
    if (x->cfg.mode == EXEC_MODE_LIVE) { /* issue 11: the live executor */
        if (dir && (rc = sim_afile_open_in(&its, &set, "iterations.csv", err)))
            goto out;
        if ((rc = live_open(x, its.f, &live, err)))
            goto out;
        lex = live_exec(live);
        x->serve.exec = &lex;
    }
    struct prog pg = {progress, pctx, x->cfg.requests};
    int64_t     t0 = sim_wall_ns();
    rc = serve_run(&x->serve, &x->cost, src, pred, met, progress_tramp, &pg, &res->stats, err);
    res->wall_s = (double)(sim_wall_ns() - t0) / 1e9;
    if (live) {
        live_get_stats(live, &x->live);
        x->have_live = 1;
        x->serve.exec = NULL;
    }
    if (rc)
        goto out;
    if (progress) /* issue 12 item 6: the progress line shows that outputs are being written */
        (void)progress(pctx, NULL, pg.total);
    if ((rc = met_summarize(met, res->stats.first_arrival_ns, &res->sum))) {
        sim_msg_set(err, rc, "out of memory");
        goto out;
    }
    res->sum.clamped_prompt = trace_counts(src).clamped_prompt;
    res->sum.kv_clamped = res->stats.clamped;
write:;
    struct sim_alloc_stats a1 = sim_alloc_stats();
    res->peak_bytes = a1.peak_bytes - a0.live_bytes;
    res->allocations = a1.calls - a0.calls;
    if (dir) {
        if ((rc = sim_afile_open_in(&sum, &set, "summary.json", err)) ||
            (rc = sim_afile_open_in(&tl, &set, "timeline.csv", err)) ||
            (rc = sim_afile_open_in(&man, &set, "manifest.yaml", err)))
            goto out;
        /* A failed write leaves the stream's error flag set: commit reports it, with the file's
         * name and the first cause, so the writers' own status adds nothing here. */
        (void)met_write_json(&res->sum, sum.f);
        if (met)
            (void)met_write_timeline(met, tl.f);
        write_manifest(man.f, x, res);
        struct sim_afile *all[] = {&req, &sum, &tl, &man};
        for (int i = 0; i < 4; i++)
            if (all[i]->f && (rc = sim_afile_commit(all[i], err)))
                goto out;
        if (its.f && (rc = sim_afile_commit(&its, err))) /* issue 11 */
            goto out;
        rc = sim_afile_dir_commit(&set, err); /* the run appears, whole */
    }
out:
    sim_afile_discard(&req);
    sim_afile_discard(&sum);
    sim_afile_discard(&tl);
    sim_afile_discard(&man);
    sim_afile_discard(&its);
    live_free(live);
    x->serve.exec = NULL;
    sim_afile_dir_discard(&set);
    met_free(met);
    pred_free(pred);
    trace_close(src);
    return rc;
}
