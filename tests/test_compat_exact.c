/*
 * test_compat_exact.c: compat ssjf job by job against the authors' simulator (issue 14).
 *
 * The rules are those of github.com/James-QiuHaoran/LLM-serving-with-proxy-models, model-serving/
 * at 4b86686 (read with the search tool; files below are in that folder). Every expected time
 * was worked by hand from the cited lines, with e = round(0.1 + 0.02 L, 2) s (job.py:251):
 *   L = 10: 0.3 s, 20: 0.5 s, 45: 1.0 s, 70: 1.5 s, 95: 2.0 s, 145: 3.0 s, 245: 5.0 s.
 * SJF below is "sjf" with the static code (sjf.py; batching none = B 1, dynamic = B slots run
 * to the longest member) or the continuous code (sjf_dynamic.py); FCFS is fcfs.py /
 * fcfs_dynamic.py. Each test names the difference of the old 10 ms tick engine it catches.
 *
 * `test_compat_exact --stdin` instead reads job lists and prints lensim's start and completion
 * times for tests/ssjf_ref.py (an independent transcription, compared bit for bit).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "compat_ssjf.h"
#include "test.h"

/* Resolve an experiment of compat ssjf with the given policy, batching and ssjf.* extras. */
static void make_cfg(const char *policy, const char *batching, unsigned B, const char *extra,
                     struct cfg *c)
{
    cfg_exp_t     *e;
    struct sim_msg err = {{0}};
    char           yaml[1024];
    snprintf(yaml, sizeof yaml,
             "name: c\ncompat: ssjf\nssjf: {jobs: 2%s%s}\nworkload: {arrival: batch}\n"
             "engine: {batching: %s, max_batch: %u}\npolicy: %s\n",
             extra ? ", " : "", extra ? extra : "", batching, B, policy);
    if (cfg_load_string(yaml, "c.yaml", &e, &err) || cfg_resolve(e, 0, c, &err))
        TEST_FAIL_("%s", err.text);
    cfg_free(e);
}

/* Jobs as {arrival s, tokens, predicted class}. */
struct in {
    double   a;
    uint32_t tokens, cls;
};

enum { MAXJ = 16 };

static size_t sched(const char *policy, const char *batching, unsigned B, const char *extra,
                    const struct in *in, size_t n, struct compat_ssjf_job *out)
{
    struct cfg     c;
    struct sim_msg err = {{0}};
    size_t         ran = 0;
    make_cfg(policy, batching, B, extra, &c);
    for (size_t i = 0; i < n; i++)
        out[i] = (struct compat_ssjf_job){.arrival_s = in[i].a,
                                          .tokens = in[i].tokens,
                                          .cls = in[i].cls};
    if (compat_ssjf_schedule(&c, out, n, &ran, &err))
        TEST_FAIL_("%s", err.text);
    return ran;
}

/* Every job's completion time (NAN: never ran), to 1e-9 s. */
#define ASSERT_DONE(out, n, ...)                                \
    do {                                                        \
        const double want_[] = {__VA_ARGS__};                   \
        for (size_t i_ = 0; i_ < (n); i_++) {                   \
            if (isnan(want_[i_]))                               \
                ASSERT_TRUE(isnan((out)[i_].done_s));           \
            else                                                \
                ASSERT_NEAR((out)[i_].done_s, want_[i_], 1e-9); \
        }                                                       \
    } while (0)

/*
 * Arrivals are floats (job.py:196-197: Gamma gaps, sorted, cumulated, never rounded). The old
 * engine rounded them to 10 ms ticks. SJF without batching:
 *   job 0 (0 s, 1.0 s) runs 0 -> 1.0. The queue is empty: the clock moves to the next arrival,
 *   job 1 at 1.004 s (sjf.py:75-87), which is alone (job 2 comes at 1.0049 > 1.004,
 *   sjf.py:89-94) and runs 1.004 -> 6.004; job 2 joins during it (sjf.py:145-151) and runs
 *   6.004 -> 6.304. Rounded, jobs 1 and 2 both arrive at 1.00: SJF runs job 2 (0.3 s) first.
 * FCFS without batching: 0.123 -> 1.123, then 1.123 -> 2.123 (fcfs.py:48-49, 79-87).
 */
