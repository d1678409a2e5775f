/*
 * test_cfg.c: experiment files against the schema (sim/cfg.h).
 *
 * - Every error class gives a negative code, no experiment, nothing leaked and the exact
 *   `file:line:col: key: message` text: unknown keys (top level, nested, with a "did you mean"),
 *   wrong types, out-of-range values, missing required keys (`name` at load, `workload.path` at
 *   resolve), bad YAML (unclosed bracket, bad indentation, tab), a list or mapping where a scalar
 *   goes, duplicate keys, an empty file, several documents, aliases, bad `sweep:` and `runs:`
 *   shapes, and `--set` errors (`--set: key: message`); through cfg_load_string and, for a
 *   sample, through cfg_load on a real file.
 * - Positive cases: defaults, `policy: sjf`, the sweep's Cartesian product in the documented order
 *   with the documented run names, runs x sweep, precedence (defaults < file < run < --set), and a
 *   cfg_dump -> load -> resolve round trip with the same cfg_hash and the same text.
 * - Every choice key of the schema (as `lensim schema` lists them) has its owner's choice set;
 *   every name in it is accepted, resolves, and is dumped back as the same name; a wrong name is
 *   refused with the set's `a|b|c`.
 * - An allocation-failure walk over load, --set and resolve of a sweep x runs experiment: every
 *   failure is SIM_ENOMEM, no experiment comes back, nothing leaks.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "batch.h"
#include "cfg.h"
#include "test.h"

static char tmpdir[256];

/* Load `yaml` as "t.yaml"; it must fail with `code` and exactly `msg`, and leak nothing. */
static void load_fails_(const char *yaml, int code, const char *msg, int line)
{
    uint64_t       live = sim_alloc_stats().live;
    cfg_exp_t     *e = (cfg_exp_t *)1;
    struct sim_msg err = {{0}};
    int            rc = cfg_load_string(yaml, "t.yaml", &e, &err);
    if (rc != code || e != NULL || strcmp(err.text, msg))
        TEST_FAIL_("(line %d) rc %d (want %d), e %p, message\n    got:  \"%s\"\n    want: \"%s\"",
                   line, rc, code, (void *)e, err.text, msg);
    ASSERT_EQ(sim_alloc_stats().live, live);
}
#define LOAD_FAILS(yaml, msg) load_fails_(yaml, SIM_ECONFIG, msg, __LINE__)

static cfg_exp_t *load_ok_(const char *yaml, int line)
{
    cfg_exp_t     *e = NULL;
    struct sim_msg err = {{0}};
    int            rc = cfg_load_string(yaml, "t.yaml", &e, &err);
    if (rc || !e)
        TEST_FAIL_("(line %d) cfg_load_string: %d %s", line, rc, err.text);
    return e;
}
#define LOAD_OK(yaml) load_ok_(yaml, __LINE__)

static void resolve_ok_(const cfg_exp_t *e, size_t i, struct cfg *c, int line)
{
    struct sim_msg err = {{0}};
    int            rc = cfg_resolve(e, i, c, &err);
    if (rc)
        TEST_FAIL_("(line %d) cfg_resolve(%zu): %d %s", line, i, rc, err.text);
}
#define RESOLVE_OK(e, i, c) resolve_ok_(e, i, c, __LINE__)

/* Loads fine; resolving run i fails with exactly msg. */
static void resolve_fails_(const char *yaml, size_t i, const char *msg, int line)
{
    uint64_t       live = sim_alloc_stats().live;
    cfg_exp_t     *e = load_ok_(yaml, line);
    struct cfg     c;
    struct sim_msg err = {{0}};
    int            rc = cfg_resolve(e, i, &c, &err);
    cfg_free(e);
    if (rc != SIM_ECONFIG || strcmp(err.text, msg))
        TEST_FAIL_("(line %d) rc %d, message\n    got:  \"%s\"\n    want: \"%s\"", line, rc,
                   err.text, msg);
    ASSERT_EQ(sim_alloc_stats().live, live);
}
#define RESOLVE_FAILS(yaml, i, msg) resolve_fails_(yaml, i, msg, __LINE__)

/* A --set on a valid experiment fails with exactly msg. */
static void set_fails_(const char *assignment, const char *msg, int line)
{
    uint64_t       live = sim_alloc_stats().live;
    cfg_exp_t     *e = load_ok_("name: s\nworkload: {requests: 10}\n", line);
    struct sim_msg err = {{0}};
    int            rc = cfg_add_set(e, assignment, &err);
    cfg_free(e);
    if (rc != SIM_ECONFIG || strcmp(err.text, msg))
        TEST_FAIL_("(line %d) --set %s: rc %d, message\n    got:  \"%s\"\n    want: \"%s\"", line,
                   assignment, rc, err.text, msg);
    ASSERT_EQ(sim_alloc_stats().live, live);
}
#define SET_FAILS(a, msg) set_fails_(a, msg, __LINE__)

/* A --set that is accepted but makes resolving fail with exactly msg. */
static void set_fails_at_resolve_(const char *assignment, const char *msg, int line)
{
    uint64_t       live = sim_alloc_stats().live;
    cfg_exp_t     *e = load_ok_("name: s\nworkload: {requests: 10}\n", line);
    struct sim_msg err = {{0}};
    struct cfg     c;
    if (cfg_add_set(e, assignment, &err))
        TEST_FAIL_("(line %d) --set %s: %s", line, assignment, err.text);
    int rc = cfg_resolve(e, 0, &c, &err);
    cfg_free(e);
    if (rc != SIM_ECONFIG || strcmp(err.text, msg))
        TEST_FAIL_("(line %d) --set %s: rc %d, message\n    got:  \"%s\"\n    want: \"%s\"", line,
                   assignment, rc, err.text, msg);
    ASSERT_EQ(sim_alloc_stats().live, live);
}
#define SET_FAILS_AT_RESOLVE(a, msg) set_fails_at_resolve_(a, msg, __LINE__)

/* Whether choice value v of set is named `name`. */
static int named(const struct sim_choice *set, int v, const char *name)
{
    const char *n = sim_choice_name(set, v);
    return n && !strcmp(n, name);
}

static const char *write_file(const char *name, const char *text)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    ASSERT_TRUE(f);
    fputs(text, f);
    ASSERT_EQ(fclose(f), 0);
    return p;
}

/* ---- errors ---- */

