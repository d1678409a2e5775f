/*
 * main.c: the `lensim` program: one binary, one subcommand per job. Only here do error codes
 * become messages and exit statuses.
 *
 * Exit statuses (documented in `lensim --help`; one table, cli_exit_status in exit.c): 0 success;
 * 1 the run or check failed (also out of memory, a broken invariant); 2 bad usage or invalid
 * input (experiment, trace, profile, a file that does not exist); 3 input/output error; 77 a GPU
 * is needed and none is present; 128+N stopped by signal N (130 for SIGINT).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "cmds.h"
#include "sim.h"
#include "version.h"

struct cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
};

static const struct cmd cmds[] = {
    {"run", run_cmd, "run an experiment: lensim run EXPERIMENT.yaml [-o DIR] [--set K=V]..."},
    {"plot", plot_cmd, "draw the figures of a results directory (needs gnuplot)"},
    {"schema", schema_cmd, "list every experiment key with type, default, unit and help"},
    {"trace", trace_cmd, "inspect a workload: lensim trace stats FILE [--format F]"},
    {"calibrate", calibrate_cmd, "time kernels and fit a perf profile"},
    {"kcheck", kcheck_cmd, "check every kernel against its CPU reference"},
    /* issue 11 */
    {"fidelity", fidelity_cmd,
     "compare a live run with the simulation: lensim fidelity LIVE [SIM]"},
    {"search", search_cmd, "capacity search: the largest rate, or fewest replicas, meeting SLOs"},
    {0},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: lensim COMMAND [ARGS...]\n"
               "       lensim help COMMAND   (or lensim COMMAND --help): that command's options\n"
               "       lensim --version\n\n"
               "commands:\n");
    for (const struct cmd *c = cmds; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->help);
    fprintf(f,
            "\nexit status: 0 success, 1 run or check failed, 2 bad usage or invalid input,\n"
            "3 input/output error, 77 no GPU present, 128+N stopped by signal N (130: Ctrl-C)\n");
}

/* A command's status, unless what it printed did not all reach standard output (a full disk,
 * a closed descriptor): then that is said, and the status is an I/O error (3), so that a table
 * cut short never passes for a complete one. stdio keeps the first failure's flag, not its
 * errno; the final flush gives the cause when it fails too. */
static int stdout_checked(const char *cmd, int status)
{
    errno = 0;
    int flushed = fflush(stdout) == 0;
    if (flushed && !ferror(stdout))
        return status;
    fprintf(stderr, "lensim%s%s: cannot write standard output%s%s\n", cmd ? " " : "",
            cmd ? cmd : "", !flushed && errno ? ": " : "",
            !flushed && errno ? strerror(errno) : "");
    return status ? status : CLI_EXIT_IO;
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off(); /* R8: every GSL status is checked where it is returned */
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("lensim %s (%s)\n", LENSIM_VERSION, LENSIM_GIT_REV);
        return stdout_checked(NULL, CLI_EXIT_OK);
    }
    /* `lensim help CMD` is `lensim CMD --help`: one text per command, kept by the command. */
    const char *name = argv[1];
    char        help_flag[] = "--help";
    char       *help_argv[] = {argv[argc > 2 ? 2 : 1], help_flag, NULL};
    int         cargc = argc - 1;
    char      **cargv = argv + 1;
    if (!strcmp(name, "help") && argc > 2) {
        name = argv[2];
        cargc = 2;
        cargv = help_argv;
    } else if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return stdout_checked(NULL, CLI_EXIT_OK);
    }
    for (const struct cmd *c = cmds; c->name; c++)
        if (!strcmp(name, c->name))
            return stdout_checked(c->name, c->fn(cargc, cargv));
    char esc[256];
    fprintf(stderr, "lensim: unknown command '%s'\n", sim_escape(name, esc, sizeof esc));
    usage(stderr);
    return CLI_EXIT_USAGE;
}
