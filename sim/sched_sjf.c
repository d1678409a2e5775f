/* sched_sjf.c: shortest job first on the true remaining output length (an oracle: no real
 * system knows it; it bounds what any length predictor can gain). */
#include "sched.h"

static double sjf_key(const struct req *r) { return (double)req_remaining(r); }

const struct sched_ops sched_sjf_ops = {
    .key = sjf_key,
};
