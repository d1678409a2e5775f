/*
 * test_calrun.c: a small calibration (tiny on the CPU, 40 points, about 3 s of CPU) checked for
 * what does not depend on timing (issue 17: calibration mutants survived the fast suites, which
 * never calibrate):
 * - the grid honours every limit it was given (sequences, context, prompt, tokens per batch),
 *   and each point's features are the sums of its listed contexts and prompts (decode_ctx =
 *   sum of contexts, prefill_tok = sum of prompts, prefill_sq = sum of their squares);
 * - every point's timing summary is ordered (min <= p10 <= median <= p90) and repeated;
 * - the profile names the model, source and backend, has tiny's memory figures by hand (KV:
 *   2 x 4 layers x 4 heads x 64 x 4 bytes (fp32 on the CPU) = 8,192 bytes per token; weights
 *   4,718,592 x 4 = 18,874,368 bytes plus what the CPU model keeps besides) and a latency
 *   form whose last piece is unbounded.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calib.h"
#include "kern.h"
#include "sweep.h"
#include "test.h"

static char tmpdir[256];

/* Sum of a list of integers separated by anything but digits; *sq gets the sum of squares. */
static double sum_list(const char *s, size_t n, double *sq)
{
    double sum = 0;
    *sq = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] >= '0' && s[i] <= '9') {
            double v = 0;
            while (i < n && s[i] >= '0' && s[i] <= '9')
                v = v * 10 + (s[i++] - '0');
            sum += v;
            *sq += v * v;
        } else {
            i++;
        }
    }
    return sum;
}

TEST(small_calibration_keeps_its_limits_and_sums)
{
    char yaml[400], csv[400];
    snprintf(yaml, sizeof yaml, "%s/p.yaml", tmpdir);
    snprintf(csv, sizeof csv, "%s/p.csv", tmpdir);
    struct cal_calibrate_opts o;
    cal_calibrate_opts_default(&o);
    o.model = "tiny";
    o.out = yaml;
    o.grid = "quick";
    o.points = 40;
    o.max_seqs = 8;
    o.max_ctx = 256;
    o.max_prompt = 64;
    o.max_batch_tok = 256;
    o.seed = 3;
    struct sim_msg err = {{0}};
    sim_log_quiet(1);
    int rc = cal_calibrate(&o, NULL, &err);
    if (rc)
        TEST_FAIL_("cal_calibrate: %s", err.text);

    FILE *f = fopen(csv, "r");
    ASSERT_TRUE(f);
    char   line[4096];
    size_t rows = 0, heldout = 0;
    int    seed_line = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') {
            seed_line += !strcmp(line, "# seed: 3\n");
            continue;
        }
        if (!strncmp(line, "id,", 3)) {
            ASSERT_TRUE(!strcmp(line, "id,kind,set,decode_seqs,decode_ctx,prefill_tok,prefill_sq,"
                                      "n_tok,median_s,p10_s,p90_s,min_s,repeats,contexts,"
                                      "prompts\n"));
            continue;
        }
        char  *fld[15];
        size_t k = 0;
        for (char *p = line; k < 15; k++) {
            fld[k] = p;
            char *c = strchr(p, ',');
            if (!c)
                break;
            *c = 0;
            p = c + 1;
        }
        ASSERT_EQ(k, 14);
        ASSERT_EQ(strtoull(fld[0], NULL, 10), rows);
        ASSERT_TRUE(!strcmp(fld[1], "decode") || !strcmp(fld[1], "prefill") ||
                    !strcmp(fld[1], "mixed"));
        heldout += !strcmp(fld[2], "heldout");
        ASSERT_TRUE(!strcmp(fld[2], "train") || !strcmp(fld[2], "heldout"));
        double seqs = atof(fld[3]), ctx = atof(fld[4]), ptok = atof(fld[5]), psq = atof(fld[6]);
        double ntok = atof(fld[7]), med = atof(fld[8]), p10 = atof(fld[9]), p90 = atof(fld[10]);
        double mn = atof(fld[11]), rep = atof(fld[12]), csq, psq2;
        double csum = sum_list(fld[13], strlen(fld[13]), &csq);
        double psum = sum_list(fld[14], strcspn(fld[14], "\n"), &psq2);
        ASSERT_TRUE(seqs <= 8 && ntok <= 256);
        ASSERT_EQ(ntok, seqs + ptok);
        ASSERT_EQ(csum, ctx);
        ASSERT_EQ(psum, ptok);
        ASSERT_EQ(psq2, psq);
        ASSERT_TRUE(ctx <= seqs * 256);
        ASSERT_TRUE(psq <= ptok * 64); /* every prompt at most 64 tokens */
        ASSERT_TRUE(strcmp(fld[1], "decode") ? ptok > 0 : ptok == 0);
        ASSERT_TRUE(strcmp(fld[1], "prefill") ? seqs > 0 : seqs == 0);
        ASSERT_TRUE(mn > 0 && mn <= p10 && p10 <= med && med <= p90);
        ASSERT_TRUE(rep >= 1);
        rows++;
    }
    fclose(f);
    ASSERT_EQ(rows, 40);
    ASSERT_EQ(seed_line, 1);
    ASSERT_TRUE(heldout > 0 && heldout < rows);

    /* The profile's text, not cal_profile_load: under timing noise the fit may keep a
     * significantly negative term that the loader refuses, and that is not what this checks. */
    f = fopen(yaml, "r");
    ASSERT_TRUE(f);
    static char text[1 << 16];
    text[fread(text, 1, sizeof text - 1, f)] = 0;
    fclose(f);
    ASSERT_STR_CONTAINS(text, "\nmodel: \"tiny\"\n");
    ASSERT_STR_CONTAINS(text, "\nsource: \"measured\"\n");
    ASSERT_STR_CONTAINS(text, "\nbackend: \"cpu\"\n");
    ASSERT_STR_CONTAINS(text, "\ntp: 1\n");
    ASSERT_STR_CONTAINS(text, "\n  kv_bytes_per_token: 8192\n");
    const char *w = strstr(text, "\n  weight_bytes: ");
    ASSERT_TRUE(w);
    double wb = atof(w + strlen("\n  weight_bytes: "));
    ASSERT_TRUE(wb >= 4718592.0 * 4 && wb < 4718592.0 * 4 * 1.01);
    const char *cap = strstr(text, "\n  kv_capacity_bytes: ");
    ASSERT_TRUE(cap && atof(cap + strlen("\n  kv_capacity_bytes: ")) > 0);
    ASSERT_STR_CONTAINS(text, "    - max_tokens: .inf\n");
}

