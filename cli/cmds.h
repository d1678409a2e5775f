/*
 * cmds.h: the `lensim` program's commands, one file each in cli/. Each takes the command's own
 * argv (argv[0] is the command's name) and returns a process exit status; only this floor turns
 * library error codes into messages and exit statuses.
 */
#ifndef LENSIM_CMDS_H
#define LENSIM_CMDS_H

int run_cmd(int argc, char **argv);    /* cmd_run.c: lensim run EXPERIMENT.yaml */
int plot_cmd(int argc, char **argv);   /* cmd_plot.c: lensim plot DIR */
int schema_cmd(int argc, char **argv); /* cmd_schema.c: lensim schema [--markdown] */

#endif
