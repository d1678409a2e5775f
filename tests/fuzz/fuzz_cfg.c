/*
 * fuzz_cfg.c: experiment files (sim/cfg.h): load, --set, every run resolved and dumped.
 *
 * Input: the first line is one --set assignment (empty: none), the rest the experiment YAML.
 * Checks, besides fuzz.h's (sanitizers, messages, leaks):
 *   - the number of runs is at least 1 once a file loads;
 *   - each resolved run's dump loads back as a single run that resolves to the same dump and
 *     the same cfg_hash (cfg_dump is the run's manifest: it must be a valid experiment).
 * At most RESOLVE_MAX runs are resolved (the first ones and the last): a sweep may have 100000.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "fuzz.h"

enum { RESOLVE_MAX = 16 };

/* cfg_dump's text (malloc'd; free with free()). */
static char *dump_text(const struct cfg *c)
{
    char  *buf = NULL;
    size_t len = 0;
    FILE  *f = open_memstream(&buf, &len);
    FUZZ_CHECK(f, "open_memstream failed");
    cfg_dump(c, f);
    FUZZ_CHECK(fclose(f) == 0 && buf, "open_memstream failed");
    return buf;
}

/* Load a run's dump and check that it resolves to itself. */
static void round_trip(const struct cfg *c)
{
    char          *text = dump_text(c);
    cfg_exp_t     *e = NULL;
    struct sim_msg err = {{0}};
    int            rc = cfg_load_string(text, "dump.yaml", &e, &err);
    FUZZ_CHECK(rc == 0, "the dump does not load: %s\n%s", err.text, text);
    FUZZ_CHECK(cfg_n_runs(e) == 1, "the dump has %zu runs", cfg_n_runs(e));
    struct cfg d;
    rc = cfg_resolve(e, 0, &d, &err);
    FUZZ_CHECK(rc == 0, "the dump does not resolve: %s\n%s", err.text, text);
    char *again = dump_text(&d);
    FUZZ_CHECK(!strcmp(text, again), "the dump changes on a round trip:\n%s\n---\n%s", text, again);
    FUZZ_CHECK(cfg_hash(c) == cfg_hash(&d), "cfg_hash changes on a round trip");
    free(again);
    cfg_free(e);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char       *text = fuzz_text(data, size);
    char       *nl = strchr(text, '\n');
    const char *set = text, *yaml = "";
    if (nl) {
        *nl = 0;
        yaml = nl + 1;
    }
    uint64_t       live = fuzz_live();
    struct sim_msg err = {{0}};
    cfg_exp_t     *e = NULL;
    int            rc = cfg_load_string(yaml, "fuzz.yaml", &e, &err);
    fuzz_expect_msg(rc, &err, "cfg_load_string");
    FUZZ_CHECK(!rc == !!e, "cfg_load_string returned %d and %p", rc, (void *)e);
    if (!rc) {
        if (*set) {
            err.text[0] = 0;
            fuzz_expect_msg(cfg_add_set(e, set, &err), &err, "cfg_add_set");
        }
        size_t n = cfg_n_runs(e);
        FUZZ_CHECK(n >= 1, "no runs");
        for (size_t k = 0; k < n && k < RESOLVE_MAX; k++) {
            struct cfg c;
            err.text[0] = 0;
            rc = cfg_resolve(e, k + 1 == RESOLVE_MAX ? n - 1 : k, &c, &err);
            fuzz_expect_msg(rc, &err, "cfg_resolve");
            if (!rc)
                round_trip(&c);
        }
        cfg_free(e);
    }
    fuzz_expect_no_leak(live, "cfg");
    free(text);
    return 0;
}
