/*
 * kcheck.h: the `lensim kcheck` command: every kernel variant against its CPU reference.
 */
#ifndef LENSIM_KCHECK_H
#define LENSIM_KCHECK_H

/* `lensim kcheck [op [variant]]`; argv[0] is "kcheck". Returns a process exit status: 0 all
 * passed, 1 a mismatch, 77 no GPU (or CUDA not built), 2 bad usage. */
int kc_kcheck_cmd(int argc, char **argv);

#endif