TEST(unknown_keys)
{
    LOAD_FAILS("name: x\nworkload: {requests: 10}\nfoo: 1\n",
               "t.yaml:3:6: foo: unknown key (lensim schema lists them all)");
    LOAD_FAILS("name: x\nworkload:\n  requests: 10\n  ratez: 3\n",
               "t.yaml:4:10: workload.ratez: unknown key (lensim schema lists them all)");
    /* Dotted keys at the top level are the same keys. */
    LOAD_FAILS("name: x\nworkload.requests: 10\nengine.blocksize: 8\n",
               "t.yaml:3:19: engine.blocksize: unknown key (lensim schema lists them all)");
    /* "Did you mean": the key's last part exists in another group. */
    LOAD_FAILS("name: x\nworkload: {requests: 10}\nrate: 3\n",
               "t.yaml:3:7: rate: unknown key (did you mean workload.rate?)");
    LOAD_FAILS("name: x\nworkload: {requests: 10}\nengine:\n  replicas: 3\n",
               "t.yaml:4:13: engine.replicas: unknown key (did you mean cluster.replicas?)");
    LOAD_FAILS("name: x\nfoo:\n  bar: 1\n", "t.yaml:2:1: foo: unknown group");
    LOAD_FAILS("name: x\nworkload: {requests: 10, foo: {a: 1}}\n",
               "t.yaml:2:26: workload.foo: unknown group");
}

TEST(wrong_types)
{
    LOAD_FAILS("name: x\nworkload: {requests: 10, rate: fast}\n",
               "t.yaml:2:32: workload.rate: expected a number, got 'fast'");
    LOAD_FAILS("name: x\nworkload: {requests: 1.5}\n",
               "t.yaml:2:22: workload.requests: expected a whole number, got '1.5'");
    LOAD_FAILS("name: x\nworkload: {requests: 10}\ncluster:\n  replicas: 2.5\n",
               "t.yaml:4:13: cluster.replicas: expected a whole number, got '2.5'");
    LOAD_FAILS("name: x\nworkload: {requests: 10}\nengine: {check: maybe}\n",
               "t.yaml:3:17: engine.check: expected true or false, got 'maybe'");
    LOAD_FAILS("name: x\nworkload: {requests: 10}\nseed: 1e400\n",
               "t.yaml:3:7: seed: expected a number, got '1e400'");
    LOAD_FAILS("name: x\nworkload: {requests: 10, rate: nan}\n",
               "t.yaml:2:32: workload.rate: expected a number, got 'nan'");
    LOAD_FAILS("name: x\nworkload: {requests: 10}\nengine: {memory: bogus}\n",
               "t.yaml:3:18: engine.memory: 'bogus' is not one of max|predicted|oracle|paged");
    LOAD_FAILS("name: x\nworkload: {requests: 10}\nseed:\n", "t.yaml:3:6: seed: missing value");
    LOAD_FAILS("name: x\nworkload: {requests: ~}\n",
               "t.yaml:2:22: workload.requests: missing value");
}

TEST(out_of_range)
{
    LOAD_FAILS("name: x\nworkload: {requests: 10}\nhardware:\n  tp: 0\n",
               "t.yaml:4:7: hardware.tp: 0 is out of range [1, 64]");
    LOAD_FAILS("name: x\nworkload: {requests: 10, rate: -1}\n",
               "t.yaml:2:32: workload.rate: -1 is out of range [1e-09, 1e+09]");
    LOAD_FAILS("name: x\nworkload: {requests: 10}\nhardware: {mem_util: 1.5}\n",
               "t.yaml:3:22: hardware.mem_util: 1.5 is out of range [0.001, 1]");
    LOAD_FAILS("name: x\nworkload: {requests: -3}\n",
               "t.yaml:2:22: workload.requests: -3 is out of range [0, 1e+12]");
}

TEST(missing_required)
{
    LOAD_FAILS("seed: 3\nworkload: {requests: 10}\n", "t.yaml:1:1: name: missing required key");
    LOAD_FAILS("# comment\n\nseed: 3\n", "t.yaml:3:1: name: missing required key");
    /* Cross-field requirements are checked when a run is resolved, pointing at the cause. */
    RESOLVE_FAILS("name: x\nworkload: {source: azure}\n", 0,
                  "t.yaml:2:20: workload.path: missing required key: source 'azure' reads a file");
    RESOLVE_FAILS("name: x\nruns:\n  - {name: a, workload.requests: 5}\n"
                  "  - {name: b, workload.source: mooncake}\n",
                  1,
                  "t.yaml:4:32: workload.path: missing required key: source 'mooncake' reads "
                  "a file");
    RESOLVE_FAILS("name: x\n", 0,
                  "workload.requests: the synthetic generator needs a bound: set requests or "
                  "end_s (default)");
    RESOLVE_FAILS("name: x\nworkload: {requests: 5, lengths: empirical}\n", 0,
                  "t.yaml:2:34: workload.lengths_path: missing required key: empirical lengths "
                  "need a file");
    RESOLVE_FAILS("name: x\nworkload: {requests: 5}\npredictor: {name: replay}\n", 0,
                  "t.yaml:3:19: predictor.path: missing required key: the replay predictor reads "
                  "a file");
    RESOLVE_FAILS("name: x\nworkload: {requests: 5}\npredictor: {edges: [100, 50]}\n", 0,
                  "t.yaml:3:20: predictor.edges: expected increasing token counts, e.g. [141, "
                  "503, 2048]");
    /* Edges are digits only: no sign (strtoul wraps "-1", and this one to 1), no space. */
    static const char *const bad_edges[] = {
        "[-1]",        "[-18446744073709551615]", "[+5]", "[100, -1]", "[\" 5\"]", "[0x10]",
        "[4294967296]"};
    for (size_t i = 0; i < sizeof bad_edges / sizeof bad_edges[0]; i++) {
        char yaml[200];
        snprintf(yaml, sizeof yaml, "name: x\nworkload: {requests: 5}\npredictor: {edges: %s}\n",
                 bad_edges[i]);
        RESOLVE_FAILS(yaml, 0,
                      "t.yaml:3:20: predictor.edges: expected increasing token counts, e.g. [141, "
                      "503, 2048]");
    }
    SET_FAILS_AT_RESOLVE("predictor.edges=-18446744073709551615",
                         "--set: predictor.edges: expected increasing token counts, e.g. [141, "
                         "503, 2048]");
    RESOLVE_FAILS("name: x\nworkload: {requests: 5, start_s: 10, end_s: 5}\n", 0,
                  "t.yaml:2:45: workload.end_s: window end 5 is not after its start 10");
    RESOLVE_FAILS("name: x\nworkload: {requests: 5, start_s: 10, end_s: 10}\n", 0,
                  "t.yaml:2:45: workload.end_s: window end 10 is not after its start 10");
    { /* and a window whose end is after its start is accepted as written */
        cfg_exp_t *e = LOAD_OK("name: x\nworkload: {requests: 5, start_s: 5, end_s: 10}\n");
        struct cfg c;
        RESOLVE_OK(e, 0, &c);
        ASSERT_EQ(c.start_s, 5.0);
        ASSERT_EQ(c.end_s, 10.0);
        cfg_free(e);
    }
    RESOLVE_FAILS("name: x\nworkload: {requests: 5}\nmodel: {name: custom, layers: 2}\n", 0,
                  "t.yaml:3:15: model: a custom model needs layers, hidden, heads, head_dim, ffn "
                  "and params");
}

