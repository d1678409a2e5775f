/*
 * cmds.h: the `lensim` program's commands, one file each in cli/. Each takes the command's own
 * argv (argv[0] is the command's name) and returns a process exit status; only this floor turns
 * library error codes into messages and exit statuses, and every command does it through
 * cli_exit_status, so that one cause gives one status whichever command met it.
 */
#ifndef LENSIM_CMDS_H
#define LENSIM_CMDS_H

/* The exit statuses (`lensim --help` and the README's "Errors and exit statuses" list them). */
enum cli_exit {
    CLI_EXIT_OK = 0,            /* success */
    CLI_EXIT_FAILED = 1,        /* a run or check failed; out of memory; a broken invariant */
    CLI_EXIT_USAGE = 2,         /* bad usage or invalid input (experiment, trace, profile, file) */
    CLI_EXIT_IO = 3,            /* input/output error */
    CLI_EXIT_NODEV = 77,        /* a GPU is needed and none is present (meson's SKIP) */
    CLI_EXIT_INTERRUPTED = 130, /* SIGINT */
};

/* The exit status for a library result (0 or a negative enum sim_err). Pure; cannot fail. */
int cli_exit_status(int rc);

int run_cmd(int argc, char **argv);       /* cmd_run.c: lensim run EXPERIMENT.yaml */
int plot_cmd(int argc, char **argv);      /* cmd_plot.c: lensim plot DIR */
int schema_cmd(int argc, char **argv);    /* cmd_schema.c: lensim schema [--markdown] */
int trace_cmd(int argc, char **argv);     /* cmd_trace.c: lensim trace stats FILE */
int calibrate_cmd(int argc, char **argv); /* cmd_calibrate.c: lensim calibrate --model M -o P */
int kcheck_cmd(int argc, char **argv);    /* cmd_kcheck.c: lensim kcheck [OP [VERSION]] */
/* issue 11 */
int fidelity_cmd(int argc, char **argv); /* cmd_fidelity.c: lensim fidelity LIVE [SIM] */
int search_cmd(int argc, char **argv);   /* cmd_search.c: lensim search EXP --target ... */

#endif
