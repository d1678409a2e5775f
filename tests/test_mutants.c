/*
 * test_mutants.c: what surviving mutants of the seed-23 mutation sample (tests/mutation/,
 * issue 17) showed that no test watched. Each test asserts a value derived by hand in the
 * comment above it, not a snapshot of lensim's output.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "analytic.h"
#include "calib.h"
#include "cfg.h"
#include "kv.h"
#include "met.h"
#include "pred.h"
#include "profile.h"
#include "run.h"
#include "table.h"
#include "test.h"
#include "trace.h"

static char tmpdir[256];

/*
 * The prefix cache's hash table (sim/kv.c: open addressing, linear probing) must find every key
 * it holds, whatever their slots collide on. A pool of 1,024 blocks of 16 tokens (n_slot 2,048)
 * with prefix caching; request A has a 4,096-token prompt over 8 Mooncake hash ids (512 tokens
 * each): keyable = min(4096 / 16, 8 x 512 / 16) = 256 blocks. Admitted with 256 fresh blocks,
 * registered, released: its 256 keyed blocks go to the free list and keep their keys.
 *   - B, the same 8 hash ids: vLLM takes at most num_tokens - 1 tokens from the cache, so
 *     hits = min(256, (4096 - 1) / 16 = 255) = 255, all on blocks no request holds:
 *     evictable = 255.
 *   - C, the first 3 hash ids equal and 5 others: the chain of keys is A's up to block
 *     3 x 512 / 16 = 96, then differs: hits = 96.
 *   - D, a first hash id of its own: every key of its chain differs: hits = 0.
 * 256 keys in 2,048 slots collide (birthday: about 256^2 / (2 x 2048) = 16 pairs expected), so
 * a table that stores a key off the probe sequence its lookup walks loses some of them.
 */
static void prefix_req(struct req *r, uint64_t off)
{
    memset(r, 0, sizeof *r);
    r->prompt_tok = 4096;
    r->output_tok = 8;
    r->hash_off = off;
    r->n_hash = 8;
}

TEST(prefix_cache_finds_every_key_it_holds)
{
    struct kv_cfg  cfg = {.policy = KV_PAGED,
                          .capacity_tok = 1024 * 16,
                          .block_tok = 16,
                          .watermark = 0,
                          .max_seq_len = 8192,
                          .prefix_caching = 1,
                          .src_block_tok = 512};
    kv_t          *kv;
    struct sim_msg err = {{0}};
    ASSERT_EQ(kv_new(&cfg, &kv, &err), 0);
    /* Hash ids: A and B 1..8; C 1, 2, 3, 104..108; D 201..208. */
    int64_t          ids[32];
    struct kv_hashes h = {ids, 32, 32};
    for (int i = 0; i < 8; i++) {
        ids[i] = ids[8 + i] = 1 + i;
        ids[16 + i] = i < 3 ? 1 + i : 101 + i;
        ids[24 + i] = 201 + i;
    }
    kv_set_hashes(kv, &h);

    struct req a, b, c, d;
    prefix_req(&a, 0);
    prefix_req(&b, 8);
    prefix_req(&c, 16);
    prefix_req(&d, 24);
    uint32_t ev;
    ASSERT_EQ(kv_prefix_hits(kv, &a, &ev), 0);
    ASSERT_EQ(kv_prefix_admit(kv, &a, 0, 256), 0);
    kv_prefix_register(kv, &a, 4096);
    kv_release(kv, &a);

    ASSERT_EQ(kv_prefix_hits(kv, &b, &ev), 255);
    ASSERT_EQ(ev, 255);
    ASSERT_EQ(kv_prefix_hits(kv, &c, &ev), 96);
    ASSERT_EQ(ev, 96);
    ASSERT_EQ(kv_prefix_hits(kv, &d, &ev), 0);
    kv_free(kv);
}

/*
 * JSON strings in a Mooncake trace (RFC 8259, section 7): \u takes exactly four hex digits.
 * Each line below is a valid row but for one string; the parser must refuse it (the trace's
 * other rows are read, so the first row is accepted and the second refused).
 */