/* The experiment's name is its results directory: a name that could leave results/ (or hide in
 * it) is refused where it is written, and so is an empty one, from the file or from --set. */
TEST(name_is_a_directory_name)
{
#define W   "t.yaml:1:7: name: "
#define WHY " is not a directory name (no '/', no '..', no leading '.')"
    LOAD_FAILS("name: \"../../escape_dir\"\nworkload: {requests: 10}\n",
               W "'../../escape_dir'" WHY);
    LOAD_FAILS("name: a/b\nworkload: {requests: 10}\n", W "'a/b'" WHY);
    LOAD_FAILS("name: /tmp/x\nworkload: {requests: 10}\n", W "'/tmp/x'" WHY);
    LOAD_FAILS("name: .hidden\nworkload: {requests: 10}\n", W "'.hidden'" WHY);
    LOAD_FAILS("name: ..\nworkload: {requests: 10}\n", W "'..'" WHY);
    LOAD_FAILS("name: a..b\nworkload: {requests: 10}\n", W "'a..b'" WHY);
    LOAD_FAILS("name: \"\"\nworkload: {requests: 10}\n", "t.yaml:1:7: name: missing value");
    LOAD_FAILS("name: ''\nworkload: {requests: 10}\n", "t.yaml:1:7: name: missing value");
    LOAD_FAILS("name: x\nworkload: {requests: 10}\nsweep: {name: [y, ../y]}\n",
               "t.yaml:3:19: name: '../y'" WHY);
    SET_FAILS("name=", "--set: name: missing value");
    SET_FAILS("name=../up", "--set: name: '../up'" WHY);
    SET_FAILS("name=.", "--set: name: '.'" WHY);
    /* Dots and dashes inside a name are fine. */
    cfg_exp_t *e = LOAD_OK("name: v1.2-b_c\nworkload: {requests: 10}\n");
    struct cfg c;
    RESOLVE_OK(e, 0, &c);
    ASSERT_TRUE(!strcmp(c.name, "v1.2-b_c"));
    cfg_free(e);
#undef W
#undef WHY
}

TEST(yaml_syntax)
{
    LOAD_FAILS("name: x\nworkload: {requests: 10\n",
               "t.yaml:3:1: YAML syntax: did not find expected ',' or '}' while parsing a flow "
               "mapping");
    LOAD_FAILS("name: x\nworkload: {requests: 10}\nsweep:\n  workload.rate: [1, 2\n",
               "t.yaml:5:1: YAML syntax: did not find expected ',' or ']' while parsing a flow "
               "sequence");
    LOAD_FAILS("name: x\nworkload:\n  requests: 10\n   rate: 3\n",
               "t.yaml:4:8: YAML syntax: mapping values are not allowed in this context");
    LOAD_FAILS("name: x\nworkload:\n  requests: 10\n rate: 3\n",
               "t.yaml:4:2: YAML syntax: did not find expected key while parsing a block mapping");
    LOAD_FAILS("name: x\nworkload:\n\trequests: 10\n",
               "t.yaml:3:1: YAML syntax: found character that cannot start any token while "
               "scanning for the next token");
    LOAD_FAILS("name: \"x\nseed: 1\n",
               "t.yaml:3:1: YAML syntax: found unexpected end of stream while scanning a quoted "
               "scalar");
}

TEST(shapes)
{
    /* A list or a mapping where a scalar goes. */
    LOAD_FAILS("name: x\nworkload: {requests: [10, 20]}\n",
               "t.yaml:2:22: workload.requests: expected a single value, not a list");
    LOAD_FAILS("name: [a, b]\nworkload: {requests: 10}\n",
               "t.yaml:1:7: name: expected a single value, not a list");
    LOAD_FAILS("name: {first: a}\nworkload: {requests: 10}\n",
               "t.yaml:1:1: name: expected a single value, not a mapping");
    LOAD_FAILS("name: x\nworkload: {requests: 10}\nengine: {memory: {policy: paged}}\n",
               "t.yaml:3:10: engine.memory: expected a single value, not a mapping");
    LOAD_FAILS("name: x\nworkload: {requests: {n: 10}}\n",
               "t.yaml:2:12: workload.requests: expected a single value, not a mapping");
    LOAD_FAILS("name: x\nworkload: {requests: 10}\npredictor: {edges: [10, [20]]}\n",
               "t.yaml:3:25: predictor.edges: expected a list of scalars");
    /* The document must be a mapping. */
    LOAD_FAILS("- name\n- x\n", "t.yaml:1:1: expected a mapping of settings");
    LOAD_FAILS("just words\n", "t.yaml:1:1: expected a mapping of settings");
    LOAD_FAILS("? [a, b]\n: 1\n", "t.yaml:1:3: keys must be plain words");
    /* Duplicate keys, at every level and through every spelling. */
    LOAD_FAILS("name: x\nworkload: {requests: 10}\nname: y\n",
               "t.yaml:3:1: name: given twice (first at line 1)");
    LOAD_FAILS("name: x\nworkload:\n  requests: 10\n  requests: 20\n",
               "t.yaml:4:3: workload.requests: given twice (first at line 3)");
    LOAD_FAILS("name: x\nworkload: {requests: 10}\nworkload.requests: 20\n",
               "t.yaml:3:1: workload.requests: given twice (first at line 2)");
    LOAD_FAILS("name: x\nworkload: {requests: 10}\nworkload: {rate: 2}\n",
               "t.yaml:3:1: workload: given twice (first at line 2)");
    LOAD_FAILS("name: x\nworkload: {requests: 10}\npolicy: {name: fcfs}\npolicy: sjf\n",
               "t.yaml:4:1: policy: given twice (first at line 3)");
    LOAD_FAILS("name: x\nworkload: {requests: 10}\npolicy: sjf\npolicy.name: fcfs\n",
               "t.yaml:4:1: policy.name: given twice (first at line 3)");
    LOAD_FAILS("name: x\nworkload: {requests: 10}\nsweep: {seed: [1, 2]}\nsweep: {seed: [3]}\n",
               "t.yaml:4:1: sweep: given twice (first at line 3)");
    LOAD_FAILS("name: x\nworkload: {requests: 10}\nruns: [{seed: 1}]\nruns: [{seed: 2}]\n",
               "t.yaml:4:1: runs: given twice (first at line 3)");
    /* Empty files and streams that are not one document. */
    LOAD_FAILS("", "t.yaml:1:1: empty experiment file");
    LOAD_FAILS("# only a comment\n", "t.yaml:1:1: empty experiment file");
    LOAD_FAILS("name: x\nworkload: {requests: 10}\n---\nname: y\n",
               "t.yaml:3:1: one YAML document expected");
    LOAD_FAILS("---\nname: x\n...\n---\nname: y\n", "t.yaml:4:1: one YAML document expected");
    /* Anchors are harmless; aliases (and merge keys, which need them) are refused. */
    LOAD_FAILS("name: &n x\ndescription: *n\nworkload: {requests: 10}\n",
               "t.yaml:2:14: YAML aliases are not supported");
    LOAD_FAILS("name: x\nbase: &b {requests: 10}\nworkload:\n  <<: *b\n",
               "t.yaml:4:7: YAML aliases are not supported");
}

