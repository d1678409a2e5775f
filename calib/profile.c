/*
 * profile.c: reading and writing perf profiles (format: calib/PROFILE.md).
 *
 * Reading: the file is read whole into one sim_malloc buffer (so tests can inject its
 * failure), parsed by libyaml into a document, and walked by tables of known keys. Unknown keys,
 * duplicate keys, wrong node kinds, unparsable numbers and out-of-range values are SIM_ECONFIG
 * with "file:line: key: what"; the free-form `info:` section is skipped.
 * Writing: printf with %.17g (every double round-trips), to a temporary file in the same folder,
 * then rename(2), so a reader never sees half a profile.
 */
#include "profile.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "afile.h"
#include "alloc.h"
#include "table.h"

const char *cal_term_name(size_t j)
{
    static const char *const names[CAL_TERMS] = {"const", "decode_seqs", "decode_ctx",
                                                 "prefill_tok", "prefill_sq"};
    return j < CAL_TERMS ? names[j] : "?";
}

#define PROFILE_FORMAT "lensim-profile/1"
/* The KV sizes a profile may state: a token's K and V take at least a byte and at most a
 * terabyte, and a replica holds at most an exabyte of KV cache. Their ratio, the capacity in
 * tokens, is then at most 1e18: an integer count without overflow (sim/run.c). */
#define KV_BYTES_PER_TOKEN_MAX 1e12
#define KV_CAPACITY_BYTES_MAX  1e18

/* ---- reading ---- */

struct rd {
    const char     *path;
    yaml_document_t doc;
    struct sim_msg *err;
    unsigned        seen; /* required fields seen, bit per REQ_* */
};

enum {
    REQ_FORMAT = 1u << 0,
    REQ_MODEL = 1u << 1,
    REQ_BACKEND = 1u << 2,
    REQ_TP = 1u << 3,
    REQ_PIECES = 1u << 4,
    REQ_KVB = 1u << 5,
    REQ_KVCAP = 1u << 6,
};

static int at(struct rd *r, const yaml_node_t *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int at(struct rd *r, const yaml_node_t *n, const char *key, const char *fmt, ...)
{
    char    what[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return sim_msg_set(r->err, SIM_ECONFIG, "%s:%lu: %s: %s", r->path,
                       (unsigned long)(n ? n->start_mark.line + 1 : 0), key, what);
}

static const char *scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int get_str(struct rd *r, const yaml_node_t *n, const char *key, char *out, size_t cap)
{
    const char *s = scalar(n);
    if (!s)
        return at(r, n, key, "expected a string");
    if (strlen(s) >= cap)
        return at(r, n, key, "longer than %zu characters", cap - 1);
    memcpy(out, s, strlen(s) + 1);
    return SIM_OK;
}

static int get_num(struct rd *r, const yaml_node_t *n, const char *key, double *out)
{
    const char *s = scalar(n);
    if (!s)
        return at(r, n, key, "expected a number");
    if (!strcmp(s, ".inf") || !strcmp(s, ".Inf") || !strcmp(s, ".INF") || !strcmp(s, "+.inf")) {
        *out = INFINITY;
        return SIM_OK;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || isnan(v) || isinf(v))
        return at(r, n, key, "'%s' is not a finite number", s);
    *out = v;
    return SIM_OK;
}

static int get_nonneg(struct rd *r, const yaml_node_t *n, const char *key, double *out)
{
    int rc = get_num(r, n, key, out);
    if (!rc && *out < 0)
        return at(r, n, key, "must not be negative (%g)", *out);
    return rc;
}

/* Iterate a mapping: calls fn(r, key, value node, ctx) for each pair; rejects duplicates and
 * non-scalar keys. */
typedef int (*pair_fn)(struct rd *r, const char *key, yaml_node_t *v, void *ctx);

static int each_pair(struct rd *r, yaml_node_t *m, const char *where, pair_fn fn, void *ctx)
{
    if (!m || m->type != YAML_MAPPING_NODE)
        return at(r, m, where, "expected a mapping");
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&r->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&r->doc, p->value);
        const char  *ks = scalar(k);
        if (!ks)
            return at(r, k, where, "keys must be plain strings");
        for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p; q++)
            if (!strcmp(scalar(yaml_document_get_node(&r->doc, q->key)), ks))
                return at(r, k, ks, "duplicate key");
        int rc = fn(r, ks, v, ctx);
        if (rc)
            return rc;
    }
    return SIM_OK;
}

