/*
 * test_fmtbuf.c (issue 13, item 3): sim_fmt_fixed and sim_fmt_u64 against glibc's snprintf,
 * the reference the CSV files were written with, byte for byte. Values: exact ties at every
 * precision (k + 1/2 ulp of the last printed digit where binary can hold it: multiples of 2^-j),
 * neighbours of ties (nextafter), random bit patterns over the whole finite range, subnormals,
 * -0.0, negatives rounding to zero, values at the 2^63 / 10^prec fallback bound, NaN and
 * infinities; every precision 0..9.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_rng.h>

#include "fmtbuf.h"
#include "test.h"

static int n_checked;

static void check(double v, int prec)
{
    char want[400], got[400];
    snprintf(want, sizeof want, "%.*f", prec, v);
    char *e = sim_fmt_fixed(got, v, prec);
    *e = 0;
    if (strcmp(want, got)) {
        printf("  %.17g at %d: want %s got %s\n", v, prec, want, got);
        ASSERT_TRUE(0);
    }
    n_checked++;
}

static void check_all(double v)
{
    for (int p = 0; p <= 9; p++) {
        check(v, p);
        check(-v, p);
        check(nextafter(v, INFINITY), p);
        check(nextafter(v, 0), p);
    }
}

TEST(fixed_equals_printf)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 3);
    double special[] = {0.0,   -0.0,     0.5,     1.5,    2.5,        0.125,       0.0625,
                        1e-10, 4.9e-324, DBL_MIN, 1e-300, 123456.789, 9.999999999, 0.9999999995,
                        1e9,   9.2e9,    9.3e9,   1.8e10, 1e19,       1e300,       DBL_MAX};
    for (size_t i = 0; i < sizeof special / sizeof *special; i++)
        check_all(special[i]);
    /* Exact ties: j/2^k halves of the last digit are representable for small k. */
    for (int k = 1; k <= 30; k++)
        for (int j = 0; j < 200; j++)
            check_all(ldexp((double)(2 * gsl_rng_uniform_int(r, 1u << 30) + 1), -k) +
                      (double)gsl_rng_uniform_int(r, 100000));
    /* Random bit patterns (every magnitude), and realistic times in seconds. */
    for (int i = 0; i < 300000; i++) {
        uint64_t u = ((uint64_t)gsl_rng_get(r) << 32) ^ gsl_rng_get(r);
        double   v;
        memcpy(&v, &u, sizeof v);
        if (!isfinite(v) && (i & 1))
            continue;
        check(v, (int)(i % 10));
        check(gsl_rng_uniform(r) * 1e5, 9);
        check(gsl_rng_uniform(r) * 100, 4);
        check(gsl_rng_uniform(r) * 3600, 6);
    }
    check_all(NAN);
    check_all(INFINITY);
    printf("  %d values compared\n", n_checked);
    gsl_rng_free(r);
}

TEST(u64_equals_printf)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 4);
    for (int i = 0; i < 200000; i++) {
        uint64_t v = ((uint64_t)gsl_rng_get(r) << 32) ^ gsl_rng_get(r);
        v >>= gsl_rng_uniform_int(r, 64);
        if (i < 3)
            v = i == 0 ? 0 : i == 1 ? UINT64_MAX : 9;
        char want[32], got[32];
        snprintf(want, sizeof want, "%llu", (unsigned long long)v);
        *sim_fmt_u64(got, v) = 0;
        ASSERT_TRUE(!strcmp(want, got));
    }
    gsl_rng_free(r);
}

int main(void)
{
    RUN(fixed_equals_printf);
    RUN(u64_equals_printf);
    return test_main_end();
}
