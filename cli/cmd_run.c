/*
 * cmd_run.c: `lensim run EXPERIMENT.yaml`: resolve every run of the experiment, run them in order,
 * write each run's files and the experiment's results.csv (one row per run), and print a
 * summary table. The output directory is locked for the whole command (DIR/.lock): a second
 * `lensim run` into it is refused at once. SIGINT, SIGTERM and SIGHUP stop the current run
 * cleanly: finished runs stay on disk, the interrupted one leaves nothing, and the exit status is
 * 128 + the signal (130, 143, 129).
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef LENSIM_HAVE_MPI
#include <mpi.h>
#endif

#include "afile.h"
#include "alloc.h"
#include "batch.h"
#include "cfg.h"
#include "cmds.h"
#include "run.h"
#include "runjobs.h"
#include "trace.h"

/* The signal that asked the command to stop (0: none). SIGINT, SIGTERM and SIGHUP all stop it
 * the same way: the current run is abandoned at its next progress poll and its temporary files
 * removed; the exit status is 128 + the signal, as if the signal had ended the process. */
static volatile sig_atomic_t interrupted;

static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};
enum { N_STOP_SIGNALS = sizeof stop_signals / sizeof stop_signals[0] };

static void on_signal(int sig)
{
    if (!interrupted)
        interrupted = sig;
}

struct bar {
    int         on;
    int64_t     last;
    size_t      run, n_runs;
    const char *name;
};

static int progress(void *ctx, const struct serve_stats *s, uint64_t total)
{
    struct bar *b = ctx;
    if (interrupted)
        return 1;
    if (!b->on)
        return 0;
    int64_t now = sim_wall_ns();
    if (now - b->last < 200 * SIM_NS_PER_MS)
        return 0;
    b->last = now;
    uint64_t done = s->finished + s->failed;
    if (total) {
        int  pct = (int)(100.0 * (double)done / (double)total);
        char bar[21];
        for (int i = 0; i < 20; i++)
            bar[i] = i < pct / 5 ? '#' : '.';
        bar[20] = 0;
        fprintf(stderr, "\r  run %zu/%zu %-24.24s [%s] %3d%% %llu req, sim t=%.1f s", b->run + 1,
                b->n_runs, b->name, bar, pct, (unsigned long long)done,
                (double)s->last_event_ns / 1e9);
    } else {
        fprintf(stderr, "\r  run %zu/%zu %-24.24s %llu req done, sim t=%.1f s", b->run + 1,
                b->n_runs, b->name, (unsigned long long)done, (double)s->last_event_ns / 1e9);
    }
    return 0;
}

static void usage(FILE *f)
{
    char queues[64];
    sim_choice_list(evq_kind_choices, queues, sizeof queues);
    fprintf(f,
            "usage: lensim run EXPERIMENT.yaml [-o DIR] [--seed N] [--set KEY=VALUE]...\n"
            "                  [--queue %s] [--data-dir DIR] [--check] [-q]\n"
            "                  [-j N] [--resume] [--only GLOB]\n\n"
            "Run every run of an experiment (its sweep or runs list) and write, per run,\n"
            "DIR/<run>/{requests.csv,timeline.csv,summary.json,manifest.yaml}, and\n"
            "DIR/results.csv with one row per run. DIR defaults to results/<name>.\n\n"
            "  -o DIR           output directory\n"
            "  --seed N         same as --set seed=N\n"
            "  --set KEY=VALUE  override a setting for every run (lensim schema lists keys)\n"
            "  --queue Q        same as --set engine.queue=Q; results are identical\n"
            "  --data-dir DIR   where traces live (default: $LENSIM_DATA, then ../shared/data)\n"
            "  --check          check every invariant after every event (slow)\n"
            "  -q, --quiet      no progress bar, no table and no info messages\n"
            "  -j N             N runs at a time in worker processes (0: one per CPU);\n"
            "                   the files are the same as with -j 1\n"
            "  --resume         keep runs whose files are complete in DIR (manifest with\n"
            "                   this run's experiment hash); run the others\n"
            "  --only GLOB      only the runs whose names match GLOB (results.csv lists them)\n\n"
            "exit status: 0 done, 1 a run failed, 2 invalid experiment or option,\n"
            "3 input/output error or DIR in use by another lensim run,\n"
            "128+N stopped by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP)\n",
            queues);
}

