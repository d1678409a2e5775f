/* fmtbuf.c: exact fixed-point formatting (see fmtbuf.h). */
#include "fmtbuf.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

char *sim_fmt_u64(char *p, uint64_t v)
{
    char  tmp[20];
    char *t = tmp + sizeof tmp;
    do {
        *--t = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    size_t n = (size_t)(tmp + sizeof tmp - t);
    memcpy(p, t, n);
    return p + n;
}

__extension__ typedef unsigned __int128 u128; /* GCC and clang; -Wpedantic wants the marker */

static const uint64_t pow10_u64[10] = {1,      10,      100,      1000,      10000,
                                       100000, 1000000, 10000000, 100000000, 1000000000};

char *sim_fmt_fixed(char *p, double v, int prec)
{
    if (!isfinite(v) || prec < 0 || prec > 9)
        return p + snprintf(p, 330, "%.*f", prec, v);
    int    neg = signbit(v) != 0;
    double a = fabs(v);
    /* 2^63 / 10^prec bounds the scaled value with room for the division's rounding; above it,
     * printf's own path (rare: 9.2e9 s at 9 decimals). */
    if (a >= 9223372036854775808.0 / (double)pow10_u64[prec])
        return p + snprintf(p, 330, "%.*f", prec, v);
    int    e;
    double fr = frexp(a, &e); /* a = fr 2^e, fr in [0.5, 1) or 0 */
    /* m = fr 2^53 is an integer below 2^53; a = m 2^(e - 53). */
    uint64_t m = (uint64_t)ldexp(fr, 53);
    int      sh = e - 53;
    u128     x = (u128)m * pow10_u64[prec]; /* < 2^83 */
    uint64_t n;
    if (sh >= 0) {
        n = (uint64_t)(x << sh); /* a < 2^63 / 10^prec keeps it below 2^63 */
    } else if (sh <= -100) {
        n = 0; /* x < 2^83: far below one half */
    } else {
        int  s = -sh;
        u128 q = x >> s, r = x - (q << s), half = (u128)1 << (s - 1);
        if (r > half || (r == half && (q & 1)))
            q++;
        n = (uint64_t)q;
    }
    if (neg)
        *p++ = '-';
    uint64_t ip = n / pow10_u64[prec], fp = n % pow10_u64[prec];
    p = sim_fmt_u64(p, ip);
    if (prec) {
        *p++ = '.';
        for (int i = prec - 1; i >= 0; i--) {
            p[i] = (char)('0' + fp % 10);
            fp /= 10;
        }
        p += prec;
    }
    return p;
}
