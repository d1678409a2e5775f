/* Placeholder until the trace readers land. */
#include <stdio.h>

#include "trace.h"

int trace_cmd(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "lensim trace: not built yet\n");
    return 2;
}
