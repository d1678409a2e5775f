/*
 * test_profile.c: perf profile files (calib/PROFILE.md).
 *
 * - a profile round-trips through YAML exactly (every double, +inf, quoting of odd strings);
 * - malformed profiles are SIM_ECONFIG with "file:line" pointing at the offending line: YAML
 *   syntax, unknown and duplicate keys, bad numbers, pieces out of order, a bounded last piece,
 *   missing required keys, a latency that goes negative;
 * - a missing file is SIM_ENOENT; the free-form info section is skipped;
 * - an allocation-failure walk: every failing allocation gives SIM_ENOMEM and leaks nothing;
 * - SHA-256 matches the FIPS 180-4 test vectors.
 */
#include <math.h>
#include <unistd.h>

#include "alloc.h"
#include "analytic.h"
#include "presets.h"
#include "profile.h"
#include "sha256.h"
#include "test.h"

static char dir[256];

static const char *path_of(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static const char *write_file(const char *name, const char *text)
{
    const char *p = path_of(name);
    FILE       *f = fopen(p, "w");
    ASSERT_TRUE(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static struct cal_profile sample(void)
{
    struct cal_profile p;
    memset(&p, 0, sizeof p);
    snprintf(p.model, sizeof p.model, "llama-2-7b");
    snprintf(p.source, sizeof p.source, "measured");
    snprintf(p.backend, sizeof p.backend, "cuda");
    snprintf(p.device, sizeof p.device, "NVIDIA \"H200\" \\ odd: name # not a comment");
    snprintf(p.driver, sizeof p.driver, "580.159.04");
    snprintf(p.cuda, sizeof p.cuda, "13.0");
    snprintf(p.date, sizeof p.date, "2026-11-20");
    p.tp = 2;
    p.n_pieces = 3;
    double c[3][5] = {{1.0 / 3, 1e-5, 2.5e-9, 1e-5, 0},
                      {0.1 + 0.2, 3e-5, 2.5e-9, 3.3e-5, 1.2e-10},
                      {-1e-3, 5e-5, 2.6e-9, 5e-5, 1.1e-10}};
    double mt[3] = {16, 200.5, INFINITY};
    for (int k = 0; k < 3; k++) {
        p.piece[k].max_tokens = mt[k];
        memcpy(p.piece[k].coef, c[k], sizeof c[k]);
    }
    p.kv_bytes_per_token = 524288;
    p.kv_capacity_bytes = 1.1e11 + 0.123;
    p.weight_bytes = 13476000000.0;
    p.predictor_cost_s = 1.234567890123e-5;
    p.mape_heldout = 2.5;
    p.maxerr_heldout = 9.75;
    snprintf(p.raw_csv, sizeof p.raw_csv, "llama.csv");
    snprintf(p.raw_sha256, sizeof p.raw_sha256,
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    return p;
}

TEST(round_trip_is_exact)
{
    struct cal_profile p = sample(), q;
    struct sim_msg     err = {{0}};
    const char        *path = path_of("rt.yaml");
    ASSERT_EQ(cal_profile_save_info(path, &p, "  grid: {points: 3}\n  anything: [1, 2]\n", &err),
              0);
    int rc = cal_profile_load(path, &q, &err);
    if (rc)
        TEST_FAIL_("load: %s", err.text);
    ASSERT_TRUE(memcmp(&p, &q, sizeof p) == 0);
    struct cal_batch b = {10, 5000, 300, 90000, 0};
    ASSERT_NEAR(cal_profile_latency(&q, &b), cal_profile_latency(&p, &b), 0);
    ASSERT_EQ(cal_profile_save(path, &q, &err), 0); /* overwrite in place */
    ASSERT_EQ(cal_profile_load(path, &q, &err), 0);
    ASSERT_TRUE(memcmp(&p, &q, sizeof p) == 0);
}

static const char *good = "format: lensim-profile/1\n"   /* 1 */
                          "model: tiny\n"                /* 2 */
                          "backend: cpu\n"               /* 3 */
                          "tp: 1\n"                      /* 4 */
                          "latency:\n"                   /* 5 */
                          "  pieces:\n"                  /* 6 */
                          "    - max_tokens: 16\n"       /* 7 */
                          "      const: 1e-3\n"          /* 8 */
                          "      decode_seqs: 1e-5\n"    /* 9 */
                          "    - max_tokens: .inf\n"     /* 10 */
                          "      const: 2e-3\n"          /* 11 */
                          "      prefill_tok: 1e-4\n"    /* 12 */
                          "memory:\n"                    /* 13 */
                          "  kv_bytes_per_token: 8192\n" /* 14 */
                          "  kv_capacity_bytes: 1e9\n";  /* 15 */

/* Replace line `line` (1-based) of good with `repl` (may hold several lines, or ""). */
static const char *edit(int line, const char *repl)
{
    static char out[2048];
    const char *s = good;
    size_t      k = 0;
    for (int l = 1; *s; l++) {
        const char *e = strchr(s, '\n');
        size_t      n = (size_t)(e - s) + 1;
        if (l == line)
            k += (size_t)snprintf(out + k, sizeof out - k, "%s", repl);
        else
            k += (size_t)snprintf(out + k, sizeof out - k, "%.*s", (int)n, s);
        s += n;
    }
    return out;
}

static void expect_error(const char *text, int code, const char *where, const char *what)
{
    const char        *p = write_file("bad.yaml", text);
    struct cal_profile q;
    struct sim_msg     err = {{0}};
    int                rc = cal_profile_load(p, &q, &err);
    if (rc != code)
        TEST_FAIL_("expected %d, got %d (%s) for:\n%s", code, rc, err.text, text);
    char loc[600];
    snprintf(loc, sizeof loc, "%s%s", p, where);
    ASSERT_STR_CONTAINS(err.text, loc);
    ASSERT_STR_CONTAINS(err.text, what);
}

TEST(malformed_profiles_give_file_line_errors)
{
    struct cal_profile q;
    struct sim_msg     err = {{0}};
    ASSERT_EQ(cal_profile_load(write_file("good.yaml", good), &q, &err), 0);
    ASSERT_EQ(q.n_pieces, 2);
    ASSERT_TRUE(isinf(q.piece[1].max_tokens));

    expect_error(edit(8, "      const: [1e-3\n"), SIM_ECONFIG, ":", ""); /* YAML syntax */
    expect_error(edit(9, "      decode_sqs: 1e-5\n"), SIM_ECONFIG, ":9:", "unknown key");
    expect_error(edit(9, "      const: 1e-5\n"), SIM_ECONFIG, ":9:", "duplicate");
    expect_error(edit(14, "  kv_bytes_per_token: lots\n"), SIM_ECONFIG, ":14:", "not a finite");
    expect_error(edit(14, "  kv_bytes_per_token: 0\n"), SIM_ECONFIG, ":14:", "positive");
    expect_error(edit(4, "tp: 1.5\n"), SIM_ECONFIG, ":4:", "integer");
    expect_error(edit(1, "format: lensim-profile/9\n"), SIM_ECONFIG, ":1:", "lensim-profile/1");
    expect_error(edit(10, "    - max_tokens: 8\n"), SIM_ECONFIG, ":10:", "increasing");
    expect_error(edit(10, "    - max_tokens: 64\n"), SIM_ECONFIG, ":10:", "unbounded");
    expect_error(edit(7, "    - max_tokens: .inf\n"), SIM_ECONFIG, ":7:", "only the last");
    expect_error(edit(15, ""), SIM_ECONFIG, ":", "kv_capacity_bytes");
    /* KV sizes become integer token counts: infinite or absurd ones are refused, by key and
     * value, before anything converts them. */
    expect_error(edit(15, "  kv_capacity_bytes: .inf\n"), SIM_ECONFIG,
                 ":15:", "kv_capacity_bytes: inf is out of range (0, 1e+18] bytes");
    expect_error(edit(15, "  kv_capacity_bytes: 1e300\n"), SIM_ECONFIG,
                 ":15:", "kv_capacity_bytes: 1e+300 is out of range (0, 1e+18] bytes");
    expect_error(edit(14, "  kv_bytes_per_token: 1e-300\n"), SIM_ECONFIG,
                 ":14:", "kv_bytes_per_token: 1e-300 is out of range [1, 1e+12] bytes");
    expect_error(edit(14, "  kv_bytes_per_token: .inf\n"), SIM_ECONFIG,
                 ":14:", "kv_bytes_per_token: inf is out of range [1, 1e+12] bytes");
    expect_error(edit(11, "      const: -2e-3\n"), SIM_ECONFIG, "", "not positive");
    expect_error(edit(4, "tp: 1\npredictor: [1]\n"), SIM_ECONFIG, ":5:", "mapping");
    expect_error(edit(2, "model: {a: 1}\n"), SIM_ECONFIG, ":2:", "string");
    expect_error("", SIM_ECONFIG, ":1:", "empty");
    ASSERT_EQ(cal_profile_load(path_of("nonexistent.yaml"), &q, &err), SIM_ENOENT);
    ASSERT_STR_CONTAINS(err.text, "nonexistent.yaml");
}

TEST(allocation_failure_walk)
{
    const char        *p = write_file("walk.yaml", good);
    struct cal_profile q;
    struct sim_msg     err = {{0}};
    int                ok = 0, n_fail = 0;
    for (uint64_t n = 1; n < 64 && !ok; n++) {
        struct sim_alloc_stats before = sim_alloc_stats();
        sim_alloc_fail_after(n);
        int rc = cal_profile_load(p, &q, &err);
        sim_alloc_fail_after(0);
        ASSERT_EQ(sim_alloc_stats().live, before.live);
        if (rc == 0)
            ok = 1;
        else {
            ASSERT_EQ(rc, SIM_ENOMEM);
            n_fail++;
        }
    }
    ASSERT_TRUE(ok && n_fail >= 1);
    struct cal_profile s = sample();
    sim_alloc_fail_after(1);
    ASSERT_EQ(cal_profile_save(path_of("nomem.yaml"), &s, &err), SIM_ENOMEM);
    sim_alloc_fail_after(0);
    ASSERT_TRUE(access(path_of("nomem.yaml"), F_OK) != 0);
}

TEST(save_to_a_missing_folder_fails_cleanly)
{
    struct cal_profile s = sample();
    struct sim_msg     err = {{0}};
    ASSERT_EQ(cal_profile_save(path_of("no/such/dir/p.yaml"), &s, &err), SIM_EIO);
    ASSERT_STR_CONTAINS(err.text, "p.yaml");
}

TEST(sha256_vectors)
{
    struct cal_sha256 s;
    char              hex[65];
    cal_sha256_init(&s);
    cal_sha256_update(&s, "abc", 3);
    cal_sha256_final(&s, hex);
    ASSERT_STR_CONTAINS(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cal_sha256_init(&s);
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    for (const char *c = m; *c; c++) /* byte at a time: exercises the block buffer */
        cal_sha256_update(&s, c, 1);
    cal_sha256_final(&s, hex);
    ASSERT_STR_CONTAINS(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *p = write_file("empty.txt", "");
    ASSERT_EQ(cal_sha256_file(p, hex), 0);
    ASSERT_STR_CONTAINS(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* A file of odd length over two read buffers (16 KiB): bytes (7 i + 3) mod 256 for
     * i < 40,001. Its digest from Python's hashlib (equal to sha256sum's):
     * hashlib.sha256(bytes((i * 7 + 3) % 256 for i in range(40001))).hexdigest(). */
    const char *big = path_of("odd.bin");
    FILE       *f = fopen(big, "wb");
    ASSERT_TRUE(f != NULL);
    for (int i = 0; i < 40001; i++)
        fputc((i * 7 + 3) % 256, f);
    ASSERT_EQ(fclose(f), 0);
    ASSERT_EQ(cal_sha256_file(big, hex), 0);
    ASSERT_STR_CONTAINS(hex, "22a21fb719616b47b8e12972a9fcbb690c7268df33eb66bb132f96146f5eacdc");
}

/* Driver device names map to their presets; names of other devices map to none. */
TEST(gpu_presets_match_driver_names)
{
    static const struct {
        const char *device, *preset;
    } cases[] = {
        {"NVIDIA H100 80GB HBM3", "h100-80gb"},
        {"NVIDIA A100-SXM4-40GB", "a100-40gb"},
        {"NVIDIA A100-SXM4-80GB", "a100-80gb"},
        {"NVIDIA A100 80GB PCIe", "a100-80gb"},
        {"NVIDIA H200", "h200"},
        {"Tesla V100-SXM2-16GB", NULL},
        {"Intel(R) Xeon(R) CPU", NULL},
        {"", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct cal_gpu *g = cal_gpu_find_device(cases[i].device);
        if (cases[i].preset ? !g || strcmp(g->name, cases[i].preset) : g != NULL)
            TEST_FAIL_("'%s' -> %s, want %s", cases[i].device, g ? g->name : "none",
                       cases[i].preset ? cases[i].preset : "none");
    }
    for (const struct cal_gpu *g = cal_gpus; g->name; g++) /* every preset's own name */
        ASSERT_TRUE(cal_gpu_find_device(g->name) == g);
}

/* Two ring all-reduces per layer: nothing at tp 1, and otherwise the linearised fitted cost
 * (issue 10: latency and NVLink efficiency fitted to Vidur's A100 NCCL timings, plus the host's
 * NCCL launch), the same for the analytic profile and for calibration. */
TEST(allreduce_cost)
{
    const struct cal_model *m = cal_model_find("llama-2-7b");
    ASSERT_TRUE(m != NULL);
    struct cal_allreduce one = cal_allreduce_cost(m, 1, 2, 300e9);
    ASSERT_TRUE(one.const_s == 0 && one.per_tok_s == 0);
    const struct cal_eff *f = &cal_eff_a100;
    for (uint32_t tp = 2; tp <= 8; tp *= 2) {
        struct cal_allreduce ar = cal_allreduce_cost(m, tp, 2, 300e9);
        double bytes = 2.0 * (tp - 1) / tp * 4096 * 2; /* one ring all-reduce of a token */
        ASSERT_NEAR(ar.per_tok_s, 2 * 32 * bytes / (300e9 * f->ar_bw_eff), 1e-18);
        ASSERT_NEAR(ar.const_s, 2 * 32 * (f->ar_alpha_s + CAL_NCCL_LAUNCH_S), 1e-15);
    }
    /* The analytic model's all-reduce: nothing at tp 1; at tp 2 the latency for small messages
     * and the ring's transfer for large ones. */
    const struct cal_gpu *g = cal_gpu_find("a100-80gb");
    ASSERT_TRUE(cal_allreduce_s(f, g, 1, 1e6) == 0);
    ASSERT_NEAR(cal_allreduce_s(f, g, 2, 16) / f->ar_alpha_s, 1, 1e-6);
    ASSERT_NEAR(cal_allreduce_s(f, g, 2, 1e10) / (1e10 / (g->link_bw * f->ar_bw_eff)), 1, 1e-3);
}

/* Latency must be positive over every batch a run can reach, not only at a few probes: a
 * coefficient that makes it fall with context, or with the square of a long prompt, is refused
 * (issue 15, defect 4); so is a coefficient that is not finite. */
TEST(latency_must_be_positive_over_the_whole_domain)
{
    /* Piece 2 (17 tokens and more) of `good`, with one term changed. */
    expect_error(edit(12, "      prefill_tok: 1e-4\n      decode_seqs: 1e-5\n"
                          "      decode_ctx: -2e-6\n"),
                 SIM_ECONFIG, "", "decode_ctx");
    expect_error(edit(12, "      prefill_tok: 1e-4\n      prefill_sq: -1e-9\n"), SIM_ECONFIG, "",
                 "prefill_sq");
    expect_error(edit(12, "      prefill_tok: 1e-4\n      decode_seqs: -1e-3\n"), SIM_ECONFIG, "",
                 "not positive");
    expect_error(edit(11, "      const: .inf\n"), SIM_ECONFIG, "", "not finite");
    /* Many one-token prompts in the first piece: 1e-3 - 16 x 1e-4 < 0, though one 16-token
     * prompt (the old probe) takes 1e-3 - 1.6e-3 + 256 x 1e-5 > 0. */
    expect_error(edit(9, "      prefill_tok: -1e-4\n      prefill_sq: 1e-5\n"), SIM_ECONFIG, "",
                 "not positive");
    /* A negative term a bounded piece never lets below zero is fine: in piece 1 (at most 16
     * tokens) 1e-3 - 16^2 x 1e-6 > 0. */
    struct cal_profile q;
    struct sim_msg     err = {{0}};
    const char        *ok = write_file("ok.yaml", edit(9, "      prefill_tok: 1e-5\n"
                                                                 "      prefill_sq: -1e-6\n"));
    if (cal_profile_load(ok, &q, &err))
        TEST_FAIL_("%s", err.text);
    /* Every analytic profile passes. */
    for (const struct cal_model *m = cal_models; m->name; m++)
        for (const struct cal_gpu *g = cal_gpus; g->name; g++) {
            struct cal_profile a;
            if (cal_analytic_profile(m, g, 1, 0.9, &a, &err))
                continue; /* the model does not fit on the GPU */
            const char *p = path_of("analytic.yaml");
            ASSERT_EQ(cal_profile_save(p, &a, &err), 0);
            if (cal_profile_load(p, &q, &err))
                TEST_FAIL_("%s on %s: %s", m->name, g->name, err.text);
        }
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/lensim_test_profile_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(round_trip_is_exact);
    RUN(malformed_profiles_give_file_line_errors);
    RUN(allocation_failure_walk);
    RUN(save_to_a_missing_folder_fails_cleanly);
    RUN(sha256_vectors);
    RUN(gpu_presets_match_driver_names);
    RUN(allreduce_cost);
    RUN(latency_must_be_positive_over_the_whole_domain);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("could not remove %s\n", dir);
    return test_main_end();
}