static int piece_pair(struct rd *r, const char *key, yaml_node_t *v, void *ctx)
{
    struct cal_piece *pc = ctx;
    if (!strcmp(key, "max_tokens")) {
        int rc = get_num(r, v, key, &pc->max_tokens);
        if (!rc && !(pc->max_tokens > 0))
            return at(r, v, key, "must be positive");
        return rc;
    }
    for (size_t j = 0; j < CAL_TERMS; j++) {
        if (!strcmp(key, cal_term_name(j)))
            return get_num(r, v, key, &pc->coef[j]);
    }
    return at(r, v, key,
              "unknown key in a latency piece (max_tokens, const, decode_seqs, "
              "decode_ctx, prefill_tok, prefill_sq)");
}

static int latency_pair(struct rd *r, const char *key, yaml_node_t *v, void *ctx)
{
    struct cal_profile *p = ctx;
    if (!strcmp(key, "form"))
        return scalar(v) ? SIM_OK : at(r, v, key, "expected a string");
    if (strcmp(key, "pieces"))
        return at(r, v, key, "unknown key in latency (form, pieces)");
    if (v->type != YAML_SEQUENCE_NODE)
        return at(r, v, key, "expected a list of pieces");
    size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n < 1 || n > CAL_MAX_PIECES)
        return at(r, v, key, "%zu pieces (1 to %d)", n, CAL_MAX_PIECES);
    p->n_pieces = n;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t      *e = yaml_document_get_node(&r->doc, v->data.sequence.items.start[i]);
        struct cal_piece *pc = &p->piece[i];
        pc->max_tokens = NAN;
        int rc = each_pair(r, e, "latency.pieces[]", piece_pair, pc);
        if (rc)
            return rc;
        if (isnan(pc->max_tokens))
            return at(r, e, "latency.pieces[]", "missing max_tokens");
        if (i && !(pc->max_tokens > p->piece[i - 1].max_tokens))
            return at(r, e, "max_tokens", "pieces must be in increasing max_tokens");
        if (i + 1 == n && !isinf(pc->max_tokens))
            return at(r, e, "max_tokens", "the last piece must be unbounded (.inf)");
        if (i + 1 < n && isinf(pc->max_tokens))
            return at(r, e, "max_tokens", "only the last piece may be unbounded");
    }
    r->seen |= REQ_PIECES;
    return SIM_OK;
}

static int memory_pair(struct rd *r, const char *key, yaml_node_t *v, void *ctx)
{
    struct cal_profile *p = ctx;
    int                 rc;
    /* Both bounded (KV_*_MAX above): their ratio becomes an integer count of tokens. */
    if (!strcmp(key, "kv_bytes_per_token")) {
        if ((rc = get_num(r, v, key, &p->kv_bytes_per_token)))
            return rc;
        if (!(p->kv_bytes_per_token > 0))
            return at(r, v, key, "must be positive");
        if (!(p->kv_bytes_per_token >= 1 && p->kv_bytes_per_token <= KV_BYTES_PER_TOKEN_MAX))
            return at(r, v, key, "%g is out of range [1, %g] bytes", p->kv_bytes_per_token,
                      KV_BYTES_PER_TOKEN_MAX);
        r->seen |= REQ_KVB;
        return SIM_OK;
    }
    if (!strcmp(key, "kv_capacity_bytes")) {
        if ((rc = get_num(r, v, key, &p->kv_capacity_bytes)))
            return rc;
        if (!(p->kv_capacity_bytes > 0 && p->kv_capacity_bytes <= KV_CAPACITY_BYTES_MAX))
            return at(r, v, key, "%g is out of range (0, %g] bytes", p->kv_capacity_bytes,
                      KV_CAPACITY_BYTES_MAX);
        r->seen |= REQ_KVCAP;
        return SIM_OK;
    }
    if (!strcmp(key, "weight_bytes"))
        return get_nonneg(r, v, key, &p->weight_bytes);
    return at(r, v, key,
              "unknown key in memory (kv_bytes_per_token, kv_capacity_bytes, "
              "weight_bytes)");
}

static int predictor_pair(struct rd *r, const char *key, yaml_node_t *v, void *ctx)
{
    struct cal_profile *p = ctx;
    if (!strcmp(key, "cost_s"))
        return get_nonneg(r, v, key, &p->predictor_cost_s);
    return at(r, v, key, "unknown key in predictor (cost_s)");
}