/* results.csv: the run's settings that tell runs apart, then the summary's columns (met.c). */
static void results_header(FILE *f)
{
    fprintf(f, "run,policy,memory,batching,predictor,rate,cv,rate_scale,replicas,max_batch");
    met_csv_header(f);
    fputc('\n', f);
}

static void results_row(FILE *f, const struct cfg *c, const struct met_summary *s)
{
    fprintf(f, "%s,%s,%s,%s,%s,%.15g,%.15g,%.15g,%u,%u", c->run_name,
            sim_choice_name(sched_policy_choices, c->policy),
            sim_choice_name(kv_policy_choices, c->memory),
            sim_choice_name(batch_choices, c->batching),
            sim_choice_name(pred_kind_choices, c->predictor), c->rate, c->cv, c->rate_scale,
            c->replicas, c->max_batch);
    met_csv_row(s, f);
    fputc('\n', f);
}

static void table_header(void)
{
    printf("%-26s", "run");
    met_table_header(stdout);
    printf(" %7s\n", "wall s");
}

static void table_row(const char *name, const struct run_result *r)
{
    printf("%-26.26s", name);
    met_table_row(&r->sum, stdout);
    printf(" %7.3f\n", r->wall_s);
}

/* Take DIR/.lock exclusively (flock) so that two runs never mix their files in one directory;
 * *fd gets the lock's descriptor, path its name. Returns 0, or SIM_EIO with the reason in err:
 * "DIR: in use by another lensim run" when another process holds it (no waiting). */
static int lock_dir(const char *dir, char *path, size_t n, int *fd, struct sim_msg *err)
{
    snprintf(path, n, "%s/.lock", dir);
    for (;;) {
        int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (f < 0)
            return sim_msg_set(err, SIM_EIO, "%s: %s", path, strerror(errno));
        if (flock(f, LOCK_EX | LOCK_NB)) {
            int e = errno;
            close(f);
            if (e == EWOULDBLOCK)
                return sim_msg_set(err, SIM_EIO,
                                   "%s: in use by another lensim run (it holds %s); let it "
                                   "finish, or write elsewhere with -o",
                                   dir, path);
            return sim_msg_set(err, SIM_EIO, "%s: cannot lock: %s", path, strerror(e));
        }
        /* The previous holder removes the file as it leaves (unlock_dir): if it did so after
         * we opened it, our lock is on a name that is gone, so take the file there now. */
        struct stat held, now;
        if (fstat(f, &held) == 0 && stat(path, &now) == 0 && held.st_dev == now.st_dev &&
            held.st_ino == now.st_ino) {
            *fd = f;
            return SIM_OK;
        }
        close(f);
    }
}

/* Remove the lock file, then release it (in this order: see lock_dir). Cannot fail. */
static void unlock_dir(int fd, const char *path)
{
    unlink(path);
    close(fd);
}

/* ---- issue 13: worker processes (-j), --resume, --only ---- */

/* What one run gives back, from this process or through a worker's pipe. */
struct job_out {
    int                rc;
    struct met_summary sum;
    double             wall_s;
    struct sim_msg     err;
};

enum job_state { JOB_SKIP, JOB_TODO, JOB_RUNNING, JOB_DONE, JOB_RESUMED, JOB_REMOTE };

/* ---- issue 13: MPI (meson -Dmpi=enabled) ---- */

/* This process's rank and the number of ranks: 0 and 1 without MPI, or when not started by an
 * MPI launcher (mpirun, srun: recognised by the environment variables they set), so that an MPI
 * build still runs as a plain program. */
static int mpi_rank, mpi_size = 1;

static void mpi_start(int *argc, char ***argv)
{
#ifdef LENSIM_HAVE_MPI
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMI_SIZE") && !getenv("PMIX_RANK"))
        return;
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &mpi_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mpi_size);
#else
    (void)argc, (void)argv;
#endif
}

static void mpi_stop(void)
{
#ifdef LENSIM_HAVE_MPI
    int on = 0;
    MPI_Initialized(&on);
    if (on)
        MPI_Finalize();
#endif
}

/* Rank 0's value of *v on every rank. */
static void mpi_share(int *v)
{
#ifdef LENSIM_HAVE_MPI
    if (mpi_size > 1)
        MPI_Bcast(v, 1, MPI_INT, 0, MPI_COMM_WORLD);
#else
    (void)v;
#endif
}

