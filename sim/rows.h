/*
 * rows.h: one line of requests.csv or timeline.csv, formatted without stdio (issue 13, item 3).
 * Byte-identical to the fprintf formats they replace (met.c before issue 13):
 *   requests.csv: "%llu,%u,%.9f,%u,%u,%u,%.9f,%.9f,%.9f,%.9f,%.9f,%u,%u,%s\n" (the last field
 *                 the request's status, issue 12: at most MET_STATUS_MAX characters)
 *   timeline.csv: "%u,%.6f,%u,%llu,%.4f,%u\n"
 * through base/fmtbuf.h (exact rounding, snprintf fallback outside its range). Each writes into
 * buf, which must hold MET_ROW_MAX bytes, and returns the line's length (no NUL). Pure.
 */
#ifndef LENSIM_ROWS_H
#define LENSIM_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "req.h"

enum { MET_STATUS_MAX = 64 };
enum { MET_ROW_MAX = 8 * 330 + 128 + MET_STATUS_MAX }; /* floats through the fallback: never */

size_t met_request_row(char *buf, const struct req *r, double arrival_s, double queue_s,
                       double ttft_s, double tpot_s, double e2el_s, double finish_s,
                       const char *status);
size_t met_timeline_row(char *buf, uint32_t replica, double time_s, uint32_t batch,
                        uint64_t kv_used_tok, double kv_perc, uint32_t waiting);

#endif