static int fit_pair(struct rd *r, const char *key, yaml_node_t *v, void *ctx)
{
    struct cal_profile *p = ctx;
    if (!strcmp(key, "mape_heldout"))
        return get_nonneg(r, v, key, &p->mape_heldout);
    if (!strcmp(key, "maxerr_heldout"))
        return get_nonneg(r, v, key, &p->maxerr_heldout);
    return at(r, v, key, "unknown key in fit (mape_heldout, maxerr_heldout)");
}

static int raw_pair(struct rd *r, const char *key, yaml_node_t *v, void *ctx)
{
    struct cal_profile *p = ctx;
    if (!strcmp(key, "csv"))
        return get_str(r, v, key, p->raw_csv, sizeof p->raw_csv);
    if (!strcmp(key, "sha256")) {
        int rc = get_str(r, v, key, p->raw_sha256, sizeof p->raw_sha256);
        if (!rc && p->raw_sha256[0] && strspn(p->raw_sha256, "0123456789abcdef") != 64)
            return at(r, v, key, "expected 64 lowercase hex digits");
        return rc;
    }
    return at(r, v, key, "unknown key in raw (csv, sha256)");
}

static int top_pair(struct rd *r, const char *key, yaml_node_t *v, void *ctx)
{
    struct cal_profile *p = ctx;
    if (!strcmp(key, "format")) {
        const char *s = scalar(v);
        if (!s || strcmp(s, PROFILE_FORMAT))
            return at(r, v, key, "expected '%s'", PROFILE_FORMAT);
        r->seen |= REQ_FORMAT;
        return SIM_OK;
    }
    if (!strcmp(key, "model")) {
        r->seen |= REQ_MODEL;
        return get_str(r, v, key, p->model, sizeof p->model);
    }
    if (!strcmp(key, "source"))
        return get_str(r, v, key, p->source, sizeof p->source);
    if (!strcmp(key, "backend")) {
        r->seen |= REQ_BACKEND;
        return get_str(r, v, key, p->backend, sizeof p->backend);
    }
    if (!strcmp(key, "device"))
        return get_str(r, v, key, p->device, sizeof p->device);
    if (!strcmp(key, "driver"))
        return get_str(r, v, key, p->driver, sizeof p->driver);
    if (!strcmp(key, "cuda"))
        return get_str(r, v, key, p->cuda, sizeof p->cuda);
    if (!strcmp(key, "date"))
        return get_str(r, v, key, p->date, sizeof p->date);
    if (!strcmp(key, "tp")) {
        double t;
        int    rc = get_num(r, v, key, &t);
        if (rc)
            return rc;
        if (t < 1 || t > 1024 || t != floor(t))
            return at(r, v, key, "expected an integer from 1 to 1024");
        p->tp = (uint32_t)t;
        r->seen |= REQ_TP;
        return SIM_OK;
    }
    if (!strcmp(key, "latency"))
        return each_pair(r, v, key, latency_pair, p);
    if (!strcmp(key, "memory"))
        return each_pair(r, v, key, memory_pair, p);
    if (!strcmp(key, "predictor"))
        return each_pair(r, v, key, predictor_pair, p);
    if (!strcmp(key, "fit"))
        return each_pair(r, v, key, fit_pair, p);
    if (!strcmp(key, "raw"))
        return each_pair(r, v, key, raw_pair, p);
    if (!strcmp(key, "info"))
        return SIM_OK; /* free-form: grid, timing, per-term errors, warnings */
    return at(r, v, key, "unknown key");
}

/* Latency must be finite and positive over every batch a piece covers, whatever the run's
 * limits (the profile does not know them). A piece covers the batches of n_tok = decode_seqs +
 * prefill_tok in [lo, hi] (hi may be +inf), with decode context at least one token per sequence
 * and unbounded above, and prefill_sq between prefill_tok (one-token prompts) and prefill_tok^2
 * (one prompt). Latency is linear in the context, so a negative decode_ctx term is refused;
 * minimised over the context and prefill_sq, it is linear in (decode_seqs, prefill_tok), or
 * concave when prefill_sq's term is negative, so its minimum over the piece lies at a corner:
 * lo or hi decodes, or lo or hi prompt tokens. An unbounded piece must also not fall along
 * either axis. */
