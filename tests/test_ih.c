/*
 * test_ih.c: the intrusive index heap (engine/ih.h) against a sorted array.
 *
 * Random programs of push, pop, remove and update (a key changed in place) run on the heap and
 * on a reference that keeps the elements sorted by (key, id) with insertion sort; after every
 * operation the two must agree on the size and the least element, ih_check must pass, and every
 * popped element must be the reference's least. Keys come from a small range, so that key ties
 * are common and the id decides. A second test plants a wrong position and a broken order and
 * expects ih_check to see each; a third fails the array's growth and expects SIM_ENOMEM with
 * the heap unchanged.
 */
#include "alloc.h"
#include "ih.h"
#include "ihk.h"
#include "rng.h"
#include "test.h"

enum { N_ELEM = 300, N_OPS = 200000 };

struct elem {
    uint32_t key;
    uint32_t id;
    size_t   pos;
    int      inside;
};

static bool elem_less(const void *a, const void *b)
{
    const struct elem *x = a, *y = b;
    return x->key < y->key || (x->key == y->key && x->id < y->id);
}

/* The reference: pointers sorted by elem_less, least first. */
struct ref {
    struct elem *a[N_ELEM];
    size_t       n;
};

static void ref_insert(struct ref *r, struct elem *e)
{
    size_t i = r->n++;
    for (; i > 0 && elem_less(e, r->a[i - 1]); i--)
        r->a[i] = r->a[i - 1];
    r->a[i] = e;
}

static void ref_remove(struct ref *r, struct elem *e)
{
    size_t i = 0;
    while (r->a[i] != e)
        i++;
    for (r->n--; i < r->n; i++)
        r->a[i] = r->a[i + 1];
}

static void agree(const struct ih *h, const struct ref *r)
{
    struct sim_msg m;
    if (ih_check(h, elem_less, &m))
        TEST_FAIL_("ih_check: %s", m.text);
    ASSERT_EQ(ih_size(h), r->n);
    ASSERT_TRUE(ih_top(h) == (r->n ? r->a[0] : NULL));
}

TEST(random_programs_match_sorted_array)
{
    static struct elem e[N_ELEM];
    rng_t             *g = rng_new(7, 0);
    struct ih          h;
    struct ref         r = {.n = 0};
    ih_init(&h, offsetof(struct elem, pos));
    for (uint32_t i = 0; i < N_ELEM; i++)
        e[i] = (struct elem){.id = i};
    uint64_t counts[4] = {0};
    for (int op = 0; op < N_OPS; op++) {
        struct elem *x = &e[gsl_rng_uniform_int(g, N_ELEM)];
        int          kind = (int)gsl_rng_uniform_int(g, 4);
        counts[kind]++;
        switch (kind) {
        case 0: /* push (when outside) */
            if (x->inside)
                break;
            x->key = (uint32_t)gsl_rng_uniform_int(g, 50);
            ASSERT_EQ(ih_push(&h, x, elem_less), 0);
            ref_insert(&r, x);
            x->inside = 1;
            break;
        case 1: { /* pop */
            struct elem *p = ih_pop(&h, elem_less);
            ASSERT_TRUE(p == (r.n ? r.a[0] : NULL));
            if (p) {
                ref_remove(&r, p);
                p->inside = 0;
            }
            break;
        }
        case 2: /* remove (when inside) */
            if (!x->inside)
                break;
            ih_remove(&h, x, elem_less);
            ref_remove(&r, x);
            x->inside = 0;
            break;
        default: /* update (when inside): a new key, up or down */
            if (!x->inside)
                break;
            ref_remove(&r, x);
            x->key = (uint32_t)gsl_rng_uniform_int(g, 50);
            ih_update(&h, x, elem_less);
            ref_insert(&r, x);
            break;
        }
        agree(&h, &r);
    }
    /* Drain: everything left comes out in the reference's order. */
    for (size_t i = 0; i < r.n; i++)
        ASSERT_TRUE(ih_pop(&h, elem_less) == r.a[i]);
    ASSERT_EQ(ih_size(&h), 0);
    ASSERT_TRUE(counts[0] > N_OPS / 8 && counts[3] > N_OPS / 8);
    ih_fini(&h);
    rng_free(g);
}

TEST(check_sees_planted_faults)
{
    static struct elem e[64];
    struct ih          h;
    struct sim_msg     m;
    ih_init(&h, offsetof(struct elem, pos));
    for (uint32_t i = 0; i < 64; i++) {
        e[i] = (struct elem){.key = 64 - i, .id = i};
        ASSERT_EQ(ih_push(&h, &e[i], elem_less), 0);
    }
    ASSERT_EQ(ih_check(&h, elem_less, NULL), 0);
    struct elem *last = h.a[63];
    last->pos = 5; /* a wrong back-pointer */
    ASSERT_EQ(ih_check(&h, elem_less, &m), SIM_EINVARIANT);
    last->pos = 63;
    uint32_t k = last->key;
    last->key = 0; /* smaller than its parent, behind the heap's back */
    ASSERT_EQ(ih_check(&h, elem_less, &m), SIM_EINVARIANT);
    last->key = k;
    ASSERT_EQ(ih_check(&h, elem_less, NULL), 0);
    ih_fini(&h);
}