TEST(sweep_shapes)
{
#define PRE "name: x\nworkload: {requests: 10}\n"
    LOAD_FAILS(PRE "sweep: 3\n", "t.yaml:3:8: sweep: expected a mapping: key -> list of values");
    LOAD_FAILS(PRE "sweep: [1, 2]\n",
               "t.yaml:3:8: sweep: expected a mapping: key -> list of values");
    LOAD_FAILS(PRE "sweep: {}\n", "t.yaml:3:8: sweep: expected a mapping: key -> list of values");
    LOAD_FAILS(PRE "sweep:\n", "t.yaml:3:7: sweep: expected a mapping: key -> list of values");
    LOAD_FAILS(PRE "sweep:\n  workload.rate: []\n",
               "t.yaml:4:18: workload.rate: expected a non-empty list of values to sweep");
    LOAD_FAILS(PRE "sweep:\n  workload.rate: 3\n",
               "t.yaml:4:18: workload.rate: expected a non-empty list of values to sweep");
    LOAD_FAILS(PRE "sweep:\n  workload.rate: [1, [2]]\n",
               "t.yaml:4:22: workload.rate: sweep values must be scalars");
    LOAD_FAILS(PRE "sweep:\n  workload.rate: [1, ~]\n",
               "t.yaml:4:22: workload.rate: sweep values must be scalars");
    /* A key that is not a scalar, wherever the schema reads one. */
    LOAD_FAILS("name: x\nsweep: {[a]: [1]}\n", "t.yaml:2:9: sweep: keys must be plain words");
    LOAD_FAILS(PRE "sweep:\n  {a: 1}: [1]\n", "t.yaml:4:3: sweep: keys must be plain words");
    LOAD_FAILS(PRE "sweep:\n  seed: [1]\n  ? [a, b]\n  : [2]\n",
               "t.yaml:5:5: sweep: keys must be plain words");
    LOAD_FAILS(PRE "runs:\n  - {[a]: 1}\n", "t.yaml:4:6: keys must be plain words");
    LOAD_FAILS(PRE "runs:\n  - {? {a: b} : 1}\n", "t.yaml:4:8: keys must be plain words");
    LOAD_FAILS("? {sweep: 1}\n: 2\nname: x\n", "t.yaml:1:3: keys must be plain words");
    LOAD_FAILS(PRE "sweep:\n  workload.ratez: [1, 2]\n",
               "t.yaml:4:20: workload.ratez: unknown key (lensim schema lists them all)");
    LOAD_FAILS(PRE "sweep:\n  workload.rate: [1, -2]\n",
               "t.yaml:4:22: workload.rate: -2 is out of range [1e-09, 1e+09]");
    LOAD_FAILS(PRE "sweep:\n  seed: [1, 2]\n  seed: [3]\n",
               "t.yaml:5:3: seed: given twice (first at line 4)");
    LOAD_FAILS(PRE "sweep:\n  policy: [fcfs]\n  policy.name: [sjf]\n",
               "t.yaml:5:3: policy.name: given twice (first at line 4)");
    /* Two values that name the same run directory. */
    LOAD_FAILS(PRE "sweep:\n  workload.rate: [1, 2, 1]\n",
               "t.yaml:4:25: sweep: two runs named 'rate-1'");
    LOAD_FAILS(PRE "sweep:\n  description: [a/b, a_b]\n",
               "t.yaml:4:22: sweep: two runs named 'description-a_b'");
    LOAD_FAILS(PRE "sweep:\n  workload.rate: [1, 2]\n  engine.memory: [max, max]\n",
               "t.yaml:5:24: sweep: two runs named 'rate-1_memory-max'");
    LOAD_FAILS(PRE "runs:\n  - {name: a}\n  - {name: a}\nsweep:\n  workload.rate: [1, 2]\n",
               "t.yaml:5:5: runs: two runs named 'a_rate-1'");
    /* 50 x 50 x 50 = 125000 runs. */
    char        big[4096] = PRE "sweep:\n";
    const char *keys[] = {"seed", "workload.requests", "workload.rate"};
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(big);
        n += (size_t)snprintf(big + n, sizeof big - n, "  %s: [", keys[k]);
        for (int v = 1; v <= 50; v++)
            n += (size_t)snprintf(big + n, sizeof big - n, "%d%s", v, v < 50 ? ", " : "]\n");
    }
    LOAD_FAILS(big, "t.yaml:6:18: sweep: more than 100000 runs");
#undef PRE
}

TEST(runs_shapes)
{
#define PRE "name: x\nworkload: {requests: 10}\n"
    LOAD_FAILS(PRE "runs: {a: 1}\n", "t.yaml:3:7: runs: expected a non-empty list of mappings");
    LOAD_FAILS(PRE "runs: []\n", "t.yaml:3:7: runs: expected a non-empty list of mappings");
    LOAD_FAILS(PRE "runs: fast\n", "t.yaml:3:7: runs: expected a non-empty list of mappings");
    LOAD_FAILS(PRE "runs: [3]\n", "t.yaml:3:8: runs: each run is a mapping of settings");
    LOAD_FAILS(PRE "runs:\n  - {name: a}\n  - [seed, 3]\n",
               "t.yaml:5:5: runs: each run is a mapping of settings");
    LOAD_FAILS(PRE "runs:\n  - {name: a, engine.memoryy: paged}\n",
               "t.yaml:4:31: engine.memoryy: unknown key (lensim schema lists them all)");
    LOAD_FAILS(PRE "runs:\n  - {name: a, engine: {memory: paged}}\n"
                   "  - {name: b, engine: {memory: bogus}}\n",
               "t.yaml:5:32: engine.memory: 'bogus' is not one of max|predicted|oracle|paged");
    LOAD_FAILS(PRE "runs:\n  - name: a\n    seed: 1\n    seed: 2\n",
               "t.yaml:6:5: seed: given twice (first at line 5)");
    LOAD_FAILS(PRE "runs:\n  - {name: a}\n  - {name: a, seed: 2}\n",
               "t.yaml:5:5: runs: two runs named 'a'");
    /* A run name is a directory name: no slashes, no leading dot. */
    cfg_exp_t *e = LOAD_OK(PRE "runs:\n  - {name: ..}\n  - {name: .hidden}\n  - {name: a/../b}\n");
    static const char *names[] = {"_.", "_hidden", "a_.._b"};
    for (size_t i = 0; i < 3; i++) {
        struct cfg c;
        RESOLVE_OK(e, i, &c);
        if (strcmp(c.run_name, names[i]))
            TEST_FAIL_("run %zu is named %s, want %s", i, c.run_name, names[i]);
    }
    cfg_free(e);
#undef PRE
}