static int check_positive(struct rd *r, const struct cal_profile *p)
{
    for (size_t k = 0; k < p->n_pieces; k++) {
        const double *c = p->piece[k].coef;
        double        lo = k ? floor(p->piece[k - 1].max_tokens) + 1 : 1;
        double        hi = floor(p->piece[k].max_tokens);
        if (hi < lo)
            continue; /* covers no whole token count */
        for (size_t j = 0; j < CAL_TERMS; j++)
            if (!isfinite(c[j]))
                return sim_msg_set(r->err, SIM_ECONFIG,
                                   "%s: latency piece %zu: %s is not finite (%g)", r->path, k + 1,
                                   cal_term_name(j), c[j]);
        const char *why = NULL;
        double      per_seq = c[CAL_T_DECODE_SEQS] + c[CAL_T_DECODE_CTX];
        if (c[CAL_T_DECODE_CTX] < 0)
            why = "its decode_ctx term is negative, so long contexts take negative time";
        else if (isinf(hi) && c[CAL_T_PREFILL_SQ] < 0)
            why = "its prefill_sq term is negative and the piece is unbounded, so long prompts "
                  "take negative time";
        else if (isinf(hi) && per_seq < 0)
            why = "decode_seqs + decode_ctx is negative and the piece is unbounded, so large "
                  "batches of decodes take negative time";
        else if (isinf(hi) && c[CAL_T_PREFILL_TOK] + c[CAL_T_PREFILL_SQ] < 0)
            why = "prefill_tok + prefill_sq is negative and the piece is unbounded, so large "
                  "batches of one-token prompts take negative time";
        if (why)
            return sim_msg_set(r->err, SIM_ECONFIG, "%s: latency piece %zu is not positive: %s",
                               r->path, k + 1, why);
        double ends[2] = {lo, hi};
        for (int e = 0; e < 2 && isfinite(ends[e]); e++) {
            double n = ends[e], q = c[CAL_T_PREFILL_SQ] < 0 ? n * n : n;
            double td = c[CAL_T_CONST] + per_seq * n;
            double tp = c[CAL_T_CONST] + c[CAL_T_PREFILL_TOK] * n + c[CAL_T_PREFILL_SQ] * q;
            if (!(td > 0 && isfinite(td)) || !(tp > 0 && isfinite(tp)))
                return sim_msg_set(r->err, SIM_ECONFIG,
                                   "%s: latency piece %zu is not positive at %.0f tokens "
                                   "(%s: %g s)",
                                   r->path, k + 1, n,
                                   !(td > 0 && isfinite(td)) ? "one-token decodes"
                                   : q > n                   ? "one prompt"
                                                             : "one-token prompts",
                                   !(td > 0 && isfinite(td)) ? td : tp);
        }
    }
    return SIM_OK;
}

int cal_profile_check_latency(const struct cal_profile *p, const char *what, struct sim_msg *err)
{
    struct rd r = {.path = what, .err = err};
    return check_positive(&r, p);
}

int cal_profile_load(const char *path, struct cal_profile *out, struct sim_msg *err)
{
    memset(out, 0, sizeof *out);
    FILE *f;
    int   rc = sim_open_input(path, &f, err);
    if (rc)
        return rc;
    char  *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 > cap) {
            size_t nc = cap ? 2 * cap : 8192;
            char  *nb = sim_realloc(buf, nc);
            if (!nb) {
                rc = sim_msg_set(err, SIM_ENOMEM, "%s: out of memory", path);
                break;
            }
            buf = nb, cap = nc;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f))
                rc = sim_msg_set(err, SIM_EIO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (rc) {
        sim_free(buf);
        return rc;
    }

    if (cal_table_detect(buf, len)) { /* the table form: calib/table.h */
        struct cal_table *t;
        rc = cal_table_parse(path, buf, len, &t, out, err);
        sim_free(buf);
        if (!rc)
            out->table = t;
        return rc;
    }
    struct rd     r = {.path = path, .err = err};
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        sim_free(buf);
        return sim_msg_set(err, SIM_ENOMEM, "%s: out of memory", path);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &r.doc)) {
        rc = parser.error == YAML_MEMORY_ERROR
                 ? sim_msg_set(err, SIM_ENOMEM, "%s: out of memory", path)
                 : sim_msg_set(err, SIM_ECONFIG, "%s:%lu:%lu: %s%s%s", path,
                               (unsigned long)parser.problem_mark.line + 1,
                               (unsigned long)parser.problem_mark.column + 1,
                               parser.problem ? parser.problem : "malformed YAML",
                               parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        sim_free(buf);
        return rc;
    }
    yaml_node_t *root = yaml_document_get_root_node(&r.doc);
    if (!root)
        rc = sim_msg_set(err, SIM_ECONFIG, "%s:1: empty profile", path);
    else
        rc = each_pair(&r, root, "profile", top_pair, out);
    static const struct {
        unsigned    bit;
        const char *key;
    } req[] = {{REQ_FORMAT, "format"},
               {REQ_MODEL, "model"},
               {REQ_BACKEND, "backend"},
               {REQ_TP, "tp"},
               {REQ_PIECES, "latency.pieces"},
               {REQ_KVB, "memory.kv_bytes_per_token"},
               {REQ_KVCAP, "memory.kv_capacity_bytes"}};
    for (size_t i = 0; !rc && i < sizeof req / sizeof req[0]; i++)
        if (!(r.seen & req[i].bit))
            rc = sim_msg_set(err, SIM_ECONFIG, "%s:%lu: missing required key '%s'", path,
                             (unsigned long)(root ? root->end_mark.line + 1 : 1), req[i].key);
    if (!rc)
        rc = check_positive(&r, out);
    yaml_document_delete(&r.doc);
    yaml_parser_delete(&parser);
    sim_free(buf);
    return rc;
}

