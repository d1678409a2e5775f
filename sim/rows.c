/* rows.c: the per-request and timeline CSV lines (see rows.h). */
#include "rows.h"
#include <string.h>

#include "fmtbuf.h"

size_t met_request_row(char *buf, const struct req *r, double arrival_s, double queue_s,
                       double ttft_s, double tpot_s, double e2el_s, double finish_s,
                       const char *status)
{
    char *p = buf;
    p = sim_fmt_u64(p, r->id);
    *p++ = ',';
    p = sim_fmt_u64(p, r->replica);
    *p++ = ',';
    p = sim_fmt_fixed(p, arrival_s, 9);
    *p++ = ',';
    p = sim_fmt_u64(p, r->prompt_tok);
    *p++ = ',';
    p = sim_fmt_u64(p, r->output_tok);
    *p++ = ',';
    p = sim_fmt_u64(p, r->pred_tok);
    const double t[5] = {queue_s, ttft_s, tpot_s, e2el_s, finish_s};
    for (int i = 0; i < 5; i++) {
        *p++ = ',';
        p = sim_fmt_fixed(p, t[i], 9);
    }
    *p++ = ',';
    p = sim_fmt_u64(p, r->n_preempt);
    *p++ = ',';
    p = sim_fmt_u64(p, r->n_mispredict);
    *p++ = ',';
    size_t n = strlen(status);
    memcpy(p, status, n);
    p += n;
    *p++ = '\n';
    return (size_t)(p - buf);
}

size_t met_timeline_row(char *buf, uint32_t replica, double time_s, uint32_t batch,
                        uint64_t kv_used_tok, double kv_perc, uint32_t waiting)
{
    char *p = buf;
    p = sim_fmt_u64(p, replica);
    *p++ = ',';
    p = sim_fmt_fixed(p, time_s, 6);
    *p++ = ',';
    p = sim_fmt_u64(p, batch);
    *p++ = ',';
    p = sim_fmt_u64(p, kv_used_tok);
    *p++ = ',';
    p = sim_fmt_fixed(p, kv_perc, 4);
    *p++ = ',';
    p = sim_fmt_u64(p, waiting);
    *p++ = '\n';
    return (size_t)(p - buf);
}