TEST(set_errors)
{
    SET_FAILS("workload.rate", "--set: expected key=value, got 'workload.rate'");
    SET_FAILS("=3", "--set: expected key=value, got '=3'");
    SET_FAILS("workload.ratez=3",
              "--set: workload.ratez: unknown key (lensim schema lists them all)");
    SET_FAILS("rate=3", "--set: rate: unknown key (did you mean workload.rate?)");
    SET_FAILS("workload.rate=fast", "--set: workload.rate: expected a number, got 'fast'");
    SET_FAILS("workload.rate=", "--set: workload.rate: missing value");
    SET_FAILS("hardware.tp=0", "--set: hardware.tp: 0 is out of range [1, 64]");
    SET_FAILS("policy=lifo", "--set: policy.name: 'lifo' is not one of fcfs|sjf|ssjf|s3");
    /* Resolve-time rules name --set when it is the cause. */
    uint64_t       live = sim_alloc_stats().live;
    cfg_exp_t     *e = LOAD_OK("name: s\nworkload: {requests: 10}\n");
    struct sim_msg err = {{0}};
    ASSERT_EQ(cfg_add_set(e, "workload.source=azure", &err), 0);
    struct cfg c;
    ASSERT_EQ(cfg_resolve(e, 0, &c, &err), SIM_ECONFIG);
    ASSERT_TRUE(!strcmp(err.text,
                        "--set: workload.path: missing required key: source 'azure' reads a file"));
    cfg_free(e);
    ASSERT_EQ(sim_alloc_stats().live, live);
}

TEST(errors_through_files)
{
    uint64_t    live = sim_alloc_stats().live;
    const char *p = write_file("bad.yaml", "name: x\nworkload:\n  requests: 10\n  rate: -1\n");
    char        want[700];
    snprintf(want, sizeof want, "%s:4:9: workload.rate: -1 is out of range [1e-09, 1e+09]", p);
    cfg_exp_t     *e = (cfg_exp_t *)1;
    struct sim_msg err = {{0}};
    ASSERT_EQ(cfg_load(p, &e, &err), SIM_ECONFIG);
    ASSERT_TRUE(e == NULL);
    if (strcmp(err.text, want))
        TEST_FAIL_("got \"%s\", want \"%s\"", err.text, want);

    p = write_file("syntax.yaml", "name: x\nworkload: {requests: 10\n");
    snprintf(want, sizeof want,
             "%s:3:1: YAML syntax: did not find expected ',' or '}' while parsing a flow mapping",
             p);
    ASSERT_EQ(cfg_load(p, &e, &err), SIM_ECONFIG);
    ASSERT_TRUE(e == NULL && !strcmp(err.text, want));

    p = write_file("empty.yaml", "");
    snprintf(want, sizeof want, "%s:1:1: empty experiment file", p);
    ASSERT_EQ(cfg_load(p, &e, &err), SIM_ECONFIG);
    ASSERT_TRUE(e == NULL && !strcmp(err.text, want));

    p = write_file("azure.yaml", "name: x\nworkload:\n  source: azure\n");
    ASSERT_EQ(cfg_load(p, &e, &err), 0);
    struct cfg c;
    ASSERT_EQ(cfg_resolve(e, 0, &c, &err), SIM_ECONFIG);
    snprintf(want, sizeof want,
             "%s:3:11: workload.path: missing required key: source 'azure' reads a file", p);
    ASSERT_TRUE(!strcmp(err.text, want));
    ASSERT_TRUE(!strcmp(cfg_dir(e), tmpdir));
    cfg_free(e);

    snprintf(want, sizeof want, "%s/missing.yaml", tmpdir);
    ASSERT_EQ(cfg_load(want, &e, &err), SIM_ENOENT);
    ASSERT_TRUE(e == NULL);
    ASSERT_STR_CONTAINS(err.text, "missing.yaml: No such file or directory");

    /* A path longer than 255 bytes is kept whole: its directory is where relative paths are
     * looked up, and messages name the file. */
    char dir[700], path[800];
    snprintf(dir, sizeof dir, "%s/%0200d", tmpdir, 0);
    ASSERT_EQ(mkdir(dir, 0777), 0);
    snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/%0100d", 1);
    ASSERT_EQ(mkdir(dir, 0777), 0);
    snprintf(path, sizeof path, "%s/long.yaml", dir);
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f);
    fputs("name: x\nworkload:\n  source: azure\n", f);
    ASSERT_EQ(fclose(f), 0);
    ASSERT_EQ(cfg_load(path, &e, &err), 0);
    ASSERT_TRUE(!strcmp(cfg_dir(e), dir));
    ASSERT_EQ(cfg_resolve(e, 0, &c, &err), SIM_ECONFIG);
    ASSERT_STR_CONTAINS(err.text, "/long.yaml:3:11: workload.path: missing required key");
    cfg_free(e);
    ASSERT_EQ(sim_alloc_stats().live, live);
}

/* ---- what a valid file means ---- */

TEST(defaults_applied)
{
    cfg_exp_t *e = LOAD_OK("name: d\nworkload: {requests: 5}\n");
    ASSERT_EQ(cfg_n_runs(e), 1);
    ASSERT_TRUE(!strcmp(cfg_dir(e), "."));
    struct cfg c;
    RESOLVE_OK(e, 0, &c);
    ASSERT_TRUE(!strcmp(c.name, "d") && !strcmp(c.run_name, "run"));
    ASSERT_EQ(c.seed, 1);
    ASSERT_TRUE(!strcmp(c.model, "llama-2-7b") && !strcmp(c.gpu, "a100-80gb"));
    ASSERT_EQ(c.tp, 1);
    ASSERT_NEAR(c.mem_util, 0.9, 0);
    ASSERT_TRUE(!strcmp(c.profile, "analytic"));
    ASSERT_EQ(c.replicas, 1);
    ASSERT_TRUE(named(serve_router_choices, c.router, "round_robin"));
    ASSERT_TRUE(named(trace_format_choices, c.source, "synthetic"));
    ASSERT_EQ(c.requests, 5);
    ASSERT_NEAR(c.rate, 5.53, 0);
    ASSERT_NEAR(c.cv, 1, 0);
    ASSERT_TRUE(named(trace_arrival_choices, c.arrival, "poisson"));
    ASSERT_TRUE(named(trace_lengths_choices, c.lengths, "lognormal"));
    ASSERT_NEAR(c.prompt_mu, 6.6333, 0);
    ASSERT_TRUE(named(batch_choices, c.batching, "continuous"));
    ASSERT_TRUE(named(kv_policy_choices, c.memory, "max"));
    ASSERT_EQ(c.max_batch, 256);
    ASSERT_EQ(c.block_size, 16);
    ASSERT_TRUE(named(sched_policy_choices, c.policy, "fcfs"));
    ASSERT_TRUE(named(pred_kind_choices, c.predictor, "oracle"));
    ASSERT_TRUE(named(evq_kind_choices, c.queue, "calendar"));
    ASSERT_TRUE(named(cfg_compat_choices, c.compat, "none"));
    ASSERT_EQ(c.check, 0);
    ASSERT_EQ(c.m_gated, 1);
    ASSERT_EQ(c.out_requests, 1);
    ASSERT_EQ(c.out_timeline_rows, 2000);
    ASSERT_EQ(c.skip_bad, 0);
    cfg_free(e);
}

