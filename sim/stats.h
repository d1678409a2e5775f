/*
 * stats.h: exact order statistics without a full sort (issue 13, item 2).
 * Quantiles by selection (Hoare's FIND, CACM 4(7) 1961, with median-of-3 pivots and, past a
 * depth of 2 log2 n, a sort of what is left, as in Musser's introselect, SP&E 27(8) 1997), so
 * the values are the very elements a sort would put at those ranks: results are bit-identical to
 * gsl_sort followed by gsl_stats_quantile_from_sorted_data (gsl 2.7 statistics/quantiles_source.c:
 * index = f (n - 1), lhs = (int)index, (1 - delta) x[lhs] + delta x[lhs + 1]).
 * Weighted records (value, weight) stand for `weight` copies of value (token-weighted ITL): their
 * quantiles come from a three-way-partition selection on weights, never expanding the multiset.
 * Cost: O(n) expected for all the quantiles of one call together; O(n log n) worst case.
 * Ownership: both functions reorder the caller's array in place (not sorted afterwards).
 */
#ifndef LENSIM_STATS_H
#define LENSIM_STATS_H

#include <stddef.h>
#include <stdint.h>

/* out[i] = the f[i] quantile of x[0..n) as gsl_stats_quantile_from_sorted_data would give it on
 * the sorted array. f ascending in [0, 1]; n >= 1. Reorders x. */
void met_quantiles(double *x, size_t n, const double *f, size_t nf, double *out);

/* The element of rank k (0-based) of x[0..n): x is reordered so that x[k] holds it, with no
 * greater element before it and no smaller one after. k < n. */
double met_select(double *x, size_t n, size_t k);

struct met_wrec {
    double   v;
    uint64_t w; /* > 0 */
};

/* out[i] = the f[i] quantile of the multiset in which r[j].v appears r[j].w times, total
 * copies in all: with pos = f (total - 1), lo = floor(pos), hi = ceil(pos) and a, b the values
 * of rank lo and hi, a + (pos - lo) (b - a). f ascending in [0, 1]; total >= 1. Reorders r. */
void met_wquantiles(struct met_wrec *r, size_t n, uint64_t total, const double *f, size_t nf,
                    double *out);

/* Merge the records of equal value (weights added): r[0..result) then holds one record per
 * distinct value, sorted. The multiset, hence every quantile, is unchanged. No value may be NaN.
 * O(n + k) expected for k distinct values >= 0 (hash merge, then a radix sort of the k); with a
 * negative value, or out of memory, a sort of all n, O(n log n): the same records either way. */
size_t met_wcompact(struct met_wrec *r, size_t n);

#endif
