/*
 * trace_parse.c: one row parser per file format (see FORMAT.md for the formats and the error
 * policy).
 *
 * Parsers are strict: a field is exactly a number in the expected form (no spaces, no quotes, no
 * thousands separators), the column count must match the header, and token counts must lie in
 * [1, TRACE__TOK_MAX]. Every rejection names the column and quotes the offending text, after a
 * "file:line: " prefix. Cost: one pass over the line; no allocation except growth of the
 * Mooncake hash_ids buffer, which is kept between rows.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "trace_internal.h"

int trace__row_err(trace_t *t, int err, const char *fmt, ...)
{
    char    what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return sim_msg_set(&t->msg, err, "%s:%llu: %s", t->path, (unsigned long long)t->lr.lineno,
                       what);
}

const char *trace__quote(const char *s, size_t n, char *out, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    size_t            o = 0;
    SIM_ASSERT(size >= 8);
    out[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        size_t        need = (ch < 0x20 || ch == 0x7f) ? 4 : (ch == '"' || ch == '\\') ? 2 : 1;
        if (o + need + 5 > size) { /* keep room for `..."` and the NUL */
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (need == 4) {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        } else {
            if (need == 2)
                out[o++] = '\\';
            out[o++] = (char)ch;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

/* ---- numbers ---- */

enum num_status { NUM_OK, NUM_EMPTY, NUM_NEGATIVE, NUM_NOT_NUMBER, NUM_NOT_INTEGER, NUM_TOO_BIG };

/* A non-negative integer written as digits, or (allow_float) as digits "." digits with an
 * all-zero fraction, as the bwb lengths file writes its counts ("1037.0"). */
static enum num_status parse_u64(const char *s, size_t n, int allow_float, uint64_t *v)
{
    if (n == 0)
        return NUM_EMPTY;
    size_t   i = s[0] == '-' ? 1 : 0, d0 = i;
    uint64_t x = 0;
    int      big = 0, has_frac = 0, frac_nonzero = 0;
    for (; i < n && isdigit((unsigned char)s[i]); i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            big = 1;
        else
            x = x * 10 + d;
    }
    if (i == d0)
        return NUM_NOT_NUMBER;
    if (i < n && s[i] == '.') {
        size_t f0 = ++i;
        for (; i < n && isdigit((unsigned char)s[i]); i++)
            frac_nonzero |= s[i] != '0';
        if (i == f0)
            return NUM_NOT_NUMBER;
        has_frac = 1;
    }
    if (i != n)
        return NUM_NOT_NUMBER;
    if (s[0] == '-' && (x || big || frac_nonzero))
        return NUM_NEGATIVE;
    if (has_frac && (!allow_float || frac_nonzero))
        return NUM_NOT_INTEGER;
    if (big)
        return NUM_TOO_BIG;
    *v = x;
    return NUM_OK;
}

static int num_err(trace_t *t, const char *col, enum num_status st, const char *s, size_t n)
{
    char q[64];
    trace__quote(s, n, q, sizeof q);
    switch (st) {
    case NUM_EMPTY: return trace__row_err(t, SIM_EINPUT, "%s: empty field", col);
    case NUM_NEGATIVE: return trace__row_err(t, SIM_EINPUT, "%s: negative value: %s", col, q);
    case NUM_NOT_INTEGER: return trace__row_err(t, SIM_EINPUT, "%s: not an integer: %s", col, q);
    case NUM_TOO_BIG:
        return trace__row_err(t, SIM_EINPUT, "%s: absurd value %s (more than %u)", col, q,
                              TRACE__TOK_MAX);
    case NUM_NOT_NUMBER:
    case NUM_OK: break;
    }
    return trace__row_err(t, SIM_EINPUT, "%s: not a number: %s", col, q);
}

/* A token count: an integer in [1, TRACE__TOK_MAX]. */
static int parse_tok(trace_t *t, const char *col, const char *s, size_t n, int allow_float,
                     uint64_t *v)
{
    enum num_status st = parse_u64(s, n, allow_float, v);
    if (st == NUM_OK && *v > TRACE__TOK_MAX)
        st = NUM_TOO_BIG;
    if (st != NUM_OK)
        return num_err(t, col, st, s, n);
    if (*v == 0)
        return trace__row_err(t, SIM_EINPUT, "%s: must be at least 1 token, got 0", col);
    return SIM_OK;
}

/* Issue 13: strtod was 5 % of a conv_n50000 run (50,000 arrival times such as "4.743938").
 * A number written as at most 15 digits with an optional "." inside (no sign, no exponent) is
 * M / 10^k with M < 10^15 < 2^53 and k <= 15: both exact doubles, so the one IEEE division
 * rounds the exact quotient once, to the nearest double, which is strtod's correctly rounded
 * result (glibc; both follow the current rounding mode). This is the "exact integer / exact
 * power of ten" case of Go's strconv (golang/go src/strconv/atof.go at 198e585, atof64exact,
 * after W. Clinger, "How to read floating point numbers accurately", PLDI 1990). Anything else
 * returns 0 and goes to strtod as before. tests/test_speed_decimal.c compares with strtod. */
int trace__plain_decimal(const char *s, size_t n, double *x)
{
    static const double p10[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    uint64_t            m = 0;
    size_t              i = 0, k = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        m = m * 10 + (uint64_t)(s[i] - '0'); /* wraps past 19 digits: refused below */
    size_t nd = i;
    if (nd == 0)
        return 0;
    if (i < n) {
        if (s[i] != '.')
            return 0;
        size_t f0 = ++i;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            m = m * 10 + (uint64_t)(s[i] - '0');
        k = i - f0;
        if (k == 0 || i != n)
            return 0;
        nd += k;
    }
    if (nd > 15)
        return 0;
    *x = (double)m / p10[k];
    return 1;
}

/* A non-negative decimal number of seconds (digits, ".", exponent) no larger than what
 * simulated time can hold, converted to nanoseconds. s is NUL-terminated at s[n]. */
static int parse_seconds(trace_t *t, const char *col, const char *s, size_t n, int64_t *ns)
{
    char q[64];
    if (n == 0)
        return trace__row_err(t, SIM_EINPUT, "%s: empty field", col);
    double x;
    if (!trace__plain_decimal(s, n, &x)) {
        if (strspn(s, "0123456789.eE+-") != n ||
            !(isdigit((unsigned char)s[0]) || s[0] == '-' || s[0] == '.'))
            return trace__row_err(t, SIM_EINPUT, "%s: not a number: %s", col,
                                  trace__quote(s, n, q, sizeof q));
        char *end;
        x = strtod(s, &end);
        if (end != s + n || !isfinite(x))
            return trace__row_err(t, SIM_EINPUT, "%s: not a number: %s", col,
                                  trace__quote(s, n, q, sizeof q));
    }
    if (x < 0)
        return trace__row_err(t, SIM_EINPUT, "%s: negative value: %s", col,
                              trace__quote(s, n, q, sizeof q));
    if (x * 1e9 >= (double)SIM_T_MAX)
        return trace__row_err(t, SIM_EINPUT, "%s: absurd value %s (more than 146 years)", col,
                              trace__quote(s, n, q, sizeof q));
    *ns = llround(x * 1e9);
    return SIM_OK;
}

/* ---- civil time ---- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant,
 * "chrono-compatible low-level date algorithms", days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                   /* [0, 399] */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int digits(const char *s, size_t k, int *v)
{
    int x = 0;
    for (size_t i = 0; i < k; i++) {
        if (!isdigit((unsigned char)s[i]))
            return 0;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 1;
}

int trace__parse_datetime(const char *s, size_t n, int64_t *out_ns)
{
    int y, mo, d, h, mi, sec;
    if (n < 19 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || (s[10] != ' ' && s[10] != 'T') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
        return -1;
    int64_t frac = 0;
    /* Issue 12: a UTC offset after the time (the 2024 trace's "+00:00"; also "Z", "-07:00",
     * "+0530"): the instant is the local time less the offset. */
    int64_t off_s = 0;
    if (n > 19 && (s[n - 1] == 'Z' || s[n - 1] == 'z')) {
        n--;
    } else if (n > 24 && (s[n - 6] == '+' || s[n - 6] == '-') && s[n - 3] == ':') {
        int oh, om;
        if (!digits(s + n - 5, 2, &oh) || !digits(s + n - 2, 2, &om) || oh > 23 || om > 59)
            return -1;
        off_s = (s[n - 6] == '-' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
        n -= 6;
    } else if (n > 23 && (s[n - 5] == '+' || s[n - 5] == '-') && isdigit((unsigned char)s[n - 4])) {
        int oh, om;
        if (!digits(s + n - 4, 2, &oh) || !digits(s + n - 2, 2, &om) || oh > 23 || om > 59)
            return -1;
        off_s = (s[n - 5] == '-' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
        n -= 5;
    }
    if (n > 19) {
        size_t k = n - 20;
        if (s[19] != '.' || k < 1 || k > 9)
            return -1;
        for (size_t i = 0; i < 9; i++) {
            if (i < k && !isdigit((unsigned char)s[20 + i]))
                return -1;
            frac = frac * 10 + (i < k ? s[20 + i] - '0' : 0);
        }
    }
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || y > 2200 || mo < 1 || mo > 12 || d < 1 ||
        d > mdays[mo - 1] + (mo == 2 && is_leap(y)) || h > 23 || mi > 59 || sec > 59)
        return -2;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off_s;
    *out_ns = secs * SIM_NS_PER_S + frac;
    return 0;
}

/* ---- CSV ---- */

#define MAX_FIELDS 8

/* Split at commas in place (each field NUL-terminated, without the blanks around it). Returns the
 * number of fields, which may exceed MAX_FIELDS; only the first MAX_FIELDS are stored. */
static size_t split(char *line, size_t n, char **f, size_t *fl)
{
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || line[i] == ',') {
            if (k < MAX_FIELDS) { /* blanks around a field dropped (issue 12: "0, 374, 44") */
                size_t a = start, b = i;
                while (a < b && (line[a] == ' ' || line[a] == '\t'))
                    a++;
                while (b > a && (line[b - 1] == ' ' || line[b - 1] == '\t'))
                    b--;
                f[k] = line + a;
                fl[k] = b - a;
                if (b < n) /* the field ends here: NUL-terminated below or now */
                    line[b] = '\0';
            }
            k++;
            if (i < n)
                line[i] = '\0';
            start = i + 1;
        }
    }
    return k;
}

static int field_count_err(trace_t *t, size_t want, size_t got, const char *header)
{
    return trace__row_err(t, SIM_EINPUT, "expected %zu fields (%s), got %zu", want, header, got);
}

static int parse_azure(trace_t *t, char *line, size_t n, struct trace__row *row)
{
    char  *f[MAX_FIELDS];
    size_t fl[MAX_FIELDS];
    size_t k = split(line, n, f, fl);
    if (k != 3)
        return field_count_err(t, 3, k, "TIMESTAMP,ContextTokens,GeneratedTokens");
    int rc = trace__parse_datetime(f[0], fl[0], &row->t_ns);
    if (rc) {
        char q[64];
        trace__quote(f[0], fl[0], q, sizeof q);
        if (fl[0] == 0)
            return trace__row_err(t, SIM_EINPUT, "TIMESTAMP: empty field");
        if (rc == -2)
            return trace__row_err(t, SIM_EINPUT, "TIMESTAMP: no such date or time: %s", q);
        return trace__row_err(t, SIM_EINPUT,
                              "TIMESTAMP: bad timestamp %s (want YYYY-MM-DD HH:MM:SS.fffffff, "
                              "optionally with a UTC offset: +00:00)",
                              q);
    }
    if ((rc = parse_tok(t, "ContextTokens", f[1], fl[1], 0, &row->prompt)) ||
        (rc = parse_tok(t, "GeneratedTokens", f[2], fl[2], 0, &row->output)))
        return rc;
    return SIM_OK;
}

static int parse_csv(trace_t *t, char *line, size_t n, struct trace__row *row)
{
    char  *f[MAX_FIELDS];
    size_t fl[MAX_FIELDS];
    size_t k = split(line, n, f, fl), want = t->csv_has_id ? 4 : 3;
    if (k != want)
        return field_count_err(t, want, k,
                               t->csv_has_id ? "arrival_s,prompt_tokens,output_tokens,id"
                                             : "arrival_s,prompt_tokens,output_tokens");
    int rc;
    if ((rc = parse_seconds(t, "arrival_s", f[0], fl[0], &row->t_ns)) ||
        (rc = parse_tok(t, "prompt_tokens", f[1], fl[1], 0, &row->prompt)) ||
        (rc = parse_tok(t, "output_tokens", f[2], fl[2], 0, &row->output)))
        return rc;
    if (t->csv_has_id) {
        enum num_status st = parse_u64(f[3], fl[3], 0, &row->id);
        if (st != NUM_OK)
            return num_err(t, "id", st == NUM_TOO_BIG ? NUM_NOT_NUMBER : st, f[3], fl[3]);
        row->has_id = 1;
    }
    return SIM_OK;
}

/* Vidur's trace_replay format (microsoft/vidur at 7d47513,
 * vidur/request_generator/trace_replay_request_generator.py): seconds since the simulation's
 * start, prompt and output tokens. Vidur casts the token counts to int and clips them to at
 * least 1; lensim refuses a count that is not a whole number of at least 1 token instead. */
static int parse_vidur(trace_t *t, char *line, size_t n, struct trace__row *row)
{
    char  *f[MAX_FIELDS];
    size_t fl[MAX_FIELDS];
    size_t k = split(line, n, f, fl);
    if (k != 3)
        return field_count_err(t, 3, k, "arrived_at,num_prefill_tokens,num_decode_tokens");
    int rc;
    if ((rc = parse_seconds(t, "arrived_at", f[0], fl[0], &row->t_ns)) ||
        (rc = parse_tok(t, "num_prefill_tokens", f[1], fl[1], 0, &row->prompt)) ||
        (rc = parse_tok(t, "num_decode_tokens", f[2], fl[2], 0, &row->output)))
        return rc;
    return SIM_OK;
}

/* BurstGPT (HPMLL/BurstGPT README.md, "Schema"): Timestamp (seconds from the first day's
 * midnight), Model, Request tokens, Response tokens, Total tokens (their sum), Log Type. Its
 * BurstGPT_N.csv files keep requests that failed in the logged service, with 0 response tokens:
 * they are errors here (never run, never dropped quietly), skipped and counted with skip_bad, and
 * its BurstGPT_without_fails_N.csv files have none. */
static int parse_burstgpt(trace_t *t, char *line, size_t n, struct trace__row *row)
{
    static const char hdr[] =
        "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type";
    char    *f[MAX_FIELDS];
    size_t   fl[MAX_FIELDS];
    size_t   k = split(line, n, f, fl);
    uint64_t total;
    int      rc;
    if (k != 6)
        return field_count_err(t, 6, k, hdr);
    if ((rc = parse_seconds(t, "Timestamp", f[0], fl[0], &row->t_ns)))
        return rc;
    if (fl[1] == 0)
        return trace__row_err(t, SIM_EINPUT, "Model: empty field");
    if (fl[5] == 0)
        return trace__row_err(t, SIM_EINPUT, "Log Type: empty field");
    if (fl[3] == 1 && f[3][0] == '0')
        return trace__row_err(t, SIM_EINPUT,
                              "Response tokens: 0, a request that failed in the logged service "
                              "(BurstGPT_without_fails_*.csv has none; workload.skip_bad: true "
                              "skips and counts them)");
    if ((rc = parse_tok(t, "Request tokens", f[2], fl[2], 0, &row->prompt)) ||
        (rc = parse_tok(t, "Response tokens", f[3], fl[3], 0, &row->output)))
        return rc;
    enum num_status st = parse_u64(f[4], fl[4], 0, &total);
    if (st != NUM_OK)
        return num_err(t, "Total tokens", st, f[4], fl[4]);
    if (total != row->prompt + row->output)
        return trace__row_err(
            t, SIM_EINPUT, "Total tokens: %llu is not Request tokens + Response tokens (%llu)",
            (unsigned long long)total, (unsigned long long)(row->prompt + row->output));
    return SIM_OK;
}

static int parse_lengths(trace_t *t, char *line, size_t n, struct trace__row *row)
{
    char  *f[MAX_FIELDS];
    size_t fl[MAX_FIELDS];
    size_t k = split(line, n, f, fl);
    if (k != 4)
        return field_count_err(t, 4, k,
                               "num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio");
    int rc;
    if ((rc = parse_tok(t, "num_prefill_tokens", f[0], fl[0], 1, &row->prompt)) ||
        (rc = parse_tok(t, "num_decode_tokens", f[1], fl[1], 1, &row->output)))
        return rc;
    uint64_t        total;
    enum num_status st = parse_u64(f[2], fl[2], 1, &total);
    if (st != NUM_OK)
        return num_err(t, "num_total_tokens", st, f[2], fl[2]);
    if (total != row->prompt + row->output)
        return trace__row_err(t, SIM_EINPUT,
                              "num_total_tokens: %llu is not num_prefill_tokens + "
                              "num_decode_tokens = %llu",
                              (unsigned long long)total,
                              (unsigned long long)(row->prompt + row->output));
    /* pd_ratio is redundant (prefill / decode); it only has to be a number. */
    char  *end = NULL;
    double ratio = fl[3] && strspn(f[3], "0123456789.eE+-") == fl[3] ? strtod(f[3], &end) : NAN;
    if (!fl[3] || end != f[3] + fl[3] || !isfinite(ratio) || ratio < 0) {
        char q[64];
        return trace__row_err(t, SIM_EINPUT, "pd_ratio: not a non-negative number: %s",
                              trace__quote(f[3], fl[3], q, sizeof q));
    }
    return SIM_OK;
}

/* ---- Mooncake JSONL: one flat JSON object per line (RFC 8259 syntax) ---- */

struct jcur {
    const char *s;
    size_t      n, i;
    trace_t    *t;
};

#define JSON_MAX_DEPTH 32

static void jws(struct jcur *c)
{
    while (c->i < c->n &&
           (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\r' || c->s[c->i] == '\n'))
        c->i++;
}

static int jerr(struct jcur *c, const char *what)
{
    return trace__row_err(c->t, SIM_EINPUT, "JSON: %s at column %zu", what, c->i + 1);
}

/* A string; *str and *len are its raw contents (escapes not decoded, but checked). */
static int jstring(struct jcur *c, const char **str, size_t *len)
{
    if (c->i >= c->n || c->s[c->i] != '"')
        return jerr(c, "expected a string");
    size_t start = ++c->i;
    for (; c->i < c->n; c->i++) {
        unsigned char ch = (unsigned char)c->s[c->i];
        if (ch == '"') {
            *str = c->s + start;
            *len = c->i - start;
            c->i++;
            return SIM_OK;
        }
        if (ch < 0x20)
            return jerr(c, "control character in a string");
        if (ch == '\\') {
            c->i++;
            if (c->i >= c->n)
                break;
            ch = (unsigned char)c->s[c->i];
            if (ch == 'u') {
                for (int k = 0; k < 4; k++)
                    if (++c->i >= c->n || !isxdigit((unsigned char)c->s[c->i]))
                        return jerr(c, "bad \\u escape");
            } else if (!strchr("\"\\/bfnrt", ch) || ch == '\0') {
                return jerr(c, "bad escape");
            }
        }
    }
    return jerr(c, "unterminated string");
}

/* A number lexeme -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; *is_int when it has neither
 * fraction nor exponent. */
static int jnumber(struct jcur *c, const char **lex, size_t *len, int *is_int)
{
    const char *s = c->s;
    size_t      i = c->i, n = c->n;
    *is_int = 1;
    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0')
        i++;
    else if (i < n && s[i] >= '1' && s[i] <= '9')
        while (i < n && isdigit((unsigned char)s[i]))
            i++;
    else
        return jerr(c, "expected a value");
    if (i < n && s[i] == '.') {
        *is_int = 0;
        if (++i >= n || !isdigit((unsigned char)s[i])) {
            c->i = i;
            return jerr(c, "bad number");
        }
        while (i < n && isdigit((unsigned char)s[i]))
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        *is_int = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || !isdigit((unsigned char)s[i])) {
            c->i = i;
            return jerr(c, "bad number");
        }
        while (i < n && isdigit((unsigned char)s[i]))
            i++;
    }
    *lex = s + c->i;
    *len = i - c->i;
    c->i = i;
    return SIM_OK;
}

static int jskip(struct jcur *c, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return jerr(c, "nested too deeply");
    jws(c);
    if (c->i >= c->n)
        return jerr(c, "expected a value");
    char        ch = c->s[c->i];
    const char *str;
    size_t      len;
    int         is_int, rc;
    if (ch == '"')
        return jstring(c, &str, &len);
    if (ch == '{' || ch == '[') {
        char close = ch == '{' ? '}' : ']';
        c->i++;
        jws(c);
        if (c->i < c->n && c->s[c->i] == close)
            return c->i++, SIM_OK;
        for (;;) {
            if (ch == '{') {
                jws(c);
                if ((rc = jstring(c, &str, &len)))
                    return rc;
                jws(c);
                if (c->i >= c->n || c->s[c->i] != ':')
                    return jerr(c, "expected ':'");
                c->i++;
            }
            if ((rc = jskip(c, depth + 1)))
                return rc;
            jws(c);
            if (c->i < c->n && c->s[c->i] == ',') {
                c->i++;
                continue;
            }
            if (c->i < c->n && c->s[c->i] == close)
                return c->i++, SIM_OK;
            return jerr(c, ch == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    static const char *const lits[] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++) {
        size_t l = strlen(lits[k]);
        if (c->n - c->i >= l && !memcmp(c->s + c->i, lits[k], l)) {
            c->i += l;
            return SIM_OK;
        }
    }
    return jnumber(c, &str, &len, &is_int);
}

/* Name of a value in messages: "key", or "key[idx]" for an element of a list. */
static const char *jname(const char *key, long idx, char *buf, size_t n)
{
    if (idx < 0)
        return key;
    snprintf(buf, n, "%s[%ld]", key, idx);
    return buf;
}

/* A JSON integer value for key `key` (element idx of it when idx >= 0): a token count when
 * tok, else any integer (hash ids). */
static int jint(struct jcur *c, const char *key, long idx, int64_t *v, int tok)
{
    const char *lex;
    size_t      len;
    int         is_int, rc;
    char        q[64], nb[48];
    if (c->i < c->n && !(c->s[c->i] == '-' || isdigit((unsigned char)c->s[c->i])))
        return trace__row_err(c->t, SIM_EINPUT, "%s: expected an integer at column %zu",
                              jname(key, idx, nb, sizeof nb), c->i + 1);
    if ((rc = jnumber(c, &lex, &len, &is_int)))
        return rc;
    if (!is_int)
        return trace__row_err(c->t, SIM_EINPUT, "%s: not an integer: %s",
                              jname(key, idx, nb, sizeof nb), trace__quote(lex, len, q, sizeof q));
    if (tok) {
        uint64_t u;
        rc = parse_tok(c->t, key, lex, len, 0, &u);
        *v = (int64_t)u;
        return rc;
    }
    uint64_t        u;
    int             neg = lex[0] == '-';
    enum num_status st = parse_u64(lex + neg, len - neg, 0, &u);
    if (st != NUM_OK || u > (uint64_t)INT64_MAX)
        return trace__row_err(c->t, SIM_EINPUT, "%s: integer out of range: %s",
                              jname(key, idx, nb, sizeof nb), trace__quote(lex, len, q, sizeof q));
    *v = neg ? -(int64_t)u : (int64_t)u;
    return SIM_OK;
}

static int jtimestamp(struct jcur *c, int64_t *ns)
{
    const char *lex;
    size_t      len;
    int         is_int, rc;
    char        q[64], buf[64];
    if (c->i < c->n && !(c->s[c->i] == '-' || isdigit((unsigned char)c->s[c->i])))
        return trace__row_err(c->t, SIM_EINPUT, "timestamp: expected a number at column %zu",
                              c->i + 1);
    if ((rc = jnumber(c, &lex, &len, &is_int)))
        return rc;
    trace__quote(lex, len, q, sizeof q);
    if (lex[0] == '-')
        return trace__row_err(c->t, SIM_EINPUT, "timestamp: negative value: %s", q);
    double max_ms = (double)SIM_T_MAX / 1e6;
    if (is_int) {
        uint64_t ms;
        if (parse_u64(lex, len, 0, &ms) != NUM_OK || (double)ms >= max_ms)
            return trace__row_err(c->t, SIM_EINPUT, "timestamp: absurd value %s ms", q);
        *ns = (int64_t)ms * SIM_NS_PER_MS;
        return SIM_OK;
    }
    if (len >= sizeof buf)
        return trace__row_err(c->t, SIM_EINPUT, "timestamp: number too long: %s", q);
    memcpy(buf, lex, len);
    buf[len] = '\0';
    double ms = strtod(buf, NULL);
    if (!(ms < max_ms))
        return trace__row_err(c->t, SIM_EINPUT, "timestamp: absurd value %s ms", q);
    *ns = llround(ms * 1e6);
    return SIM_OK;
}

static int jhash_ids(struct jcur *c)
{
    trace_t *t = c->t;
    int      rc;
    t->n_hash = 0;
    if (c->i >= c->n || c->s[c->i] != '[')
        return trace__row_err(t, SIM_EINPUT, "hash_ids: expected a list of integers at column %zu",
                              c->i + 1);
    c->i++;
    jws(c);
    if (c->i < c->n && c->s[c->i] == ']')
        return c->i++, SIM_OK;
    for (;;) {
        jws(c);
        int64_t v;
        if ((rc = jint(c, "hash_ids", (long)t->n_hash, &v, 0)))
            return rc;
        if (SIM_GROW(t->hash, t->cap_hash, t->n_hash + 1))
            return sim_msg_set(&t->msg, SIM_ENOMEM, "%s:%llu: out of memory for hash_ids", t->path,
                               (unsigned long long)t->lr.lineno);
        t->hash[t->n_hash++] = v;
        jws(c);
        if (c->i < c->n && c->s[c->i] == ',') {
            c->i++;
            continue;
        }
        if (c->i < c->n && c->s[c->i] == ']')
            return c->i++, SIM_OK;
        return jerr(c, "hash_ids: expected ',' or ']'");
    }
}

/* One flat JSON object over c's line: each key of keys[0..nk) at most once, its value read by
 * field(c, k, ctx); any other key's value skipped; nothing after the object; keys[0..n_required)
 * present. Shared by the Mooncake rows and AlpacaEval's instructions.jsonl. */
typedef int (*jfield_fn)(struct jcur *c, int k, void *ctx);
static int jobject(struct jcur *c, const char *const *keys, int nk, int n_required, jfield_fn field,
                   void *ctx)
{
    const char *line = c->s;
    int         seen[8] = {0}, rc;
    SIM_ASSERT(nk <= 8);
    jws(c);
    if (c->i >= c->n)
        return trace__row_err(c->t, SIM_EINPUT, "empty line");
    if (line[c->i] != '{')
        return jerr(c, "expected '{'");
    c->i++;
    jws(c);
    if (c->i < c->n && line[c->i] == '}') {
        c->i++;
    } else {
        for (;;) {
            const char *key;
            size_t      klen;
            jws(c);
            if ((rc = jstring(c, &key, &klen)))
                return rc;
            jws(c);
            if (c->i >= c->n || line[c->i] != ':')
                return jerr(c, "expected ':'");
            c->i++;
            jws(c);
            int k = 0;
            while (k < nk && !(strlen(keys[k]) == klen && !memcmp(keys[k], key, klen)))
                k++;
            if (k < nk && seen[k])
                return trace__row_err(c->t, SIM_EINPUT, "duplicate key \"%s\"", keys[k]);
            if ((rc = k < nk ? field(c, k, ctx) : jskip(c, 1))) /* unknown keys are ignored */
                return rc;
            if (k < nk)
                seen[k] = 1;
            jws(c);
            if (c->i < c->n && line[c->i] == ',') {
                c->i++;
                continue;
            }
            if (c->i < c->n && line[c->i] == '}') {
                c->i++;
                break;
            }
            return jerr(c, "expected ',' or '}'");
        }
    }
    jws(c);
    if (c->i != c->n)
        return jerr(c, "unexpected text after the object");
    for (int k = 0; k < n_required; k++)
        if (!seen[k])
            return trace__row_err(c->t, SIM_EINPUT, "missing key \"%s\"", keys[k]);
    return SIM_OK;
}

enum { MC_TS, MC_IN, MC_OUT, MC_HASH, MC_N };
static const char *const mc_keys[MC_N] = {"timestamp", "input_length", "output_length", "hash_ids"};

static int mooncake_field(struct jcur *c, int k, void *ctx)
{
    struct trace__row *row = ctx;
    int64_t            v;
    int                rc;
    switch (k) {
    case MC_TS: return jtimestamp(c, &row->t_ns);
    case MC_IN:
        rc = jint(c, mc_keys[k], -1, &v, 1);
        row->prompt = (uint64_t)v;
        return rc;
    case MC_OUT:
        rc = jint(c, mc_keys[k], -1, &v, 1);
        row->output = (uint64_t)v;
        return rc;
    default: return jhash_ids(c);
    }
}

static int parse_mooncake(trace_t *t, char *line, size_t n, struct trace__row *row)
{
    struct jcur c = {line, n, 0, t};
    t->n_hash = 0;
    return jobject(&c, mc_keys, MC_N, MC_HASH /* hash_ids is optional */, mooncake_field, row);
}

/* ---- issue 14: AlpacaEval's derived length matrix and its instructions.jsonl ---- */

/* A row of derived/output_llama2_tokens.csv (../shared/data/prompts/alpaca_eval/README.md):
 * idx, then one response length per model, in the header's column order; a cell is empty where
 * that model's file lacks the instruction. The counts exclude BOS and EOS (the README); a served
 * response also generates the end-of-sequence token that stops it, so the output is the count
 * + 1 (an empty response, 0 tokens of text, is the EOS alone). The prompt is idx's
 * instr_llama2_tokens from instructions.jsonl, as it stands (no BOS, no chat template). */
static int parse_alpaca(trace_t *t, char *line, size_t n, struct trace__row *row)
{
    const char *idx_s = NULL, *out_s = NULL;
    size_t      idx_n = 0, out_n = 0, k = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && line[i] != ',')
            continue;
        size_t a = start, b = i; /* blanks around a field dropped, as split() does */
        while (a < b && (line[a] == ' ' || line[a] == '\t'))
            a++;
        while (b > a && (line[b - 1] == ' ' || line[b - 1] == '\t'))
            b--;
        if (k == 0)
            idx_s = line + a, idx_n = b - a;
        if (k == t->col)
            out_s = line + a, out_n = b - a;
        k++;
        start = i + 1;
    }
    if (k != t->n_cols)
        return trace__row_err(t, SIM_EINPUT, "expected %zu fields (idx and %zu models), got %zu",
                              t->n_cols, t->n_cols - 1, k);
    uint64_t        idx, out;
    enum num_status st = parse_u64(idx_s, idx_n, 0, &idx);
    if (st != NUM_OK)
        return num_err(t, "idx", st, idx_s, idx_n);
    if (idx >= t->n_prompts || !t->prompts[idx])
        return trace__row_err(t, SIM_EINPUT, "idx %llu: no such instruction in instructions.jsonl",
                              (unsigned long long)idx);
    if (out_n == 0)
        return trace__row_err(t, SIM_EINPUT, "%s: empty cell: no response to idx %llu", t->column,
                              (unsigned long long)idx);
    st = parse_u64(out_s, out_n, 0, &out);
    if (st == NUM_OK && out >= TRACE__TOK_MAX)
        st = NUM_TOO_BIG;
    if (st != NUM_OK)
        return num_err(t, t->column, st, out_s, out_n);
    row->prompt = t->prompts[idx];
    row->output = out + 1;
    return SIM_OK;
}

static const char *const ai_keys[2] = {"idx", "instr_llama2_tokens"};

static int alpaca_instr_field(struct jcur *c, int k, void *ctx)
{
    uint64_t *out = ctx; /* idx, tokens */
    int64_t   v = 0;
    int       rc = jint(c, ai_keys[k], -1, &v, k == 1);
    if (rc)
        return rc;
    if (k == 0 && (v < 0 || v >= (int64_t)TRACE__TOK_MAX))
        return trace__row_err(c->t, SIM_EINPUT, "idx: out of range: %lld", (long long)v);
    out[k] = (uint64_t)v;
    return SIM_OK;
}

int trace__parse_alpaca_instr(trace_t *t, char *line, size_t n, uint64_t *idx, uint64_t *tok)
{
    struct jcur c = {line, n, 0, t};
    uint64_t    out[2] = {0, 0};
    int         rc = jobject(&c, ai_keys, 2, 2, alpaca_instr_field, out);
    *idx = out[0];
    *tok = out[1];
    return rc;
}

int trace__parse_row(trace_t *t, char *line, size_t n, int nl, struct trace__row *row)
{
    int rc;
    memset(row, 0, sizeof *row);
    if (n == 0)
        rc = trace__row_err(t, SIM_EINPUT, "empty line");
    else if (t->fmt == TRACE_FMT_AZURE)
        rc = parse_azure(t, line, n, row);
    else if (t->fmt == TRACE_FMT_CSV)
        rc = parse_csv(t, line, n, row);
    else if (t->fmt == TRACE_FMT_LENGTHS)
        rc = parse_lengths(t, line, n, row);
    else if (t->fmt == TRACE_FMT_VIDUR)
        rc = parse_vidur(t, line, n, row);
    else if (t->fmt == TRACE_FMT_BURSTGPT)
        rc = parse_burstgpt(t, line, n, row);
    else if (t->fmt == TRACE_FMT_ALPACA) /* issue 14 */
        rc = parse_alpaca(t, line, n, row);
    else
        rc = parse_mooncake(t, line, n, row);
    if (rc == SIM_EINPUT && !nl) {
        size_t l = strlen(t->msg.text);
        snprintf(t->msg.text + l, sizeof t->msg.text - l,
                 " (the last line has no newline: truncated file?)");
    }
    return rc;
}
