/*
 * test_exec.c: the executor seam (exec.h). A stub executor that records its calls and answers
 * with the model clock's figures must give the same run, file for file, as the model clock
 * itself; and on every iteration the sequences the batch lists must add up to the aggregates the
 * model clock prices (count, summed decode context, prefill tokens and their squares), each
 * sequence listed once and holding KV memory.
 * Cases: continuous batching with paged memory under recompute and swap preemption, predicted
 * reservations that overflow, static (dynamic) batching with aging by service estimates, on a
 * KV pool small enough that every preemption path runs.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cfg.h"
#include "exec.h"
#include "run.h"
#include "test.h"

static char tmpdir[256];

/* ---- the stub executor ---- */

enum { MAX_SEQS = 4096 };

struct stub {
    struct exec model;
    uint64_t    n_iter, n_recompute, n_swap, n_decode;
    uint64_t    n_listed;
    char        why[256]; /* first disagreement, or empty */
    /* One listing. */
    uint64_t ids[MAX_SEQS];
    uint32_t n, n_decode_seqs;
    double   ctx_sum, pf_tok, pf_sq;
    int      bad;
};

static void disagree(struct stub *s, const char *what)
{
    if (!s->why[0])
        snprintf(s->why, sizeof s->why, "iteration %llu: %s", (unsigned long long)s->n_iter, what);
}

static void visit(void *ctx, const struct exec_seq *q)
{
    struct stub *s = ctx;
    if (s->n == MAX_SEQS) {
        s->bad = 1;
        return;
    }
    s->ids[s->n++] = q->id;
    if (q->kv_blk == 0 || q->new_tok == 0 || q->ctx_tok == 0)
        s->bad = 1;
    if (q->kind == EXEC_SEQ_DECODE) {
        s->n_decode_seqs++;
        s->ctx_sum += q->ctx_tok;
        if (q->new_tok != 1)
            s->bad = 1;
    } else {
        s->pf_tok += q->new_tok;
        s->pf_sq += (double)q->new_tok * q->new_tok;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static simtime_t stub_iter_ns(void *self, const struct exec_batch *b)
{
    struct stub *s = self;
    s->n_iter++;
    s->n = s->n_decode_seqs = 0;
    s->ctx_sum = s->pf_tok = s->pf_sq = 0;
    s->bad = 0;
    exec_batch_list(b, visit, s);
    s->n_listed += s->n;
    qsort(s->ids, s->n, sizeof *s->ids, cmp_u64);
    for (uint32_t i = 1; i < s->n; i++)
        if (s->ids[i] == s->ids[i - 1])
            disagree(s, "a sequence listed twice");
    if (s->bad)
        disagree(s, "a sequence with no memory, no context or a multi-token decode");
    if (s->n != b->n_seqs)
        disagree(s, "listed count differs from n_seqs");
    if (s->n_decode_seqs != b->agg.decode_seqs)
        disagree(s, "decode count differs");
    if (s->ctx_sum != b->agg.decode_ctx)
        disagree(s, "summed decode context differs");
    if (s->pf_tok != b->agg.prefill_tok || s->pf_sq != b->agg.prefill_sq)
        disagree(s, "prefill tokens or squares differ");
    return s->model.ops->iter_ns(s->model.self, b);
}

static double stub_recompute_s(void *self, double tok)
{
    struct stub *s = self;
    s->n_recompute++;
    return s->model.ops->recompute_s(s->model.self, tok);
}

static double stub_swap_s(void *self, double tok)
{
    struct stub *s = self;
    s->n_swap++;
    return s->model.ops->swap_s(s->model.self, tok);
}

static double stub_decode_s(void *self, double ctx_tok)
{
    struct stub *s = self;
    s->n_decode++;
    return s->model.ops->decode_s(s->model.self, ctx_tok);
}

static const struct exec_ops stub_ops = {"stub", stub_iter_ns, stub_recompute_s, stub_swap_s,
                                         stub_decode_s};

/* ---- runs ---- */

static void build(const char *yaml, struct run *x, const char **sets)
{
    cfg_exp_t *e;
    struct sim_msg err = {{0}};
    if (cfg_load_string(yaml, "test.yaml", &e, &err))
        TEST_FAIL_("cfg_load_string: %s", err.text);
    for (; sets && *sets; sets++)
        if (cfg_add_set(e, *sets, &err))
            TEST_FAIL_("--set %s: %s", *sets, err.text);
    struct cfg c;
    if (cfg_resolve(e, 0, &c, &err))
        TEST_FAIL_("cfg_resolve: %s", err.text);
    if (run_build(&c, ".", "", x, &err))
        TEST_FAIL_("run_build: %s", err.text);
    cfg_free(e);
    x->serve.kv.capacity_tok = 40000; /* memory binds: preemption and overflow paths run */
}

static void run(struct run *x, const char *sub)
{
    struct sim_msg    err = {{0}};
    struct run_result res;
    char              dir[512];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, sub);
    if (run_exec(x, dir, NULL, NULL, &res, &err))
        TEST_FAIL_("run_exec: %s", err.text);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n)
        n = -1;
    fclose(f);
    if (n < 0) {
        free(b);
        return NULL;
    }
    *len = (size_t)n;
    return b;
}

