/*
 * round.h: llround without the call into libm (issue 13). The model clock rounds four doubles
 * per iteration (sim/exec_model.c, calib/table.c): glibc's llround is a call through the PLT
 * each time, 2.5 % of a conv_n50000 run.
 *
 * sim_llround(x) == llround(x) for every double x (C11 7.12.9.7: the nearest integer, halfway
 * cases away from zero):
 *   - |x| < 2^63 (and not NaN): t = (long long)x truncates toward zero, exactly. If |x| < 2^52,
 *     (double)t is exact and so is f = x - (double)t (the fraction bits of x, |f| < 1, which the
 *     mantissa holds); x's nearest integer is t, or t + 1 when f >= 0.5, or t - 1 when
 *     f <= -0.5 (ties away from zero; no overflow, |t| < 2^52). If |x| >= 2^52, x is an integer
 *     already, t == x, (double)t == x and f == 0.
 *   - NaN, |x| >= 2^63: llround itself (its result there is unspecified, FE_INVALID raised).
 * tests/test_speed_round.c checks this against llround over edge values (ties, negatives, the
 * binade limits 2^52, 2^53, 2^63) and random bit patterns.
 */
#ifndef LENSIM_ROUND_H
#define LENSIM_ROUND_H

#include <math.h>

static inline long long sim_llround(double x)
{
    if (!(x > -0x1p63 && x < 0x1p63))
        return llround(x);
    long long t = (long long)x;
    double    f = x - (double)t;
    return t + (f >= 0.5) - (f <= -0.5); /* no branch: f's side of 0.5 is a coin toss */
}

#endif
