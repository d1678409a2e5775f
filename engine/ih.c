/* ih.c: intrusive index heap (see ih.h for the contract and the sift rules). */
#include "ih.h"

#include "alloc.h"

static inline size_t *pos_of(const struct ih *h, void *x)
{
    return (size_t *)((char *)x + h->pos_off);
}

static inline void place(struct ih *h, size_t i, void *x)
{
    h->a[i] = x;
    *pos_of(h, x) = i;
}

static void up(struct ih *h, size_t i)
{
    void *x = h->a[i];
    while (i > 0 && h->less(x, h->a[(i - 1) / 2])) {
        place(h, i, h->a[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    place(h, i, x);
}

static void down(struct ih *h, size_t i)
{
    void *x = h->a[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->less(h->a[c + 1], h->a[c]))
            c++;
        if (!h->less(h->a[c], x))
            break;
        place(h, i, h->a[c]);
        i = c;
    }
    place(h, i, x);
}

void ih_init(struct ih *h, ih_less_fn less, size_t pos_off)
{
    *h = (struct ih){.less = less, .pos_off = pos_off};
}

void ih_fini(struct ih *h)
{
    sim_free(h->a);
    h->a = NULL;
    h->n = h->cap = 0;
}

int ih_push(struct ih *h, void *x)
{
    if (SIM_GROW(h->a, h->cap, h->n + 1))
        return SIM_ENOMEM;
    h->a[h->n] = x;
    up(h, h->n++);
    return SIM_OK;
}

void *ih_top(const struct ih *h) { return h->n ? h->a[0] : NULL; }

static size_t index_of(const struct ih *h, void *x)
{
    size_t i = *pos_of(h, x);
    SIM_ASSERT(i < h->n && h->a[i] == x);
    return i;
}

void ih_remove(struct ih *h, void *x)
{
    size_t i = index_of(h, x);
    void  *last = h->a[--h->n];
    if (i < h->n) {
        place(h, i, last);
        up(h, i);
        down(h, *pos_of(h, last));
    }
}

void *ih_pop(struct ih *h)
{
    void *x = ih_top(h);
    if (x)
        ih_remove(h, x);
    return x;
}

void ih_update(struct ih *h, void *x)
{
    size_t i = index_of(h, x);
    up(h, i);
    down(h, *pos_of(h, x));
}

int ih_check(const struct ih *h, struct sim_msg *why)
{
    for (size_t i = 0; i < h->n; i++) {
        if (*pos_of(h, h->a[i]) != i)
            return sim_msg_set(why, SIM_EINVARIANT, "element %zu has position %zu", i,
                               *pos_of(h, h->a[i]));
        if (i > 0 && h->less(h->a[i], h->a[(i - 1) / 2]))
            return sim_msg_set(why, SIM_EINVARIANT, "element %zu less than its parent", i);
    }
    return SIM_OK;
}
