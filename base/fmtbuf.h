/*
 * fmtbuf.h: number formatting for the per-request and timeline CSV writers (issue 13, item 3),
 * byte-identical to printf's "%llu" and "%.Nf" (N <= 9) but without parsing a format string or
 * taking stdio's lock per field.
 * Exactness: a finite double is m 2^e exactly (m < 2^53); m 10^N 2^e is computed in 128-bit
 * integers and rounded to the nearest integer, ties to even, as glibc's printf rounds the exact
 * decimal value in the default rounding mode. Values whose scaled magnitude reaches 2^63, NaN and
 * infinities go to snprintf. The sign of -0.0 and of negatives that round to zero is kept, as
 * printf keeps it.
 * Ownership: writes into the caller's buffer, which must have room (sim_fmt_fixed: 24 + N
 * bytes; sim_fmt_u64: 20) and returns the end (no terminating NUL). Cannot fail.
 */
#ifndef LENSIM_FMTBUF_H
#define LENSIM_FMTBUF_H

#include <stdint.h>

/* Decimal digits of v at p (printf "%llu"); returns the end. */
char *sim_fmt_u64(char *p, uint64_t v);
/* printf("%.*f", prec, v) at p, prec in [0, 9]; returns the end. Room: 330 bytes covers every
 * double through the snprintf fallback; 44 bytes suffice below 2^63 / 10^prec. */
char *sim_fmt_fixed(char *p, double v, int prec);

#endif
