/* sched_fcfs.c: first come, first served. Queue order only; head-of-line blocking when the
 * front request does not fit, as vLLM and ORCA do. */
#include "sched.h"

const struct sched_ops sched_fcfs_ops = {
    .key = NULL, /* queue order: every hook is the generic one */
};
