/*
 * test_speed_decimal.c: traces/trace_parse.c's trace__plain_decimal (issue 13: the trace's
 * arrival times without strtod) against strtod, the reference it stands in for.
 *
 *   - accepted strings give strtod's double bit for bit: 2^23 random numbers of 1..15 digits
 *     with the "." anywhere (digits drawn uniformly, or from {0, 4, 5, 9} so that long runs of
 *     zeros and nines and values next to halves are common), every string of at most 4
 *     characters over "0123456789.", and every arrival time in the shared Vidur workloads
 *     (skipped when ../shared/data is absent);
 *   - refused strings (return 0) are exactly those outside the form: empty, a sign, an
 *     exponent, a "." first or last or twice, blanks, more than 15 digits; checked by a
 *     separate plain matcher over the same random strings and by hand-picked cases.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "test.h"
#include "trace_internal.h"

/* The form, written plainly: [0-9]+ ( "." [0-9]+ )?, at most 15 digits. */
static int plain_form(const char *s, size_t n)
{
    size_t digits = 0, dots = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            digits++;
        else if (s[i] == '.')
            dots++;
        else
            return 0;
    }
    return n > 0 && dots <= 1 && s[0] != '.' && s[n - 1] != '.' && digits <= 15;
}

static void check(const char *s)
{
    size_t n = strlen(s);
    double x = -1, want;
    int    ok = trace__plain_decimal(s, n, &x);
    if (ok != plain_form(s, n))
        TEST_FAIL_("trace__plain_decimal(\"%s\") returned %d", s, ok);
    if (!ok) {
        if (x != -1)
            TEST_FAIL_("trace__plain_decimal(\"%s\") refused but wrote %.17g", s, x);
        return;
    }
    char *end;
    want = strtod(s, &end);
    ASSERT_TRUE(end == s + n);
    if (memcmp(&x, &want, sizeof x))
        TEST_FAIL_("trace__plain_decimal(\"%s\") = %a, strtod gives %a", s, x, want);
}

TEST(refusals)
{
    const char *no[] = {"",
                        ".",
                        "5.",
                        ".5",
                        "1e5",
                        "1E5",
                        "-1",
                        "+1",
                        "1.2.3",
                        " 1",
                        "1 ",
                        "0x10",
                        "inf",
                        "nan",
                        "1,5",
                        "1..2",
                        "-0",
                        "1.5e",
                        "1234567890123456",
                        "0.000000000000001", /* 16 digits */
                        "1234567.891234567"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        double x = -1;
        if (trace__plain_decimal(no[i], strlen(no[i]), &x))
            TEST_FAIL_("accepted \"%s\" (%.17g)", no[i], x);
        ASSERT_EQ(x, -1);
    }
    check("0");
    check("0.5");
    check("123456789012345");   /* 15 digits */
    check("0.00000000000001");  /* 15 digits, the smallest step */
    check("999999999999999");   /* the largest mantissa */
    check("99999999999999.9");  /* 15 digits */
    check("0.1");               /* not exact in binary */
    check("4.743938");          /* conv_n50000's first arrival */
    check("9007199254.740993"); /* 16 digits: refused */
    check("000000000000000");   /* zeros */
    check("1.000000000000000"); /* 16 digits: refused */
}

TEST(short_strings)
{
    const char alpha[] = "0123456789.";
    char       s[8];
    for (int len = 1; len <= 4; len++) {
        long total = 1;
        for (int i = 0; i < len; i++)
            total *= 11;
        for (long v = 0; v < total; v++) {
            long w = v;
            for (int i = 0; i < len; i++, w /= 11)
                s[i] = alpha[w % 11];
            s[len] = 0;
            check(s);
        }
    }
}

TEST(random_numbers)
{
    rng_t *r = rng_new(13, 1);
    ASSERT_TRUE(r);
    static const char few[] = "0459";
    char              s[40];
    for (uint32_t it = 0; it < UINT32_C(1) << 23; it++) {
        int nd = 1 + (int)gsl_rng_uniform_int(r, 17);                 /* 16, 17 digits: refused */
        int dot = (int)gsl_rng_uniform_int(r, (unsigned long)nd + 1); /* nd: no "." */
        int mode = it & 1;
        int o = 0;
        for (int i = 0; i < nd; i++) {
            if (i == dot && dot > 0)
                s[o++] = '.';
            s[o++] = mode ? few[gsl_rng_uniform_int(r, 4)]
                          : (char)('0' + gsl_rng_uniform_int(r, 10));
        }
        s[o] = 0;
        check(s);
    }
    rng_free(r);
}

/* Every arrival time of the shared workloads, as their files write them. */
TEST(shared_workloads)
{
    const char *files[] = {"conv_n1000_qps2.0_seed42.csv", "conv_n10000_qps2.0_seed42.csv",
                           "conv_n50000_qps2.0_seed42.csv"};
    int         seen = 0;
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        char path[512];
        snprintf(path, sizeof path, "%s/../shared/data/vidur/workloads/%s", LENSIM_SOURCE_ROOT,
                 files[k]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        char line[256];
        ASSERT_TRUE(fgets(line, sizeof line, f)); /* the header */
        while (fgets(line, sizeof line, f)) {
            char *comma = strchr(line, ',');
            ASSERT_TRUE(comma);
            *comma = 0;
            check(line);
            seen++;
        }
        fclose(f);
    }
    if (!seen)
        printf("(no shared workloads found: only the generated strings were checked)\n");
}

int main(void)
{
    RUN(refusals);
    RUN(short_strings);
    RUN(random_numbers);
    RUN(shared_workloads);
    return test_main_end();
}
