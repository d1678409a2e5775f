/* exec_live.c: the live executor: the replica's iterations run on kernels (see exec_live.h). */
#include "exec_live.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "kern_live.h"
#include "kern_rand.h"

const struct sim_choice exec_mode_choices[] = {
    {"sim", EXEC_MODE_SIM, "iterations take the perf profile's time (the simulator)"},
    {"live", EXEC_MODE_LIVE, "iterations run on kernels (live.*); writes iterations.csv too"},
    {NULL, 0, NULL},
};

const struct sim_choice live_clock_choices[] = {
    {"measured", LIVE_CLOCK_MEASURED,
     "the virtual clock advances by each iteration's measured wall time; arrivals replayed on "
     "it; replicas as if on separate devices (outputs vary from run to run)"},
    {"profile", LIVE_CLOCK_PROFILE,
     "the kernels run but each iteration takes the perf profile's time (byte-identical to "
     "engine.mode sim; proves one engine)"},
    {"realtime", LIVE_CLOCK_REALTIME,
     "one replica; the virtual clock is the wall clock: an iteration waits until the wall clock "
     "reaches its start, so arrivals are paced by the wall clock and requests queue for as long "
     "as they really wait; the engine's own time between iterations is charged to the next "
     "(not deterministic; live.timer wall)"},
    {NULL, 0, NULL},
};

const struct sim_choice live_timer_choices[] = {
    {"wall", LIVE_TIMER_WALL, "wall-clock time of the executor's call (what a user waits)"},
    {"cpu", LIVE_TIMER_CPU,
     "the thread's CPU time of the call: leaves out time other processes took on a shared "
     "machine (cpu backend, live.threads 1)"},
    {NULL, 0, NULL},
};

static int64_t cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A sequence the executor has seen, by request id. */
struct lseq {
    uint64_t id;
    int      used;
    uint32_t owner;  /* replica (device) index */
    uint32_t prompt; /* prompt tokens: its first prefill's length */
    int32_t *gen;    /* tokens it sampled, in order */
    uint32_t n_gen;
    size_t   cap_gen;
    int32_t  slot;   /* backend slot, -1 when it holds none */
    uint32_t cached; /* tokens in its KV cache */
    int32_t *blk;    /* its blocks (table_stride of room) */
    uint32_t n_blk;
    void    *host; /* swapped-out KV cache, host_tok tokens */
    uint32_t host_tok;
    uint64_t seen; /* stamp of the last iteration that listed it */
    int      gone; /* 1 + enum exec_leave once the replica said it left; 0 while it runs */
    /* issue 11, prefix caching: its trace block hashes (its prompt's tokens follow them), and
     * the blocks of its cached prefix this iteration starts on (checked after the pass) */
    int64_t *hash;
    uint32_t n_hash, hit;
};

/* One replica's share of the backend: a range of slots and of blocks. */
struct owner {
    const void *key;
    int32_t    *free_blk;
    uint32_t    n_free;
    int32_t    *free_slot;
    uint32_t    n_free_slot;
};

struct live {
    struct live_cfg   lc;
    struct kern_shape m;
    struct exec       model; /* predictions and the non-iteration ops */
    kern_backend_t   *be;
    struct kern_info  info;
    uint32_t          stride; /* blocks per sequence at most */
    uint32_t          slots_per, blocks_per;
    struct owner     *own;
    uint32_t          n_own;
    struct lseq     **slot_seq; /* [slots] */
    struct lseq      *tab;      /* open addressing by id */
    size_t            cap_tab, n_tab;
    struct exec_seq  *cur; /* this iteration's listing */
    size_t            n_cur, cap_cur;
    struct lseq     **cur_s;
    struct kern_seq  *ks;
    int32_t          *tok; /* token ids of the batch's rows */
    float            *logits;
    uint64_t          stamp;
    struct live_stats st;
    struct sim_msg   *why; /* the current call's */
    int               err;
    kern_backend_t   *pb;     /* issue 11: the predictor's backend (lc.pred_cost_s > 0) */
    uint64_t         *tag;    /* issue 11, prefix caching: per pool block, the tokens whose KV
                                 it holds (prefix_tags), 0 when not a whole block's */
    int64_t           origin; /* issue 11: realtime: the wall clock's ns at simulated time 0 */
};

/* issue 11: the length predictor's shape, as lensim calibrate times it (calib/calib.c,
 * time_predictor), so that the profile's predictor cost predicts what runs here. */
static const struct kern_pred_shape live_pred_shape = {
    .features = 1u << 18, .dim = 256, .layers = 2, .classes = 10};
enum { LIVE_PRED_FEAT = 256 };

/* issue 11: realtime: wait until the wall clock reaches simulated time t; returns the wall ns at
 * which t falls. Other clocks: returns 0 at once. */
