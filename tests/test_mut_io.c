/*
 * test_mut_io.c: what surviving mutants of calib/, traces/ and sim/cfg.c (issue 17, helper
 * mut-io; tests/mutation/survivors-io.txt lists them) showed that no test watched. Each test
 * asserts a value derived by hand in the comment above it, or one documented in a spec file
 * that it names, not a snapshot of lensim's output.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "calib.h"
#include "cfg.h"
#include "presets.h"
#include "table.h"
#include "profile.h"
#include "sweep.h"
#include "test.h"
#include "trace.h"
#include "trace_internal.h"

static char tmpdir[256];

/* Write content to tmpdir/name; the full path goes to path (size 512). */
static void put_file(const char *name, const char *content, char *path)
{
    snprintf(path, 512, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    ASSERT_TRUE(f);
    size_t n = strlen(content);
    ASSERT_EQ(fwrite(content, 1, n, f), n);
    ASSERT_EQ(fclose(f), 0);
}

/*
 * trace__quote (traces/trace_parse.c) quotes a field for an error message: `"` around it, a
 * control byte (< 0x20) or DEL as \xHH with two lower-case hex digits, `"` and `\` behind a
 * backslash, every other byte as it is; when the quoted text would not fit, as many whole bytes
 * as leave room for `..."` and the NUL. By hand:
 *   - "a", 0x01, `"`, `\`, 0x7f, 0x1f -> "a\x01\"\\\x7f\x1f" (quotes included);
 *   - 16 letters into 16 bytes: out[0] = `"`, then a byte at o while o + 1 + 5 <= 16, i.e. at
 *     o = 1..10: 10 letters, then `...`, `"` and the NUL (15 characters + NUL = 16);
 *   - into 10 bytes, "ab" then 0x02: a at o = 1 (1 + 1 + 5 <= 10), b at o = 2 (8 <= 10), 0x02
 *     needs 4: 3 + 4 + 5 = 12 > 10, so `..."`: "ab..." (9 characters + NUL).
 */
TEST(trace_quote_escapes_every_byte_class)
{
    char out[64];
    ASSERT_TRUE(!strcmp(trace__quote("a\x01\"\\\x7f\x1f", 6, out, sizeof out),
                        "\"a\\x01\\\"\\\\\\x7f\\x1f\""));
    ASSERT_TRUE(!strcmp(trace__quote("abcdefghijklmnop", 16, out, 16), "\"abcdefghij...\""));
    ASSERT_TRUE(!strcmp(trace__quote("ab\x02z", 4, out, 10), "\"ab...\""));
    ASSERT_TRUE(!strcmp(trace__quote("", 0, out, 8), "\"\""));
}

/* The same quoting in what a user reads: a CSV trace whose second row has a control byte in
 * its prompt_tokens field: "<path>:3: prompt_tokens: not a number: "1\x01"" (line 1 is the
 * header). */
TEST(trace_message_shows_a_control_byte_as_hex)
{
    char path[512], want[700];
    put_file("ctl.csv", "arrival_s,prompt_tokens,output_tokens\n0,1,1\n1,1\x01,1\n", path);
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = TRACE_FMT_CSV;
    o.path = path;
    trace_t         *t = NULL;
    struct sim_msg   err = {{0}};
    struct trace_req r;
    ASSERT_EQ(trace_open(&o, &t, &err), 0);
    ASSERT_EQ(trace_next(t, &r, &err), 1);
    ASSERT_EQ(trace_next(t, &r, &err), SIM_EINPUT);
    trace_close(t);
    snprintf(want, sizeof want, "%s:3: prompt_tokens: not a number: \"1\\x01\"", path);
    if (strcmp(err.text, want))
        TEST_FAIL_("message \"%s\", want \"%s\"", err.text, want);
}

/*
 * The grid limits of `lensim calibrate` when none is given (calib/calib.c, survivor: the GPU
 * default of 256 sequences changed to 257, seen by no CPU test). calib/PROFILE.md, "Grid":
 * "Defaults: CUDA 256 sequences, the model's native context, 8192 tokens per iteration, 160
 * points; CPU (tiny) 32 sequences, context 1024, prompts 256, 320 tokens, 120 points (--grid
 * small: 80, quick: 48 with smaller limits). 20 % of the random points are held out."
 * A prompt is prefilled in one iteration of the grid and is a context: max_prompt is at most
 * max_batch_tok and max_ctx, and max_ctx at most the model's (calib/presets.c: llama-2-7b 4096,
 * codellama-34b 16384, tiny 2048). So on a GPU:
 *   llama-2-7b:    256 seqs, ctx 4096,  prompt min(4096, 8192) = 4096, 8192 tokens, 160 points;
 *   codellama-34b: 256 seqs, ctx 16384, prompt min(16384, 8192) = 8192.
 * On the CPU, tiny: 32 seqs, ctx min(1024, 2048) = 1024, prompt 256, 320 tokens, 120 points;
 * small: 80 points, the same limits. Given limits win over defaults, clamped as above:
 * --max-ctx 100000 on tiny gives 2048; --max-prompt 500 with --max-batch-tok 300 gives 300.
 */
TEST(calibrate_default_grid_limits_are_the_documented_ones)
{
    struct cal_calibrate_opts o;
    cal_calibrate_opts_default(&o);
    o.seed = 5;
    struct cal_grid_opts g;
    memset(&g, 0, sizeof g);
    o.grid = "full";
    cal_calibrate_limits(&o, cal_model_find("llama-2-7b"), 1, &g);
    ASSERT_EQ(g.max_seqs, 256);
    ASSERT_EQ(g.max_ctx, 4096);
    ASSERT_EQ(g.max_prompt, 4096);
    ASSERT_EQ(g.max_batch_tok, 8192);
    ASSERT_EQ(g.n_points, 160);
    ASSERT_EQ(g.heldout_frac, 0.2);
    ASSERT_EQ(g.seed, 5);
    cal_calibrate_limits(&o, cal_model_find("codellama-34b"), 1, &g);
    ASSERT_EQ(g.max_seqs, 256);
    ASSERT_EQ(g.max_ctx, 16384);
    ASSERT_EQ(g.max_prompt, 8192);
    ASSERT_EQ(g.max_batch_tok, 8192);
    ASSERT_EQ(g.n_points, 160);

    const struct cal_model *tiny = cal_model_find("tiny");
    cal_calibrate_limits(&o, tiny, 0, &g);
    ASSERT_EQ(g.max_seqs, 32);
    ASSERT_EQ(g.max_ctx, 1024);
    ASSERT_EQ(g.max_prompt, 256);
    ASSERT_EQ(g.max_batch_tok, 320);
    ASSERT_EQ(g.n_points, 120);
    o.grid = "small";
    cal_calibrate_limits(&o, tiny, 0, &g);
    ASSERT_EQ(g.n_points, 80);
    ASSERT_EQ(g.max_seqs, 32);
    ASSERT_EQ(g.max_batch_tok, 320);
    o.grid = "quick";
    cal_calibrate_limits(&o, tiny, 0, &g);
    ASSERT_EQ(g.n_points, 48);
    ASSERT_TRUE(g.max_seqs < 32 && g.max_ctx < 1024 && g.max_prompt < 256 && g.max_batch_tok < 320);

    o.grid = "full";
    o.max_ctx = 100000;
    o.max_prompt = 500;
    o.max_batch_tok = 300;
    o.max_seqs = 7;
    o.points = 33;
    cal_calibrate_limits(&o, tiny, 0, &g);
    ASSERT_EQ(g.max_ctx, 2048);
    ASSERT_EQ(g.max_prompt, 300);
    ASSERT_EQ(g.max_batch_tok, 300);
    ASSERT_EQ(g.max_seqs, 7);
    ASSERT_EQ(g.n_points, 33);
}

/* The number after `key` (as written: "key: value" or "key: [a, b]" / "{k: v, ...}") in text
 * from p on; *next (if given) is set past it. NAN when absent. */
static double num_after(const char *text, const char *key, const char **next)
{
    const char *k = strstr(text, key);
    if (!k)
        return NAN;
    char       *end;
    const char *v0 = k + strlen(key);
    if (!strncmp(v0, ".inf", 4)) { /* YAML's infinity */
        if (next)
            *next = v0 + 4;
        return INFINITY;
    }
    double v = strtod(v0, &end);
    if (next)
        *next = end;
    return v;
}

/* Relative or absolute closeness for numbers printed at a given precision. */
static int close_to(double a, double b, double rel, double abs_tol)
{
    return fabs(a - b) <= abs_tol || fabs(a - b) <= rel * fabs(b);
}

/*
 * The summary `lensim calibrate` prints (calib/calib.c print_summary) reports the fit it wrote:
 * a small CPU calibration (tiny, as test_calrun's) written to a file with its summary, and each
 * figure of the summary checked against the profile it names (PROFILE.md's keys):
 *   - header "tiny on DEVICE (cpu, BLAS): K pieces", K the profile's latency pieces;
 *   - per piece a row of its max_tokens and its 5 coefficients at 4 significant digits (the
 *     profile's latency.pieces), then a "+-" row of the 5 standard errors (the profile's
 *     info.stderr row of that piece, 4 digits there, 2 here: within 5 %) and "(N points)", the
 *     N summing to info.grid.train; a term held at 0 (coefficient exactly 0) has error 0;
 *   - cross-validated / one-line / train MAPE = info.fit's cv_mape, cv_mape_one_piece,
 *     mape_train; held-out MAPE and max = fit.mape_heldout, fit.maxerr_heldout over
 *     info.grid.heldout points, which is the CSV's count of heldout rows;
 *   - KV 4096 bytes/token (2 x 4 layers x 2 of the 4 KV heads at tp 2 x 64 x 4 bytes, fp32 on
 *     the CPU), usable GB =
 *     memory.kv_capacity_bytes / 1e9; predictor us/request = predictor.cost_s x 1e6 (batch 1),
 *     info.predictor.batch32_per_req_s x 1e6 (batch 32);
 *   - "wrote YAML and CSV in ... (sweep S s)" with S = info.sweep_s.
 * At tp 2 (link 100 GB/s) the profile is the fit plus the analytic all-reduces (calib/calib.c,
 * make_profile; calib/analytic.c, cal_allreduce_cost, with cal_eff_a100's ar_alpha_s 57.22 us
 * and ar_bw_eff 0.6136 and CAL_NCCL_LAUNCH_S 20 us): const + 2 x 4 layers x (57.22 + 20) us =
 * 617.76 us, decode_seqs and prefill_tok + 2 x 4 x 1,024 bytes (a token's ring traffic, 2 x
 * (2 - 1) / 2 x hidden 256 x 4 bytes) / (100e9 x 0.6136) = 0.1335 us. So the fit's scores
 * (train and held-out MAPE, max) are recomputed from the CSV with the profile's coefficients
 * less those.
 * Mutants of print_summary survived: nothing read it (test_calrun passes summary NULL).
 */
TEST(calibrate_summary_reports_the_profile_it_wrote)
{
    char yaml[400], csv[400];
    snprintf(yaml, sizeof yaml, "%s/s.yaml", tmpdir);
    snprintf(csv, sizeof csv, "%s/s.csv", tmpdir);
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
    o.tp = 2;
    o.link_gbps = 100;
    FILE *sf = tmpfile();
    ASSERT_TRUE(sf);
    struct sim_msg err = {{0}};
    sim_log_quiet(1);
    int rc = cal_calibrate(&o, sf, &err);
    if (rc)
        TEST_FAIL_("cal_calibrate: %s", err.text);
    static char sum[1 << 14], text[1 << 16], raw[1 << 16];
    rewind(sf);
    sum[fread(sum, 1, sizeof sum - 1, sf)] = 0;
    fclose(sf);
    FILE *f = fopen(yaml, "r");
    ASSERT_TRUE(f);
    text[fread(text, 1, sizeof text - 1, f)] = 0;
    fclose(f);
    f = fopen(csv, "r");
    ASSERT_TRUE(f);
    raw[fread(raw, 1, sizeof raw - 1, f)] = 0;
    fclose(f);

    /* The profile's pieces and the info.stderr rows. */
    double      coef[8][CAL_TERMS], maxtok[8], se[8][CAL_TERMS];
    size_t      k = 0;
    const char *p = strstr(text, "\n  pieces:\n");
    ASSERT_TRUE(p);
    while ((p = strstr(p, "\n    - max_tokens: ")) && k < 8) {
        maxtok[k] = num_after(p, "max_tokens: ", &p);
        for (size_t j = 0; j < CAL_TERMS; j++) {
            char key[40];
            snprintf(key, sizeof key, "\n      %s: ", cal_term_name(j));
            coef[k][j] = num_after(p, key, &p);
            ASSERT_TRUE(isfinite(coef[k][j]));
        }
        k++;
    }
    ASSERT_TRUE(k >= 1 && isinf(maxtok[k - 1]));
    p = strstr(text, "\n  stderr:\n");
    ASSERT_TRUE(p);
    for (size_t q = 0; q < k; q++) {
        p = strstr(p, "\n    - [");
        ASSERT_TRUE(p);
        p += strlen("\n    - [");
        for (size_t j = 0; j < CAL_TERMS; j++) {
            char *end;
            se[q][j] = strtod(p, &end);
            ASSERT_TRUE(end != p);
            p = end + (*end == ',');
        }
    }
    double train = num_after(text, " train: ", NULL), heldout = num_after(text, " heldout: ", NULL);
    size_t heldout_rows = 0;
    for (const char *c = raw; (c = strstr(c, ",heldout,")); c++)
        heldout_rows++;
    ASSERT_EQ(heldout, (double)heldout_rows);

    /* The summary, line by line. */
    char       *save = NULL, *line = strtok_r(sum, "\n", &save), want[1200];
    const char *dev = strstr(text, "\ndevice: \""), *blas = strstr(text, "\n  blas: \"");
    ASSERT_TRUE(dev && blas && line);
    dev += strlen("\ndevice: \"");
    blas += strlen("\n  blas: \"");
    snprintf(want, sizeof want, "tiny on %.*s (cpu, %.*s): %zu pieces", (int)strcspn(dev, "\""),
             dev, (int)strcspn(blas, "\""), blas, k);
    if (strcmp(line, want))
        TEST_FAIL_("summary header \"%s\", want \"%s\"", line, want);
    line = strtok_r(NULL, "\n", &save);
    ASSERT_TRUE(line && strstr(line, "n_tok <="));
    double points = 0;
    for (size_t q = 0; q < k; q++) {
        line = strtok_r(NULL, "\n", &save);
        ASSERT_TRUE(line);
        char  *end, tok[40];
        double mt = strtod(line, &end);
        ASSERT_EQ(mt, isinf(maxtok[q]) ? INFINITY : round(maxtok[q]));
        for (size_t j = 0; j < CAL_TERMS; j++) {
            char  *b = end + strspn(end, " ");
            size_t n = strcspn(b, " ");
            snprintf(want, sizeof want, "%.4g", coef[q][j]);
            snprintf(tok, sizeof tok, "%.*s", (int)n, b);
            if (strcmp(tok, want))
                TEST_FAIL_("piece %zu, %s: summary %s, profile %s", q, cal_term_name(j), tok, want);
            end = b + n;
        }
        line = strtok_r(NULL, "\n", &save);
        ASSERT_TRUE(line && !strncmp(line, "  +-", 4));
        end = line + 4;
        for (size_t j = 0; j < CAL_TERMS; j++) {
            char  *b = end;
            double e = strtod(b, &end);
            ASSERT_TRUE(end != b);
            if (!(e == 0 ? se[q][j] == 0 : close_to(e, se[q][j], 0.051, 0)))
                TEST_FAIL_("piece %zu, %s: summary +- %g, profile stderr %g", q, cal_term_name(j),
                           e, se[q][j]);
            if (coef[q][j] == 0 && (e != 0 || se[q][j] != 0))
                TEST_FAIL_("piece %zu, %s held at 0 with an error %g / %g", q, cal_term_name(j), e,
                           se[q][j]);
        }
        double n_pts = num_after(end, "(", NULL);
        ASSERT_TRUE(strstr(end, " points)") && n_pts >= 1);
        points += n_pts;
    }
    ASSERT_EQ(points, train);

    double a, b, c;
    line = strtok_r(NULL, "\n", &save);
    ASSERT_TRUE(line);
    ASSERT_EQ(sscanf(line, "  cross-validated MAPE %lf %% (one line: %lf %%); train MAPE %lf %%",
                     &a, &b, &c),
              3);
    ASSERT_TRUE(close_to(a, num_after(text, "cv_mape: ", NULL), 1e-3, 0.0051));
    ASSERT_TRUE(close_to(b, num_after(text, "cv_mape_one_piece: ", NULL), 1e-3, 0.0051));
    ASSERT_TRUE(close_to(c, num_after(text, "mape_train: ", NULL), 1e-3, 0.0051));
    line = strtok_r(NULL, "\n", &save);
    ASSERT_TRUE(line);
    size_t hp = 0;
    ASSERT_EQ(sscanf(line, "  held-out MAPE %lf %%, max %lf %% over %zu points", &a, &b, &hp), 3);
    ASSERT_TRUE(close_to(a, num_after(text, "\n  mape_heldout: ", NULL), 0, 0.0051));
    ASSERT_TRUE(close_to(b, num_after(text, "\n  maxerr_heldout: ", NULL), 0, 0.0051));
    ASSERT_EQ(hp, heldout_rows);
    line = strtok_r(NULL, "\n", &save);
    ASSERT_TRUE(line);
    double kvb, d;
    ASSERT_EQ(sscanf(line,
                     "  KV: %lf bytes/token, usable %lf GB; predictor %lf us/request (batch 1), "
                     "%lf us/request (batch 32)",
                     &kvb, &a, &b, &d),
              4);
    ASSERT_EQ(kvb, 4096);
    ASSERT_TRUE(close_to(a, num_after(text, "kv_capacity_bytes: ", NULL) / 1e9, 0, 0.0051));
    ASSERT_TRUE(close_to(b, num_after(text, "cost_s: ", NULL) * 1e6, 0, 0.051));
    ASSERT_TRUE(close_to(d, num_after(text, "batch32_per_req_s: ", NULL) * 1e6, 1e-3, 0.0051));
    line = strtok_r(NULL, "\n", &save);
    ASSERT_TRUE(line);
    snprintf(want, sizeof want, "  wrote %s and %s in ", yaml, csv);
    ASSERT_TRUE(!strncmp(line, want, strlen(want)));
    snprintf(want, sizeof want, " (sweep %.1f s)", num_after(text, "sweep_s: ", NULL));
    ASSERT_TRUE(strlen(line) > strlen(want) && !strcmp(line + strlen(line) - strlen(want), want));
    ASSERT_TRUE(strtok_r(NULL, "\n", &save) == NULL);

    /* The fit's scores recomputed from the CSV and the profile (PROFILE.md: T = const +
     * decode_seqs n_dec + decode_ctx ctx + prefill_tok p + prefill_sq p2 in the first piece with
     * max_tokens >= n_tok; an error is |T - median_s| / median_s x 100): the train rows' mean is
     * info.fit.mape_train (4 digits), the held-out rows' mean and max are fit.mape_heldout and
     * fit.maxerr_heldout. */
    double ar_const = 2.0 * 4 * (57.22e-6 + 20e-6), ar_tok = 2.0 * 4 * 1024 / (100e9 * 0.6136);
    double sum_tr = 0, sum_ho = 0, max_ho = 0;
    size_t n_tr = 0, n_ho = 0;
    for (char *l = strstr(raw, "\nid,"); l && (l = strchr(l + 1, '\n')) && l[1];) {
        double v[7];
        char   set[16];
        if (sscanf(l + 1, "%*[^,],%*[^,],%15[^,],%lf,%lf,%lf,%lf,%lf,%lf", set, &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5]) != 7)
            TEST_FAIL_("CSV row \"%.60s\"", l + 1);
        size_t q = 0;
        while (q + 1 < k && !(v[4] <= maxtok[q]))
            q++;
        double t = coef[q][0] - ar_const + (coef[q][1] - ar_tok) * v[0] + coef[q][2] * v[1] +
                   (coef[q][3] - ar_tok) * v[2] + coef[q][4] * v[3];
        double e = fabs(t - v[5]) / v[5] * 100;
        if (!strcmp(set, "train")) {
            sum_tr += e, n_tr++;
        } else {
            sum_ho += e, n_ho++;
            max_ho = e > max_ho ? e : max_ho;
        }
    }
    ASSERT_EQ(n_tr, train);
    ASSERT_EQ(n_ho, heldout_rows);
    ASSERT_TRUE(close_to(sum_tr / (double)n_tr, num_after(text, "mape_train: ", NULL), 1e-3, 1e-6));
    ASSERT_TRUE(
        close_to(sum_ho / (double)n_ho, num_after(text, "\n  mape_heldout: ", NULL), 1e-5, 1e-6));
    ASSERT_TRUE(close_to(max_ho, num_after(text, "\n  maxerr_heldout: ", NULL), 1e-5, 1e-6));

    /* The grid's limits as given, and its KV budget: max_seqs x max_ctx / 2 + max_batch_tok =
     * 8 x 256 / 2 + 256 = 1,280 tokens (calib/calib.c, plan: less only when the device's memory
     * is short, not with the gigabytes of a test machine). */
    ASSERT_STR_CONTAINS(text, "grid: {points: 40, train: ");
    ASSERT_STR_CONTAINS(text, ", max_seqs: 8, max_ctx: 256, max_prompt: 64, max_batch_tok: 256, "
                              "max_kv_tok: 1280, seed: 3, kv_layout: paged}");
}