TEST(mooncake_u_escape_needs_four_hex_digits)
{
    /* "\\u123" then a space: only the fourth digit is missing (a loop that read three digits
     * would accept it). */
    static const char *bad[] = {"\\u00g0", "\\u12", "\\uZZZZ", "\\u123"};
    for (int i = 0; i < 4; i++) {
        char path[400], text[400];
        snprintf(path, sizeof path, "%s/u%d.jsonl", tmpdir, i);
        snprintf(text, sizeof text,
                 "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 3}\n"
                 "{\"timestamp\": 1, \"input_length\": 5, \"output_length\": 3, "
                 "\"note\": \"a %s b\"}\n",
                 bad[i]);
        FILE *f = fopen(path, "w");
        ASSERT_TRUE(f);
        fputs(text, f);
        fclose(f);
        struct trace_opts o;
        trace_opts_default(&o);
        o.format = TRACE_FMT_MOONCAKE;
        o.path = path;
        trace_t         *t;
        struct sim_msg   err = {{0}};
        struct trace_req r;
        ASSERT_EQ(trace_open(&o, &t, &err), 0);
        ASSERT_EQ(trace_next(t, &r, &err), 1);
        ASSERT_EQ(trace_next(t, &r, &err), SIM_EINPUT);
        ASSERT_STR_CONTAINS(err.text, "bad \\u escape");
        trace_close(t);
    }
}

/*
 * A replayed trace keeps its own arrival times, so workload.rate is refused for every format
 * that has them (sim/run.c, issue 12): Azure, Mooncake, CSV, Vidur; only a lengths-only trace
 * (no arrivals) takes one. Formats in enum order: azure 1, mooncake 2, lengths 3, csv 4.
 */
