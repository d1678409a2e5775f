/*
 * test_stats.c (issue 13, item 2): quantiles by selection against the sort they replace.
 * Reference for the unweighted quantiles: gsl_sort then gsl_stats_quantile_from_sorted_data,
 * what met.c did before. Reference for the weighted ones: the records expanded into one copy
 * per weight, sorted, and read at floor/ceil of f (total - 1) (the pre-issue-13 definition in
 * met.c, written out again here in its plainest form). Random data with many ties (values drawn
 * from a few levels), all-equal arrays, sizes 1..40 and large, adversarial orders (sorted,
 * reversed, organ pipe) and the p0/p100 edges; equality is bitwise (ASSERT_DEQ below: test.h's
 * ASSERT_EQ converts to long long, which would take every value in [0, 1) for 0).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_rng.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "met.h"
#include "stats.h"
#include "test.h"

/* Issue 13: doubles equal bit for bit. */
#define ASSERT_DEQ(a, b)                                                      \
    do {                                                                      \
        double a_ = (a), b_ = (b);                                            \
        if (memcmp(&a_, &b_, sizeof a_))                                      \
            TEST_FAIL_("ASSERT_DEQ(%s, %s): %.17g != %.17g", #a, #b, a_, b_); \
    } while (0)

static const double fs[] = {0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0};
enum { NF = sizeof fs / sizeof fs[0] };

/* n values of kind: 0 uniform, 1 few levels (ties), 2 all equal, 3 sorted, 4 reversed,
 * 5 organ pipe, 6 integers in [0, 3). */
static void fill(gsl_rng *r, double *x, size_t n, int kind)
{
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case 0: x[i] = gsl_rng_uniform(r); break;
        case 1: x[i] = 0.125 * (double)gsl_rng_uniform_int(r, 5); break;
        case 2: x[i] = 0.3; break;
        case 3: x[i] = (double)i * 0.1; break;
        case 4: x[i] = (double)(n - i) * 0.1; break;
        case 5: x[i] = (double)(i < n / 2 ? i : n - i); break;
        default: x[i] = (double)gsl_rng_uniform_int(r, 3); break;
        }
    }
}

static void check_unweighted(gsl_rng *r, size_t n, int kind)
{
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), got[NF];
    fill(r, x, n, kind);
    memcpy(y, x, n * sizeof *x);
    gsl_sort(y, 1, n);
    met_quantiles(x, n, fs, NF, got);
    for (size_t q = 0; q < NF; q++)
        ASSERT_DEQ(got[q], gsl_stats_quantile_from_sorted_data(y, 1, n, fs[q]));
    /* Every single rank too, on a fresh copy each time. */
    for (size_t k = 0; k < n; k += 1 + n / 50) {
        fill(r, x, n, kind);
        memcpy(y, x, n * sizeof *x);
        gsl_sort(y, 1, n);
        ASSERT_DEQ(met_select(x, n, k), y[k]);
        for (size_t i = 0; i < k; i++)
            ASSERT_TRUE(x[i] <= x[k]);
        for (size_t i = k + 1; i < n; i++)
            ASSERT_TRUE(x[i] >= x[k]);
    }
    free(x);
    free(y);
}

TEST(quantiles_equal_sorted_reference)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 13);
    for (int kind = 0; kind < 7; kind++) {
        for (size_t n = 1; n <= 40; n++)
            check_unweighted(r, n, kind);
        check_unweighted(r, 1000, kind);
        check_unweighted(r, 100003, kind);
    }
    gsl_rng_free(r);
}

/* Issue 13: met_quantiles' bucketed path (n >= 4096, every value >= 0, none -0.0) and its
 * fallbacks, against the sorted reference: sizes around the threshold, values over 600 binades
 * (denormals to 1e300), values a few ulps apart, zeros with positives, all equal, one negative
 * (fallback), and a -0.0 among them (fallback: compared by value, as -0.0 == 0.0 sorts either
 * way). Every quantile of fs bit for bit. */
