/*
 * decode_plan.h: the launch plan of the CUDA decode-attention kernel (kernels/attn_decode.cu) and
 * the op scratch of the CUDA backend, in plain C (issue 18): built in every build, also without
 * CUDA, so that a CPU test checks with the very planner the kernel uses that the scratch kern.c
 * allocates holds every plan the iteration can reach.
 *
 * The kernel cuts the context of each (row, KV head) into n_split chunks of `chunk` keys (a
 * multiple of KERN_DECODE_MIN_CHUNK, at most KERN_DECODE_MAX_CHUNK), one block of
 * KERN_DECODE_NT threads per chunk. With n_split > 1 every (row, query head, split) leaves
 * head_dim + 2 floats of partials in the scratch (output, max, sum) for the combine kernel.
 */
#ifndef LENSIM_DECODE_PLAN_H
#define LENSIM_DECODE_PLAN_H

#include <stddef.h>
#include <stdint.h>

enum {
    KERN_DECODE_NT = 128,        /* threads per block (4 warps) */
    KERN_DECODE_MIN_CHUNK = 64,  /* keys: one 16-key MMA tile per warp */
    KERN_DECODE_MAX_CHUNK = 256, /* keys: the chunk's scores live in shared memory */
    KERN_DECODE_MAX_OCC = 16,    /* resident blocks per SM at most (2048 threads / NT) */
    KERN_DECODE_MAX_GROUP = 8,   /* query heads per KV head (the MMA's n = 8) */
    KERN_DECODE_MAX_DIM = 256,
};

#ifdef __cplusplus
extern "C" { /* attn_decode.cu plans with it */
#endif

struct kern_decode_plan {
    int lpk;     /* lanes per key in the P.V pass (8 head dims each): 8, 16 or 32 */
    int gmax;    /* group-size class: 1, 4 or 8 */
    int chunk;   /* keys per block */
    int n_split; /* blocks per (row, KV head) */
};

/* The plan for n rows of at most max_len keys on n_sm multiprocessors where `occ` blocks of the
 * kernel fit per multiprocessor: enough splits for one full wave (n_sm x occ blocks) when the
 * rows alone do not fill it, within the chunk limits. Returns 0, or -1 when the shape is not
 * supported (kv_heads 0, n_heads not a multiple, group over 8, head_dim not a multiple of 8 or
 * over 256, max_len 0). n = 0 plans as n = 1; occ outside 1..KERN_DECODE_MAX_OCC is clamped to
 * that range (it is a query result, not a setting). Invariant (tested): n_split is at most
 * kern_decode_split_bound(n, ..., max_len, n_sm). */
int kern_decode_plan_make(uint32_t n, uint32_t n_heads, uint32_t kv_heads, uint32_t head_dim,
                          uint32_t max_len, int n_sm, int occ, struct kern_decode_plan *p);

/* An upper bound of n_split over every max_len' <= max_len and every occupancy; non-increasing
 * in n, non-decreasing in max_len. */
uint32_t kern_decode_split_bound(uint32_t n, uint32_t kv_heads, uint32_t max_len, int n_sm);

/* Dynamic shared memory of the kernel for plan p (bytes). */
size_t kern_decode_smem(const struct kern_decode_plan *p, uint32_t head_dim);

/* Scratch bytes of one row's partials under plan p (0 with one split). */
size_t kern_decode_row_bytes(const struct kern_decode_plan *p, uint32_t n_heads, uint32_t head_dim);

/* Rows per launch for n rows under plan p with work_bytes of scratch: n with one split, else
 * what the scratch holds (at most n and the grid's z limit 65535); 0 when not even one row fits. */
uint32_t kern_decode_rows_per_launch(const struct kern_decode_plan *p, uint32_t n, uint32_t n_heads,
                                     uint32_t head_dim, size_t work_bytes);

/* Decode scratch for up to max_rows rows of at most max_len keys: the largest rows x row bytes
 * over every reachable (rows <= max_rows, length <= max_len, occupancy), from the split bound.
 * More rows than max_rows still run, in several launches (each holds at least one row, because
 * the bound does not grow with the rows). */
size_t kern_decode_work(uint32_t max_rows, uint32_t n_heads, uint32_t kv_heads, uint32_t head_dim,
                        uint32_t max_len, int n_sm);

/* The CUDA backend's op scratch (bytes): the decode partials of kern_decode_work(max_seqs,
 * max_ctx) and the prefill scores and probabilities of at least one head of the longest prompt
 * (6 bytes per score), up to 256 MB so that several heads go per cuBLAS call. */
size_t kern_decode_cuda_scratch(uint32_t max_seqs, uint32_t max_ctx, uint32_t max_prompt,
                                uint32_t n_heads, uint32_t kv_heads, uint32_t head_dim, int n_sm);

#ifdef __cplusplus
}
#endif

#endif