static int64_t pace(struct live *lv, simtime_t t)
{
    if (lv->lc.clock != LIVE_CLOCK_REALTIME)
        return 0;
    int64_t due = lv->origin + (int64_t)t, w = sim_wall_ns();
    if (w >= due) {
        lv->st.lag_s += (double)(w - due) / 1e9;
        return due;
    }
    struct timespec ts = {(time_t)(due / SIM_NS_PER_S), (long)(due % SIM_NS_PER_S)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
    lv->st.wait_s += (double)(sim_wall_ns() - w) / 1e9;
    return due;
}

/* ---- sequences by id ---- */

static size_t slot_of_id(uint64_t id, size_t cap) { return (size_t)(kern_mix64(id) & (cap - 1)); }

static int tab_grow(struct live *lv)
{
    size_t       cap = lv->cap_tab ? 2 * lv->cap_tab : 1024;
    struct lseq *t = sim_calloc(cap, sizeof *t);
    if (!t)
        return SIM_ENOMEM;
    for (size_t i = 0; i < lv->cap_tab; i++) {
        if (!lv->tab[i].used)
            continue;
        size_t j = slot_of_id(lv->tab[i].id, cap);
        while (t[j].used)
            j = (j + 1) & (cap - 1);
        t[j] = lv->tab[i];
        if (t[j].slot >= 0)
            lv->slot_seq[t[j].slot] = &t[j];
    }
    sim_free(lv->tab);
    lv->tab = t;
    lv->cap_tab = cap;
    return SIM_OK;
}

/* The sequence of id, created when new (NULL: out of memory). Pointers stay valid until the next
 * creation that grows the table. */
static struct lseq *seq_get(struct live *lv, uint64_t id, int *fresh)
{
    *fresh = 0;
    if (2 * (lv->n_tab + 1) > lv->cap_tab && tab_grow(lv))
        return NULL;
    size_t j = slot_of_id(id, lv->cap_tab);
    while (lv->tab[j].used && lv->tab[j].id != id)
        j = (j + 1) & (lv->cap_tab - 1);
    struct lseq *s = &lv->tab[j];
    if (!s->used) {
        memset(s, 0, sizeof *s);
        s->used = 1;
        s->id = id;
        s->slot = -1;
        s->blk = sim_malloc(sizeof *s->blk * lv->stride);
        if (!s->blk) {
            s->used = 0;
            return NULL;
        }
        lv->n_tab++;
        *fresh = 1;
    }
    return s;
}

/* The sequence of id, or NULL when the executor never saw it. */
static struct lseq *seq_find(const struct live *lv, uint64_t id)
{
    if (!lv->cap_tab)
        return NULL;
    size_t j = slot_of_id(id, lv->cap_tab);
    while (lv->tab[j].used && lv->tab[j].id != id)
        j = (j + 1) & (lv->cap_tab - 1);
    return lv->tab[j].used ? (struct lseq *)&lv->tab[j] : NULL;
}

/* Token at position pos of s: its prompt's (pseudo-random from the seed and the id; with prefix
 * caching, the positions its trace hashes cover follow the hash of their 512-token block, so
 * that prompts with the same hashes begin with the same tokens), then what it sampled. */
static int32_t token_at(const struct live *lv, const struct lseq *s, uint32_t pos)
{
    uint32_t src = lv->lc.src_block_tok;
    if (pos < s->prompt && src && pos / src < s->n_hash)
        return (int32_t)(kern_mix64(
                             lv->lc.seed ^
                             kern_mix64((uint64_t)s->hash[pos / src] ^ UINT64_C(0x5eed0000cafe)) ^
                             ((uint64_t)(pos % src) << 40)) %
                         lv->m.vocab);
    if (pos < s->prompt)
        return (int32_t)(kern_mix64(lv->lc.seed ^ kern_mix64(s->id) ^ ((uint64_t)pos << 40)) %
                         lv->m.vocab);
    return s->gen[pos - s->prompt];
}

/* ---- slots, blocks, swap ---- */

static void release(struct live *lv, struct lseq *s)
{
    if (s->slot < 0)
        return;
    struct owner *o = &lv->own[s->owner];
    for (uint32_t i = 0; i < s->n_blk && !lv->lc.prefix; i++) /* prefix: the KV manager's */
        o->free_blk[o->n_free++] = s->blk[i];
    s->n_blk = 0;
    o->free_slot[o->n_free_slot++] = s->slot;
    lv->slot_seq[s->slot] = NULL;
    s->slot = -1;
    s->cached = 0;
}

static int fail(struct live *lv, int rc, const char *fmt, unsigned long long id, unsigned a,
                unsigned b)
{
    char text[160];
    snprintf(text, sizeof text, fmt, id, a, b);
    return sim_msg_set(lv->why, rc, "live executor: %s", text);
}

/* s, which the replica said left (exec_ops.leave), gives up its slot and blocks; preempted by
 * swap, its cache goes to host memory first. */
static int depart(struct live *lv, struct lseq *s)
{
    int swap = s->gone == 1 + EXEC_LEAVE_SWAP;
    s->gone = 0;
    if (swap && s->slot >= 0 && s->cached) {
        size_t bytes = (size_t)s->cached * lv->info.kv_bytes_per_token;
        void  *h = sim_realloc(s->host, bytes);
        if (!h)
            return sim_msg_set(lv->why, SIM_ENOMEM, "out of memory for a swapped KV cache");
        s->host = h;
        s->host_tok = s->cached;
        int64_t t0 = sim_wall_ns();
        int     rc = kern_live_kv_copy(lv->be, (uint32_t)s->slot, s->cached, h, 1, lv->why);
        lv->st.copy_s += (double)(sim_wall_ns() - t0) / 1e9;
        if (rc)
            return rc;
        lv->st.swap_out++;
    }
    release(lv, s);
    return SIM_OK;
}

/* s holds a slot and n blocks (its table uploaded by the next kern_prepare); with prefix caching
 * they are ids[0..n-1], the KV manager's, in its replica's part of the pool. */
static int place(struct live *lv, struct lseq *s, uint32_t n, const uint32_t *ids)
{
    struct owner *o = &lv->own[s->owner];
    if (s->slot < 0) {
        if (!o->n_free_slot)
            return fail(lv, SIM_EINVARIANT, "request %llu: no free slot (%u of %u in use)", s->id,
                        lv->slots_per, lv->slots_per);
        s->slot = o->free_slot[--o->n_free_slot];
        lv->slot_seq[s->slot] = s;
    }
    if (n > lv->stride)
        return fail(lv, SIM_EINVARIANT, "request %llu holds %u blocks, more than %u (max_seq_len)",
                    s->id, n, lv->stride);
    if (lv->lc.prefix) { /* issue 11 */
        for (uint32_t i = 0; i < n; i++) {
            if (ids[i] >= lv->blocks_per)
                return fail(lv, SIM_EINVARIANT, "request %llu: block %u of a pool of %u", s->id,
                            ids[i], lv->blocks_per);
            s->blk[i] = (int32_t)(s->owner * lv->blocks_per + ids[i]);
        }
        s->n_blk = n;
        return kern_live_set_blocks(lv->be, (uint32_t)s->slot, s->blk, s->n_blk, lv->why);
    }
    if (n == s->n_blk)
        return SIM_OK;
    while (s->n_blk < n) {
        if (!o->n_free)
            return fail(lv, SIM_EINVARIANT, "request %llu: pool of %u blocks exhausted at %u",
                        s->id, lv->blocks_per, s->n_blk);
        s->blk[s->n_blk++] = o->free_blk[--o->n_free];
    }
    while (s->n_blk > n)
        o->free_blk[o->n_free++] = s->blk[--s->n_blk];
    return kern_live_set_blocks(lv->be, (uint32_t)s->slot, s->blk, s->n_blk, lv->why);
}

/* ---- one iteration ---- */

static void collect(void *ctx, const struct exec_seq *q)
{
    struct live *lv = ctx;
    if (lv->err)
        return;
    if (SIM_GROW(lv->cur, lv->cap_cur, lv->n_cur + 1)) {
        lv->err = SIM_ENOMEM;
        return;
    }
    lv->cur[lv->n_cur++] = *q;
}

static uint32_t owner_of(struct live *lv, const void *key)
{
    for (uint32_t i = 0; i < lv->n_own; i++)
        if (lv->own[i].key == key)
            return i;
    return lv->n_own < lv->lc.replicas ? (lv->own[lv->n_own].key = key, lv->n_own++) : UINT32_MAX;
}

/* Bring the backend's state in line with the listing, and lay out the batch. */
static int setup(struct live *lv, uint32_t ow, uint32_t *rows)
{
    uint32_t bt = lv->lc.block_tok;
    *rows = 0;
    for (size_t i = 0; i < lv->n_cur; i++) {
        int          fresh;
        struct lseq *s = seq_get(lv, lv->cur[i].id, &fresh);
        if (!s)
            return sim_msg_set(lv->why, SIM_ENOMEM, "out of memory");
        if (fresh)
            s->owner = ow;
        s->seen = lv->stamp;
        if (fresh && lv->lc.prefix && lv->cur[i].n_hash) { /* issue 11 */
            s->hash = sim_malloc(sizeof *s->hash * lv->cur[i].n_hash);
            if (!s->hash)
                return sim_msg_set(lv->why, SIM_ENOMEM, "out of memory");
            memcpy(s->hash, lv->cur[i].hash, sizeof *s->hash * lv->cur[i].n_hash);
            s->n_hash = lv->cur[i].n_hash;
        }
    }
    /* Pointers are stable now (no more creations in this call). */
    for (size_t i = 0; i < lv->n_cur; i++) {
        int fresh;
        lv->cur_s[i] = seq_get(lv, lv->cur[i].id, &fresh);
    }
    /* Departures: this replica's resident sequences that left since its last iteration (a
     * sequence the listing leaves out without having left, e.g. a decoder paused by vllm_v0's
     * prefill iteration, keeps its cache). Copies for swaps are charged to this iteration. */
    for (uint32_t k = 0; k < lv->slots_per; k++) {
        struct lseq *s = lv->slot_seq[ow * lv->slots_per + k];
        int          rc;
        if (s && s->gone && (rc = depart(lv, s)))
            return rc;
    }
    for (size_t i = 0; i < lv->n_cur; i++) {
        const struct exec_seq *q = &lv->cur[i];
        struct lseq           *s = lv->cur_s[i];
        uint32_t               start = q->ctx_tok - q->new_tok;
        if (q->new_tok == 0 || q->new_tok > q->ctx_tok)
            return fail(lv, SIM_EINVARIANT, "request %llu: %u new tokens over a context of %u",
                        q->id, q->new_tok, q->ctx_tok);
        if (s->owner != ow) { /* moved to another replica: its cache stays behind (a swapped
                                 one copied to host first) */
            int rc = s->gone ? depart(lv, s) : (release(lv, s), SIM_OK);
            if (rc)
                return rc;
            s->owner = ow;
        }
        if (s->gone) /* left and came back before its replica iterated again (resident) */
            return fail(lv, SIM_EINVARIANT, "request %llu: listed after leaving, still resident",
                        q->id, 0, 0);
        if (q->kind == EXEC_SEQ_PREFILL &&
            (!q->prompt_tok || (s->prompt && s->prompt != q->prompt_tok)))
            return fail(lv, SIM_EINVARIANT, "request %llu: a prompt of %u tokens (it had %u)",
                        q->id, q->prompt_tok, s->prompt);
        s->hit = 0;
        if (q->kind == EXEC_SEQ_PREFILL &&
            (start == 0 || (lv->lc.prefix && s->slot < 0 && start % bt == 0))) {
            /* A recomputation starts from nothing; issue 11: with prefix caching, a first chunk
             * from start > 0 starts on the cached blocks of its prefix (checked after the pass
             * to hold the KV of its own tokens). */
            release(lv, s);
            if (!s->prompt && !s->n_gen)
                s->prompt = q->prompt_tok; /* a first chunk may be shorter */
            else
                lv->st.reprefills++;
            lv->st.prefills++;
            s->hit = start / bt;
            lv->st.prefix_hit_tok += start;
        } else if (s->slot < 0) { /* a swap-in */
            if (!s->host || s->host_tok != start)
                return fail(lv, SIM_EINVARIANT,
                            "request %llu: decode at %u without a cache (host copy: %u tokens)",
                            q->id, start, s->host ? s->host_tok : 0);
        } else if (s->cached != start) {
            return fail(lv, SIM_EINVARIANT, "request %llu: starts at %u, its cache holds %u", q->id,
                        start, s->cached);
        }
        uint32_t need = (q->ctx_tok + bt - 1) / bt;
        uint32_t give = lv->lc.paged ? q->kv_blk : (q->kv_blk + bt - 1) / bt;
        if (give < need)
            return fail(lv, SIM_EINVARIANT,
                        "request %llu: lensim's KV manager gave %u units, %u blocks are needed",
                        q->id, q->kv_blk, need);
        if (lv->lc.prefix && !q->blk)
            return fail(lv, SIM_EINVARIANT, "request %llu: prefix caching without block ids", q->id,
                        0, 0);
        int had_slot = s->slot >= 0, rc = place(lv, s, need, q->blk);
        if (rc)
            return rc;
        if (s->hit)
            s->cached = start; /* the cached prefix's blocks */
        if (!had_slot && s->host && q->kind == EXEC_SEQ_DECODE) {
            int64_t t0 = sim_wall_ns();
            rc = kern_live_kv_copy(lv->be, (uint32_t)s->slot, s->host_tok, s->host, 0, lv->why);
            lv->st.copy_s += (double)(sim_wall_ns() - t0) / 1e9;
            if (rc)
                return rc;
            s->cached = s->host_tok;
            sim_free(s->host);
            s->host = NULL;
            s->host_tok = 0;
            lv->st.swap_in++;
        }
        lv->ks[i] = (struct kern_seq){.slot = (uint32_t)s->slot,
                                      .start = start,
                                      .n_new = q->new_tok,
                                      .tokens = lv->tok + *rows};
        if (q->ctx_tok > s->prompt + s->n_gen)
            return fail(lv, SIM_EINVARIANT,
                        "request %llu: computes up to position %u but knows %u tokens", q->id,
                        q->ctx_tok, s->prompt + s->n_gen);
        for (uint32_t j = 0; j < q->new_tok; j++)
            lv->tok[(*rows)++] = token_at(lv, s, start + j);
    }
    return SIM_OK;
}

size_t live_argmax(const float *x, size_t n)
{
    size_t best = 0;
    for (size_t v = 1; v < n; v++)
        if (x[v] > x[best])
            best = v;
    return best;
}

/* Greedy sampling: the logits' argmax (live_argmax: lowest index on ties) for every sequence
 * that reached the end of its known tokens. */
static int sample(struct live *lv)
{
    size_t V = lv->m.vocab;
    int    rc = kern_logits(lv->be, lv->logits, lv->n_cur * V);
    if (rc)
        return sim_msg_set(lv->why, rc, "live executor: cannot read the logits");
    for (size_t i = 0; i < lv->n_cur; i++) {
        struct lseq *s = lv->cur_s[i];
        s->cached = lv->ks[i].start + lv->ks[i].n_new;
        if (s->cached != s->prompt + s->n_gen)
            continue; /* a chunk of a longer prefill: no token yet */
        size_t best = live_argmax(lv->logits + i * V, V);
        if (SIM_GROW(s->gen, s->cap_gen, s->n_gen + 1))
            return sim_msg_set(lv->why, SIM_ENOMEM, "out of memory");
        s->gen[s->n_gen++] = (int32_t)best;
    }
    return SIM_OK;
}

/* issue 11, prefix caching: after the pass, every block a sequence filled in it is tagged with
 * the chain of the tokens up to its end (whose KV it now holds), a block it wrote in part is
 * untagged; then every block a sequence started on as its cached prefix must carry the tag of
 * its own tokens: the shared blocks hold the KV this sequence would have computed (a twin
 * admitted in the same iteration reads the blocks its twin writes in it: each layer appends every
 * row's K and V before any attention reads them, kern.c). O(context) per sequence that filled a
 * block or started on a cached prefix. */
static int prefix_tags(struct live *lv)
{
    uint32_t bt = lv->lc.block_tok;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < lv->n_cur; i++) {
            struct lseq *s = lv->cur_s[i];
            uint32_t     start = lv->ks[i].start, end = start + lv->ks[i].n_new;
            uint32_t     full = end / bt, from = start / bt;
            if (pass == 0 && end % bt)
                lv->tag[s->blk[full]] = 0;
            if (pass == 0 ? full <= from : !s->hit)
                continue;
            uint64_t t = 0;
            uint32_t upto = pass == 0 ? full : s->hit;
            for (uint32_t j = 0, pos = 0; j < upto; j++) {
                for (uint32_t k = 0; k < bt; k++, pos++)
                    t = kern_mix64(t ^ (uint64_t)(uint32_t)token_at(lv, s, pos));
                uint64_t tag = t | 1, *at = &lv->tag[s->blk[j]];
                if (pass == 0 && j >= from && j >= s->hit)
                    *at = tag;
                else if (pass == 1 && *at != tag)
                    return fail(lv, SIM_EINVARIANT,
                                "request %llu: its cached prefix's block %u (pool block %u) holds "
                                "the KV of other tokens",
                                s->id, j, (unsigned)s->blk[j]);
            }
        }
    return SIM_OK;
}

