/*
 * fuzz_profile.c: perf profile files (calib/profile.h) through cal_profile_load.
 *
 * Input: the whole profile file. Checks, besides fuzz.h's (sanitizers, messages, leaks), what
 * cal_profile_load promises of a profile it accepts: 1 to CAL_MAX_PIECES pieces in increasing
 * order of max_tokens, the last unbounded, positive KV sizes; and that cal_profile_save writes
 * it back so that it loads to the same bytes.
 */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "profile.h"

static void check_loaded(const struct cal_profile *p)
{
    FUZZ_CHECK(p->n_pieces >= 1 && p->n_pieces <= CAL_MAX_PIECES, "%zu pieces", p->n_pieces);
    for (size_t k = 1; k < p->n_pieces; k++)
        FUZZ_CHECK(p->piece[k].max_tokens > p->piece[k - 1].max_tokens,
                   "piece %zu ends at %g, before piece %zu (%g)", k + 1, p->piece[k].max_tokens, k,
                   p->piece[k - 1].max_tokens);
    FUZZ_CHECK(isinf(p->piece[p->n_pieces - 1].max_tokens), "the last piece ends at %g",
               p->piece[p->n_pieces - 1].max_tokens);
    FUZZ_CHECK(p->kv_bytes_per_token > 0, "kv_bytes_per_token %g", p->kv_bytes_per_token);
    FUZZ_CHECK(p->kv_capacity_bytes > 0, "kv_capacity_bytes %g", p->kv_capacity_bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cal_profile p, q; /* zeroed by cal_profile_load; static: 2 KB each */
    char                      path[512], back[512];
    fuzz_write_file("profile.yaml", data, size, path, sizeof path);
    fuzz_write_file("saved.yaml", "", 0, back, sizeof back);
    uint64_t       live = fuzz_live();
    struct sim_msg err = {{0}};
    int            rc = cal_profile_load(path, &p, &err);
    fuzz_expect_msg(rc, &err, "cal_profile_load");
    if (!rc && p.table) { /* the table form (issue 10): written by tools/, not round-tripped */
        FUZZ_CHECK(p.n_pieces == 0, "a table profile with %zu pieces", p.n_pieces);
        FUZZ_CHECK(p.kv_bytes_per_token > 0 && p.kv_capacity_bytes > 0, "KV sizes %g, %g",
                   p.kv_bytes_per_token, p.kv_capacity_bytes);
        cal_profile_fini(&p);
    } else if (!rc) {
        check_loaded(&p);
        rc = cal_profile_save(back, &p, &err);
        FUZZ_CHECK(rc == 0, "cal_profile_save: %s", err.text);
        rc = cal_profile_load(back, &q, &err);
        FUZZ_CHECK(rc == 0, "a saved profile does not load: %s", err.text);
        FUZZ_CHECK(!memcmp(&p, &q, sizeof p), "a profile changes on a round trip");
    }
    fuzz_expect_no_leak(live, "profile");
    return 0;
}
