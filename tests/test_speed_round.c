/*
 * test_speed_round.c: engine/round.h's sim_llround against libm's llround (issue 13), the
 * reference it replaces on the model clock's path.
 *
 *   - edge values: 0, -0, the halves k + 0.5 and -(k + 0.5) (ties away from zero), the doubles
 *     next to each half (0.49999999999999994 must round to 0: x + 0.5 would give 1), the limits
 *     of the binades where the fraction bits run out (2^52, 2^53 and their neighbours), 2^63 and
 *     the largest double below it, the least denormal, and their negatives;
 *   - every double k / 8 for |k| <= 2^16 (every tie and quarter near zero);
 *   - 2^24 random bit patterns of finite doubles whose magnitude is below 2^63 (every exponent
 *     from the denormals up), and 2^22 random doubles of the kind the model clock rounds (token
 *     sums up to 2^40 with a random fraction).
 * NaN and |x| >= 2^63 go to llround itself (their result is unspecified by C): checked to take
 * that path by comparing with llround too.
 */
#include <float.h>
#include <stdint.h>
#include <string.h>

#include "rng.h"
#include "round.h"
#include "test.h"

static double from_bits(uint64_t b)
{
    double x;
    memcpy(&x, &b, sizeof x);
    return x;
}

static void same(double x)
{
    long long want = llround(x), got = sim_llround(x);
    if (want != got)
        TEST_FAIL_("sim_llround(%a = %.17g) = %lld, llround gives %lld", x, x, got, want);
}

static void same_pm(double x)
{
    same(x);
    same(-x);
    same(nextafter(x, 0));
    same(-nextafter(x, 0));
    same(nextafter(x, INFINITY));
    same(-nextafter(x, INFINITY));
}

TEST(edges)
{
    const double v[] = {0.0,
                        0.5,
                        1.0,
                        1.5,
                        2.5,
                        0x1p-1074,
                        DBL_MIN,
                        0x1p51,
                        0x1p51 + 0.5,
                        0x1p52,
                        0x1p52 + 1,
                        0x1p53,
                        0x1p53 + 2,
                        0x1p62,
                        0x1p63,
                        0x1p64,
                        1e300,
                        4503599627370495.5, /* 2^52 - 0.5: the last tie with a fraction */
                        0.49999999999999994,
                        1e9 + 0.5,
                        123456789.5};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        same_pm(v[i]);
    same(-0.0);
    same(0x1p63 - 1024); /* the largest double below 2^63 */
    same(-0x1p63);       /* LLONG_MIN, exactly representable: llround's own path */
    same(INFINITY);
    same(-INFINITY);
    same(NAN);
}

TEST(eighths)
{
    for (int64_t k = -(INT64_C(1) << 16); k <= INT64_C(1) << 16; k++)
        same((double)k / 8);
}

TEST(random_bits)
{
    rng_t *r = rng_new(13, 0);
    ASSERT_TRUE(r);
    for (uint64_t i = 0; i < UINT64_C(1) << 24; i++) {
        uint64_t b = (uint64_t)gsl_rng_get(r) << 32 | (uint64_t)gsl_rng_get(r);
        double   x = from_bits(b);
        if (isnan(x) || fabs(x) >= 0x1p63) /* fold into the range of interest */
            x = from_bits((b & ~(UINT64_C(0x7ff) << 52)) | (uint64_t)(gsl_rng_get(r) % 1086) << 52);
        same(x);
    }
    for (uint64_t i = 0; i < UINT64_C(1) << 22; i++) {
        double tok = (double)((uint64_t)gsl_rng_get(r) << 8 | gsl_rng_get(r) % 256);
        same(tok + gsl_rng_uniform(r));
        same(tok + 0.5);
        same(tok * 1e3 + gsl_rng_uniform(r)); /* nanoseconds of an iteration */
    }
    rng_free(r);
}

int main(void)
{
    RUN(edges);
    RUN(eighths);
    RUN(random_bits);
    return test_main_end();
}
