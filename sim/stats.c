/* stats.c: exact quantiles by selection (see stats.h). */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

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

/* met_quantiles by selection over the whole array (the reference; and for small or signed
 * arrays). */
static void q_select(double *x, size_t n, const double *f, size_t nf, double *out)
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
            /* Not reached when p < the records' total weight (the callers' contract): a caller
             * that breaks it stops here instead of reading before the array. */
            SIM_ASSERT(p < base);
            return r[hi - 1].v;
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

/* The reference: sort, then merge runs of equal values. O(n log n). */
static size_t wcompact_sorted(struct met_wrec *r, size_t n)
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

static uint64_t bits_of(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u; /* for v >= 0 (not NaN) the integer order is the value order */
}

static size_t wc_slot(uint64_t bits, unsigned hbits)
{
    return (size_t)((bits * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - hbits));
}

/* Issue 13: r[0..n) (values >= 0, distinct) sorted by value through an LSD radix sort on the
 * values' bits (for v >= 0 the integer order of the bits is the value order), 8 bits a pass,
 * skipping the digits every key shares. Returns 0, or -1 when tmp cannot be had (r unchanged). */
static int wc_radix(struct met_wrec *r, size_t n)
{
    size_t(*cnt)[256] = calloc(8, sizeof *cnt);
    struct met_wrec *tmp = malloc(n * sizeof *tmp);
    if (!cnt || !tmp) {
        free(cnt);
        free(tmp);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t u = bits_of(r[i].v);
        for (int d = 0; d < 8; d++)
            cnt[d][(u >> (8 * d)) & 255]++;
    }
    struct met_wrec *src = r, *dst = tmp;
    for (int d = 0; d < 8; d++) {
        size_t sum = 0;
        if (cnt[d][(bits_of(r[0].v) >> (8 * d)) & 255] == n)
            continue; /* every key has this digit: the pass would not move anything */
        for (int b = 0; b < 256; b++) { /* counts to starting offsets */
            size_t c = cnt[d][b];
            cnt[d][b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[cnt[d][(bits_of(src[i].v) >> (8 * d)) & 255]++] = src[i];
        struct met_wrec *t = src;
        src = dst;
        dst = t;
    }
    if (src != r)
        memcpy(r, src, n * sizeof *r);
    free(cnt);
    free(tmp);
    return 0;
}

size_t met_wcompact(struct met_wrec *r, size_t n)
{
    if (n < 64)
        return wcompact_sorted(r, n);
    for (size_t i = 0; i < n; i++)
        if (!(r[i].v >= 0) || signbit(r[i].v)) /* -0.0 or negative: bits order != value order */
            return wcompact_sorted(r, n);
    /* Issue 13: merge equal values through a hash table on their bits (for values >= 0, equal
     * bits are equal values) into r[0..k), in order of first appearance, the table doubling at
     * load 1/2; then sort the k distinct values by radix. The weights of a value are integers
     * added in another order: the same sums, hence the same records as wcompact_sorted gives.
     * O(n + k) expected instead of O(n log n), and the table follows k, not n. */
    unsigned  hb = 10;
    uint32_t *h = calloc((size_t)1 << hb, sizeof *h);
    size_t    k = 0;
    if (!h || n >= UINT32_MAX) {
        free(h);
        return wcompact_sorted(r, n);
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t u = bits_of(r[i].v);
        size_t   mask = ((size_t)1 << hb) - 1, s = wc_slot(u, hb);
        for (; h[s]; s = (s + 1) & mask)
            if (bits_of(r[h[s] - 1].v) == u)
                break;
        if (h[s]) {
            r[h[s] - 1].w += r[i].w;
            continue;
        }
        r[k++] = r[i]; /* k <= i: a record already read */
        h[s] = (uint32_t)k;
        if (2 * k > mask + 1) { /* rebuild twice as large over r[0..k) */
            uint32_t *g = calloc((size_t)2 << hb, sizeof *g);
            if (!g) { /* r[0..k) distinct, r[i + 1..n) unread: close the gap, then sort all */
                memmove(r + k, r + i + 1, (n - i - 1) * sizeof *r);
                free(h);
                return wcompact_sorted(r, k + n - i - 1);
            }
            hb++;
            mask = ((size_t)1 << hb) - 1;
            for (size_t j = 0; j < k; j++) {
                size_t t = wc_slot(bits_of(r[j].v), hb);
                while (g[t])
                    t = (t + 1) & mask;
                g[t] = (uint32_t)(j + 1);
            }
            free(h);
            h = g;
        }
    }
    free(h);
    if (wc_radix(r, k))
        qsort(r, k, sizeof *r, cmp_w);
    return k;
}

/* ---- weighted, many records: one counting pass, then selection inside one bucket ---- */

enum { WB_BITS = 16, WB_N = 1 << WB_BITS, WB_MIN_N = 1 << 14 };

/* The value of rank p: find its bucket through the prefix sums cum[0..WB_N], gather that
 * bucket's records into tmp (cached in *have) and select inside them. */
static double wb_rank(const struct met_wrec *r, size_t n, const uint64_t *cum, uint64_t lo_b,
                      unsigned shift, uint64_t p, struct met_wrec *tmp, long *have, size_t *n_tmp)
{
    size_t a = 0, b = WB_N; /* the last bucket whose cum <= p */
    while (b - a > 1) {
        size_t mid = a + (b - a) / 2;
        if (cum[mid] <= p)
            a = mid;
        else
            b = mid;
    }
    if (*have != (long)a) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (((bits_of(r[i].v) - lo_b) >> shift) == a)
                tmp[k++] = r[i];
        *n_tmp = k;
        *have = (long)a;
    }
    struct wsel s = {.r = tmp, .n = *n_tmp};
    return wsel_rank(&s, p - cum[a]);
}

/* Records >= 0: a histogram of weights over WB_N buckets of the value's bits (relative to the
 * smallest), then each rank is selected among its bucket's records only. Two sequential passes
 * and a gather instead of partitioning the whole array; the same element as any selection.
 * Returns 0, or -1 (out of memory, or a negative value: the caller selects instead). */
static int wq_bucketed(const struct met_wrec *r, size_t n, uint64_t total, const double *f,
                       size_t nf, double *out)
{
    uint64_t lo_b = UINT64_MAX, hi_b = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t u = bits_of(r[i].v);
        if (!(r[i].v >= 0) || signbit(r[i].v))
            return -1;
        lo_b = u < lo_b ? u : lo_b;
        hi_b = u > hi_b ? u : hi_b;
    }
    unsigned shift = 0;
    while (((hi_b - lo_b) >> shift) >= WB_N)
        shift++;
    uint64_t        *cum = calloc(WB_N + 1, sizeof *cum);
    struct met_wrec *tmp = malloc(n * sizeof *tmp);
    if (!cum || !tmp) {
        free(cum);
        free(tmp);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        cum[((bits_of(r[i].v) - lo_b) >> shift) + 1] += r[i].w;
    for (size_t b = 1; b <= WB_N; b++) /* cum[b] = weight of the buckets before b */
        cum[b] += cum[b - 1];
    long   have = -1;
    size_t n_tmp = 0;
    for (size_t q = 0; q < nf; q++) {
        double   pos = f[q] * (double)(total - 1);
        uint64_t lo = (uint64_t)floor(pos), hi = (uint64_t)ceil(pos);
        double   a = wb_rank(r, n, cum, lo_b, shift, lo, tmp, &have, &n_tmp);
        double   b = wb_rank(r, n, cum, lo_b, shift, hi, tmp, &have, &n_tmp);
        out[q] = a + (pos - (double)lo) * (b - a);
    }
    free(cum);
    free(tmp);
    return 0;
}

void met_wquantiles(struct met_wrec *r, size_t n, uint64_t total, const double *f, size_t nf,
                    double *out)
{
    if (n >= WB_MIN_N && !wq_bucketed(r, n, total, f, nf, out))
        return;
    struct wsel s = {.r = r, .n = n}; /* empty cached spans: [0, 0) */
    for (size_t q = 0; q < nf; q++) {
        double   pos = f[q] * (double)(total - 1);
        uint64_t lo = (uint64_t)floor(pos), hi = (uint64_t)ceil(pos);
        double   a = wsel_rank(&s, lo), b = wsel_rank(&s, hi);
        out[q] = a + (pos - (double)lo) * (b - a);
    }
}

/* ---- unweighted, bucketed (issue 13) ---- */

/* met_quantiles on n >= QB_MIN_N values, all >= 0 and none -0.0 or NaN: a count of values per
 * bucket of their bits (the integer order of such doubles is their order; QB_N buckets from the
 * smallest), then each rank is selected among its bucket's values only (gathered into tmp: one
 * sequential pass), instead of partitioning the whole array three times. The values at every
 * rank are those of any selection, so the quantiles are the same bit for bit (equal values
 * have equal bits here; -0.0, which equals 0.0 with other bits, sends the array to q_select).
 * x is left in its order. Returns 0, or -1 (out of memory, or a value outside that range: the
 * caller selects instead). */
enum { QB_N = 1 << 12, QB_MIN_N = 1 << 12 };

/* The value of rank k (k < n): its bucket through the prefix counts cum[0..QB_N], gathered into
 * tmp unless it is there already (*have), and selected there. */
static double qb_rank(const double *x, size_t n, const size_t *cum, uint64_t lo_b, unsigned shift,
                      size_t k, double *tmp, long *have, size_t *n_tmp)
{
    size_t a = 0, b = QB_N; /* the last bucket whose cum <= k */
    while (b - a > 1) {
        size_t mid = a + (b - a) / 2;
        if (cum[mid] <= k)
            a = mid;
        else
            b = mid;
    }
    if (*have != (long)a) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (((bits_of(x[i]) - lo_b) >> shift) == a)
                tmp[m++] = x[i];
        *n_tmp = m;
        *have = (long)a;
    }
    SIM_ASSERT(k - cum[a] < *n_tmp);
    return select_range(tmp, 0, *n_tmp, k - cum[a]);
}

