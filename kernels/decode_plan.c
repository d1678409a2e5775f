/*
 * decode_plan.c: see decode_plan.h. Plain C, no CUDA: linked into the kernels library (every
 * build, and its unit test) and into the CUDA plugin, whose decode kernel plans with it.
 */
#include "decode_plan.h"

static uint32_t div_up(uint32_t a, uint32_t b) { return (a + b - 1) / b; }

/* Splits of a length-len context: enough for `want` blocks per (row, KV head), but no chunk over
 * MAX_CHUNK keys (lo) and, unless that forces it, none under MIN_CHUNK (hi). hi >= lo. */
static uint32_t splits(uint32_t want, uint32_t len)
{
    uint32_t lo = div_up(len, KERN_DECODE_MAX_CHUNK), hi = div_up(len, KERN_DECODE_MIN_CHUNK);
    uint32_t s = want < hi ? want : hi;
    return s > lo ? s : lo;
}

/* Blocks per (row, KV head) for one full wave of n_sm x occ blocks. */
static uint32_t want_splits(uint32_t n, uint32_t kv_heads, int n_sm, int occ)
{
    uint64_t wave = (uint64_t)(n_sm > 0 ? n_sm : 1) * (uint64_t)occ;
    uint64_t base = (uint64_t)(n ? n : 1) * kv_heads;
    uint64_t w = (wave + base - 1) / base;
    return w > 0xffffffu ? 0xffffffu : (uint32_t)w;
}

int kern_decode_plan_make(uint32_t n, uint32_t n_heads, uint32_t kv_heads, uint32_t head_dim,
                          uint32_t max_len, int n_sm, int occ, struct kern_decode_plan *p)
{
    if (!kv_heads || n_heads % kv_heads || head_dim % 8 || !head_dim ||
        head_dim > KERN_DECODE_MAX_DIM || !max_len)
        return -1;
    uint32_t G = n_heads / kv_heads;
    if (!G || G > KERN_DECODE_MAX_GROUP)
        return -1;
    if (occ < 1)
        occ = 1;
    if (occ > KERN_DECODE_MAX_OCC)
        occ = KERN_DECODE_MAX_OCC;
    p->lpk = head_dim <= 64 ? 8 : head_dim <= 128 ? 16 : 32;
    p->gmax = G == 1 ? 1 : G <= 4 ? 4 : 8;
    uint32_t s = splits(want_splits(n, kv_heads, n_sm, occ), max_len);
    /* ceil(len / s) <= MAX_CHUNK because s >= lo; MIN_CHUNK divides MAX_CHUNK, so the rounded
     * chunk stays <= MAX_CHUNK, and n_split = ceil(len / chunk) <= s. */
    uint32_t chunk = div_up(div_up(max_len, s), KERN_DECODE_MIN_CHUNK) * KERN_DECODE_MIN_CHUNK;
    p->chunk = (int)chunk;
    p->n_split = (int)div_up(max_len, chunk);
    return 0;
}

uint32_t kern_decode_split_bound(uint32_t n, uint32_t kv_heads, uint32_t max_len, int n_sm)
{
    if (!kv_heads || !max_len)
        return 1;
    return splits(want_splits(n, kv_heads, n_sm, KERN_DECODE_MAX_OCC), max_len);
}

size_t kern_decode_smem(const struct kern_decode_plan *p, uint32_t head_dim)
{
    /* [chunk][gmax] scores, later (after a barrier) [NT / lpk][gmax][head_dim] partial outputs;
     * [gmax][2] max and sum; [chunk] token rows. */
    size_t sc = (size_t)p->chunk * p->gmax;
    size_t red = (size_t)(KERN_DECODE_NT / p->lpk) * p->gmax * head_dim;
    return sizeof(float) * ((sc > red ? sc : red) + 2 * (size_t)p->gmax) +
           sizeof(int32_t) * (size_t)p->chunk;
}

size_t kern_decode_row_bytes(const struct kern_decode_plan *p, uint32_t n_heads, uint32_t head_dim)
{
    if (p->n_split <= 1)
        return 0;
    return sizeof(float) * (size_t)n_heads * (size_t)p->n_split * (head_dim + 2);
}

uint32_t kern_decode_rows_per_launch(const struct kern_decode_plan *p, uint32_t n, uint32_t n_heads,
                                     uint32_t head_dim, size_t work_bytes)
{
    size_t per = kern_decode_row_bytes(p, n_heads, head_dim);
    size_t rows = per ? work_bytes / per : n;
    if (rows > n)
        rows = n;
    if (rows > 65535)
        rows = 65535;
    return (uint32_t)rows;
}

size_t kern_decode_work(uint32_t max_rows, uint32_t n_heads, uint32_t kv_heads, uint32_t head_dim,
                        uint32_t max_len, int n_sm)
{
    size_t best = 0;
    for (uint32_t n = 1; n <= (max_rows ? max_rows : 1); n++) {
        uint32_t s = kern_decode_split_bound(n, kv_heads, max_len, n_sm);
        if (s <= 1)
            break; /* the bound only falls as n grows: one split from here on */
        size_t b = (size_t)n * sizeof(float) * n_heads * s * (head_dim + 2);
        if (b > best)
            best = b;
    }
    return best;
}

size_t kern_decode_cuda_scratch(uint32_t max_seqs, uint32_t max_ctx, uint32_t max_prompt,
                                uint32_t n_heads, uint32_t kv_heads, uint32_t head_dim, int n_sm)
{
    size_t dec = kern_decode_work(max_seqs, n_heads, kv_heads, head_dim, max_ctx, n_sm);
    size_t one = 6 * (size_t)max_prompt * max_prompt;
    size_t pre = one > ((size_t)256 << 20) ? one : ((size_t)256 << 20);
    if (pre > one * n_heads)
        pre = one * n_heads;
    return dec > pre ? dec : pre;
}

#ifdef DECODE_PLAN_PRINT_SMEM
/* calib/sass.sh: "LPK GMAX BYTES", the dynamic shared memory of attn_split_kernel<LPK, GMAX, *>
 * at its largest plan (chunk MAX_CHUNK, the largest head_dim of its LPK class). */
#include <stdio.h>
int main(void)
{
    static const int lpks[] = {8, 16, 32}, gs[] = {1, 4, 8};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            struct kern_decode_plan p = {lpks[i], gs[j], KERN_DECODE_MAX_CHUNK, 2};
            printf("%d %d %zu\n", lpks[i], gs[j], kern_decode_smem(&p, 8u * (unsigned)lpks[i]));
        }
    return 0;
}
#endif