TEST(float_arrivals_are_not_rounded)
{
    struct compat_ssjf_job o[MAXJ];
    const struct in        s[] = {{0, 45, 0}, {1.004, 245, 0}, {1.0049, 10, 0}};
    ASSERT_EQ(sched("sjf", "none", 1, NULL, s, 3, o), 3);
    ASSERT_DONE(o, 3, 1.0, 6.004, 6.304);
    ASSERT_NEAR(o[1].start_s, 1.004, 1e-9);
    const struct in f[] = {{0.123, 45, 0}, {0.456, 45, 0}};
    ASSERT_EQ(sched("fcfs", "none", 1, NULL, f, 2, o), 2);
    ASSERT_DONE(o, 2, 1.123, 2.123);
    /* The settings are not rounded either: FCFS, static batches of 2, batch_wait_s 0.005
     * (fcfs.py:53-56: a batch that is not full waits until t + BATCH_WAIT_TIMEOUT): job 0 waits
     * 0 -> 0.005 and ends at 1.005; job 1 at 100 waits until 100.005, ends at 101.005. Ticks
     * made the wait 0.01 s. */
    const struct in w[] = {{0, 45, 0}, {100, 45, 0}};
    ASSERT_EQ(sched("fcfs", "dynamic", 2, "batch_wait_s: 0.005", w, 2, o), 2);
    ASSERT_DONE(o, 2, 1.005, 101.005);
}

/*
 * Continuous batches of 2 (sjf_dynamic.py): jobs that arrive during a batch join the waiting list
 * during it (sjf_dynamic.py:134-140), before the batch's leftovers (appended after it,
 * sjf_dynamic.py:143-152). Jobs X (0 s, 0.5 s), A (0 s, 1.5 s, class 1), C (0.2 s, 1.0 s, class
 * 1), D (0.3 s, 1.0 s, class 1); X has class 0.
 *   Batch {X, A} runs min 0.5 s: X ends at 0.5, A has 1.0 s left. Queue [C, D, A], all keyed 1.0
 *   (SJF: remaining e; SSJF: class 1): the stable sort (sjf_dynamic.py:98, 105-107) keeps
 *   [C, D, A]: {C, D} run 0.5 -> 1.5, then A 1.5 -> 2.5.
 * With the leftover ahead of the arrivals ([A, C, D]), A and C would end at 1.5 and D at 2.5.
 */
TEST(arrivals_join_before_leftovers)
{
    struct compat_ssjf_job o[MAXJ];
    const struct in        j[] = {{0, 20, 0}, {0, 70, 1}, {0.2, 45, 1}, {0.3, 45, 1}};
    for (int k = 0; k < 2; k++) {
        ASSERT_EQ(sched(k ? "ssjf" : "sjf", "continuous", 2, NULL, j, 4, o), 4);
        ASSERT_DONE(o, 4, 0.5, 2.5, 1.5, 1.5);
        ASSERT_NEAR(o[1].start_s, 1.5, 1e-9); /* the last start (sjf_dynamic.py:117-119) */
    }
}

/*
 * Jobs that arrive during a batch get that batch's age increment: after each batch every job in
 * the queue ages by completion_time - prev_completion_time (sjf.py:164-168), and the queue
 * already holds the jobs that arrived during the batch (sjf.py:145-151). Aging (sjf.py:100):
 * the oldest job first once its age exceeds starvation_s (1.9 s here; the factor set out of
 * reach). P (0 s, 2.0 s) runs 0 -> 2.0; Q (1.9 s, 5.0 s) and R (1.95 s, 0.3 s) arrive during it
 * and both age by 2.0 > 1.9: oldest first, ties in queue order: Q 2.0 -> 7.0, R 7.0 -> 7.3.
 * Without the increment R (0.3 s) would run first: R at 2.3, Q at 7.3.
 */