static const char *kind_of(const struct exec_batch *b)
{
    int dec = b->agg.decode_seqs > 0, pre = b->agg.prefill_tok > 0;
    return dec && pre ? "mixed" : pre ? "prefill" : "decode";
}

static int live_iter_ns(void *self, const struct exec_batch *b, simtime_t *ns, struct sim_msg *why)
{
    struct live *lv = self;
    int64_t      due = pace(lv, b->now); /* issue 11: realtime */
    int64_t      t0 = sim_wall_ns(), c0 = cpu_ns();
    lv->why = why;
    lv->err = 0;
    lv->n_cur = 0;
    lv->stamp++;
    simtime_t pred_ns = 0;
    int       rc = lv->model.ops->iter_ns(lv->model.self, b, &pred_ns, why);
    if (rc)
        return rc;
    uint32_t ow = owner_of(lv, b->owner);
    if (ow == UINT32_MAX)
        return sim_msg_set(why, SIM_EINVARIANT, "live executor: more replicas than %u",
                           lv->lc.replicas);
    exec_batch_list(b, collect, lv);
    if (lv->err)
        return sim_msg_set(why, lv->err, "out of memory");
    if (lv->n_cur > lv->lc.max_batch)
        return sim_msg_set(why, SIM_EINVARIANT, "live executor: a batch of %zu sequences (max %u)",
                           lv->n_cur, lv->lc.max_batch);
    double   copy0 = lv->st.copy_s;
    uint32_t rows;
    if ((rc = setup(lv, ow, &rows)))
        return rc;
    struct kern_batch kb = {lv->n_cur, lv->ks};
    if ((rc = kern_prepare(lv->be, &kb, why)))
        return rc;
    int64_t tk = sim_wall_ns();
    rc = kern_run(lv->be);
    rc = rc ? rc : kern_sync(lv->be);
    double kern_s = (double)(sim_wall_ns() - tk) / 1e9;
    if (rc)
        return sim_msg_set(why, rc, "live executor: the forward pass failed");
    if ((rc = sample(lv)))
        return rc;
    if (lv->lc.prefix && (rc = prefix_tags(lv))) /* issue 11 */
        return rc;
    int64_t t1 = sim_wall_ns();
    double  wall = (double)(t1 - t0) / 1e9, cpu = (double)(cpu_ns() - c0) / 1e9;
    if (lv->lc.clock == LIVE_CLOCK_PROFILE) {
        *ns = pred_ns;
    } else if (lv->lc.clock == LIVE_CLOCK_REALTIME) { /* ends when the wall clock says */
        *ns = t1 - due < 1 ? 1 : t1 - due;
    } else {
        double d = (lv->lc.timer == LIVE_TIMER_CPU ? cpu : wall) * SIM_NS_PER_S;
        *ns = d < 1 ? 1 : (simtime_t)llround(d);
    }
    lv->st.iters++;
    lv->st.wall_s += wall;
    lv->st.cpu_s += cpu;
    lv->st.kernel_s += kern_s;
    lv->st.pred_s += (double)pred_ns / SIM_NS_PER_S;
    if (lv->lc.iters) {
        uint32_t pf = 0, pf_tok = 0, dec = 0, dec_ctx = 0;
        for (size_t i = 0; i < lv->n_cur; i++) {
            if (lv->cur[i].kind == EXEC_SEQ_PREFILL) {
                pf++;
                pf_tok += lv->cur[i].new_tok;
            } else {
                dec++;
                dec_ctx += lv->cur[i].ctx_tok;
            }
        }
        fprintf(lv->lc.iters, "%llu,%u,%s,%zu,%u,%u,%u,%u,%u,%.9f,%.9f,%.9f,%.9f,%.9f,%.9f,%.9f\n",
                (unsigned long long)lv->st.iters - 1, ow, kind_of(b), lv->n_cur, dec, dec_ctx, pf,
                pf_tok, rows, (double)pred_ns / SIM_NS_PER_S, wall, kern_s, lv->st.copy_s - copy0,
                cpu, (double)b->now / SIM_NS_PER_S, (double)*ns / SIM_NS_PER_S);
    }
    return SIM_OK;
}

