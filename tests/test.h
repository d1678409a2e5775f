/*
 * test.h: the in-house test harness (R23).
 *
 * TEST(name) defines a test; RUN(name) runs it inside main(). A failed ASSERT_* prints the
 * location and both operands, abandons the current test (longjmp) and marks it failed; the other
 * tests still run. test_main_end() prints a per-binary summary and returns the exit status
 * meson expects: 0 all passed, 1 some failed. SKIP(...) exits 77, which meson reports as a skip.
 */
#ifndef LENSIM_TEST_H
#define LENSIM_TEST_H

#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static jmp_buf     test__jb;
static int         test__n_run, test__n_failed;
static const char *test__name;

#define TEST(name) static void name(void)

#define RUN(name)                       \
    do {                                \
        test__name = #name;             \
        test__n_run++;                  \
        if (!setjmp(test__jb)) {        \
            name();                     \
            printf("ok   %s\n", #name); \
        } else {                        \
            test__n_failed++;           \
            printf("FAIL %s\n", #name); \
        }                               \
        fflush(stdout);                 \
    } while (0)

#define TEST_FAIL_(...)                                                    \
    do {                                                                   \
        fprintf(stderr, "%s:%d: in %s: ", __FILE__, __LINE__, test__name); \
        fprintf(stderr, __VA_ARGS__);                                      \
        fputc('\n', stderr);                                               \
        longjmp(test__jb, 1);                                              \
    } while (0)

#define ASSERT_TRUE(c)                                \
    do {                                              \
        if (!(c))                                     \
            TEST_FAIL_("ASSERT_TRUE(%s) failed", #c); \
    } while (0)

/* Exact equality. Integers compare as long long; when either side is floating, both compare as
 * double (NaN equal to NaN), so that a double is never truncated to an integer first. */
#define TEST_IS_FLOAT_(x) _Generic((x), float : 1, double : 1, long double : 1, default : 0)
#define ASSERT_EQ(a, b)                                                          \
    do {                                                                         \
        if (TEST_IS_FLOAT_(a) || TEST_IS_FLOAT_(b)) {                            \
            double a_ = (double)(a), b_ = (double)(b);                           \
            if (!(a_ == b_ || (a_ != a_ && b_ != b_)))                           \
                TEST_FAIL_("ASSERT_EQ(%s, %s): %.17g != %.17g", #a, #b, a_, b_); \
        } else {                                                                 \
            long long a_ = (long long)(a), b_ = (long long)(b);                  \
            if (a_ != b_)                                                        \
                TEST_FAIL_("ASSERT_EQ(%s, %s): %lld != %lld", #a, #b, a_, b_);   \
        }                                                                        \
    } while (0)

#define ASSERT_NEAR(a, b, tol)                                                                     \
    do {                                                                                           \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);                             \
        if (!(fabs(a_ - b_) <= t_))                                                                \
            TEST_FAIL_("ASSERT_NEAR(%s, %s, %s): %.17g vs %.17g (diff %.3g > %.3g)", #a, #b, #tol, \
                       a_, b_, fabs(a_ - b_), t_);                                                 \
    } while (0)

#define ASSERT_STR_CONTAINS(hay, needle)                                             \
    do {                                                                             \
        const char *h_ = (hay), *n_ = (needle);                                      \
        if (!h_ || !strstr(h_, n_))                                                  \
            TEST_FAIL_("expected \"%s\" to contain \"%s\"", h_ ? h_ : "(null)", n_); \
    } while (0)

#define SKIP(...)            \
    do {                     \
        printf("SKIP: ");    \
        printf(__VA_ARGS__); \
        printf("\n");        \
        exit(77);            \
    } while (0)

static inline int test_main_end(void)
{
    printf("%d tests, %d failed\n", test__n_run, test__n_failed);
    return test__n_failed ? 1 : 0;
}

#endif
