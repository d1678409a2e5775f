/* alloc.c: counting allocator with failure injection (see alloc.h). */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* The header keeps the block size and preserves the strictest fundamental alignment. */
union hdr {
    size_t      size;
    max_align_t align;
};

static struct sim_alloc_stats st;
static uint64_t               fail_countdown; /* 0 = off; 1 = fail the next allocation */

static int inject_failure(void)
{
    if (fail_countdown == 0)
        return 0;
    if (fail_countdown == 1)
        return 1; /* stays at 1: every later allocation fails too */
    fail_countdown--;
    return 0;
}

static void account(size_t add, size_t sub)
{
    st.live_bytes = st.live_bytes + add - sub;
    if (st.live_bytes > st.peak_bytes)
        st.peak_bytes = st.live_bytes;
}

void *sim_malloc(size_t n)
{
    if (n > SIZE_MAX - sizeof(union hdr) || inject_failure())
        return NULL;
    union hdr *h = malloc(sizeof *h + n);
    if (!h)
        return NULL;
    h->size = n;
    st.calls++;
    st.live++;
    account(n, 0);
    return h + 1;
}

void *sim_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = sim_malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void *sim_realloc(void *p, size_t n)
{
    if (!p)
        return sim_malloc(n);
    if (n > SIZE_MAX - sizeof(union hdr) || inject_failure())
        return NULL;
    union hdr *old = (union hdr *)p - 1;
    size_t     old_size = old->size;
    union hdr *h = realloc(old, sizeof *h + n);
    if (!h)
        return NULL;
    h->size = n;
    st.calls++;
    account(n, old_size);
    return h + 1;
}

void *sim_grow_array(void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return p;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return p;
        ncap *= 2;
    }
    if (size && ncap > SIZE_MAX / size)
        return p;
    void *np = sim_realloc(p, ncap * size);
    if (!np)
        return p;
    *cap = ncap;
    return np;
}

char *sim_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char  *d = sim_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void sim_free(void *p)
{
    if (!p)
        return;
    union hdr *h = (union hdr *)p - 1;
    SIM_ASSERT(st.live > 0);
    st.live--;
    account(0, h->size);
    free(h);
}

struct sim_alloc_stats sim_alloc_stats(void) { return st; }
void                   sim_alloc_peak_reset(void) { st.peak_bytes = st.live_bytes; }

void sim_alloc_fail_after(uint64_t n) { fail_countdown = n; }