TEST(group_scalar_means_name)
{
    cfg_exp_t *e = LOAD_OK("name: g\nworkload: {requests: 5}\npolicy: sjf\npredictor: noisy\n"
                           "model: llama-2-13b\nengine: {check: yes, memory: \"paged\"}\n"
                           "predictor.sigma: 0.25\nseed: 18000000000000000000\n");
    struct cfg c;
    RESOLVE_OK(e, 0, &c);
    ASSERT_TRUE(named(sched_policy_choices, c.policy, "sjf"));
    ASSERT_TRUE(named(pred_kind_choices, c.predictor, "noisy"));
    ASSERT_TRUE(!strcmp(c.model, "llama-2-13b") && named(kv_policy_choices, c.memory, "paged"));
    ASSERT_EQ(c.check, 1);
    ASSERT_NEAR(c.pred_sigma, 0.25, 0);
    ASSERT_TRUE(c.seed == UINT64_C(18000000000000000000));
    cfg_free(e);
    /* Integers above 2^53 are taken digit for digit, not through a double. */
    e = LOAD_OK("name: g\nworkload: {requests: 5}\nseed: 12345678901234567891\n");
    RESOLVE_OK(e, 0, &c);
    ASSERT_TRUE(c.seed == UINT64_C(12345678901234567891));
    cfg_free(e);
}

TEST(sweep_product_order_and_names)
{
    cfg_exp_t *e = LOAD_OK("name: s\nworkload: {requests: 5}\n"
                           "sweep:\n  workload.rate: [1, 2.5, 3]\n  policy: [fcfs, sjf]\n"
                           "  engine.memory: [max, paged]\n");
    ASSERT_EQ(cfg_n_runs(e), 12);
    static const char *rate[] = {"1", "2.5", "3"}, *pol[] = {"fcfs", "sjf"},
                      *mem[] = {"max", "paged"};
    for (size_t i = 0; i < 12; i++) {
        /* First key outermost, last key fastest. */
        size_t     a = i / 4, b = (i / 2) % 2, m = i % 2;
        struct cfg c;
        RESOLVE_OK(e, i, &c);
        char want[128];
        snprintf(want, sizeof want, "rate-%s_policy-%s_memory-%s", rate[a], pol[b], mem[m]);
        if (strcmp(c.run_name, want))
            TEST_FAIL_("run %zu is named %s, want %s", i, c.run_name, want);
        ASSERT_NEAR(c.rate, atof(rate[a]), 0);
        ASSERT_TRUE(named(sched_policy_choices, c.policy, pol[b]));
        ASSERT_TRUE(named(kv_policy_choices, c.memory, mem[m]));
        ASSERT_EQ(c.requests, 5);
    }
    cfg_free(e);
}

TEST(runs_times_sweep)
{
    cfg_exp_t *e = LOAD_OK("name: r\nworkload: {requests: 5, rate: 2}\n"
                           "runs:\n"
                           "  - name: fast lane\n"
                           "    engine: {memory: paged}\n"
                           "  - {workload.requests: 7, policy: sjf}\n"
                           "sweep:\n  cluster.replicas: [1, 4]\n");
    ASSERT_EQ(cfg_n_runs(e), 4);
    static const char *names[] = {"fast_lane_replicas-1", "fast_lane_replicas-4", "run1_replicas-1",
                                  "run1_replicas-4"};
    for (size_t i = 0; i < 4; i++) {
        struct cfg c;
        RESOLVE_OK(e, i, &c);
        if (strcmp(c.run_name, names[i]))
            TEST_FAIL_("run %zu is named %s, want %s", i, c.run_name, names[i]);
        ASSERT_EQ(c.replicas, i % 2 ? 4 : 1);
        ASSERT_TRUE(named(kv_policy_choices, c.memory, i < 2 ? "paged" : "max"));
        ASSERT_TRUE(named(sched_policy_choices, c.policy, i < 2 ? "fcfs" : "sjf"));
        ASSERT_EQ(c.requests, i < 2 ? 5 : 7);
        ASSERT_NEAR(c.rate, 2, 0);
        ASSERT_TRUE(!strcmp(c.name, "r"));
    }
    cfg_free(e);
    /* Runs alone: names as given, else run<i>. */
    e = LOAD_OK("name: r\nworkload: {requests: 5}\nruns: [{name: a}, {seed: 4}]\n");
    ASSERT_EQ(cfg_n_runs(e), 2);
    struct cfg c;
    RESOLVE_OK(e, 0, &c);
    ASSERT_TRUE(!strcmp(c.run_name, "a"));
    RESOLVE_OK(e, 1, &c);
    ASSERT_TRUE(!strcmp(c.run_name, "run1"));
    ASSERT_EQ(c.seed, 4);
    cfg_free(e);
}

TEST(set_wins)
{
    cfg_exp_t *e = LOAD_OK("name: p\nseed: 2\nworkload: {requests: 5, rate: 2}\n"
                           "runs:\n  - {name: a, workload.rate: 3, seed: 9}\n  - {name: b}\n"
                           "sweep:\n  engine.memory: [max, paged]\n");
    struct cfg c;
    RESOLVE_OK(e, 0, &c);
    ASSERT_NEAR(c.rate, 3, 0); /* the run over the file */
    ASSERT_EQ(c.seed, 9);
    RESOLVE_OK(e, 2, &c);
    ASSERT_NEAR(c.rate, 2, 0);
    ASSERT_EQ(c.seed, 2);
    struct sim_msg err = {{0}};
    ASSERT_EQ(cfg_add_set(e, "workload.rate=7", &err), 0);
    ASSERT_EQ(cfg_add_set(e, "engine.memory=oracle", &err), 0);
    ASSERT_EQ(cfg_add_set(e, "policy=s3", &err), 0);
    ASSERT_EQ(cfg_add_set(e, "seed=5", &err), 0);
    ASSERT_EQ(cfg_add_set(e, "seed=6", &err), 0); /* the last --set wins */
    for (size_t i = 0; i < cfg_n_runs(e); i++) {
        RESOLVE_OK(e, i, &c);
        ASSERT_NEAR(c.rate, 7, 0);
        ASSERT_TRUE(named(kv_policy_choices, c.memory, "oracle"));
        ASSERT_TRUE(named(sched_policy_choices, c.policy, "s3"));
        ASSERT_EQ(c.seed, 6);
    }
    /* Issue 12: --set on a swept key replaces the sweep, so that run names follow the values
     * that ran (they said memory-paged while the run used oracle): two runs now, not four. */
    ASSERT_EQ(cfg_n_runs(e), 2);
    RESOLVE_OK(e, 0, &c);
    ASSERT_TRUE(!strcmp(c.run_name, "a_memory-oracle"));
    RESOLVE_OK(e, 1, &c);
    ASSERT_TRUE(!strcmp(c.run_name, "b_memory-oracle"));
    cfg_free(e);
}