static int q_bucketed(const double *x, size_t n, const double *f, size_t nf, double *out)
{
    uint64_t lo_b = UINT64_MAX, hi_b = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(x[i] >= 0) || signbit(x[i]))
            return -1;
        uint64_t u = bits_of(x[i]);
        lo_b = u < lo_b ? u : lo_b;
        hi_b = u > hi_b ? u : hi_b;
    }
    unsigned shift = 0;
    while (((hi_b - lo_b) >> shift) >= QB_N)
        shift++;
    size_t *cum = calloc(QB_N + 1, sizeof *cum);
    if (!cum)
        return -1;
    for (size_t i = 0; i < n; i++)
        cum[((bits_of(x[i]) - lo_b) >> shift) + 1]++;
    size_t most = 0;
    for (size_t b = 1; b <= QB_N; b++) { /* cum[b] = values in the buckets before b */
        most = cum[b] > most ? cum[b] : most;
        cum[b] += cum[b - 1];
    }
    double *tmp = malloc(most * sizeof *tmp);
    if (!tmp) {
        free(cum);
        return -1;
    }
    long   have = -1;
    size_t n_tmp = 0;
    for (size_t q = 0; q < nf; q++) { /* the index arithmetic of q_select (gsl's) */
        const double index = f[q] * (double)(n - 1);
        const size_t lhs = (size_t)(int)index;
        const double delta = index - (double)lhs;
        double       a = qb_rank(x, n, cum, lo_b, shift, lhs, tmp, &have, &n_tmp);
        if (lhs == n - 1) {
            out[q] = a;
            continue;
        }
        double b = qb_rank(x, n, cum, lo_b, shift, lhs + 1, tmp, &have, &n_tmp);
        out[q] = (1 - delta) * a + delta * b;
    }
    free(cum);
    free(tmp);
    return 0;
}

void met_quantiles(double *x, size_t n, const double *f, size_t nf, double *out)
{
    if (n >= QB_MIN_N && !q_bucketed(x, n, f, nf, out))
        return;
    q_select(x, n, f, nf, out);
}