TEST(arrivals_during_a_batch_age_with_it)
{
    struct compat_ssjf_job o[MAXJ];
    const struct in        j[] = {{0, 95, 0}, {1.9, 245, 0}, {1.95, 10, 0}};
    ASSERT_EQ(sched("sjf", "none", 1, "starvation_s: 1.9, starvation_factor: 1000", j, 3, o), 3);
    ASSERT_DONE(o, 3, 2.0, 7.0, 7.3);
}

/*
 * The age increment runs from the previous batch's end, so it includes the idle gap before a
 * batch (sjf.py:53, 165-166; the clock jumps over the gap at sjf.py:75-87). starvation_s 5:
 *   P (0 s, 1.0 s) runs 0 -> 1.0 (prev = 1.0). Idle until 10: R1, R2 (0.5 s) and Q (3.0 s)
 *   arrive. R1 runs 10 -> 10.5; increment 10.5 - 1.0 = 9.5: R2 and Q are 9.5 s old (> 5:
 *   oldest first, tie in queue order: R2). R2 runs 10.5 -> 11.0, U (10.7 s, 0.3 s) joins during
 *   it; increment 0.5: Q 10.0, U 0.5. Q is oldest and over 5: Q 11.0 -> 14.0, U 14.0 -> 14.3.
 * Counting batch durations only, Q would be 1.0 s old: U (shortest) would run first, at 11.3,
 * and Q end at 14.3.
 */
TEST(age_increment_includes_the_idle_gap)
{
    struct compat_ssjf_job o[MAXJ];
    const struct in j[] = {{0, 45, 0}, {10, 20, 0}, {10, 20, 0}, {10, 145, 0}, {10.7, 10, 0}};
    ASSERT_EQ(sched("sjf", "none", 1, "starvation_s: 5, starvation_factor: 1000", j, 5, o), 5);
    ASSERT_DONE(o, 5, 1.0, 10.5, 11.0, 14.0, 14.3);
}

/*
 * The queue takes the order it was sorted in (sjf.py:104-106 replace wait_queue with the sorted
 * list; the batch is popped from its head, sjf.py:115-116), so later stable sorts break ties by
 * that order, not by arrival.
 *  - starvation_s 0.2; A (1.5 s), B (1.0 s), C (0.3 s) all arrive at 0, in that order. Ages 0:
 *    shortest first, queue [C, B, A]. C runs 0 -> 0.3; B and A are 0.3 s old (> 0.2): oldest
 *    first, and the tie keeps the queue's order [B, A]: B 0.3 -> 1.3, A 1.3 -> 2.8. A queue
 *    kept in arrival order ([A, B]) would run A first: A at 1.8, B at 2.8. The same with SSJF
 *    and classes 2, 1, 0.
 *  - starvation_s 2.1; P (0 s, 2.0 s) runs 0 -> 2.0; A (0.5 s, 1.5 s), B (0.6 s, 1.0 s), C (0.7
 *    s, 0.3 s) arrive during it and are 2.0 s old: not over 2.1, so queue [C, B, A]. C runs
 *    2.0 -> 2.3; B and A are 2.3 s old: oldest first, tie in queue order: B 2.3 -> 3.3, A 3.3 ->
 *    4.8 (arrival order: A at 3.8, B at 4.8).
 */
