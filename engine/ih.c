/* ih.c: the out-of-line parts of the intrusive index heap (see ih.h). */
#include "ih.h"

#include "alloc.h"

void ih_fini(struct ih *h)
{
    sim_free(h->a);
    h->a = NULL;
    h->n = h->cap = 0;
}

int ih__reserve(struct ih *h) { return SIM_GROW(h->a, h->cap, h->n + 1); }

int ih_check(const struct ih *h, ih_less_fn less, struct sim_msg *why)
{
    for (size_t i = 0; i < h->n; i++) {
        size_t pos = *ih__pos(h->a[i], h->pos_off);
        if (pos != i)
            return sim_msg_set(why, SIM_EINVARIANT, "element %zu has position %zu", i, pos);
        if (i > 0 && less(h->a[i], h->a[(i - 1) / 2]))
            return sim_msg_set(why, SIM_EINVARIANT, "element %zu less than its parent", i);
    }
    return SIM_OK;
}