static double live_recompute_s(void *self, double tok)
{
    struct live *lv = self;
    return lv->model.ops->recompute_s(lv->model.self, tok);
}
static double live_swap_s(void *self, double tok)
{
    struct live *lv = self;
    return lv->model.ops->swap_s(lv->model.self, tok);
}
static double live_decode_s(void *self, double ctx)
{
    struct live *lv = self;
    return lv->model.ops->decode_s(lv->model.self, ctx);
}

/* The replica says id left: its slot, blocks (and, for a swap, the copy to host memory) are
 * dealt with at its replica's next iteration, timed there. A sequence never seen (preempted
 * before its first iteration) or holding no slot has nothing to give up. */
static void live_leave(void *self, uint64_t id, enum exec_leave why)
{
    struct lseq *s = seq_find(self, id);
    if (s && s->slot >= 0)
        s->gone = 1 + (int)why;
}

/* issue 11: one request's length prediction on the predictor kernel (see exec_live.h). */
static int live_predict_ns(void *self, uint64_t id, uint32_t prompt_tok, simtime_t now,
                           simtime_t *ns, struct sim_msg *why)
{
    (void)id;
    (void)prompt_tok; /* the calibrated shape: LIVE_PRED_FEAT features whatever the prompt */
    struct live *lv = self;
    simtime_t    charged = (simtime_t)(lv->lc.pred_cost_s * SIM_NS_PER_S); /* cluster.c's */
    if (!lv->pb) { /* no prediction cost: nothing to run (cluster.c does not ask) */
        *ns = charged;
        return SIM_OK;
    }
    int64_t  due = pace(lv, now);
    int64_t  t0 = sim_wall_ns(), c0 = cpu_ns();
    uint32_t nf = LIVE_PRED_FEAT;
    int      rc = kern_pred_prepare(lv->pb, 1, &nf, why);
    if (rc)
        return rc;
    rc = kern_pred_run(lv->pb);
    rc = rc ? rc : kern_sync(lv->pb);
    if (rc)
        return sim_msg_set(why, rc, "live executor: the predictor's forward pass failed");
    int64_t t1 = sim_wall_ns();
    double  wall = (double)(t1 - t0) / 1e9, cpu = (double)(cpu_ns() - c0) / 1e9;
    double  meas = lv->lc.timer == LIVE_TIMER_CPU ? cpu : wall;
    if (lv->lc.clock == LIVE_CLOCK_REALTIME)
        charged = t1 - due < 1 ? 1 : t1 - due;
    else if (lv->lc.clock == LIVE_CLOCK_MEASURED)
        charged = meas * SIM_NS_PER_S < 1 ? 1 : (simtime_t)llround(meas * SIM_NS_PER_S);
    lv->st.predictions++;
    lv->st.predict_s += meas;
    lv->st.predict_charged_s += (double)charged / SIM_NS_PER_S;
    *ns = charged;
    return SIM_OK;
}