struct set_opts {
    int         quiet, jobs, resume;
    const char *only; /* NULL: every run */
};

/* Build and run cfgs[i] into dir/<run>; the result in *o. */
static void exec_one(const cfg_exp_t *e, const struct cfg *c, const char *dir, const char *data_dir,
                     struct bar *bar, struct job_out *o)
{
    struct run *x = sim_malloc(sizeof *x);
    memset(o, 0, sizeof *o);
    if (!x) {
        o->rc = sim_msg_set(&o->err, SIM_ENOMEM, "out of memory");
        return;
    }
    struct run_result res;
    char              rdir[1300];
    snprintf(rdir, sizeof rdir, "%s/%s", dir, c->run_name);
    bar->name = c->run_name;
    o->rc = run_build(c, cfg_dir(e), data_dir, x, &o->err);
    if (!o->rc)
        o->rc = run_exec(x, rdir, progress, bar, &res, &o->err);
    if (bar->on)
        fprintf(stderr, "\r\033[K");
    if (!o->rc) {
        o->sum = res.sum;
        o->wall_s = res.wall_s;
    }
    sim_free(x);
}

/* --resume: is dir/<run> a finished run of exactly this configuration? Its manifest must carry
 * the run's experiment hash and its summary.json must read back whole (run_exec renames the
 * directory into place only when every file is written). Fills o from the summary. */
static int run_complete(const struct cfg *c, const char *dir, struct job_out *o)
{
    char path[1400], line[256], want[64];
    snprintf(path, sizeof path, "%s/%s/manifest.yaml", dir, c->run_name);
    snprintf(want, sizeof want, "experiment_hash: \"%016llx\"\n", (unsigned long long)cfg_hash(c));
    FILE *f = fopen(path, "r");
    int   match = 0;
    if (!f)
        return 0;
    while (!match && fgets(line, sizeof line, f))
        match = !strcmp(line, want);
    fclose(f);
    snprintf(path, sizeof path, "%s/%s/summary.json", dir, c->run_name);
    if (!match || !(f = fopen(path, "r")))
        return 0;
    memset(o, 0, sizeof *o);
    int ok = met_read_json(f, &o->sum) == SIM_OK;
    fclose(f);
    return ok;
}