/* Issue 12: `--set KEY=[a,b]` sweeps KEY (innermost), on a swept key replaces its values, and
 * checks every value; a bad one names --set. */
TEST(set_defines_a_sweep)
{
    cfg_exp_t *e = LOAD_OK("name: p\nworkload: {requests: 5}\nsweep:\n  workload.rate: [1, 2]\n");
    struct sim_msg err = {{0}};
    struct cfg     c;
    ASSERT_EQ(cfg_add_set(e, "engine.max_batch=[8, 16, 32]", &err), 0);
    ASSERT_EQ(cfg_n_runs(e), 6);
    RESOLVE_OK(e, 5, &c);
    ASSERT_TRUE(!strcmp(c.run_name, "rate-2_max_batch-32"));
    ASSERT_EQ(c.max_batch, 32);
    ASSERT_NEAR(c.rate, 2, 0);
    ASSERT_EQ(cfg_add_set(e, "workload.rate=[3]", &err), 0);
    ASSERT_EQ(cfg_n_runs(e), 3);
    RESOLVE_OK(e, 0, &c);
    ASSERT_TRUE(!strcmp(c.run_name, "rate-3_max_batch-8"));
    ASSERT_NEAR(c.rate, 3, 0);
    ASSERT_EQ(cfg_add_set(e, "engine.max_batch=[8, x]", &err), SIM_ECONFIG);
    ASSERT_TRUE(strstr(err.text, "--set: engine.max_batch:") != NULL);
    ASSERT_EQ(cfg_add_set(e, "workload.rate=[]", &err), SIM_ECONFIG);
    ASSERT_EQ(cfg_n_runs(e), 3); /* a refused --set changes nothing */
    /* The keys that vary, for results.csv's columns. */
    const char *keys[4];
    ASSERT_EQ(cfg_varied_keys(e, keys, 4), 2);
    ASSERT_TRUE(!strcmp(keys[0], "workload.rate") && !strcmp(keys[1], "engine.max_batch"));
    cfg_free(e);
}

/* Issue 12: where a run's setting was written, for errors found after loading (run_build). */
TEST(place_msg)
{
    cfg_exp_t     *e = LOAD_OK("name: p\nworkload: {requests: 5}\nhardware:\n  gpu: h100\n"
                                   "sweep:\n  hardware.tp: [1, 3]\n");
    struct sim_msg m;
    sim_msg_set(&m, SIM_ECONFIG, "hardware.tp: 3 does not divide");
    cfg_place_msg(e, 1, &m);
    ASSERT_TRUE(!strcmp(m.text, "t.yaml:6:20: hardware.tp: 3 does not divide"));
    sim_msg_set(&m, SIM_ECONFIG, "hardware.gpu: too small");
    cfg_place_msg(e, 0, &m);
    ASSERT_TRUE(!strcmp(m.text, "t.yaml:4:8: hardware.gpu: too small"));
    sim_msg_set(&m, SIM_ECONFIG, "model.name: unknown");
    cfg_place_msg(e, 0, &m);
    ASSERT_TRUE(!strcmp(m.text, "t.yaml: model.name: unknown (default)"));
    sim_msg_set(&m, SIM_ECONFIG, "no key here");
    cfg_place_msg(e, 0, &m);
    ASSERT_TRUE(!strcmp(m.text, "no key here"));
    cfg_free(e);
}

static char *dump_text(const struct cfg *c)
{
    char  *buf = NULL;
    size_t len = 0;
    FILE  *f = open_memstream(&buf, &len);
    ASSERT_TRUE(f);
    cfg_dump(c, f);
    fclose(f);
    return buf;
}

TEST(dump_round_trip)
{
    cfg_exp_t *e = LOAD_OK(
        "name: round trip\n"
        "description: \"quotes \\\" and \\\\ backslash, # not a comment: colon\\nnew line\\ttab\"\n"
        "seed: 42\n"
        "model: {name: custom, layers: 4, hidden: 512, heads: 8, head_dim: 64, ffn: 1376, "
        "params: 3.3e7, gated_mlp: false}\n"
        "workload: {requests: 123, rate: 0.1, arrival: gamma, cv: 2.5, max_prompt_tokens: 900}\n"
        "engine: {memory: paged, block_size: 32, watermark: 0.05, check: on}\n"
        "policy: {name: ssjf, aging_s: 1.25}\n"
        "predictor: {name: noisy, edges: [100, 200, 4000]}\n"
        "slo: {ttft_ms: 250}\n"
        "outputs: {requests_csv: false, timeline_rows: 17}\n"
        "sweep:\n  cluster.replicas: [2, 3]\n");
    struct cfg a;
    RESOLVE_OK(e, 1, &a);
    ASSERT_TRUE(!strcmp(a.description,
                        "quotes \" and \\ backslash, # not a comment: colon\nnew line\ttab"));
    ASSERT_TRUE(!strcmp(a.pred_edges, "100,200,4000"));
    char      *text = dump_text(&a);
    cfg_exp_t *e2 = LOAD_OK(text);
    ASSERT_EQ(cfg_n_runs(e2), 1);
    struct cfg b;
    RESOLVE_OK(e2, 0, &b);
    char *text2 = dump_text(&b);
    if (strcmp(text, text2))
        TEST_FAIL_("dump differs after a round trip:\n%s\n---\n%s", text, text2);
    ASSERT_TRUE(cfg_hash(&a) == cfg_hash(&b));
    ASSERT_TRUE(!strcmp(a.description, b.description));
    ASSERT_EQ(b.replicas, 3);
    ASSERT_EQ(b.m_gated, 0);
    ASSERT_EQ(b.out_timeline_rows, 17);
    /* The hash sees results-relevant settings only. */
    b.check = 0;
    b.queue = EVQ_HEAP;
    ASSERT_TRUE(cfg_hash(&a) == cfg_hash(&b));
    b.seed++;
    ASSERT_TRUE(cfg_hash(&a) != cfg_hash(&b));
    free(text);
    free(text2);
    cfg_free(e2);
    cfg_free(e);
}

/* ---- allocation failures ---- */

/* The value cfg_dump wrote for dotted `key` in text, into out; NULL when absent. cfg_dump writes
 * `group:` lines, `  key: value` under them and `key: value` at the top level. */