TEST(rate_refused_for_every_trace_with_arrivals)
{
    static const struct {
        const char *source, *file, *text;
        int         refused;
    } cases[] = {
        {"azure", "a.csv",
         "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,"
         "10,5\n",
         1},
        {"mooncake", "m.jsonl", "{\"timestamp\": 0, \"input_length\": 5, \"output_length\": 3}\n",
         1},
        {"csv", "c.csv", "arrival_s,prompt_tokens,output_tokens\n0,5,3\n", 1},
        {"lengths", "l.csv",
         "num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio\n5,3,8,1.67\n", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[400], yaml[1024];
        snprintf(path, sizeof path, "%s/%s", tmpdir, cases[i].file);
        FILE *f = fopen(path, "w");
        ASSERT_TRUE(f);
        fputs(cases[i].text, f);
        fclose(f);
        snprintf(yaml, sizeof yaml,
                 "name: rate\nseed: 1\nworkload: {source: %s, path: %s, rate: 2}\n"
                 "engine: {max_seq_len: 128}\n",
                 cases[i].source, path);
        cfg_exp_t     *e;
        struct sim_msg err = {{0}};
        if (cfg_load_string(yaml, "test.yaml", &e, &err))
            TEST_FAIL_("cfg_load_string: %s\n%s", err.text, yaml);
        struct cfg  c;
        struct run *x = sim_malloc(sizeof *x);
        ASSERT_TRUE(x);
        int rc = cfg_resolve(e, 0, &c, &err);
        ASSERT_EQ(rc, 0);
        rc = run_build(&c, ".", "", x, &err);
        cfg_free(e);
        if (cases[i].refused) {
            ASSERT_EQ(rc, SIM_ECONFIG);
            char want[200];
            snprintf(want, sizeof want, "workload.rate: a %s trace replays its own arrival times",
                     cases[i].source);
            ASSERT_STR_CONTAINS(err.text, want);
        } else {
            if (rc)
                TEST_FAIL_("%s: %s", cases[i].source, err.text);
        }
        run_fini(x);
        sim_free(x);
    }
}

/*
 * The experiment reader refuses YAML nested deeper than 16 levels below the document's root
 * (sim/cfg.c parse_node: the root node is depth 0, a node deeper than 16 is refused at its own
 * position). "x: " then k '[' then "1": the root mapping is depth 0, the k sequences depths
 * 1..k, the scalar depth k + 1. k = 15: the scalar is at depth 16, accepted by the reader (the
 * key x is then unknown); k = 16: depth 17, refused at the scalar, line 1, column
 * 3 + 16 + 1 = 20.
 */
TEST(yaml_nesting_limit_is_sixteen_below_the_root)
{
    for (int k = 15; k <= 16; k++) {
        char yaml[128];
        int  n = snprintf(yaml, sizeof yaml, "x: ");
        for (int i = 0; i < k; i++)
            yaml[n++] = '[';
        yaml[n++] = '1';
        for (int i = 0; i < k; i++)
            yaml[n++] = ']';
        yaml[n++] = '\n';
        yaml[n] = 0;
        cfg_exp_t     *e = NULL;
        struct sim_msg err = {{0}};
        int            rc = cfg_load_string(yaml, "test.yaml", &e, &err);
        if (k == 15) {
            ASSERT_TRUE(strstr(err.text, "nested too deeply") == NULL);
        } else {
            ASSERT_EQ(rc, SIM_ECONFIG);
            ASSERT_STR_CONTAINS(err.text, "test.yaml:1:20: nested too deeply");
        }
        if (!rc)
            cfg_free(e);
    }
}

/*
 * calibrate refuses -o and --csv naming one file before any work (calib/calib.c same_file): when
 * neither exists yet, "D/p.yaml" and "D/./p.yaml" are the same last part in the same directory.
 * (Were it missed, planning would go on and refuse the grid below as too small: another error.)
 */
TEST(calibrate_refuses_csv_spelled_differently_over_the_profile)
{
    char out[400], csv[400];
    snprintf(out, sizeof out, "%s/p.yaml", tmpdir);
    snprintf(csv, sizeof csv, "%s/./p.yaml", tmpdir);
    struct cal_calibrate_opts o;
    cal_calibrate_opts_default(&o);
    o.model = "tiny";
    o.out = out;
    o.csv = csv;
    o.grid = "quick";
    o.points = 8;
    o.max_seqs = 4;
    o.max_ctx = 64;
    o.max_prompt = 16;
    o.max_batch_tok = 64;
    struct sim_msg err = {{0}};
    sim_log_quiet(1);
    ASSERT_EQ(cal_calibrate(&o, NULL, &err), SIM_ECONFIG);
    char want[600];
    snprintf(want, sizeof want,
             "-o and --csv name the same file, %s: the profile would overwrite the measurements "
             "it is fitted to",
             csv);
    ASSERT_STR_CONTAINS(err.text, want);
}

/*
 * calibrate's weight bytes for a model without a gated MLP (two FFN matrices, not three):
 * opt-66b (64 layers, hidden 9216, 72 heads of 128, ffn 36864, vocab 50272), fp32 on the CPU:
 *   qkv = (72 + 2 x 72) x 128 = 27,648;
 *   per layer = 2 x 9216 (norms) + 27,648 x 9216 (QKV) + 9216 x 72 x 128 (out)
 *               + 2 x 36864 x 9216 (FFN) = 1,019,234,304;
 *   bytes = 4 x (64 x 1,019,234,304 + 2 x 50272 x 9216 + 9216) = 264,630,472,704 = 264.63 GB
 * (three FFN matrices would give 353.2 GB, one 177.66 GB). At mem_util 0.01 no host has room for
 * them, and the refusal prints that figure.
 */
TEST(calibrate_weight_bytes_of_an_ungated_model)
{
    char out[400];
    snprintf(out, sizeof out, "%s/opt.yaml", tmpdir);
    struct cal_calibrate_opts o;
    cal_calibrate_opts_default(&o);
    o.model = "opt-66b";
    o.out = out;
    o.mem_util = 0.01;
    struct sim_msg err = {{0}};
    sim_log_quiet(1);
    ASSERT_EQ(cal_calibrate(&o, NULL, &err), SIM_ECONFIG);
    ASSERT_STR_CONTAINS(err.text, "opt-66b weights (264.63 GB) leave no memory on the device");
}

/*
 * calibrate refuses a contiguous KV cache that cannot fit (calib/calib.c): max_seqs contexts of
 * max_ctx tokens, each token 2 x 4 layers x 4 heads x 64 x 4 bytes = 8,192 bytes for tiny on
 * the CPU. 4096 x 2048 x 8,192 bytes = 68.7 GB. mem_util is set from /proc/meminfo so that
 * the room left after what the host uses and tiny's 19 MB of weights is about 4 GB: above 0
 * (so the weights are not what is refused), far below 68.7 GB.
 */
static double meminfo_kb(const char *key)
{
    FILE  *f = fopen("/proc/meminfo", "r");
    char   line[256];
    double v = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':')
            v = atof(line + n + 1);
    if (f)
        fclose(f);
    return v;
}

