/*
 * test_kern_graph.c: kern.c's handling of graph capture (issue 18, item 6), on the CPU device
 * with its graph operations replaced: a capture that fails must be counted with its reason
 * (kern_backend_info; the calibration writes it into the profile's warnings), the batch must
 * still run (direct launches), and the next prepare must try again; a capture that succeeds
 * must be launched instead of the direct path and give the same logits.
 */
#include "alloc.h"
#include "kern_internal.h"
#include "test.h"

static int n_capture, n_launch;

static int capture_fails(kern_backend_t *b, int (*fn)(kern_backend_t *), void **graph)
{
    (void)b;
    (void)fn;
    n_capture++;
    *graph = NULL;
    return SIM_ECUDA;
}

/* A "graph" that replays the captured enqueue function. */
static int (*captured)(kern_backend_t *);
static int capture_ok(kern_backend_t *b, int (*fn)(kern_backend_t *), void **graph)
{
    (void)b;
    n_capture++;
    captured = fn;
    *graph = (void *)&captured;
    return SIM_OK;
}
static int launch(kern_backend_t *b, void *graph)
{
    (void)graph;
    n_launch++;
    return captured(b);
}
static void drop(kern_backend_t *b, void *graph)
{
    (void)b;
    (void)graph;
}

static const struct kern_shape tiny = {2, 32, 4, 2, 8, 48, 64, 1};

static kern_backend_t *backend(const struct kern__dev *dev)
{
    struct kern_opts o = {.backend = "cpu",
                          .seed = 3,
                          .kv_layout = KERN_KV_PAGED,
                          .block_tok = 4,
                          .max_slots = 2,
                          .max_ctx = 32,
                          .max_batch_tok = 32,
                          .max_seqs = 2,
                          .max_prompt = 16};
    kern_backend_t  *b;
    struct sim_msg   err = {{0}};
    if (kern_backend_new(&tiny, &o, &b, &err))
        TEST_FAIL_("kern_backend_new: %s", err.text);
    b->dev = dev; /* the CPU device with graph operations */
    b->o.graphs = 1;
    return b;
}

static void step(kern_backend_t *b, uint32_t start, uint32_t n_new, float *logits)
{
    struct kern_seq   s = {.slot = 0, .start = start, .n_new = n_new};
    struct kern_batch batch = {1, &s};
    struct sim_msg    err = {{0}};
    if (kern_prepare(b, &batch, &err))
        TEST_FAIL_("kern_prepare: %s", err.text);
    ASSERT_EQ(kern_run(b), 0);
    ASSERT_EQ(kern_logits(b, logits, tiny.vocab), 0);
}

TEST(failed_capture_is_counted_and_the_batch_runs_directly)
{
    struct kern__dev fail = kern__dev_cpu;
    fail.graph_capture = capture_fails;
    fail.graph_launch = launch;
    fail.graph_drop = drop;
    kern_backend_t *b = backend(&fail), *ref = backend(&kern__dev_cpu);
    ref->o.graphs = 0;
    float l[64], r[64];
    n_capture = n_launch = 0;
    step(b, 0, 8, l);
    step(ref, 0, 8, r);
    for (int i = 0; i < 64; i++)
        ASSERT_TRUE(l[i] == r[i]);
    step(b, 8, 1, l); /* tried again, not switched off for good */
    step(ref, 8, 1, r);
    for (int i = 0; i < 64; i++)
        ASSERT_TRUE(l[i] == r[i]);
    ASSERT_EQ(n_capture, 2);
    ASSERT_EQ(n_launch, 0);
    struct kern_info ki;
    kern_backend_info(b, &ki);
    ASSERT_EQ(ki.graph_failures, 2);
    ASSERT_EQ(ki.graph_captures, 0);
    ASSERT_STR_CONTAINS(ki.graph_why, sim_strerror(SIM_ECUDA));
    kern_backend_free(b);
    kern_backend_free(ref);
}

TEST(captured_graph_is_launched_and_matches_direct)
{
    struct kern__dev ok = kern__dev_cpu;
    ok.graph_capture = capture_ok;
    ok.graph_launch = launch;
    ok.graph_drop = drop;
    kern_backend_t *b = backend(&ok), *ref = backend(&kern__dev_cpu);
    ref->o.graphs = 0;
    float l[64], r[64];
    n_capture = n_launch = 0;
    step(b, 0, 5, l);
    step(ref, 0, 5, r);
    for (int i = 0; i < 64; i++)
        ASSERT_TRUE(l[i] == r[i]);
    ASSERT_EQ(n_capture, 1);
    ASSERT_EQ(n_launch, 1);
    struct kern_info ki;
    kern_backend_info(b, &ki);
    ASSERT_EQ(ki.graph_failures, 0);
    ASSERT_EQ(ki.graph_captures, 1);
    ASSERT_EQ(ki.graph_why[0], 0);
    kern_backend_free(b);
    kern_backend_free(ref);
}

int main(void)
{
    RUN(failed_capture_is_counted_and_the_batch_runs_directly);
    RUN(captured_graph_is_launched_and_matches_direct);
    if (sim_alloc_stats().live != 0) {
        printf("FAIL leak: %llu blocks live\n", (unsigned long long)sim_alloc_stats().live);
        return 1;
    }
    return test_main_end();
}
