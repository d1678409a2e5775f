/* kern_live.c: block tables owned by the caller, KV swap copies, the size of a backend before it
 * exists (see kern_live.h). Additive to kern.c: only the fields kern_internal.h shares. */
#include "kern_live.h"

#include <string.h>

#include "kern_internal.h"

static size_t al(size_t n) { return (n + 127) & ~(size_t)127; } /* kern.c's 256 B alignment */

size_t kern_live_bytes(const struct kern_shape *m, const struct kern_opts *o, size_t eb)
{
    size_t qkv = (size_t)(m->heads + 2 * m->kv_heads) * m->head_dim;
    size_t gu = (size_t)(m->gated_mlp ? 2 : 1) * m->ffn;
    size_t layer = 2 * al(m->hidden) + al(qkv * m->hidden) +
                   al((size_t)m->hidden * m->heads * m->head_dim) + al(gu * m->hidden) +
                   al((size_t)m->hidden * m->ffn);
    size_t w = layer * m->layers + 2 * al((size_t)m->vocab * m->hidden) + al(m->hidden);
    size_t bt = o->block_tok ? o->block_tok : 16;
    size_t pool = o->kv_layout == KERN_KV_PAGED && o->kv_tokens ? (o->kv_tokens + bt - 1) / bt * bt
                                                                : (size_t)o->max_slots * o->max_ctx;
    size_t kv = 2 * (size_t)m->layers * pool * m->kv_heads * m->head_dim;
    size_t T = o->max_batch_tok, S = o->max_seqs;
    size_t act = 2 * al(T * m->hidden) + al(T * qkv) + al(T * m->heads * m->head_dim) + al(T * gu) +
                 al(T * m->ffn) + al(S * m->hidden) + al(S * m->vocab);
    size_t prompt = o->max_prompt < o->max_ctx ? o->max_prompt : o->max_ctx;
    size_t scratch = eb == sizeof(float) ? kern__cpu_scratch_bytes(
                                               o->max_ctx, m->heads / m->kv_heads, (uint32_t)prompt)
                                         : 6 * prompt * prompt * m->heads + ((size_t)256 << 20);
    return (w + kv + act) * eb + scratch;
}

/* kern.c's alloc_pred: table, bias, layers x (W, b), output (W, b), two activations, logits;
 * plus its metadata (int32). */
size_t kern_live_pred_bytes(const struct kern_opts *o, size_t eb)
{
    const struct kern_pred_shape *p = o->pred;
    if (!p)
        return 0;
    size_t D = p->dim, R = o->pred_max_req;
    size_t n_el = al((size_t)p->features * D) + al(D) + p->layers * (al(D * D) + al(D)) +
                  al((size_t)p->classes * D) + al(p->classes) + 2 * al(R * D) + al(R * p->classes);
    return n_el * eb + (R + 1 + R * (size_t)o->pred_max_feat) * sizeof(int32_t);
}

uint32_t kern_live_n_blocks(const kern_backend_t *b) { return b->n_blocks; }

void kern_live_own_blocks(kern_backend_t *b)
{
    kern_kv_reset(b);
    b->n_free = 0;
}

int kern_live_set_blocks(kern_backend_t *b, uint32_t slot, const int32_t *blocks, uint32_t n,
                         struct sim_msg *err)
{
    if (!b->have_model || b->o.kv_layout != KERN_KV_PAGED)
        return sim_msg_set(err, SIM_ECONFIG, "block tables need a paged KV cache");
    if (slot >= b->o.max_slots || n > b->table_stride)
        return sim_msg_set(err, SIM_ECONFIG, "slot %u with %u blocks (limits: %u slots, %u blocks)",
                           slot, n, b->o.max_slots, b->table_stride);
    int32_t *row = b->h_table + (size_t)slot * b->table_stride;
    for (uint32_t i = 0; i < n; i++) {
        if (blocks[i] < 0 || (uint32_t)blocks[i] >= b->n_blocks)
            return sim_msg_set(err, SIM_ECONFIG, "block id %d out of the pool of %u", blocks[i],
                               b->n_blocks);
        row[i] = blocks[i];
    }
    for (uint32_t i = n; i < b->table_stride; i++)
        row[i] = -1;
    b->slot_nblk[slot] = n;
    b->prepared = 0; /* the uploaded table is stale until the next kern_prepare */
    return SIM_OK;
}

int kern_live_kv_copy(kern_backend_t *b, uint32_t slot, uint32_t n_tok, void *host, int to_host,
                      struct sim_msg *err)
{
    const struct kern_shape *m = &b->m;
    uint32_t                 bt = b->o.block_tok;
    if (!b->have_model || b->o.kv_layout != KERN_KV_PAGED || slot >= b->o.max_slots ||
        (n_tok + bt - 1) / bt > b->slot_nblk[slot])
        return sim_msg_set(err, SIM_ECONFIG, "slot %u does not hold %u tokens of KV cache", slot,
                           n_tok);
    int rc = b->dev->sync(b);
    if (rc)
        return sim_msg_set(err, rc, "%s: sync before a KV copy failed", b->dev->name);
    size_t tok_el = (size_t)m->kv_heads * m->head_dim, eb = b->dev->elem_bytes;
    size_t per = b->kv_pool_tok * tok_el; /* elements of one layer's K (or V) */
    char  *h = host;
    for (uint32_t l = 0; l < m->layers; l++)
        for (uint32_t kv = 0; kv < 2; kv++) {
            void *base = kern__at(b, b->kv, (2 * (size_t)l + kv) * per);
            for (uint32_t t = 0; t < n_tok; t += bt) {
                uint32_t n = n_tok - t < bt ? n_tok - t : bt;
                int32_t  blk = b->h_table[(size_t)slot * b->table_stride + t / bt];
                void    *dev = kern__at(b, base, (size_t)blk * bt * tok_el);
                size_t   bytes = (size_t)n * tok_el * eb;
                rc = to_host ? b->dev->d2h(b, h, dev, bytes) : b->dev->h2d(b, dev, h, bytes);
                if (rc)
                    return sim_msg_set(err, rc, "%s: KV copy of slot %u failed", b->dev->name,
                                       slot);
                h += bytes;
            }
        }
    return SIM_OK;
}
