/* ihk.c: the out-of-line parts of the keyed intrusive heap (see ihk.h). */
#include "ihk.h"

#include "alloc.h"

void ihk_fini(struct ihk *h)
{
    sim_free(h->a);
    h->a = NULL;
    h->n = h->cap = 0;
}

int ihk__reserve(struct ihk *h) { return SIM_GROW(h->a, h->cap, h->n + 1); }

int ihk_check(const struct ihk *h, struct sim_msg *why)
{
    for (size_t i = 1; i < h->n; i++)
        if (h->a[i].key < h->a[(i - 1) / 2].key)
            return sim_msg_set(why, SIM_EINVARIANT, "element %zu less than its parent", i);
    return SIM_OK;
}