static const char *dumped_value(const char *text, const char *key, char *out, size_t n)
{
    char group[64] = "";
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        const char *colon = strchr(p, ':');
        int         nested = !strncmp(p, "  ", 2);
        if (!colon)
            return NULL;
        if (colon[1] == '\n') { /* a group line */
            snprintf(group, sizeof group, "%.*s", (int)(colon - p), p);
            continue;
        }
        char full[200];
        snprintf(full, sizeof full, "%s%s%.*s", nested ? group : "", nested ? "." : "",
                 (int)(colon - p - 2 * nested), p + 2 * nested);
        if (!strcmp(full, key)) {
            snprintf(out, n, "%.*s", (int)strcspn(colon + 2, "\n"), colon + 2);
            return out;
        }
    }
    return NULL;
}

TEST(every_choice_round_trips)
{
    char  *schema = NULL;
    size_t len = 0;
    FILE  *f = open_memstream(&schema, &len);
    cfg_schema_print(f, 0);
    fclose(f);
    int n_choice_keys = 0;
    for (const char *p = schema; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        char key[64], type[32], def[64] = "";
        if (*p == ' ' || sscanf(p, "%63s %31s %63s", key, type, def) < 2)
            continue; /* a value's help line */
        const struct sim_choice *set = cfg_choices_of(key);
        if (strcmp(type, "choice")) {
            ASSERT_TRUE(set == NULL);
            continue;
        }
        ASSERT_TRUE(set != NULL && set[0].name != NULL);
        n_choice_keys++;
        for (const struct sim_choice *c = set; c->name; c++) {
            ASSERT_TRUE(c->help && *c->help);
            for (const struct sim_choice *d = set; d < c; d++) /* name <-> value is one to one */
                ASSERT_TRUE(strcmp(d->name, c->name) && d->value != c->value);
            cfg_exp_t *e = LOAD_OK("name: x\nworkload: {requests: 5, path: t.csv, lengths_path: "
                                   "l.csv}\npredictor: {path: p.txt}\n");
            char       set_arg[128], got[64], want[64];
            snprintf(set_arg, sizeof set_arg, "%s=%s", key, c->name);
            struct sim_msg err = {{0}};
            int            rc = cfg_add_set(e, set_arg, &err);
            if (rc)
                TEST_FAIL_("--set %s: %s", set_arg, err.text);
            struct cfg cf;
            RESOLVE_OK(e, 0, &cf);
            char *text = dump_text(&cf);
            snprintf(want, sizeof want, "\"%s\"", c->name);
            /* Issue 13: engine.fast_forward is left out of manifests at its default, so that
             * manifests stay as they were before the key (cfg.c, dump_skips). */
            int skipped = !strcmp(key, "engine.fast_forward") && !strcmp(c->name, def);
            if (skipped ? dumped_value(text, key, got, sizeof got) != NULL
                        : !dumped_value(text, key, got, sizeof got) || strcmp(got, want))
                TEST_FAIL_("%s: dumped as %s", set_arg, dumped_value(text, key, got, sizeof got));
            free(text);
            cfg_free(e);
        }
        char bad[80], msg[400], names[200];
        snprintf(bad, sizeof bad, "%s=no-such-value", key);
        snprintf(msg, sizeof msg, "--set: %s: 'no-such-value' is not one of %s", key,
                 sim_choice_list(set, names, sizeof names));
        SET_FAILS(bad, msg);
    }
    free(schema);
    ASSERT_TRUE(n_choice_keys >= 12); /* router ... compat */
}

TEST(alloc_failure_walk)
{
    static const char yaml[] =
        "name: walk\nseed: 3\nworkload: {requests: 50, rate: 2}\n"
        "engine:\n  memory: paged\n  max_seq_len: 4096\npolicy: sjf\n"
        "predictor: {edges: [10, 20, 30]}\n"
        "runs:\n  - {name: a, engine.memory: max}\n  - name: b\n    workload: {rate: 3}\n"
        "sweep:\n  workload.rate: [1, 2, 3]\n  engine.batching: [continuous, dynamic]\n";
    uint64_t live = sim_alloc_stats().live;
    size_t   n_ok = 0, n_fail = 0;
    for (uint64_t n = 1; n < 100000; n++) {
        cfg_exp_t     *e = (cfg_exp_t *)1;
        struct sim_msg err = {{0}};
        struct cfg     c;
        sim_alloc_fail_after(n);
        int rc = cfg_load_string(yaml, "w.yaml", &e, &err);
        int loaded = rc == 0;
        if (!rc)
            rc = cfg_add_set(e, "workload.requests=60", &err);
        if (!rc)
            rc = cfg_add_set(e, "policy=fcfs", &err);
        for (size_t i = 0; !rc && i < cfg_n_runs(e); i++)
            rc = cfg_resolve(e, i, &c, &err);
        sim_alloc_fail_after(0);
        if (rc) {
            if (rc != SIM_ENOMEM)
                TEST_FAIL_("n=%llu: rc %d (%s), want SIM_ENOMEM", (unsigned long long)n, rc,
                           err.text);
            ASSERT_STR_CONTAINS(err.text, "out of memory");
            ASSERT_TRUE(loaded || e == NULL);
            n_fail++;
        } else {
            ASSERT_EQ(cfg_n_runs(e), 12);
            ASSERT_TRUE(!strcmp(c.run_name, "b_rate-3_batching-dynamic"));
            ASSERT_EQ(c.requests, 60);
            ASSERT_TRUE(named(sched_policy_choices, c.policy, "fcfs"));
            n_ok++;
        }
        if (loaded)
            cfg_free(e);
        if (sim_alloc_stats().live != live)
            TEST_FAIL_("n=%llu: %llu blocks leaked", (unsigned long long)n,
                       (unsigned long long)(sim_alloc_stats().live - live));
        if (!rc)
            break; /* n is past the last allocation: every one was walked */
    }
    printf("    %zu injected failures, then success\n", n_fail);
    ASSERT_EQ(n_ok, 1);
    ASSERT_TRUE(n_fail > 20);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lensim-test-cfg-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(unknown_keys);
    RUN(wrong_types);
    RUN(out_of_range);
    RUN(missing_required);
    RUN(name_is_a_directory_name);
    RUN(yaml_syntax);
    RUN(shapes);
    RUN(sweep_shapes);
    RUN(runs_shapes);
    RUN(set_errors);
    RUN(errors_through_files);
    RUN(defaults_applied);
    RUN(group_scalar_means_name);
    RUN(sweep_product_order_and_names);
    RUN(runs_times_sweep);
    RUN(set_wins);
    RUN(set_defines_a_sweep);
    RUN(place_msg);
    RUN(dump_round_trip);
    RUN(every_choice_round_trips);
    RUN(alloc_failure_walk);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd))
        return 1;
    return test_main_end();
}