void cal_profile_fini(struct cal_profile *p)
{
    cal_table_free(p->table);
    p->table = NULL;
}

/* ---- writing ---- */

static void put_str(FILE *f, const char *key, const char *s)
{
    fprintf(f, "%s: \"", key);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(f, "\\%c", *c);
        else if (*c < 0x20)
            fprintf(f, "\\x%02x", *c);
        else
            fputc(*c, f);
    }
    fputs("\"\n", f);
}

static void put_num(FILE *f, const char *indent, const char *key, double v)
{
    if (isinf(v))
        fprintf(f, "%s%s: .inf\n", indent, key);
    else
        fprintf(f, "%s%s: %.17g\n", indent, key, v);
}

int cal_profile_save_info(const char *path, const struct cal_profile *p, const char *info,
                          struct sim_msg *err)
{
    if (p->table) /* the table form is written by its converter (tools/vidur_tables.py) */
        return sim_msg_set(err, SIM_ECONFIG,
                           "%s: a table profile cannot be saved in the piecewise form", path);
    struct sim_afile af;
    int              rc = sim_afile_open(&af, path, err);
    if (rc)
        return rc;
    FILE *f = af.f;
    fprintf(f, "# lensim perf profile; format: calib/PROFILE.md\n");
    fprintf(f, "format: %s\n", PROFILE_FORMAT);
    put_str(f, "model", p->model);
    put_str(f, "source", p->source);
    put_str(f, "backend", p->backend);
    put_str(f, "device", p->device);
    put_str(f, "driver", p->driver);
    put_str(f, "cuda", p->cuda);
    put_str(f, "date", p->date);
    fprintf(f, "tp: %u\n", p->tp);
    fprintf(f, "latency:\n  form: \"T = const + decode_seqs*n + decode_ctx*ctx + "
               "prefill_tok*p + prefill_sq*p2 (seconds)\"\n  pieces:\n");
    for (size_t k = 0; k < p->n_pieces; k++) {
        put_num(f, "    - ", "max_tokens", p->piece[k].max_tokens);
        for (size_t j = 0; j < CAL_TERMS; j++)
            put_num(f, "      ", cal_term_name(j), p->piece[k].coef[j]);
    }
    fprintf(f, "memory:\n");
    put_num(f, "  ", "kv_bytes_per_token", p->kv_bytes_per_token);
    put_num(f, "  ", "kv_capacity_bytes", p->kv_capacity_bytes);
    put_num(f, "  ", "weight_bytes", p->weight_bytes);
    fprintf(f, "predictor:\n");
    put_num(f, "  ", "cost_s", p->predictor_cost_s);
    fprintf(f, "fit:\n");
    put_num(f, "  ", "mape_heldout", p->mape_heldout);
    put_num(f, "  ", "maxerr_heldout", p->maxerr_heldout);
    fprintf(f, "raw:\n  ");
    put_str(f, "csv", p->raw_csv);
    fprintf(f, "  ");
    put_str(f, "sha256", p->raw_sha256);
    if (info && *info)
        fprintf(f, "info:\n%s", info);
    return sim_afile_commit(&af, err);
}

int cal_profile_save(const char *path, const struct cal_profile *p, struct sim_msg *err)
{
    return cal_profile_save_info(path, p, NULL, err);
}