/* A small valid profile (PROFILE.md's required keys): 2 pieces, KV 8192 bytes per token. */
static const char profile_body[] = "format: lensim-profile/1\n"
                                   "model: tiny\n"
                                   "backend: cpu\n"
                                   "tp: 1\n"
                                   "latency:\n"
                                   "  pieces:\n"
                                   "    - max_tokens: 16\n"
                                   "      const: 1e-3\n"
                                   "      decode_seqs: 1e-5\n"
                                   "    - max_tokens: .inf\n"
                                   "      const: 2e-3\n"
                                   "      prefill_tok: 1e-4\n"
                                   "memory:\n"
                                   "  kv_bytes_per_token: 8192\n"
                                   "  kv_capacity_bytes: 1e9\n";

/*
 * cal_profile_load reads the whole file however long it is (calib/profile.c: the buffer doubles
 * from 8,192 bytes while less than 4,096 are free). A profile behind 400 comment lines of 99
 * bytes (39,600 bytes, more than 8,192 x 4) loads as the short one: 2 pieces, the second's
 * const 2e-3, KV 8192 bytes per token. (Survivor: a buffer that never grew read 8,192 bytes and
 * took them for the whole file.)
 */
TEST(profile_longer_than_its_first_buffer_loads_whole)
{
    static char text[48000];
    size_t      k = 0;
    for (int i = 0; i < 400; i++)
        k += (size_t)snprintf(text + k, sizeof text - k, "# %096d\n", i);
    ASSERT_EQ(k, 39600);
    snprintf(text + k, sizeof text - k, "%s", profile_body);
    char path[512];
    put_file("long.yaml", text, path);
    struct cal_profile p;
    struct sim_msg     err = {{0}};
    if (cal_profile_load(path, &p, &err))
        TEST_FAIL_("cal_profile_load: %s", err.text);
    ASSERT_EQ(p.n_pieces, 2);
    ASSERT_EQ(p.piece[1].coef[CAL_T_CONST], 2e-3);
    ASSERT_EQ(p.kv_bytes_per_token, 8192);
    cal_profile_fini(&p);
}