TEST(bucketed_quantiles_equal_sorted_reference)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 77);
    const size_t sizes[] = {4095, 4096, 4097, 50000};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        size_t  n = sizes[t];
        double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), got[NF];
        ASSERT_TRUE(x && y);
        for (int kind = 0; kind < 7; kind++) {
            for (size_t i = 0; i < n; i++) {
                double u = gsl_rng_uniform(r);
                switch (kind) {
                case 0: x[i] = exp((u - 0.5) * 1380); break; /* 1e-300 .. 1e300 */
                case 1:
                    x[i] = nextafter(1.0, 2.0) + (double)gsl_rng_uniform_int(r, 7) * 0x1p-52;
                    break;
                case 2: x[i] = u < 0.3 ? 0.0 : u; break;
                case 3: x[i] = 0x1p-1074 * (double)gsl_rng_uniform_int(r, 100); break;
                case 4: x[i] = 42.0; break;
                case 5: x[i] = i == n / 3 ? -1.0 : u; break;
                default: x[i] = i == n / 3 ? -0.0 : u < 0.1 ? 0.0 : u; break;
                }
            }
            memcpy(y, x, n * sizeof *x);
            gsl_sort(y, 1, n);
            met_quantiles(x, n, fs, NF, got);
            for (size_t q = 0; q < NF; q++) {
                double want = gsl_stats_quantile_from_sorted_data(y, 1, n, fs[q]);
                if (kind == 6)
                    ASSERT_TRUE(got[q] == want);
                else
                    ASSERT_DEQ(got[q], want);
            }
        }
        free(x);
        free(y);
    }
    gsl_rng_free(r);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void check_weighted(gsl_rng *r, size_t n, int kind, uint64_t max_w)
{
    struct met_wrec *rec = malloc(n * sizeof *rec);
    double          *v = malloc(n * sizeof *v);
    uint64_t         total = 0;
    fill(r, v, n, kind);
    for (size_t i = 0; i < n; i++) {
        rec[i].v = v[i];
        rec[i].w = 1 + gsl_rng_uniform_int(r, max_w);
        total += rec[i].w;
    }
    double *ex = malloc(total * sizeof *ex), got[NF];
    size_t  k = 0;
    for (size_t i = 0; i < n; i++)
        for (uint64_t j = 0; j < rec[i].w; j++)
            ex[k++] = rec[i].v;
    qsort(ex, total, sizeof *ex, cmp_d);
    met_wquantiles(rec, n, total, fs, NF, got);
    for (size_t q = 0; q < NF; q++) {
        double pos = fs[q] * (double)(total - 1);
        size_t lo = (size_t)floor(pos), hi = (size_t)ceil(pos);
        ASSERT_DEQ(got[q], ex[lo] + (pos - (double)lo) * (ex[hi] - ex[lo]));
    }
    free(rec);
    free(v);
    free(ex);
}

TEST(weighted_quantiles_equal_expanded_reference)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 31);
    for (int kind = 0; kind < 7; kind++) {
        for (size_t n = 1; n <= 40; n++) {
            check_weighted(r, n, kind, 1);
            check_weighted(r, n, kind, 7);
        }
        check_weighted(r, 5000, kind, 1);
        check_weighted(r, 5000, kind, 300);
        check_weighted(r, 200000, kind, 3);
    }
    gsl_rng_free(r);
}

/* Merging equal values keeps every weighted quantile (compared bitwise with the uncompacted
 * records' answers) and the total weight, and leaves one record per distinct value. */
TEST(compaction_keeps_weighted_quantiles)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 77);
    for (int kind = 0; kind < 7; kind++) {
        for (size_t n = 1; n <= 3000; n = n * 3 + 1) {
            struct met_wrec *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
            double          *v = malloc(n * sizeof *v), qa[NF], qb[NF];
            uint64_t         total = 0, tb = 0;
            fill(r, v, n, kind);
            for (size_t i = 0; i < n; i++) {
                a[i] = (struct met_wrec){v[i], 1 + gsl_rng_uniform_int(r, 5)};
                total += a[i].w;
            }
            memcpy(b, a, n * sizeof *a);
            size_t m = met_wcompact(b, n);
            for (size_t i = 0; i < m; i++) {
                tb += b[i].w;
                if (i)
                    ASSERT_TRUE(b[i - 1].v < b[i].v);
            }
            ASSERT_EQ(tb, total);
            met_wquantiles(a, n, total, fs, NF, qa);
            met_wquantiles(b, m, total, fs, NF, qb);
            for (size_t q = 0; q < NF; q++)
                ASSERT_DEQ(qa[q], qb[q]);
            free(a);
            free(b);
            free(v);
        }
    }
    gsl_rng_free(r);
}

