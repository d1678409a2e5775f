/*
 * table.c: table perf profiles (see table.h; format: calib/PROFILE.md).
 *
 * The file's runs are expanded at load into dense arrays indexed by key, NaN where no row
 * reaches (keys below a table's first row), so that a batch costs a handful of array reads.
 * For the shipped CodeLlama-34B profile that is 11 x 4,097 + 129 x 65 + 65 x 4,097 doubles
 * (2.5 MB), built from 19,000 rows.
 */
#include "table.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

/* The per-token operators, in the order of Vidur's ExecutionTime sums. */
enum tok_op {
    OP_PRE_PROJ,
    OP_POST_PROJ,
    OP_ROPE,
    OP_KV_SAVE, /* looked up at the exact token count, not rounded */
    OP_INPUT_NORM,
    OP_UP_PROJ,
    OP_DOWN_PROJ,
    OP_ACT,
    OP_POST_NORM,
    OP_ADD,
    OP_ALL_REDUCE,
    N_TOK_OPS
};

static const char *const tok_op_name[N_TOK_OPS] = {
    "attn_pre_proj", "attn_post_proj", "attn_rope", "attn_kv_cache_save",       "input_layernorm",
    "mlp_up_proj",   "mlp_down_proj",  "mlp_act",   "post_attention_layernorm", "add",
    "all_reduce",
};

struct cal_table {
    uint32_t shape[6]; /* layers hidden heads kv_heads head_dim ffn */
    uint32_t layers, tp, tokens_max, token_round, kv_round, kv_max, batch_max, chunk_max;
    int      post_attn_norm;
    double   decode_overhead, prefill_overhead, nccl_launch_ms, nccl_skew_ms;
    double   nccl_skew; /* issue 13: nccl_skew_ms x tp^1.25, computed once at load */
    size_t   n_kv;      /* issue 13: kv_max / kv_round + 1, the decode table's row length */
    unsigned refs;      /* issue 13: holders (callers of cal_table_parse, and the kept copy) */
    /* Issue 13: the per-token tables interleaved, tok[k * N_TOK_OPS + op] for k in
     * [0, tokens_max], so that a batch reads its ten operators at one token count from one or two
     * cache lines rather than from eleven arrays. */
    double *tok;
    double *decode;  /* [batch][kv / kv_round], batch in [0, batch_max] */
    double *prefill; /* [kv / kv_round][chunk], chunk in [0, chunk_max] */
};

/* ---- reading ---- */

struct lp {
    const char     *path;
    const char     *p, *end;
    unsigned long   line;
    struct sim_msg *err;
    char            buf[512];
};

