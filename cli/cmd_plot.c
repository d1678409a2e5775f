/*
 * cmd_plot.c: `lensim plot DIR`: draw the figures of a results directory with the gnuplot scripts in
 * plots/ (latency CDFs per run, throughput and JCT against arrival rate, batch size and KV use
 * over time) into DIR/figures/NAME.png and NAME.svg. Needs gnuplot on the PATH and says how to get it
 * when it is missing; nothing else in lensim needs it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "afile.h"
#include "cmds.h"
#include "run.h"

static const char *const native_scripts[] = {"latency_cdf", "rate_sweep", "timeline", "runs", NULL};
static const char *const ssjf_scripts[] = {"ssjf", "runs", NULL};

/* Results of `compat: ssjf` runs have per-job rows (jct_s) instead of per-request latencies. */
static int is_compat(const char *dir)
{
    char path[2048], line[1024], run[512] = "";
    snprintf(path, sizeof path, "%s/results.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (fgets(line, sizeof line, f) && fgets(line, sizeof line, f))
        sscanf(line, "%511[^,]", run);
    fclose(f);
    snprintf(path, sizeof path, "%s/%s/requests.csv", dir, run);
    if (!(f = fopen(path, "r")))
        return 0;
    int compat = 0;
    while (fgets(line, sizeof line, f))
        if (line[0] != '#') {
            compat = strstr(line, "jct_s") != NULL;
            break;
        }
    fclose(f);
    return compat;
}

static int on_path(const char *prog, char *out, size_t n)
{
    const char *path = getenv("PATH");
    if (!path)
        return 0;
    while (*path) {
        const char *end = strchr(path, ':');
        size_t      len = end ? (size_t)(end - path) : strlen(path);
        if (snprintf(out, n, "%.*s/%s", (int)len, path, prog) < (int)n && access(out, X_OK) == 0)
            return 1;
        path += len + (end != NULL);
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: lensim plot DIR [--format png|svg|both] [--scripts DIR]\n\n"
               "Draw DIR/figures/NAME.{png,svg} from the results of `lensim run` (DIR holds\n"
               "results.csv): latency_cdf, rate_sweep, timeline and runs; ssjf and runs for a\n"
               "`compat: ssjf` experiment. Needs gnuplot.\n\n"
               "exit status: 0 done, 1 gnuplot failed, 2 bad usage or no results in DIR,\n"
               "3 gnuplot not installed or a figure could not be written\n");
}

/* Draw plots/SCRIPT.gp into `out`: gnuplot writes the figure to a pipe and lensim writes it
 * through an atomic file, so that the figure appears only when gnuplot succeeded, drew something
 * and every byte reached the disk; otherwise no file of that name is left. Returns CLI_EXIT_OK,
 * CLI_EXIT_FAILED (gnuplot failed or drew nothing) or CLI_EXIT_IO (the figure could not be
 * written), having said why on stderr. */
static int render(const char *gp, const char *sdir, const char *dir, const char *fmt,
                  const char *script, const char *out)
{
    char             expr[8192], file[4096];
    struct sim_afile a;
    struct sim_msg   err;
    int              fd[2];
    snprintf(expr, sizeof expr, "set loadpath '%s'; dir='%s'; fmt='%s'; out=''", sdir, dir, fmt);
    snprintf(file, sizeof file, "%s/%s.gp", sdir, script);
    if (sim_afile_open(&a, out, &err)) {
        fprintf(stderr, "lensim plot: %s\n", err.text);
        return CLI_EXIT_IO;
    }
    pid_t pid = -1;
    if (pipe(fd) == 0 && (pid = fork()) < 0) {
        close(fd[0]);
        close(fd[1]);
    }
    if (pid < 0) {
        fprintf(stderr, "lensim plot: cannot start gnuplot: %s\n", strerror(errno));
        sim_afile_discard(&a);
        remove(out);
        return CLI_EXIT_FAILED;
    }
    if (pid == 0) {
        close(fd[0]);
        if (dup2(fd[1], STDOUT_FILENO) >= 0) {
            close(fd[1]);
            execl(gp, "gnuplot", "-e", expr, file, (char *)NULL);
        }
        _exit(127);
    }
    close(fd[1]);
    char    buf[65536];
    size_t  total = 0;
    ssize_t n;
    /* Read to the end even after a failed write (commit reports it), so gnuplot never blocks. */
    while ((n = read(fd[0], buf, sizeof buf)) != 0)
        if (n > 0) {
            sim_afile_write(&a, buf, (size_t)n);
            total += (size_t)n;
        } else if (errno != EINTR) {
            break;
        }
    close(fd[0]);
    int st = -1; /* not "exited 0" should waitpid fail */
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    int status = CLI_EXIT_OK;
    if (!WIFEXITED(st) || WEXITSTATUS(st)) {
        fprintf(stderr, "lensim plot: gnuplot failed on %s (status %d)\n", file,
                WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        status = CLI_EXIT_FAILED;
    } else if (!total) {
        fprintf(stderr, "lensim plot: gnuplot drew nothing for %s\n", file);
        status = CLI_EXIT_FAILED;
    } else if (sim_afile_commit(&a, &err)) {
        fprintf(stderr, "lensim plot: %s\n", err.text);
        status = CLI_EXIT_IO;
    }
    if (status) { /* no figure of that name: an earlier one would not match the results */
        sim_afile_discard(&a);
        remove(out);
    }
    return status;
}

int plot_cmd(int argc, char **argv)
{
    const char *dir = NULL, *fmt = "both", *sdir = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
            fmt = argv[++i];
        } else if (!strcmp(argv[i], "--scripts") && i + 1 < argc) {
            sdir = argv[++i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "lensim plot: unknown or incomplete option '%s'\n", argv[i]);
            return CLI_EXIT_USAGE;
        } else if (!dir) {
            dir = argv[i];
        } else {
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (!dir) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(fmt, "png") && strcmp(fmt, "svg") && strcmp(fmt, "both")) {
        fprintf(stderr, "lensim plot: --format must be png, svg or both\n");
        return CLI_EXIT_USAGE;
    }
    if (strchr(dir, '\'') || (sdir && strchr(sdir, '\''))) {
        fprintf(stderr, "lensim plot: paths with a quote (') are not supported\n");
        return CLI_EXIT_USAGE;
    }
    char results[2048];
    snprintf(results, sizeof results, "%s/results.csv", dir);
    if (access(results, R_OK)) {
        int e = errno;
        fprintf(stderr, "lensim plot: %s: %s (run `lensim run` first)\n", results, strerror(e));
        return cli_exit_status(sim_err_of_errno(e));
    }
    char gp[2048];
    if (!on_path("gnuplot", gp, sizeof gp)) {
        fprintf(stderr,
                "lensim plot: gnuplot is not installed. On Debian or Ubuntu:\n"
                "    sudo apt-get install gnuplot-nox\n"
                "(the results in %s are complete without it)\n",
                dir);
        return CLI_EXIT_IO;
    }
    char sbuf[2048];
    if (!sdir) {
        sdir = getenv("LENSIM_PLOTS");
        if (!sdir) {
            snprintf(sbuf, sizeof sbuf, "%s/plots", LENSIM_SOURCE_ROOT);
            sdir = sbuf;
        }
    }
    char fig[2048];
    snprintf(fig, sizeof fig, "%s/figures", dir);
    struct sim_msg err;
    if (run_mkdirs(fig, &err)) {
        fprintf(stderr, "lensim plot: %s\n", err.text);
        return CLI_EXIT_IO;
    }
    int         status = CLI_EXIT_OK;
    const char *fmts[2] = {NULL, NULL};
    if (!strcmp(fmt, "both")) {
        fmts[0] = "png";
        fmts[1] = "svg";
    } else {
        fmts[0] = fmt;
    }
    const char *const *scripts = is_compat(dir) ? ssjf_scripts : native_scripts;
    for (int s = 0; scripts[s] && status != CLI_EXIT_IO; s++) /* a full disk stops it */
        for (int k = 0; k < 2 && fmts[k] && status != CLI_EXIT_IO; k++) {
            char out[2300];
            snprintf(out, sizeof out, "%s/%s.%s", fig, scripts[s], fmts[k]);
            int rc = render(gp, sdir, dir, fmts[k], scripts[s], out);
            if (!rc)
                printf("%s\n", out);
            else if (status == CLI_EXIT_OK || rc == CLI_EXIT_IO)
                status = rc;
        }
    return status;
}