TEST(calibrate_refuses_a_contiguous_cache_that_does_not_fit)
{
    char out[400];
    snprintf(out, sizeof out, "%s/c.yaml", tmpdir);
    struct cal_calibrate_opts o;
    cal_calibrate_opts_default(&o);
    o.model = "tiny";
    o.out = out;
    o.layout = KERN_KV_CONTIGUOUS;
    o.max_seqs = 4096;
    o.max_ctx = 2048;
    double total = meminfo_kb("MemTotal") * 1024, avail = meminfo_kb("MemAvailable") * 1024;
    if (!(total > 0 && avail > 8e9)) {
        printf("skip calibrate_refuses_a_contiguous_cache_that_does_not_fit: under 8 GB free\n");
        return;
    }
    o.mem_util = (total - avail + 4e9) / total;
    struct sim_msg err = {{0}};
    sim_log_quiet(1);
    ASSERT_EQ(cal_calibrate(&o, NULL, &err), SIM_ECONFIG);
    ASSERT_STR_CONTAINS(err.text, "a contiguous cache of 4096 x 2048 tokens does not fit");
}

/*
 * A table profile at tensor parallelism 1 has no all-reduce (calib/table.c; Vidur adds the
 * all-reduce and NCCL's overheads only for TP > 1). test_table's small table, but tp 1, with an
 * all_reduce table (0.5 ms) and nccl_launch_ms 0.02 that must go unused. One chunk of 8 prompt
 * tokens: per layer pre 1 + post 1 + rope 1 + save 0 + prefill (0, 8) 4 + norm 1, + up 1 + down 1
 * + act 1 + post norm 1, + add 1 = 13 ms; 2 layers: 26 ms (at TP 2: 2 x 0.52 ms more per layer,
 * 28.08 ms, as test_table checks).
 */
TEST(table_at_tp1_has_no_all_reduce)
{
    static const char text[] = "format: lensim-table/1\n"
                               "model: tiny\n"
                               "shape: 2 256 4 4 64 1024\n"
                               "tp: 1\n"
                               "layers: 2\n"
                               "tokens_max: 16\n"
                               "token_round: 8\n"
                               "kv_round: 64\n"
                               "kv_max: 64\n"
                               "batch_max: 2\n"
                               "chunk_max: 16\n"
                               "decode_overhead: 0.1\n"
                               "prefill_overhead: 0.1\n"
                               "nccl_launch_ms: 0.02\n"
                               "nccl_skew_ms: 0\n"
                               "post_attn_norm: 1\n"
                               "kv_bytes_per_token: 1024\n"
                               "kv_capacity_bytes: 1e9\n"
                               "table attn_pre_proj 2\n8 1\n16 2\n"
                               "table attn_post_proj 1\n8 1\n"
                               "table attn_rope 1\n8 1\n"
                               "table mlp_up_proj 1\n8 1\n"
                               "table mlp_down_proj 1\n8 1\n"
                               "table mlp_act 1\n8 1\n"
                               "table input_layernorm 1\n8 1\n"
                               "table post_attention_layernorm 1\n8 1\n"
                               "table add 1\n8 1\n"
                               "table all_reduce 1\n8 0.5\n"
                               "table attn_kv_cache_save 1\n1 0\n"
                               "table attn_decode 2\n1 0 1\n2 0 3\n"
                               "table attn_prefill 2\n0 1 4\n0 9 8\n"
                               "end\n";
    char              path[400];
    snprintf(path, sizeof path, "%s/tp1.table", tmpdir);
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f);
    fputs(text, f);
    fclose(f);
    struct cal_profile p;
    struct sim_msg     err;
    if (cal_profile_load(path, &p, &err))
        TEST_FAIL_("%s", err.text);
    struct cal_table_batch b = {.prefills = 1, .prefill_tok = 8, .prefill_sq = 64};
    double                 s;
    ASSERT_EQ(cal_table_latency(p.table, &b, &s, &err), 0);
    ASSERT_NEAR(s, 26e-3, 1e-12);
    cal_profile_fini(&p);
}

