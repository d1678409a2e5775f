/*
 * main.c: the `lensim` program: one binary, one subcommand per job. Only here do error codes
 * become messages and exit statuses.
 *
 * Exit statuses (documented in `lensim --help`; one table, cli_exit_status in exit.c): 0 success;
 * 1 the run or check failed (also out of memory, a broken invariant); 2 bad usage or invalid
 * input (experiment, trace, profile, a file that does not exist); 3 input/output error; 77 a GPU
 * is needed and none is present; 128+N stopped by signal N (130 for SIGINT).
 */
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "cmds.h"
#include "sim.h"

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
    {"search", search_cmd, "capacity search: the largest rate, or fewest replicas, meeting SLOs"},
    {0},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: lensim COMMAND [ARGS...]   (lensim COMMAND --help for each)\n\n"
               "commands:\n");
    for (const struct cmd *c = cmds; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->help);
    fprintf(f,
            "\nexit status: 0 success, 1 run or check failed, 2 bad usage or invalid input,\n"
            "3 input/output error, 77 no GPU present, 128+N stopped by signal N (130: Ctrl-C)\n");
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off(); /* R8: every GSL status is checked where it is returned */
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    for (const struct cmd *c = cmds; c->name; c++)
        if (!strcmp(argv[1], c->name))
            return c->fn(argc - 1, argv + 1);
    char name[256];
    fprintf(stderr, "lensim: unknown command '%s'\n", sim_escape(argv[1], name, sizeof name));
    usage(stderr);
    return CLI_EXIT_USAGE;
}