/*
 * Loading a profile gives back all the memory it took: 200 loads of the small profile leave the
 * heap's bytes in use (mallinfo2) where one load left them, within 64 KiB of allocator slack.
 * libyaml's parser alone holds tens of KiB of buffers (its raw input buffer is 16 KiB), so a
 * parser or document not deleted (surviving mutants) leaks megabytes over 200 loads.
 */
TEST(profile_load_frees_what_it_takes)
{
    char path[512];
    put_file("small.yaml", profile_body, path);
    struct cal_profile p;
    struct sim_msg     err = {{0}};
    ASSERT_EQ(cal_profile_load(path, &p, &err), 0);
    cal_profile_fini(&p);
    size_t before = mallinfo2().uordblks;
    for (int i = 0; i < 200; i++) {
        ASSERT_EQ(cal_profile_load(path, &p, &err), 0);
        cal_profile_fini(&p);
    }
    size_t after = mallinfo2().uordblks;
    if (after > before + 65536)
        TEST_FAIL_("200 loads: %zu bytes more in use", after - before);
    /* and a refused profile (a missing key, so the document was built): the same */
    put_file("bad.yaml", "format: lensim-profile/1\nmodel: tiny\n", path);
    ASSERT_EQ(cal_profile_load(path, &p, &err), SIM_ECONFIG);
    before = mallinfo2().uordblks;
    for (int i = 0; i < 200; i++)
        ASSERT_EQ(cal_profile_load(path, &p, &err), SIM_ECONFIG);
    after = mallinfo2().uordblks;
    if (after > before + 65536)
        TEST_FAIL_("200 refused loads: %zu bytes more in use", after - before);
    /* and malformed YAML (an unclosed flow sequence): the same */
    put_file("bad.yaml", "format: [lensim-profile/1\n", path);
    ASSERT_EQ(cal_profile_load(path, &p, &err), SIM_ECONFIG);
    before = mallinfo2().uordblks;
    for (int i = 0; i < 200; i++)
        ASSERT_EQ(cal_profile_load(path, &p, &err), SIM_ECONFIG);
    after = mallinfo2().uordblks;
    if (after > before + 65536)
        TEST_FAIL_("200 malformed loads: %zu bytes more in use", after - before);
}

