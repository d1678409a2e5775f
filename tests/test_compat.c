/*
 * test_compat.c: the SSJF simulator re-statement (compat: ssjf) on cases worked by hand.
 *
 * Four jobs of 100, 10, 50 and 200 tokens, all arriving at t = 0, served in e = 0.1 + 0.02 L
 * seconds: 2.1, 0.3, 1.1, 4.1.
 *  - SJF without batching runs them shortest first: JCTs 0.3, 1.4, 3.5, 7.6 -> mean 3.2 s;
 *  - SJF, continuous batching of 2: {0.3, 1.1} -> 0.3 done at 0.3; {0.8, 2.1} -> done at 1.1;
 *    {1.3, 4.1} -> done at 2.4; {2.8} -> done at 5.2: mean 2.25 s;
 *  - FCFS without batching is work-conserving whatever the order: makespan 7.6 s, 4/7.6 req/s;
 *  - FCFS with dynamic batches of 2 and every job present at once never waits for the timeout.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "compat_ssjf.h"
#include "test.h"

static char path[256];

static void run(const char *policy, const char *batching, unsigned B, struct met_summary *s)
{
    struct cfg     c;
    cfg_exp_t     *e;
    struct sim_msg err = {{0}};
    char           yaml[512];
    snprintf(yaml, sizeof yaml,
             "name: c\ncompat: ssjf\nssjf: {jobs: 4, repeats: 3}\nworkload: {arrival: batch}\n"
             "engine: {batching: %s, max_batch: %u}\npolicy: %s\n",
             batching, B, policy);
    if (cfg_load_string(yaml, "c.yaml", &e, &err) || cfg_resolve(e, 0, &c, &err))
        TEST_FAIL_("%s", err.text);
    cfg_free(e);
    if (compat_ssjf_run(&c, path, NULL, NULL, NULL, s, &err))
        TEST_FAIL_("%s", err.text);
}

TEST(hand_worked_cases)
{
    struct met_summary s;
    run("sjf", "none", 1, &s);
    ASSERT_EQ(s.completed, 12);
    ASSERT_NEAR(s.e2el.mean, (0.3 + 1.4 + 3.5 + 7.6) / 4, 1e-9);
    run("sjf", "continuous", 2, &s);
    ASSERT_NEAR(s.e2el.mean, (0.3 + 1.1 + 2.4 + 5.2) / 4, 1e-9);
    run("fcfs", "none", 1, &s);
    ASSERT_NEAR(s.request_throughput, 4 / 7.6, 1e-9);
    run("fcfs", "dynamic", 2, &s);
    /* Two static batches, the second starts when the first's longest member ends: the makespan
     * is the sum of the two batches' maxima, at most 2.1 + 4.1 and at least 4.1 + 1.1. */
    ASSERT_TRUE(1 / s.request_throughput * 4 >= 5.2 - 1e-9);
    ASSERT_TRUE(1 / s.request_throughput * 4 <= 6.2 + 1e-9);
}

TEST(bad_predictions_file)
{
    char bad[300];
    snprintf(bad, sizeof bad, "%s.bad", path);
    FILE *f = fopen(bad, "w");
    fprintf(f,
            ",output_token_length,predicted_length,latency,model\n0,12,1,0.1,m\n1,abc,0,0.1,m\n");
    fclose(f);
    struct cfg     c;
    cfg_exp_t     *e;
    struct sim_msg err = {{0}};
    ASSERT_EQ(cfg_load_string("name: c\ncompat: ssjf\nssjf: {jobs: 1}\n", "c.yaml", &e, &err), 0);
    ASSERT_EQ(cfg_resolve(e, 0, &c, &err), 0);
    cfg_free(e);
    struct met_summary s;
    ASSERT_EQ(compat_ssjf_run(&c, bad, NULL, NULL, NULL, &s, &err), SIM_EINPUT);
    ASSERT_STR_CONTAINS(err.text, ".bad:3: output_token_length");
    remove(bad);
}

int main(void)
{
    snprintf(path, sizeof path, "/tmp/lensim-compat-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return 1;
    FILE *f = fdopen(fd, "w");
    fprintf(f, ",output_token_length,predicted_length,latency,model\n"
               "0,100,1,0.008,vicuna-13b\n1,10,0,0.008,vicuna-13b\n"
               "2,50,0,0.008,vicuna-13b\n3,200,2,0.008,vicuna-13b\n");
    fclose(f);
    RUN(hand_worked_cases);
    RUN(bad_predictions_file);
    remove(path);
    return test_main_end();
}
