/*
 * test_seeds.c (issue 14): the numbers behind results.csv's m and m_ci95 (sim/rows.h).
 * The t quantiles against printed tables (Student's t, two-sided 95 %: NIST/SEMATECH
 * e-Handbook 1.3.6.7.2), the half-width against hand computation, and the metric columns read
 * back from met.c's own CSV writer.
 */
#include "met.h"
#include "rows.h"
#include "test.h"

#include <gsl/gsl_errno.h>

TEST(t975_matches_the_table)
{
    static const struct {
        unsigned df;
        double   t;
    } table[] = {{1, 12.706205}, {2, 4.302653},  {3, 3.182446},  {8, 2.306004},
                 {9, 2.262157},  {19, 2.093024}, {29, 2.045230}, {999, 1.962341}};
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        ASSERT_NEAR(met_t975(table[i].df), table[i].t, 5e-7);
}

TEST(ci_by_hand)
{
    double m, h;
    /* {1, 2, 3, 4}: mean 2.5, s^2 = (2.25 + 0.25 + 0.25 + 2.25) / 3 = 5/3,
     * half-width t(0.975, 3) sqrt(5/3) / sqrt(4) = 3.1824463 x 1.2909944 / 2 = 2.0542603. */
    met_seed_ci((const double[]){1, 2, 3, 4}, 4, &m, &h);
    ASSERT_NEAR(m, 2.5, 1e-15);
    ASSERT_NEAR(h, 2.0542603, 1e-7);
    /* Far from zero, small spread: s = 1 whatever the offset (two passes, no cancellation);
     * half-width t(0.975, 2) / sqrt(3) = 4.3026527 / 1.7320508 = 2.4841377. */
    met_seed_ci((const double[]){1e9 + 1, 1e9 + 2, 1e9 + 3}, 3, &m, &h);
    ASSERT_NEAR(m, 1e9 + 2, 1e-6);
    ASSERT_NEAR(h, 2.4841377, 1e-6);
    /* No spread: a zero half-width. */
    met_seed_ci((const double[]){5, 5, 5, 5, 5}, 5, &m, &h);
    ASSERT_TRUE(m == 5 && h == 0);
}

TEST(ci_edge_cases)
{
    double m, h;
    met_seed_ci((const double[]){7}, 1, &m, &h); /* one seed: a mean, no interval */
    ASSERT_TRUE(m == 7 && isnan(h));
    met_seed_ci(NULL, 0, &m, &h);
    ASSERT_TRUE(isnan(m) && isnan(h));
    /* A value missing for one seed: no mean over the others. */
    met_seed_ci((const double[]){1, NAN, 3}, 3, &m, &h);
    ASSERT_TRUE(isnan(m) && isnan(h));
    met_seed_ci((const double[]){1, INFINITY, 3}, 3, &m, &h);
    ASSERT_TRUE(isnan(m) && isnan(h));
}

/* The index of column `name` (the test fails without it: SIM_ASSERT). */
static size_t col(const char *const *names, size_t n, const char *name)
{
    for (size_t k = 0; k < n; k++)
        if (!strcmp(names[k], name))
            return k;
    SIM_ASSERT(!"column missing");
    return 0;
}

TEST(columns_read_back)
{
    char               buf[4096];
    const char        *names[MET_CSV_MAX_COLS];
    double             v[MET_CSV_MAX_COLS];
    struct met_summary s;
    memset(&s, 0, sizeof s);
    s.completed = 17;
    s.failed = 3;
    s.e2el.mean = 1.25; /* seconds: results.csv shows ms */
    s.request_throughput = 2.5;
    s.request_goodput = NAN; /* no SLO: an empty field */
    s.ttft.p99 = 0.0001234567;
    size_t n = met_csv_names(buf, sizeof buf, names, MET_CSV_MAX_COLS);
    ASSERT_TRUE(n > 20);
    ASSERT_EQ(met_csv_values(&s, v, MET_CSV_MAX_COLS), n);
    ASSERT_TRUE(v[col(names, n, "completed")] == 17);
    ASSERT_TRUE(v[col(names, n, "failed")] == 3);
    ASSERT_NEAR(v[col(names, n, "mean_e2el_ms")], 1250, 1e-9);
    ASSERT_NEAR(v[col(names, n, "request_throughput")], 2.5, 1e-12);
    ASSERT_TRUE(isnan(v[col(names, n, "request_goodput")]));
    /* 0.1234567 ms, with the file's 6 decimals */
    ASSERT_NEAR(v[col(names, n, "p99_ttft_ms")], 0.123457, 1e-12);
    ASSERT_EQ(met_csv_names(buf, 16, names, MET_CSV_MAX_COLS), 0); /* too small: none */
}

int main(void)
{
    gsl_set_error_handler_off();
    RUN(t975_matches_the_table);
    RUN(ci_by_hand);
    RUN(ci_edge_cases);
    RUN(columns_read_back);
    return test_main_end();
}