/*
 * Civil times at the edges of what trace__parse_datetime accepts (traces/trace_parse.c: years
 * 1970-2200, real months and days, h <= 23, mi <= 59, sec <= 59, offsets +-HH:MM / +-HHMM with
 * HH <= 23 and MM <= 59, Z or z; -1 malformed, -2 out of range), test_trace's cases covering
 * the other side of each edge. Nanoseconds from Python, independently:
 * int(datetime(y, mo, d, h, mi, s, tzinfo=timezone(timedelta(minutes=off))).timestamp()) * 10**9.
 */
TEST(trace_datetime_edges)
{
    static const struct {
        const char *s;
        int         rc;
        int64_t     ns;
    } cases[] = {
        {"2023-11-00 00:00:00", -2, 0}, /* day 0 */
        {"2023-00-10 00:00:00", -2, 0}, /* month 0 */
        {"1969-12-31 23:59:59", -2, 0},
        {"2023-11-16 18:15:60", -2, 0}, /* no leap seconds */
        {"2100-02-29 00:00:00", -2, 0}, /* 2100 is not a leap year */
        {"2024-02-29 12:00:00", 0, INT64_C(1709208000000000000)},
        {"2023-11-16 18:15:46z", 0, INT64_C(1700158546000000000)},
        {"2023-12-31 23:59:59.5Z", 0, INT64_C(1704067199500000000)},
        {"2024-05-10 05:30:00+05:30", 0, INT64_C(1715299200000000000)},
        {"2024-05-09 18:30:00-05:30", 0, INT64_C(1715299200000000000)},
        {"2024-05-09 18:30:00-0530", 0, INT64_C(1715299200000000000)},
        {"2024-05-10 00:00:00+00:59", 0, INT64_C(1715295660000000000)},
        {"2024-05-10 00:00:00-23:59", 0, INT64_C(1715385540000000000)},
        {"2024-05-10 00:00:00+00:60", -1, 0},
        {"2024-05-10 00:00:00+0060", -1, 0},
        {"2023/11/16 18:15:46", -1, 0},
        {"2023-11/16 18:15:46", -1, 0},
        {"2023-11-16+18:15:46", -1, 0},
        {"2023-11-16 18-15:46", -1, 0},
        {"2023-11-16 18:15-46", -1, 0},
        {"2023-11-16 18:1x:46", -1, 0},
        {"2024-05-10 00:00:00 05:30", -1, 0}, /* an offset needs its sign */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t ns = 0;
        int     rc = trace__parse_datetime(cases[i].s, strlen(cases[i].s), &ns);
        if (rc != cases[i].rc)
            TEST_FAIL_("%s: rc %d, want %d", cases[i].s, rc, cases[i].rc);
        if (rc == 0 && ns != cases[i].ns)
            TEST_FAIL_("%s: %lld ns, want %lld", cases[i].s, (long long)ns, (long long)cases[i].ns);
    }
}