TEST(failed_growth_leaves_heap_unchanged)
{
    static struct elem e[17];
    struct ih          h;
    ih_init(&h, offsetof(struct elem, pos));
    size_t i = 0;
    for (; i < 17; i++) {
        e[i] = (struct elem){.key = (uint32_t)(i * 7 % 5), .id = (uint32_t)i};
        if (h.n && h.n == h.cap)
            break; /* the next push must grow */
        ASSERT_EQ(ih_push(&h, &e[i], elem_less), 0);
    }
    if (i == 17) /* capacities grow geometrically: a full array comes before 17 */
        TEST_FAIL_("no growth point found");
    size_t n = h.n;
    void  *top = ih_top(&h);
    sim_alloc_fail_after(1);
    ASSERT_EQ(ih_push(&h, &e[i], elem_less), SIM_ENOMEM);
    sim_alloc_fail_after(0);
    ASSERT_EQ(ih_size(&h), n);
    ASSERT_TRUE(ih_top(&h) == top);
    ASSERT_EQ(ih_check(&h, elem_less, NULL), 0);
    ASSERT_EQ(ih_push(&h, &e[i], elem_less), 0);
    ih_fini(&h);
}

/* Issue 13, the keyed heap (engine/ihk.h): one random program of push, pop, remove and update
 * runs on an ih heap ordered by key alone (no id: ties are left to the sift rules) and on an
 * ihk heap over twin elements; keys from a range of 8, so that most comparisons tie. Every pop
 * must return the twin of ih's element (equal keys leave in the same order), and the two arrays
 * must hold the same elements slot for slot after each operation. */
static bool key_less(const void *a, const void *b)
{
    return ((const struct elem *)a)->key < ((const struct elem *)b)->key;
}

TEST(keyed_heap_pops_in_ih_order)
{
    static struct elem e[N_ELEM], f[N_ELEM];
    rng_t             *g = rng_new(11, 0);
    struct ih          h;
    struct ihk         k;
    struct sim_msg     m;
    ih_init(&h, offsetof(struct elem, pos));
    ihk_init(&k);
    for (uint32_t i = 0; i < N_ELEM; i++)
        e[i] = f[i] = (struct elem){.id = i};
    uint64_t ties = 0;
    for (int op = 0; op < N_OPS; op++) {
        uint32_t     j = (uint32_t)gsl_rng_uniform_int(g, N_ELEM);
        struct elem *x = &e[j], *y = &f[j];
        switch ((int)gsl_rng_uniform_int(g, 4)) {
        case 0:
            if (x->inside)
                break;
            x->key = y->key = (uint32_t)gsl_rng_uniform_int(g, 8);
            ASSERT_EQ(ih_push(&h, x, key_less), 0);
            ASSERT_EQ(ihk_push(&k, y, y->key), 0);
            x->inside = y->inside = 1;
            break;
        case 1: {
            struct elem *p = ih_pop(&h, key_less), *q = ihk_pop(&k);
            ASSERT_TRUE(p ? q && p->id == q->id : !q);
            if (p) {
                ties += ih_size(&h) && ((struct elem *)ih_top(&h))->key == p->key;
                p->inside = q->inside = 0;
            }
            break;
        }
        case 2:
            if (!x->inside)
                break;
            ih_remove(&h, x, key_less);
            ihk_remove(&k, y);
            x->inside = y->inside = 0;
            break;
        default:
            if (!x->inside)
                break;
            x->key = y->key = (uint32_t)gsl_rng_uniform_int(g, 8);
            ih_update(&h, x, key_less);
            ihk_update(&k, y, y->key);
            ASSERT_EQ(ihk_key(&k, y), y->key);
            break;
        }
        ASSERT_EQ(ihk_size(&k), ih_size(&h));
        ASSERT_TRUE(ih_size(&h)
                        ? ((struct elem *)ihk_top(&k))->id == ((struct elem *)ih_top(&h))->id
                        : !ihk_top(&k));
        if (ih_size(&h))
            ASSERT_EQ(ihk_top_key(&k), ((struct elem *)ih_top(&h))->key);
        if (ihk_check(&k, &m))
            TEST_FAIL_("ihk_check: %s", m.text);
        for (size_t i = 0; i < ih_size(&h); i++) /* slot for slot, the same elements */
            ASSERT_EQ(((struct elem *)k.a[i].x)->id, ((struct elem *)h.a[i])->id);
    }
    while (ih_size(&h))
        ASSERT_EQ(((struct elem *)ih_pop(&h, key_less))->id, ((struct elem *)ihk_pop(&k))->id);
    ASSERT_EQ(ihk_size(&k), 0);
    ASSERT_TRUE(ties > N_OPS / 20); /* the program did exercise ties */
    /* A planted fault: a key smaller than its parent's. */
    for (uint32_t i = 0; i < 64; i++)
        ASSERT_EQ(ihk_push(&k, &f[i], 64 - i), 0);
    ASSERT_EQ(ihk_check(&k, NULL), 0);
    k.a[63].key = 0;
    ASSERT_EQ(ihk_check(&k, &m), SIM_EINVARIANT);
    ih_fini(&h);
    ihk_fini(&k);
    rng_free(g);
}

int main(void)
{
    RUN(random_programs_match_sorted_array);
    RUN(check_sees_planted_faults);
    RUN(failed_growth_leaves_heap_unchanged);
    RUN(keyed_heap_pops_in_ih_order);
    return test_main_end();
}
