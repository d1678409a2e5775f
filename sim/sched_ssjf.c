/* sched_ssjf.c: speculative shortest job first (Qiu et al., AIOps'24): order by the predicted
 * output length, less the tokens already generated (never below zero). */
#include "sched.h"

static double ssjf_key(const struct req *r)
{
    return r->pred_tok > r->generated ? (double)(r->pred_tok - r->generated) : 0.0;
}

const struct sched_ops sched_ssjf_ops = {
    .key = ssjf_key,
};