/*
 * trace_close gives back the trace's file: under a limit of 32 open descriptors, 200 traces
 * opened, read to the end and closed one after the other all open (a trace that kept its FILE,
 * a surviving mutant, runs out at about the 29th).
 */
TEST(trace_close_gives_back_its_file)
{
    char path[512];
    put_file("fd.csv", "arrival_s,prompt_tokens,output_tokens\n0,1,1\n1,2,2\n", path);
    struct rlimit old;
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
    struct rlimit low = {.rlim_cur = 32, .rlim_max = old.rlim_max};
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    int failed_at = -1, rc = 0;
    for (int i = 0; i < 200 && failed_at < 0; i++) {
        struct trace_opts o;
        trace_opts_default(&o);
        o.format = TRACE_FMT_CSV;
        o.path = path;
        trace_t         *t = NULL;
        struct sim_msg   err = {{0}};
        struct trace_req r;
        size_t           n = 0;
        if ((rc = trace_open(&o, &t, &err))) {
            failed_at = i;
            break;
        }
        while ((rc = trace_next(t, &r, &err)) == 1)
            n++;
        trace_close(t);
        if (rc || n != 2)
            failed_at = i;
    }
    setrlimit(RLIMIT_NOFILE, &old);
    if (failed_at >= 0)
        TEST_FAIL_("trace %d did not open or read (rc %d)", failed_at, rc);
}

/*
 * cfg_value_json (results.json's varied values) writes JSON (RFC 8259): numbers and booleans
 * bare, strings quoted with `"` and `\` escaped and control bytes (U+0000 to U+001F, sec. 7) as
 * \u00XX; an unknown key is null and SIM_ECONFIG. The description "a"b\c<0x01>d<0x1f>e f~" gives
 * "a\"b\\c\u0001d\u001fe f~" (0x20 and 0x7e are not control bytes).
 */