static const struct exec_ops live_ops = {
    .name = "live",
    .iter_ns = live_iter_ns,
    .recompute_s = live_recompute_s,
    .swap_s = live_swap_s,
    .decode_s = live_decode_s,
    .leave = live_leave,
    .predict_ns = live_predict_ns, /* issue 11 */
};

struct exec live_exec(live_t *lv) { return (struct exec){&live_ops, lv}; }

/* ---- set-up ---- */

static int build(struct live *lv, struct sim_msg *err)
{
    const struct live_cfg *c = &lv->lc;
    uint32_t               bt = c->block_tok;
    lv->stride = (c->max_seq_len + bt - 1) / bt;
    lv->slots_per = c->max_batch;
    /* lensim's pool, or what max_batch sequences of max_seq_len can hold if that is less: the
     * blocks beyond it could never be used at once. Reservations round up per sequence. */
    uint64_t cap_blk = (c->capacity_tok + bt - 1) / bt + (c->paged ? 0 : c->max_batch);
    uint64_t most = (uint64_t)c->max_batch * lv->stride;
    lv->blocks_per = (uint32_t)(cap_blk < most ? cap_blk : most);
    if (c->prefix) /* issue 11: the KV manager's block ids, cached blocks included: all of them */
        lv->blocks_per = (uint32_t)cap_blk;
    uint32_t         max_tok = c->max_batched_tokens > c->max_seq_len ? c->max_batched_tokens
                                                                      : c->max_seq_len;
    struct kern_opts o = {
        .backend = c->backend,
        .seed = c->seed,
        .kv_layout = KERN_KV_PAGED,
        .block_tok = bt,
        .max_slots = c->replicas * lv->slots_per,
        .max_ctx = lv->stride * bt,
        .kv_tokens = (size_t)c->replicas * lv->blocks_per * bt,
        .max_batch_tok = max_tok + c->max_batch, /* a full prompt budget and every decode */
        .max_seqs = c->max_batch,
        .max_prompt = lv->stride * bt,
        .cpu_threads = (int)c->threads,
    };
    enum kern_backend_id id;
    int                  rc = kern_backend_of(c->backend, &id, err);
    if (rc)
        return rc;
    if (id == KERN_BACKEND_CUDA && (!kern_have_cuda() || kern_cuda_device_count() == 0))
        return sim_msg_set(err, SIM_ENODEV, "live.backend: cuda: %s",
                           kern_have_cuda() ? "no CUDA device is present"
                                            : "this binary has no CUDA backend "
                                              "(meson -Dcuda=enabled)");
    size_t           eb = id == KERN_BACKEND_CPU ? 4 : 2;
    size_t           need = kern_live_bytes(&lv->m, &o, eb);
    struct kern_opts po = {.backend = c->backend, /* issue 11: the predictor's backend */
                           .seed = c->seed ^ 0x9ede,
                           .pred = &live_pred_shape,
                           .pred_max_req = 1,
                           .pred_max_feat = LIVE_PRED_FEAT,
                           .cpu_threads = (int)c->threads};
    if (c->pred_cost_s > 0)
        need += kern_live_pred_bytes(&po, eb);
    double budget = c->max_bytes;
    if (!(budget > 0)) {
        size_t fr = 0, tot = 0;
        if ((rc = kern_device_mem(c->backend, 0, &fr, &tot, err)))
            return rc;
        budget = 0.5 * (double)fr;
    }
    if ((double)need > budget)
        return sim_msg_set(
            err, SIM_ECONFIG,
            "live.max_bytes: the live model needs %.1f MB (weights, a KV pool of "
            "%llu tokens for %u replica(s), workspace%s) and the budget is %.1f MB%s: "
            "raise live.max_bytes, or lower engine.max_batch, engine.max_seq_len "
            "or engine.max_batched_tokens",
            need / 1e6, (unsigned long long)o.kv_tokens, c->replicas,
            c->pred_cost_s > 0 ? ", the length predictor" : "", budget / 1e6,
            c->max_bytes > 0 ? "" : " (half of the free memory)");
    if ((rc = kern_backend_new(&lv->m, &o, &lv->be, err)))
        return rc;
    kern_live_own_blocks(lv->be);
    if (c->pred_cost_s > 0 && (rc = kern_backend_new(NULL, &po, &lv->pb, err)))
        return rc;
    kern_backend_info(lv->be, &lv->info);
    lv->st.device_bytes = lv->info.weight_bytes + lv->info.kv_bytes + lv->info.work_bytes;
    snprintf(lv->st.device, sizeof lv->st.device, "%s", lv->info.device);
    snprintf(lv->st.backend, sizeof lv->st.backend, "%s", lv->info.backend);
    uint32_t S = c->replicas * lv->slots_per;
    lv->own = sim_calloc(c->replicas, sizeof *lv->own);
    lv->slot_seq = sim_calloc(S, sizeof *lv->slot_seq);
    lv->cur_s = sim_calloc(c->max_batch, sizeof *lv->cur_s);
    lv->ks = sim_calloc(c->max_batch, sizeof *lv->ks);
    lv->tok = sim_malloc(sizeof *lv->tok * o.max_batch_tok);
    lv->logits = sim_malloc(sizeof *lv->logits * c->max_batch * lv->m.vocab);
    if (c->prefix) /* issue 11 */
        lv->tag = sim_calloc((size_t)c->replicas * lv->blocks_per, sizeof *lv->tag);
    if (!lv->own || !lv->slot_seq || !lv->cur_s || !lv->ks || !lv->tok || !lv->logits ||
        (c->prefix && !lv->tag))
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    for (uint32_t r = 0; r < c->replicas; r++) {
        struct owner *w = &lv->own[r];
        /* One allocation holds both free lists (blocks, then slots). */
        w->free_blk = sim_malloc(sizeof *w->free_blk * ((size_t)lv->blocks_per + lv->slots_per));
        if (!w->free_blk)
            return sim_msg_set(err, SIM_ENOMEM, "out of memory");
        w->free_slot = w->free_blk + lv->blocks_per;
        /* Popped from the end: blocks and slots handed out in increasing order. */
        for (uint32_t k = 0; k < lv->blocks_per; k++)
            w->free_blk[k] = (int32_t)((r + 1) * lv->blocks_per - 1 - k);
        w->n_free = lv->blocks_per;
        for (uint32_t k = 0; k < lv->slots_per; k++)
            w->free_slot[k] = (int32_t)((r + 1) * lv->slots_per - 1 - k);
        w->n_free_slot = lv->slots_per;
    }
    if (c->iters)
        fprintf(c->iters, "iter,device,kind,seqs,decode_seqs,decode_ctx,prefill_seqs,prefill_tok,"
                          "rows,predicted_s,measured_s,kernel_s,copy_s,cpu_s,start_s,charged_s\n");
    return SIM_OK;
}