TEST(queue_keeps_its_sorted_order)
{
    struct compat_ssjf_job o[MAXJ];
    const struct in        z[] = {{0, 70, 2}, {0, 45, 1}, {0, 10, 0}};
    for (int k = 0; k < 2; k++) {
        ASSERT_EQ(sched(k ? "ssjf" : "sjf", "none", 1, "starvation_s: 0.2, starvation_factor: 1000",
                        z, 3, o),
                  3);
        ASSERT_DONE(o, 3, 2.8, 1.3, 0.3);
    }
    const struct in j[] = {{0, 95, 0}, {0.5, 70, 0}, {0.6, 45, 0}, {0.7, 10, 0}};
    ASSERT_EQ(sched("sjf", "none", 1, "starvation_s: 2.1, starvation_factor: 1000", j, 4, o), 4);
    ASSERT_DONE(o, 4, 2.0, 4.8, 3.3, 2.3);
}

/*
 * Aging compares the oldest job's age with its true remaining time, even for SSJF (sjf.py:100
 * reads execution_duration, not the prediction). SSJF, starvation_factor 1, starvation_s out of
 * reach; classes give p = 0.1 + 0.02 P. P1, P2 (1.0 s, class 0) and H (10.0 s, class 4) at 0; L
 * (0.5 s, class 1) at 1.5.
 *   Ages 0: by class, P1 runs 0 -> 1.0; P2 and H are 1.0 s old, P2 (first) is not over 1 x 1.0:
 *   P2 runs 1.0 -> 2.0, L joins during it; H is 2.0 s old, L 1.0. H is the oldest, 2.0 <= 1 x
 *   10.0: by class, L 2.0 -> 2.5, then H 2.5 -> 12.5.
 * Against H's predicted 0.18 s the rule would fire: H 2.0 -> 12.0, L 12.5.
 */
TEST(aging_uses_the_true_remaining_time)
{
    struct compat_ssjf_job o[MAXJ];
    const struct in        j[] = {{0, 45, 0}, {0, 45, 0}, {0, 495, 4}, {1.5, 20, 1}};
    ASSERT_EQ(sched("ssjf", "none", 1, "starvation_s: 1000, starvation_factor: 1", j, 4, o), 4);
    ASSERT_DONE(o, 4, 1.0, 2.0, 12.5, 2.5);
}

/*
 * The loop runs while curr_job_idx < len(job_list) - 1 or the queue is not empty (sjf.py:57):
 *  - the last job arriving during the last batch joins the queue during it (sjf.py:145-151)
 *    and runs: 0 -> 2.0, then 2.0 -> 2.5; also when it arrives exactly as the batch ends
 *    (1.0 <= t at the batch's last slice): 0 -> 1.0, 1.0 -> 1.5;
 *  - the last job arriving while the system is idle never runs (N - 1 jobs);
 *  - so a single job never runs at all (0 < 0 is false).
 */
TEST(last_job)
{
    struct compat_ssjf_job o[MAXJ];
    const struct in        during[] = {{0, 95, 0}, {1.0, 20, 0}};
    ASSERT_EQ(sched("sjf", "none", 1, NULL, during, 2, o), 2);
    ASSERT_DONE(o, 2, 2.0, 2.5);
    const struct in at_end[] = {{0, 45, 0}, {1.0, 20, 0}};
    ASSERT_EQ(sched("ssjf", "continuous", 2, NULL, at_end, 2, o), 2);
    ASSERT_DONE(o, 2, 1.0, 1.5);
    const struct in idle[] = {{0, 45, 0}, {5, 20, 0}};
    ASSERT_EQ(sched("sjf", "none", 1, NULL, idle, 2, o), 1);
    ASSERT_DONE(o, 2, 1.0, NAN);
    ASSERT_EQ(sched("ssjf", "dynamic", 2, NULL, idle, 1, o), 0);
    ASSERT_DONE(o, 1, NAN);
    /* FCFS has no such rule (fcfs.py:41): the late job runs, and a single job too. */
    ASSERT_EQ(sched("fcfs", "none", 1, NULL, idle, 2, o), 2);
    ASSERT_DONE(o, 2, 1.0, 5.5);
    ASSERT_EQ(sched("fcfs", "dynamic", 2, NULL, idle, 1, o), 1);
    ASSERT_DONE(o, 1, 11.0); /* a batch that is not full waits 10 s (fcfs.py:53-56) */
}