/* Start run i in a worker process whose result comes back through *fd. 0 or -1 (errno). */
static int spawn(const cfg_exp_t *e, const struct cfg *c, const char *dir, const char *data_dir,
                 pid_t *pid, int *fd)
{
    int p[2];
    if (pipe(p))
        return -1;
    fflush(stdout);
    fflush(stderr);
    *pid = fork();
    if (*pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (*pid == 0) { /* the worker: one run, its result down the pipe, no atexit, no flush */
        close(p[0]);
        struct bar     bar = {0};
        struct job_out o;
        exec_one(e, c, dir, data_dir, &bar, &o);
        /* Under PIPE_BUF bytes: one write, never blocked (the pipe holds 64 KiB). */
        ssize_t w = write(p[1], &o, sizeof o);
        _exit(w == (ssize_t)sizeof o ? 0 : 1);
    }
    close(p[1]);
    *fd = p[0];
    return 0;
}

/* The worker in slot k has ended (status st): its result into *o. */
static void reap(int fd, int st, const struct cfg *c, struct job_out *o)
{
    ssize_t r = read(fd, o, sizeof *o);
    close(fd);
    if (r == (ssize_t)sizeof *o && WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return;
    memset(o, 0, sizeof *o);
    if (WIFSIGNALED(st))
        o->rc = sim_msg_set(&o->err, SIM_EIO, "run %s: its worker process died of signal %d",
                            c->run_name, WTERMSIG(st));
    else
        o->rc = sim_msg_set(&o->err, SIM_EIO, "run %s: its worker process gave no result",
                            c->run_name);
}

/* Run every JOB_TODO run of state[0..n), at most jobs at a time (jobs <= 1: in this process).
 * After each run ends, print_ready(ctx) is called. Stops launching at the first failure or
 * signal; runs already started finish (their files are kept). Returns the lowest-numbered
 * failed run's index, or n when none failed. */
static size_t run_todo(const cfg_exp_t *e, const struct cfg *cfgs, size_t n, enum job_state *state,
                       struct job_out *out, int jobs, const char *dir, const char *data_dir,
                       struct bar *bar, void (*print_ready)(void *), void *ctx)
{
    size_t failed = n, next = 0;
    if (jobs <= 1) {
        for (size_t i = 0; i < n && failed == n && !interrupted; i++) {
            if (state[i] != JOB_TODO)
                continue;
            bar->run = i;
            exec_one(e, &cfgs[i], dir, data_dir, bar, &out[i]);
            state[i] = JOB_DONE;
            if (out[i].rc)
                failed = i;
            print_ready(ctx);
        }
        return failed;
    }
    pid_t  pid[64];
    int    fd[64];
    size_t run_of[64];
    int    live = 0, stop = 0, forwarded = 0;
    if (jobs > 64)
        jobs = 64;
    for (;;) {
        stop = stop || interrupted || failed != n;
        while (!stop && live < jobs && next < n) {
            if (state[next] != JOB_TODO) {
                next++;
                continue;
            }
            if (spawn(e, &cfgs[next], dir, data_dir, &pid[live], &fd[live])) {
                out[next].rc = sim_msg_set(&out[next].err, SIM_EIO, "cannot start a worker: %s",
                                           strerror(errno));
                state[next] = JOB_DONE;
                failed = failed < next ? failed : next;
                stop = 1;
                break;
            }
            state[next] = JOB_RUNNING;
            run_of[live++] = next++;
        }
        if (!live)
            break;
        if (interrupted && !forwarded) { /* a signal to lensim alone reaches its workers too */
            for (int k = 0; k < live; k++)
                kill(pid[k], interrupted);
            forwarded = 1;
        }
        int   st;
        pid_t w = waitpid(-1, &st, WNOHANG);
        if (w == 0 || (w < 0 && errno == EINTR)) {
            struct timespec ts = {0, 5 * 1000 * 1000}; /* 5 ms; a signal cuts it short */
            nanosleep(&ts, NULL);
            continue;
        }
        if (w < 0)
            break; /* ECHILD: none left (cannot happen while live > 0) */
        for (int k = 0; k < live; k++) {
            if (pid[k] != w)
                continue;
            size_t i = run_of[k];
            reap(fd[k], st, &cfgs[i], &out[i]);
            state[i] = JOB_DONE;
            if (out[i].rc && out[i].rc != SIM_EINTR && i < failed)
                failed = i;
            pid[k] = pid[live - 1], fd[k] = fd[live - 1], run_of[k] = run_of[live - 1];
            live--;
            print_ready(ctx);
            break;
        }
    }
    return failed;
}

struct table_ctx {
    const struct cfg     *cfgs;
    size_t                n, next;
    const enum job_state *state;
    const struct job_out *out;
    int                   quiet;
};

/* Print the table rows of the runs finished in order so far (rows come out in run order with
 * any -j). */
static void print_ready(void *p)
{
    struct table_ctx *t = p;
    while (t->next < t->n && (t->state[t->next] == JOB_SKIP || t->state[t->next] == JOB_DONE ||
                              t->state[t->next] == JOB_RESUMED)) {
        size_t i = t->next++;
        if (t->quiet || t->state[i] == JOB_SKIP || t->out[i].rc)
            continue;
        struct run_result r = {.sum = t->out[i].sum, .wall_s = t->out[i].wall_s};
        table_row(t->cfgs[i].run_name, &r);
    }
    fflush(stdout);
}

/* MPI: every run's result to rank 0 (run i belongs to rank i mod size). Rank 0 returns the
 * lowest-numbered failed run over all ranks (or n); the others return their own. */
static size_t mpi_gather(size_t n, enum job_state *state, struct job_out *out, size_t failed)
{
#ifdef LENSIM_HAVE_MPI
    if (mpi_size < 2)
        return failed;
    for (size_t i = 0; i < n; i++) {
        int owner = (int)(i % (size_t)mpi_size);
        if (state[i] != JOB_REMOTE && (state[i] != JOB_DONE || owner == 0))
            continue;
        if (mpi_rank == owner && owner != 0) {
            MPI_Send(&out[i], (int)sizeof out[i], MPI_BYTE, 0, (int)i, MPI_COMM_WORLD);
        } else if (mpi_rank == 0) {
            MPI_Recv(&out[i], (int)sizeof out[i], MPI_BYTE, owner, (int)i, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
            state[i] = JOB_DONE;
            if (out[i].rc && out[i].rc != SIM_EINTR && i < failed)
                failed = i;
        }
    }
#else
    (void)n, (void)state, (void)out;
#endif
    return failed;
}

/* Run cfgs[0..n) of e into dir, holding its lock and catching the stop signals; write
 * results.csv only when every selected run finished. Returns 0, SIM_EINTR, or a negative code
 * with the reason in err. */
static int run_set(const char *file, const cfg_exp_t *e, const struct cfg *cfgs, size_t n,
                   const char *dir, const char *data_dir, const struct set_opts *so,
                   struct sim_msg *err)
{
    struct sigaction sa = {0}, old[N_STOP_SIGNALS];
    struct sim_afile rf = {0};
    char             lock_path[1100], rpath[1100];
    int              lock = -1, rc;
    enum job_state  *state = sim_calloc(n, sizeof *state);
    struct job_out  *out = sim_calloc(n, sizeof *out);
    size_t           n_sel = 0, n_resumed = 0;
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART; /* the flag stops the run; no read or write should fail of it */
    for (int k = 0; k < N_STOP_SIGNALS; k++)
        sigaction(stop_signals[k], &sa, &old[k]);
    if (!state || !out) {
        rc = sim_msg_set(err, SIM_ENOMEM, "out of memory");
        goto out;
    }
    rc = mpi_rank == 0 ? lock_dir(dir, lock_path, sizeof lock_path, &lock, err) : SIM_OK;
    mpi_share(&rc); /* under MPI only rank 0 holds the lock, for every rank */
    if (rc) {
        if (mpi_rank)
            sim_msg_set(err, rc, "%s: rank 0 could not lock it", dir);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        state[i] = so->only && fnmatch(so->only, cfgs[i].run_name, 0) ? JOB_SKIP : JOB_TODO;
        if (state[i] == JOB_SKIP)
            continue;
        n_sel++;
        if (so->resume && run_complete(&cfgs[i], dir, &out[i])) {
            state[i] = JOB_RESUMED;
            n_resumed++;
        } else if (i % (size_t)mpi_size != (size_t)mpi_rank) {
            state[i] = JOB_REMOTE; /* another rank's */
        }
    }
    if (!n_sel) {
        rc = sim_msg_set(err, SIM_ECONFIG, "--only '%s': no run of %s has a matching name",
                         so->only, file);
        goto out;
    }
    snprintf(rpath, sizeof rpath, "%s/results.csv", dir);
    if (mpi_rank == 0) { /* under MPI, rank 0 alone writes results.csv */
        if ((rc = sim_afile_open(&rf, rpath, err)))
            goto out;
        results_header(rf.f);
    }
    struct bar bar = {.on = !so->quiet && isatty(2) && so->jobs <= 1 && mpi_size == 1, .n_runs = n};
    if (!so->quiet) {
        printf("lensim run %s: %zu run%s -> %s\n", file, n_sel, n_sel == 1 ? "" : "s", dir);
        table_header();
    }
    if (n_resumed)
        sim_log_info("--resume: %zu of %zu runs already complete in %s, kept", n_resumed, n_sel,
                     dir);
    struct table_ctx tc = {cfgs, n, 0, state, out, so->quiet};
    print_ready(&tc);
    size_t failed = run_todo(e, cfgs, n, state, out, so->jobs, dir, data_dir, &bar, print_ready,
                             &tc);
    failed = mpi_gather(n, state, out, failed);
    print_ready(&tc);
    if (mpi_rank) { /* rank 0 writes results.csv; its status is everyone's (below) */
        rc = interrupted ? SIM_EINTR : failed < n ? out[failed].rc : SIM_OK;
        if (rc && rc != SIM_EINTR)
            snprintf(err->text, sizeof err->text, "run %.120s: %.380s", cfgs[failed].run_name,
                     out[failed].err.text);
    } else if (interrupted) {
        rc = SIM_EINTR;
    } else if (failed < n) {
        rc = out[failed].rc;
        if (n > 1)
            snprintf(err->text, sizeof err->text, "run %.120s: %.380s", cfgs[failed].run_name,
                     out[failed].err.text);
        else
            *err = out[failed].err;
    } else {
        for (size_t i = 0; i < n; i++)
            if (state[i] == JOB_DONE || state[i] == JOB_RESUMED)
                results_row(rf.f, &cfgs[i], &out[i].sum);
        rc = sim_afile_commit(&rf, err); /* results.csv only when every run finished */
    }
out:
    sim_afile_discard(&rf);
    if (lock >= 0)
        unlock_dir(lock, lock_path);
    for (int k = 0; k < N_STOP_SIGNALS; k++)
        sigaction(stop_signals[k], &old[k], NULL);
    sim_free(state);
    sim_free(out);
    return rc;
}

int run_cmd(int argc, char **argv)
{
    const char     *file = NULL, *outdir = NULL, *data_flag = NULL;
    int             quiet = 0;
    struct set_opts so = {.jobs = 1};
    cfg_exp_t      *e = NULL;
    struct sim_msg  err = {{0}};
    char          **sets = sim_calloc((size_t)argc + 1, sizeof *sets);
    size_t          n_sets = 0;
    int             rc = SIM_OK, status = 0;
    char            seedbuf[64], qbuf[64];
    if (!sets)
        return CLI_EXIT_FAILED;
    mpi_start(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            sim_free(sets);
            mpi_stop();
            return CLI_EXIT_OK;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = 1;
            sim_log_quiet(1);
        } else if (!strcmp(a, "--resume")) {
            so.resume = 1;
        } else if ((!strcmp(a, "-j") || !strcmp(a, "--only")) && i + 1 >= argc) {
            fprintf(stderr, "lensim run: %s needs a value\n", a);
            status = CLI_EXIT_USAGE;
            goto out;
        } else if (!strcmp(a, "-j")) {
            char         *end;
            unsigned long j = strtoul(argv[++i], &end, 10);
            if (*end || end == argv[i] || argv[i][0] == '-' || j > 64) {
                fprintf(stderr, "lensim run: -j %s: a number of workers from 0 to 64\n", argv[i]);
                status = CLI_EXIT_USAGE;
                goto out;
            }
            long cpus = sysconf(_SC_NPROCESSORS_ONLN);
            so.jobs = j ? (int)j : cpus < 1 ? 1 : cpus > 64 ? 64 : (int)cpus;
        } else if (!strcmp(a, "--only")) {
            so.only = argv[++i];
        } else if (!strcmp(a, "--check")) {
            sets[n_sets++] = "engine.check=true";
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--set") || !strcmp(a, "--seed") ||
                    !strcmp(a, "--queue") || !strcmp(a, "--data-dir")) &&
                   i + 1 >= argc) {
            fprintf(stderr, "lensim run: %s needs a value\n", a);
            status = CLI_EXIT_USAGE;
            goto out;
        } else if (!strcmp(a, "-o")) {
            outdir = argv[++i];
        } else if (!strcmp(a, "--set")) {
            sets[n_sets++] = argv[++i];
        } else if (!strcmp(a, "--seed")) {
            snprintf(seedbuf, sizeof seedbuf, "seed=%s", argv[++i]);
            sets[n_sets++] = seedbuf;
        } else if (!strcmp(a, "--queue")) {
            snprintf(qbuf, sizeof qbuf, "engine.queue=%s", argv[++i]);
            sets[n_sets++] = qbuf;
        } else if (!strcmp(a, "--data-dir")) {
            data_flag = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "lensim run: unknown option '%s' (see lensim run --help)\n", a);
            status = CLI_EXIT_USAGE;
            goto out;
        } else if (!file) {
            file = a;
        } else {
            fprintf(stderr, "lensim run: one experiment file at a time ('%s')\n", a);
            status = CLI_EXIT_USAGE;
            goto out;
        }
    }
    if (!file) {
        usage(stderr);
        status = CLI_EXIT_USAGE;
        goto out;
    }
    if ((rc = cfg_load(file, &e, &err)))
        goto fail;
    for (size_t i = 0; i < n_sets; i++)
        if ((rc = cfg_add_set(e, sets[i], &err)))
            goto fail;
    char data_dir[1024] = "";
    if (trace_data_dir(data_flag, data_dir, sizeof data_dir) && data_flag) {
        rc = sim_msg_set(&err, SIM_ENOENT, "--data-dir: %s: no such directory", data_flag);
        goto fail;
    }

    /* Resolve every run first: a bad run fails before any work is done. */
    size_t      n = cfg_n_runs(e);
    struct cfg *cfgs = sim_calloc(n, sizeof *cfgs);
    if (!cfgs) {
        rc = sim_msg_set(&err, SIM_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        if ((rc = cfg_resolve(e, i, &cfgs[i], &err))) {
            sim_free(cfgs);
            goto fail;
        }
    char dir[1024]; /* run directories (dir/<run name>) and their files fit the buffers below */
    if (snprintf(dir, sizeof dir, "%s", outdir ? outdir : "") >= (int)sizeof dir) {
        rc = sim_msg_set(&err, SIM_ECONFIG, "-o: path too long (%zu bytes; at most %zu)",
                         strlen(outdir), sizeof dir - 1);
        sim_free(cfgs);
        goto fail;
    }
    if (!outdir)
        snprintf(dir, sizeof dir, "results/%s", cfgs[0].name);
    if ((rc = run_mkdirs(dir, &err))) {
        sim_free(cfgs);
        goto fail;
    }

    so.quiet = quiet || mpi_rank > 0; /* under MPI, rank 0 prints */
    if (mpi_rank > 0)
        sim_log_quiet(1);
    rc = run_set(file, e, cfgs, n, dir, data_dir, &so, &err);
    mpi_share(&rc); /* every rank exits with rank 0's status */
    sim_free(cfgs);
    if (!rc)
        goto out;
fail:
    if (rc == SIM_EINTR) {
        if (mpi_rank == 0)
            fprintf(stderr,
                    "lensim run: interrupted; finished runs are kept, the current one is not\n");
        status = 128 + (interrupted ? interrupted : SIGINT); /* as the shell reports a signal */
    } else {
        if (mpi_rank == 0) /* under MPI, rank 0 speaks for all */
            fprintf(stderr, "lensim run: %s\n", err.text[0] ? err.text : sim_strerror(rc));
        status = cli_exit_status(rc);
    }
out:
    cfg_free(e);
    sim_free(sets);
    mpi_stop();
    return status;
}

/* ---- issue 13: the batch runner `lensim search` uses (cmds.h) ---- */

int cli_lock_dir(const char *dir, char *path, size_t n, int *fd, struct sim_msg *err)
{
    return lock_dir(dir, path, n, fd, err);
}

void cli_unlock_dir(int fd, const char *path) { unlock_dir(fd, path); }

static void print_none(void *ctx) { (void)ctx; }

int cli_run_batch(const cfg_exp_t *e, const struct cfg *cfgs, size_t n, int jobs, const char *dir,
                  const char *data_dir, struct met_summary *sums, double *wall_s,
                  struct sim_msg *err)
{
    struct sigaction sa = {0}, old[N_STOP_SIGNALS];
    enum job_state  *state = sim_calloc(n, sizeof *state);
    struct job_out  *out = sim_calloc(n, sizeof *out);
    struct bar       bar = {0};
    int              rc = SIM_OK;
    if (!state || !out) {
        sim_free(state);
        sim_free(out);
        return sim_msg_set(err, SIM_ENOMEM, "out of memory");
    }
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    for (int k = 0; k < N_STOP_SIGNALS; k++)
        sigaction(stop_signals[k], &sa, &old[k]);
    for (size_t i = 0; i < n; i++)
        state[i] = JOB_TODO;
    size_t failed = run_todo(e, cfgs, n, state, out, jobs, dir, data_dir, &bar, print_none, NULL);
    if (interrupted) {
        rc = SIM_EINTR;
    } else if (failed < n) {
        rc = out[failed].rc;
        snprintf(err->text, sizeof err->text, "run %.120s: %.380s", cfgs[failed].run_name,
                 out[failed].err.text);
    } else {
        for (size_t i = 0; i < n; i++) {
            sums[i] = out[i].sum;
            wall_s[i] = out[i].wall_s;
        }
    }
    for (int k = 0; k < N_STOP_SIGNALS; k++)
        sigaction(stop_signals[k], &old[k], NULL);
    sim_free(state);
    sim_free(out);
    return rc;
}

int cli_interrupted(void) { return interrupted; }