/*
 * The confusion-matrix predictor reads row i of the file as the distribution of the predicted
 * bucket for true bucket i (sim/pred.c). Edges 10, 20, 40 and rows that each put all weight on
 * one column, a permutation: true bucket 0 -> 2, 1 -> 0, 2 -> 1. Whatever the draw u in [0, 1),
 * the walk over the cumulative row stops at that column, so true lengths 5, 15 and 30 are always
 * predicted as buckets 2, 0, 1, i.e. 40, 10 and 20 tokens.
 */
TEST(confusion_rows_belong_to_their_true_buckets)
{
    char path[400];
    snprintf(path, sizeof path, "%s/cm.txt", tmpdir);
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f);
    fputs("# true bucket per row\nedges: 10 20 40\n0 0 1\n1 0 0\n0 1 0\n", f);
    fclose(f);
    struct pred_cfg cfg = {.kind = PRED_CONFUSION, .path = path, .max_len = 128, .seed = 5};
    pred_t         *p;
    struct sim_msg  err = {{0}};
    if (pred_new(&cfg, &p, &err))
        TEST_FAIL_("pred_new: %s", err.text);
    static const uint32_t truth[] = {5, 15, 30}, want_tok[] = {40, 10, 20};
    static const int      want_bucket[] = {2, 0, 1};
    for (int draw = 0; draw < 20; draw++)
        for (int i = 0; i < 3; i++) {
            struct req r;
            memset(&r, 0, sizeof r);
            r.output_tok = truth[i];
            pred_predict(p, &r);
            ASSERT_EQ(r.pred_bucket, want_bucket[i]);
            ASSERT_EQ(r.pred_tok, want_tok[i]);
        }
    pred_free(p);
}

/*
 * summary.json prints a statistic that has no value (NaN: no request with two tokens, say) as
 * JSON null, and --resume reads it back as NaN (sim/met.c met_read_json, issue 13). A summary of
 * zeros but median_e2el NaN: written, read back, median_e2el_ms is NaN and mean_e2el_ms 0.
 */
TEST(summary_null_reads_back_as_nan)
{
    struct met_summary s, back;
    memset(&s, 0, sizeof s);
    s.e2el.median = NAN;
    FILE *f = tmpfile();
    ASSERT_TRUE(f);
    ASSERT_EQ(met_write_json(&s, f), 0);
    rewind(f);
    memset(&back, 0, sizeof back);
    ASSERT_EQ(met_read_json(f, &back), 0);
    fclose(f);
    double v;
    ASSERT_EQ(met_value(&back, "median_e2el_ms", &v), 0);
    ASSERT_TRUE(isnan(v));
    ASSERT_EQ(met_value(&back, "mean_e2el_ms", &v), 0);
    ASSERT_EQ(v, 0);
}

/*
 * A lengths-only trace's num_total_tokens is checked as a number before it is compared with the
 * sum (traces/trace_parse.c): "10,5,x15,2.0" is refused as not a number, "10,5,-15,2.0" as
 * negative, each on line 2 (the header is line 1).
 */
