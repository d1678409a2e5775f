/*
 * bench_serve.c: whole serving runs through run_build + run_exec, the way `lensim run` does them.
 *
 * Scenarios (one table row each):
 *   - the Azure 2023 conversation trace (19,366 requests) on one replica of Llama-2-7B on an
 *     A100-80GB, paged memory, FCFS (experiments/azure-conv.yaml's first run); skipped with a
 *     note when the data directory is absent;
 *   - 10^6 synthetic requests (the embedded Azure-like workload) at 80 req/s on 16 replicas
 *     (5 req/s each: busy, near saturation), no output files (run_exec with no directory);
 *   - the same with every output file written (requests.csv, timeline.csv, summary, manifest)
 *     into a temporary directory, to show what the files cost.
 * Each scenario runs in its own child process, so that peak memory is its own: lensim's allocator
 * peak (sim_alloc_stats().peak_bytes) and the process's maximum RSS (getrusage). Wall time is the
 * median of REPS runs of run_exec (run_build, which reads no trace, is outside the timing);
 * events/s is the run's dispatched events over that median.
 * Goals: Azure conversation trace <= 50 ms; 10^6 requests on 16 replicas <= 5 s.
 * Usage: bench_serve [requests]   (default 1e6, for the synthetic rows)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "alloc.h"
#include "cfg.h"
#include "run.h"
#include "trace.h"

enum { REPS = 5 };

struct scenario {
    const char *name;
    const char *yaml;    /* format (requests, requests_csv); NULL: azure-conv.yaml, run 0 */
    int         outputs; /* write the run's files into a temporary directory */
    double      goal_s;  /* 0 = none */
};

static int build(const struct scenario *s, uint64_t requests, const char *data_dir, struct run *x,
                 struct sim_msg *err)
{
    cfg_exp_t *e = NULL;
    int        rc;
    if (s->yaml) {
        char text[1024];
        snprintf(text, sizeof text, s->yaml, (unsigned long long)requests,
                 s->outputs ? "true" : "false");
        rc = cfg_load_string(text, "bench.yaml", &e, err);
    } else {
        rc = cfg_load(LENSIM_SOURCE_ROOT "/experiments/azure-conv.yaml", &e, err);
    }
    struct cfg c;
    if (!rc)
        rc = cfg_resolve(e, 0, &c, err);
    if (!rc)
        rc = run_build(&c, cfg_dir(e), data_dir, x, err);
    cfg_free(e);
    return rc;
}

/* Runs in the child: prints one table row. Returns an exit status. */
static int scenario_row(const struct scenario *s, uint64_t requests, const char *data_dir)
{
    struct run       *x = sim_malloc(sizeof *x);
    struct sim_msg    err = {{0}};
    double            wall[REPS];
    struct run_result res;
    char              dir[] = "/tmp/lensim-bench-serve-XXXXXX";
    if (!x || (s->outputs && !mkdtemp(dir)))
        return 1;
    for (int k = 0; k < REPS; k++) {
        if (build(s, requests, data_dir, x, &err)) {
            fprintf(stderr, "bench_serve: %s: %s\n", s->name, err.text);
            return 1;
        }
        int64_t t0 = sim_wall_ns();
        if (run_exec(x, s->outputs ? dir : NULL, NULL, NULL, &res, &err)) {
            fprintf(stderr, "bench_serve: %s: %s\n", s->name, err.text);
            return 1;
        }
        wall[k] = (double)(sim_wall_ns() - t0) / 1e9;
    }
    gsl_sort(wall, 1, REPS);
    double        med = gsl_stats_median_from_sorted_data(wall, 1, REPS);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    char wbuf[32], goal[48] = "";
    if (med < 1)
        snprintf(wbuf, sizeof wbuf, "%.1f ms", med * 1e3);
    else
        snprintf(wbuf, sizeof wbuf, "%.2f s", med);
    if (s->goal_s > 0)
        snprintf(goal, sizeof goal, "<= %g %s  %s", s->goal_s < 1 ? s->goal_s * 1e3 : s->goal_s,
                 s->goal_s < 1 ? "ms" : "s", med <= s->goal_s ? "met" : "MISSED");
    else if (s->outputs)
        snprintf(goal, sizeof goal, "(outputs' cost)");
    printf("%-34s %9llu %8u %12s %11.2f M %10.1f MB %8.1f MB  %s\n", s->name,
           (unsigned long long)(res.sum.completed + res.sum.failed), x->serve.replicas, wbuf,
           (double)res.stats.events / med / 1e6, (double)sim_alloc_stats().peak_bytes / (1 << 20),
           (double)ru.ru_maxrss / 1024, goal);
    fflush(stdout);
    run_fini(x);
    sim_free(x);
    if (s->outputs) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd))
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t              requests = argc > 1 ? (uint64_t)atof(argv[1]) : 1000000;
    static const char     synth[] = "name: bench\nseed: 1\ncluster: {replicas: 16}\n"
                                    "workload: {requests: %llu, rate: 80, max_prompt_tokens: 3072}\n"
                                    "engine: {memory: paged, max_seq_len: 4096}\n"
                                    "outputs: {requests_csv: %s}\n";
    const struct scenario sc[] = {
        {"azure conv, paged, fcfs", NULL, 0, 0.050},
        {"synthetic 80 req/s, no outputs", synth, 0, requests == 1000000 ? 5.0 : 0},
        {"synthetic 80 req/s, all outputs", synth, 1, 0},
    };
    char data_dir[1024] = "";
    int  have_data = trace_data_dir(NULL, data_dir, sizeof data_dir) == 0;
    char trace[1200];
    snprintf(trace, sizeof trace, "%s/traces/azure2023/AzureLLMInferenceTrace_conv.csv", data_dir);
    have_data = have_data && access(trace, R_OK) == 0;

    printf("whole runs (run_exec): wall = median of %d runs; peak = lensim allocator / process max "
           "RSS\n",
           REPS);
    printf("%-34s %9s %8s %12s %13s %13s %11s  %s\n", "scenario", "requests", "replicas", "wall",
           "events/s", "sim peak", "max RSS", "goal");
    int status = 0;
    for (size_t i = 0; i < sizeof sc / sizeof *sc; i++) {
        if (!sc[i].yaml && !have_data) {
            printf("%-34s skipped: no data directory with the Azure trace ($LENSIM_DATA or "
                   "../shared/data)\n",
                   sc[i].name);
            continue;
        }
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0)
            return 1;
        if (pid == 0)
            _exit(scenario_row(&sc[i], requests, data_dir));
        int st;
        if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
            status = 1;
    }
    return status;
}