TEST(cfg_value_json_escapes_strings)
{
    cfg_exp_t     *e = NULL;
    struct sim_msg err = {{0}};
    ASSERT_EQ(cfg_load_string("name: j\ndescription: \"a\\\"b\\\\c\\x01d\\x1fe f~\"\n"
                              "workload: {requests: 5, rate: 2.5}\nengine: {max_batch: 7}\n",
                              "t.yaml", &e, &err),
              0);
    struct cfg c;
    ASSERT_EQ(cfg_resolve(e, 0, &c, &err), 0);
    static const struct {
        const char *key, *json;
        int         rc;
    } cases[] = {
        {"description", "\"a\\\"b\\\\c\\u0001d\\u001fe f~\"", 0},
        {"engine.max_batch", "7", 0},
        {"workload.rate", "2.5", 0},
        {"workload.skip_bad", "false", 0},
        {"no.such_key", "null", SIM_ECONFIG},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char  *buf = NULL;
        size_t len = 0;
        FILE  *f = open_memstream(&buf, &len);
        ASSERT_TRUE(f);
        int rc = cfg_value_json(&c, cases[i].key, f);
        fclose(f);
        if (rc != cases[i].rc || strcmp(buf, cases[i].json))
            TEST_FAIL_("%s: rc %d, %s; want %d, %s", cases[i].key, rc, buf, cases[i].rc,
                       cases[i].json);
        free(buf);
    }
    cfg_free(e);
}

/*
 * A BurstGPT row (traces/trace_parse.c, parse_burstgpt) whose "Total tokens" is not a count is
 * refused for that field, before the sum check: "<path>:2: Total tokens: not a number: "x"" and
 * "...: Total tokens: negative value: "-490"" (line 1 is the header).
 */