/*
 * FCFS (fcfs.py, fcfs_dynamic.py): the clock jumps to the head's arrival (fcfs.py:48-49); the
 * batch takes jobs arriving within batch_wait_s (10 s) of now, up to B (fcfs.py:50-51); a full
 * batch starts at its last member's arrival, one that is not full at now + 10 s (fcfs.py:53-56).
 *  - Static batches of 2: jobs (0 s, 1.0 s), (3 s, 2.0 s), (20 s, 0.5 s): {0, 1} is full and
 *    starts at 3, runs the longest, 2.0 s: both end at 5.0. Job 2 is alone: waits 20 -> 30,
 *    ends at 30.5.
 *  - Continuous batches of 3 (fcfs_dynamic.py:208, 238-247): four jobs at 0 of 0.5, 2.0, 1.5
 *    and 0.3 s. {0, 1, 2} runs 0.5: job 0 ends at 0.5; 1 and 2 (1.5 and 1.0 left) go back to
 *    the head one at a time: [2, 1, 3]. Full again, starts at once, runs 0.3: job 3 ends at
 *    0.8; [1, 2] (1.2 and 0.7 left) is not full: waits 0.8 -> 10.8, runs 0.7: job 2 ends at
 *    11.5; job 1 alone waits 11.5 -> 21.5 and ends at 22.0.
 */
TEST(fcfs_batch_fill_wait)
{
    struct compat_ssjf_job o[MAXJ];
    const struct in        s[] = {{0, 45, 0}, {3, 95, 0}, {20, 20, 0}};
    ASSERT_EQ(sched("fcfs", "dynamic", 2, NULL, s, 3, o), 3);
    ASSERT_DONE(o, 3, 5.0, 5.0, 30.5);
    ASSERT_NEAR(o[0].start_s, 3.0, 1e-9);
    const struct in c[] = {{0, 20, 0}, {0, 95, 0}, {0, 70, 0}, {0, 10, 0}};
    ASSERT_EQ(sched("fcfs", "continuous", 3, NULL, c, 4, o), 4);
    ASSERT_DONE(o, 4, 0.5, 22.0, 11.5, 0.8);
    ASSERT_NEAR(o[1].start_s, 21.5, 1e-9);
}

/* ---- whole runs: the arrivals compat_ssjf_run draws ---- */

static char pred[256];

/* Run a whole compat experiment with the rows written to a file; return the arrival column. */
static size_t run_arrivals(const char *workload, double *a, size_t cap)
{
    char yaml[512], rows[300];
    snprintf(yaml, sizeof yaml,
             "name: c\ncompat: ssjf\nssjf: {jobs: 40, repeats: 2}\nworkload: {%s}\npolicy: fcfs\n",
             workload);
    struct cfg     c;
    cfg_exp_t     *e;
    struct sim_msg err = {{0}};
    if (cfg_load_string(yaml, "c.yaml", &e, &err) || cfg_resolve(e, 0, &c, &err))
        TEST_FAIL_("%s", err.text);
    cfg_free(e);
    snprintf(rows, sizeof rows, "%s.rows", pred);
    FILE *f = fopen(rows, "w+");
    ASSERT_TRUE(f != NULL);
    struct met_summary s;
    if (compat_ssjf_run(&c, pred, f, NULL, NULL, &s, &err))
        TEST_FAIL_("%s", err.text);
    rewind(f);
    char   line[512];
    size_t n = 0;
    while (fgets(line, sizeof line, f) && n < cap) {
        char *p = strchr(line, ',');
        ASSERT_TRUE(p && (p = strchr(p + 1, ',')));
        a[n++] = strtod(p + 1, NULL);
    }
    fclose(f);
    remove(rows);
    return n;
}

/*
 * Gamma arrivals are sums of sorted Gamma gaps, kept as floats (job.py:193-197): at rate 0.5 and
 * CV 2 nearly none falls on a 10 ms tick. Poisson arrivals are whole seconds (job.py:184-189,
 * 76-92: counts per 1-second slot).
 */
