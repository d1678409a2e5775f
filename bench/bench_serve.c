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
 *     into a temporary directory, to show what the files cost;
 *   - issue 13: Vidur's own workload conv_n50000_qps2.0_seed42 (../shared/data/vidur/workloads:
 *     50,000 requests, CodeLlama-34B shape, TP2, A100, one replica, max_batch 128, 4096 tokens
 *     per iteration, paged), outputs off and on, with the wall time against Vidur's 81.9 s for
 *     the same requests on this machine type (issue 13's measurement) as a ratio; the file is
 *     converted to lensim's interchange CSV (header renamed) in a temporary file first;
 *   - issue 13: 10^7 synthetic requests on 100 replicas at 500 req/s, outputs off (one run;
 *     left out when a request count is given on the command line).
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
    uint64_t    fixed;   /* issue 13: the request count for this row (0: the command line's) */
    int         reps;    /* issue 13: runs to take the median of (0: REPS) */
    double      vidur_s; /* issue 13: Vidur's wall time for the same requests (0: none) */
};

static int build(const struct scenario *s, uint64_t requests, const char *data_dir, struct run *x,
                 struct sim_msg *err)
{
    cfg_exp_t *e = NULL;
    int        rc;
    if (s->yaml) {
        char text[2048];
        snprintf(text, sizeof text, s->yaml, (unsigned long long)(s->fixed ? s->fixed : requests),
                 s->outputs ? "true" : "false", s->outputs ? 2000 : 0);
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
    int               reps = s->reps ? s->reps : REPS;
    struct run_result res;
    char              dir[] = "/tmp/lensim-bench-serve-XXXXXX";
    if (!x || (s->outputs && !mkdtemp(dir)))
        return 1;
    for (int k = 0; k < reps; k++) {
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
    gsl_sort(wall, 1, (size_t)reps);
    double        med = gsl_stats_median_from_sorted_data(wall, 1, (size_t)reps);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    char wbuf[32], goal[128] = "";
    if (med < 1)
        snprintf(wbuf, sizeof wbuf, "%.1f ms", med * 1e3);
    else
        snprintf(wbuf, sizeof wbuf, "%.2f s", med);
    if (s->goal_s > 0)
        snprintf(goal, sizeof goal, "<= %g %s  %s", s->goal_s < 1 ? s->goal_s * 1e3 : s->goal_s,
                 s->goal_s < 1 ? "ms" : "s", med <= s->goal_s ? "met" : "MISSED");
    else if (s->outputs)
        snprintf(goal, sizeof goal, "(outputs' cost)");
    if (s->vidur_s > 0) { /* issue 13: the ratio to Vidur, after the goal */
        size_t g = strlen(goal);
        snprintf(goal + g, sizeof goal - g, "%sVidur %.1f s / lensim = %.0fx", g ? "; " : "",
                 s->vidur_s, s->vidur_s / med);
    }
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
    uint64_t          requests = argc > 1 ? (uint64_t)atof(argv[1]) : 1000000;
    static const char synth[] = "name: bench\nseed: 1\ncluster: {replicas: 16}\n"
                                "workload: {requests: %llu, rate: 80, max_prompt_tokens: 3072}\n"
                                "engine: {memory: paged, max_seq_len: 4096}\n"
                                "outputs: {requests_csv: %s, timeline_rows: %d}\n";
    /* Issue 13: CodeLlama-34B's shape (its config.json: 48 layers, hidden 8192, 64 heads, 8 KV
     * heads, FFN 22016, vocabulary 32000), TP2 on A100-80GB, Vidur's vLLM-like limits. The %s
     * after the count is the converted trace's path, put in below. */
    static const char vidur_fmt[] =
        "name: vidur\nseed: 42\n"
        "model: {name: custom, layers: 48, hidden: 8192, heads: 64, kv_heads: 8, head_dim: 128, "
        "ffn: 22016, vocab: 32000, dtype_bytes: 2, max_ctx: 16384, params: 33.7e9}\n"
        "hardware: {gpu: a100-80gb, tp: 2}\ncluster: {replicas: 1}\n"
        "workload: {source: csv, path: %s, requests: %%llu}\n"
        "engine: {memory: paged, max_batch: 128, max_batched_tokens: 4096, max_seq_len: 4096}\n"
        "outputs: {requests_csv: %%s, timeline_rows: %%d}\n";
    static const char big[] = "name: big\nseed: 1\ncluster: {replicas: 100}\n"
                              "workload: {requests: %llu, rate: 500, max_prompt_tokens: 3072}\n"
                              "engine: {memory: paged, max_seq_len: 4096}\n"
                              "outputs: {requests_csv: %s, timeline_rows: %d}\n";
    char vidur_dir[] = "/tmp/lensim-bench-vidur-XXXXXX", vidur_csv[64] = "", vidur[1024] = "";
    {
        char src[1100];
        snprintf(src, sizeof src, "%s/vidur/workloads/conv_n50000_qps2.0_seed42.csv",
                 trace_data_dir(NULL, vidur, sizeof vidur) ? "../shared/data" : vidur);
        if (mkdtemp(vidur_dir))
            snprintf(vidur_csv, sizeof vidur_csv, "%s/conv.csv", vidur_dir);
        FILE *in = fopen(src, "r"), *out = vidur_csv[0] ? fopen(vidur_csv, "w") : NULL;
        char  line[256];
        vidur[0] = 0;
        if (in && out && fgets(line, sizeof line, in)) {
            fputs("arrival_s,prompt_tokens,output_tokens\n", out); /* Vidur's header renamed */
            while (fgets(line, sizeof line, in))
                fputs(line, out);
            if (!ferror(in) && !fclose(out))
                snprintf(vidur, sizeof vidur, vidur_fmt, vidur_csv);
            out = NULL;
        }
        if (in)
            fclose(in);
        if (out)
            fclose(out);
    }
    const struct scenario sc[] = {
        {"azure conv, paged, fcfs", NULL, 0, 0.050, 0, 0, 0},
        {"synthetic 80 req/s, no outputs", synth, 0, requests == 1000000 ? 5.0 : 0, 0, 0, 0},
        {"synthetic 80 req/s, all outputs", synth, 1, 0, 0, 0, 0},
        /* issue 13 */
        {"vidur conv_n50000, no outputs", vidur, 0, 0.080, 50000, 0, 81.9},
        {"vidur conv_n50000, all outputs", vidur, 1, 0.150, 50000, 0, 81.9},
        {"synthetic 10^7 req, 100 replicas", big, 0, 60.0, 10000000, 1, 0},
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
        if (sc[i].yaml == vidur && !vidur[0]) {
            printf(
                "%-34s skipped: no ../shared/data/vidur/workloads/conv_n50000_qps2.0_seed42.csv\n",
                sc[i].name);
            continue;
        }
        if (sc[i].reps == 1 && argc > 1) /* a request count given: a quick look, no 10^7 row */
            continue;
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
    if (vidur_csv[0]) {
        unlink(vidur_csv);
        rmdir(vidur_dir);
    }
    return status;
}