TEST(lengths_total_is_checked_as_a_number)
{
    static const struct {
        const char *row, *want;
    } cases[] = {
        {"10,5,x15,2.0\n", ":2: num_total_tokens: not a number: "},
        {"10,5,-15,2.0\n", ":2: num_total_tokens: negative value: "},
    };
    for (int i = 0; i < 2; i++) {
        char path[400];
        snprintf(path, sizeof path, "%s/len%d.csv", tmpdir, i);
        FILE *f = fopen(path, "w");
        ASSERT_TRUE(f);
        fputs("num_prefill_tokens,num_decode_tokens,num_total_tokens,pd_ratio\n", f);
        fputs(cases[i].row, f);
        fclose(f);
        struct trace_opts o;
        trace_opts_default(&o);
        o.format = TRACE_FMT_LENGTHS;
        o.path = path;
        o.max_requests = 10;
        trace_t         *t;
        struct sim_msg   err = {{0}};
        struct trace_req r;
        ASSERT_EQ(trace_open(&o, &t, &err), 0);
        ASSERT_EQ(trace_next(t, &r, &err), SIM_EINPUT);
        ASSERT_STR_CONTAINS(err.text, cases[i].want);
        trace_close(t);
    }
}

/*
 * A custom model needs all six of layers, hidden, heads, head_dim, ffn and params (sim/cfg.c):
 * leaving out any one of them is refused (the other five given).
 */
TEST(custom_model_needs_its_whole_shape)
{
    static const char *keys[] = {"layers: 2",    "hidden: 64", "heads: 4",
                                 "head_dim: 16", "ffn: 128",   "params: 1e6"};
    for (int miss = 0; miss < 6; miss++) {
        char shape[256] = "", yaml[512];
        for (int k = 0; k < 6; k++)
            if (k != miss) {
                strcat(shape, ", ");
                strcat(shape, keys[k]);
            }
        snprintf(
            yaml, sizeof yaml,
            "name: custom\nmodel: {name: custom%s}\nworkload: {source: synthetic, requests: 5}\n",
            shape);
        cfg_exp_t     *e;
        struct sim_msg err = {{0}};
        if (cfg_load_string(yaml, "test.yaml", &e, &err))
            TEST_FAIL_("cfg_load_string: %s\n%s", err.text, yaml);
        struct cfg c;
        int        rc = cfg_resolve(e, 0, &c, &err);
        cfg_free(e);
        ASSERT_EQ(rc, SIM_ECONFIG);
        ASSERT_STR_CONTAINS(err.text, "a custom model needs layers, hidden, heads, head_dim, ffn "
                                      "and params");
    }
}

/* The analytic model refuses a tensor-parallel degree of 0 (calib/analytic.c) before it divides
 * by it. */
TEST(analytic_refuses_tp0)
{
    struct cal_profile p;
    struct sim_msg     err = {{0}};
    ASSERT_EQ(cal_analytic_profile_eff(cal_model_find("llama-2-7b"), cal_gpu_find("a100-80gb"), 0,
                                       &cal_eff_a100, 0.9, &p, &err),
              SIM_ECONFIG);
    ASSERT_STR_CONTAINS(err.text, "tensor-parallel degree must be at least 1");
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lensim-test-mutants-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(prefix_cache_finds_every_key_it_holds);
    RUN(mooncake_u_escape_needs_four_hex_digits);
    RUN(rate_refused_for_every_trace_with_arrivals);
    RUN(yaml_nesting_limit_is_sixteen_below_the_root);
    RUN(calibrate_refuses_csv_spelled_differently_over_the_profile);
    RUN(calibrate_weight_bytes_of_an_ungated_model);
    RUN(calibrate_refuses_a_contiguous_cache_that_does_not_fit);
    RUN(table_at_tp1_has_no_all_reduce);
    RUN(confusion_rows_belong_to_their_true_buckets);
    RUN(summary_null_reads_back_as_nan);
    RUN(lengths_total_is_checked_as_a_number);
    RUN(custom_model_needs_its_whole_shape);
    RUN(analytic_refuses_tp0);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) {
    }
    return test_main_end();
}