/* Issue 13: met_wcompact (hash merge, then a radix sort of the distinct values) gives exactly
 * the records of the plainest reference: sort by value, add the weights of equal values.
 * Records compared bitwise (value and weight). Values: few distinct among many records (heavy
 * merging), mostly distinct (the table doubles many times), values spanning many exponents and
 * zero (radix digits that vary and that are shared), and sets with a negative value or -0.0
 * (the sorting path). */
static int cmp_wv(const void *a, const void *b)
{
    const struct met_wrec *x = a, *y = b;
    return x->v < y->v ? -1 : x->v > y->v;
}

static void check_wcompact(gsl_rng *r, size_t n, int kind)
{
    struct met_wrec *a = malloc(n * sizeof *a), *ref = malloc(n * sizeof *ref);
    ASSERT_TRUE(a && ref);
    for (size_t i = 0; i < n; i++) {
        double v;
        switch (kind) {
        case 0: v = 0.02 + 1e-6 * (double)gsl_rng_uniform_int(r, 3000); break;
        case 1: v = (double)(20000000 + gsl_rng_uniform_int(r, 1u << 30)) / 1e9; break;
        case 2: v = ldexp(gsl_rng_uniform(r), (int)gsl_rng_uniform_int(r, 60) - 30); break;
        case 3: v = i % 7 == 0 ? 0.0 : (double)gsl_rng_uniform_int(r, 100); break;
        case 4: v = (double)gsl_rng_uniform_int(r, 50) - 10; break;
        default: v = i == n / 2 ? -0.0 : 0.001 * (double)gsl_rng_uniform_int(r, 40); break;
        }
        a[i] = (struct met_wrec){v, 1 + gsl_rng_uniform_int(r, 1000)};
    }
    memcpy(ref, a, n * sizeof *a);
    size_t k = 0;
    if (n) {
        qsort(ref, n, sizeof *ref, cmp_wv);
        for (size_t i = 1; i < n; i++) {
            if (ref[i].v == ref[k].v)
                ref[k].w += ref[i].w;
            else
                ref[++k] = ref[i];
        }
        k++;
    }
    size_t m = met_wcompact(a, n);
    ASSERT_EQ(m, k);
    for (size_t i = 0; i < k; i++) {
        ASSERT_TRUE(a[i].v == ref[i].v);
        ASSERT_EQ(a[i].w, ref[i].w);
    }
    free(a);
    free(ref);
}

TEST(wcompact_equals_sort_and_merge)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 13);
    for (int kind = 0; kind < 6; kind++) {
        for (size_t n = 0; n <= 200; n++)
            check_wcompact(r, n, kind);
        check_wcompact(r, 5000, kind);
        check_wcompact(r, 300000, kind);
    }
    gsl_rng_free(r);
}

/* met's ITL statistics over 3 * 2^20 iterations, past ITL_MERGE_AT = 2^20 where met.c starts
 * merging equal gaps through its hash table: quantiles bitwise equal to the sorted records walked
 * as met.c did before issue 13; the mean bitwise equal (same summation order); sd within 1e-12.
 * With 3000 distinct durations (heavy merging) and with 2^22 possible ones (mostly distinct:
 * the table grows and rehashes). */
static int cmp_rec(const void *a, const void *b)
{
    const struct met_wrec *x = a, *y = b;
    return x->v < y->v ? -1 : x->v > y->v;
}

static double walk(const struct met_wrec *r, size_t n, uint64_t pos)
{
    uint64_t cum = 0;
    for (size_t i = 0; i < n; i++)
        if (pos < (cum += r[i].w))
            return r[i].v;
    return r[n - 1].v;
}