int live_new(const struct live_cfg *lc, const struct kern_shape *m, const struct cost *c,
             live_t **out, struct sim_msg *err)
{
    *out = NULL;
    if (!lc->replicas || !lc->max_batch || !lc->block_tok || !lc->max_seq_len)
        return sim_msg_set(err, SIM_ECONFIG, "live executor: empty limits");
    struct live *lv = sim_calloc(1, sizeof *lv);
    if (!lv)
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    lv->lc = *lc;
    lv->m = *m;
    lv->model = exec_model(c);
    int rc = build(lv, err);
    if (rc) {
        live_free(lv);
        return rc;
    }
    lv->origin = sim_wall_ns(); /* issue 11: realtime's simulated time 0 */
    *out = lv;
    return SIM_OK;
}

void live_free(live_t *lv)
{
    if (!lv)
        return;
    kern_backend_free(lv->be);
    kern_backend_free(lv->pb);
    for (size_t i = 0; i < lv->cap_tab; i++)
        if (lv->tab[i].used) {
            sim_free(lv->tab[i].gen);
            sim_free(lv->tab[i].blk);
            sim_free(lv->tab[i].host);
            sim_free(lv->tab[i].hash);
        }
    sim_free(lv->tab);
    for (uint32_t r = 0; lv->own && r < lv->lc.replicas; r++) {
        sim_free(lv->own[r].free_blk); /* free_slot lives in the same allocation */
    }
    sim_free(lv->own);
    sim_free(lv->slot_seq);
    sim_free(lv->cur);
    sim_free(lv->cur_s);
    sim_free(lv->ks);
    sim_free(lv->tok);
    sim_free(lv->logits);
    sim_free(lv->tag);
    sim_free(lv);
}

void live_get_stats(const live_t *lv, struct live_stats *out) { *out = lv->st; }

int live_tokens(const live_t *lv, uint64_t id, const int32_t **tok, uint32_t *n)
{
    const struct lseq *s = seq_find(lv, id);
    if (!s)
        return 0;
    *tok = s->gen;
    *n = s->n_gen;
    return 1;
}
