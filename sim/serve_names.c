/* serve_names.c: the names of the serving model's choices (serve.h). */
#include <string.h>

#include "serve.h"

static int parse_name(const char *s, const char *const *names, int n, int *out)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return SIM_OK;
        }
    return SIM_ECONFIG;
}

#define PARSER(fn, type, ...)                                                              \
    int fn(const char *s, type *out)                                                       \
    {                                                                                      \
        static const char *const names[] = {__VA_ARGS__};                                  \
        int v, rc = parse_name(s, names, (int)(sizeof names / sizeof *names), &v);         \
        if (!rc)                                                                           \
            *out = (type)v;                                                                \
        return rc;                                                                         \
    }
PARSER(batching_parse, enum batching, "continuous", "dynamic", "none")
PARSER(preempt_parse, enum preempt_mode, "recompute", "swap")
PARSER(overflow_parse, enum overflow_mode, "next_bucket", "max")
PARSER(router_parse, enum router_kind, "round_robin", "least_outstanding", "random")

