/* stats.c: exact quantiles by selection (see stats.h). */
#include "stats.h"

#include <math.h>
#include <stdlib.h>

static void swap_d(double *a, double *b)
{
    double t = *a;
    *a = *b;
    *b = t;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Depth past which a range is sorted instead of partitioned again (introselect's bound). */
static unsigned depth_limit(size_t n)
{
    unsigned d = 0;
    while (n > 1) {
        n >>= 1;
        d++;
    }
    return 2 * d + 8;
}

/* Rank k of x[lo..hi), k in [lo, hi): reorders the range so that x[k] is in its sorted place. */
static double select_range(double *x, size_t lo, size_t hi, size_t k)
{
    unsigned depth = depth_limit(hi - lo);
    while (hi - lo > 16) {
        if (!depth--) {
            qsort(x + lo, hi - lo, sizeof *x, cmp_d);
            return x[k];
        }
        /* Median of three to x[lo], then Hoare-style partition around it. */
        size_t mid = lo + (hi - lo) / 2, last = hi - 1;
        if (x[mid] < x[lo])
            swap_d(&x[mid], &x[lo]);
        if (x[last] < x[lo])
            swap_d(&x[last], &x[lo]);
        if (x[last] < x[mid])
            swap_d(&x[last], &x[mid]);
        swap_d(&x[lo], &x[mid]); /* the median as pivot, at lo */
        double p = x[lo];
        size_t i = lo, j = hi;
        for (;;) {
            do
                i++;
            while (i < hi && x[i] < p);
            do
                j--;
            while (x[j] > p);
            if (i >= j)
                break;
            swap_d(&x[i], &x[j]);
        }
        swap_d(&x[lo], &x[j]); /* pivot in place at j: [lo, j) <= p <= (j, hi) */
        if (k == j)
            return x[j];
        if (k < j)
            hi = j;
        else
            lo = j + 1;
    }
    for (size_t i = lo + 1; i < hi; i++) /* insertion sort of the small rest */
        for (size_t j = i; j > lo && x[j] < x[j - 1]; j--)
            swap_d(&x[j], &x[j - 1]);
    return x[k];
}

double met_select(double *x, size_t n, size_t k) { return select_range(x, 0, n, k); }

void met_quantiles(double *x, size_t n, const double *f, size_t nf, double *out)
{
    size_t from = 0; /* x[from..n) holds every element of rank >= from, as yet unordered */
    for (size_t q = 0; q < nf; q++) {
        const double index = f[q] * (double)(n - 1);
        const size_t lhs = (size_t)(int)index; /* as gsl: (int)index */
        const double delta = index - (double)lhs;
        double       a;
        if (lhs < from) /* an earlier quantile's rank: already in place */
            a = x[lhs];
        else {
            a = select_range(x, from, n, lhs);
            from = lhs + 1;
        }
        if (lhs == n - 1) {
            out[q] = a;
            continue;
        }
        /* Rank lhs + 1: the smallest of x[lhs + 1..n), put in its place. */
        if (lhs + 1 >= from) {
            size_t m = lhs + 1;
            for (size_t i = lhs + 2; i < n; i++)
                if (x[i] < x[m])
                    m = i;
            swap_d(&x[lhs + 1], &x[m]);
            from = lhs + 2;
        }
        out[q] = (1 - delta) * a + delta * x[lhs + 1];
    }
}

/* ---- weighted ---- */

static void swap_w(struct met_wrec *a, struct met_wrec *b)
{
    struct met_wrec t = *a;
    *a = *b;
    *b = t;
}

static int cmp_w(const void *a, const void *b)
{
    const struct met_wrec *x = a, *y = b;
    return x->v < y->v ? -1 : x->v > y->v;
}

/* Where the weighted search stands: records [0, from) hold every copy of rank < base, each
 * record there no greater than any record in [from, n). The last two answers are kept with the
 * ranks their copies span, [start, end): a quantile's lower rank may be the previous one's. */
struct wsel {
    struct met_wrec *r;
    size_t           n, from;
    uint64_t         base;
    uint64_t         start[2], end[2];
    double           val[2];
};

/* Record the group of value v spanning ranks [start, end) as the latest answer; return v. */
static double wsel_found(struct wsel *s, double v, uint64_t start, uint64_t end)
{
    s->start[1] = s->start[0], s->end[1] = s->end[0], s->val[1] = s->val[0];
    s->start[0] = start, s->end[0] = end, s->val[0] = v;
    return v;
}

/* The value of rank p (p >= s->base, p < total). */
static double wsel_rank(struct wsel *s, uint64_t p)
{
    for (int c = 0; c < 2; c++)
        if (p >= s->start[c] && p < s->end[c])
            return s->val[c];
    struct met_wrec *r = s->r;
    size_t           lo = s->from, hi = s->n;
    uint64_t         base = s->base;
    unsigned         depth = depth_limit(hi - lo);
    for (;;) {
        if (hi - lo <= 16 || !depth--) { /* sort the rest and walk it */
            qsort(r + lo, hi - lo, sizeof *r, cmp_w);
            for (size_t i = lo; i < hi; i++) {
                /* group the run of equal values starting at i */
                size_t   j = i;
                uint64_t w = 0;
                while (j < hi && r[j].v == r[i].v)
                    w += r[j++].w;
                if (p < base + w) {
                    s->from = j;
                    s->base = base + w;
                    return wsel_found(s, r[i].v, base, base + w);
                }
                base += w;
                i = j - 1;
            }
            return r[hi - 1].v; /* not reached when p < total */
        }
        /* Median of three as the pivot value; three-way partition (Dijkstra's flag):
         * [lo, lt) < pv, [lt, i) == pv, (gt, hi) > pv. */
        size_t   mid = lo + (hi - lo) / 2;
        double   a = r[lo].v, b = r[mid].v, c = r[hi - 1].v;
        double   pv = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        size_t   lt = lo, i = lo, gt = hi;
        uint64_t w_lt = 0, w_eq = 0;
        while (i < gt) {
            if (r[i].v < pv) {
                w_lt += r[i].w;
                swap_w(&r[lt++], &r[i++]);
            } else if (r[i].v > pv) {
                swap_w(&r[i], &r[--gt]);
            } else {
                w_eq += r[i++].w;
            }
        }
        if (p < base + w_lt) {
            hi = lt;
        } else if (p < base + w_lt + w_eq) {
            s->from = gt;
            s->base = base + w_lt + w_eq;
            return wsel_found(s, pv, base + w_lt, s->base);
        } else {
            base += w_lt + w_eq;
            lo = gt;
        }
    }
}

size_t met_wcompact(struct met_wrec *r, size_t n)
{
    if (n < 2)
        return n;
    qsort(r, n, sizeof *r, cmp_w);
    size_t k = 0;
    for (size_t i = 1; i < n; i++) {
        if (r[i].v == r[k].v)
            r[k].w += r[i].w;
        else
            r[++k] = r[i];
    }
    return k + 1;
}

void met_wquantiles(struct met_wrec *r, size_t n, uint64_t total, const double *f, size_t nf,
                    double *out)
{
    struct wsel s = {.r = r, .n = n}; /* empty cached spans: [0, 0) */
    for (size_t q = 0; q < nf; q++) {
        double   pos = f[q] * (double)(total - 1);
        uint64_t lo = (uint64_t)floor(pos), hi = (uint64_t)ceil(pos);
        double   a = wsel_rank(&s, lo), b = wsel_rank(&s, hi);
        out[q] = a + (pos - (double)lo) * (b - a);
    }
}