static void itl_after_merges(uint32_t levels)
{
    enum { N = 3 << 20 };
    gsl_rng         *r = gsl_rng_alloc(gsl_rng_mt19937);
    struct met_wrec *ref = malloc(N * sizeof *ref);
    struct met_cfg   cfg = {.n_replicas = 1};
    met_t           *m = met_new(&cfg);
    uint64_t         total = 0;
    double           sum = 0;
    ASSERT_TRUE(ref && m);
    gsl_rng_set(r, 5);
    for (size_t i = 0; i < N; i++) {
        simtime_t dur = 20000000 + 1000 * (simtime_t)gsl_rng_uniform_int(r, levels);
        uint32_t  tok = 1 + (uint32_t)gsl_rng_uniform_int(r, 64);
        ASSERT_EQ(met_iter(m, 0, (simtime_t)i * 30000000, dur, tok, tok, tok, 0.5), 0);
        ref[i] = (struct met_wrec){(double)dur / 1e9, tok};
        total += tok;
        sum += ref[i].v * ref[i].w;
    }
    struct met_summary out;
    ASSERT_EQ(met_summarize(m, 0, &out), 0);
    qsort(ref, N, sizeof *ref, cmp_rec);
    double mean = sum / (double)total, sum2 = 0;
    for (size_t i = 0; i < N; i++)
        sum2 += (ref[i].v - mean) * (ref[i].v - mean) * ref[i].w;
    const double f[3] = {0.5, 0.9, 0.99}, got[3] = {out.itl.median, out.itl.p90, out.itl.p99};
    for (int q = 0; q < 3; q++) {
        double   pos = f[q] * (double)(total - 1);
        uint64_t lo = (uint64_t)floor(pos), hi = (uint64_t)ceil(pos);
        double   a = walk(ref, N, lo), b = walk(ref, N, hi);
        ASSERT_DEQ(got[q], a + (pos - (double)lo) * (b - a));
    }
    ASSERT_DEQ(out.itl.mean, mean);
    ASSERT_NEAR(out.itl.std, sqrt(sum2 / (double)total), 1e-12 * out.itl.std);
    ASSERT_EQ(out.itl.n, total);
    met_free(m);
    free(ref);
    gsl_rng_free(r);
}

TEST(met_itl_after_merges)
{
    itl_after_merges(3000);
    itl_after_merges(1u << 22);
}

/* Issue 13: ITL records that repeat (the equal gaps of the decoders a pause held, met_gap after
 * met_gap) are counted as repetitions of one record before merging. Reference: met.c's rule
 * before that, written plainly: one record per gap in arrival order; at the record past 2^20,
 * sort by value and merge equal values, then add each later record to its value's record or
 * append it. The sd sums (v - mean)^2 w over that list in its order, so it is compared bitwise,
 * like the mean and the quantiles; below 2^20 records (no merging) and past it. */
struct lrec {
    double   v;
    uint64_t w;
};

static int cmp_lrec(const void *a, const void *b)
{
    const struct lrec *x = a, *y = b;
    return x->v < y->v ? -1 : x->v > y->v;
}