TEST(burstgpt_total_tokens_must_be_a_count)
{
    static const struct {
        const char *row, *msg;
    } cases[] = {
        {"5,ChatGPT,472,18,x,Conversation log\n", "Total tokens: not a number: \"x\""},
        {"5,ChatGPT,472,18,-490,Conversation log\n", "Total tokens: negative value: \"-490\""},
        {"5,ChatGPT,472,18,491,Conversation log\n",
         "Total tokens: 491 is not Request tokens + Response tokens (490)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[300], path[512], want[900];
        snprintf(text, sizeof text,
                 "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n%s",
                 cases[i].row);
        put_file("bg.csv", text, path);
        struct trace_opts o;
        trace_opts_default(&o);
        o.format = TRACE_FMT_BURSTGPT;
        o.path = path;
        trace_t         *t = NULL;
        struct sim_msg   err = {{0}};
        struct trace_req r;
        int              rc = trace_open(&o, &t, &err);
        if (!rc) {
            rc = trace_next(t, &r, &err);
            trace_close(t);
        }
        snprintf(want, sizeof want, "%s:2: %s", path, cases[i].msg);
        if (rc != SIM_EINPUT || strcmp(err.text, want))
            TEST_FAIL_("rc %d, \"%s\"; want SIM_EINPUT, \"%s\"", rc, err.text, want);
    }
}

/*
 * --set KEY=[...] on a key the experiment already sweeps replaces that key's values (sim/cfg.c,
 * set_sweep), whichever place the key has in the sweep: a sweep of workload.rate [1, 2] and
 * engine.max_batch [4, 8, 16] is 2 x 3 = 6 runs; --set engine.max_batch=[32] leaves 2 x 1 = 2,
 * both with max_batch 32, rates 1 and 2.
 */
TEST(set_replaces_the_second_swept_key)
{
    cfg_exp_t     *e = NULL;
    struct sim_msg err = {{0}};
    ASSERT_EQ(cfg_load_string("name: s\nworkload: {requests: 5}\nsweep:\n  workload.rate: [1, 2]\n"
                              "  engine.max_batch: [4, 8, 16]\n",
                              "t.yaml", &e, &err),
              0);
    ASSERT_EQ(cfg_n_runs(e), 6);
    if (cfg_add_set(e, "engine.max_batch=[32]", &err))
        TEST_FAIL_("cfg_add_set: %s", err.text);
    ASSERT_EQ(cfg_n_runs(e), 2);
    for (size_t i = 0; i < 2; i++) {
        struct cfg c;
        ASSERT_EQ(cfg_resolve(e, i, &c, &err), 0);
        ASSERT_EQ(c.max_batch, 32);
        ASSERT_EQ(c.rate, (double)(i + 1));
    }
    cfg_free(e);
}

/*
 * Output paths that do not fit calibrate's 1,024-byte CSV path (calib/calib.c, struct cal_run:
 * char csv[1024], so at most 1,023 characters) are refused before anything is timed, each with
 * its length and the limit:
 *   - -o of 1,024 characters: "-o: path too long (1024 bytes; at most 1023)";
 *   - --csv of 1,024: "--csv: path too long (1024 bytes; at most 1023)";
 *   - -o of a 1,020-character stem + ".y" (1,022 characters: fits), whose CSV, the stem +
 *     ".csv", would have 1,024 > 1,023: "-o: path too long for the .csv beside it (1022 bytes;
 *     at most 1019)" (the stem may have 1,023 - 4 = 1,019 characters).
 */
TEST(calibrate_refuses_paths_too_long_for_its_csv)
{
    static char               out[1100], csv[1100];
    struct cal_calibrate_opts o;
    struct sim_msg            err = {{0}};
    cal_calibrate_opts_default(&o);
    o.model = "tiny";
    o.out = out;
    sim_log_quiet(1);

    memset(out, 'a', 1024);
    out[1024] = 0;
    ASSERT_EQ(cal_calibrate(&o, NULL, &err), SIM_ECONFIG);
    ASSERT_TRUE(!strcmp(err.text, "-o: path too long (1024 bytes; at most 1023)"));

    out[10] = 0; /* -o fits; --csv does not */
    memset(csv, 'b', 1024);
    csv[1024] = 0;
    o.csv = csv;
    ASSERT_EQ(cal_calibrate(&o, NULL, &err), SIM_ECONFIG);
    ASSERT_TRUE(!strcmp(err.text, "--csv: path too long (1024 bytes; at most 1023)"));

    o.csv = NULL;
    memset(out, 'a', 1020);
    memcpy(out + 1020, ".y", 3);
    ASSERT_EQ(cal_calibrate(&o, NULL, &err), SIM_ECONFIG);
    if (strcmp(err.text, "-o: path too long for the .csv beside it (1022 bytes; at most 1019)"))
        TEST_FAIL_("message \"%s\"", err.text);
}

/*
 * Batch arrivals put every request at t = 0 (traces/trace.c, check_arrivals), so a window that
 * starts after 0 would hold none of them: a synthetic source of 5 requests with batch arrivals
 * and t_start_s = 0.5 (below one second) is refused, "trace: batch arrivals are all at t = 0,
 * before the window start t_start_s = 0.5"; with t_start_s = 0 it yields the 5 requests.
 */
TEST(batch_arrivals_refuse_any_later_window_start)
{
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = TRACE_FMT_SYNTH;
    o.arrival = TRACE_ARR_BATCH;
    o.max_requests = 5;
    o.t_start_s = 0.5;
    trace_t       *t = NULL;
    struct sim_msg err = {{0}};
    ASSERT_EQ(trace_open(&o, &t, &err), SIM_ECONFIG);
    ASSERT_TRUE(t == NULL);
    if (strcmp(err.text, "trace: batch arrivals are all at t = 0, before the window start "
                         "t_start_s = 0.5"))
        TEST_FAIL_("message \"%s\"", err.text);
    o.t_start_s = 0;
    ASSERT_EQ(trace_open(&o, &t, &err), 0);
    struct trace_req r;
    size_t           n = 0;
    while (trace_next(t, &r, &err) == 1) {
        ASSERT_EQ(r.arrival_ns, 0);
        n++;
    }
    trace_close(t);
    ASSERT_EQ(n, 5);
}

/* A small table profile (calib/table.h's form; test_table's tiny example, written out again):
 * header lines 1-19, tables after. */
static const char table_head[] = "# a small table profile\n"
                                 "format: lensim-table/1\n"
                                 "model: tiny\n"
                                 "shape: 2 256 4 4 64 1024\n"
                                 "tp: 2\n"
                                 "layers: 2\n"
                                 "tokens_max: %u\n" /* line 7 */
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
                                 "kv_capacity_bytes: %s\n"; /* line 19 */
static const char table_body[] = "table attn_pre_proj 2\n8 1\n16 2\n"
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

static int load_table(unsigned tokens_max, const char *kvcap, struct cal_profile *p,
                      struct sim_msg *err, char *path)
{
    char text[4096], head[1024];
    snprintf(head, sizeof head, table_head, tokens_max, kvcap);
    snprintf(text, sizeof text, "%s%s", head, table_body);
    put_file("t.table", text, path);
    return cal_profile_load(path, p, err);
}

/*
 * A table profile's header keys (calib/table.c): kv_capacity_bytes 3e9 is the profile's KV
 * capacity (3e9 bytes, kv_bytes_per_token 1024); 0 is refused on its line, 19: "kv_capacity_bytes:
 * must be positive"; tokens_max 20 is not a multiple of token_round 8 (20 = 2 x 8 + 4), refused
 * with both numbers.
 */
TEST(table_profile_header_keys)
{
    char               path[512], want[700];
    struct cal_profile p;
    struct sim_msg     err = {{0}};
    if (load_table(16, "3e9", &p, &err, path))
        TEST_FAIL_("%s", err.text);
    ASSERT_EQ(p.kv_capacity_bytes, 3e9);
    ASSERT_EQ(p.kv_bytes_per_token, 1024);
    cal_profile_fini(&p);
    ASSERT_EQ(load_table(16, "0", &p, &err, path), SIM_ECONFIG);
    snprintf(want, sizeof want, "%s:19: kv_capacity_bytes: must be positive", path);
    if (strcmp(err.text, want))
        TEST_FAIL_("\"%s\", want \"%s\"", err.text, want);
    ASSERT_EQ(load_table(20, "3e9", &p, &err, path), SIM_ECONFIG);
    ASSERT_STR_CONTAINS(err.text, ": tokens_max 20 is not a multiple of token_round 8");
    ASSERT_TRUE(!strncmp(err.text, path, strlen(path)));
}

/*
 * `lensim trace stats` (traces/trace_stats.c) on a CSV of 6 rows, the third malformed: with
 * skip_bad, max_prompt_tok 20 and max_output_tok 30, by hand:
 *   rows 0,5,5 / 1,50,5 / 2,x,5 (skipped) / 3,5,60 / 4,30,40 / 5,5,5: requests 5, rows_read 6,
 *   skipped_bad 1, clamped_prompt 2 (50, 30), clamped_output 2 (60, 40);
 *   arrivals 0, 1, 3, 4, 5: duration 5 s, rate (5 - 1) / 5 = 0.8;
 *   prompts 5, 20, 5, 20, 5: mean 11, sorted 5 5 5 20 20, p50 5, p90 at 0.9 x 4 = 3.6 -> 20,
 *   p99 20, max 20; outputs 5, 5, 30, 30, 5: mean 15, p50 5, p90 30, p99 30, max 30 (numpy's
 *   linear percentiles);
 *   gaps 1, 2, 1, 1: mean 1.25, population sd sqrt((3 x 0.25^2 + 0.75^2) / 4) = 0.4330127, cv
 *   0.3464102.
 */
TEST(trace_stats_counts_every_row)
{
    char path[512], want[2048];
    put_file("st.csv",
             "arrival_s,prompt_tokens,output_tokens\n0,5,5\n1,50,5\n2,x,5\n3,5,60\n"
             "4,30,40\n5,5,5\n",
             path);
    struct trace_opts o;
    trace_opts_default(&o);
    o.format = TRACE_FMT_AUTO;
    o.path = path;
    o.skip_bad = 1;
    o.max_prompt_tok = 20;
    o.max_output_tok = 30;
    char          *buf = NULL;
    size_t         len = 0;
    FILE          *f = open_memstream(&buf, &len);
    struct sim_msg err = {{0}};
    ASSERT_TRUE(f);
    int rc = trace_stats(&o, f, &err);
    fclose(f);
    if (rc)
        TEST_FAIL_("trace_stats: %s", err.text);
    snprintf(want, sizeof want,
             "source: %s\nformat: csv\nrequests: 5\nrows_read: 6\nskipped_bad: 1\n"
             "clamped_prompt: 2\nclamped_output: 2\nduration_s: 5.000000000\n"
             "# rate_rps = (requests - 1) / duration_s: the mean rate between the first and the "
             "last arrival\nrate_rps: 0.800000\nprompt_mean: 11.0000\nprompt_p50: 5.0000\n"
             "prompt_p90: 20.0000\nprompt_p99: 20.0000\nprompt_max: 20\noutput_mean: 15.0000\n"
             "output_p50: 5.0000\noutput_p90: 30.0000\noutput_p99: 30.0000\noutput_max: 30\n"
             "# interarrival_cv = population standard deviation / mean of the requests - 1 gaps\n"
             "interarrival_cv: 0.346410\n",
             path);
    if (strcmp(buf, want))
        TEST_FAIL_("trace stats:\n%s\nwant:\n%s", buf, want);
    free(buf);
}

/*
 * Settings whose lower bound follows from what they mean are refused just below it, with the
 * range named (sim/cfg.c's key table; "KEY: V is out of range [MIN, MAX]"): a batch holds at
 * least 1 sequence, a replica at least 1 GPU (tp) and 1 token per KV block, runs at least 1
 * seed; a rate, a rate scale, a Gamma cv and a memory share must be positive, so 0 is refused;
 * the watermark (a fraction of blocks kept free) and every share are at most 1, and
 * mem_util 1 (all the GPU's memory) is the largest allowed; a live byte budget of 80 GB (an
 * H100's memory) is a budget a user may give.
 */
TEST(cfg_bounds_that_follow_from_meaning)
{
    static const struct {
        const char *yaml, *key, *want;
    } cases[] = {
        {"engine: {max_batch: 0}", "engine.max_batch", "0 is out of range [1, "},
        {"engine: {block_size: 0}", "engine.block_size", "0 is out of range [1, "},
        {"hardware: {tp: 0}", "hardware.tp", "0 is out of range [1, "},
        {"seeds: 0", "seeds", "0 is out of range [1, "},
        {"workload: {rate: 0}", "workload.rate", "0 is out of range [1e-09, "},
        {"workload: {rate_scale: 0}", "workload.rate_scale", "0 is out of range [1e-09, "},
        {"workload: {cv: 0}", "workload.cv", "0 is out of range [1e-06, "},
        {"hardware: {mem_util: 0}", "hardware.mem_util", "0 is out of range [0.001, 1]"},
        {"hardware: {mem_util: 1.01}", "hardware.mem_util", "1.01 is out of range [0.001, 1]"},
        {"engine: {watermark: 1}", "engine.watermark", "1 is out of range [0, 0.99]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char yaml[200], want[300];
        snprintf(yaml, sizeof yaml, "name: b\n%s\n", cases[i].yaml);
        cfg_exp_t     *e = NULL;
        struct sim_msg err = {{0}};
        int            rc = cfg_load_string(yaml, "t.yaml", &e, &err);
        snprintf(want, sizeof want, "%s: %s", cases[i].key, cases[i].want);
        if (rc != SIM_ECONFIG || !strstr(err.text, want) || strncmp(err.text, "t.yaml:2:", 9))
            TEST_FAIL_("%s: rc %d, \"%s\"; want t.yaml:2:...: %s", cases[i].yaml, rc, err.text,
                       want);
        cfg_free(e);
    }
    /* and the edges themselves are accepted */
    cfg_exp_t     *e = NULL;
    struct sim_msg err = {{0}};
    ASSERT_EQ(cfg_load_string("name: b\nengine: {max_batch: 1, block_size: 1, watermark: 0.99}\n"
                              "hardware: {tp: 1, mem_util: 1}\nseeds: 1\n"
                              "live: {max_bytes: 80e9}\n",
                              "t.yaml", &e, &err),
              0);
    cfg_free(e);
}

/*
 * cal_table_detect (calib/table.h): a profile is the table form when its first line that is
 * neither blank nor a comment is `format: lensim-table/1`; trailing blanks, tabs and a CR (a
 * file with CRLF line ends) are not part of the value, any other byte is: "\v" (0x0b) or "\x01"
 * after it make another format's line, and a YAML profile is not a table.
 */
TEST(table_detect_reads_the_format_line_exactly)
{
    static const struct {
        const char *text;
        int         want;
    } cases[] = {
        {"format: lensim-table/1\n", 1},   {"# c\n\n  format: lensim-table/1 \t\r\nmodel: x\n", 1},
        {"format: lensim-table/1\v\n", 0}, {"format: lensim-table/1\x01\n", 0},
        {"format: lensim-table/12\n", 0},  {"format: lensim-profile/1\n", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (cal_table_detect(cases[i].text, strlen(cases[i].text)) != cases[i].want)
            TEST_FAIL_("case %zu: want %d", i, cases[i].want);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lensim-test-mut-io-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(trace_quote_escapes_every_byte_class);
    RUN(trace_message_shows_a_control_byte_as_hex);
    RUN(trace_datetime_edges);
    RUN(trace_close_gives_back_its_file);
    RUN(cfg_value_json_escapes_strings);
    RUN(burstgpt_total_tokens_must_be_a_count);
    RUN(batch_arrivals_refuse_any_later_window_start);
    RUN(trace_stats_counts_every_row);
    RUN(set_replaces_the_second_swept_key);
    RUN(cfg_bounds_that_follow_from_meaning);
    RUN(calibrate_default_grid_limits_are_the_documented_ones);
    RUN(calibrate_refuses_paths_too_long_for_its_csv);
    RUN(profile_longer_than_its_first_buffer_loads_whole);
    RUN(profile_load_frees_what_it_takes);
    RUN(table_profile_header_keys);
    RUN(table_detect_reads_the_format_line_exactly);
    RUN(calibrate_summary_reports_the_profile_it_wrote);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) {
    }
    return test_main_end();
}