static int lerr(struct lp *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int lerr(struct lp *l, const char *fmt, ...)
{
    char    what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return sim_msg_set(l->err, SIM_ECONFIG, "%s:%lu: %s", l->path, l->line, what);
}

/* Next line into l->buf (without its newline). Returns 1, 0 at the end, or a negative error
 * (a line too long or holding a NUL byte). */
static int next_line(struct lp *l)
{
    if (l->p >= l->end)
        return 0;
    const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
    size_t      n = nl ? (size_t)(nl - l->p) : (size_t)(l->end - l->p);
    l->line++;
    if (n && l->p[n - 1] == '\r')
        n--;
    if (n >= sizeof l->buf) {
        l->p = nl ? nl + 1 : l->end;
        return lerr(l, "line longer than %zu characters", sizeof l->buf - 1);
    }
    if (memchr(l->p, 0, n)) {
        l->p = nl ? nl + 1 : l->end;
        return lerr(l, "NUL byte in the line");
    }
    memcpy(l->buf, l->p, n);
    l->buf[n] = 0;
    l->p = nl ? nl + 1 : l->end;
    return 1;
}

static int blank_or_comment(const char *s)
{
    s += strspn(s, " \t");
    return !*s || *s == '#';
}

int cal_table_detect(const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        const char *s = p;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        if (s < e && *s != '#' && *s != '\r') {
            static const char want[] = "format: " CAL_TABLE_FORMAT;
            size_t            n = (size_t)(e - s);
            while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
            return n == sizeof want - 1 && !memcmp(s, want, n);
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

/* A whole number in [lo, hi]. */
static int parse_u(struct lp *l, const char *s, const char *what, uint64_t lo, uint64_t hi,
                   uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return lerr(l, "%s: '%s' is not a whole number", what, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || errno == ERANGE)
        return lerr(l, "%s: '%s' is not a whole number", what, s);
    if (v < lo || v > hi)
        return lerr(l, "%s: %llu is out of range [%llu, %llu]", what, v, (unsigned long long)lo,
                    (unsigned long long)hi);
    *out = v;
    return SIM_OK;
}

/* A finite number in [lo, hi]. */
static int parse_d(struct lp *l, const char *s, const char *what, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v))
        return lerr(l, "%s: '%s' is not a finite number", what, s);
    if (!(v >= lo && v <= hi))
        return lerr(l, "%s: %g is out of range [%g, %g]", what, v, lo, hi);
    *out = v;
    return SIM_OK;
}

static int copy_str(struct lp *l, const char *key, const char *v, char *out, size_t cap)
{
    if (strlen(v) >= cap)
        return lerr(l, "%s: longer than %zu characters", key, cap - 1);
    memcpy(out, v, strlen(v) + 1);
    return SIM_OK;
}

/* Header keys; bit i of `seen` per entry. */
enum hk {
    HK_FORMAT,
    HK_MODEL,
    HK_SHAPE,
    HK_DEVICE,
    HK_SOURCE,
    HK_TP,
    HK_LAYERS,
    HK_TOKENS_MAX,
    HK_TOKEN_ROUND,
    HK_KV_ROUND,
    HK_KV_MAX,
    HK_BATCH_MAX,
    HK_CHUNK_MAX,
    HK_DEC_OVH,
    HK_PF_OVH,
    HK_NCCL_LAUNCH,
    HK_NCCL_SKEW,
    HK_POST_NORM,
    HK_KVB,
    HK_KVCAP,
    HK_WEIGHTS,
    HK_INPUT, /* repeatable, optional */
    N_HK
};

static const char *const hk_name[N_HK] = {
    "format",
    "model",
    "shape",
    "device",
    "source",
    "tp",
    "layers",
    "tokens_max",
    "token_round",
    "kv_round",
    "kv_max",
    "batch_max",
    "chunk_max",
    "decode_overhead",
    "prefill_overhead",
    "nccl_launch_ms",
    "nccl_skew_ms",
    "post_attn_norm",
    "kv_bytes_per_token",
    "kv_capacity_bytes",
    "weight_bytes",
    "input",
};

static int header_pair(struct lp *l, struct cal_table *t, struct cal_profile *m, enum hk k,
                       const char *v)
{
    uint64_t u;
    double   d;
    int      rc;
    switch (k) {
    case HK_FORMAT:
        return strcmp(v, CAL_TABLE_FORMAT) ? lerr(l, "format: expected '%s'", CAL_TABLE_FORMAT)
                                           : SIM_OK;
    case HK_MODEL: return copy_str(l, "model", v, m->model, sizeof m->model);
    case HK_SHAPE: { /* the model shape measured: layers hidden heads kv_heads head_dim ffn */
        char  tmp[200];
        char *f[7];
        int   nf = 0;
        snprintf(tmp, sizeof tmp, "%s", v);
        for (char *s = strtok(tmp, " \t"); s && nf < 7; s = strtok(NULL, " \t"))
            f[nf++] = s;
        if (nf != 6)
            return lerr(l, "shape: expected layers hidden heads kv_heads head_dim ffn");
        for (int i = 0; i < 6; i++) {
            if ((rc = parse_u(l, f[i], "shape", 1, 10000000, &u)))
                return rc;
            t->shape[i] = (uint32_t)u;
        }
        return SIM_OK;
    }
    case HK_DEVICE: return copy_str(l, "device", v, m->device, sizeof m->device);
    case HK_SOURCE: return copy_str(l, "source", v, m->source, sizeof m->source);
    case HK_TP:
        if ((rc = parse_u(l, v, "tp", 1, 1024, &u)))
            return rc;
        t->tp = m->tp = (uint32_t)u;
        return SIM_OK;
    case HK_LAYERS:
        if ((rc = parse_u(l, v, "layers", 1, 100000, &u)))
            return rc;
        t->layers = (uint32_t)u;
        return SIM_OK;
    case HK_TOKENS_MAX:
        if ((rc = parse_u(l, v, "tokens_max", 1, 1u << 20, &u)))
            return rc;
        t->tokens_max = (uint32_t)u;
        return SIM_OK;
    case HK_TOKEN_ROUND:
        if ((rc = parse_u(l, v, "token_round", 1, 1024, &u)))
            return rc;
        t->token_round = (uint32_t)u;
        return SIM_OK;
    case HK_KV_ROUND:
        if ((rc = parse_u(l, v, "kv_round", 1, 1u << 16, &u)))
            return rc;
        t->kv_round = (uint32_t)u;
        return SIM_OK;
    case HK_KV_MAX:
        if ((rc = parse_u(l, v, "kv_max", 0, 1u << 24, &u)))
            return rc;
        t->kv_max = (uint32_t)u;
        return SIM_OK;
    case HK_BATCH_MAX:
        if ((rc = parse_u(l, v, "batch_max", 1, 1u << 16, &u)))
            return rc;
        t->batch_max = (uint32_t)u;
        return SIM_OK;
    case HK_CHUNK_MAX:
        if ((rc = parse_u(l, v, "chunk_max", 1, 1u << 20, &u)))
            return rc;
        t->chunk_max = (uint32_t)u;
        return SIM_OK;
    case HK_DEC_OVH: return parse_d(l, v, "decode_overhead", 0, 10, &t->decode_overhead);
    case HK_PF_OVH: return parse_d(l, v, "prefill_overhead", 0, 10, &t->prefill_overhead);
    case HK_NCCL_LAUNCH: return parse_d(l, v, "nccl_launch_ms", 0, 1e6, &t->nccl_launch_ms);
    case HK_NCCL_SKEW: return parse_d(l, v, "nccl_skew_ms", 0, 1e6, &t->nccl_skew_ms);
    case HK_POST_NORM:
        if ((rc = parse_u(l, v, "post_attn_norm", 0, 1, &u)))
            return rc;
        t->post_attn_norm = (int)u;
        return SIM_OK;
    case HK_KVB: return parse_d(l, v, "kv_bytes_per_token", 1, 1e12, &m->kv_bytes_per_token);
    case HK_KVCAP:
        if ((rc = parse_d(l, v, "kv_capacity_bytes", 0, 1e18, &d)))
            return rc;
        if (!(d > 0))
            return lerr(l, "kv_capacity_bytes: must be positive");
        m->kv_capacity_bytes = d;
        return SIM_OK;
    case HK_WEIGHTS: return parse_d(l, v, "weight_bytes", 0, 1e18, &m->weight_bytes);
    case HK_INPUT: /* "file sha256": provenance, checked by the converter, kept for readers */
        return SIM_OK;
    case N_HK: break;
    }
    return SIM_OK;
}

/* The array and grid of table `name`; dims 1 (key: tokens) or 2 (key1 key2). */
struct grid {
    double  *a;
    size_t   stride; /* 1-D: elements between keys k and k + 1 */
    int      dims;
    uint32_t k1_max, k1_step, k2_max, k2_step, k2_min, k1_min;
    size_t   n2; /* row stride: k2_max / k2_step + 1 */
};

static int grid_of(struct cal_table *t, const char *name, struct grid *g, int *which)
{
    memset(g, 0, sizeof *g);
    for (int i = 0; i < N_TOK_OPS; i++)
        if (!strcmp(name, tok_op_name[i])) {
            *which = i;
            g->a = t->tok + i;
            g->stride = N_TOK_OPS;
            g->dims = 1;
            g->k1_step = i == OP_KV_SAVE ? 1 : t->token_round;
            g->k1_min = g->k1_step;
            g->k1_max = t->tokens_max;
            return SIM_OK;
        }
    if (!strcmp(name, "attn_decode")) {
        *which = N_TOK_OPS;
        *g = (struct grid){.a = t->decode,
                           .dims = 2,
                           .k1_max = t->batch_max,
                           .k1_step = 1,
                           .k2_max = t->kv_max,
                           .k2_step = t->kv_round,
                           .k2_min = 0,
                           .k1_min = 1,
                           .n2 = t->kv_max / t->kv_round + 1};
        return SIM_OK;
    }
    if (!strcmp(name, "attn_prefill")) {
        *which = N_TOK_OPS + 1;
        *g = (struct grid){.a = t->prefill,
                           .dims = 2,
                           .k1_max = t->kv_max,
                           .k1_step = t->kv_round,
                           .k2_max = t->chunk_max,
                           .k2_step = 1,
                           .k2_min = 1,
                           .k1_min = 0,
                           .n2 = (size_t)t->chunk_max + 1};
        return SIM_OK;
    }
    return -1;
}

/* Issue 13: the span of the row (k1, k2) of value v, up to the next row (n1, n2) in the same
 * table (n1 UINT64_MAX: none): to n1 - 1 in a 1-D table; in a 2-D one to n2 - 1 when n1 == k1,
 * else to the end of k1's row. Each element is written once, where writing every row to the end
 * of its run (the later rows overwriting) cost O(rows x row length). */
static void fill_span(const struct grid *g, uint64_t k1, uint64_t k2, double v, uint64_t n1,
                      uint64_t n2)
{
    if (g->dims == 1) {
        uint64_t end = n1 <= g->k1_max ? n1 : (uint64_t)g->k1_max + 1;
        for (uint64_t k = k1; k < end; k++)
            g->a[k * g->stride] = v;
    } else {
        double  *row = g->a + (size_t)(k1 / g->k1_step) * g->n2;
        uint64_t end = n1 == k1 ? n2 / g->k2_step : g->n2;
        for (uint64_t k = k2 / g->k2_step; k < end; k++)
            row[k] = v;
    }
}

/* Read `n` rows of one table. A row holds from its key (its last key, in 2-D tables) up to the
 * next row's; rows are in increasing order of their keys; in 2-D tables each first key's rows
 * run to k2_max. */
static int read_rows(struct lp *l, const char *name, struct grid *g, uint64_t n)
{
    uint64_t prev1 = 0, prev2 = 0;
    double   prev_v = 0;
    int      have = 0;
    for (uint64_t i = 0; i < n; i++) {
        int rc = next_line(l);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return lerr(l, "table %s: the file ends after %llu of its %llu rows", name,
                        (unsigned long long)i, (unsigned long long)n);
        char *f[4] = {0};
        int   nf = 0;
        for (char *s = strtok(l->buf, " \t"); s; s = strtok(NULL, " \t"))
            if (nf < 4)
                f[nf++] = s;
            else
                nf = 5;
        if (nf != g->dims + 1)
            return lerr(l, "table %s: expected %s and a time in ms", name,
                        g->dims == 1 ? "a token count" : "two keys");
        uint64_t k1, k2 = 0;
        double   v;
        int      r;
        if ((r = parse_u(l, f[0], g->dims == 1 ? "token count" : "first key", g->k1_min, g->k1_max,
                         &k1)))
            return r;
        if (k1 % g->k1_step)
            return lerr(l, "table %s: key %llu is not a multiple of %u", name,
                        (unsigned long long)k1, g->k1_step);
        if (g->dims == 2) {
            if ((r = parse_u(l, f[1], "second key", g->k2_min, g->k2_max, &k2)))
                return r;
            if (k2 % g->k2_step)
                return lerr(l, "table %s: key %llu is not a multiple of %u", name,
                            (unsigned long long)k2, g->k2_step);
        }
        if ((r = parse_d(l, f[g->dims], "time", 0, 1e9, &v)))
            return r;
        if (have && (g->dims == 1 ? k1 <= prev1 : (k1 < prev1 || (k1 == prev1 && k2 <= prev2))))
            return lerr(l, "table %s: rows must be in increasing order of their keys", name);
        if (have) /* the previous row's span ends where this one starts */
            fill_span(g, prev1, prev2, prev_v, k1, k2);
        prev1 = k1, prev2 = k2, prev_v = v, have = 1;
    }
    if (have)
        fill_span(g, prev1, prev2, prev_v, UINT64_MAX, 0);
    return SIM_OK;
}

static double *nan_array(size_t n)
{
    double *a = sim_malloc(n * sizeof *a);
    if (a)
        for (size_t i = 0; i < n; i++)
            a[i] = NAN;
    return a;
}

/* Issue 13: the table kept by cal_table_keep, the text it was parsed from and its meta. */
static struct {
    int                on;
    char              *text;
    size_t             len;
    cal_table_t       *t;
    struct cal_profile meta;
} kept;

static void keep_drop(void)
{
    sim_free(kept.text);
    cal_table_free(kept.t);
    kept.text = NULL;
    kept.t = NULL;
    kept.len = 0;
}

void cal_table_keep(int on)
{
    if (!on)
        keep_drop();
    kept.on = on;
}

/* Keep t, parsed from buf[0..len), as the table a later parse of the same text shares. Keeping
 * is best effort: out of memory, nothing is kept (the next parse reads the text again). */
static void keep_table(cal_table_t *t, const char *buf, size_t len, const struct cal_profile *m)
{
    keep_drop();
    if (!(kept.text = sim_malloc(len ? len : 1)))
        return;
    memcpy(kept.text, buf, len);
    kept.len = len;
    kept.t = t;
    kept.meta = *m;
    t->refs++;
}

static int parse_text(const char *path, const char *buf, size_t len, cal_table_t **out,
                      struct cal_profile *meta, struct sim_msg *err);

int cal_table_parse(const char *path, const char *buf, size_t len, cal_table_t **out,
                    struct cal_profile *meta, struct sim_msg *err)
{
    if (kept.on && kept.t && len == kept.len && !memcmp(buf, kept.text, len)) {
        *meta = kept.meta;
        kept.t->refs++;
        *out = kept.t;
        return SIM_OK;
    }
    int rc = parse_text(path, buf, len, out, meta, err);
    if (!rc && kept.on)
        keep_table(*out, buf, len, meta);
    return rc;
}

static int parse_text(const char *path, const char *buf, size_t len, cal_table_t **out,
                      struct cal_profile *meta, struct sim_msg *err)
{
    *out = NULL;
    memset(meta, 0, sizeof *meta);
    struct lp   *l = sim_malloc(sizeof *l);
    cal_table_t *t = sim_malloc(sizeof *t);
    int          rc = SIM_OK;
    if (!l || !t) {
        sim_free(l);
        sim_free(t);
        return sim_msg_set(err, SIM_ENOMEM, "%s: out of memory", path);
    }
    memset(t, 0, sizeof *t);
    t->refs = 1;
    *l = (struct lp){.path = path, .p = buf, .end = buf + len, .err = err};
    snprintf(meta->source, sizeof meta->source, "table");
    snprintf(meta->backend, sizeof meta->backend, "table");

    /* Header: `key: value` lines up to the first `table` line. */
    uint32_t seen = 0;
    int      tables_seen = 0, ended = 0;
    for (;;) {
        if ((rc = next_line(l)) <= 0) {
            if (rc == 0)
                rc = lerr(l, "the file ends before its tables (expected 'table NAME ROWS')");
            goto fail;
        }
        if (blank_or_comment(l->buf))
            continue;
        if (!strncmp(l->buf, "table ", 6))
            break;
        char *colon = strstr(l->buf, ": ");
        if (!colon) {
            rc = lerr(l, "expected 'key: value' or 'table NAME ROWS'");
            goto fail;
        }
        *colon = 0;
        const char *v = colon + 2;
        int         k = 0;
        while (k < N_HK && strcmp(l->buf, hk_name[k]))
            k++;
        if (k == N_HK) {
            rc = lerr(l, "%s: unknown key", l->buf);
            goto fail;
        }
        if (k == HK_FORMAT ? seen != 0 : !(seen & 1u)) {
            rc = lerr(l, "format: must be the first key");
            goto fail;
        }
        if (k != HK_INPUT && (seen & (1u << k))) {
            rc = lerr(l, "%s: duplicate key", l->buf);
            goto fail;
        }
        seen |= 1u << k;
        if ((rc = header_pair(l, t, meta, (enum hk)k, v)))
            goto fail;
    }
    for (int k = 0; k < HK_INPUT; k++)
        if (!(seen & (1u << k)) && k != HK_DEVICE && k != HK_SOURCE && k != HK_WEIGHTS) {
            rc = lerr(l, "missing header key '%s' (before the first table)", hk_name[k]);
            goto fail;
        }
    if (t->shape[0] != t->layers) {
        rc = lerr(l, "layers %u differs from the shape's %u layers", t->layers, t->shape[0]);
        goto fail;
    }
    if (t->kv_max % t->kv_round) {
        rc = lerr(l, "kv_max %u is not a multiple of kv_round %u", t->kv_max, t->kv_round);
        goto fail;
    }
    if (t->tokens_max % t->token_round) {
        rc = lerr(l, "tokens_max %u is not a multiple of token_round %u", t->tokens_max,
                  t->token_round);
        goto fail;
    }
    if (!(t->tok = nan_array(((size_t)t->tokens_max + 1) * N_TOK_OPS)))
        goto oom;
    size_t n_kv = t->n_kv = t->kv_max / t->kv_round + 1;
    if (!(t->decode = nan_array(((size_t)t->batch_max + 1) * n_kv)) ||
        !(t->prefill = nan_array(n_kv * ((size_t)t->chunk_max + 1))))
        goto oom;

    /* Tables: `table NAME ROWS`, ROWS rows, ... `end`. */
    for (;;) {
        if (!strcmp(l->buf, "end")) {
            ended = 1;
            break;
        }
        char  name[64];
        char *f[3] = {0};
        int   nf = 0;
        for (char *s = strtok(l->buf, " \t"); s; s = strtok(NULL, " \t"))
            if (nf < 3)
                f[nf++] = s;
            else
                nf = 4;
        if (nf != 3 || strcmp(f[0], "table")) {
            rc = lerr(l, "expected 'table NAME ROWS' or 'end'");
            goto fail;
        }
        struct grid g;
        int         which;
        snprintf(name, sizeof name, "%s", f[1]);
        if (grid_of(t, name, &g, &which)) {
            rc = lerr(l,
                      "unknown table '%.60s' (the per-token operators, attn_decode, "
                      "attn_prefill: calib/PROFILE.md)",
                      name);
            goto fail;
        }
        if (tables_seen & (1 << which)) {
            rc = lerr(l, "table %s: appears twice", name);
            goto fail;
        }
        tables_seen |= 1 << which;
        uint64_t n;
        if ((rc = parse_u(l, f[2], "rows", 1, 100000000, &n)) || (rc = read_rows(l, name, &g, n)))
            goto fail;
        do {
            if ((rc = next_line(l)) <= 0) {
                if (rc == 0)
                    rc = lerr(l, "the file ends without 'end'");
                goto fail;
            }
        } while (blank_or_comment(l->buf));
    }
    for (int i = 0; i < N_TOK_OPS + 2; i++)
        if (!(tables_seen & (1 << i))) {
            rc = lerr(l, "missing table '%s'",
                      i < N_TOK_OPS    ? tok_op_name[i]
                      : i == N_TOK_OPS ? "attn_decode"
                                       : "attn_prefill");
            goto fail;
        }
    while ((rc = next_line(l)) > 0)
        if (!blank_or_comment(l->buf)) {
            rc = lerr(l, "text after 'end'");
            goto fail;
        }
    if (rc < 0)
        goto fail;
    (void)ended;
    t->nccl_skew = t->nccl_skew_ms * pow((double)t->tp, 1.25);
    sim_free(l);
    *out = t;
    return SIM_OK;
oom:
    rc = sim_msg_set(err, SIM_ENOMEM, "%s: out of memory", path);
fail:
    sim_free(l);
    cal_table_free(t);
    return rc;
}

void cal_table_free(cal_table_t *t)
{
    if (!t || --t->refs)
        return;
    sim_free(t->tok);
    sim_free(t->decode);
    sim_free(t->prefill);
    sim_free(t);
}

uint32_t cal_table_kv_round(const cal_table_t *t) { return t->kv_round; }

const uint32_t *cal_table_shape(const cal_table_t *t) { return t->shape; }

/* ---- the batch time ---- */

/* Issue 13: x / step and x rounded up to a multiple of step, by shifts when step is a power of
 * two (the shipped profiles' 8 and 64), by division otherwise; the same integers either way. */
static inline uint64_t div_by(uint64_t x, uint32_t step)
{
    return (step & (step - 1)) ? x / step : x >> __builtin_ctz(step);
}

static inline uint64_t up_to(uint64_t x, uint32_t step)
{
    return div_by(x + step - 1, step) * step;
}

static int missing(struct sim_msg *why, const char *table, const char *keys)
{
    return sim_msg_set(why, SIM_ECONFIG,
                       "the table profile has no %s entry at %s (below its first row)", table,
                       keys);
}

int cal_table_latency(const cal_table_t *t, const struct cal_table_batch *b, double *s,
                      struct sim_msg *why)
{
    uint64_t n = b->decode_seqs + b->prefill_tok;
    if (!n)
        return sim_msg_set(why, SIM_ECONFIG, "an empty batch has no time in a table profile");
    uint64_t r = up_to(n, t->token_round);
    if (r > t->tokens_max)
        return sim_msg_set(why, SIM_ECONFIG,
                           "a batch of %llu tokens (%u decodes + %llu prefill tokens; %llu "
                           "rounded up to %u) is past the table profile's %u tokens",
                           (unsigned long long)n, b->decode_seqs,
                           (unsigned long long)b->prefill_tok, (unsigned long long)r,
                           t->token_round, t->tokens_max);
    double        tv[N_TOK_OPS];
    const double *row = t->tok + (size_t)r * N_TOK_OPS;
    for (int i = 0; i < N_TOK_OPS; i++) {
        tv[i] = i == OP_KV_SAVE ? t->tok[(size_t)n * N_TOK_OPS + OP_KV_SAVE] : row[i];
        if (isnan(tv[i])) {
            char k[48];
            snprintf(k, sizeof k, "%llu tokens", (unsigned long long)(i == OP_KV_SAVE ? n : r));
            return missing(why, tok_op_name[i], k);
        }
    }

    /* Decode attention at (sequences, mean context rounded down, then up to kv_round). */
    double dec = 0;
    if (b->decode_seqs) {
        uint64_t mean = b->decode_ctx / b->decode_seqs;
        uint64_t kv = up_to(mean, t->kv_round);
        if (b->decode_seqs > t->batch_max || kv > t->kv_max)
            return sim_msg_set(why, SIM_ECONFIG,
                               "decode attention of %u sequences at a mean context of %llu "
                               "tokens (rounded up to %llu) is past the table profile "
                               "(batch_max %u, kv_max %u)",
                               b->decode_seqs, (unsigned long long)mean, (unsigned long long)kv,
                               t->batch_max, t->kv_max);
        dec = t->decode[(size_t)b->decode_seqs * t->n_kv + div_by(kv, t->kv_round)];
        if (isnan(dec)) {
            char k[64];
            snprintf(k, sizeof k, "batch %u, context %llu", b->decode_seqs, (unsigned long long)kv);
            return missing(why, "attn_decode", k);
        }
        dec *= 1 + t->decode_overhead * (b->decode_seqs > 1);
    }

    /* Prefill attention at (cached tokens, each rounded up, summed; the root of the summed
     * squared chunks, to the nearest whole token). */
    double pf = 0;
    if (b->prefills) {
        uint64_t chunk = (uint64_t)llround(sqrt((double)b->prefill_sq));
        if (b->prefill_kv > t->kv_max || up_to(b->prefill_kv, t->kv_round) != b->prefill_kv ||
            chunk > t->chunk_max || chunk < 1)
            return sim_msg_set(why, SIM_ECONFIG,
                               "prefill attention of %u prefills with %llu cached tokens (summed, "
                               "each rounded up to %u) and an aggregate chunk of %llu tokens "
                               "(the root of the summed squares) is past the table profile "
                               "(kv_max %u, chunk_max %u)",
                               b->prefills, (unsigned long long)b->prefill_kv, t->kv_round,
                               (unsigned long long)chunk, t->kv_max, t->chunk_max);
        pf = t->prefill[(size_t)div_by(b->prefill_kv, t->kv_round) * ((size_t)t->chunk_max + 1) +
                        chunk];
        if (isnan(pf)) {
            char k[64];
            snprintf(k, sizeof k, "context %llu, chunk %llu", (unsigned long long)b->prefill_kv,
                     (unsigned long long)chunk);
            return missing(why, "attn_prefill", k);
        }
        pf *= 1 + t->prefill_overhead * (b->prefills > 1);
    }

    /* Two all-reduces per layer (after attention and after the MLP), each with NCCL's launch
     * overhead and a skew per device (Vidur's nccl_cpu_*_overhead_ms). */
    double comm = t->tp > 1 ? tv[OP_ALL_REDUCE] + t->nccl_launch_ms + t->nccl_skew : 0;
    double attn = tv[OP_PRE_PROJ] + tv[OP_POST_PROJ] + tv[OP_ROPE] + tv[OP_KV_SAVE] + dec + pf +
                  comm + tv[OP_INPUT_NORM];
    double mlp = tv[OP_UP_PROJ] + tv[OP_DOWN_PROJ] + tv[OP_ACT] + comm +
                 (t->post_attn_norm ? tv[OP_POST_NORM] : 0);
    double block = attn + mlp + tv[OP_ADD];
    *s = block * t->layers * 1e-3;
    return SIM_OK;
}
