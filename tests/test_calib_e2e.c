/*
 * test_calib_e2e.c: cal_calibrate (what `lensim calibrate --backend cpu --model tiny` runs) end
 * to end, then the profile in use: load it and predict every held-out measured batch with
 * cal_profile_latency; and the command's argv errors (cli/cmd_calibrate.c, linked in).
 *
 * argv[1] is the grid ("full", or "quick" under the sanitizers, where -O0 code is slow). The
 * profile must load, its raw CSV's SHA-256 must match, the held-out MAPE recomputed from the CSV
 * must equal the one in the profile and stay under a bound (the goal is 5 % on the CPU;
 * the bound here is looser so that a loaded CI machine does not fail it: the measured value is
 * printed), and the command's usage errors must be exit status 2.
 */
#include <unistd.h>

#include <gsl/gsl_errno.h>

#include "calib.h"
#include "cmds.h"
#include "kern.h"
#include "profile.h"
#include "sha256.h"
#include "test.h"

static char        dir[256];
static const char *grid = "full";

static int run(int n, const char **args)
{
    char *argv[32];
    for (int i = 0; i < n; i++)
        argv[i] = (char *)args[i];
    argv[n] = NULL;
    return calibrate_cmd(n, argv);
}

TEST(calibrate_then_predict_heldout)
{
    char out[300], csv[300];
    snprintf(out, sizeof out, "%s/tiny.yaml", dir);
    snprintf(csv, sizeof csv, "%s/tiny.csv", dir);
    struct cal_calibrate_opts o;
    cal_calibrate_opts_default(&o);
    o.backend = "cpu";
    o.model = "tiny";
    o.out = out;
    o.grid = grid;
    int64_t        t0 = sim_wall_ns();
    struct sim_msg cerr = {{0}};
    int            crc = cal_calibrate(&o, stdout, &cerr);
    if (crc)
        TEST_FAIL_("%s", cerr.text);
    ASSERT_EQ(crc, 0);
    double wall = (double)(sim_wall_ns() - t0) * 1e-9;

    struct cal_profile p;
    struct sim_msg     err = {{0}};
    int                rc = cal_profile_load(out, &p, &err);
    if (rc)
        TEST_FAIL_("%s", err.text);
    ASSERT_STR_CONTAINS(p.model, "tiny");
    ASSERT_STR_CONTAINS(p.backend, "cpu");
    ASSERT_STR_CONTAINS(p.source, "measured");
    ASSERT_STR_CONTAINS(p.raw_csv, "tiny.csv");
    ASSERT_TRUE(p.kv_capacity_bytes > 0 && p.kv_bytes_per_token == 2.0 * 4 * 4 * 64 * 4);
    ASSERT_TRUE(p.predictor_cost_s > 0 && p.predictor_cost_s < 0.1);
    char hex[65];
    ASSERT_EQ(cal_sha256_file(csv, hex), 0);
    ASSERT_STR_CONTAINS(p.raw_sha256, hex);

    FILE *f = fopen(csv, "r");
    ASSERT_TRUE(f);
    char   line[65536];
    double sum = 0, mx = 0;
    int    n = 0, n_train = 0, header = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        if (!header++) {
            ASSERT_STR_CONTAINS(line, "decode_seqs,decode_ctx,prefill_tok,prefill_sq");
            continue;
        }
        char   kind[16], set[16];
        double ds, dc, pt, ps, ntok, med;
        ASSERT_EQ(sscanf(line, "%*d,%15[^,],%15[^,],%lf,%lf,%lf,%lf,%lf,%lf", kind, set, &ds, &dc,
                         &pt, &ps, &ntok, &med),
                  8);
        if (strcmp(set, "heldout")) {
            n_train++;
            continue;
        }
        struct cal_batch b = {ds, dc, pt, ps, 0};
        double           e = fabs(cal_profile_latency(&p, &b) - med) / med * 100;
        sum += e;
        mx = e > mx ? e : mx;
        n++;
    }
    fclose(f);
    ASSERT_TRUE(n >= 5 && n_train >= 30);
    double mape = sum / n;
    printf("grid %s: held-out MAPE %.2f %%, max %.2f %% over %d batches; %zu pieces; "
           "calibration %.1f s\n",
           grid, mape, mx, n, p.n_pieces, wall);
    ASSERT_NEAR(mape, p.mape_heldout, 1e-3); /* %.9g in the CSV */
    ASSERT_NEAR(mx, p.maxerr_heldout, 1e-3);
    /* Timings on a shared 2-core machine are noisy, so the goal (held-out MAPE <= 5 %) is
     * reported, not asserted; this bound only says that the model's form fits at all: a wrong
     * feature or a broken fit lands far above it. */
    ASSERT_TRUE(mape <= 40.0);
}

TEST(usage_errors_exit_2)
{
    char out[300];
    snprintf(out, sizeof out, "%s/x.yaml", dir);
    const char *bad_flag[] = {"calibrate", "--model", "tiny", "-o", out, "--frobnicate"};
    ASSERT_EQ(run(6, bad_flag), 2);
    const char *no_model[] = {"calibrate", "-o", out};
    ASSERT_EQ(run(3, no_model), 2);
    const char *unknown[] = {"calibrate", "--model", "gpt-5", "-o", out};
    ASSERT_EQ(run(5, unknown), 2);
    const char *bad_tp[] = {"calibrate", "--model", "tiny", "-o", out, "--tp", "3"};
    ASSERT_EQ(run(7, bad_tp), 2);
    const char *bad_num[] = {"calibrate", "--model", "tiny", "-o", out, "--mem-util", "2"};
    ASSERT_EQ(run(7, bad_num), 2);
    const char *bad_be[] = {"calibrate", "--model", "tiny", "-o", out, "--backend", "tpu"};
    ASSERT_EQ(run(7, bad_be), 2);
    const char *help[] = {"calibrate", "--help"};
    ASSERT_EQ(run(2, help), 0);
    if (kern_cuda_device_count() == 0) {
        const char *cuda[] = {"calibrate", "--model", "tiny", "-o", out, "--backend", "cuda"};
        ASSERT_EQ(run(7, cuda), 77);
    }
    ASSERT_TRUE(access(out, F_OK) != 0); /* nothing written */
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    if (argc > 1)
        grid = argv[1];
    snprintf(dir, sizeof dir, "/tmp/lensim_test_calib_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(calibrate_then_predict_heldout);
    RUN(usage_errors_exit_2);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("could not remove %s\n", dir);
    return test_main_end();
}
