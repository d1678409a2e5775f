/* run.h: the `lensim run` and `lensim plot` commands (argv[0] is the command's name). Each
 * returns a process exit status. */
#ifndef LENSIM_RUN_H
#define LENSIM_RUN_H

int run_cmd(int argc, char **argv);
int plot_cmd(int argc, char **argv);

#endif