static void same_files(const char *a, const char *b)
{
    static const char *files[] = {"requests.csv", "timeline.csv", "summary.json"};
    for (int i = 0; i < 3; i++) {
        char   pa[512], pb[512];
        size_t na, nb;
        snprintf(pa, sizeof pa, "%s/%s/%s", tmpdir, a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s/%s", tmpdir, b, files[i]);
        char *x = slurp(pa, &na), *y = slurp(pb, &nb);
        ASSERT_TRUE(x && y);
        if (na != nb || memcmp(x, y, na))
            TEST_FAIL_("%s differs between the model clock and the stub", files[i]);
        free(x);
        free(y);
    }
}

/* Run the case with the model clock, then with the stub; return the stub's record. */
static struct stub *model_vs_stub(const char *name, const char **sets)
{
    static const char yaml[] =
        "name: seam\nseed: 5\n"
        "workload: {requests: 800, rate: 40, max_prompt_tokens: 1500}\n"
        "engine: {max_seq_len: 2048, max_batch: 48, check: true}\n"
        "predictor: {name: noisy, sigma: 0.8}\n"
        "outputs: {timeline_rows: 100}\n";
    char model_dir[128], stub_dir[128];
    snprintf(model_dir, sizeof model_dir, "%s-model", name);
    snprintf(stub_dir, sizeof stub_dir, "%s-stub", name);
    struct run *x = sim_malloc(sizeof *x);
    build(yaml, x, sets);
    run(x, model_dir);
    build(yaml, x, sets);
    struct stub *s = sim_calloc(1, sizeof *s);
    s->model = exec_model(&x->cost);
    struct exec ex = {&stub_ops, s};
    x->serve.exec = &ex;
    run(x, stub_dir);
    sim_free(x);
    if (s->why[0])
        TEST_FAIL_("%s: %s", name, s->why);
    ASSERT_TRUE(s->n_iter > 0 && s->n_listed >= s->n_iter);
    same_files(model_dir, stub_dir);
    return s;
}

TEST(paged_recompute)
{
    const char *sets[] = {"engine.memory=paged", NULL};
    struct stub *s = model_vs_stub("paged-recompute", sets);
    ASSERT_TRUE(s->n_recompute > 0); /* memory pressure preempted someone */
    sim_free(s);
}

TEST(paged_swap)
{
    const char *sets[] = {"engine.memory=paged", "engine.preemption=swap", NULL};
    struct stub *s = model_vs_stub("paged-swap", sets);
    ASSERT_TRUE(s->n_swap > 0);
    sim_free(s);
}

TEST(predicted_overflow)
{
    const char *sets[] = {"engine.memory=predicted", "policy=s3", NULL};
    struct stub *s = model_vs_stub("predicted", sets);
    ASSERT_TRUE(s->n_recompute > 0); /* a reservation was outgrown */
    sim_free(s);
}

TEST(static_batches_with_aging)
{
    const char *sets[] = {"engine.batching=dynamic", "engine.max_wait_s=0.5", "policy=ssjf",
                          "policy.aging_factor=3", NULL};
    struct stub *s = model_vs_stub("static", sets);
    ASSERT_TRUE(s->n_decode > 0); /* aging asked for service estimates */
    sim_free(s);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lensim-test-exec-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(paged_recompute);
    RUN(paged_swap);
    RUN(predicted_overflow);
    RUN(static_batches_with_aging);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd))
        return 1;
    return test_main_end();
}
