/*
 * kern_live.h: what a serving engine that owns its KV memory needs from a backend on top of
 * kern.h (issue 11, live execution mode): block tables it assigns itself, KV copies to and from
 * host memory (swap), and the bytes a backend would allocate, known before it is created.
 *
 * External block tables: after kern_live_own_blocks the backend's own free list is empty, so
 * kern_prepare never assigns a block; every slot holds exactly the blocks the caller set with
 * kern_live_set_blocks (a batch whose positions reach past them fails with SIM_ENOSPC).
 * Cost: set_blocks O(n); kv_copy O(layers x blocks) copies of one block each.
 * Errors: SIM_ECONFIG (an id or size out of range), SIM_ECUDA (a copy failed), with the reason
 * in err.
 */
#ifndef LENSIM_KERN_LIVE_H
#define LENSIM_KERN_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "kern.h"

/* Bytes kern_backend_new(m, o) allocates on the device (weights, KV pool, activations, op
 * scratch), for a budget check before allocating; elem_bytes 4 (cpu) or 2 (cuda). Pure. */
size_t kern_live_bytes(const struct kern_shape *m, const struct kern_opts *o, size_t elem_bytes);

/* issue 11: bytes kern_backend_new(NULL, o) allocates for o's predictor (o->pred). Pure. */
size_t kern_live_pred_bytes(const struct kern_opts *o, size_t elem_bytes);

/* Blocks in a paged backend's pool (0 for a contiguous one). */
uint32_t kern_live_n_blocks(const kern_backend_t *b);

/* From now on the caller assigns every block (see above). Forgets every slot's blocks. */
void kern_live_own_blocks(kern_backend_t *b);

/* Slot `slot` holds blocks[0..n-1] (block ids of the pool), in position order. Returns 0 or
 * SIM_ECONFIG (slot, n or an id out of range). */
int kern_live_set_blocks(kern_backend_t *b, uint32_t slot, const int32_t *blocks, uint32_t n,
                         struct sim_msg *err);

/* Copy the first n_tok tokens of slot's KV cache (every layer, K and V) to host (to_host 1) or
 * back from it (to_host 0). host holds n_tok x kv_bytes_per_token bytes (kern_info), laid out
 * [layer][k|v][token][kv_heads][head_dim]. Synchronises. Returns 0, SIM_ECONFIG or SIM_ECUDA. */
int kern_live_kv_copy(kern_backend_t *b, uint32_t slot, uint32_t n_tok, void *host, int to_host,
                      struct sim_msg *err);

#endif
