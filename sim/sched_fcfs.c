/* sched_fcfs.c: first come, first served. Queue order only; head-of-line blocking when the
 * front request does not fit, as vLLM and ORCA do. */
#include "sched.h"

const struct sched_ops sched_fcfs_ops = {
    .name = "fcfs",
    .help = "first come, first served (queue order; preempted requests first)",
};