/* cal_grid_run splits the repeats over the rounds (sweep.h: each round times every point with
 * repeats / rounds, rounded up, so that the rounds together make at least the repeats asked
 * for) and pools the samples: 7 repeats in 3 rounds are ceil(7 / 3) = 3 a round, 9 samples a
 * point; 6 in 3 are 2 a round, 6 samples. No time budget, so no round stops early. A made-up
 * one-layer shape on the CPU: two points, one decode at context 8 and one 8-token prompt. */
TEST(grid_rounds_split_the_repeats)
{
    const struct kern_shape sh = {.layers = 1,
                                  .hidden = 64,
                                  .heads = 2,
                                  .kv_heads = 2,
                                  .head_dim = 32,
                                  .ffn = 128,
                                  .vocab = 64,
                                  .gated_mlp = 1};
    const struct kern_opts  ko = {.backend = "cpu",
                                  .seed = 1,
                                  .max_slots = 4,
                                  .max_ctx = 64,
                                  .max_batch_tok = 32,
                                  .max_seqs = 4,
                                  .max_prompt = 32};
    kern_backend_t         *b = NULL;
    struct sim_msg          err = {{0}};
    if (kern_backend_new(&sh, &ko, &b, &err))
        TEST_FAIL_("kern_backend_new: %s", err.text);
    uint32_t         ctx[1] = {8}, plen[1] = {8};
    struct cal_point pt[2] = {{.kind = CAL_PT_DECODE, .n_dec = 1, .ctx = ctx},
                              {.kind = CAL_PT_PREFILL, .n_pre = 1, .plen = plen}};
    struct cal_grid  g = {.n = 2, .pt = pt};
    const struct {
        unsigned repeats, rounds, want;
    } cases[] = {{7, 3, 9}, {6, 3, 6}, {5, 1, 5}};
    for (size_t c = 0; c < 3; c++) {
        struct cal_time_opts t = {.warmup = 0,
                                  .repeats = cases[c].repeats,
                                  .min_repeats = 1,
                                  .budget_s = 0,
                                  .warm = 1};
        if (cal_grid_run(b, &g, &t, cases[c].rounds, NULL, NULL, &err))
            TEST_FAIL_("cal_grid_run: %s", err.text);
        for (size_t i = 0; i < 2; i++)
            ASSERT_EQ(pt[i].t.n, cases[c].want);
    }
    kern_backend_free(b);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lensim-test-calrun-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(small_calibration_keeps_its_limits_and_sums);
    RUN(grid_rounds_split_the_repeats);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) {
    }
    return test_main_end();
}