TEST(run_draws_float_gamma_and_whole_second_poisson_arrivals)
{
    double a[100];
    size_t n = run_arrivals("arrival: gamma, rate: 0.5, cv: 2", a, 100);
    ASSERT_EQ(n, 80);
    size_t off = 0;
    for (size_t i = 0; i < n; i++)
        off += fabs(a[i] * 100 - nearbyint(a[i] * 100)) > 1e-3;
    ASSERT_TRUE(off > 60);
    n = run_arrivals("arrival: poisson, rate: 2", a, 100);
    ASSERT_EQ(n, 80);
    for (size_t i = 0; i < n; i++)
        ASSERT_NEAR(a[i], nearbyint(a[i]), 1e-12);
}

/* ---- --stdin: job lists from tests/ssjf_ref.py ----
 * Input, per case: "case POLICY BATCHING B WAIT STARVE FACTOR N", then N lines "ARRIVAL TOKENS
 * CLASS". Output, per case: "case K RAN", then N lines "DONE START" (%.17g, "nan": never ran). */
static int filter(void)
{
    char            line[512];
    volatile size_t k = 0;
    test__name = "stdin";
    if (setjmp(test__jb))
        return 1;
    while (fgets(line, sizeof line, stdin)) {
        char     pol[16], bat[16];
        unsigned B;
        double   w, s, fac;
        size_t   n;
        if (sscanf(line, "case %15s %15s %u %lf %lf %lf %zu", pol, bat, &B, &w, &s, &fac, &n) !=
            7) {
            fprintf(stderr, "bad case line: %s", line);
            return 2;
        }
        struct compat_ssjf_job *j = calloc(n ? n : 1, sizeof *j);
        for (size_t i = 0; i < n; i++) {
            if (!fgets(line, sizeof line, stdin) ||
                sscanf(line, "%lf %u %u", &j[i].arrival_s, &j[i].tokens, &j[i].cls) != 3) {
                fprintf(stderr, "bad job line\n");
                return 2;
            }
        }
        char extra[256];
        snprintf(extra, sizeof extra,
                 "batch_wait_s: %.17g, starvation_s: %.17g, starvation_factor: %.17g", w, s, fac);
        struct cfg     c;
        struct sim_msg err = {{0}};
        size_t         ran = 0;
        make_cfg(pol, bat, B, extra, &c);
        if (compat_ssjf_schedule(&c, j, n, &ran, &err)) {
            fprintf(stderr, "%s\n", err.text);
            return 1;
        }
        printf("case %zu %zu\n", k++, ran);
        for (size_t i = 0; i < n; i++)
            printf("%.17g %.17g\n", j[i].done_s, j[i].start_s);
        free(j);
    }
    return test_main_end();
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--stdin"))
        return filter();
    snprintf(pred, sizeof pred, "/tmp/lensim-compat-exact-XXXXXX");
    int fd = mkstemp(pred);
    if (fd < 0)
        return 1;
    FILE *f = fdopen(fd, "w");
    fprintf(f, ",output_token_length,predicted_length,latency,model\n");
    for (int i = 0; i < 100; i++)
        fprintf(f, "%d,%d,%d,0.008,vicuna-13b\n", i, 1 + i * 37 % 500, i % 5);
    fclose(f);
    RUN(float_arrivals_are_not_rounded);
    RUN(arrivals_join_before_leftovers);
    RUN(arrivals_during_a_batch_age_with_it);
    RUN(age_increment_includes_the_idle_gap);
    RUN(queue_keeps_its_sorted_order);
    RUN(aging_uses_the_true_remaining_time);
    RUN(last_job);
    RUN(fcfs_batch_fill_wait);
    RUN(run_draws_float_gamma_and_whole_second_poisson_arrivals);
    remove(pred);
    return test_main_end();
}