static void itl_with_repeats(size_t n_logical)
{
    gsl_rng       *r = gsl_rng_alloc(gsl_rng_mt19937);
    struct lrec   *ref = malloc(n_logical * sizeof *ref);
    struct met_cfg cfg = {.n_replicas = 1};
    met_t         *m = met_new(&cfg);
    size_t         n = 0;
    uint64_t       total = 0;
    double         sum = 0;
    enum { MERGE_AT = 1 << 20 };
    ASSERT_TRUE(ref && m);
    gsl_rng_set(r, 21);
    while (n < n_logical) {
        if (gsl_rng_uniform(r) < 0.3) { /* a pause: k decoders, one gap */
            simtime_t gap = 40000000 + 1000 * (simtime_t)gsl_rng_uniform_int(r, 500);
            size_t    k = 1 + gsl_rng_uniform_int(r, 60);
            for (size_t j = 0; j < k && n < n_logical; j++) {
                ASSERT_EQ(met_gap(m, gap), 0);
                ref[n++] = (struct lrec){(double)gap / 1e9, 1};
            }
        } else { /* an iteration; now and then the same one twice */
            simtime_t dur = 20000000 + 1000 * (simtime_t)gsl_rng_uniform_int(r, 2000);
            uint32_t  tok = 1 + (uint32_t)gsl_rng_uniform_int(r, 64);
            int       times = gsl_rng_uniform(r) < 0.2 ? 2 : 1;
            for (int j = 0; j < times && n < n_logical; j++) {
                ASSERT_EQ(met_iter(m, 0, 0, dur, tok, tok, tok, 0.5), 0);
                ref[n++] = (struct lrec){(double)dur / 1e9, tok};
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        total += ref[i].w;
        sum += ref[i].v * ref[i].w;
    }
    /* The reference list. */
    size_t k = n;
    if (n > MERGE_AT) {
        qsort(ref, MERGE_AT, sizeof *ref, cmp_lrec);
        k = 0;
        for (size_t i = 1; i < MERGE_AT; i++)
            if (ref[i].v == ref[k].v)
                ref[k].w += ref[i].w;
            else
                ref[++k] = ref[i];
        k++;
        for (size_t i = MERGE_AT; i < n; i++) {
            size_t j = 0;
            while (j < k && ref[j].v != ref[i].v)
                j++;
            if (j < k)
                ref[j].w += ref[i].w;
            else
                ref[k++] = ref[i];
        }
    }
    double mean = sum / (double)total, sum2 = 0;
    for (size_t i = 0; i < k; i++) {
        double d = ref[i].v - mean;
        sum2 += d * d * ref[i].w;
    }
    struct met_summary out;
    ASSERT_EQ(met_summarize(m, 0, &out), 0);
    ASSERT_EQ(out.itl.n, total);
    ASSERT_DEQ(out.itl.mean, mean);
    ASSERT_DEQ(out.itl.std, sqrt(sum2 / (double)total));
    qsort(ref, k, sizeof *ref, cmp_lrec);
    const double f[3] = {0.5, 0.9, 0.99}, got[3] = {out.itl.median, out.itl.p90, out.itl.p99};
    for (int q = 0; q < 3; q++) {
        double   pos = f[q] * (double)(total - 1);
        uint64_t lo = (uint64_t)floor(pos), hi = (uint64_t)ceil(pos), cum = 0;
        double   a = NAN, b = NAN;
        for (size_t i = 0; i < k && isnan(b); i++) {
            cum += ref[i].w;
            if (isnan(a) && lo < cum)
                a = ref[i].v;
            if (hi < cum)
                b = ref[i].v;
        }
        ASSERT_DEQ(got[q], a + (pos - (double)lo) * (b - a));
    }
    met_free(m);
    free(ref);
    gsl_rng_free(r);
}

TEST(itl_repeated_records_as_before)
{
    itl_with_repeats(300000);
    itl_with_repeats((1u << 20) + 150000);
}

/* Issue 13: met__stat_of4 (four arrays' mean and sd chains side by side) against met_stat_of,
 * which calls GSL's gsl_stats_mean / gsl_stats_variance_m: every field bit for bit. Values of
 * mixed scales (ttft-like seconds, normalised latencies near 1e-3, values past 1e6, ties and
 * all-equal arrays, negatives), n from 2 to 40 and 100,003. */
TEST(stat_of4_equals_gsl)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 4);
    size_t sizes[44];
    for (size_t i = 0; i < 39; i++)
        sizes[i] = i + 2;
    sizes[39] = 100003, sizes[40] = 1000, sizes[41] = 4096, sizes[42] = 3, sizes[43] = 7;
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        size_t  n = sizes[t];
        double *a[4], *b[4];
        for (int j = 0; j < 4; j++) {
            a[j] = malloc(n * sizeof(double));
            b[j] = malloc(n * sizeof(double));
            ASSERT_TRUE(a[j] && b[j]);
            fill(r, a[j], n, (int)((t + (size_t)j) % 7));
            double scale = j == 0 ? 1e-3 : j == 1 ? 1e6 : j == 2 ? -37.5 : 1.0;
            for (size_t i = 0; i < n; i++)
                a[j][i] = a[j][i] * scale + (j == 3 ? gsl_rng_uniform(r) * 1e-9 : 0);
            memcpy(b[j], a[j], n * sizeof(double));
        }
        struct met_stat want[4], got[4];
        for (int j = 0; j < 4; j++)
            met_stat_of(a[j], n, &want[j]);
        met__stat_of4(b, n, (struct met_stat *[]){&got[0], &got[1], &got[2], &got[3]});
        for (int j = 0; j < 4; j++) {
            ASSERT_EQ(got[j].n, want[j].n);
            ASSERT_DEQ(got[j].mean, want[j].mean);
            ASSERT_DEQ(got[j].std, want[j].std);
            ASSERT_DEQ(got[j].median, want[j].median);
            ASSERT_DEQ(got[j].p90, want[j].p90);
            ASSERT_DEQ(got[j].p99, want[j].p99);
            free(a[j]);
            free(b[j]);
        }
    }
    gsl_rng_free(r);
}

int main(void)
{
    RUN(quantiles_equal_sorted_reference);
    RUN(weighted_quantiles_equal_expanded_reference);
    RUN(compaction_keeps_weighted_quantiles);
    RUN(wcompact_equals_sort_and_merge);
    RUN(met_itl_after_merges);
    RUN(itl_repeated_records_as_before);
    RUN(stat_of4_equals_gsl);
    RUN(bucketed_quantiles_equal_sorted_reference);
    return test_main_end();
}
